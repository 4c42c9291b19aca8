"""Options every layer has (ir/layers/base.py declares the fields) with readers or checks of their own: RETURNN's
`reuse_params` and `batch_norm`, the training-only regularizers and `_ConcatInputLayer`'s dropout options."""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any

from netc.ir.errors import NetcError
from netc.ir.types import Act, DropoutNoise

if typing.TYPE_CHECKING:
    from netc.ir.layers.base import At, Layer


REUSE_HINT = ('write "reuse_params": "layer", or {"map": {"W": "layer", "b": null}} (null: the layer\'s own '
              'parameter)')


@dataclass(frozen=True)
class ReuseParams:
    """RETURNN's `reuse_params` (returnn/tf/layers/base.py ReuseParams): parameters taken from other layers.

    `layer` (a string, or `reuse_layer`) shares every parameter of that layer by its name below the layer
    (`W`, `rec/W`); `map` names a layer per parameter (None: the layer's own parameter). With a map and without
    `auto_create_missing`, every parameter must be in the map, as RETURNN asserts.
    """

    layer: str | None = None
    map: tuple[tuple[str, str | None], ...] = ()
    auto_create_missing: bool = False
    has_map: bool = False

    @classmethod
    def from_config(cls, value: Any) -> ReuseParams | None:
        if not value:  # RETURNN: no sharing
            return None
        if isinstance(value, str):
            return cls(value)
        if not isinstance(value, dict):
            raise ValueError(REUSE_HINT)
        unknown = set(value) - {"reuse_layer", "map", "auto_create_missing"}
        if unknown:
            raise ValueError(f"reuse_params {sorted(unknown)[0]!r} (a custom getter or another layer's output as a "
                             f"parameter) is not supported; {REUSE_HINT}")
        layer, entries = value.get("reuse_layer"), value.get("map")
        if layer is not None and not isinstance(layer, str) or entries is not None and not isinstance(entries, dict):
            raise ValueError(REUSE_HINT)
        auto = value.get("auto_create_missing", False)
        if not isinstance(auto, bool):
            raise ValueError("auto_create_missing is true or false")
        return cls(layer, tuple((str(k), map_entry(v)) for k, v in (entries or {}).items()), auto,
                   entries is not None)

    def owner(self, param: str) -> str | None:
        """The layer whose parameter `param` (e.g. `W`) this layer uses; None: its own."""
        entries = dict(self.map)
        if param in entries:
            return entries[param]
        if self.has_map and not self.auto_create_missing and self.layer is None:
            raise ValueError(f"parameter {param!r} is not in the map (RETURNN asserts it)")
        return self.layer

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer named, in order, once."""
        names = [self.layer] + [v for _, v in self.map]
        return tuple(dict.fromkeys(n for n in names if n is not None))

    def plain(self) -> Any:
        if not self.has_map and not self.auto_create_missing:
            return self.layer
        return {"reuse_layer": self.layer, "map": dict(self.map), "auto_create_missing": self.auto_create_missing}


def map_entry(value: Any) -> str | None:
    """One value of reuse_params' map: a layer name, None (own parameter), or {"reuse_layer": name}."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) <= {"reuse_layer"} and isinstance(value.get("reuse_layer"), str):
        return value["reuse_layer"]
    if isinstance(value, dict) and set(value) == {"auto_create_missing"} and value["auto_create_missing"] is True:
        return None
    raise ValueError(f"map entry {value!r}: only a layer name, null or {{\"reuse_layer\": name}} is supported "
                     "(a custom getter or another layer's output as a parameter is not)")


BATCH_NORM_KEYS = ("use_shift", "use_std", "momentum", "epsilon", "param_version", "masked_time",
                   "update_sample_only_in_training", "delay_sample_update", "use_sample")


@dataclass(frozen=True)
class BatchNormOption:
    """RETURNN's `batch_norm` option of every layer (`LayerBase.batch_norm` on the layer's output): true, or a dict
    of its options; the normalization is a `batch_norm` layer's (ir/layers/norm.py), its parameters named
    `<layer>/batch_norm/...` as RETURNN's."""

    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_config(cls, value: Any) -> BatchNormOption | None:
        if value is False:
            return None
        if value is True:
            return cls()
        if not isinstance(value, dict):
            raise ValueError('batch_norm is true, false or a dict of batch_norm options, e.g. {"momentum": 0.1}')
        unknown = [k for k in value if k not in BATCH_NORM_KEYS]
        if unknown:
            raise ValueError(f"batch_norm option {unknown[0]!r} is not supported; netc knows "
                             + ", ".join(BATCH_NORM_KEYS))
        return cls(tuple(value.items()))

    def layer(self, at: At, source: str) -> Layer:
        """The batch_norm layer reading `source` that normalizes the output (its options read and checked as that
        layer's, errors located at the option)."""
        from netc.ir.layers.base import read_layer
        from netc.ir.layers.norm import BatchNorm

        return read_layer(BatchNorm, {"from": source, **dict(self.options)}, lambda key: at("batch_norm"))

    def plain(self) -> Any:
        return dict(self.options) or True


def smoothing_grid(dim: int) -> tuple[int, int] | None:
    """(h, w) of returnn/tf/util/basic.py spatial_smoothing_energy: w the largest divisor <= sqrt(dim); None where
    h or w is below 3."""
    w = math.isqrt(dim)
    while w > 0 and dim % w:
        w -= 1
    return (dim // w, w) if w >= 3 and dim // w >= 3 else None


def check_dropout_options(layer: Layer, at: At) -> None:
    """`dropout_axis`, `dropout_on_forward`, `mask` of RETURNN's `_ConcatInputLayer`, where they change nothing."""
    if layer.dropout_on_forward:
        raise NetcError("dropout_on_forward (dropout also in inference) is not supported: netc's compiled models "
                        "are deterministic", at("dropout_on_forward"), "remove dropout_on_forward")
    if layer.dropout_axis is not None and [a.lower() for a in layer.dropout_axis] not in (["f"], ["feature"]):
        raise NetcError(f"dropout_axis {list(layer.dropout_axis)} is not supported", at("dropout_axis"),
                        'netc draws one mask per feature (dropout_axis "F", the default); remove dropout_axis')
    if layer.dropout_axis is not None and layer.dropout_noise_shape is not DropoutNoise.PER_FEATURE:
        raise NetcError("dropout_axis and dropout_noise_shape together (RETURNN asserts one)", at("dropout_axis"),
                        "keep one of them")
    if layer.mask not in (None, "dropout", "unity"):
        raise NetcError(f"invalid mask {layer.mask!r}", at("mask"), 'RETURNN accepts "dropout", "unity" or null')
    if layer.mask == "unity" and layer.dropout or layer.mask == "dropout" and not layer.dropout:
        raise NetcError(f"mask {layer.mask!r} with dropout {layer.dropout} (RETURNN asserts "
                        + ("no dropout" if layer.mask == "unity" else "dropout > 0") + ")", at("mask"),
                        "remove mask: it is obsolete")


def check_training_options(layer: Layer, at: At) -> None:
    """The training-only regularizers of `LayerBase.__init__` as RETURNN would accept them."""
    for key in ("spatial_smoothing", "darc1", "param_variational_noise"):
        if getattr(layer, key) < 0:
            raise NetcError(f"{key} must be >= 0", at(key), f"got {getattr(layer, key)}")
    if not 0.0 <= layer.param_dropout < 1.0:
        raise NetcError("param_dropout must be in [0, 1)", at("param_dropout"), f"got {layer.param_dropout}")
    from netc.ir.layers.linear import Affine

    if layer.darc1 and not darc1_on_output(layer) and not isinstance(layer, Affine):
        raise NetcError(f"darc1 on layer class {layer.class_name!r} with an activation is not supported", at("darc1"),
                        "netc takes darc1 before the activation of linear and softmax, and on the output of layers "
                        "without an activation")


def darc1_on_output(layer: Layer) -> bool:
    """Whether RETURNN's darc1 reads this layer's output itself: it has no activation (no
    `output_before_activation`); linear and softmax keep theirs (trainer/lower.py)."""
    return getattr(layer, "activation", None) in (None, Act.IDENTITY) and not hasattr(layer, "gate_activation")
