"""`variable` (returnn/tf/layers/variable.py VariableLayer): a trainable parameter tensor of a static `shape`.

The parameter is `<layer>/<layer>` (RETURNN's `param_name` defaults to the layer's name, created in the layer's
scope), of shape `shape`. `add_time_axis` puts a static axis of size 1 in front (RETURNN's dummy time dim of
dimension 1: static, so netc types it as a spatial axis), `add_batch_axis` the batch in front of that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import MAX_DIM, At, Layer, ShapeEnv
from netc.ir.types import BATCH, LAYER, TensorType, feature_dim, spatial_dim

INIT_HINT = 'use a number (a constant), "zeros", "ones" or "glorot_uniform"'


@dataclass(frozen=True)
class VarInit:
    """`init` as RETURNN's `get_initializer` reads the forms netc supports: a number, or glorot_uniform."""

    value: float | None = 0.0  # None: glorot_uniform
    written: Any = 0

    @classmethod
    def from_config(cls, value: Any) -> VarInit:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return cls(float(value), value)
        named = {"zeros": 0.0, "zeros_initializer": 0.0, "ones": 1.0, "ones_initializer": 1.0,
                 "glorot_uniform": None, "glorot_uniform_initializer": None, "xavier": None}
        if isinstance(value, str) and value in named:
            return cls(named[value], value)
        raise ValueError(INIT_HINT + " (netc draws no other initializer, and never evaluates one)")

    def plain(self) -> Any:
        return self.written


def glorot_limit(shape: tuple[int, ...]) -> float:
    """TF's glorot_uniform limit, with TF's fans (`init_ops._compute_fans`)."""
    if not shape:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    else:
        field = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * field, shape[-1] * field
    return math.sqrt(6.0 / (fan_in + fan_out))


@dataclass(frozen=True)
class Variable(Layer):
    """A parameter `shape` (static), optionally with a size-1 axis and the batch in front; no input."""

    sources: tuple[str, ...] = ()
    shape: tuple[int, ...] | None = None
    dtype: str = "float32"
    add_batch_axis: bool = False
    add_time_axis: bool = False
    init: VarInit = VarInit()
    param_name: str | None = None

    class_name: ClassVar[str] = "variable"

    def check(self, at: At) -> None:
        if self.sources:
            raise NetcError("variable takes no input", at("from"), 'remove "from" (or write "from": [])')
        if self.shape is None:
            raise NetcError("'shape' is required", at("shape"), 'e.g. "shape": [5]')
        if any(not 1 <= d <= MAX_DIM for d in self.shape):
            raise NetcError(f"every dim of shape must be between 1 and {MAX_DIM}", at("shape"),
                            f"got {list(self.shape)}")
        if self.dtype != "float32":
            raise NetcError(f"variable dtype {self.dtype!r} is not supported", at("dtype"), "use float32")
        if self.param_name is not None and (not self.param_name or "/" in self.param_name):
            raise NetcError("param_name must be a non-empty name without '/'", at("param_name"))
        if self.L2 < 0:
            raise NetcError("L2 must be >= 0", at("L2"), f"got {self.L2}")
        if self.loss is not None:
            raise NetcError("a variable has no loss", at("loss"), "put the loss on a layer that reads it")

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        shape = self.shape or ()
        # RETURNN VariableLayer.get_out_data_from_opts: the tags "<layer>:static:<i>"
        dims = [spatial_dim(d, f"{LAYER}:static:{i}") for i, d in enumerate(shape[:-1])] + \
            [feature_dim(d, f"{LAYER}:static:{len(shape) - 1}") for d in shape[-1:]]
        if self.add_time_axis:
            dims.insert(0, spatial_dim(1))
        if self.add_batch_axis:
            dims.insert(0, BATCH)
        return TensorType(tuple(dims))

    def param_key(self, layer: str) -> str:
        """The parameter below the layer: RETURNN's `param_name`, else the layer's own (last) name."""
        return self.param_name or layer.rsplit("/", 1)[-1]

    def param_shapes_for(self, layer: str, x: TensorType | None, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return {self.param_key(layer): tuple(self.shape or ())}

    def param_init_limits_for(self, layer: str, n_in: int, n_out: int) -> dict[str, float]:
        return {self.param_key(layer): glorot_limit(tuple(self.shape or ()))} if self.init.value is None else {}

    def param_init_constants(self, layer: str) -> dict[str, float]:
        return {} if self.init.value in (None, 0.0) else {self.param_key(layer): self.init.value}
