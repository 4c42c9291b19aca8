"""Torch lowering of downsample and upsample; mirrors compiler/onnx/sampling.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from netc.ir import Node
from netc.ir.layers import Downsample, Upsample
from netc.ir.layers.sampling import DownsampleMethod

from .context import RunContext

REDUCE = {DownsampleMethod.AVERAGE: lambda x, d: x.mean(dim=d), DownsampleMethod.MAX: lambda x, d: x.amax(dim=d),
          DownsampleMethod.MIN: lambda x, d: x.amin(dim=d)}


def lower_downsample(node: Node, layer: Downsample, ctx: RunContext) -> torch.Tensor:
    x, _ = ctx.padded_source(node)
    f, reduce = layer.factors, REDUCE[layer.method]
    if f.get(0, 1) > 1:
        k = f[0]
        groups = x.shape[1] // k
        x = reduce(x[:, :groups * k].reshape(x.shape[0], groups, k, x.shape[2]), 2)
    if f.get(2, 1) > 1:
        x = reduce(x.reshape(x.shape[0], x.shape[1], -1, f[2]), 3)
    return ctx.store(node.out_type, x)


def lower_upsample(node: Node, layer: Upsample, ctx: RunContext) -> torch.Tensor:
    """Time: frame t of sequence b is x[b, min(t // f, len_b - 1)] over the last source's frames."""
    f = layer.factors
    parts = [ctx.packing(ctx.graph.type_of(s).time).unpack(ctx.values[s]) for s in layer.values]
    x = torch.cat(parts, dim=-1)
    if f.get(2, 1) > 1:
        x = x.repeat_interleave(f[2], dim=-1)
    if layer.time_like_last_source and 0 in f:
        steps = ctx.packing(node.out_type.time).steps
        lengths = ctx.packing(ctx.graph.type_of(layer.values[0]).time).lengths.to(x.device)
        frames = torch.arange(steps, device=x.device) // f[0]
        index = torch.minimum(frames[None, :], (lengths - 1).clamp(min=0)[:, None])  # [B, T']
        x = F.pad(x, [0, 0, 0, 1])  # one extra zero frame: frame 0 exists even when every source is empty
        x = torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))
        x = torch.where((lengths > 0)[:, None, None], x, 0.0)  # an empty source: zeros
    return ctx.store(node.out_type, x)
