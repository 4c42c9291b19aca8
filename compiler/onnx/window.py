"""ONNX lowering of `window`: zeros past each sequence's end, padding, then one Gather of all windows."""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers import Window

from .context import LowerContext


def lower_window(node: Node, layer: Window, ctx: LowerContext) -> str:
    b, name = ctx.builder, node.name
    x, t = ctx.source_batch_major(node)
    axis, size, stride = t.time_index, layer.window_size or 1, layer.stride
    assert axis is not None
    left, right = layer.sides
    x = ctx.mask(t, x, f"{name}/ends", stored=False)
    pads = [0] * (2 * len(t.dims))
    pads[axis], pads[len(t.dims) + axis] = left, right
    x = b.op("Pad", x, b.const(pads), name=f"{name}/pad", mode="constant")
    steps = b.op("Gather", b.op("Shape", x, name=f"{name}/shape"), b.const(axis), name=f"{name}/steps", axis=0)
    # the padded length minus the last window start's reach, over the stride, rounded up (>= 0 by Max)
    reach = b.op("Sub", steps, b.const(size - 1), name=f"{name}/reach")
    count = b.op("Div", b.op("Add", b.op("Max", reach, b.const(0), name=f"{name}/reach0"), b.const(stride - 1),
                             name=f"{name}/round"), b.const(stride), name=f"{name}/count")
    starts = b.op("Range", b.const(0), b.op("Mul", count, b.const(stride), name=f"{name}/limit"), b.const(stride),
                  name=f"{name}/starts")
    offsets = b.const(np.arange(size, dtype=np.int64)[None, :])
    indices = b.op("Add", b.op("Unsqueeze", starts, b.const([1]), name=f"{name}/starts_col"), offsets,
                   name=f"{name}/indices")
    y = b.op("Gather", x, indices, name=f"{name}/windows", axis=axis)
    return ctx.stored(y, node.out_type, name)
