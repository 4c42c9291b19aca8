"""Torch lowering of `switch`, `gather`, `gather_nd` (ir/layers/select.py; mirrors compiler/onnx/select.py) on
any dims: whole sequences outside rec units, one step's frames inside them."""

from __future__ import annotations

import torch
from netc.ir import Node
from netc.ir.layers.select import Gather, GatherNd, Switch
from netc.ir.types import TensorType

from .context import RunContext
from .elementwise import operand

TORCH_DTYPES = {"float32": torch.float32, "int32": torch.int32, "bool": torch.bool}


def lower_switch(node: Node, layer: Switch, ctx: RunContext) -> torch.Tensor:
    """torch.where(condition, true, false), each operand aligned to the result's dims (RETURNN `where_bc`)."""
    out = node.out_type

    def value(v: str | int | float) -> torch.Tensor:
        """An operand: a layer's value aligned to the result's dims, or a constant of the result's dtype."""
        if isinstance(v, str):
            return operand(ctx, v, out)
        return torch.tensor(v, dtype=TORCH_DTYPES[out.dtype])

    assert isinstance(layer.condition, str)
    cond = operand(ctx, layer.condition, out)
    true, false = (value(v) for _, v in layer.operands())
    return ctx.store(out, torch.where(cond, true.to(cond.device), false.to(cond.device)))


def lower_gather(node: Node, layer: Gather, ctx: RunContext) -> torch.Tensor:
    """The input as `[C, axis, rest...]` (C: the common axes flattened), the positions as `[C, P]`, indexed per
    row, reshaped to `[common..., own..., before..., after...]` and permuted to the result's order (RETURNN
    GatherLayer: tf.gather with batch_dims). Positions in padded frames are 0 (the unpacked padding)."""
    x, t = ctx.padded_source(node)
    if isinstance(layer.position, str):
        p_type = ctx.graph.type_of(layer.position)
        p = operand(ctx, layer.position, p_type)
    else:
        p_type, p = TensorType((), "int32"), torch.tensor(layer.position)
    plan = layer.plan(t, p_type, node.at)
    x = x.permute((*plan.common, plan.axis, *plan.before, *plan.after))
    p = p.permute((*plan.position_common, *plan.position_own)).long().to(x.device)
    n_c = len(plan.common)
    common, own, rest = x.shape[:n_c], p.shape[n_c:], x.shape[n_c + 1:]
    rows = x.reshape(-1, *x.shape[n_c:])
    index = p.reshape(rows.shape[0], -1)
    y = rows[torch.arange(rows.shape[0], device=x.device)[:, None], index]  # [C, P, rest...]
    y = y.reshape(*common, *own, *rest)
    n_o, n_b = len(own), len(plan.before)
    y = y.permute(*range(n_c), *range(n_c + n_o, n_c + n_o + n_b), *range(n_c, n_c + n_o),
                  *range(n_c + n_o + n_b, y.dim()))
    return ctx.store(node.out_type, y)


SELECT_LOWER = {Switch: lower_switch, Gather: lower_gather, GatherNd: lower_gather}
