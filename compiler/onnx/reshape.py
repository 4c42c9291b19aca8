"""ONNX lowering of the reshape family (ir/layers/reshape.py), on values in their types' dim order."""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers import ExpandDims, MergeDims, Pad, ReinterpretData, Slice, SplitDims, Squeeze, SwapAxes
from netc.ir.types import DimKind, TensorType

from .context import LowerContext


def reshape_to(ctx: LowerContext, x: str, t_in: TensorType, t_out: TensorType, name: str) -> str:
    """Reshape a value of type `t_in` to `t_out`; batch and time sizes are read from `x`'s shape (a time axis
    that `t_in` lacks, split or merged from its time axis, is the one -1)."""
    b = ctx.builder
    pieces, shape = [], None
    for dim in t_out.dims:
        if dim.size is not None:
            pieces.append(b.const([dim.size]))
            continue
        index = next((i for i, d in enumerate(t_in.dims) if d == dim), None)
        if index is None:
            pieces.append(b.const([-1]))
            continue
        shape = shape or b.op("Shape", x, name=f"{name}/shape")
        pieces.append(b.op("Gather", shape, b.const([index]), name=f"{name}/dim{index}", axis=0))
    target = b.op("Concat", *pieces, name=f"{name}/target_shape", axis=0)
    return b.op("Reshape", x, target, name=f"{name}/reshape")


def lower_split_dims(node: Node, layer: SplitDims, ctx: LowerContext) -> str:
    """On time: frames past each length become `pad_value`, the axis is padded to a multiple of the block."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    assert layer.axis is not None
    axis = layer.axis.resolve_one(t)
    if t.dims[axis].kind is DimKind.TIME and layer.time_block != 1:
        block, name = layer.time_block, node.name
        x = ctx.mask(t, x, f"{name}/ends", stored=False, fill=layer.pad_value)
        steps = b.op("Gather", b.op("Shape", x, name=f"{name}/shape_in"), b.const([axis]), name=f"{name}/steps",
                     axis=0)
        missing = b.op("Mod", b.op("Sub", b.const([block]), b.op("Mod", steps, b.const([block]), name=f"{name}/rem"),
                                   name=f"{name}/short"), b.const([block]), name=f"{name}/missing")
        pads = b.op("Concat", b.const([0] * (len(t.dims) + axis)), missing, b.const([0] * (len(t.dims) - axis - 1)),
                    name=f"{name}/pads", axis=0)
        x = b.op("Pad", x, pads, b.const(np.float32(layer.pad_value), np.float32), name=f"{name}/pad",
                 mode="constant")
    return ctx.stored(reshape_to(ctx, x, t, node.out_type, node.name), node.out_type, node.name)


def lower_merge_dims(node: Node, layer: MergeDims, ctx: LowerContext) -> str:
    """Transpose the merged axes next to each other (in merge order) at the target position, then reshape."""
    x, t = ctx.source_batch_major(node)
    axes, target = layer.merge_plan(t)
    rest = [i for i in range(len(t.dims)) if i not in axes]
    perm = rest[:target] + axes + rest[target:]
    moved = t.with_dims(tuple(t.dims[i] for i in perm))
    if perm != sorted(perm):
        x = ctx.builder.op("Transpose", x, name=f"{node.name}/transpose", perm=perm)
    return ctx.stored(reshape_to(ctx, x, moved, node.out_type, node.name), node.out_type, node.name)


def lower_swap_axes(node: Node, layer: SwapAxes, ctx: LowerContext) -> str:
    x, t = ctx.source_batch_major(node)
    i, j = layer.positions(t)
    perm = list(range(len(t.dims)))
    perm[i], perm[j] = j, i
    y = ctx.builder.op("Transpose", x, name=f"{node.name}/transpose", perm=perm)
    return ctx.stored(y, node.out_type, node.name)


def lower_expand_dims(node: Node, layer: ExpandDims, ctx: LowerContext) -> str:
    """Unsqueeze, then repeat to `dim` (RETURNN `expand_dims_unbroadcast`)."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    at = layer.position(t)
    y = b.op("Unsqueeze", x, b.const([at]), name=f"{node.name}/unsqueeze")
    if layer.dim != 1:
        repeats = [1] * (len(t.dims) + 1)
        repeats[at] = layer.dim
        y = b.op("Tile", y, b.const(repeats), name=f"{node.name}/tile")
    return ctx.stored(y, node.out_type, node.name)


def lower_squeeze(node: Node, layer: Squeeze, ctx: LowerContext) -> str:
    x, t = ctx.source_batch_major(node)
    axes = layer.squeezed(t)
    y = ctx.builder.op("Squeeze", x, ctx.builder.const(axes), name=f"{node.name}/squeeze") if axes else x
    return ctx.stored(y, node.out_type, node.name)


def lower_slice(node: Node, layer: Slice, ctx: LowerContext) -> str:
    """A static axis: Gather of the sliced indices (Python's slice rules); time: each sequence from `start` by
    `step` (the frames past each new length are padding)."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    assert layer.axis is not None
    axis = layer.axis.resolve_one(t)
    dim = t.dims[axis]
    if dim.kind is DimKind.TIME:
        start, step = layer.slice_start or 0, layer.slice_step or 1
        y = b.op("Slice", x, b.const([start]), b.const([np.iinfo(np.int64).max]), b.const([axis]), b.const([step]),
                 name=f"{node.name}/slice")
    else:
        indices = list(range(dim.size or 0))[layer.slice_start:layer.slice_end:layer.slice_step]
        y = b.op("Gather", x, b.const(indices), name=f"{node.name}/gather", axis=axis)
    return ctx.stored(y, node.out_type, node.name)


def lower_pad(node: Node, layer: Pad, ctx: LowerContext) -> str:
    """Constant padding; on time each sequence's frames past its end first become `value`, so the right
    padding starts at each sequence's own end."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    plan = layer.plan(t)
    if any(t.dims[a].kind is DimKind.TIME for a, _ in plan):
        x = ctx.mask(t, x, f"{node.name}/tail", stored=False, fill=layer.value)
    begins, ends = [0] * len(t.dims), [0] * len(t.dims)
    for axis, (left, right) in plan:
        begins[axis], ends[axis] = left, right
    y = b.op("Pad", x, b.const(begins + ends), b.const(np.float32(layer.value), np.float32), name=f"{node.name}/pad",
             mode="constant")
    return ctx.stored(y, node.out_type, node.name)


def lower_reinterpret_data(node: Node, layer: ReinterpretData, ctx: LowerContext) -> str:
    """The same values; with `size_base`, cut or zero-padded to the base's padded length, so that values on one
    time axis always have the same number of frames."""
    if layer.size_base is None:
        return ctx.source(node)
    b, name = ctx.builder, node.name
    x, t = ctx.source_batch_major(node)
    base_type = ctx.type_of(layer.size_base)
    base = ctx.batch_major(ctx.values[layer.size_base], base_type, f"{name}/base")
    axis, base_axis = t.time_index, base_type.time_index
    assert axis is not None and base_axis is not None
    steps = b.op("Gather", b.op("Shape", base, name=f"{name}/base_shape"), b.const([base_axis]), name=f"{name}/steps",
                 axis=0)
    have = b.op("Gather", b.op("Shape", x, name=f"{name}/shape"), b.const([axis]), name=f"{name}/have", axis=0)
    missing = b.op("Max", b.op("Sub", steps, have, name=f"{name}/short"), b.const([0]), name=f"{name}/missing")
    pads = [b.const([0] * (len(t.dims) + axis))]
    pads += [missing, b.const([0] * (len(t.dims) - axis - 1))]
    x = b.op("Pad", x, b.op("Concat", *pads, name=f"{name}/pads", axis=0), name=f"{name}/pad", mode="constant")
    x = b.op("Slice", x, b.const([0]), steps, b.const([axis]), name=f"{name}/cut")
    return ctx.stored(x, node.out_type, name)
