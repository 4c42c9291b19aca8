"""RETURNN's axis notation (`"T"`, `"F"`, `"spatial:1"`, `"static"`, ...) resolved against a TensorType.

Follows `returnn/tensor/_tensor_extra.py` `get_axes_from_description`: spatial axes are all axes except the
batch and the feature dim (the time axis included); static axes are those with a fixed size; an integer
counts axes with the batch dim (axis 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from netc.ir.types import DimKind, TensorType

AXIS_HINT = "name axes as RETURNN does: 'T', 'F', 'B', 'spatial:0', 'static:0', 'dim:N', 'except_time', 'static'"


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
        """The axis indices (batch included) in the order written; ValueError when one does not exist."""
        found: list[int] = []
        for item in self.items:
            found += resolve_axis(t, item)
        return found

    def resolve_one(self, t: TensorType) -> int:
        """Exactly one axis; ValueError otherwise."""
        found = self.resolve(t)
        if len(found) != 1:
            raise ValueError(f"{self} names {len(found)} axes of {t}; name exactly one")
        return found[0]


def resolve_axis(t: TensorType, item: str | int) -> list[int]:
    """One description -> axis indices (batch counted); ValueError naming the description and the type."""
    kinds = [d.kind for d in t.dims]
    every = list(range(len(kinds)))
    batch = [i for i in every if kinds[i] is DimKind.BATCH]
    time = [i for i in every if kinds[i] is DimKind.TIME]
    feature = [i for i in every if kinds[i] is DimKind.FEATURE]
    spatial = [i for i in every if kinds[i] not in (DimKind.BATCH, DimKind.FEATURE)]
    static = [i for i in every if t.dims[i].is_static]
    if isinstance(item, int):
        index = item + len(kinds) if item < 0 else item
        if not 0 <= index < len(kinds):
            raise ValueError(f"axis {item} is out of range for {t}")
        return [index]
    word = item.lower()
    named = {"b": batch, "batch": batch, "t": time, "time": time, "f": feature, "feature": feature,
             "spatial": spatial, "static": static, "except_batch": [i for i in every if i not in batch],
             "except_time": [i for i in every if i not in batch + time], "t?": time,
             "spatial_except_time": [i for i in spatial if i not in time], "*": every}
    if word in named:
        if not named[word] and word != "t?":
            raise ValueError(f"axis {item!r}: {t} has no such axis")
        return named[word]
    match = re.fullmatch(r"(s|spatial|static|except_batch|d|dyn|dynamic):(-?\d+)", word)
    if match:
        pool = {"s": spatial, "spatial": spatial, "static": static, "except_batch": named["except_batch"],
                "d": time, "dyn": time, "dynamic": time}[match.group(1)]
        k = int(match.group(2))
        if not -len(pool) <= k < len(pool):
            raise ValueError(f"axis {item!r}: {t} has {len(pool)} such axes")
        return [pool[k]]
    if len(word) > 1 and all(c in "btf" for c in word):  # "TF": time and feature
        return [i for c in word for i in resolve_axis(t, c)]
    match = re.fullmatch(r"dim:(\d+)", word)
    if match:
        sized = [i for i in every if t.dims[i].size == int(match.group(1))]
        if len(sized) != 1:
            raise ValueError(f"axis {item!r}: {t} has {len(sized)} axes of that size; it must be unique")
        return sized
    raise ValueError(f"unknown axis description {item!r}; {AXIS_HINT}")
