"""Torch lowering of self_attention, positional_encoding, relative_positional_encoding; mirrors
compiler/onnx/self_attention.py. `self_attention_step` is the per-step form for recurrent units.

self_attention in training drops attention weights with `attention_dropout` (inverted dropout per entry, as
RETURNN's `tf_util.dropout` on the weights).
"""

from __future__ import annotations

import torch
from netc.ir import Node
from netc.ir.layers import PositionalEncoding, RelativePositionalEncoding, SelfAttention
from netc.ir.layers.self_attention import inv_timescales, sinusoids
from netc.ir.types import DropoutNoise

from .context import RunContext


def heads(x: torch.Tensor, qkv: torch.Tensor, layer: SelfAttention) -> tuple[torch.Tensor, ...]:
    """x `[B, T, n_in]` -> q (scaled by d_k^-0.5), k, v `[B, H, T, d]` (x QKV split per head, as RETURNN)."""
    d_k, d_v = layer.key_dim // layer.heads, layer.value_dim // layer.heads
    y = (x @ qkv).reshape(x.shape[0], x.shape[1], layer.heads, 2 * d_k + d_v).transpose(1, 2)
    q, k, v = y.split([d_k, d_k, d_v], dim=-1)
    return q * d_k ** -0.5, k, v


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor | None,
           key_shift: torch.Tensor | None, drop: float = 0.0, ctx: RunContext | None = None) -> torch.Tensor:
    """softmax over keys of `q k^T (+ q key_shift^T)` where `valid` (bool, broadcast to `[B, H, Tq, Tk]`), with
    `drop` dropout on the weights (ctx's noise), times v: `[B, H, Tq, d_v]`. key_shift: `[Tq, Tk, d_k]`."""
    energy = q @ k.transpose(-1, -2)
    if key_shift is not None:
        energy = energy + torch.einsum("bhqd,qkd->bhqk", q, key_shift)
    if valid is not None:
        energy = energy.masked_fill(~valid, float("-inf"))
    weights = torch.softmax(energy, dim=-1)
    if drop and ctx is not None:
        weights = weights * ctx.dropout_mask(weights, drop, DropoutNoise.PER_ELEMENT)
    return weights @ v


def merge_heads(y: torch.Tensor) -> torch.Tensor:
    """`[B, H, T, d_v]` -> `[B, T, H * d_v]`."""
    return y.transpose(1, 2).reshape(y.shape[0], y.shape[2], -1)


def lower_self_attention(node: Node, layer: SelfAttention, ctx: RunContext) -> torch.Tensor:
    """RETURNN SelfAttentionLayer over whole sequences: `[B, T, value_dim]` stored as the layer's type, causal with
    `attention_left_only`, else over each sequence's valid keys; `attention_dropout` on the weights in training."""
    x, t = ctx.padded_source(node)  # zeros on padded frames
    q, k, v = heads(x, ctx.param(node, "QKV"), layer)
    frames = torch.arange(x.shape[1], device=x.device)
    if layer.attention_left_only:
        valid = frames[None, :] <= frames[:, None]
    else:
        lengths = ctx.packing(t.time).lengths.to(x.device).clamp(min=1)  # a 0-frame sequence: no NaN gradient
        valid = (frames[None, :] < lengths[:, None])[:, None, None, :]
    key_shift = ctx.values[layer.key_shift] if layer.key_shift else None
    drop = layer.attention_dropout if ctx.training else 0.0
    return ctx.store(node.out_type, merge_heads(attend(q, k, v, valid, key_shift, drop, ctx)))


def self_attention_step(x: torch.Tensor, k_left: torch.Tensor, v_left: torch.Tensor, qkv: torch.Tensor,
                        layer: SelfAttention, key_shift: torch.Tensor | None = None, drop: float = 0.0,
                        ctx: RunContext | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of a causal self_attention inside a recurrent unit (RETURNN SelfAttentionLayer with
    `_rec_previous_layer`: its `k_left`/`v_left` state), with `drop` attention dropout (ctx's noise) in training.

    x: `[B, n_in]` this step's input; k_left `[B, H, t, d_k]`, v_left `[B, H, t, d_v]` the keys and values of the
    t earlier steps (`[B, H, 0, d]` at the first step); qkv: the `QKV` parameter `[n_in, 2 K + V]`; key_shift:
    `[1, t + 1, d_k]` or None. Returns (y `[B, V]`, k_left and v_left with t + 1 steps)."""
    q, k, v = heads(x[:, None], qkv, layer)
    k, v = torch.cat([k_left, k], dim=2), torch.cat([v_left, v], dim=2)
    return merge_heads(attend(q, k, v, None, key_shift, drop, ctx))[:, 0], k, v


def signal(position: torch.Tensor, n: int) -> torch.Tensor:
    """get_positional_encoding of integer positions `[...]` -> float `[..., n]`."""
    scaled = position.to(torch.float32)[..., None] * torch.from_numpy(inv_timescales(n)).to(position.device)
    y = torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=-1)
    return torch.nn.functional.pad(y, (0, n % 2))


def lower_positional_encoding(node: Node, layer: PositionalEncoding, ctx: RunContext) -> torch.Tensor:
    """On packed frames: each frame's position is its time index (`Packing.step`)."""
    x = ctx.source(node)
    packing = ctx.packing(node.out_type.time)
    position = packing.step if layer.constant <= -1 else torch.full_like(packing.step, layer.constant)
    if layer.offset:
        offset = ctx.values[layer.offset]
        position = position + (offset[packing.seq] if ctx.graph.type_of(layer.offset).dims[1:] == () else offset)
    y = signal(position.to(torch.int64), node.out_type.feature)
    return x + y if layer.add_to_input else y


def lower_relative_positional_encoding(node: Node, layer: RelativePositionalEncoding,
                                       ctx: RunContext) -> torch.Tensor:
    """`[T, T, n_out]`, T the longest sequence (the padded length of every value on that axis)."""
    t = ctx.graph.input_type_of(node)
    assert t is not None
    frames = torch.arange(ctx.packing(t.time).steps)
    c = layer.clipping
    index = (frames[None, :] - frames[:, None]).clamp(-c, c) + c
    matrix = (torch.from_numpy(sinusoids(torch.arange(2 * c + 1).numpy(), node.out_type.feature)) if layer.fixed
              else ctx.param(node, "encoding_matrix"))
    return matrix[index.to(matrix.device)]
