"""Torch lowering of variable; mirrors compiler/onnx/variable.py."""

from __future__ import annotations

import torch
from netc.ir import Node, TimeAxis
from netc.ir.layers import Variable

from .context import RunContext


def lower_variable(node: Node, layer: Variable, ctx: RunContext) -> torch.Tensor:
    y = ctx.param(node, layer.param_key(node.name))
    if layer.add_time_axis:
        y = y[None]
    if layer.add_batch_axis:
        y = y.expand(len(ctx.packing(TimeAxis.DATA).lengths), *y.shape)
    return y
