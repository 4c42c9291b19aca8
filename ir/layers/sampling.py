"""`downsample` and `upsample`, Theano-era layers (RETURNN 1.20190515 NetworkHiddenLayer.py DownsampleLayer,
UpsampleLayer, TheanoUtil.downsample/upsample; RETURNN TF has neither). `axis` 0 is time, 2 the feature dim
(Theano's [T, B, F] layout).

- downsample, time: frames grouped by `factor` from each sequence's start; a group counts only when all its
  frames are real (Theano's index reduced by min), so lengths are `floor(len / factor)`; `method` average,
  max or min over each group. Feature: groups of `factor` features reduced the same way.
- upsample, time (needs `time_like_last_source`): each frame repeated `factor` times, then cut or extended
  with the sequence's last frame to the last source's lengths, which the output takes (a sequence whose
  source is empty, undefined in Theano, gives zeros). Feature: each feature repeated `factor` times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import At, Layer, ShapeEnv
from netc.ir.types import ConfigEnum, Derived, LengthRule, TensorType, time_dim

AXES = (0, 2)


class DownsampleMethod(ConfigEnum):
    AVERAGE = "average"
    MAX = "max"
    MIN = "min"


def check_axes(axis: tuple[int, ...], factor: tuple[int, ...], at: At) -> None:
    if not axis or any(a not in AXES for a in axis) or len(set(axis)) != len(axis):
        raise NetcError(f"axis must be 0 (time) and/or 2 (feature), got {list(axis)}", at("axis"))
    if len(factor) not in (1, len(axis)) or any(f < 1 for f in factor):
        raise NetcError("factor is one positive whole number, or one per axis", at("factor"))


def per_axis(axis: tuple[int, ...], factor: tuple[int, ...]) -> dict[int, int]:
    return dict(zip(sorted(axis), factor * len(axis) if len(factor) == 1 else factor))


def seq_input(x: TensorType | None, what: str, at: At) -> TensorType:
    if x is None or not x.is_seq or x.sparse:
        raise NetcError(f"{what} reads [B, T, F], got {x}", at("from"))
    return x


@dataclass(frozen=True)
class Downsample(Layer):
    """Average/max/min over groups of `factor` frames (axis 0) or features (axis 2)."""

    axis: tuple[int, ...] = ()
    factor: tuple[int, ...] = ()
    method: DownsampleMethod = DownsampleMethod.AVERAGE
    padding: bool = False  # Theano pads the batch to a multiple of factor; lengths are floor(len/factor) either way

    class_name: ClassVar[str] = "downsample"

    def check(self, at: At) -> None:
        super().check(at)
        check_axes(self.axis, self.factor, at)

    @property
    def factors(self) -> dict[int, int]:
        return per_axis(self.axis, self.factor)

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        t = seq_input(x, "downsample", at)
        f = self.factors
        dims = list(t.dims)
        if f.get(0, 1) > 1:
            dims[1] = time_dim(Derived(t.time, LengthRule(add=-(f[0] - 1), stride=f[0])))
        out = t.with_dims(tuple(dims))
        if f.get(2, 1) > 1:
            if t.feature % f[2]:
                raise NetcError(f"the feature dim {t.feature} is not a multiple of {f[2]}", at("factor"))
            out = out.with_feature(t.feature // f[2])
        return out


@dataclass(frozen=True)
class Upsample(Layer):
    """Repeat frames (axis 0, lengths from the last source) or features (axis 2) `factor` times."""

    axis: tuple[int, ...] = ()
    factor: tuple[int, ...] = ()
    time_like_last_source: bool = False
    method: str = "nearest-neighbor"

    class_name: ClassVar[str] = "upsample"
    concatenates: ClassVar[bool] = False  # the last source only lends its time axis

    def check(self, at: At) -> None:
        super().check(at)
        check_axes(self.axis, self.factor, at)
        if self.method != "nearest-neighbor":
            raise NetcError(f"unknown method {self.method!r}", at("method"), "use 'nearest-neighbor'")
        if 0 in self.axis and (not self.time_like_last_source or len(self.sources) < 2):
            raise NetcError("upsampling time needs time_like_last_source and a last source giving the lengths",
                            at("time_like_last_source"), 'set "time_like_last_source": true, "from": [x, base]')

    @property
    def factors(self) -> dict[int, int]:
        return per_axis(self.axis, self.factor)

    @property
    def values(self) -> tuple[str, ...]:
        """The sources whose values are upsampled (concatenated on the feature dim)."""
        return self.sources[:-1] if self.time_like_last_source else self.sources

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        types = [seq_input(env.type_of(s), "upsample", at) for s in self.values]
        if len({t.time for t in types}) > 1:
            raise NetcError("the upsampled sources live on different time axes", at("from"))
        t = types[0].with_feature(sum(t.feature for t in types))
        f = self.factors
        if self.time_like_last_source:
            base = env.type_of(self.sources[-1])
            if not base.has_time:
                raise NetcError(f"the last source {self.sources[-1]!r} has no time axis", at("from"))
            if 0 in f:
                t = t.with_dims((t.dims[0], time_dim(base.time), t.dims[2]))
        return t.with_feature(t.feature * f.get(2, 1))
