"""ONNX lowering of self_attention, positional_encoding, relative_positional_encoding (ir/layers/self_attention.py),
and `self_attention_step`, the per-step form for recurrent units (keys and values accumulated as state).

Values are computed batch-major (`[B, T, F]`), whatever the graph's stored layout.
"""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers import PositionalEncoding, RelativePositionalEncoding, SelfAttention
from netc.ir.layers.self_attention import inv_timescales, sinusoids
from netc.ir.types import TensorType

from .builder import FLOAT, INT32, OnnxBuilder
from .context import LowerContext


def steps(b: OnnxBuilder, x: str, axis: int, name: str) -> str:
    """The int32 scalar size of axis `axis` of `x` (the padded number of frames)."""
    shape = b.op("Shape", x, name=f"{name}/shape")
    return b.op("Cast", b.op("Gather", shape, b.const(axis), name=f"{name}/steps64", axis=0), name=f"{name}/steps",
                to=INT32)


def frames(b: OnnxBuilder, count: str, name: str) -> str:
    """int32 `[count]`: 0, 1, ..., count - 1."""
    return b.op("Range", b.const(0, np.int32), count, b.const(1, np.int32), name=name)


def heads(b: OnnxBuilder, x: str, qkv: str, layer: SelfAttention, name: str) -> tuple[str, str, str]:
    """x `[B, T, n_in]` -> q (scaled by d_k^-0.5), k, v `[B, H, T, d]`: x QKV split per head into q, k, v, as
    RETURNN's reshape to `[B, T, H, -1]` then split."""
    d_k, d_v = layer.key_dim // layer.heads, layer.value_dim // layer.heads
    y = b.op("MatMul", x, qkv, name=f"{name}/qkv")
    y = b.op("Reshape", y, b.const([0, 0, layer.heads, 2 * d_k + d_v]), name=f"{name}/split_heads")
    y = b.op("Transpose", y, name=f"{name}/heads_first", perm=[0, 2, 1, 3])
    q, k, v = b.op_multi("Split", y, b.const([d_k, d_k, d_v]), name=f"{name}/q_k_v", outputs=3, axis=3)
    q = b.op("Mul", q, b.const(np.float32(d_k ** -0.5), np.float32), name=f"{name}/q_scaled")
    return q, k, v


def attend(b: OnnxBuilder, q: str, k: str, v: str, valid: str | None, key_shift: str | None, name: str) -> str:
    """softmax over keys of `q k^T (+ q key_shift^T)` where `valid` (bool, broadcast to `[B, H, Tq, Tk]`), times v:
    `[B, H, Tq, d_v]`. `key_shift` is `[Tq, Tk, d_k]`."""
    energy = b.op("MatMul", q, b.op("Transpose", k, name=f"{name}/k_t", perm=[0, 1, 3, 2]), name=f"{name}/energy")
    if key_shift is not None:
        shifted = b.op("Einsum", q, key_shift, name=f"{name}/energy_shift", equation="bhqd,qkd->bhqk")
        energy = b.op("Add", energy, shifted, name=f"{name}/energy_shifted")
    if valid is not None:
        energy = b.op("Where", valid, energy, b.const(np.float32(-np.inf), np.float32), name=f"{name}/energy_masked")
    weights = b.op("Softmax", energy, name=f"{name}/weights", axis=-1)
    return b.op("MatMul", weights, v, name=f"{name}/reduce_att")


def merge_heads(b: OnnxBuilder, y: str, value_dim: int, name: str) -> str:
    """`[B, H, T, d_v]` -> `[B, T, H * d_v]`."""
    y = b.op("Transpose", y, name=f"{name}/time_first", perm=[0, 2, 1, 3])
    return b.op("Reshape", y, b.const([0, 0, value_dim]), name=f"{name}/merge_heads")


def key_mask(ctx: LowerContext, t: TensorType, count: str, layer: SelfAttention, name: str) -> str:
    """bool mask of the keys: causal `[Tq, Tk]` (k <= q), else `[B, 1, 1, Tk]` (k < the sequence's length; a
    0-frame sequence keeps key 0, so that no softmax row is all -inf: its padded output stays finite)."""
    b = ctx.builder
    positions = frames(b, count, f"{name}/frames")
    if layer.attention_left_only:
        return b.op("LessOrEqual", b.op("Unsqueeze", positions, b.const([0]), name=f"{name}/keys"),
                    b.op("Unsqueeze", positions, b.const([1]), name=f"{name}/queries"), name=f"{name}/causal")
    valid = b.op("Less", b.op("Unsqueeze", positions, b.const([0]), name=f"{name}/keys"),
                 b.op("Unsqueeze", b.op("Max", ctx.length_value(t.time), b.const(1, np.int32), name=f"{name}/len1"),
                      b.const([1]), name=f"{name}/lengths"),
                 name=f"{name}/valid_keys")
    return b.op("Unsqueeze", valid, b.const([1, 2]), name=f"{name}/valid")


def lower_self_attention(node: Node, layer: SelfAttention, ctx: LowerContext) -> str:
    """RETURNN SelfAttentionLayer over whole sequences: `[B, T, value_dim]`, causal with `attention_left_only`,
    else over each sequence's valid keys. Padded frames are zeroed first: their garbage (even inf) then never
    reaches a valid frame (weight 0 times a finite value)."""
    b, name = ctx.builder, node.name
    x, t = ctx.source_batch_major(node)
    x = ctx.mask(t, x, f"{name}/mask_in", stored=False)
    q, k, v = heads(b, x, b.initializer(f"{name}/QKV", ctx.param(node, "QKV")), layer, name)
    valid = key_mask(ctx, t, steps(b, x, 1, name), layer, name)
    y = attend(b, q, k, v, valid, ctx.values[layer.key_shift] if layer.key_shift else None, name)
    return ctx.stored(merge_heads(b, y, layer.value_dim, name), node.out_type, name)


def self_attention_step(b: OnnxBuilder, x: str, k_left: str, v_left: str, qkv: str, layer: SelfAttention,
                        name: str, key_shift: str | None = None) -> tuple[str, str, str]:
    """One step of a causal self_attention inside a recurrent unit (RETURNN SelfAttentionLayer with
    `_rec_previous_layer`: its `k_left`/`v_left` state).

    x: float `[B, n_in]` this step's input; k_left `[B, H, t, d_k]`, v_left `[B, H, t, d_v]` the keys and values
    of the t earlier steps (t = 0 at the first step); qkv: the `QKV` initializer `[n_in, 2 K + V]`; key_shift:
    `[1, t + 1, d_k]` (a relative_positional_encoding at this step) or None. Returns (y `[B, V]`, the new
    k_left and v_left with t + 1 steps). The step attends to every accumulated key (causal by construction)."""
    q, k, v = heads(b, b.op("Unsqueeze", x, b.const([1]), name=f"{name}/one_frame"), qkv, layer, name)
    k = b.op("Concat", k_left, k, name=f"{name}/k_left", axis=2)
    v = b.op("Concat", v_left, v, name=f"{name}/v_left", axis=2)
    y = merge_heads(b, attend(b, q, k, v, None, key_shift, name), layer.value_dim, name)
    return b.op("Squeeze", y, b.const([1]), name=f"{name}/step_out"), k, v


def signal(b: OnnxBuilder, position: str, n: int, name: str) -> str:
    """get_positional_encoding of int32 positions `[1 | B, T | 1]` -> float `[1 | B, T | 1, n]`."""
    scaled = b.op("Mul", b.op("Unsqueeze", b.op("Cast", position, name=f"{name}/position_f", to=FLOAT),
                              b.const([-1]), name=f"{name}/position_c"),
                  b.const(inv_timescales(n), np.float32), name=f"{name}/scaled_time")
    y = b.op("Concat", b.op("Sin", scaled, name=f"{name}/sin"), b.op("Cos", scaled, name=f"{name}/cos"),
             name=f"{name}/signal", axis=-1)
    if n % 2:  # positions are [1 | B, T | 1]: a 0 channel appended to the last of 3 axes
        y = b.op("Pad", y, b.const([0, 0, 0, 0, 0, 1]), name=f"{name}/odd")
    return y


def lower_positional_encoding(node: Node, layer: PositionalEncoding, ctx: LowerContext) -> str:
    """RETURNN PositionalEncodingLayer outside a unit: the sinusoids `[B, T, n_out]` of each frame's index (or
    `constant`), plus `offset`; added to the input with `add_to_input`."""
    b, name, out = ctx.builder, node.name, node.out_type
    x, t = ctx.source_batch_major(node)
    if layer.constant > -1:
        position = b.const([[layer.constant]], np.int32)  # [1, 1]
    else:
        position = b.op("Unsqueeze", frames(b, steps(b, x, 1, name), f"{name}/frames"), b.const([0]),
                        name=f"{name}/positions")  # [1, T]
    if layer.offset:
        offset_type = ctx.type_of(layer.offset)
        offset = ctx.batch_major(ctx.values[layer.offset], offset_type, f"{name}/offset")
        if len(offset_type.dims) == 1:
            offset = b.op("Unsqueeze", offset, b.const([1]), name=f"{name}/offset_b")
        position = b.op("Add", position, b.op("Cast", offset, name=f"{name}/offset32", to=INT32),
                        name=f"{name}/offset_positions")
    y = signal(b, position, out.feature, name)
    if layer.add_to_input:
        y = b.op("Add", x, y, name=f"{name}/add_to_input")
    else:
        shape = b.op("Concat", b.op("Slice", b.op("Shape", x, name=f"{name}/in_shape"), b.const([0]), b.const([2]),
                                    name=f"{name}/batch_time"), b.const([out.feature]), name=f"{name}/shape", axis=0)
        y = b.op("Expand", y, shape, name=f"{name}/tiled")
    return ctx.stored(y, out, name)


def lower_relative_positional_encoding(node: Node, layer: RelativePositionalEncoding, ctx: LowerContext) -> str:
    """`[T, T, n_out]`, T the padded number of frames of the input."""
    b, name = ctx.builder, node.name
    x, _ = ctx.source_batch_major(node)
    positions = frames(b, steps(b, x, 1, name), f"{name}/frames")
    distance = b.op("Sub", b.op("Unsqueeze", positions, b.const([0]), name=f"{name}/keys"),
                    b.op("Unsqueeze", positions, b.const([1]), name=f"{name}/queries"), name=f"{name}/distance")
    c = layer.clipping
    clipped = b.op("Min", b.op("Max", distance, b.const(-c, np.int32), name=f"{name}/clip_low"),
                   b.const(c, np.int32), name=f"{name}/clipped")
    index = b.op("Add", clipped, b.const(c, np.int32), name=f"{name}/index")
    matrix = (sinusoids(np.arange(2 * c + 1), node.out_type.feature) if layer.fixed
              else ctx.param(node, "encoding_matrix"))
    return b.op("Gather", b.initializer(f"{name}/encoding_matrix", np.ascontiguousarray(matrix, np.float32)), index,
                name=f"{name}/encoding", axis=0)
