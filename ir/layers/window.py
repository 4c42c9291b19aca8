"""`window` (returnn/tf/layers/basic.py WindowLayer, returnn/tf/util/basic.py windowed_nd): a new window axis
of `window_size` frames right after time; each sequence sees zeros beyond its own ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import MAX_DIM, At, Layer, ShapeEnv
from netc.ir.layers.reshape import default_feature
from netc.ir.types import LAYER, Derived, DimKind, LengthRule, TensorType, spatial_dim


def out_length_rule(size: int, stride: int, same: bool, dilation: int = 1) -> LengthRule:
    """RETURNN `ConvLayer.calc_out_dim`: SAME `ceil(len / stride)`, VALID `ceil((len - (size-1)*dilation) / stride)`."""
    return LengthRule(add=0 if same else -(size - 1) * dilation, stride=stride)


@dataclass(frozen=True)
class Window(Layer):
    """Frames `t*stride - window_left ... + window_size - 1` (SAME) or `t*stride ...` (VALID) of each sequence."""

    window_size: int | None = None
    window_left: int | None = None
    window_right: int | None = None
    axis: str = "T"
    padding: str = "same"
    stride: int = 1

    class_name: ClassVar[str] = "window"

    def check(self, at: At) -> None:
        super().check(at)
        if self.window_size is None or not 1 <= self.window_size <= MAX_DIM:
            raise NetcError(f"window_size must be a positive size up to {MAX_DIM}", at("window_size"),
                            'e.g. "window_size": 5')
        if self.axis.lower() not in ("t", "time"):
            raise NetcError(f"window over axis {self.axis!r} is not supported", at("axis"), 'use "T"')
        if self.padding.lower() not in ("same", "valid"):
            raise NetcError(f"unknown padding {self.padding!r}", at("padding"), "use 'same' or 'valid'")
        if self.stride < 1:
            raise NetcError("stride must be >= 1", at("stride"))
        if self.padding.lower() == "valid" and (self.window_left is not None or self.window_right is not None):
            raise NetcError("window_left/window_right need padding 'same'", at("padding"))
        left, right = self.sides
        if self.same and (left < 0 or right < 0 or left + right + 1 != self.window_size):
            raise NetcError(f"window_size {self.window_size} != window_left + window_right + 1", at("window_left"),
                            "set only one of window_left and window_right")

    @property
    def same(self) -> bool:
        return self.padding.lower() == "same"

    @property
    def sides(self) -> tuple[int, int]:
        """Zero frames padded (before, after) the time axis: SAME by windowed_nd's defaults; VALID: none."""
        size = self.window_size or 1
        if not self.same:
            return 0, 0
        right = self.window_right
        if right is None:
            right = size - self.window_left - 1 if self.window_left is not None else size // 2
        left = self.window_left if self.window_left is not None else size - right - 1
        return left, right

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None or x.sparse or not x.has_time:
            raise NetcError(f"window needs a dense input with a time axis, got {x}", at("from"))
        index = x.time_index
        assert index is not None and self.window_size is not None
        dim = x.dims[index]
        rule = out_length_rule(self.window_size, self.stride, self.same)
        assert dim.lengths is not None
        new_time = dim if rule == LengthRule() else dim.derived_time(Derived(dim.lengths, rule))
        dims = x.dims[:index] + (new_time, spatial_dim(self.window_size, f"{LAYER}:window")) + x.dims[index + 1:]
        if dims[-1].kind is DimKind.TIME:
            raise NetcError("window needs a feature dim after time", at("from"))
        return default_feature(x, dims)
