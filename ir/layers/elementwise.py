"""`combine`, `eval`, `gating`, `constant`, `reduce`, `length` (returnn/tf/layers/basic.py: CombineLayer,
EvalLayer, GatingLayer, ConstantLayer, ReduceLayer, LengthLayer).

`combine` and `eval` do not concatenate their sources: each source is an operand, broadcast to the common
type (RETURNN `Data.get_common_data`): the source with the most dims gives the output's dims, and every
other source's dims must appear in it in the same order (a `[B, F]` mean broadcasts over `[B, T, F]`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.axes import Axes, axes_listing
from netc.ir.layers.base import At, Layer, ShapeEnv, check_n_out, check_time_mask, dense_float, matching_n_out, required
from netc.ir.layers.expr import Expr, Position, parse_eval, positions, sources_used
from netc.ir.layers.reshape import default_feature
from netc.ir.types import BATCH, LAYER, Act, ConfigEnum, DimKind, TensorType, spatial_dim


class CombineKind(ConfigEnum):
    """The binary operation of `combine`, folded left over the sources (`average`: sum / count)."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    TRUEDIV = "truediv"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    AVERAGE = "average"
    SQUARED_DIFFERENCE = "squared_difference"


def broadcast_positions(small: TensorType, big: TensorType) -> list[int] | None:
    """Where each dim of `small` sits in `big` (in order), or None if `small` does not broadcast to `big`."""
    positions, start = [], 0
    for dim in small.dims:
        found = next((i for i in range(start, len(big.dims)) if big.dims[i] == dim), None)
        if found is None:
            return None
        positions.append(found)
        start = found + 1
    return positions


def common_type(types: list[tuple[str, TensorType]], at: At) -> TensorType:
    """The broadcast type of several operands; a located error naming them when there is none."""
    big = max((t for _, t in types), key=lambda t: len(t.dims))
    if any(t.sparse for _, t in types) or any(broadcast_positions(t, big) is None for _, t in types):
        listing = ", ".join(f"{s!r} {t}" for s, t in types)
        raise NetcError(f"the sources do not broadcast to one type: {listing}", at("from"),
                        "each source's dims must appear, in order, in the source with the most dims")
    return big


@dataclass(frozen=True)
class Operands(Layer):
    """A layer whose sources are separate operands broadcast to their common type."""

    activation: Act = Act.IDENTITY
    with_bias: bool = False
    n_out: int | None = None

    concatenates: ClassVar[bool] = False

    def check(self, at: At) -> None:
        super().check(at)
        check_n_out(self.n_out, at)

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        types = [(s, env.type_of(s)) for s in self.sources]
        t = common_type(types, at)
        if any(t.dtype != "float32" for _, t in types):
            raise NetcError(f"{self.class_name} works on float32, got {[str(t.dtype) for _, t in types]}", at("from"),
                            "cast first: an eval layer with tf.cast(source(i), tf.float32)")
        if self.n_out is not None and t.feature_index is not None:
            matching_n_out(self.n_out, t.feature, at, "the feature dim of the combined sources")
        if self.with_bias and t.feature_index is None:
            raise NetcError(f"with_bias needs a feature dim, the result is {t}", at("with_bias"))
        return t

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return {"b": (n_out,)} if self.with_bias else {}


@dataclass(frozen=True)
class Combine(Operands):
    """`kind` folded over the sources, then `+ b` (with_bias) and the activation."""

    kind: CombineKind | None = None

    class_name: ClassVar[str] = "combine"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.kind, "kind", at, '"kind": "add"')
        if len(self.sources) < 1:
            raise NetcError("combine needs at least one source", at("from"))


@dataclass(frozen=True)
class Eval(Operands):
    """A RETURNN eval string over `source(i)`, parsed into an expression (ir/layers/expr.py), never executed."""

    eval: str | None = None

    class_name: ClassVar[str] = "eval"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.eval, "eval", at, '"eval": "source(0) * 2"')
        try:
            parse_eval(self.eval, len(self.sources))
        except ValueError as e:
            raise NetcError(f"eval {self.eval!r}: {e}", at("eval"),
                            "netc evaluates source(i), numbers, arithmetic, comparisons and tf. element-wise "
                            "functions (docs/netdict.md)") from None

    @property
    def expression(self) -> Expr:
        return parse_eval(self.eval or "", len(self.sources))

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if positions(self.expression):
            return self.position_type(env, at)
        used = sorted(sources_used(self.expression)) or range(len(self.sources))
        t = common_type([(self.sources[i], env.type_of(self.sources[i])) for i in used], at)
        return TensorType(t.dims)  # float32: integer sources (length) enter through tf.cast

    def position_type(self, env: ShapeEnv, at: At) -> TensorType:
        """`[B]`: int32 for the bare argmax position (expr.Position), float32 cast; its source must be dense
        float `[B, T, 1]` (the attention weights of one head). A bare position whose out_type declares float32
        (the published LibriSpeech local-attention configs) is float32: RETURNN of 2019 built the layer's template
        from out_type and kept the int32 tensor under it; the frame numbers are the same (exact below 2^24)."""
        for i in sorted(positions(self.expression)):
            t = env.type_of(self.sources[i])
            if t.sparse or t.dtype != "float32" or t.time_index != 1 or len(t.dims) != 3 or t.dims[2].size != 1:
                raise NetcError(f"the argmax over axis 1 squeezed at axis 1 needs float [B, T, 1] (attention weights "
                                f"of one head), but {self.sources[i]!r} is {t}", at("eval"),
                                "give it the softmax_over_spatial weights of a single-head attention")
            assert t.batch is not None
            batch = t.batch
        declared = self.declared_type.dtype if self.declared_type else None
        bare = isinstance(self.expression, Position) and declared != "float32"
        return TensorType((batch,), "int32" if bare else "float32")


@dataclass(frozen=True)
class Gating(Layer):
    """act(a) * gate_act(b), a and b the two halves of the feature dim."""

    activation: Act | None = None
    gate_activation: Act = Act.SIGMOID
    n_out: int | None = None

    class_name: ClassVar[str] = "gating"

    def check(self, at: At) -> None:
        super().check(at)
        check_n_out(self.n_out, at)
        required(self.activation, "activation", at, '"activation": "tanh"')

    def out_feature(self, in_feature: int, env: ShapeEnv, at: At) -> int:
        if in_feature % 2:
            raise NetcError(f"gating halves the feature dim, but it is odd ({in_feature})", at("from"))
        return matching_n_out(self.n_out, in_feature // 2, at, "half the input dim")


@dataclass(frozen=True)
class Constant(Layer):
    """A scalar `value` (float32), without a batch axis unless `with_batch_dim`."""

    sources: tuple[str, ...] = ()
    value: float = 0.0
    with_batch_dim: bool = False
    dtype: str = "float32"

    class_name: ClassVar[str] = "constant"

    def check(self, at: At) -> None:
        if self.sources:
            raise NetcError("constant takes no input", at("from"), 'remove "from" (or write "from": [])')
        if self.dtype != "float32":
            raise NetcError(f"constant dtype {self.dtype!r} is not supported", at("dtype"), "use float32")

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        return TensorType((BATCH,) if self.with_batch_dim else ())


class ReduceMode(ConfigEnum):
    """Reductions; over time each sequence uses only its own frames (RETURNN's time mask). `argmax`/`argmin`
    give the int32 index of the first extreme value along one axis."""

    SUM = "sum"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    LOGSUMEXP = "logsumexp"
    ARGMAX = "argmax"
    ARGMIN = "argmin"

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        return {"avg": cls.MEAN}

    @classmethod
    def hint(cls, value: Any) -> str:
        """RETURNN TF's `any`/`all` (`tf.reduce_any`/`tf.reduce_all`) take bool tensors, which no netc layer makes
        (netc's tensors are float32 or int32)."""
        if isinstance(value, str) and value.lower() in ("any", "all"):
            which = "max" if value.lower() == "any" else "min"
            return (f"RETURNN's {value!r} reduces a bool tensor and netc's tensors are float32 or int32: reduce a 0/1 "
                    f'float with "{which}" (e.g. an eval layer "tf.cast(source(0) > 0.5, tf.float32)" before it)')
        return super().hint(value)

    @property
    def is_arg(self) -> bool:
        return self in (ReduceMode.ARGMAX, ReduceMode.ARGMIN)


@dataclass(frozen=True)
class Reduce(Layer):
    """Reduce `axes` (or `axis`) by `mode`; over time per sequence (mean: over its length, at least 1), padded
    frames replaced by RETURNN's neutral fill (0 for sum/mean, float32 min for max/logsumexp/argmax, max for
    min/argmin: `ReduceLayer.reduce` with `use_time_mask`).

    `argmax`/`argmin` reduce exactly one axis to int32 indices (`ReduceLayer.get_out_data_from_opts`): over a
    static axis of size n the result is sparse with n classes (RETURNN's `sparse_dim` is that axis); over time it
    is a dense int32 tensor (RETURNN's sparse dim is then the time axis, which has no fixed number of classes).
    """

    mode: ReduceMode | None = None
    axes: Axes | None = None
    axis: Axes | None = None
    keep_dims: bool = False
    use_time_mask: bool | None = None

    class_name: ClassVar[str] = "reduce"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.mode, "mode", at, '"mode": "mean"')
        if (self.axes is None) == (self.axis is None):
            raise NetcError("give exactly one of 'axes' and 'axis'", at("axes"), 'e.g. "axes": "T"')
        check_time_mask(self.use_time_mask, at)

    def reduced(self, x: TensorType) -> list[int]:
        """The reduced axes (batch counted), ascending; ValueError naming what is wrong."""
        axes = self.axes or self.axis
        assert axes is not None and self.mode is not None
        found = sorted(set(axes.resolve(x)))
        if not found:
            raise ValueError(f"{axes} names no axis of {x}; {axes_listing(x)}")
        if any(x.dims[i].kind is DimKind.BATCH for i in found):
            raise ValueError(f"reduce over the batch is not supported ({axes} names it); {axes_listing(x)}")
        if self.mode.is_arg and len(found) != 1:
            raise ValueError(f"{self.mode.value} reduces exactly one axis, {axes} names {len(found)} of {x}")
        return found

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        key = "axes" if self.axes else "axis"
        x = dense_float(x, "reduce needs a dense float32 input", at, "reduce the float scores, not class indices")
        try:
            axes = self.reduced(x)
        except ValueError as e:
            raise NetcError(str(e), at(key), "check the input's dims with `netc check`") from None
        if self.keep_dims:
            dims = [spatial_dim(1, f"{LAYER}:keep-dim-{i}") if i in axes else d for i, d in enumerate(x.dims)]
        else:
            dims = [d for i, d in enumerate(x.dims) if i not in axes]
        assert self.mode is not None
        if not self.mode.is_arg:
            return default_feature(x, dims)
        size = x.dims[axes[0]].size
        if size is None:  # over time: indices of frames
            return default_feature(TensorType((), "int32"), dims)
        return TensorType(tuple(replace(d, kind=DimKind.SPATIAL) if d.is_static else d for d in dims), "int32", size)


@dataclass(frozen=True)
class Length(Layer):
    """The int32 `[B]` lengths of the input's time axis (`axis` in RETURNN's notation, naming the time axis:
    "T", "stag:time", "dyn:0"); on a batch of chunks, `[B*C]`, each chunk's length (RETURNN: the chunked
    time dim's `dyn_size`, batch dim the chunks')."""

    axis: Axes = Axes(("T",))
    dtype: str = "int32"

    class_name: ClassVar[str] = "length"

    def check(self, at: At) -> None:
        super().check(at)
        if self.dtype != "int32":
            raise NetcError("length gives int32", at("dtype"), 'use "int32", then tf.cast in an eval layer')

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None or not x.has_time:
            raise NetcError(f"length needs an input with a time axis, got {x}", at("from"))
        try:
            index = self.axis.resolve_one(x)
        except ValueError as e:
            raise NetcError(str(e), at("axis"), 'use "T"') from None
        if index != x.time_index:
            raise NetcError(f"length of axis {self.axis} ({x.dims[index]} of {x}) is not supported", at("axis"),
                            "name the time axis: \"T\"")
        return TensorType((x.batch or BATCH,), "int32")  # a batch of chunks: one length per chunk, [B*C]


ELEMENTWISE_LAYERS: tuple[type[Layer], ...] = (Combine, Eval, Gating, Constant, Reduce, Length)


class CompareKind(ConfigEnum):
    """The comparison of `compare` (RETURNN's `CompareLayer`: a tf.math function by name)."""

    EQUAL = "equal"
    NOT_EQUAL = "not_equal"
    LESS = "less"
    LESS_EQUAL = "less_equal"
    GREATER = "greater"
    GREATER_EQUAL = "greater_equal"


@dataclass(frozen=True)
class Compare(Layer):
    """`kind` over the sources, folded left (`a < b` and `b < c`), or of the one source and `value`: a bool tensor
    of the sources' common dims (class indices compare as numbers; RETURNN `CompareLayer`). A unit's `end` layer
    is `{"class": "compare", "from": "output", "value": 0}`: the hypothesis chose the end label."""

    kind: CompareKind = CompareKind.EQUAL
    value: float | None = None
    n_out: int | None = None

    class_name: ClassVar[str] = "compare"
    concatenates: ClassVar[bool] = False

    def check(self, at: At) -> None:
        super().check(at)
        if self.value is None and len(self.sources) < 2:
            raise NetcError("compare needs two sources, or one and a value", at("from"), 'add "value": 0')

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        types = [(s, env.type_of(s)) for s in self.sources]
        t = common_type([(s, TensorType(t.dims, t.dtype)) for s, t in types], at)
        return TensorType(t.dims, "bool")


class ReduceOutMode(ConfigEnum):
    MAX = "max"
    SUM = "sum"


@dataclass(frozen=True)
class ReduceOut(Layer):
    """The feature dim cut into `num_pieces`-sized groups, each reduced by `mode` (maxout with `max`): `[..., F]
    -> [..., F / num_pieces]` (RETURNN `ReduceOutLayer`: reshape to `[..., F / n, n]`, reduce the last axis)."""

    mode: ReduceOutMode | None = None
    num_pieces: int | None = None

    class_name: ClassVar[str] = "reduce_out"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.mode, "mode", at, '"mode": "max"')
        required(self.num_pieces, "num_pieces", at, '"num_pieces": 2')
        assert self.num_pieces is not None
        if self.num_pieces < 1:
            raise NetcError("num_pieces must be >= 1", at("num_pieces"), f"got {self.num_pieces}")

    def out_feature(self, in_feature: int, env: ShapeEnv, at: At) -> int:
        assert self.num_pieces is not None
        if in_feature % self.num_pieces:
            raise NetcError(f"the input dim {in_feature} is not a multiple of num_pieces {self.num_pieces}",
                            at("num_pieces"), "choose num_pieces dividing the input dim")
        return in_feature // self.num_pieces
