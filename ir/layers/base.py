"""The layer base class and the one generic reader from layer dicts to layer dataclasses."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from netc.ir.errors import NetcError, Where, did_you_mean
from netc.ir.layers.out_type import OutType
from netc.ir.layers.returnn_options import accepted_note, is_default, returnn_option
from netc.ir.layers.shared_options import (
    BatchNormOption,
    ReuseParams,
    check_dropout_options,
    check_training_options,
    smoothing_grid,
)
from netc.ir.types import BATCH, ConfigEnum, Derived, DropoutNoise, Loss, TensorType, feature_dim, spatial_dim

At = typing.Callable[[str], Where]  # where an option key of the layer stands in the input
INT32_MAX = (1 << 31) - 1
MAX_DIM = 1 << 20  # larger feature dims are refused before anything is allocated
NO_INPUT = ((), [], None, "null", "none", ["null"], ["none"])


class ShapeEnv(typing.Protocol):
    """What a shape rule may ask about the rest of the graph."""

    def target_dim(self) -> int:
        """The number of classes of the layer's target; an error if unknown."""

    def feature(self, layer: str) -> int:
        """The output feature dim of another (already typed) layer."""

    def type_of(self, layer: str) -> TensorType:
        """The output type of another (already typed) layer."""

    @property
    def in_unit(self) -> bool:
        """Whether the layer is typed per step inside a rec unit (ir/loop.py): its input has no loop time axis."""


@dataclass(frozen=True)
class CtcOpts:
    """`loss_opts.ctc_opts`: what RETURNN's `CtcLoss` passes on to TensorFlow's `ctc_loss` (or its native one)."""

    ignore_longer_outputs_than_inputs: bool = False  # such sequences get loss 0 and no gradient
    blank_index: int | None = None  # only with use_native (TF's ctc_loss has none); None: the last label

    unsupported: ClassVar[dict[str, str]] = {
        "preprocess_collapse_repeated": "netc trains on the targets as they are",
        "ctc_merge_repeated": "netc's CTC always merges repeated labels (TensorFlow's default)",
        "label_loop": "netc's CTC always merges repeated labels",
        "zero_infinity": "see ignore_longer_outputs_than_inputs",
    }


LOSS_OPTS_HINT = ("remove it; netc implements scale and use_normalized_loss, label_smoothing, focal_loss_factor "
                  "and use_fused (ce), beam_width, use_native and ctc_opts (ctc)")


@dataclass(frozen=True)
class LossOpts:
    """Per-layer loss options (RETURNN `loss_opts`: `Loss`, `CrossEntropyLoss` and `CtcLoss` arguments)."""

    use_normalized_loss: bool | None = None
    scale: float = 1.0  # the objective's factor; scale 0 leaves the loss out of it (the score still reports it)
    label_smoothing: float = 0.0  # ce
    focal_loss_factor: float = 0.0  # ce
    use_fused: bool = True  # ce: False -> -log(max(p_target, 1e-20)) from the softmax output, not log_softmax
    beam_width: int = 100  # ctc: TF's beam search for the dev error; 1: best path
    use_native: bool = False  # ctc: RETURNN's own CTC (allows empty targets; needs beam_width 1)
    ctc_opts: CtcOpts = CtcOpts()  # ctc

    # RETURNN options netc lacks: an error naming them, never ignored.
    unsupported: ClassVar[dict[str, str]] = {key: LOSS_OPTS_HINT for key in (
        "label_smoothing_gaussian", "input_type", "safe_log_opts", "fake_upper_bound", "debug_dump",
        "custom_norm_factor", "custom_inv_norm_factor", "use_flatten_frames", "target_collapse_repeated",
        "auto_clip_target_len", "output_in_log_space", "use_viterbi")}
    # their RETURNN defaults (Loss, CrossEntropyLoss, CtcLoss __init__): written out, they change nothing
    defaults: ClassVar[dict[str, tuple[Any, ...]]] = {
        "label_smoothing_gaussian": (False,), "input_type": ("prob",), "safe_log_opts": (None, {}),
        "fake_upper_bound": (None,), "debug_dump": (False,), "custom_norm_factor": (None,),
        "custom_inv_norm_factor": (None,), "use_flatten_frames": (True,), "target_collapse_repeated": (False,),
        "auto_clip_target_len": (False,), "output_in_log_space": (False,), "use_viterbi": (False,)}
    ONLY_FOR: ClassVar[dict[str, Loss]] = {"label_smoothing": Loss.CE, "focal_loss_factor": Loss.CE,
                                           "use_fused": Loss.CE,
                                           "beam_width": Loss.CTC, "use_native": Loss.CTC, "ctc_opts": Loss.CTC}

    def check(self, loss: Loss, at: Where) -> None:
        """Options of the other loss class, and values RETURNN (or TensorFlow) would refuse at run time."""
        for key, owner in self.ONLY_FOR.items():
            if owner is not loss and getattr(self, key) != getattr(LossOpts, key):
                raise NetcError(f"loss_opts {key!r} is an option of loss {owner.value!r}, not {loss.value!r}", at,
                                f"remove {key!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise NetcError("label_smoothing must be in [0, 1)", at, f"got {self.label_smoothing}")
        if self.focal_loss_factor < 0 or self.beam_width < 1:
            raise NetcError("focal_loss_factor must be >= 0 and beam_width >= 1", at)
        if self.use_native and self.beam_width > 1:
            raise NetcError("use_native needs beam_width 1 (RETURNN asserts it: its native CTC decodes by best path)",
                            at, 'add "beam_width": 1')
        if self.use_native and self.ctc_opts.ignore_longer_outputs_than_inputs:
            raise NetcError("ignore_longer_outputs_than_inputs is an option of TensorFlow's CTC, not of use_native",
                            at, "remove one of them")
        if not self.use_native and self.ctc_opts.blank_index is not None:
            raise NetcError("blank_index needs use_native (TensorFlow's CTC takes the last label as blank)", at,
                            'add "use_native": true and "beam_width": 1, or remove blank_index')


@dataclass(frozen=True)
class Layer:
    """Options every layer accepts. Field = config key, type = validation, default = default."""

    sources: tuple[str, ...] = ("data",)  # config key "from"
    dropout: float = 0.0
    dropout_noise_shape: DropoutNoise = DropoutNoise.PER_FEATURE
    dropout_axis: tuple[str, ...] | None = None  # the axes the mask varies along: only the feature axis (default)
    dropout_on_forward: bool = False  # true (dropout also in inference) is refused
    mask: str | None = None  # RETURNN's obsolete "dropout"/"unity", checked against dropout as RETURNN does
    L2: float = 0.0
    loss: Loss | None = None
    loss_opts: LossOpts = LossOpts()
    loss_scale: float = 1.0  # RETURNN's older spelling of loss_opts.scale
    loss_only_on_non_search: bool = False  # drops the loss in search (never in training, so a no-op here)
    target: str = "classes"
    is_output_layer: bool = False
    only_on_eval: bool = False  # accepted without a loss: computing the layer in training too changes no number
    trainable: bool = True  # false: the optimizer never changes the layer's parameters (RETURNN: nor a subnetwork's)
    reuse_params: ReuseParams | None = None  # parameters shared with other layers (ir/params.py param_name)
    declared_type: OutType | None = None  # config key "out_type": checked against the inferred type
    batch_norm: BatchNormOption | None = None  # the output normalized as by a batch_norm layer after this one
    # training only (trainer/constraints.py): terms added to the objective, noise and dropout on parameters
    spatial_smoothing: float = 0.0  # x spatial_smoothing_energy of the output, summed over frames
    darc1: float = 0.0  # x max over features of the sum over frames of |output before activation|
    param_variational_noise: float = 0.0  # stddev of Gaussian noise added to each parameter in each step
    param_dropout: float = 0.0  # dropout on the parameters (of at least param_dropout_min_ndim dims)
    param_dropout_min_ndim: int = 0

    class_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    concatenates: ClassVar[bool] = True  # False: each source is an operand (combine, eval)
    # options naming another layer, which RETURNN's `transform_config_dict` resolves with `get_layer`
    # (in a subnetwork: a sibling, or `base:` the enclosing network's); ir/build.py checks they exist
    layer_keys: ClassVar[tuple[str, ...]] = ()
    # keys besides NOT_SUPPORTED_PREFIXES' that `read_grouped` reads (Rec: Theano's attention `base`)
    grouped_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def read_grouped(cls, options: dict[str, Any], where_of: typing.Callable[[str], Where]) -> dict[str, Any]:
        """Field values from RETURNN Theano's flat `recurrent_transform`/`attention*` keys (one option struct);
        classes without that struct refuse the first such key."""
        key = next(iter(options))
        raise NetcError("attention (Theano recurrent_transform) belongs to a decoder rec layer", where_of(key),
                        f"remove {key!r}; a rec layer with 'encoder' takes recurrent_transform attention_list")

    def check(self, at: At) -> None:
        """Validate option values against each other; raise NetcError located at the key."""
        if not 0.0 <= self.dropout < 1.0:
            raise NetcError("dropout must be in [0, 1)", at("dropout"), f"got {self.dropout}")
        if self.L2 < 0:
            raise NetcError("L2 must be >= 0", at("L2"), f"got {self.L2}")
        check_training_options(self, at)
        check_dropout_options(self, at)
        if self.batch_norm is not None:
            self.batch_norm.layer(at, "data")
            if self.loss is Loss.CE and (not self.loss_opts.use_fused or self.loss_opts.focal_loss_factor):
                raise NetcError("loss ce with use_fused false or focal_loss_factor reads this layer's output, which "
                                "the batch_norm option normalizes (RETURNN's post_init); netc computes ce from the "
                                "logits, as RETURNN's fused ce does", at("batch_norm"),
                                "remove batch_norm, or keep the default fused ce without focal_loss_factor")
        check_loss(self, at)
        if self.only_on_eval and self.loss is not None:
            raise NetcError("only_on_eval with a loss: RETURNN computes this loss only in evaluation, netc would "
                            "train on it", at("only_on_eval"),
                            "remove the loss (it only reports a score in RETURNN), or remove only_on_eval")
        if not self.sources and not self.is_decoder:
            raise NetcError("this layer has no input; only a decoder (a rec layer with 'encoder') may have none",
                            at("from"), 'remove "from" to read "data", or name a source layer')

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        """The shape rule: the output type from the type of the concatenated sources (None: no input).

        The default is a per-frame layer: every dim stays, the feature dim becomes `out_feature`.
        """
        if x is None or x.sparse or x.feature_index is None:
            got = "no input" if x is None else f"input {x}"
            raise NetcError(f"{self.class_name} needs an input with a feature dim, got {got}", at("from"),
                            "give it a dense source whose last dim is a feature dim")
        if x.feature_index != len(x.dims) - 1:
            raise NetcError(f"{self.class_name} works on the last axis, but the feature dim of {x} is not last",
                            at("from"), "swap_axes the feature dim back to the end")
        t = x.with_feature(self.out_feature(x.feature, env, at))
        feature = t.dims[-1].named(self.out_feature_name(x))
        return t.with_dims(t.dims[:-1] + (feature,))

    def own_type(self, env: ShapeEnv, at: At) -> TensorType | None:
        """The output type when it follows from the options alone (a cell's `[B, n_out]`), whatever the inputs:
        what a rec unit's typing takes for a layer whose inputs wait on it through `prev:`; None otherwise.
        A declared `out_type` with a static shape gives it (RETURNN builds the layer's template from it)."""
        declared = self.declared_type
        if declared is None or declared.shape is None or None in declared.shape or declared.sparse:
            return None
        sizes = typing.cast(tuple[int, ...], declared.shape)
        dims = tuple(spatial_dim(s) for s in sizes[:-1]) + tuple(feature_dim(s) for s in sizes[-1:])
        return TensorType((BATCH, *dims), declared.dtype or "float32")

    def out_feature_name(self, x: TensorType) -> str | None:
        """RETURNN's tag description of a per-frame layer's output feature dim (`LAYER` for the layer's name);
        None where netc does not know it."""
        return None

    def checked_type(self, t: TensorType, at: At) -> TensorType:
        """The inferred type `t`, which must agree with a declared `out_type` (RETURNN would build the layer with
        the declared one; netc computes what it infers, so a contradiction is an error)."""
        wrong = self.declared_type.mismatch(t) if self.declared_type else None
        if wrong:
            raise NetcError(f"out_type declares {wrong}", at("out_type"),
                            "remove out_type (netc infers the type; netc check prints it), or correct it")
        if self.batch_norm is not None and (t.sparse or t.dtype != "float32" or t.feature_index is None):
            raise NetcError(f"the batch_norm option normalizes a float output's feature dim, and this layer's output "
                            f"is {t}" + (f" {t.dtype}" if t.dtype != "float32" and not t.sparse else "")
                            + (" (RETURNN fails building it: its batch_norm subtracts a float mean from the output)"
                               if t.sparse or t.dtype != "float32" else ": it has no feature dim to normalize"),
                            at("batch_norm"), "remove batch_norm, or put it on a layer with a float feature dim")
        for dim in t.dims:
            if isinstance(dim.lengths, Derived) and not fits_int32(dim.lengths):
                raise NetcError(f"the lengths of {dim} ({dim.lengths.rule}) take numbers beyond int32, in which every "
                                "backend computes lengths", at("class"),
                                "an option of this layer (a size, stride, dilation, padding, slice or factor) is far "
                                "too large; keep it below 2**31 / the other factors")
        for key in ("spatial_smoothing", "darc1"):
            if getattr(self, key) and (not t.is_seq or t.sparse):
                raise NetcError(f"{key} needs an output [B, T, F], got {t}", at(key), f"remove {key}")
        if self.spatial_smoothing and smoothing_grid(t.feature) is None:
            raise NetcError(f"spatial_smoothing views the {t.feature} features as a grid of at least 3 x 3, and "
                            f"{t.feature} has none (RETURNN asserts 'too small')", at("spatial_smoothing"),
                            "remove spatial_smoothing")
        return t

    def out_feature(self, in_feature: int, env: ShapeEnv, at: At) -> int:
        """The output feature dim of a per-frame layer from its input feature dim."""
        raise NotImplementedError

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        """Parameter names (below the layer name) and shapes, in RETURNN TF layout."""
        return {}

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        """Glorot-uniform limits per parameter; parameters not listed start at zero."""
        return {}

    def param_init_limits_for(self, layer: str, n_in: int, n_out: int) -> dict[str, float]:
        """`param_init_limits` for layers whose parameter names need the layer's name (variable)."""
        return self.param_init_limits(n_in, n_out)

    def param_shapes_for(self, layer: str, x: TensorType | None, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        """`param_shapes` for layers whose names or shapes need the layer's name or input type (batch_norm)."""
        return self.param_shapes(n_in, n_out)

    def param_init_constants(self, layer: str) -> dict[str, float]:
        """Parameters that start at a constant other than 0 (layer_norm's scale: 1)."""
        return {}

    def non_trainable(self, layer: str) -> set[str]:
        """Parameters the optimizer never changes (batch_norm's running statistics)."""
        return set()

    def with_graph_dims(self, feature: typing.Callable[[str], int]) -> Layer:
        """This layer with what its parameters' shapes need from other layers' feature dims (typing calls it; a
        Theano attention's bases); itself for most layers."""
        return self

    @property
    def is_decoder(self) -> bool:
        return False

    @property
    def named_layers(self) -> tuple[str, ...]:
        """The layers its options other than `from` name (`layer_keys`, a cell's `initial_state`)."""
        return tuple(v for v in (getattr(self, key) for key in self.layer_keys) if isinstance(v, str) and v)

    @property
    def dependencies(self) -> tuple[str, ...]:
        """Layers that must be computed before this one (sources, encoders for decoders, layers whose parameters
        it reuses: RETURNN builds those first)."""
        return self.sources + (self.reuse_params.layers if self.reuse_params else ())


def fits_int32(axis: Derived) -> bool:
    """Whether the rules deriving `axis` (and its parents) have int32 constants, as the ONNX lengths use."""
    while isinstance(axis, Derived):
        if any(abs(v) > INT32_MAX for v in (axis.rule.add, axis.rule.stride, axis.rule.factor)):
            return False
        axis = axis.parent
    return True


def check_loss(layer: Layer, at: At) -> None:
    """Loss keys as RETURNN's `LayerBase.transform_config_dict` and the loss classes accept them."""
    if layer.loss is None:
        for key, default in (("loss_opts", LossOpts()), ("loss_scale", 1.0)):
            if getattr(layer, key) != default:
                raise NetcError(f"{key} without a loss", at(key), f'add "loss": "ce", or remove {key!r}')
        return
    if layer.loss_scale != 1.0 and layer.loss_opts.scale not in (1.0, layer.loss_scale):
        raise NetcError("loss_scale and loss_opts.scale differ", at("loss_scale"),
                        "RETURNN refuses both together unless equal; keep one")
    layer.loss_opts.check(layer.loss, at("loss_opts"))


def loss_scale(layer: Layer) -> float:
    """The factor of the layer's loss in the objective: `loss_scale`, else `loss_opts.scale`."""
    return layer.loss_scale if layer.loss_scale != 1.0 else layer.loss_opts.scale


def required(value: Any, key: str, at: At, example: str) -> None:
    """A located "'key' is required" error (hint: add e.g. `example`) when an option without default is unset."""
    if value is None or value == ():
        raise NetcError(f"'{key}' is required", at(key), f"add e.g. {example}")


def check_time_mask(use_time_mask: bool | None, at: At) -> None:
    """RETURNN's `use_time_mask` False (reduce, softmax_over_spatial) reads the padded frames; netc always masks."""
    if use_time_mask is False:
        raise NetcError("use_time_mask false reads padded frames; netc never does", at("use_time_mask"),
                        "remove use_time_mask")


def dense_float(x: TensorType | None, what: str, at: At, hint: str) -> TensorType:
    """`x` when it is a dense float32 tensor; else a NetcError at 'from': "`what`, got `x`"."""
    if x is None or x.sparse or x.dtype != "float32":
        raise NetcError(f"{what}, got {x}", at("from"), hint)
    return x


def check_n_out(n_out: int | None, at: At) -> None:
    """n_out, when given, is a positive dim small enough to allocate."""
    if n_out is not None and not 1 <= n_out <= MAX_DIM:
        raise NetcError(f"n_out must be between 1 and {MAX_DIM}", at("n_out"), f"got {n_out}")


def matching_n_out(n_out: int | None, got: int, at: At, why: str) -> int:
    """The layer's n_out, which must equal the dim its inputs give when it is set."""
    if n_out is not None and n_out != got:
        raise NetcError(f"n_out is {n_out}, but {why} is {got}", at("n_out"),
                        f"set n_out to {got} or remove it")
    return got


# ---------------------------------------------------------------- reading layer dicts

CONFIG_KEY = {"sources": "from", "declared_type": "out_type",  # field name -> config key, where they differ
              "theano_attention": "recurrent_transform"}  # Rec: Theano's flat attention keys, read by read_grouped
# options RETURNN reads as off when None (its default, or a falsy test), declared by netc with a plain value
NONE_IS_DEFAULT = ("dropout", "L2", "spatial_smoothing", "darc1", "param_variational_noise", "param_dropout",
                   "param_dropout_min_ndim", "is_output_layer", "only_on_eval")
FIELD_NAME = {v: k for k, v in CONFIG_KEY.items()}
NOT_SUPPORTED_PREFIXES = ("recurrent_transform", "attention")


def config_keys(cls: type[Layer]) -> list[str]:
    return [CONFIG_KEY.get(f.name, f.name) for f in dataclasses.fields(cls)]


def read_layer(cls: type[Layer], options: dict[str, Any], where_of: typing.Callable[[str], Where]) -> Layer:
    """Turn a layer dict (without `class`) into a validated layer dataclass."""
    hints = typing.get_type_hints(cls)
    known = config_keys(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # self_attention's attention_* options are its own fields
    grouped = {k: v for k, v in options.items()
               if k.startswith(NOT_SUPPORTED_PREFIXES) and k not in fields or k in cls.grouped_keys}
    values: dict[str, Any] = cls.read_grouped(grouped, where_of) if grouped else {}
    for key, value in options.items():
        at = where_of(key)
        if key in grouped:
            continue
        if key not in known and (is_default(cls.class_name, key, value) or accepted_note(cls.class_name, key, value)):
            continue  # said as a warning by build.read_node
        if value is None and (key in NONE_IS_DEFAULT or key in ("loss_scale", "loss_opts") and not options.get("loss")):
            continue  # RETURNN's default is None here; loss_scale/loss_opts: transform_config_dict drops them
        if key not in known:
            raise unknown_option(cls, key, known, at)
        name = FIELD_NAME.get(key, key)
        values[name] = parse_sources(value, at) if name == "sources" else coerce(value, hints[name], at)
    layer = cls(**values)
    layer.check(where_of)
    return layer


def unknown_option(cls: type[Layer], key: str, known: list[str], at: Where) -> NetcError:
    """A RETURNN option netc does not implement says so and what it means; any other key may be a typo."""
    returnn = returnn_option(cls.class_name, key)
    if returnn is None:
        return NetcError("unknown option", at, did_you_mean(key, known))
    meaning, hint = returnn
    return NetcError(f"RETURNN's option {key!r} ({meaning}) is not implemented by netc", at, hint)


def parse_sources(value: Any, at: At) -> tuple[str, ...]:
    """`from` in all its forms; the empty tuple means no input."""
    if isinstance(value, str):
        value = [value]
    if value in NO_INPUT:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise NetcError("'from' must be a layer name or a list of layer names", at,
                        'write "from": ["layer1", "layer2"]')
    return tuple("data" if v == "data:data" else v for v in value)


def union_member(value: Any, members: list[Any]) -> Any:
    """The member of a union of plain types (str, bool, int, float) that `value` is read as: its own type, an int
    as a float where only float is allowed; the first member otherwise (whose reader then names the error)."""
    kind = type(value)
    if kind is int and int not in members and float in members:
        kind = float
    return kind if kind in members else members[0]


def coerce(value: Any, tp: Any, at: At) -> Any:
    """Check and convert one option value to its declared field type."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        if value is None and type(None) in args:
            return None
        inners = [a for a in args if a is not type(None)]
        if len(inners) > 1:  # a layer name or a constant (switch's true_from): the value's own kind picks one
            return coerce(value, union_member(value, inners), at)
        return coerce(value, inners[0], at)
    if isinstance(tp, type) and issubclass(tp, ConfigEnum):
        try:
            return tp.from_config(value)
        except (ValueError, TypeError):
            raise NetcError(f"unknown value {value!r}", at, tp.hint(value)) from None
    if isinstance(tp, type) and hasattr(tp, "from_config"):  # option values with their own reader (Axes)
        try:
            return tp.from_config(value)
        except ValueError as e:
            raise NetcError(f"invalid value {value!r}", at, str(e) or None) from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise NetcError(f"expected true or false, got {value!r}", at)
    if tp is int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise NetcError(f"expected a whole number, got {value!r}", at, unquote_hint(value))
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise NetcError(f"expected a finite number, got {value!r}", at, unquote_hint(value))
    if tp is str:
        if isinstance(value, str):
            return value
        raise NetcError(f"expected a string, got {value!r}", at)
    if typing.get_origin(tp) is tuple and typing.get_args(tp) == (int, Ellipsis):
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
        raise NetcError(f"expected a list of whole numbers, got {value!r}", at)
    if typing.get_origin(tp) is tuple:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise NetcError(f"expected a list of layer names, got {value!r}", at)
    if dataclasses.is_dataclass(tp):
        return read_options_struct(tp, value, at)
    raise TypeError(f"no reader for option type {tp}")  # a schema bug, not a user error


def unquote_hint(value: Any) -> str | None:
    """A number written as a string is a common slip."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return None
        return f"write {value} without quotes"
    return None


def read_options_struct(tp: Any, value: Any, at: At) -> Any:
    """A nested option dict such as `loss_opts`."""
    if not isinstance(value, dict):
        raise NetcError(f"expected a dict, got {value!r}", at)
    hints = typing.get_type_hints(tp)
    known = [f.name for f in dataclasses.fields(tp)]
    values = {}
    for key, item in value.items():
        if any(type(item) is type(d) and item == d for d in getattr(tp, "defaults", {}).get(key, ())):
            continue  # RETURNN's default of an option netc does not implement
        if key in getattr(tp, "unsupported", {}):
            raise NetcError(f"RETURNN's option {key!r} is not supported by netc", at, tp.unsupported[key])
        if key not in known:
            raise NetcError(f"unknown entry {key!r}", at, did_you_mean(str(key), known))
        values[key] = coerce(item, hints[key], at)
    return tp(**values)


def to_config(layer: Layer) -> dict[str, Any]:
    """The canonical layer dict: every option with its value, in declaration order."""
    result: dict[str, Any] = {"class": layer.class_name}
    for f in dataclasses.fields(layer):
        result[CONFIG_KEY.get(f.name, f.name)] = plain(getattr(layer, f.name))
    return result


def plain(value: Any) -> Any:
    if hasattr(value, "plain"):
        return value.plain()
    if isinstance(value, ConfigEnum):
        return value.value
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
