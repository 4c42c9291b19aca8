"""Torch lowering of `time_chunking` and `time_unchunking` (ir/layers/chunking.py); mirrors
compiler/onnx/chunking.py. Both are differentiable (gathers, pads and sums), so the layers between train.

The batch of chunks gets its own packing: `B*C` rows whose lengths are the chunk lengths (0 for the chunks
past a shorter sequence's end, which no frame of the packed layout holds).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from netc.ir import Node
from netc.ir.layers import TimeChunking, TimeUnChunking
from netc.ir.types import Chunked, n_chunks

from .context import RunContext
from .packing import Packing


def chunk_lengths(axis: Chunked, lengths: torch.Tensor, chunks: int) -> torch.Tensor:
    """`[B*C]` int64: `clip(len[b] - c*step, 0, size)` at row `b*C + c` for the chunks of sequence b alone, else 0
    (ir.types.chunk_lengths_numpy)."""
    starts = torch.arange(chunks, device=lengths.device)[None, :] * axis.step
    own = (torch.clamp(lengths - axis.size + axis.step - 1, min=0) // axis.step + 1)[:, None]
    rest = (lengths[:, None] - starts).clamp(0, axis.size)
    return torch.where(starts < own * axis.step, rest, torch.zeros_like(rest)).reshape(-1)


def lower_time_chunking(node: Node, layer: TimeChunking, ctx: RunContext) -> torch.Tensor:
    """`[B, T, ...]` -> `[B*C, chunk_size, ...]` (stored packed on the chunk axis)."""
    x, _ = ctx.padded_source(node)
    axis = node.out_type.time
    assert isinstance(axis, Chunked)
    chunks = n_chunks(x.shape[1], axis.size, axis.step)
    reach = (chunks - 1) * axis.step + axis.size
    x = F.pad(x, [0, 0] * (x.dim() - 2) + [0, reach - x.shape[1]])
    windows = x.unfold(1, axis.size, axis.step).movedim(-1, 2)  # [B, C, size, ...]
    if axis not in ctx.packings:
        ctx.packings[axis] = Packing.of(chunk_lengths(axis, ctx.packing(axis.parent).lengths, chunks))
    return ctx.store(node.out_type, windows.reshape(-1, *windows.shape[2:]))


def overlap_add(v: torch.Tensor, batch: int, axis: Chunked) -> torch.Tensor:
    """`[B*C, size, ...]` -> `[B, (C + r - 1) * step, ...]`: frame `c*step + k` of sequence b sums row `b*C + c`'s
    frame k over c (r = ceil(size / step), the most chunks that overlap)."""
    size, step = axis.size, axis.step
    r = -(-size // step)
    v = F.pad(v, [0, 0] * (v.dim() - 2) + [0, r * step - size])
    blocks = v.reshape(batch, -1, r, step, *v.shape[2:])
    chunks = blocks.shape[1]
    total = sum(F.pad(blocks[:, :, j], [0, 0] * (blocks.dim() - 3) + [j, r - 1 - j]) for j in range(r))
    assert isinstance(total, torch.Tensor)
    return total.reshape(batch, (chunks + r - 1) * step, *v.shape[2:])


def lower_time_unchunking(node: Node, layer: TimeUnChunking, ctx: RunContext) -> torch.Tensor:
    """The mean over the chunks holding each frame (0 where none does), on the chunked input's axis."""
    x, t = ctx.padded_source(node)
    axis = t.time
    assert isinstance(axis, Chunked)
    x = F.pad(x, [0, 0] * (x.dim() - 2) + [0, axis.size - x.shape[1]])
    lengths = ctx.packing(axis).lengths.to(x.device)
    valid = (torch.arange(axis.size, device=x.device)[None, :] < lengths[:, None]).to(x.dtype)
    parent = ctx.packing(axis.parent)
    batch, steps = len(parent.lengths), parent.steps
    total = overlap_add(x, batch, axis)[:, :steps]
    count = overlap_add(valid, batch, axis)[:, :steps]
    count = count.reshape(count.shape + (1,) * (total.dim() - 2))
    return ctx.store(node.out_type, total / count.clamp(min=1.0))
