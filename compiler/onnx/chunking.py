"""ONNX lowering of `time_chunking` and `time_unchunking` (ir/layers/chunking.py; RETURNN native_op.py Chunking,
UnChunking), on values in their types' dim order.

Chunking gathers `C` windows of `chunk_size` frames every `chunk_step` frames (`C` from the padded length, as
RETURNN's kernel), then folds them into the batch; the chunk lengths become the chunk axis's lengths value.
Unchunking is an overlap-add of the chunks and of their valid-frame counts, then a division.
"""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers import TimeChunking, TimeUnChunking
from netc.ir.types import Chunked

from .context import LowerContext


def lower_time_chunking(node: Node, layer: TimeChunking, ctx: LowerContext) -> str:
    """`[B, T, ...]` (frames past each length zeroed) -> `[B*C, chunk_size, ...]`, row `b*C + c` = chunk c of b."""
    b, name = ctx.builder, node.name
    x, t = ctx.source_batch_major(node)
    axis = node.out_type.time
    assert isinstance(axis, Chunked)
    size, step = axis.size, axis.step
    x = ctx.mask(t, x, f"{name}/ends", stored=False)
    steps = b.op("Gather", b.op("Shape", x, name=f"{name}/shape"), b.const(1), name=f"{name}/steps", axis=0)
    reach = b.op("Max", b.op("Sub", steps, b.const(size - step + 1), name=f"{name}/reach"), b.const(0),
                 name=f"{name}/reach0")
    chunks = b.op("Add", b.op("Div", reach, b.const(step), name=f"{name}/chunks0"), b.const(1), name=f"{name}/chunks")
    total = b.op("Add", b.op("Mul", b.op("Sub", chunks, b.const(1), name=f"{name}/last"), b.const(step),
                             name=f"{name}/last_start"), b.const(size), name=f"{name}/total")
    pads = [0] * (2 * len(t.dims))
    pads[len(t.dims) + 1] = size  # (C-1)*step + size <= T + size: pad, then cut to exactly the chunks' reach
    x = b.op("Pad", x, b.const(pads), name=f"{name}/pad", mode="constant")
    x = b.op("Slice", x, b.const([0]), b.op("Unsqueeze", total, b.const([0]), name=f"{name}/total1"), b.const([1]),
             name=f"{name}/cut")
    starts = b.op("Range", b.const(0), b.op("Mul", chunks, b.const(step), name=f"{name}/limit"), b.const(step),
                  name=f"{name}/starts")
    indices = b.op("Add", b.op("Unsqueeze", starts, b.const([1]), name=f"{name}/starts_col"),
                   b.const(np.arange(size, dtype=np.int64)[None, :]), name=f"{name}/indices")
    y = b.op("Gather", x, indices, name=f"{name}/windows", axis=1)  # [B, C, size, ...]
    static = [d.size for d in t.dims[2:]]
    assert all(s is not None for s in static), f"{t}: chunking needs static dims after time"
    y = b.op("Reshape", y, b.const([-1, size, *static]), name=f"{name}/rows")
    if axis not in ctx.lengths:
        ctx.lengths[axis] = chunk_lengths(ctx, axis, starts, name)
    return ctx.stored(y, node.out_type, name)


def chunk_lengths(ctx: LowerContext, axis: Chunked, starts: str, name: str) -> str:
    """int32 `[B*C]`: `clip(len[b] - c*step, 0, size)` at row `b*C + c` for the chunks of sequence b alone, else 0
    (ir.types.chunk_lengths_numpy); `starts` is the int64 `[C]` chunk starts."""
    b, size, step = ctx.builder, axis.size, axis.step
    lengths = ctx.length_value(axis.parent)
    starts32 = b.op("Cast", b.op("Unsqueeze", starts, b.const([0]), name=f"{name}/starts_row"), name=f"{name}/s32",
                    to=6)
    rest = b.op("Sub", b.op("Unsqueeze", lengths, b.const([1]), name=f"{name}/len_col"), starts32,
                name=f"{name}/rest")
    clipped = b.op("Min", b.op("Max", rest, b.const(0, np.int32), name=f"{name}/rest0"), b.const(size, np.int32),
                   name=f"{name}/chunk_len")
    # each sequence's own chunks, as alone: c < n_chunks(len); the rows past them (from a longer batch-mate) empty
    reach = b.op("Max", b.op("Sub", lengths, b.const(size - step + 1, np.int32), name=f"{name}/own_reach"),
                 b.const(0, np.int32), name=f"{name}/own_reach0")
    own = b.op("Add", b.op("Div", reach, b.const(step, np.int32), name=f"{name}/own0"), b.const(1, np.int32),
               name=f"{name}/own")
    own = b.op("Mul", own, b.const(step, np.int32), name=f"{name}/own_end")
    mine = b.op("Less", starts32, b.op("Unsqueeze", own, b.const([1]), name=f"{name}/own_col"),
                name=f"{name}/mine")
    clipped = b.op("Where", mine, clipped, b.const(0, np.int32), name=f"{name}/own_len")
    return b.op("Reshape", clipped, b.const([-1]), name=f"lengths/{axis}")


def overlap_add(ctx: LowerContext, v: str, batch: str, axis: Chunked, rank: int, name: str) -> str:
    """`[B*C, size, ...]` (`batch`: `[1]` int64 B) -> `[B, (C + r - 1) * step, ...]`, frame `c*step + k` of sequence
    b summing row `b*C + c`'s frame k over c; r = ceil(size / step) chunks overlap at most."""
    b, size, step = ctx.builder, axis.size, axis.step
    r = -(-size // step)
    pads = [0] * (2 * rank)
    pads[rank + 1] = r * step - size
    v = b.op("Pad", v, b.const(pads), name=f"{name}/pad_step", mode="constant") if r * step != size else v
    rest = b.op("Slice", b.op("Shape", v, name=f"{name}/shape"), b.const([2]), b.const([rank]), name=f"{name}/rest")
    shape = b.op("Concat", batch, b.const([-1, r, step]), rest, name=f"{name}/blocks_shape", axis=0)
    blocks = b.op("Reshape", v, shape, name=f"{name}/blocks")  # [B, C, r, step, ...]
    total = None
    for j in range(r):
        part = b.op("Gather", blocks, b.const(j), name=f"{name}/block{j}", axis=2)  # [B, C, step, ...]
        shift = [0] * (2 * (rank + 1))
        shift[1], shift[rank + 2] = j, r - 1 - j
        part = b.op("Pad", part, b.const(shift), name=f"{name}/shift{j}", mode="constant")
        total = part if total is None else b.op("Add", total, part, name=f"{name}/sum{j}")
    assert total is not None
    shape = b.op("Concat", batch, b.const([-1]), rest, name=f"{name}/out_shape", axis=0)
    return b.op("Reshape", total, shape, name=f"{name}/frames")


def lower_time_unchunking(node: Node, layer: TimeUnChunking, ctx: LowerContext) -> str:
    """The mean over the chunks holding each frame (0 where none does), cut to the chunked input's padded length."""
    b, name = ctx.builder, node.name
    x, t = ctx.source_batch_major(node)
    axis = t.time
    assert isinstance(axis, Chunked) and layer.chunking_layer is not None
    x = ctx.mask(t, x, f"{name}/ends", stored=False)
    lengths = ctx.length_value(axis)
    frames = b.op("Range", b.const(0, np.int32), b.const(axis.size, np.int32), b.const(1, np.int32),
                  name=f"{name}/frames")
    valid = b.op("Less", b.op("Unsqueeze", frames, b.const([0]), name=f"{name}/frames_row"),
                 b.op("Unsqueeze", lengths, b.const([1]), name=f"{name}/len_col"), name=f"{name}/valid")
    ones = b.op("Unsqueeze", b.op("Cast", valid, name=f"{name}/ones", to=1), b.const([2]), name=f"{name}/ones3")
    batch = b.op("Shape", ctx.length_value(axis.parent), name=f"{name}/batch")
    total = overlap_add(ctx, x, batch, axis, len(t.dims), f"{name}/sum")
    count = overlap_add(ctx, ones, batch, axis, 3, f"{name}/count")
    source = ctx.graph[layer.chunking_layer].sources[0]
    source_type = ctx.type_of(source)
    steps = b.op("Gather", b.op("Shape", ctx.values[source], name=f"{name}/in_shape"),
                 b.const([0 if ctx.swapped(source_type) else 1]), name=f"{name}/steps", axis=0)
    total = b.op("Slice", total, b.const([0]), steps, b.const([1]), name=f"{name}/cut")
    count = b.op("Slice", count, b.const([0]), steps, b.const([1]), name=f"{name}/count_cut")
    if len(t.dims) > 3:
        count = b.op("Unsqueeze", count, b.const(list(range(3, len(t.dims)))), name=f"{name}/count_nd")
    y = b.op("Div", total, b.op("Max", count, b.const(np.float32(1.0), np.float32), name=f"{name}/count1"),
             name=f"{name}/mean")
    return ctx.stored(y, node.out_type, name)
