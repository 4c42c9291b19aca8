"""`conv` and `pool` (returnn/tf/layers/basic.py ConvLayer, PoolLayer) over the input's spatial axes.

The input is `[B, spatial..., F]` (time, if any, the first spatial axis); F is the channel axis. Output sizes
follow `ConvLayer.calc_out_dim`; over time they derive a new time axis. SAME padding is TensorFlow's,
`total = max((ceil(n/s)-1)*s + (k-1)*d + 1 - n, 0)`, `left = total // 2`, with `n` each sequence's own
length (RETURNN on the sequence alone). With a time stride above 1 that left padding depends on the
length, so backends run the time axis at stride 1 and pick each sequence's frames (`AxisPlan.gather`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from netc.ir.errors import NetcError
from netc.ir.layers.axes import Axes
from netc.ir.layers.base import At, Layer, ShapeEnv, check_n_out, required
from netc.ir.layers.window import out_length_rule
from netc.ir.types import (
    LAYER,
    Act,
    ConfigEnum,
    Derived,
    Dim,
    DimKind,
    LengthRule,
    TensorType,
    feature_dim,
    lengths_numpy,
    spatial_dim,
)


@dataclass(frozen=True)
class AxisPlan:
    """How one spatial axis is computed: kernel, dilation, the stride the op runs at, padding, and for SAME with
    a time stride the stride and the largest left padding of the per-sequence frame pick."""

    kernel: int
    dilation: int
    stride: int
    left: int
    right: int
    gather_stride: int = 1  # > 1: run at stride 1, then frame t of sequence b is at t*s + offset(n_b)
    frames: LengthRule | None = None  # time: the op's output is cut to this rule of the input's frame count

    def out_frames(self, steps: int) -> int:
        """The frame count of the time axis for an input of `steps` frames (the rule of its derived axis)."""
        assert self.frames is not None
        return int(lengths_numpy(self.frames, np.asarray(steps)))

    def same_left(self, n: int) -> int:
        """TF's SAME left padding for a sequence of length n (only used when gather_stride > 1)."""
        s, reach = self.gather_stride, (self.kernel - 1) * self.dilation
        return max((-(-n // s) - 1) * s + reach + 1 - n, 0) // 2


def same_padding(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def plan_axis(dim: Dim, k: int, s: int, d: int, same: bool) -> AxisPlan:
    """Static axes: TF's padding. Time: `reach + 1` extra zero frames on the right, so that a batch shorter than
    the window still has one (their outputs lie past every length), and the output cut to the axis's rule."""
    if dim.size is not None:
        return AxisPlan(k, d, s, *same_padding(dim.size, k, s, d)) if same else AxisPlan(k, d, s, 0, 0)
    reach = (k - 1) * d
    frames = out_length_rule(k, s, same, d)
    if not same:
        return AxisPlan(k, d, s, 0, reach + 1, frames=frames)
    if s == 1:
        return AxisPlan(k, d, 1, reach // 2, reach - reach // 2 + reach + 1, frames=frames)
    return AxisPlan(k, d, 1, reach // 2, 2 * reach + 1, gather_stride=s, frames=frames)


def per_axis(values: tuple[int, ...], n: int, at: At, key: str) -> tuple[int, ...]:
    """`values` for `n` spatial axes: one value for all, or one each; else a NetcError at `key`."""
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise NetcError(f"{key} has {len(values)} entries for {n} axes", at(key))
    return values


class Padding(ConfigEnum):
    SAME = "same"
    VALID = "valid"


@dataclass(frozen=True)
class Spatial(Layer):
    """Options shared by conv and pool; `sizes` is filter_size or pool_size."""

    padding: Padding = Padding.VALID
    strides: tuple[int, ...] = ()
    dilation_rate: tuple[int, ...] = ()
    input_add_feature_dim: bool = False
    input_split_feature_dim: int | None = None
    input_expand_dims: int = 0
    in_spatial_dims: Axes | None = None  # RETURNN asserts they are the input's spatial axes in order

    sizes_key: ClassVar[str] = "filter_size"

    @property
    def sizes(self) -> tuple[int, ...]:
        raise NotImplementedError

    def per_axis(self, values: tuple[int, ...], default: tuple[int, ...], at: At, key: str) -> tuple[int, ...]:
        return per_axis(values, len(self.sizes), at, key) if values else default

    def steps(self, at: At) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Strides and dilations, one per spatial axis."""
        return (self.per_axis(self.strides, self.default_strides(), at, "strides"),
                self.per_axis(self.dilation_rate, (1,) * len(self.sizes), at, "dilation_rate"))

    def check(self, at: At) -> None:
        super().check(at)
        if not self.sizes or any(k < 1 for k in self.sizes):
            raise NetcError(f"{self.sizes_key} must list positive sizes, one per spatial axis", at(self.sizes_key),
                            f'e.g. "{self.sizes_key}": [3]')
        for key, values in (("strides", self.strides), ("dilation_rate", self.dilation_rate)):
            self.per_axis(values, (), at, key)
            if any(v < 1 for v in values):
                raise NetcError(f"{key} must be >= 1", at(key))
        if self.input_split_feature_dim is not None and self.input_split_feature_dim < 0:
            raise NetcError("input_split_feature_dim must be a positive size (0 or null: no split)",
                            at("input_split_feature_dim"), f"got {self.input_split_feature_dim}")
        if self.input_expand_dims < 0 or self.input_expand_dims > 2:
            raise NetcError("input_expand_dims must be 0, 1 or 2", at("input_expand_dims"))

    def default_strides(self) -> tuple[int, ...]:
        return (1,) * len(self.sizes)

    def conv_input(self, x: TensorType, at: At) -> TensorType:
        """The input as the op sees it (RETURNN `ConvLayer.transform_input`): expanded, feature split or added."""
        dims = list(x.dims)
        for i in range(self.input_expand_dims):  # RETURNN names them without the layer
            dims.insert(len(dims) - 1, spatial_dim(1, f"input_expand_dims:{i}"))
        if self.input_split_feature_dim:
            f, k = x.feature, self.input_split_feature_dim
            if f % k:
                raise NetcError(f"the feature dim {f} is not a multiple of {k}", at("input_split_feature_dim"))
            dims[-1:] = [x.dims[-1].derived(DimKind.SPATIAL, f // k), feature_dim(k)]
        if self.input_add_feature_dim:
            dims[-1:] = [Dim(DimKind.SPATIAL, x.feature, name=x.dims[-1].name, base=x.dims[-1].base), feature_dim(1)]
        return x.with_dims(tuple(dims))

    def plans(self, x: TensorType, at: At) -> tuple[TensorType, list[AxisPlan]]:
        """The transformed input type and one plan per spatial axis (dims 1 .. -2)."""
        if x.sparse or x.feature_index is None or x.feature_index != len(x.dims) - 1 or \
                x.dims[0].kind is not DimKind.BATCH:
            raise NetcError(f"{self.class_name} reads [B, spatial..., F], got {x}", at("from"))
        self.check_in_spatial_dims(x, at)
        t = self.conv_input(x, at)
        spatial = t.dims[1:-1]
        if len(spatial) != len(self.sizes):
            raise NetcError(f"{self.sizes_key} has {len(self.sizes)} entries, the input {t} has {len(spatial)} "
                            "spatial axes", at(self.sizes_key),
                            "use input_add_feature_dim/input_split_feature_dim/split_dims to add spatial axes")
        if any(d.kind is DimKind.TIME for d in spatial[1:]):
            raise NetcError(f"time must be the first spatial axis of {t}", at("from"))
        strides, dilations = self.steps(at)
        same = self.padding is Padding.SAME
        return t, [plan_axis(d, k, s, r, same) for d, k, s, r in zip(spatial, self.sizes, strides, dilations)]

    def check_in_spatial_dims(self, x: TensorType, at: At) -> None:
        """`in_spatial_dims` (RETURNN's axis notation) must name the input's spatial axes in their order: RETURNN's
        `ConvLayer.__init__` asserts it (transform_input appends the axes it adds), so it selects nothing."""
        if self.in_spatial_dims is None:
            return
        try:
            found = self.in_spatial_dims.resolve(x)
        except ValueError as e:
            raise NetcError(f"in_spatial_dims {self.in_spatial_dims}: {e}", at("in_spatial_dims")) from e
        spatial = list(range(1, len(x.dims) - 1))
        if found != spatial:
            named, wanted = (", ".join(str(x.dims[i]) for i in axes) for axes in (found, spatial))
            raise NetcError(f"in_spatial_dims {self.in_spatial_dims} names the axes [{named}] of {x}; RETURNN "
                            f"asserts they are its spatial axes in order, [{wanted}]",
                            at("in_spatial_dims"), "remove in_spatial_dims, or bring the axes into that order "
                            "(swap_axes) first")

    def out_dims(self, t: TensorType, at: At) -> list[Dim]:
        """Output spatial dims by RETURNN's calc_out_dim."""
        strides, dilations = self.steps(at)
        same = self.padding is Padding.SAME
        out = []
        for dim, k, s, d in zip(t.dims[1:-1], self.sizes, strides, dilations):
            rule = out_length_rule(k, s, same, d)
            name = f"{LAYER}:conv:s{len(out)}"  # RETURNN ConvLayer.calc_out_dim's tag, also for pool
            if s == 1 and (same or k == 1):  # RETURNN keeps the input's dim tag: "identity in this axis"
                out.append(dim)
            elif dim.size is not None:
                size = max(0, math.ceil((dim.size + rule.add) / s))
                if size < 1:
                    raise NetcError(f"the axis of size {dim.size} is shorter than the window {k}", at(self.sizes_key))
                out.append(dim.derived(DimKind.SPATIAL, size, name))
            else:
                assert dim.lengths is not None
                out.append(dim.derived_time(Derived(dim.lengths, rule), name))
        return out


@dataclass(frozen=True)
class Conv(Spatial):
    """act(conv(x, W) + bias); `W` `[filter..., in/groups, n_out]`, `bias` `[n_out]` (RETURNN's names). With
    `groups` g, output channel o reads the input channels of group `o // (n_out/g)` (TF's grouped convolution;
    groups = in is RETURNN's depthwise_conv2d path, whose filter `[k..., 1, n_out]` it reshapes to
    `[k..., in, n_out/in]`: the same channel order)."""

    filter_size: tuple[int, ...] = ()
    n_out: int | None = None
    activation: Act = Act.IDENTITY
    with_bias: bool = False  # RETURNN's default before behaviour version 10
    groups: int = 1

    class_name: ClassVar[str] = "conv"

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.filter_size

    def check(self, at: At) -> None:
        super().check(at)
        check_n_out(self.n_out, at)
        if self.n_out is None:
            raise NetcError("n_out is required", at("n_out"), "set n_out to the number of filters")
        if self.groups < 1:
            raise NetcError("groups must be >= 1", at("groups"), f"got {self.groups}")
        if self.n_out % self.groups:
            raise NetcError(f"n_out {self.n_out} is not a multiple of groups {self.groups}", at("groups"),
                            "RETURNN asserts n_out % groups == 0; for a depthwise conv set n_out to a multiple of "
                            "the input channels")

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None:
            raise NetcError("conv needs an input", at("from"))
        t, _ = self.plans(x, at)
        if t.feature % self.groups:
            raise NetcError(f"the input has {t.feature} channels, not a multiple of groups {self.groups}",
                            at("groups"), f"RETURNN asserts in % groups == 0; a depthwise conv has groups {t.feature}")
        return x.with_dims((t.dims[0], *self.out_dims(t, at), feature_dim(self.n_out or 1, f"{LAYER}:channel")))

    def param_shapes_for(self, layer: str, x: TensorType | None, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        channels = 1 if self.input_add_feature_dim else (self.input_split_feature_dim or n_in)
        shapes = {"W": (*self.filter_size, channels // self.groups, n_out)}
        if self.with_bias:
            shapes["bias"] = (n_out,)
        return shapes

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        fan = math.prod(self.filter_size)
        return {"W": math.sqrt(6.0 / (fan * n_in // self.groups + fan * n_out))}


class PoolMode(ConfigEnum):
    MAX = "max"
    AVG = "avg"


@dataclass(frozen=True)
class Pool(Spatial):
    """Max or average pooling; strides default to pool_size; average over each window's real frames only."""

    mode: PoolMode | None = None
    pool_size: tuple[int, ...] = ()
    use_time_mask: bool = False

    class_name: ClassVar[str] = "pool"
    sizes_key: ClassVar[str] = "pool_size"

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.pool_size

    def default_strides(self) -> tuple[int, ...]:
        return self.pool_size

    def check(self, at: At) -> None:
        super().check(at)
        required(self.mode, "mode", at, '"mode": "max" (or "avg")')
        if self.mode is PoolMode.AVG and any(d > 1 for d in self.dilation_rate):
            raise NetcError("average pooling with dilation is not supported", at("dilation_rate"))

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None:
            raise NetcError("pool needs an input", at("from"))
        t, _ = self.plans(x, at)
        return x.with_dims((t.dims[0], *self.out_dims(t, at), t.dims[-1]))


@dataclass(frozen=True)
class DeconvAxis:
    """One spatial axis of a transposed conv. TF's output has length `n*s + full` (RETURNN's
    `deconv_output_length`): the full result `(n-1)*s + k` from frame `left` on (TF's padding of the conv it is
    the gradient of), zero-extended; RETURNN then removes `remove` frames at both ends."""

    kernel: int
    stride: int
    full: int
    remove: int
    left: int

    @property
    def add(self) -> int:
        """The output length is `n*s + add`."""
        return self.full - 2 * self.remove

    @property
    def offset(self) -> int:
        """Output frame t is frame `t + offset` of the full result."""
        return self.left + self.remove

    @property
    def rule(self) -> LengthRule:
        return LengthRule(add=self.add, factor=self.stride)

    def extra(self) -> int:
        """Zero frames to append to the full result so that every output frame exists."""
        return max(0, self.offset + self.stride + self.add - self.kernel)


@dataclass(frozen=True)
class TransposedConv(Layer):
    """act(conv_transpose(x, W) + bias) over 1 or 2 spatial axes of `[B, spatial..., F]`;
    `W_native_transposed_conv` `[filter..., n_out, in]` (1D: `[k, 1, n_out, in]`), `bias` `[n_out]`."""

    filter_size: tuple[int, ...] = ()
    strides: tuple[int, ...] | None = None  # None: filter_size (RETURNN's default)
    padding: Padding = Padding.SAME
    remove_padding: tuple[int, ...] = (0,)
    output_padding: tuple[int, ...] | None = None
    n_out: int | None = None
    activation: Act | None = None
    with_bias: bool = True

    class_name: ClassVar[str] = "transposed_conv"

    def per_axis(self, values: tuple[int, ...], at: At, key: str) -> tuple[int, ...]:
        return per_axis(values, len(self.filter_size), at, key)

    def check(self, at: At) -> None:
        super().check(at)
        check_n_out(self.n_out, at)
        if self.n_out is None:
            raise NetcError("n_out is required", at("n_out"), "set n_out to the number of output channels")
        if len(self.filter_size) not in (1, 2) or any(k < 1 for k in self.filter_size):
            raise NetcError("filter_size must list 1 or 2 positive sizes (RETURNN: 1D and 2D only)",
                            at("filter_size"), 'e.g. "filter_size": [3]')
        if any(s < 1 for s in self.per_axis(self.strides or self.filter_size, at, "strides")):
            raise NetcError("strides must be >= 1", at("strides"))
        if any(r < 0 for r in self.per_axis(self.remove_padding, at, "remove_padding")):
            raise NetcError("remove_padding must be >= 0", at("remove_padding"))
        for axis in self.axes(at):  # TF's conv2d_transpose checks output_shape against its conv (any length n)
            if not self.consistent(axis):
                raise NetcError(f"output_padding {list(self.output_padding or ())} gives lengths TensorFlow's "
                                "conv2d_transpose refuses", at("output_padding"),
                                "use 0 <= output_padding < strides (valid) or leave it out")

    def consistent(self, axis: DeconvAxis) -> bool:
        """Whether TF's forward conv of the output length `n*s + full` gives back n (conv2d_transpose asserts it)."""
        for n in (1, 2, 3):
            length = n * axis.stride + axis.full
            if self.padding is Padding.SAME:
                back = -(-length // axis.stride)
            else:
                back = (length - axis.kernel) // axis.stride + 1 if length >= axis.kernel else 0
            if length < 1 or back != n:
                return False
        return True

    def left_pad(self, k: int, s: int, full: int) -> int:
        """TF's SAME padding before the data, `max((n-1)*s + k - (n*s + full), 0) // 2`, the same for every n."""
        return 0 if self.padding is Padding.VALID else max(k - s - full, 0) // 2

    def axes(self, at: At) -> list[DeconvAxis]:
        """RETURNN's `calc_transposed_conv_out_length` per spatial axis, as `n*s + add`, and the cut's offset."""
        strides = self.per_axis(self.strides or self.filter_size, at, "strides")
        removes = self.per_axis(self.remove_padding, at, "remove_padding")
        pads = self.per_axis(self.output_padding, at, "output_padding") if self.output_padding is not None else None
        result = []
        for i, (k, s, r) in enumerate(zip(self.filter_size, strides, removes)):
            if pads is None:
                full = max(k - s, 0) if self.padding is Padding.VALID else 0
            else:
                full = k - s - 2 * (k // 2 if self.padding is Padding.SAME else 0) + pads[i]
            result.append(DeconvAxis(k, s, full, r, self.left_pad(k, s, full)))
        return result

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None or x.sparse or x.feature_index != len(x.dims) - 1 or x.dims[0].kind is not DimKind.BATCH:
            raise NetcError(f"transposed_conv reads [B, spatial..., F], got {x}", at("from"))
        spatial = x.dims[1:-1]
        if len(spatial) != len(self.filter_size):
            raise NetcError(f"filter_size has {len(self.filter_size)} entries, the input {x} has {len(spatial)} "
                            "spatial axes", at("filter_size"), "split_dims the feature dim to add a spatial axis")
        if any(d.kind is DimKind.TIME for d in spatial[1:]):
            raise NetcError(f"time must be the first spatial axis of {x}", at("from"))
        dims: list[Dim] = []
        for dim, axis in zip(spatial, self.axes(at)):
            if dim.size is not None:
                size = dim.size * axis.stride + axis.add
                if size < 1:
                    raise NetcError(f"the axis of size {dim.size} has no frames left", at("remove_padding"))
                dims.append(dim.derived(DimKind.SPATIAL, size))  # RETURNN: the dim math `feature:data*2`
            else:
                assert dim.lengths is not None
                same = axis.add == 0 and axis.stride == 1
                dims.append(dim if same else dim.derived_time(Derived(dim.lengths, axis.rule)))
        return x.with_dims((x.dims[0], *dims, feature_dim(self.n_out or 1, f"{LAYER}:channel")))

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        # NOTE: RETURNN wraps 1D in TF's 2D op, so its 1D filter has a size-1 second spatial axis
        filter_size = self.filter_size + (1,) * (2 - len(self.filter_size))
        shapes = {"W_native_transposed_conv": (*filter_size, n_out, n_in)}
        if self.with_bias:
            shapes["bias"] = (n_out,)
        return shapes

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        fan = math.prod(self.filter_size)
        return {"W_native_transposed_conv": math.sqrt(6.0 / (fan * n_in + fan * n_out))}
