"""Affine layers: `linear` (aliases `hidden`, `forward`) and `softmax`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import At, Layer, ShapeEnv, check_n_out, matching_n_out
from netc.ir.types import LAYER, Act, Loss, TensorType, feature_dim


@dataclass(frozen=True)
class Affine(Layer):
    """x W + b on the feature axis; with `use_transposed_weights` W is `[n_out, n_in]` and the layer computes
    x W^T + b (an embedding then takes the columns of W), as RETURNN's `LinearLayer`."""

    n_out: int | None = None
    with_bias: bool = True
    grad_filter: float | None = None  # training: a sequence's gradient at x W + b is zeroed where its max grad^2 >= it
    use_transposed_weights: bool = False  # W stored as [n_out, n_in] (RETURNN LinearLayer), x W^T + b

    def check(self, at: At) -> None:
        super().check(at)
        check_n_out(self.n_out, at)
        if self.grad_filter is not None and self.grad_filter <= 0:
            raise NetcError("grad_filter must be > 0", at("grad_filter"), f"got {self.grad_filter}")

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        """Per frame; on class indices (sparse `[B, T]`) an embedding lookup: row x of `W` `[V, n_out]`, as
        RETURNN's LinearLayer on sparse input."""
        if x is not None and x.sparse:
            if self.dropout:
                raise NetcError("dropout on class indices is not supported", at("dropout"),
                                "put the dropout on the next layer")
            x = TensorType((*x.dims, feature_dim(x.feature)))
        return super().out_type(x, env, at)

    def out_feature_name(self, x: TensorType) -> str | None:
        return f"{LAYER}:feature-dense"  # RETURNN LinearLayer (and SoftmaxLayer) make a new feature dim so

    def out_feature(self, in_feature: int, env: ShapeEnv, at: At) -> int:
        if self.loss is not None:
            blank = " + 1 (the CTC blank)" if self.loss is Loss.CTC else ""
            return matching_n_out(self.n_out, self.loss.output_dim(env.target_dim()), at,
                                  f"the dim of target {self.target!r}{blank}")
        if self.n_out is None and self.defaults_to_target:
            return matching_n_out(self.n_out, env.target_dim(), at, f"the dim of target {self.target!r}")
        if self.n_out is None:
            raise NetcError("n_out is required", at("n_out"),
                            "set n_out, or give the layer a loss so its target sets it")
        return self.n_out

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        shapes = {"W": (n_out, n_in) if self.use_transposed_weights else (n_in, n_out)}
        if self.with_bias:
            shapes["b"] = (n_out,)
        return shapes

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        return {"W": math.sqrt(6.0 / (n_in + n_out))}

    defaults_to_target: ClassVar[bool] = False


@dataclass(frozen=True)
class Linear(Affine):
    """act(x W + b). Aliases: hidden, forward (TensorFlow semantics: identity by default)."""

    activation: Act = Act.IDENTITY

    class_name: ClassVar[str] = "linear"
    aliases: ClassVar[tuple[str, ...]] = ("hidden", "forward")


@dataclass(frozen=True)
class Softmax(Affine):
    """softmax(x W + b) over features; n_out defaults to the target's dim."""

    class_name: ClassVar[str] = "softmax"
    defaults_to_target: ClassVar[bool] = True
