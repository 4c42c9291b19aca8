"""ONNX lowering of dot (ir/layers/dot.py): one Einsum over both sources in their types' dim order."""

from __future__ import annotations

from netc.ir import Node
from netc.ir.layers import Dot

from .context import LowerContext


def lower_dot(node: Node, layer: Dot, ctx: LowerContext) -> str:
    b = ctx.builder
    (ta, tb), out = (ctx.type_of(s) for s in layer.sources), node.out_type
    plan = layer.plan(ta, tb, node.at)
    xa = ctx.batch_major(ctx.values[layer.sources[0]], ta, f"{node.name}/a")
    xb = ctx.batch_major(ctx.values[layer.sources[1]], tb, f"{node.name}/b")
    y = b.op("Einsum", xa, xb, name=f"{node.name}/einsum", equation=plan.einsum(len(ta.dims), len(tb.dims)))
    if len(out.dims) > len(plan.rem1) + len(plan.var1) + len(plan.var2):  # add_var2_if_empty
        y = b.op("Unsqueeze", y, b.const([len(out.dims) - 1]), name=f"{node.name}/var2")
    return ctx.stored(y, out, node.name)
