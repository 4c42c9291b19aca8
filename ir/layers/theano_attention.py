"""RETURNN Theano's `"recurrent_transform": "attention_list"` of a decoder `rec` layer (docs/netdict.md, "Theano
attention: recurrent_transform attention_list").

The source is RETURNN 1.20190515.205601 (its last release with Theano code): `RecurrentTransform.py`
`AttentionBase`/`AttentionList` and `NetworkRecurrentLayer.py` `RecurrentUnitLayer`/`LSTME`. Theano reads the
options as flat layer keys (`recurrent_transform`, `attention_template`, ...); netc reads them all into one
frozen `TheanoAttention` (the `rec` layer's field `theano_attention`), so every key is typed and located.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from netc.ir.errors import NetcError, Where, did_you_mean
from netc.ir.types import ConfigEnum

TRANSFORM = "attention_list"
SUFFIX = "_attention_list"  # RecurrentTransformBase.add_param: layer.add_param(v, v.name + "_" + self.name)


class Distance(ConfigEnum):
    """`attention_distance` (RecurrentTransform.py AttentionBase.distance, lines 331-357)."""

    L2 = "l2"
    LOGL2 = "logl2"
    SQR = "sqr"
    DOT = "dot"
    L1 = "l1"
    COS = "cos"
    TRANSPOSE = "transpose"


class Norm(ConfigEnum):
    """`attention_norm` (RecurrentTransform.py AttentionBase.softmax, lines 390-421)."""

    EXP = "exp"
    LINEAR = "linear"
    SIGMOID = "sigmoid"


# Theano values netc refuses, and why (what Theano itself does with them)
REFUSED_VALUES = {
    ("distance", "rnn"): "Theano's rnn distance (RecurrentTransform.py lines 350-352) returns the last state of a scan "
                         "over the encoder frames, [B, template], where a distance per frame [T, B] belongs; "
                         "its attention weights are then ill-shaped",
    ("norm", "lstm"): "Theano's lstm norm (RecurrentTransform.py line 404) reads the parameter N_re, which "
                      "create_vars makes only for norm 'RNN' (line 272): it fails with an AttributeError",
    ("norm", "rnn"): "Theano's norm 'RNN' makes parameters (RecurrentTransform.py lines 272-278) but its softmax "
                     "raises NotImplementedError (line 416)",
}
TRANSFORMS = ("none", "attention_list", "attention_align", "attention_segment", "attention_time",
              "attention_tree", "attention_bin", "attention_time_gauss", "attention_inverted", "attention_test",
              "input", "lm", "batch_norm", "dummy", "dynamic")

# Theano's RecurrentUnitLayer options (NetworkRecurrentLayer.py lines 488-523) netc does not implement, with their
# Theano defaults: written with the default they are accepted, with another value refused naming what they do.
NOT_IMPLEMENTED = {
    "attention": ("none", "an attention of the old Theano decoder, unused by attention_list"),
    "recurrent_transform_attribs": ("{}", "extra arguments of a recurrent transform"),
    "attention_beam": (0, "a window of frames around the expected position (AttentionList.get, lines 550-556)"),
    "attention_momentum": ("none", "conv1d/conv2d/mono terms on the previous weights (lines 561-569, 582-597)"),
    "attention_store": (False, "keeps the weights as a state (an output of the layer, not of the decoder)"),
    "attention_smooth": (False, "a monotonicity cost on the weights (AttentionList.cost, line 631)"),
    "attention_filters": (1, "the filters of attention_momentum"),
    "attention_accumulator": ("sum", "'rnn': an ELU recurrence over the weighted encoder frames (lines 611-617)"),
    "attention_loss": (0, "a cost on given alignments (lines 623-624)"),
    "attention_bn": (0, "batch normalization of the projected encoder (line 497)"),
    "attention_lm": ("none", "a language model on the previous output (AttentionBase.step, lines 314-326)"),
    "attention_ndec": (1, "Theano computes it and discards the result (AttentionList.attend, line 626)"),
    "attention_memory": (0, "a memory of template vectors (lines 603-610)"),
    "attention_step": ("linear", "an option of other transforms; attention_list does not read it"),
    "attention_alnpts": (0, "attention_segment only"),
    "attention_epoch": (1, "attention_segment only"),
    "attention_segstep": (0.01, "attention_segment only"),
    "attention_offset": (0.95, "attention_segment only"),
    "attention_method": ("epoch", "attention_segment only"),
    "attention_scale": (10, "attention_segment only"),
}


@dataclass(frozen=True)
class TheanoAttention:
    """attention_list's options (RecurrentUnitLayer defaults) and, after typing, the bases' feature dims.

    `base` empty means the decoder's `encoder` layers (NetworkRecurrentLayer.py lines 659-662: `base = encoder`).
    """

    base: tuple[str, ...] = ()
    template: int = 128
    distance: Distance = Distance.L2
    norm: Norm = Norm.EXP
    sharpening: float = 1.0
    nbest: int = 0
    glimpse: int = 1
    base_dims: tuple[int, ...] = ()  # filled by `with_base_dims` from the bases' types; never a config key

    @property
    def glimpses(self) -> int:
        """How often each base is attended per step: `n_glm = max(attrs['glimpse'], 1)` (line 307)."""
        return max(self.glimpse, 1)

    def with_base_dims(self, feature: Callable[[str], int], encoder: tuple[str, ...]) -> TheanoAttention:
        """This attention with its bases named (the encoders where `base` is unset) and their feature dims."""
        base = self.base or encoder
        return replace(self, base=base, base_dims=tuple(feature(b) for b in base))

    def param_shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        """The parameters attention_list adds to a decoder of `n` cells, named as Theano's layer has them
        (AttentionList.create_vars, RecurrentTransform.py lines 479-538), in use only: `W_att_re`/`b_att_re` map
        the decoder output to the template where `template != n` (line 557), `W_att_bs`/`b_att_bs` a base whose
        dim is not the template (lines 491-495), `W_att_in`/`b_att_in` the attended base to the 4n gate inputs
        (line 509), `W_T` the transpose distance's vector (lines 284-288). Requires `with_base_dims`."""
        k = self.template
        shapes: dict[str, tuple[int, ...]] = {}
        for i, dim in enumerate(self.base_dims):
            if k != n:
                shapes |= {f"W_att_re_{i}{SUFFIX}": (n, k), f"b_att_re_{i}{SUFFIX}": (k,)}
            if dim != k:
                shapes |= {f"W_att_bs_{i}{SUFFIX}": (dim, k), f"b_att_bs_{i}{SUFFIX}": (k,)}
            shapes |= {f"W_att_in_{i}{SUFFIX}": (dim, 4 * n), f"b_att_in_{i}{SUFFIX}": (4 * n,)}
        if self.distance is Distance.TRANSPOSE:
            shapes[f"W_T{SUFFIX}"] = (k,)
        return shapes

    def param_init_limits(self, n: int) -> dict[str, float]:
        """Theano's uniform limits: `sqrt(6) / sqrt(rows + cols)` (create_weights, line 475), `W_T`
        `sqrt(6) / sqrt(2 * template)` (line 286); biases start at 0 (create_bias, line 470)."""
        limits = {name: math.sqrt(6.0) / math.sqrt(sum(shape)) for name, shape in self.param_shapes(n).items()
                  if name.startswith("W_att")}
        if self.distance is Distance.TRANSPOSE:
            limits[f"W_T{SUFFIX}"] = math.sqrt(6.0) / math.sqrt(2 * self.template)
        return limits

    def note(self) -> str:
        """What `netc check` says of the attention."""
        return (f"attention_list over {','.join(self.base)} (template {self.template}, {self.distance.value}, "
                f"{self.norm.value}" + (f", nbest {self.nbest}" if self.nbest else "")
                + (f", {self.glimpses} glimpses" if self.glimpses > 1 else "") + ")")

    def plain(self) -> dict[str, Any]:
        """The flat Theano keys, as a config writes them (canonical net dicts)."""
        return {"recurrent_transform": TRANSFORM, "base": list(self.base), "attention_template": self.template,
                "attention_distance": self.distance.value, "attention_norm": self.norm.value,
                "attention_sharpening": self.sharpening, "attention_nbest": self.nbest,
                "attention_glimpse": self.glimpse}


FIELDS = {"base": "base", "attention_template": "template", "attention_distance": "distance",  # key -> field
          "attention_norm": "norm", "attention_sharpening": "sharpening", "attention_nbest": "nbest",
          "attention_glimpse": "glimpse"}


def read_theano_attention(options: dict[str, Any], at: Callable[[str], Where]) -> TheanoAttention | None:
    """The `recurrent_transform`/`attention*` keys of a `rec` layer (and `base`) as a TheanoAttention; None for
    `recurrent_transform` none (or unset) without any attention option. Every key netc does not implement is a
    located error naming it; so is an attention option without `recurrent_transform: attention_list` (Theano
    ignores it there)."""
    transform = options.get("recurrent_transform", "none")
    if transform not in ("none", TRANSFORM):
        hint = (f"netc implements {TRANSFORM!r}" if transform in TRANSFORMS
                else did_you_mean(str(transform), list(TRANSFORMS)))
        raise NetcError(f"recurrent_transform {transform!r} is not supported", at("recurrent_transform"), hint)
    values: dict[str, Any] = {}
    for key, value in options.items():
        if key == "recurrent_transform":
            continue
        if key in NOT_IMPLEMENTED:
            check_default(key, value, at(key))
            continue
        if key not in FIELDS:
            raise NetcError("unknown option", at(key), did_you_mean(key, [*FIELDS, *NOT_IMPLEMENTED]))
        if transform == "none":
            if key == "base":
                raise NetcError("base without recurrent_transform: Theano's base is the attention's list of layers",
                                at(key), f'add "recurrent_transform": "{TRANSFORM}", or remove base')
            raise NetcError(f"{key} without recurrent_transform {TRANSFORM!r}: Theano ignores it", at(key),
                            f'add "recurrent_transform": "{TRANSFORM}", or remove {key}')
        values[FIELDS[key]] = read_value(FIELDS[key], value, at(key))
    if transform == "none":
        return None
    attention = TheanoAttention(**values)
    check_attention(attention, {v: at(k) for k, v in FIELDS.items()})
    return attention


def check_default(key: str, value: Any, at: Where) -> None:
    """A Theano option netc does not implement: accepted at Theano's default only."""
    default, meaning = NOT_IMPLEMENTED[key]
    if value == default and type(value) is type(default) or key == "recurrent_transform_attribs" and value == {}:
        return
    raise NetcError(f"RETURNN Theano's option {key!r} ({meaning}) is not implemented by netc", at,
                    f"remove {key} (netc implements base, attention_template, attention_distance, attention_norm, "
                    "attention_sharpening, attention_nbest, attention_glimpse)")


def read_value(field: str, value: Any, at: Where) -> Any:
    """One attention option, typed; the Theano values netc refuses say why."""
    if field == "base":  # Theano's Network.py lines 331-344: a list, or a string split at commas; "data" the input
        value = value.split(",") if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
            raise NetcError(f"base must be a layer name or a non-empty list of them, got {value!r}", at,
                            'write "base": ["encoder_layer"]')
        return tuple(value)
    if field in ("distance", "norm"):
        enum = Distance if field == "distance" else Norm
        if not isinstance(value, str):
            raise NetcError(f"unknown value {value!r}", at, "use one of " + ", ".join(enum.known()))
        word = value.lower() if field == "norm" else value
        if (field, word) in REFUSED_VALUES:
            raise NetcError(f"attention_{field} {value!r} is not supported: {REFUSED_VALUES[field, word]}", at,
                            "use one of " + ", ".join(enum.known()))
        if value not in enum.known():  # Theano compares case-sensitively
            raise NetcError(f"unknown value {value!r}", at, enum.hint(value))
        return enum.from_config(value)
    if field == "sharpening":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise NetcError(f"expected a finite number, got {value!r}", at)
        return float(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise NetcError(f"expected a whole number, got {value!r}", at)
    return value


def check_attention(attention: TheanoAttention, at: dict[str, Where]) -> None:
    """Values Theano would fail on, or that make no attention."""
    if not 1 <= attention.template <= 1 << 20:
        raise NetcError("attention_template must be between 1 and 2**20", at["template"],
                        f"got {attention.template}")
    if attention.nbest < 0:
        raise NetcError("attention_nbest must be >= 0 (0: all frames, 1: the best frame, k: the k best)",
                        at["nbest"], f"got {attention.nbest}")
    if not 0 <= attention.glimpse <= 64:
        raise NetcError("attention_glimpse must be between 0 and 64 (Theano attends max(glimpse, 1) times)",
                        at["glimpse"], f"got {attention.glimpse}")
