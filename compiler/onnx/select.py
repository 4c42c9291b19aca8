"""ONNX lowering of `switch`, `gather`, `gather_nd` (ir/layers/select.py) on any dims: whole sequences outside
rec units, one step's frames inside them."""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers.select import Gather, Switch
from netc.ir.types import TensorType
from onnx import TensorProto

from .context import LowerContext
from .elementwise import operand


def lower_switch(node: Node, layer: Switch, ctx: LowerContext) -> str:
    """Where(condition, true, false), each operand aligned to the result's dims (RETURNN `where_bc`)."""
    b, out = ctx.builder, node.out_type

    def value(key: str, v: str | int | float) -> str:
        """An operand: a layer's value aligned to the result's dims, or a constant of the result's dtype."""
        if isinstance(v, str):
            return operand(ctx, v, out, f"{node.name}/{key}")
        return b.const(np.dtype(out.dtype).type(v), np.dtype(out.dtype))

    assert isinstance(layer.condition, str)
    cond = operand(ctx, layer.condition, out, f"{node.name}/condition")
    y = b.op("Where", cond, *(value(k, v) for k, v in layer.operands()), name=node.name)
    return ctx.stored(y, out, node.name)


def lower_gather(node: Node, layer: Gather, ctx: LowerContext) -> str:
    """GatherND with `batch_dims` = the common axes: the input as `[common..., axis, before..., after...]`, the
    positions as `[common..., own..., 1]`, the result transposed to `[common..., before..., own..., after...]`
    (RETURNN GatherLayer: tf.gather with batch_dims). Positions in padded frames are in range: class-index data
    is masked to 0 at the input, and every int32 layer makes indices of its own axes."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    if isinstance(layer.position, str):
        p_type = ctx.type_of(layer.position)
        p = ctx.batch_major(ctx.values[layer.position], p_type, f"{node.name}/position")
    else:
        p_type, p = TensorType((), "int32"), b.const(np.int32(layer.position), np.dtype(np.int32))
    plan = layer.plan(t, p_type, node.at)
    data_perm = [*plan.common, plan.axis, *plan.before, *plan.after]
    if data_perm != list(range(len(t.dims))):
        x = b.op("Transpose", x, name=f"{node.name}/data", perm=data_perm)
    index_perm = [*plan.position_common, *plan.position_own]
    if index_perm != list(range(len(p_type.dims))):
        p = b.op("Transpose", p, name=f"{node.name}/indices", perm=index_perm)
    p = b.op("Cast", b.op("Unsqueeze", p, b.const([len(p_type.dims)]), name=f"{node.name}/indices_1"),
             name=f"{node.name}/indices64", to=TensorProto.INT64)
    y = b.op("GatherND", x, p, name=f"{node.name}/gather", batch_dims=len(plan.common))
    # y: [common, own, before, after] -> [common, before, own, after]
    n_c, n_o, n_b = len(plan.common), len(plan.position_own), len(plan.before)
    perm = [*range(n_c), *range(n_c + n_o, n_c + n_o + n_b), *range(n_c, n_c + n_o),
            *range(n_c + n_o + n_b, n_c + n_o + n_b + len(plan.after))]
    if perm != list(range(len(perm))):
        y = b.op("Transpose", y, name=f"{node.name}/result", perm=perm)
    return ctx.stored(y, node.out_type, node.name)
