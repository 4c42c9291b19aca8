"""RETURNN's axis notation (`"T"`, `"F"`, `"spatial:1"`, `"static"`, `"stag:time"`, ...) resolved against a
TensorType: the one resolver of every layer option that names axes (`axis`, `axes`, `axis1`, `red1`, ...).

Follows `returnn/tensor/_tensor_extra.py` `get_axes_from_description`: spatial axes are all axes except the
batch and the feature dim (the time axis included); static axes are those with a fixed size; dynamic axes are
the time axes; an integer counts axes with the batch dim (axis 0), as RETURNN TF still accepts it (behavior
version < 5); a list is the union of its items in the order written, without repeats. `"stag:NAME"` names the
one spatial axis whose RETURNN dim tag description contains NAME (case-insensitive; `get_axis_by_tag_name`),
`"stag-single:I:NAME"` the I-th of the spatial axes that match, `"tag:NAME"` the one axis of any kind that
matches. The descriptions are the dims' names (`Dim.name`: `feature:data`, `conv0p:conv:s1`, `s_split_dims0`,
`w:window`, measured with RETURNN 1.2026), and for a time axis its root's (`time:var:extern_data:data`), which
RETURNN's derived time axes contain in their `get_same_base().description` (`⌈time:var:extern_data:data/2⌉`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from netc.ir.types import Chunked, DimKind, TensorType, root_name

AXIS_HINT = ("name axes as RETURNN does: 'T', 'F', 'B', 'spatial', 'spatial:0', 'static:0', 'dim:N', 'except_time', "
             "'except_batch', 'stag:time', 'stag:NAME' (RETURNN's dim tag name, e.g. 'stag:conv0p:conv:s1'), "
             "'stag-single:0:NAME', or a list of them")


@dataclass(frozen=True)
class Axes:
    """One axis description or a list of them, as written in the config (resolved per input type)."""

    items: tuple[str | int, ...]

    @classmethod
    def from_config(cls, value: Any) -> Axes:
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or not all(isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
                                 for v in values):
            raise ValueError(AXIS_HINT)
        return cls(tuple(values))

    def plain(self) -> Any:
        return self.items[0] if len(self.items) == 1 else list(self.items)

    def __str__(self) -> str:
        return repr(self.plain())

    def resolve(self, t: TensorType) -> list[int]:
        """The axis indices (batch counted) in the order written, each once; ValueError when one does not exist
        (the message lists the axes `t` has)."""
        found: list[int] = []
        for item in self.items:
            found += [i for i in resolve_axis(t, item) if i not in found]
        return found

    def resolve_one(self, t: TensorType) -> int:
        """Exactly one axis; ValueError otherwise."""
        found = self.resolve(t)
        if len(found) != 1:
            raise ValueError(f"{self} names {len(found)} axes of {t}; name exactly one ({axes_listing(t)})")
        return found[0]


def tag_descriptions(t: TensorType, index: int) -> list[str]:
    """What RETURNN's `get_axes_by_tag_name` compares a name with for axis `index`: the dim's tag description
    (`Dim.name`) and that of the dim it was computed from (`Dim.base`: RETURNN's `get_same_base().description`,
    `⌈time:var:extern_data:data/2⌉`, contains it). A time axis without either is named by its root
    (`time:var:extern_data:data`, which RETURNN's dim math on it contains: `-1+time:var:extern_data:data`); a
    chunk's time axis is `c:chunking` only. The batch's is RETURNN's `global batch` (also the batch of chunks).
    Empty when netc does not know the dim's name."""
    dim = t.dims[index]
    names = [n for n in (dim.name, dim.base) if n]
    if dim.kind is DimKind.BATCH:
        names.append("global batch")
    if not names and dim.lengths is not None and not isinstance(dim.lengths, Chunked):
        names.append(root_name(dim.lengths))  # RETURNN's dim math on a time axis names its root: `-1+time:...`
    return names


def tag_description(t: TensorType, index: int) -> str | None:
    """The first of `tag_descriptions` (what netc prints for an axis), or None."""
    names = tag_descriptions(t, index)
    return names[0] if names else None


def axes_listing(t: TensorType) -> str:
    """The axes of `t` as one would name them:
    `B ('B'), T_data ('T', 'stag:time'), 2 ('spatial:1', 'stag:s_split_dims0'), 6 ('F')`."""
    spatial = [i for i, d in enumerate(t.dims) if d.kind not in (DimKind.BATCH, DimKind.FEATURE)]
    parts = []
    for i, d in enumerate(t.dims):
        names = {DimKind.BATCH: ["B"], DimKind.TIME: ["T"], DimKind.FEATURE: ["F"]}.get(d.kind, [])
        if i in spatial and d.kind is not DimKind.TIME:
            names.append(f"spatial:{spatial.index(i)}")
        if i in spatial:
            described = tag_descriptions(t, i)
            names += [f"stag:{described[0]}"] if described and (d.name or d.kind is not DimKind.TIME) else []
            names += ["stag:time"] if d.kind is DimKind.TIME and not isinstance(d.lengths, Chunked) else []
        parts.append(f"{d} ({', '.join(repr(n) for n in names)})")
    return f"its axes are {', '.join(parts)}"


def resolve_axis(t: TensorType, item: str | int) -> list[int]:
    """One description -> axis indices (batch counted); ValueError naming the description and listing the axes of
    `t`. A name for a kind of axis (`"spatial"`, `"static"`, `"T?"`) may give none; a single axis (`"T"`, `"F"`,
    `"spatial:1"`, `"dim:4"`, `"stag:time"`) that `t` lacks is an error."""
    kinds = [d.kind for d in t.dims]
    every = list(range(len(kinds)))
    batch = [i for i in every if kinds[i] is DimKind.BATCH]
    time = [i for i in every if kinds[i] is DimKind.TIME]
    feature = [i for i in every if kinds[i] is DimKind.FEATURE]
    spatial = [i for i in every if kinds[i] not in (DimKind.BATCH, DimKind.FEATURE)]
    static = [i for i in every if t.dims[i].is_static]
    missing = f"{t} has no such axis; {axes_listing(t)}"
    if isinstance(item, int):
        index = item + len(kinds) if item < 0 else item
        if not 0 <= index < len(kinds):
            raise ValueError(f"axis {item} (counted with the batch as 0) is out of range: {missing}")
        return [index]
    word = item.lower()
    named = {"b": batch, "batch": batch, "t": time, "time": time, "f": feature, "feature": feature,
             "non_spatial": feature, "spatial": spatial, "static": static, "dyn": time, "dynamic": time,
             "except_batch": [i for i in every if i not in batch],
             "except_time": [i for i in every if i not in batch + time], "t?": time,
             "spatial_except_time": [i for i in spatial if i not in time], "*": every}
    if word in named:
        if not named[word] and word in ("b", "batch", "t", "time", "f", "feature", "non_spatial"):
            raise ValueError(f"axis {item!r}: {missing}")
        if word == "spatial_except_time" and not time:
            raise ValueError(f"axis {item!r}: {t} has no time axis; {axes_listing(t)}")
        return named[word]
    match = re.fullmatch(r"(s|spatial|static|except_batch|d|dyn|dynamic):(-?\d+)", word)
    if match:
        pool = {"s": spatial, "spatial": spatial, "static": static, "except_batch": named["except_batch"],
                "d": time, "dyn": time, "dynamic": time}[match.group(1)]
        k = int(match.group(2))
        if not -len(pool) <= k < len(pool):
            raise ValueError(f"axis {item!r}: {t} has {len(pool)} such axes; {axes_listing(t)}")
        return [pool[k]]
    if len(word) > 1 and all(c in "btf" for c in word):  # "TF": time and feature
        return [i for c in word for i in resolve_axis(t, c)]
    match = re.fullmatch(r"dim:(\d+)", word)
    if match:
        sized = [i for i in every if t.dims[i].size == int(match.group(1))]
        if len(sized) != 1:
            raise ValueError(f"axis {item!r}: {t} has {len(sized)} axes of that size, it must be exactly one; "
                             f"{axes_listing(t)}")
        return sized
    if word.startswith("stag:"):
        return [stag_axis(t, spatial, item[len("stag:"):])]
    if word.startswith("tag:"):
        return [stag_axis(t, every, item[len("tag:"):])]
    match = re.fullmatch(r"stag-single:(-?\d+):(.+)", item, re.IGNORECASE | re.DOTALL)
    if match:
        found = tagged(t, spatial, match.group(2))
        k = int(match.group(1))
        if not -len(found) <= k < len(found):
            raise ValueError(f"axis {item!r}: {len(found)} spatial axes of {t} have a dim tag named so; "
                             f"{axes_listing(t)}")
        return [found[k]]
    raise ValueError(f"unknown axis description {item!r}; {AXIS_HINT}")


def tagged(t: TensorType, pool: list[int], name: str) -> list[int]:
    """The axes of `pool` whose tag descriptions contain `name`, case-insensitive (RETURNN
    `get_axes_by_tag_name`: a substring of the description or of its `get_same_base().description`)."""
    return [i for i in pool if any(name.lower() in d.lower() for d in tag_descriptions(t, i))]


def stag_axis(t: TensorType, pool: list[int], name: str) -> int:
    """The one axis of `pool` (the spatial axes for `stag:`, all for `tag:`) whose dim tag description contains
    `name` (RETURNN `get_axis_by_tag_name`, which asserts exactly one)."""
    found = tagged(t, pool, name)
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(f"axis 'stag:{name}': {len(found)} axes of {t} match "
                         f"({', '.join(repr(tag_description(t, i)) for i in found)}); RETURNN requires one: name "
                         f"the k-th of them by 'stag-single:k:{name}', or by 'spatial:i'; {axes_listing(t)}")
    unnamed = [i for i in pool if not tag_descriptions(t, i)]
    known = [tag_description(t, i) for i in pool if i not in unnamed]
    text = f"axis 'stag:{name}': no spatial axis of {t} has a dim tag named so"
    text += f" (its tag names are {known})" if known else ""
    if unnamed:
        text += (f"; netc does not know RETURNN's tag names of {', '.join(str(t.dims[i]) for i in unnamed)} "
                 "(a padded, sliced or transposed-convolved static axis): name it by 'spatial:i', 'static:i' or "
                 "'dim:N'")
    raise ValueError(f"{text}; {axes_listing(t)}")


ROLES = {"b": "B", "batch_dim_axis": "B", "t": "T", "time_dim_axis": "T", "f": "F", "feature_dim_axis": "F"}


@dataclass(frozen=True)
class SetAxes:
    """`reinterpret_data`'s `set_axes`: which axis is the batch ("B"), time ("T") or feature ("F") axis, each an
    axis description (`{"F": "spatial:1"}`, `{"T": "spatial"}`, `{"F": 2}`) or None."""

    roles: tuple[tuple[str, str | int | None], ...]  # ("B" | "T" | "F", description), sorted by role

    @classmethod
    def from_config(cls, value: Any) -> SetAxes:
        if not isinstance(value, dict) or not value:
            raise ValueError('set_axes is a dict from "B", "T" or "F" to an axis, e.g. {"F": "spatial:1"}')
        roles = {}
        for key, axis in value.items():
            role = ROLES.get(key.lower()) if isinstance(key, str) else None
            if role is None:
                raise ValueError(f"set_axes key {key!r}: use 'B', 'T' or 'F'")
            if axis is not None and not isinstance(axis, str) and not (isinstance(axis, int)
                                                                      and not isinstance(axis, bool)):
                raise ValueError(f"set_axes {key!r}: {axis!r} is no axis; {AXIS_HINT}")
            roles[role] = axis
        return cls(tuple(sorted(roles.items())))

    def plain(self) -> dict[str, Any]:
        return dict(self.roles)

    @property
    def has_int(self) -> bool:
        return any(isinstance(axis, int) for _, axis in self.roles)

    def check_against(self, t: TensorType) -> None:
        """RETURNN's `ReinterpretDataLayer.get_out_data_from_opts` sets the role's axis; netc's types give each
        role one fixed kind of dim (time: per-sequence lengths, feature: the last static axis), so a role may only
        be given to the axis that already has it. ValueError naming the role, the axis and what to do instead."""
        kinds = {"B": DimKind.BATCH, "T": DimKind.TIME, "F": DimKind.FEATURE}
        for role, axis in self.roles:
            has = [i for i, d in enumerate(t.dims) if d.kind is kinds[role]]
            if axis is None:
                if has:
                    raise ValueError(f"set_axes {role!r}: None takes the {role} role from {t.dims[has[0]]} of {t}; "
                                     "netc's types cannot drop it")
                continue
            index = Axes((axis,)).resolve_one(t)
            if index in has:
                continue
            if role == "F":
                hint = ("the feature axis is the last static axis: move the axis there with swap_axes"
                        if t.dims[index].is_static else "a time axis cannot be the feature axis in netc")
            elif role == "T":
                hint = "netc's time axes carry per-sequence lengths; a static axis cannot become one"
            else:
                hint = "the batch axis cannot be moved"
            raise ValueError(f"set_axes {role!r}: {axis!r} is {t.dims[index]} of {t}, not its {role} axis; {hint}")
