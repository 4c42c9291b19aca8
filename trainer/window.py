"""Torch lowering of `window` (mirrors compiler/onnx/window.py): pad, then `unfold` over time."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from netc.ir import Node
from netc.ir.layers import Window

from .context import RunContext


def lower_window(node: Node, layer: Window, ctx: RunContext) -> torch.Tensor:
    x, t = ctx.padded_source(node)  # zeros past each length
    axis, size = t.time_index, layer.window_size or 1
    assert axis is not None
    left, right = layer.sides
    right = max(right, size - (x.shape[axis] + left))  # unfold needs one whole window; extra frames are zeros
    widths = [0] * (2 * x.dim())
    k = 2 * (x.dim() - 1 - axis)
    widths[k], widths[k + 1] = left, right
    windows = F.pad(x, widths).unfold(axis, size, layer.stride)  # [..., T', ..., W]
    return ctx.store(node.out_type, windows.movedim(-1, axis + 1))
