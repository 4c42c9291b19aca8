"""ONNX lowering of conv and pool (ir/layers/conv.py): channels-first Conv/MaxPool/AveragePool on each
sequence's own frames (masked), and for SAME padding with a time stride the per-sequence frame pick."""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers import Conv, Pool
from netc.ir.layers.conv import AxisPlan, PoolMode, Spatial
from netc.ir.types import TensorType

from .activations import apply_activation
from .context import LowerContext
from .reshape import reshape_to

LOWEST = float(np.finfo(np.float32).min)


def spatial_input(node: Node, layer: Spatial, ctx: LowerContext, fill: float) -> tuple[str, TensorType, list[AxisPlan]]:
    """The input transformed (RETURNN transform_input) and masked with `fill` past each length, batch-major."""
    x, t_in = ctx.source_batch_major(node)
    t, plans = layer.plans(t_in, node.at)
    if t != t_in:
        x = reshape_to(ctx, x, t_in, t, f"{node.name}/transform")
    if t.has_time:
        x = ctx.mask(t, x, f"{node.name}/ends", stored=False, fill=fill)
    return x, t, plans


def channels_first(ctx: LowerContext, x: str, t: TensorType, name: str) -> str:
    rank = len(t.dims)
    return ctx.builder.op("Transpose", x, name=f"{name}/channels_first", perm=[0, rank - 1, *range(1, rank - 1)])


def attributes(plans: list[AxisPlan]) -> dict[str, list[int]]:
    return {"kernel_shape": [p.kernel for p in plans], "strides": [p.stride for p in plans],
            "pads": [p.left for p in plans] + [p.right for p in plans]}


def finish(node: Node, ctx: LowerContext, y: str, t: TensorType, plans: list[AxisPlan]) -> str:
    """The per-sequence frame pick (SAME with a time stride), channels last, the stored layout."""
    if plans and plans[0].gather_stride > 1:
        y = pick_frames(node, ctx, y, plans[0], t)
    rank = len(t.dims)
    y = ctx.builder.op("Transpose", y, name=f"{node.name}/channels_last", perm=[0, *range(2, rank), 1])
    return ctx.stored(y, node.out_type, node.name)


def pick_frames(node: Node, ctx: LowerContext, y: str, plan: AxisPlan, t: TensorType) -> str:
    """y ran at time stride 1 with left padding `plan.left`; frame t of sequence b is y[t*s + left - left_b],
    left_b TF's SAME left padding for that sequence's length."""
    b, name, s = ctx.builder, node.name, plan.gather_stride
    n = b.op("Cast", ctx.length_value(t.time), name=f"{name}/n64", to=7)
    reach = (plan.kernel - 1) * plan.dilation
    steps = b.op("Div", b.op("Add", n, b.const(s - 1), name=f"{name}/n_up"), b.const(s), name=f"{name}/steps_b")
    total = b.op("Sub", b.op("Add", b.op("Mul", b.op("Sub", steps, b.const(1), name=f"{name}/steps_1"),
                                         b.const(s), name=f"{name}/span"), b.const(reach + 1), name=f"{name}/reach"),
                 n, name=f"{name}/total")
    left = b.op("Div", b.op("Max", total, b.const(0), name=f"{name}/total0"), b.const(2), name=f"{name}/left_b")
    offset = b.op("Sub", b.const(plan.left), left, name=f"{name}/offset")
    shape = b.op("Shape", y, name=f"{name}/y_shape")
    t_in = b.op("Sub", b.op("Gather", shape, b.const([2]), name=f"{name}/t_z", axis=0), b.const([plan.left]),
                name=f"{name}/t_in")  # y has `left` more frames than the input
    t_out = b.op("Div", b.op("Add", t_in, b.const(s - 1), name=f"{name}/t_up"), b.const(s), name=f"{name}/t_out")
    starts = b.op("Mul", b.op("Range", b.const(0), b.op("Squeeze", t_out, name=f"{name}/t_out0"), b.const(1),
                              name=f"{name}/frames"), b.const(s), name=f"{name}/starts")
    index = b.op("Add", b.op("Unsqueeze", starts, b.const([0]), name=f"{name}/starts_row"),
                 b.op("Unsqueeze", offset, b.const([1]), name=f"{name}/offset_col"), name=f"{name}/index")  # [B, T']
    rank = len(t.dims)
    index = b.op("Unsqueeze", index, b.const([1, *range(3, rank)]), name=f"{name}/index_nd")
    target = b.op("Concat", b.op("Slice", shape, b.const([0]), b.const([2]), name=f"{name}/bc"), t_out,
                  b.op("Slice", shape, b.const([3]), b.const([rank]), name=f"{name}/rest"), name=f"{name}/target",
                  axis=0)
    index = b.op("Expand", index, target, name=f"{name}/index_full")
    return b.op("GatherElements", y, index, name=f"{name}/pick", axis=2)


def lower_conv(node: Node, layer: Conv, ctx: LowerContext) -> str:
    b = ctx.builder
    x, t, plans = spatial_input(node, layer, ctx, 0.0)
    x = channels_first(ctx, x, t, node.name)
    rank = len(layer.filter_size)
    W = ctx.param(node, "W").transpose(rank + 1, rank, *range(rank))  # [k..., in, out] -> [out, in, k...]
    inputs = [x, b.initializer(f"{node.name}/W", np.ascontiguousarray(W))]
    if layer.with_bias:
        inputs.append(b.initializer(f"{node.name}/bias", ctx.param(node, "bias")))
    y = b.op("Conv", *inputs, name=f"{node.name}/conv", dilations=[p.dilation for p in plans], **attributes(plans))
    y = finish(node, ctx, y, t, plans)
    return apply_activation(b, ctx.activation(node, layer.activation), y, node.name, ctx.opset)


def lower_pool(node: Node, layer: Pool, ctx: LowerContext) -> str:
    """max: frames past each end are float32's lowest; avg: the pooled sum over the pooled count of real
    frames (TF excludes SAME padding from the average; netc also each sequence's padded frames)."""
    b = ctx.builder
    is_max = layer.mode is PoolMode.MAX
    x, t, plans = spatial_input(node, layer, ctx, LOWEST if is_max else 0.0)
    if is_max:
        y = b.op("MaxPool", channels_first(ctx, x, t, node.name), name=f"{node.name}/max",
                 dilations=[p.dilation for p in plans], **attributes(plans))
    else:
        ones = b.op("Expand", b.const(np.float32(1), np.float32), b.op("Shape", x, name=f"{node.name}/x_shape"),
                    name=f"{node.name}/ones")
        if t.has_time:
            ones = ctx.mask(t, ones, f"{node.name}/real", stored=False)
        x, ones = channels_first(ctx, x, t, node.name), channels_first(ctx, ones, t, f"{node.name}/real")
        total = b.op("AveragePool", x, name=f"{node.name}/sum", count_include_pad=1, **attributes(plans))
        count = b.op("AveragePool", ones, name=f"{node.name}/count", count_include_pad=1, **attributes(plans))
        count = b.op("Max", count, b.const(np.float32(1e-30), np.float32), name=f"{node.name}/count1")
        y = b.op("Div", total, count, name=f"{node.name}/avg")
    return finish(node, ctx, y, t, plans)
