"""Transformer layers: `self_attention`, `positional_encoding`, `relative_positional_encoding`
(returnn/tf/layers/rec.py SelfAttentionLayer, PositionalEncodingLayer, RelativePositionalEncodingLayer; the sinusoids
of returnn/tf/util/basic.py get_positional_encoding).

Outside a recurrent unit, on sequences `[B, T, F]`; inside one (`ShapeEnv.in_unit`) self_attention and
positional_encoding take one step `[B, F]` (RETURNN's `_rec_previous_layer` branches). Each sequence is computed
as RETURNN computes it alone: keys beyond a sequence's length never count (RETURNN: `sequence_mask` of the keys;
with `attention_left_only` the triangular mask, which never reaches beyond the query's own frame). The per-step
form inside a recurrent unit (keys and values accumulated over the steps) is `self_attention_step` in
trainer/self_attention.py and compiler/onnx/self_attention.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from netc.ir.errors import NetcError
from netc.ir.layers.base import MAX_DIM, At, Layer, ShapeEnv, check_n_out, required
from netc.ir.types import LAYER, Chunked, DimKind, TensorType, feature_dim, time_dim

SEQ_HINT = "give it a dense [B, T, F] source (netc check prints each layer's type)"


def sequence_input(x: TensorType | None, class_name: str, at: At, dense: bool = True) -> TensorType:
    """`x` is `[B, T, F]` (or, unless `dense`, `[B, T]` class indices), else a located error at `from`."""
    if x is None or not x.is_seq or (dense and x.sparse):
        raise NetcError(f"{class_name} needs a {'dense ' if dense else ''}[B, T, F] input, got {x or 'none'}",
                        at("from"), "inside a recurrent unit use the per-step form; outside, " + SEQ_HINT)
    return x


def step_input(x: TensorType | None, class_name: str, at: At, dense: bool = True) -> TensorType:
    """Inside a rec unit: `x` is one step `[B, F]` (or, unless `dense`, `[B]` class indices), else a located error."""
    if x is None or x.has_time or len(x.dims) != (1 if x.sparse else 2) or (dense and x.sparse):
        raise NetcError(f"{class_name} inside a rec unit reads one step {'[B, F]' if dense else '[B, F] or [B]'}, got "
                        f"{x or 'none'} (RETURNN asserts the input has no time axis in a loop)", at("from"),
                        "give it a per-step layer of the unit (not an encoder layer [B, T, F])")
    return x


def no_chunks(x: TensorType, class_name: str, at: At) -> TensorType:
    """**Decision:** refused on the chunks of time_chunking, where RETURNN 1.20261022 fails at run time
    (self_attention's reshapes take the sequences' batch size; relative_positional_encoding gives `[1, 1, n]`)."""
    if isinstance(x.dims[1].lengths, Chunked):
        raise NetcError(f"{class_name} on the chunks of time_chunking ({x}) fails in RETURNN (it takes the batch "
                        "size and time length of the unchunked sequences)", at("from"),
                        "use it before time_chunking or after time_unchunking")
    return x


def check_sinusoid_channels(n: int, key: str, at: At) -> None:
    """RETURNN's get_positional_encoding divides by `n // 2 - 1`: 2 or 3 channels raise ZeroDivisionError there."""
    if n in (2, 3):
        raise NetcError(f"sinusoids of {n} channels are not defined (RETURNN's get_positional_encoding divides by "
                        f"{n} // 2 - 1 = 0)", at(key), "use 1 or at least 4 channels")


def inv_timescales(n: int) -> np.ndarray:
    """float32 `[n // 2]` inverse timescales `exp(-i * log(1e4) / (n // 2 - 1))` of get_positional_encoding (its
    min_timescale 1, max_timescale 1e4), computed in float32 as TensorFlow does."""
    half = n // 2
    if half == 0:
        return np.zeros(0, np.float32)
    increment = math.log(1.0e4) / float(half - 1)
    return np.exp(np.arange(half, dtype=np.float32) * np.float32(-increment)).astype(np.float32)


def sinusoids(positions: np.ndarray, n: int) -> np.ndarray:
    """get_positional_encoding on a numpy array of positions: `positions.shape + [n]` float32
    (`[sin(p * inv), cos(p * inv)]`, a 0 channel appended for odd n)."""
    scaled = positions.astype(np.float32)[..., None] * inv_timescales(n)
    signal = np.concatenate([np.sin(scaled), np.cos(scaled)], axis=-1)
    return np.pad(signal, [(0, 0)] * positions.ndim + [(0, n % 2)]).astype(np.float32)


@dataclass(frozen=True)
class SelfAttention(Layer):
    """Multi-head dot attention of each frame over the frames of its sequence:
    `softmax(q k^T / sqrt(d_k) [+ q key_shift^T], masked) v` per head, heads concatenated.

    `QKV` `[n_in, 2 * total_key_dim + n_out]`: its columns are per head, head h holding
    `[q_h (d_k), k_h (d_k), v_h (d_v)]` (RETURNN reshapes x QKV to `[B, T, heads, -1]`, then splits).
    `key_shift` names a layer `[T, T, d_k]` (relative_positional_encoding) added to the keys of each query."""

    n_out: int | None = None  # total value dim
    num_heads: int | None = None
    total_key_dim: int | None = None
    key_shift: str | None = None
    attention_dropout: float = 0.0  # on the attention weights, in training
    attention_left_only: bool = False  # causal: frame t attends to frames <= t

    class_name: ClassVar[str] = "self_attention"
    layer_keys: ClassVar[tuple[str, ...]] = ("key_shift",)

    def check(self, at: At) -> None:
        super().check(at)
        for key, example in (("num_heads", '"num_heads": 8'), ("total_key_dim", '"total_key_dim": 512'),
                             ("n_out", '"n_out": 512')):
            required(getattr(self, key), key, at, example)
        check_n_out(self.n_out, at)
        if not 1 <= self.heads <= MAX_DIM:
            raise NetcError("num_heads must be >= 1", at("num_heads"), f"got {self.num_heads}")
        if not 1 <= self.key_dim <= MAX_DIM:
            raise NetcError(f"total_key_dim must be between 1 and {MAX_DIM}", at("total_key_dim"),
                            f"got {self.total_key_dim}")
        for key, total in (("total_key_dim", self.key_dim), ("n_out", self.value_dim)):
            if total % self.heads:
                raise NetcError(f"{key} {total} is not divisible by num_heads {self.heads} (RETURNN asserts it)",
                                at(key), f"use a multiple of {self.heads}")
        if not 0.0 <= self.attention_dropout < 1.0:
            raise NetcError("attention_dropout must be in [0, 1)", at("attention_dropout"),
                            f"got {self.attention_dropout}")

    @property
    def heads(self) -> int:
        return self.num_heads or 0

    @property
    def key_dim(self) -> int:
        """total_key_dim."""
        return self.total_key_dim or 0

    @property
    def value_dim(self) -> int:
        """n_out, the total value dim."""
        return self.n_out or 0

    @property
    def dependencies(self) -> tuple[str, ...]:
        return super().dependencies + ((self.key_shift,) if self.key_shift else ())

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if env.in_unit:
            return self.step_type(x, at)
        # NOTE: dense only: on class indices RETURNN 1.20261022 fails (copy_with_feature_last of sparse data)
        x = no_chunks(sequence_input(x, self.class_name, at), self.class_name, at)
        if self.key_shift:
            shift, per_head = env.type_of(self.key_shift), self.key_dim // self.heads
            want = TensorType((x.dims[1], x.dims[1], feature_dim(per_head)))
            if shift != want:
                raise NetcError(f"key_shift {self.key_shift!r} is {shift}, but this layer needs {want} "
                                f"(queries x keys x total_key_dim / num_heads)", at("key_shift"),
                                f"use a relative_positional_encoding with n_out {per_head} on this layer's input")
        return TensorType((x.dims[0], x.dims[1], feature_dim(self.value_dim, f"{LAYER}_self_att_feat")))

    def step_type(self, x: TensorType | None, at: At) -> TensorType:
        """Inside a rec unit (RETURNN's `_rec_previous_layer`): `[B, n_in]` -> `[B, n_out]`, attending to the keys and
        values of this and all earlier steps (its `k_left`/`v_left` state); RETURNN asserts attention_left_only."""
        x = step_input(x, self.class_name, at)
        if not self.attention_left_only:
            raise NetcError("self_attention inside a rec unit needs attention_left_only (RETURNN asserts it: a step "
                            "sees only the steps so far)", at("attention_left_only"), '"attention_left_only": true')
        if self.key_shift:
            raise NetcError("key_shift of a self_attention inside a rec unit is not implemented by netc",
                            at("key_shift"), "remove key_shift, or use the self_attention outside the unit")
        return TensorType((x.dims[0], feature_dim(self.value_dim, f"{LAYER}_self_att_feat")))

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return {"QKV": (n_in, 2 * self.key_dim + self.value_dim)}

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        return {"QKV": math.sqrt(6.0 / (n_in + 2 * self.key_dim + self.value_dim))}


@dataclass(frozen=True)
class PositionalEncoding(Layer):
    """Tensor2Tensor's sinusoids of the frame position: `[sin(p / 10000^(i / (n/2 - 1))), cos(...)]`, i < n/2
    (a last 0 channel for odd n), `n` the output dim. Position `p` is the frame index, or `constant` when it is
    >= 0, plus `offset` (an int layer `[B]` or `[B, T]`) if given; `add_to_input` adds the signal to the input."""

    n_out: int | None = None  # without add_to_input: required
    add_to_input: bool = False
    constant: int = -1  # > -1: every frame gets this position
    offset: str | None = None

    class_name: ClassVar[str] = "positional_encoding"
    layer_keys: ClassVar[tuple[str, ...]] = ("offset",)

    def check(self, at: At) -> None:
        super().check(at)
        check_n_out(self.n_out, at)
        if len(self.sources) != 1:
            raise NetcError(f"positional_encoding takes one source, got {len(self.sources)} (RETURNN asserts it)",
                            at("from"), "concatenate them in a copy layer first")
        if not self.add_to_input:
            required(self.n_out, "n_out", at, '"n_out": 512, or "add_to_input": true')

    @property
    def dependencies(self) -> tuple[str, ...]:
        return super().dependencies + ((self.offset,) if self.offset else ())

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        """Inside a rec unit (RETURNN's single step): position = the step index (its `position` state, -1 before
        step 0, plus 1 each step), `[B, F]` or `[B]` -> `[B, n_out]`, `offset` int `[B]`."""
        x = (step_input if env.in_unit else sequence_input)(x, self.class_name, at, dense=self.add_to_input)
        if self.offset:
            off = env.type_of(self.offset)
            dims = (x.dims[:1],) if env.in_unit else (x.dims[:1], x.dims[:2])
            if not off.dtype.startswith("int") or off.sparse or off.dims not in dims:
                raise NetcError(f"offset {self.offset!r} is {off} {off.dtype}; it must be int [B] or [B, T] on "
                                "this layer's time axis", at("offset"), "e.g. a length layer")
        if self.add_to_input:
            if self.n_out is not None and self.n_out != x.feature:
                raise NetcError(f"n_out is {self.n_out}, but add_to_input keeps the input's dim {x.feature}",
                                at("n_out"), f"set n_out to {x.feature} or remove it")
            check_sinusoid_channels(x.feature, "from", at)
            return x
        assert self.n_out is not None
        check_sinusoid_channels(self.n_out, "n_out", at)
        return TensorType((*x.dims[:1 if env.in_unit else 2], feature_dim(self.n_out, f"{LAYER}:feature-dense")))


@dataclass(frozen=True)
class RelativePositionalEncoding(Layer):
    """Shaw et al. (2018): `[T, T, n_out]` (queries x keys, no batch), entry `(q, k)` the row
    `clip(k - q, -clipping, clipping) + clipping` of `encoding_matrix` `[2 clipping + 1, n_out]` (with `fixed`:
    of the sinusoids of positions 0..2 clipping instead of a parameter). `T` is the input's time axis; a
    self_attention reads it as `key_shift`."""

    n_out: int | None = None
    clipping: int = 16
    fixed: bool = False

    class_name: ClassVar[str] = "relative_positional_encoding"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.n_out, "n_out", at, '"n_out": 64 (total_key_dim / num_heads of the self_attention)')
        check_n_out(self.n_out, at)
        if not 0 <= self.clipping <= MAX_DIM:
            raise NetcError(f"clipping must be between 0 and {MAX_DIM}", at("clipping"), f"got {self.clipping}")
        if self.fixed:
            check_sinusoid_channels(self.n_out or 0, "n_out", at)

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if env.in_unit:
            raise NetcError("relative_positional_encoding inside a rec unit is not implemented by netc", at("class"),
                            "compute it outside the unit")
        # NOTE: dense only: on class indices RETURNN's output keeps their int32 dtype and fails
        x = no_chunks(sequence_input(x, self.class_name, at), self.class_name, at)
        time = x.dims[1]
        assert time.kind is DimKind.TIME and time.lengths is not None
        return TensorType((time, time_dim(time.lengths, time.name),
                           feature_dim(self.n_out or 0, f"{LAYER}_rel_pos_enc_feat")))

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return {} if self.fixed else {"encoding_matrix": (2 * self.clipping + 1, self.n_out or 0)}

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        return {} if self.fixed else {"encoding_matrix": math.sqrt(6.0 / (2 * self.clipping + 1 + (self.n_out or 0)))}


SELF_ATTENTION_LAYERS: tuple[type[Layer], ...] = (SelfAttention, PositionalEncoding, RelativePositionalEncoding)
