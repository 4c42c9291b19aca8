"""ONNX lowering of variable (ir/layers/variable.py): the parameter as an initializer, expanded over the batch."""

from __future__ import annotations

import numpy as np
from netc.ir import Node, TimeAxis
from netc.ir.layers import Variable

from .context import LowerContext


def lower_variable(node: Node, layer: Variable, ctx: LowerContext) -> str:
    b = ctx.builder
    value = ctx.param(node, layer.param_key(node.name))
    if layer.add_time_axis:
        value = value[None]
    y = b.initializer(f"{node.name}/{layer.param_key(node.name)}", np.ascontiguousarray(value, np.float32))
    if not layer.add_batch_axis:
        return y
    batch = b.op("Shape", ctx.length_value(TimeAxis.DATA), name=f"{node.name}/batch")
    shape = b.op("Concat", batch, b.const(list(value.shape)), name=f"{node.name}/shape", axis=0)
    return b.op("Expand", b.op("Unsqueeze", y, b.const([0]), name=f"{node.name}/batch_axis"), shape,
                name=f"{node.name}/expand")
