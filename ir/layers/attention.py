"""`softmax_over_spatial` and `generic_attention` (returnn/tf/layers/basic.py SoftmaxOverSpatialLayer,
returnn/tf/layers/rec.py GenericAttentionLayer): the attention of RETURNN's attention decoders.

Inside a rec unit the energies are `[B, T_enc, H]` (the encoder's time axis, H heads); the weights are their
softmax over `T_enc` with padded frames masked; the attention is the weighted sum of the encoder's values
`[B, T_enc, H, F]` over `T_enc`: `[B, H, F]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.axes import Axes, axes_listing
from netc.ir.layers.base import At, Layer, ShapeEnv, check_time_mask, dense_float, required
from netc.ir.types import DimKind, TensorType


@dataclass(frozen=True)
class SoftmaxOverSpatial(Layer):
    """softmax over `axis` (default: the input's time axis), padded frames masked to exp(x) = 0 when
    `use_time_mask` (RETURNN's default for a dynamic axis); `energy_factor` scales the energies first.

    With `window_start` (a layer `[B]`) and `window_size` (frames), only the frames `start <= t < start + size`
    of each sequence stay (RETURNN `SeqLenMaskLayer.build_mask`, the local attention of returnn-experiments
    2019-asr-local-attention); the others are masked as padded frames are."""

    axis: Axes | None = None
    energy_factor: float | None = None
    use_time_mask: bool | None = None
    log_space: bool = False
    window_start: str | None = None
    window_size: int | None = None

    class_name: ClassVar[str] = "softmax_over_spatial"
    layer_keys: ClassVar[tuple[str, ...]] = ("window_start",)

    def check(self, at: At) -> None:
        super().check(at)
        check_time_mask(self.use_time_mask, at)
        self.check_window(at)

    def check_window(self, at: At) -> None:
        """RETURNN `SeqLenMaskLayer.build_mask`: a window_start needs a window_size ("set window_size
        explicitly"); a window_size without a window_start masks nothing. netc reads a constant size only."""
        if self.window_start is not None and self.window_size is None:
            raise NetcError("window_start needs a window_size (RETURNN asserts it)", at("window_start"),
                            '"window_size": 8, the frames [start, start + size) the softmax keeps')
        if self.window_size is not None and self.window_size < 1:
            raise NetcError(f"window_size must be a positive number of frames, got {self.window_size}",
                            at("window_size"), '"window_size": 8')

    @property
    def dependencies(self) -> tuple[str, ...]:
        return super().dependencies + ((self.window_start,) if self.window_start else ())

    def check_window_type(self, x: TensorType, axis: int, env: ShapeEnv, at: At) -> None:
        """The window start is a number per sequence, int32 or float32 `[B]`, over the time axis."""
        if self.window_start is None:
            return
        if axis != x.time_index:
            raise NetcError(f"a window masks the time axis, but the softmax is over {x.dims[axis]} of {x}",
                            at("axis"), "remove axis (the softmax runs over time)")
        w = env.type_of(self.window_start)
        if w.sparse or w.dtype not in ("int32", "float32") or w.dims != (x.batch,):
            raise NetcError(f"window_start {self.window_start!r} is {w} {w.dtype}; it must be one number per sequence "
                            "[B] (int32 or float32)", at("window_start"),
                            "e.g. an eval of the previous weights' argmax position")

    def softmax_axis(self, x: TensorType) -> int:
        """The axis of the softmax; ValueError naming what is wrong."""
        if self.axis is None:
            if x.time_index is None:
                raise ValueError(f"{x} has no time axis; {axes_listing(x)}")
            return x.time_index
        found = sorted(set(self.axis.resolve(x)))
        if len(found) != 1 or x.dims[found[0]].kind is DimKind.BATCH:
            raise ValueError(f"{self.axis} must name one axis other than the batch of {x}; {axes_listing(x)}")
        return found[0]

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        x = dense_float(x, "softmax_over_spatial reads float energies", at, "give it the attention energies [B, T, H]")
        try:
            axis = self.softmax_axis(x)
        except ValueError as e:
            raise NetcError(str(e), at("axis" if self.axis else "from"), "name the axis of the softmax") from None
        self.check_window_type(x, axis, env, at)
        return x


@dataclass(frozen=True)
class GenericAttention(Layer):
    """sum over T of `weights [B, T, ...]` times `base [B, T, ..., F]`: `[B, common..., kept..., F]`.

    RETURNN's `GenericAttentionLayer._weights_remaining_axes`: the base's axes other than B, T and F match the
    weights' remaining axes by size, from the last; a remaining weights axis of size 1 that matches none is
    squeezed (`auto_squeeze`); the others stay, after the matched ones."""

    weights: str | None = None
    base: str | None = None
    auto_squeeze: bool = True
    sources: tuple[str, ...] = ()

    class_name: ClassVar[str] = "generic_attention"
    layer_keys: ClassVar[tuple[str, ...]] = ("weights", "base")
    concatenates: ClassVar[bool] = False

    def check(self, at: At) -> None:
        required(self.weights, "weights", at, '"weights": "att_weights"')
        required(self.base, "base", at, '"base": "base:enc_value"')
        if self.sources:
            raise NetcError("generic_attention reads 'weights' and 'base', not 'from'", at("from"),
                            'remove "from" (RETURNN asserts it is empty)')
        Layer.check(type(self)(sources=("data",), weights=self.weights, base=self.base), at)

    @property
    def dependencies(self) -> tuple[str, ...]:
        return (self.weights or "", self.base or "")

    def axes(self, w: TensorType, b: TensorType) -> tuple[list[int], list[int], list[tuple[int, int]]]:
        """(kept weights axes, squeezed weights axes, matched (weights axis, base axis) pairs); ValueError."""
        if w.time_index is None or b.time_index is None or b.feature_index is None:
            raise ValueError(f"the weights {w} and the base {b} both need a time axis, the base a feature dim")
        if w.dims[w.time_index] != b.dims[b.time_index]:
            raise ValueError(f"the weights' time axis {w.dims[w.time_index]} is not the base's "
                             f"{b.dims[b.time_index]}")
        base_rest = [i for i, d in enumerate(b.dims) if d.kind is not DimKind.BATCH and i not in
                     (b.time_index, b.feature_index)]
        rest = [i for i, d in enumerate(w.dims) if d.kind is not DimKind.BATCH and i != w.time_index]
        kept, squeezed, common = list(rest), [], []
        for i in reversed(rest):
            if base_rest and w.dims[i].size == b.dims[base_rest[-1]].size:
                common.append((i, base_rest.pop()))
                kept.remove(i)
            elif self.auto_squeeze and w.dims[i].size == 1:
                kept.remove(i)
                squeezed.append(i)
        if base_rest:
            raise ValueError(f"the base's axes {[str(b.dims[i]) for i in base_rest]} match no axis of the weights "
                             f"{w} (RETURNN asserts they do)")
        return kept, squeezed, common

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        assert self.weights is not None and self.base is not None
        w, b = env.type_of(self.weights), env.type_of(self.base)
        if w.sparse or b.sparse:
            raise NetcError(f"generic_attention reads float weights and base, got {w} and {b}", at("weights"))
        try:
            kept, _, common = self.axes(w, b)
        except ValueError as e:
            raise NetcError(str(e), at("weights"), "attend with weights [B, T, H] on a base [B, T, H, F]") from None
        assert b.feature_index is not None and b.batch is not None
        dims = (b.batch, *(b.dims[j] for _, j in sorted(common, key=lambda p: p[1])),
                *(w.dims[i] for i in kept), b.dims[b.feature_index])
        return TensorType(dims)
