"""Torch lowering of dot; mirrors compiler/onnx/dot.py."""

from __future__ import annotations

import torch
from netc.ir import Node
from netc.ir.layers import Dot

from .context import RunContext


def padded(ctx: RunContext, name: str) -> torch.Tensor:
    """A layer's value in its type's dim order (a packed `[B, T, ...]` value unpacked)."""
    t = ctx.graph.type_of(name)
    return ctx.packing(t.time).unpack(ctx.values[name]) if t.is_packable else ctx.values[name]


def lower_dot(node: Node, layer: Dot, ctx: RunContext) -> torch.Tensor:
    ta, tb = (ctx.graph.type_of(s) for s in layer.sources)
    plan = layer.plan(ta, tb, node.at)
    y = torch.einsum(plan.einsum(len(ta.dims), len(tb.dims)), padded(ctx, layer.sources[0]),
                     padded(ctx, layer.sources[1]))
    if len(node.out_type.dims) > y.dim():  # add_var2_if_empty
        y = y[..., None]
    return ctx.store(node.out_type, y)
