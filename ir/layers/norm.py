"""Normalization: `layer_norm`, `norm`, `batch_norm` (returnn/tf/layers/basic.py LayerNormLayer, NormLayer,
BatchNormLayer with LayerBase.batch_norm in returnn/tf/layers/base.py).

Statistics over time use each sequence's own frames (RETURNN on the sequence alone). `batch_norm` keeps
RETURNN's parameter names and shapes for each `param_version`; in eval it uses the stored statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.axes import Axes
from netc.ir.layers.base import At, Layer, ShapeEnv
from netc.ir.layers.simple import PassThrough
from netc.ir.types import TensorType


@dataclass(frozen=True)
class LayerNorm(PassThrough):
    """(x - mean_F) / sqrt(var_F + epsilon) * scale + bias over the feature dim; `scale` ones, `bias` zeros."""

    epsilon: float = 1e-6

    class_name: ClassVar[str] = "layer_norm"

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return {"scale": (n_out,), "bias": (n_out,)}

    def param_init_constants(self, layer: str) -> dict[str, float]:
        return {"scale": 1.0}


@dataclass(frozen=True)
class Norm(PassThrough):
    """Like layer_norm over `axes` (default "F"); over time per sequence. Parameters `[F]` (`param_shape` F)."""

    axes: Axes = Axes(("F",))
    axis: Axes | None = None
    param_shape: Axes | None = None  # RETURNN's default, the feature axis, is the only one netc supports
    scale: bool = True
    bias: bool = True
    epsilon: float = 1e-6

    class_name: ClassVar[str] = "norm"

    def normalized(self, x: TensorType) -> list[int]:
        """The axes statistics are taken over (ValueError for the batch)."""
        axes = sorted(set((self.axis or self.axes).resolve(x)))
        if x.dims and 0 in axes:
            raise ValueError("norm over the batch is not supported")
        return axes

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        t = super().out_type(x, env, at)
        try:
            self.normalized(t)
        except ValueError as e:
            raise NetcError(f"{e} (input {t})", at("axis" if self.axis else "axes")) from None
        try:
            shape = self.param_shape.resolve(t) if self.param_shape is not None else [t.feature_index]
        except ValueError as e:
            raise NetcError(f"param_shape: {e} (input {t})", at("param_shape")) from None
        if shape != [t.feature_index]:
            raise NetcError(f"param_shape over axes {shape} of {t} is not supported", at("param_shape"),
                            'netc keeps scale and bias per feature: param_shape "F" (the default)')
        return t

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return {**({"scale": (n_out,)} if self.scale else {}), **({"bias": (n_out,)} if self.bias else {})}

    def param_init_constants(self, layer: str) -> dict[str, float]:
        return {"scale": 1.0}


@dataclass(frozen=True)
class BatchNorm(PassThrough):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta per feature. Train: mean and variance of the batch's
    valid frames, running statistics updated `stat += (batch_stat - stat) * momentum`. Eval: the stored ones.

    RETURNN's behaviour-version-0 defaults: momentum 0.99, epsilon 1e-3, param_version 0."""

    use_shift: bool = True
    use_std: bool = True
    momentum: float = 0.99
    epsilon: float = 1e-3
    param_version: int = 0
    masked_time: bool = True
    update_sample_only_in_training: bool = False
    delay_sample_update: bool = False
    use_sample: float = 0.0

    class_name: ClassVar[str] = "batch_norm"

    def check(self, at: At) -> None:
        super().check(at)
        if self.param_version not in (0, 1, 2):
            raise NetcError(f"param_version {self.param_version} does not exist", at("param_version"), "use 0, 1 or 2")
        if not self.masked_time:
            raise NetcError("masked_time false takes statistics over padded frames; netc never does",
                            at("masked_time"), "remove masked_time")
        if self.use_sample != 0.0:
            raise NetcError("use_sample other than 0 is not supported", at("use_sample"), "remove use_sample")
        if not 0.0 <= self.momentum <= 1.0:
            raise NetcError("momentum must be in [0, 1]", at("momentum"), f"got {self.momentum}")

    def names(self, layer: str) -> dict[str, str]:
        """Statistic/parameter -> its name below the layer (RETURNN's for this param_version)."""
        prefix = {0: f"batch_norm/{layer}_{layer}_output_", 1: "batch_norm/", 2: "batch_norm/v2_"}[self.param_version]
        return {k: prefix + k for k in ("mean", "variance", "gamma", "beta")}

    def param_shapes_for(self, layer: str, x: TensorType | None, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        rank = len(x.dims) if x is not None else 3
        shape = (n_out,) if self.param_version == 2 else (1,) * (rank - 1) + (n_out,)
        names = self.names(layer)
        kept = ["mean", "variance"] + (["gamma"] if self.use_std else []) + (["beta"] if self.use_shift else [])
        return {names[k]: shape for k in kept}

    def param_init_constants(self, layer: str) -> dict[str, float]:
        names = self.names(layer)
        return {names["variance"]: 1.0, names["gamma"]: 1.0}

    def non_trainable(self, layer: str) -> set[str]:
        names = self.names(layer)
        return {names["mean"], names["variance"]}


NORM_LAYERS: tuple[type[Layer], ...] = (LayerNorm, Norm, BatchNorm)
