"""Torch lowering of the reshape family (ir/layers/reshape.py); mirrors compiler/onnx/reshape.py.

Each layer works on its input as a padded tensor in its type's dim order (zeros past each sequence's
length) and stores its result packed again when the output is `[B, T, ...]` (RunContext.store).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from netc.ir import Node
from netc.ir.layers import ExpandDims, MergeDims, Pad, ReinterpretData, Slice, SplitDims, Squeeze, SwapAxes
from netc.ir.types import DimKind, TensorType

from .context import RunContext


def shape_of(x: torch.Tensor, t_in: TensorType, t_out: TensorType) -> list[int]:
    """`t_out`'s sizes, batch and time taken from `x` (of type `t_in`); a time axis `t_in` lacks (split or merged
    from its time axis) is the one -1."""
    dynamic = {d: x.shape[i] for i, d in enumerate(t_in.dims) if d.size is None}
    return [d.size if d.size is not None else dynamic.get(d, -1) for d in t_out.dims]


def lower_split_dims(node: Node, layer: SplitDims, ctx: RunContext) -> torch.Tensor:
    """On time: frames past each length become `pad_value`, the axis is padded to a multiple of the block."""
    x, t = ctx.padded_source(node)
    assert layer.axis is not None
    axis = layer.axis.resolve_one(t)
    if t.dims[axis].kind is DimKind.TIME and layer.time_block != 1:
        if layer.pad_value != 0.0:
            x = torch.where(ctx.valid(t, x), x, x.new_tensor(layer.pad_value))
        missing = -x.shape[axis] % layer.time_block
        x = F.pad(x, [0, 0] * (x.dim() - 1 - axis) + [0, missing], value=layer.pad_value)
    return ctx.store(node.out_type, x.reshape(shape_of(x, t, node.out_type)))


def lower_merge_dims(node: Node, layer: MergeDims, ctx: RunContext) -> torch.Tensor:
    x, t = ctx.padded_source(node)
    axes, target = layer.merge_plan(t)
    rest = [i for i in range(len(t.dims)) if i not in axes]
    perm = rest[:target] + axes + rest[target:]
    moved = x.permute(perm)
    return ctx.store(node.out_type, moved.reshape(shape_of(x, t, node.out_type)))


def lower_swap_axes(node: Node, layer: SwapAxes, ctx: RunContext) -> torch.Tensor:
    x, t = ctx.padded_source(node)
    return ctx.store(node.out_type, x.transpose(*layer.positions(t)))


def lower_expand_dims(node: Node, layer: ExpandDims, ctx: RunContext) -> torch.Tensor:
    x, t = ctx.padded_source(node)
    at = layer.position(t)
    y = x.unsqueeze(at)
    if layer.dim != 1:
        sizes = [-1] * y.dim()
        sizes[at] = layer.dim
        y = y.expand(sizes)
    return ctx.store(node.out_type, y)


def lower_squeeze(node: Node, layer: Squeeze, ctx: RunContext) -> torch.Tensor:
    x, t = ctx.padded_source(node)
    axes = layer.squeezed(t)
    return ctx.store(node.out_type, x.squeeze(axes) if axes else x)


def lower_slice(node: Node, layer: Slice, ctx: RunContext) -> torch.Tensor:
    x, t = ctx.padded_source(node)
    assert layer.axis is not None
    axis = layer.axis.resolve_one(t)
    dim = t.dims[axis]
    index: list[slice] = [slice(None)] * x.dim()
    if dim.kind is DimKind.TIME:
        index[axis] = slice(layer.slice_start or 0, None, layer.slice_step or 1)
        return ctx.store(node.out_type, x[tuple(index)])
    positions = list(range(dim.size or 0))[layer.slice_start:layer.slice_end:layer.slice_step]
    return ctx.store(node.out_type, x.index_select(axis, torch.tensor(positions, device=x.device)))


def lower_pad(node: Node, layer: Pad, ctx: RunContext) -> torch.Tensor:
    """Constant padding; padding time starts at each sequence's own end."""
    x, t = ctx.padded_source(node)
    plan = layer.plan(t)
    if any(t.dims[a].kind is DimKind.TIME for a, _ in plan) and layer.value != 0.0:
        x = torch.where(ctx.valid(t, x), x, x.new_tensor(layer.value))
    widths = [0] * (2 * x.dim())
    for axis, (left, right) in plan:
        k = 2 * (x.dim() - 1 - axis)  # F.pad lists the last axis first
        widths[k], widths[k + 1] = left, right
    return ctx.store(node.out_type, F.pad(x, widths, value=layer.value))


def lower_reinterpret_data(node: Node, layer: ReinterpretData, ctx: RunContext) -> torch.Tensor:
    """The same values; with `size_base`, packed by the base's lengths (zeros where those are longer)."""
    x, t = ctx.padded_source(node)
    out = node.out_type
    if out.is_packable and t.is_packable:
        steps = ctx.packing(out.time).steps
        if x.shape[1] < steps:
            x = F.pad(x, [0, 0] * (x.dim() - 2) + [0, steps - x.shape[1]])
    return ctx.store(out, x)
