"""The closed vocabularies of the IR: time axes, sequence types, activations, directions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from netc.ir.errors import did_you_mean


class TimeAxis(Enum):
    """A root time axis, named by where its lengths come from: the input's or the decoder targets'."""

    DATA = "data"
    CLASSES = "classes"

    def __str__(self) -> str:
        return f"T_{self.value}"


@dataclass(frozen=True)
class LengthRule:
    """How a layer derives new per-sequence lengths: `max(0, ceil((len * factor + add) / stride))`.

    One arithmetic form covers RETURNN's `ConvLayer.calc_out_dim` (SAME: `add=0`; VALID:
    `add=-(filter-1)*dilation`), pooling, `slice` (`add=-start`, `stride=slice_step`), `pad` on time
    (`add=left+right`) and upsampling (`factor`). Each backend evaluates it once (`lengths_numpy` here,
    ONNX in compiler/onnx/context.py, torch in trainer/context.py).
    """

    add: int = 0
    stride: int = 1
    factor: int = 1

    def __str__(self) -> str:
        text = "T" if self.factor == 1 else f"T*{self.factor}"
        text += f"{self.add:+d}" if self.add else ""
        if self.stride == 1:
            return text
        return f"{text}/{self.stride}" if text == "T" or self.add == 0 else f"({text})/{self.stride}"


def lengths_numpy(rule: LengthRule, lengths: Any) -> Any:
    """The rule on an integer numpy array of lengths (the reference; ceil division on non-negatives)."""
    total = (lengths * rule.factor + rule.add).clip(min=0)
    return (total + rule.stride - 1) // rule.stride


class _ChildAxis:
    """What a time axis made from a `parent` time axis answers: its root axis and its printed name.

    One way to print an axis: `str` (`(T_data/2)*2`, as `netc check`'s table and every message show it) and
    `value` (`(data/2)*2`, as `TimeAxis.value`: the model's `netc.output_time`) both come from `show`."""

    parent: Lengths

    @property
    def root(self) -> TimeAxis:
        return self.parent if isinstance(self.parent, TimeAxis) else self.parent.root

    def __str__(self) -> str:
        return self.show(str(self.parent))

    @property
    def value(self) -> str:
        """The axis as printed with its root's `value` (`data`, not `T_data`)."""
        return self.show(self.parent.value)

    def show(self, parent: str) -> str:
        """The axis as made from its parent printed as `parent`."""
        raise NotImplementedError


@dataclass(frozen=True)
class Derived(_ChildAxis):
    """A time axis whose lengths a layer computes from its parent axis's lengths by `rule`.

    Equality is structural: two layers that derive the same rule from the same axis give the same axis
    (their lengths are equal for every batch).
    """

    parent: TimeAxis | Derived
    rule: LengthRule

    def show(self, parent: str) -> str:
        if isinstance(self.parent, Derived) and (self.rule.stride != 1 or self.rule.factor != 1) and \
                not parent.endswith(")"):
            parent = f"({parent})"
        return str(self.rule).replace("T", parent, 1)



@dataclass(frozen=True)
class Chunked(_ChildAxis):
    """The time axis inside chunks of `size` frames taken every `step` frames of `parent`
    (returnn/tf/layers/basic.py TimeChunkingLayer, returnn/native_op.py Chunking).

    Chunks make their own batch: a batch dim `Dim(BATCH, chunks=this)` of `B * C` rows, row `b * C + c`
    holding frames `c * step ... c * step + size - 1` of sequence `b`, where `C = n_chunks(T, size, step)` for
    the padded length `T` of `parent`. Its lengths are `clip(len[b] - c * step, 0, size)` for the chunks of
    sequence b alone (`c < n_chunks(len[b], size, step)`), 0 for the rows past them: numpy in
    `chunk_lengths_numpy`, ONNX in compiler/onnx/chunking.py, torch in trainer/time_chunking.py.
    """

    parent: Lengths
    size: int
    step: int

    def show(self, parent: str) -> str:
        return f"{parent}:chunk({self.size},{self.step})"



Lengths = TimeAxis | Derived | Chunked  # where a time axis's per-sequence lengths come from


def n_chunks(steps: int, size: int, step: int) -> int:
    """RETURNN `native_op.Chunking`: `max(steps - size + step - 1, 0) // step + 1` chunks cover `steps` frames."""
    return max(steps - size + step - 1, 0) // step + 1


def chunk_lengths_numpy(axis: Chunked, lengths: Any, steps: int) -> Any:
    """The `[B * C]` lengths of the chunks of sequences of `lengths` (an integer numpy array, padded length
    `steps`, `C = n_chunks(steps, ...)`): `clip(len[b] - c * step, 0, size)` at row `b * C + c` for the
    `n_chunks(len[b], ...)` chunks of sequence b alone, 0 for the rows past them."""
    import numpy as np

    starts = np.arange(n_chunks(steps, axis.size, axis.step))[None, :] * axis.step
    own = (np.maximum(lengths - axis.size + axis.step - 1, 0) // axis.step + 1)[:, None]
    return np.where(starts < own * axis.step, (lengths[:, None] - starts).clip(0, axis.size), 0).reshape(-1)


class DimKind(Enum):
    """What a dim is: the batch, a time axis with per-sequence lengths, or a static spatial or feature axis."""

    BATCH = "batch"
    TIME = "time"
    SPATIAL = "spatial"
    FEATURE = "feature"


LAYER = "<layer>"  # in a dim's name: the name of the layer whose shape rule made it (filled in by infer_types)


@dataclass(frozen=True)
class Dim:
    """One axis of a tensor type: batch (the sequences, or with `chunks` the chunks of their frames on that
    axis), time (with `lengths`), or static (with `size`).

    `name` is RETURNN's dim tag description (`feature:data`, `conv0p:conv:s1`, `s_split_dims0`, `w:window`), what
    `stag:NAME` matches; None where netc does not know it. A shape rule names the dims its layer creates with
    `LAYER` for the layer's own name (`f"{LAYER}:window"`). The name takes no part in equality: netc's types
    match dims by kind, size and lengths, as RETURNN's `Dim.__eq__` (`is_equal` with the default
    `allow_same_spatial_dim`/`treat_feature_as_spatial` options of behaviour versions < 16 and its size-based
    matching in `Data.get_common_data`) lets equal-sized static dims of different tags combine. `base` is the name
    of the dim a static dim was computed from by a convolution, pooling, padding or slicing: RETURNN's
    `get_same_base().description` (`⌈feature:data/2⌉`) contains it, and `stag:` matches that too.
    """

    kind: DimKind
    size: int | None = None
    lengths: Lengths | None = None
    chunks: Chunked | None = None
    name: str | None = field(default=None, compare=False)
    base: str | None = field(default=None, compare=False)

    def named(self, name: str | None) -> Dim:
        """The same dim with RETURNN's tag description `name`."""
        return replace(self, name=name)

    def derived(self, kind: DimKind, size: int, name: str | None = None) -> Dim:
        """A static dim computed from this one (RETURNN's dim math), named `name`, with this one's base."""
        return Dim(kind, size, name=name, base=self.base or self.name)

    def derived_time(self, lengths: Lengths, name: str | None = None) -> Dim:
        """A time axis computed from this one (pooled, strided, sliced, padded), named `name`, with this one's base
        (a root time axis's: `time:var:extern_data:data`)."""
        assert self.lengths is not None
        return Dim(DimKind.TIME, lengths=lengths, name=name, base=self.base or self.name or root_name(self.lengths))

    def of_layer(self, layer: str) -> Dim:
        """`LAYER` in the name replaced by the layer's name (RETURNN's `"%s:window" % name`)."""
        return self if self.name is None or LAYER not in self.name else replace(self, name=self.name.replace(
            LAYER, layer))

    def __str__(self) -> str:
        if self.kind is DimKind.BATCH:
            return "B" if self.chunks is None else f"B*C({self.chunks.value})"
        if self.kind is DimKind.TIME:
            return str(self.lengths)
        return str(self.size)  # spatial and feature alike: the feature dim is the last

    @property
    def is_static(self) -> bool:
        return self.size is not None


BATCH = Dim(DimKind.BATCH)


def root_name(lengths: Lengths) -> str:
    """RETURNN's tag description of the root time axis of `lengths` (`time:var:extern_data:data`)."""
    root = lengths if isinstance(lengths, TimeAxis) else lengths.root
    return f"time:var:extern_data:{root.value}"


def chunk_batch_dim(axis: Chunked) -> Dim:
    """The batch of the chunks of `axis.parent` (one row per sequence and chunk)."""
    return Dim(DimKind.BATCH, chunks=axis)


def time_dim(lengths: Lengths, name: str | None = None) -> Dim:
    return Dim(DimKind.TIME, lengths=lengths, name=name)


def feature_dim(size: int, name: str | None = None) -> Dim:
    return Dim(DimKind.FEATURE, size, name=name)


def spatial_dim(size: int, name: str | None = None) -> Dim:
    return Dim(DimKind.SPATIAL, size, name=name)


@dataclass(frozen=True)
class TensorType:
    """The static type of a layer output: an ordered tuple of dims (RETURNN `Data`), dtype, and sparsity.

    The dims are in the tensor's batch-major order. A sparse tensor holds class indices; `classes` is
    their number (RETURNN's `dim` of sparse data) and no dim stands for it.
    """

    dims: tuple[Dim, ...]
    dtype: str = "float32"
    classes: int | None = None

    @classmethod
    def seq(cls, time: Lengths, feature: int, feature_name: str | None = None) -> TensorType:
        """`[B, T, F]`, the type of every layer before this type system."""
        return cls((BATCH, time_dim(time), feature_dim(feature, feature_name)))

    @classmethod
    def labels(cls, time: Lengths, classes: int) -> TensorType:
        """`[B, T]` int32 class indices."""
        return cls((BATCH, time_dim(time)), "int32", classes)

    def __str__(self) -> str:
        text = "[" + ", ".join(str(d) for d in self.dims) + "]"
        return text + (f" sparse({self.classes})" if self.sparse else "")

    @property
    def sparse(self) -> bool:
        return self.classes is not None

    @property
    def time_index(self) -> int | None:
        """The position of the (single) time axis, or None."""
        found = [i for i, d in enumerate(self.dims) if d.kind is DimKind.TIME]
        return found[0] if found else None

    @property
    def time(self) -> Lengths:
        """Where the lengths of the time axis come from (`TimeAxis.DATA`, or a `Derived` axis)."""
        index = self.time_index
        if index is None:
            raise ValueError(f"{self} has no time axis")
        lengths = self.dims[index].lengths
        assert lengths is not None
        return lengths

    @property
    def batch(self) -> Dim | None:
        """The batch dim (the sequences', or a batch of chunks), or None."""
        return next((d for d in self.dims if d.kind is DimKind.BATCH), None)

    @property
    def has_time(self) -> bool:
        return self.time_index is not None

    @property
    def feature_index(self) -> int | None:
        """The position of the feature dim (RETURNN: the last static dim), or None."""
        last = len(self.dims) - 1
        return last if self.dims and self.dims[last].kind is DimKind.FEATURE else None

    @property
    def feature(self) -> int:
        """RETURNN's `dim`: the feature dim's size, or the number of classes of a sparse tensor."""
        if self.classes is not None:
            return self.classes
        index = self.feature_index
        if index is None:
            raise ValueError(f"{self} has no feature dim")
        size = self.dims[index].size
        assert size is not None
        return size

    @property
    def is_seq(self) -> bool:
        """`[B, T, F]` (dense) or `[B, T]` (sparse): the layout per-frame layers and the LSTM read."""
        kinds = tuple(d.kind for d in self.dims)
        if self.sparse:
            return kinds == (DimKind.BATCH, DimKind.TIME)
        return kinds == (DimKind.BATCH, DimKind.TIME, DimKind.FEATURE)

    @property
    def is_packable(self) -> bool:
        """Batch then time first: stored as packed frames by the trainer, time-major in ONNX beside an LSTM."""
        kinds = tuple(d.kind for d in self.dims[:2])
        return kinds == (DimKind.BATCH, DimKind.TIME)

    def with_feature(self, size: int) -> TensorType:
        """The same type with the feature dim resized (dense)."""
        index = self.feature_index
        if index is None:
            raise ValueError(f"{self} has no feature dim")
        return TensorType(self.dims[:index] + (feature_dim(size),), self.dtype)

    def with_dims(self, dims: tuple[Dim, ...]) -> TensorType:
        return TensorType(dims, self.dtype, self.classes)


SeqType = TensorType  # the name before named dims; `SeqType.seq(time, feature)` is `[B, T, F]`


class ConfigEnum(Enum):
    """An enum read from a config word, with aliases; `known()` lists accepted words."""

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        return {}

    @classmethod
    def words(cls) -> dict[Any, ConfigEnum]:
        """Every config word of the enum (its values, then its aliases) -> its member."""
        return {m.value: m for m in cls} | cls.aliases()

    @classmethod
    def from_config(cls, value: Any) -> ConfigEnum:
        words = cls.words()
        key = value.lower() if isinstance(value, str) else value
        if key in words:
            return words[key]
        raise ValueError(value)

    @classmethod
    def known(cls) -> list[str]:
        return [str(w) for w in cls.words()]

    @classmethod
    def hint(cls, value: Any) -> str:
        """What to write instead of an unknown value."""
        return did_you_mean(str(value), cls.known())


class Act(ConfigEnum):
    """Element-wise (or feature-wise) activation functions."""

    IDENTITY = "identity"
    RELU = "relu"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"
    LOG_SOFTMAX = "log_softmax"
    ELU = "elu"
    SELU = "selu"
    GELU = "gelu"
    SOFTPLUS = "softplus"
    SWISH = "swish"
    ABS = "abs"
    EXP = "exp"
    SQUARE = "square"
    # NOTE: more of the names RETURNN's get_activation_function finds in tf.nn, tf, tf.math (TF 2 defaults)
    RELU6 = "relu6"
    LEAKY_RELU = "leaky_relu"  # tf.nn.leaky_relu: alpha 0.2
    SOFTSIGN = "softsign"
    LOG_SIGMOID = "log_sigmoid"
    SQRT = "sqrt"
    LOG = "log"
    NEGATIVE = "negative"
    SIN = "sin"
    COS = "cos"

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        return {"none": cls.IDENTITY, "null": cls.IDENTITY, None: cls.IDENTITY,
                "logistic": cls.SIGMOID, "silu": cls.SWISH, "neg": cls.NEGATIVE, "sqr": cls.SQUARE}

    @classmethod
    def hint(cls, value: Any) -> str:
        """A composition (RETURNN's get_activation_function splits on + - * /, or evaluates a lambda with '(';
        RETURNN Theano chains names with ':') is written as an eval layer."""
        if isinstance(value, str) and any(op in value for op in "+-*/(:"):
            return ("netc takes one activation name; write the composition as an eval layer after it, e.g. "
                    '{"class": "eval", "eval": "2 * tf.sigmoid(source(0))"}')
        return super().hint(value)


class Direction(ConfigEnum):
    """LSTM direction: 1 runs frame 0 to len-1, -1 runs each sequence from its own end."""

    FORWARD = 1
    BACKWARD = -1


class Unit(ConfigEnum):
    """Recurrent units. LSTM is netdict.md section 5 (RETURNN's NativeLSTM2); the others are TensorFlow cells
    with their own parameter layouts (ir/layers/rec.py)."""

    LSTM = "lstm"
    BASIC_LSTM = "basiclstm"  # TF BasicLSTMCell: kernel over [x, h], gates i, j, f, o, forget bias 1 at run time
    STANDARD_LSTM = "standardlstm"  # TF LSTMCell: the same computation, parameters under lstm_cell/
    GRU = "gru"  # TF GRUCell: gates r, u over [x, h]; candidate over [x, r * h]
    LOW_MEM_LSTM = "nativelstmlowmem"  # RETURNN's NativeLstmLowMem: NativeLSTM2's numbers, one W over [x, h]

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        # NOTE: with TensorFlow 2, RETURNN maps lstmblock, lstmblockfused, cudnnlstm (on CPU, via LSTMBlockFused)
        # and lstmp to NativeLSTM2 (returnn/tf/layers/rec.py RecLayer.get_rnn_cell_class); nativelstm gives
        # identical numbers.
        return {"nativelstm": cls.LSTM, "nativelstm2": cls.LSTM, "lstmp": cls.LSTM, "lstmblock": cls.LSTM,
                "lstmblockfused": cls.LSTM, "cudnnlstm": cls.LSTM}


class Loss(ConfigEnum):
    """Training losses (RETURNN `CrossEntropyLoss`, `CtcLoss`)."""

    CE = "ce"
    CTC = "ctc"
    EDIT_DISTANCE = "edit_distance"  # a score of labels RETURNN reports (EditDistanceLoss): never in the objective

    def output_dim(self, target_dim: int) -> int:
        """The loss layer's n_out for a target of `target_dim` classes: CTC adds the blank (RETURNN
        `Loss.get_auto_output_layer_dim`)."""
        return target_dim + 1 if self is Loss.CTC else target_dim


class DropoutNoise(ConfigEnum):
    """How the dropout mask is shared: per feature (RETURNN default) or per element."""

    PER_FEATURE = "per_feature"
    PER_ELEMENT = "per_element"

    @classmethod
    def from_config(cls, value: Any) -> ConfigEnum:
        if value is None:
            return cls.PER_FEATURE
        if value == {"*": None}:
            return cls.PER_ELEMENT
        raise ValueError(value)

    @classmethod
    def known(cls) -> list[str]:
        return ["null (one mask per feature)", '{"*": null} (one mask per element)']
