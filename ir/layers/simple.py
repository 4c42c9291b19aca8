"""Parameter-free layers: `copy`, `activation`, `dropout`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.layers.base import At, Layer, ShapeEnv, check_n_out, matching_n_out, required
from netc.ir.types import Act, TensorType


@dataclass(frozen=True)
class PassThrough(Layer):
    """A layer whose output dim is its input dim; `n_out`, if given, must agree."""

    n_out: int | None = None

    def check(self, at: At) -> None:
        super().check(at)
        check_n_out(self.n_out, at)

    def out_feature(self, in_feature: int, env: ShapeEnv, at: At) -> int:
        return matching_n_out(self.n_out, in_feature, at, "the dim of its input")

    def out_feature_name(self, x: TensorType) -> str | None:
        return x.dims[-1].name  # RETURNN keeps the input's feature dim tag


@dataclass(frozen=True)
class Copy(PassThrough):
    """The (concatenated) sources unchanged; one source of any type (class indices, `[B, T]`, ...) as it is,
    as RETURNN's `CopyLayer` takes it."""

    class_name: ClassVar[str] = "copy"

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is not None and (x.sparse or x.feature_index is None) and self.n_out is None and len(self.sources) == 1:
            return x
        return super().out_type(x, env, at)


@dataclass(frozen=True)
class Activation(PassThrough):
    """act(x)."""

    activation: Act | None = None

    class_name: ClassVar[str] = "activation"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.activation, "activation", at, '"activation": "relu"')


@dataclass(frozen=True)
class Dropout(PassThrough):
    """Identity at inference; dropout (on its input) in training."""

    class_name: ClassVar[str] = "dropout"
