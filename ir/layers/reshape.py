"""Layers that move, split, merge, add, remove, slice or pad axes: the reshape family.

Each follows its class in `returnn/tf/layers/basic.py` (SplitDimsLayer, MergeDimsLayer, SwapAxesLayer,
ExpandDimsLayer, SqueezeLayer, SliceLayer, PadLayer). Batch and time are never merged or split; slicing and
padding the time axis derive a new time axis whose lengths follow RETURNN's formula for one sequence alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.axes import Axes, SetAxes
from netc.ir.layers.base import At, Layer, ShapeEnv, required
from netc.ir.types import LAYER, Derived, Dim, DimKind, LengthRule, TensorType, spatial_dim, time_dim


@dataclass(frozen=True)
class Reshaping(Layer):
    """A parameter-free layer whose shape rule needs its input's dims."""

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None or x.sparse:
            raise NetcError(f"{self.class_name} needs a dense input, got {x or 'none'}", at("from"))
        try:
            return self.reshape(x, at)
        except ValueError as e:
            raise NetcError(f"{e} (input {x})", at(self.axis_key), "check the input's dims with `netc check`") from None

    def reshape(self, x: TensorType, at: At) -> TensorType:
        """The output type; ValueError for an axis the input lacks."""
        raise NotImplementedError

    axis_key: ClassVar[str] = "axis"


def default_feature(x: TensorType, dims: tuple[Dim, ...] | list[Dim]) -> TensorType:
    """`x` with new dims whose feature dim is RETURNN's default: the last static axis
    (`returnn/tensor/_tensor_extra.py` `_default_feature_dim_axis`); other static axes are spatial."""
    static = [i for i, d in enumerate(dims) if d.is_static]
    last = static[-1] if static else None
    return x.with_dims(tuple(replace(d, kind=DimKind.FEATURE if i == last else DimKind.SPATIAL) if d.is_static else d
                             for i, d in enumerate(dims)))


def merged_name(dims: list[Dim]) -> str | None:
    """RETURNN's tag of merged dims (`prod(merge_dim_tags)`, returnn/tensor/_dim_extra.py `_get_description`): their
    names joined by `*` in merge order, one with `+ - /` or a space in brackets; one dim keeps its name; None when
    netc does not know a name."""
    names = [d.name for d in dims]
    if any(n is None for n in names):
        return None
    return "*".join(f"({n})" if len(dims) > 1 and any(c in n for c in "+-/ ") else n for n in names if n)


def static_axis(x: TensorType, axis: int, what: str) -> int:
    """The size of a static axis; ValueError for batch and time."""
    size = x.dims[axis].size
    if size is None:
        raise ValueError(f"{what} works on static axes only, not on {x.dims[axis]}")
    return size


@dataclass(frozen=True)
class SplitDims(Reshaping):
    """Split one axis into `dims` (one entry may be -1); splitting F makes the last new dim the feature.

    On the time axis (`dims` `[-1, k, ...]`) each sequence is padded with `pad_value` to a multiple of
    `k * ...` frames and the new time axis has `ceil(len / (k * ...))` frames (RETURNN `pad_to_multiples`, the
    default on a dynamic axis).
    """

    axis: Axes | None = None
    dims: tuple[int, ...] = ()
    pad_to_multiples: bool | None = None
    pad_value: float = 0.0

    class_name: ClassVar[str] = "split_dims"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.axis, "axis", at, '"axis": "F"')
        required(self.dims, "dims", at, '"dims": [4, -1]')
        if sum(d == -1 for d in self.dims) > 1 or any(d == 0 or d < -1 for d in self.dims):
            raise NetcError("dims are positive sizes and at most one -1", at("dims"), f"got {list(self.dims)}")

    def reshape(self, x: TensorType, at: At) -> TensorType:
        assert self.axis is not None
        axis = self.axis.resolve_one(x)
        if x.dims[axis].kind is DimKind.TIME:
            return self.split_time(x, axis, at)
        if self.pad_to_multiples:
            raise NetcError("pad_to_multiples on a static axis is not supported", at("pad_to_multiples"),
                            "give dims whose product is the axis size, and remove pad_to_multiples")
        size = static_axis(x, axis, "split_dims")
        known = math.prod(d for d in self.dims if d != -1)
        sizes = [size // known if d == -1 else d for d in self.dims]
        if math.prod(sizes) != size:
            raise NetcError(f"dims {list(self.dims)} do not split the axis of size {size}", at("dims"),
                            f"use sizes whose product is {size}")
        return default_feature(x, x.dims[:axis] + tuple(spatial_dim(s, self.split_name(x.dims[axis], i, known))
                                                        for i, s in enumerate(sizes)) + x.dims[axis + 1:])

    def split_name(self, dim: Dim, i: int, known: int) -> str | None:
        """RETURNN's tag of the i-th new axis (SplitDimsLayer._map_old_axis_to_new_axis's `resolved_dims`): the
        -1 axis keeps the split axis's tag when the other dims multiply to 1, else `<layer>_split_dims<i>_rem`;
        the others `<layer>_split_dims<i>`."""
        if self.dims[i] != -1:
            return f"{LAYER}_split_dims{i}"
        return dim.name if known == 1 else f"{LAYER}_split_dims{i}_rem"

    @property
    def time_block(self) -> int:
        """Frames per new time step when splitting time (the product of the static dims)."""
        return math.prod(self.dims[1:])

    def split_time(self, x: TensorType, axis: int, at: At) -> TensorType:
        """`[.., T, ..]` -> `[.., ceil(T / k), dims[1:]..]` (RETURNN SplitDimsLayer with pad_to_multiples)."""
        if not self.dims or self.dims[0] != -1:
            raise NetcError(f"splitting the time axis needs dims [-1, ...], got {list(self.dims)}", at("dims"),
                            "netc keeps time as the outer axis: write e.g. [-1, 2] (and swap_axes afterwards)")
        if self.pad_to_multiples is False and self.time_block != 1:
            raise NetcError("splitting the time axis needs pad_to_multiples (RETURNN asserts it)",
                            at("pad_to_multiples"), "remove pad_to_multiples")
        if not x.is_packable or axis != 1:
            raise ValueError(f"split_dims splits the time axis of [B, T, ...] inputs only, not of {x}")
        dim = x.dims[axis]
        assert dim.lengths is not None
        # RETURNN: the -1 axis of the split time axis is a new `<layer>_split_dims0_rem`, not computed from time
        time = dim if self.time_block == 1 else time_dim(Derived(dim.lengths, LengthRule(stride=self.time_block)),
                                                         f"{LAYER}_split_dims0_rem")
        return default_feature(x, x.dims[:axis] + (time,) + tuple(spatial_dim(s, f"{LAYER}_split_dims{i}")
                                                                  for i, s in enumerate(self.dims[1:], 1))
                               + x.dims[axis + 1:])


@dataclass(frozen=True)
class MergeDims(Reshaping):
    """Merge static axes into one (RETURNN's default `keep_order` False: in axis order); F merged stays F."""

    axes: Axes | None = None
    keep_order: bool = False
    n_out: int | None = None

    class_name: ClassVar[str] = "merge_dims"
    axis_key: ClassVar[str] = "axes"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.axes, "axes", at, '"axes": "static"')

    def merge_plan(self, x: TensorType) -> tuple[list[int], int]:
        """The merged axes in merge order, and where the merged axis goes (RETURNN `_get_target_axis`)."""
        assert self.axes is not None
        axes = self.axes.resolve(x)
        axes = axes if self.keep_order else sorted(set(axes))
        feature = x.feature_index
        if feature in axes:
            return axes, feature - sum(a < feature for a in axes)
        return axes, min(axes)

    def reshape(self, x: TensorType, at: At) -> TensorType:
        axes, target = self.merge_plan(x)
        merged = self.merged_time(x, axes, at)
        if merged is None:
            size = math.prod(static_axis(x, a, "merge_dims") for a in axes)
            if self.n_out is not None and self.n_out != size:
                raise NetcError(f"n_out is {self.n_out}, but the merged axis has size {size}", at("n_out"),
                                f"set n_out to {size} or remove it")
            merged = spatial_dim(size, merged_name([x.dims[a] for a in axes]))
        if len(axes) == 1:
            return default_feature(x, x.dims[:axes[0]] + (merged,) + x.dims[axes[0] + 1:])
        rest = [d for i, d in enumerate(x.dims) if i not in axes]
        return default_feature(x, tuple(rest[:target]) + (merged,) + tuple(rest[target:]))

    def merged_time(self, x: TensorType, axes: list[int], at: At) -> Dim | None:
        """Time merged with static axes after it: a time axis of `len * k` frames (frame `t * k + j` is frame t's
        j-th entry; RETURNN `_set_output_sizes`); None when no time axis is merged."""
        times = [a for a in axes if x.dims[a].kind is DimKind.TIME]
        if not times or len(axes) == 1:
            return None
        if axes[0] != times[0]:
            order = [str(x.dims[a]) for a in axes]
            raise NetcError(f"merge_dims merges time first or not at all (merge order {order})",
                            at("axes"), "list the time axis first (keep_order) or swap_axes it before the others")
        if x.feature_index in axes:
            raise NetcError("merging time with the feature dim makes a dynamic feature dim (RETURNN's result), "
                            "which netc does not support", at("axes"), "merge time with spatial axes only")
        if self.n_out is not None:
            raise NetcError("n_out with the time axis merged", at("n_out"), "remove n_out")
        factor = math.prod(static_axis(x, a, "merging with time") for a in axes[1:])
        lengths = x.dims[times[0]].lengths
        assert lengths is not None
        time = x.dims[times[0]]
        return time.derived_time(Derived(lengths, LengthRule(factor=factor))) if factor != 1 else time


@dataclass(frozen=True)
class SwapAxes(Reshaping):
    """Exchange two axes (not the batch)."""

    axis1: Axes | None = None
    axis2: Axes | None = None

    class_name: ClassVar[str] = "swap_axes"
    axis_key: ClassVar[str] = "axis1"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.axis1, "axis1", at, '"axis1": "T"')
        required(self.axis2, "axis2", at, '"axis2": "F"')

    def positions(self, x: TensorType) -> tuple[int, int]:
        assert self.axis1 is not None and self.axis2 is not None
        return self.axis1.resolve_one(x), self.axis2.resolve_one(x)

    def reshape(self, x: TensorType, at: At) -> TensorType:
        i, j = self.positions(x)
        if DimKind.BATCH in (x.dims[i].kind, x.dims[j].kind):
            raise ValueError("swap_axes cannot move the batch axis")
        dims = list(x.dims)
        dims[i], dims[j] = dims[j], dims[i]
        return default_feature(x, dims)


@dataclass(frozen=True)
class ExpandDims(Reshaping):
    """Add a static axis of size `dim`: after the feature dim for "F" (it becomes the feature dim), else
    before the last axis ("spatial", "T")."""

    axis: str | None = None
    dim: int = 1

    class_name: ClassVar[str] = "expand_dims"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.axis, "axis", at, '"axis": "spatial"')
        if str(self.axis).lower() not in ("f", "feature", "spatial", "time", "t"):
            raise NetcError(f"unknown axis {self.axis!r}", at("axis"), "use 'F', 'spatial' or 'T'")
        if not 1 <= self.dim <= 1 << 20:
            raise NetcError("dim must be a positive size", at("dim"), f"got {self.dim}")

    def position(self, x: TensorType) -> int:
        """Where the new axis goes (RETURNN `ExpandDimsLayer._get_axis`)."""
        if str(self.axis).lower() in ("f", "feature"):
            feature = x.feature_index
            return len(x.dims) if feature is None else feature + 1
        return len(x.dims) - 1

    def reshape(self, x: TensorType, at: At) -> TensorType:
        dims = list(x.dims)
        dims.insert(self.position(x), spatial_dim(self.dim, f"{LAYER}_expand_dims"))
        return default_feature(x, dims)


@dataclass(frozen=True)
class Squeeze(Reshaping):
    """Remove static axes of size 1."""

    axis: Axes | None = None
    allow_no_op: bool = False

    class_name: ClassVar[str] = "squeeze"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.axis, "axis", at, '"axis": "F"')

    def squeezed(self, x: TensorType) -> list[int]:
        """The axes removed: those `axis` names, each of size 1; `"auto"` (alone, as RETURNN's `_get_axes`):
        every static axis of size 1, none at all being no error."""
        assert self.axis is not None
        if self.axis.items == ("auto",):
            return [i for i, d in enumerate(x.dims) if d.size == 1]
        try:
            axes = sorted(set(self.axis.resolve(x)))
        except ValueError:
            if self.allow_no_op:
                return []
            raise
        for a in axes:
            if x.dims[a].size != 1:
                raise ValueError(f"squeeze removes axes of size 1, but {self.axis} is {x.dims[a]}")
        return axes

    def reshape(self, x: TensorType, at: At) -> TensorType:
        axes = self.squeezed(x)
        return default_feature(x, [d for i, d in enumerate(x.dims) if i not in axes])


@dataclass(frozen=True)
class Slice(Reshaping):
    """`x[start:end:step]` on one axis. On time: per sequence, start >= 0, end None or < 0, step >= 1,
    new lengths `ceil((len - start + end) / step)` (RETURNN `SliceLayer.get_out_data_from_opts`)."""

    axis: Axes | None = None
    slice_start: int | None = None
    slice_end: int | None = None
    slice_step: int | None = None

    class_name: ClassVar[str] = "slice"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.axis, "axis", at, '"axis": "T"')
        if self.slice_step == 0:
            raise NetcError("slice_step cannot be 0", at("slice_step"))

    def reshape(self, x: TensorType, at: At) -> TensorType:
        assert self.axis is not None
        axis = self.axis.resolve_one(x)
        dim = x.dims[axis]
        if dim.kind is DimKind.BATCH:
            raise ValueError("slice cannot slice the batch")
        if dim.kind is DimKind.TIME:
            return x.with_dims(x.dims[:axis] + (self.time_slice(dim, at),) + x.dims[axis + 1:])
        size = len(range(dim.size or 0)[self.slice_start:self.slice_end:self.slice_step])
        if size == 0:
            raise NetcError(f"the slice of an axis of size {dim.size} is empty", at("slice_start"))
        return default_feature(x, x.dims[:axis] + (dim.derived(dim.kind, size),) + x.dims[axis + 1:])

    def time_slice(self, dim: Dim, at: At) -> Dim:
        start, end, step = self.slice_start or 0, self.slice_end, self.slice_step or 1
        if start < 0:
            raise NetcError("slice_start on time must be >= 0 (as in RETURNN)", at("slice_start"))
        if end is not None and end >= 0:
            raise NetcError("slice_end >= 0 on time makes a static axis; netc does not support it", at("slice_end"),
                            "use a negative slice_end (frames dropped from each sequence's end) or none")
        if step < 0:
            raise NetcError("a negative slice_step on time is not supported", at("slice_step"))
        assert dim.lengths is not None
        if start == 0 and not end and step == 1:
            return dim
        return dim.derived_time(Derived(dim.lengths, LengthRule(add=-start + (end or 0), stride=step)))


@dataclass(frozen=True)
class PadSpec:
    """`padding`: an int (both sides of every axis), a pair (left, right), or one pair per axis."""

    pairs: tuple[tuple[int, int], ...]  # one per axis; a single pair applies to every axis

    @classmethod
    def from_config(cls, value: Any) -> PadSpec:
        def pair(v: Any) -> tuple[int, int]:
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                return (v, v)
            if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(n, int) and n >= 0 for n in v):
                return (v[0], v[1])
            raise ValueError("padding is a size, a pair [left, right], or one pair per axis (sizes >= 0)")
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
            return cls(tuple(pair(v) for v in value))
        return cls((pair(value),))

    def plain(self) -> Any:
        return [list(p) for p in self.pairs]

    def for_axes(self, n: int) -> tuple[tuple[int, int], ...]:
        if len(self.pairs) == 1:
            return self.pairs * n
        if len(self.pairs) != n:
            raise ValueError(f"padding has {len(self.pairs)} pairs for {n} axes")
        return self.pairs


@dataclass(frozen=True)
class Pad(Reshaping):
    """Constant padding of axes; padding time pads each sequence at its own ends (lengths + left + right)."""

    axes: Axes | None = None
    padding: PadSpec | None = None
    value: float = 0.0
    mode: str = "constant"

    class_name: ClassVar[str] = "pad"
    axis_key: ClassVar[str] = "axes"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.axes, "axes", at, '"axes": "T"')
        required(self.padding, "padding", at, '"padding": [2, 0]')
        if self.mode != "constant":
            raise NetcError(f"pad mode {self.mode!r} is not supported", at("mode"), "use mode 'constant'")

    def plan(self, x: TensorType) -> list[tuple[int, tuple[int, int]]]:
        """(axis, (left, right)) per padded axis."""
        assert self.axes is not None and self.padding is not None
        axes = self.axes.resolve(x)
        return list(zip(axes, self.padding.for_axes(len(axes))))

    def reshape(self, x: TensorType, at: At) -> TensorType:
        dims = list(x.dims)
        for axis, (left, right) in self.plan(x):
            dim = dims[axis]
            if dim.kind is DimKind.BATCH:
                raise ValueError("pad cannot pad the batch")
            if dim.kind is DimKind.TIME:
                assert dim.lengths is not None
                if left + right:
                    dims[axis] = dim.derived_time(Derived(dim.lengths, LengthRule(add=left + right)))
            else:
                dims[axis] = dim.derived(dim.kind, (dim.size or 0) + left + right)
        return default_feature(x, dims)


@dataclass(frozen=True)
class ReinterpretData(Reshaping):
    """Same values, other meaning (`ReinterpretDataLayer.get_out_data_from_opts`, in its order): `enforce_batch_major`
    and `enforce_time_major` change only RETURNN's memory layout (netc's types have one dim order); `set_axes`
    names the axis of a role, which must be the one already having it (ir/layers/axes.py SetAxes); `size_base`
    gives the time axis another layer's lengths; `set_sparse` makes int32 indices sparse (with `set_sparse_dim`
    classes, default the feature dim's size) or dense; `set_sparse_dim` and `increase_sparse_dim` set or enlarge
    the number of classes of sparse indices."""

    size_base: str | None = None
    enforce_batch_major: bool = False
    enforce_time_major: bool = False
    set_axes: SetAxes | None = None
    set_sparse: bool | None = None
    set_sparse_dim: int | None = None
    increase_sparse_dim: int | None = None

    class_name: ClassVar[str] = "reinterpret_data"
    axis_key: ClassVar[str] = "size_base"
    layer_keys: ClassVar[tuple[str, ...]] = ("size_base",)

    def check(self, at: At) -> None:
        super().check(at)
        if self.enforce_batch_major and self.enforce_time_major:
            raise NetcError("enforce_batch_major and enforce_time_major exclude each other", at("enforce_time_major"),
                            "keep one of them")
        if self.set_axes is not None and self.set_axes.has_int and not (self.enforce_batch_major or
                                                                        self.enforce_time_major):
            raise NetcError(f"set_axes {self.set_axes.plain()} counts axes by number, which depends on the layout",
                            at("set_axes"), 'name the axis ("F": "spatial:1"), or add "enforce_batch_major": True '
                            "as RETURNN requires")
        for key in ("set_sparse_dim", "increase_sparse_dim"):
            value = getattr(self, key)
            if value is not None and value < (1 if key == "set_sparse_dim" else 0):
                raise NetcError(f"{key} must be a positive number of classes, got {value}", at(key))

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.sources + ((self.size_base,) if self.size_base and self.size_base != "data" else ())

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None:
            raise NetcError("reinterpret_data needs an input", at("from"))
        t = x
        if self.set_axes is not None:
            set_axes, layout = self.set_axes_in_dim_order(t)
            try:
                set_axes.check_against(t)
            except ValueError as e:
                raise NetcError(f"{e}{layout}", at("set_axes"),
                                "remove set_axes, or check the input's dims with `netc check`") from None
        if self.size_base is not None:
            base = env.type_of(self.size_base)
            if not t.has_time or not base.has_time:
                raise NetcError(f"size_base needs time axes, got {t} and {self.size_base!r} {base}", at("size_base"))
            index = t.time_index
            assert index is not None
            base_time = base.time_index
            assert base_time is not None
            t = t.with_dims(t.dims[:index] + (base.dims[base_time],) + t.dims[index + 1:])  # RETURNN: its dim tag
        return self.sparsity(t, at)

    def set_axes_in_dim_order(self, t: TensorType) -> tuple[SetAxes, str]:
        """`set_axes` with its integer axes counted in `t`'s dim order (batch-major), and a note for errors.

        RETURNN makes the input time-major first with `enforce_time_major` (`copy_as_time_major`: the time axis
        moved to 0, the others in order) and counts `set_axes` integers in that layout: `{"T": 0}` is the time
        axis there. Negative integers count from the end of that layout, as in RETURNN."""
        assert self.set_axes is not None
        index = t.time_index
        if not (self.enforce_time_major and self.set_axes.has_int and index is not None):
            return self.set_axes, ""
        order = [index] + [i for i in range(len(t.dims)) if i != index]
        roles = tuple((role, order[axis] if isinstance(axis, int) and -len(order) <= axis < len(order) else axis)
                      for role, axis in self.set_axes.roles)
        layout = ", ".join(str(t.dims[i]) for i in order)
        return SetAxes(roles), (f" (set_axes {self.set_axes.plain()} counts axes in the time-major layout "
                                f"enforce_time_major gives: [{layout}]; shown counted batch-major)")

    def sparsity(self, t: TensorType, at: At) -> TensorType:
        """The set_sparse, set_sparse_dim and increase_sparse_dim steps (RETURNN's order)."""
        if self.set_sparse is False:
            t = TensorType(t.dims, t.dtype)
        elif self.set_sparse and not t.sparse:
            if t.dtype != "int32":
                raise NetcError(f"set_sparse makes class indices, but the input is {t.dtype} {t}", at("set_sparse"),
                                "give it int32 indices (reduce with mode argmax)")
            classes = self.set_sparse_dim or (t.feature if t.feature_index is not None else None)
            if classes is None:
                raise NetcError(f"set_sparse needs the number of classes: {t} has no feature dim", at("set_sparse"),
                                'add "set_sparse_dim": N')
            t = TensorType(tuple(replace(d, kind=DimKind.SPATIAL) if d.kind is DimKind.FEATURE else d
                                 for d in t.dims), t.dtype, classes)
        for key in ("set_sparse_dim", "increase_sparse_dim"):
            value = getattr(self, key)
            if value is None:
                continue
            if not t.sparse:
                raise NetcError(f"{key} needs class indices (sparse), the input is {t}", at(key),
                                'add "set_sparse": True for int32 indices, or remove ' + key)
            if key == "set_sparse_dim" and t.classes is not None and value < t.classes:
                # RETURNN builds it and fails at run time on an index >= value (tf.gather on CPU: "indices[...] = 4
                # is not in [0, 2)", measured); netc refuses what it knows may come
                raise NetcError(f"set_sparse_dim {value} is below the {t.classes} classes of the input {t}: an index "
                                f">= {value} has no class (RETURNN fails at run time on it)", at(key),
                                f"set set_sparse_dim to {t.classes} or more, or use increase_sparse_dim")
            t = TensorType(t.dims, t.dtype, value if key == "set_sparse_dim" else (t.classes or 0) + value)
        return t

    def reshape(self, x: TensorType, at: At) -> TensorType:
        return x


RESHAPE_LAYERS = (SplitDims, MergeDims, SwapAxes, ExpandDims, Squeeze, Slice, Pad, ReinterpretData)
