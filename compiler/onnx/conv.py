"""ONNX lowering of conv and pool (ir/layers/conv.py): channels-first Conv/MaxPool/AveragePool on each
sequence's own frames (masked), and for SAME padding with a time stride the per-sequence frame pick. Max pooling
over time alone runs in the stored layout instead (`lower_time_max_pool`: strided slices, no transposes), and an
op whose time window is one frame reads no other frame, so it needs no mask."""

from __future__ import annotations

import numpy as np
from netc.ir import Act, Node
from netc.ir.layers import Conv, Pool, TransposedConv
from netc.ir.layers.conv import AxisPlan, PoolMode, Spatial
from netc.ir.types import LengthRule, TensorType

from .activations import apply_activation
from .context import LowerContext
from .reshape import reshape_to

LOWEST = float(np.finfo(np.float32).min)


def spatial_input(node: Node, layer: Spatial, ctx: LowerContext, fill: float) -> tuple[str, TensorType, list[AxisPlan]]:
    """The input transformed (RETURNN transform_input) and masked with `fill` past each length, batch-major
    (time, if any, is axis 1)."""
    x, t_in = ctx.source_batch_major(node)
    t, plans = layer.plans(t_in, node.at)
    if t != t_in:
        x = reshape_to(ctx, x, t_in, t, f"{node.name}/transform")
    if t.has_time and not one_frame(plans[0]):
        x = ctx.mask(t, x, f"{node.name}/ends", stored=False, fill=fill)
    return x, t, plans


def one_frame(plan: AxisPlan) -> bool:
    """Whether each output frame of the time axis is computed from the input frame at its own index alone (window
    of 1, stride 1): frames past a sequence's end then never reach a valid frame, and the axis needs no mask, pad
    or cut (its frames past the end are garbage like any layer's)."""
    return plan.kernel == 1 and plan.stride == 1 and plan.gather_stride == 1


def channels_first(ctx: LowerContext, x: str, t: TensorType, name: str) -> str:
    rank = len(t.dims)
    return ctx.builder.op("Transpose", x, name=f"{name}/channels_first", perm=[0, rank - 1, *range(1, rank - 1)])


def pad_time(ctx: LowerContext, x: str, t: TensorType, plans: list[AxisPlan], fill: float, name: str) -> str:
    """The time axis's padding as a Pad op (batch-major, time axis 1): ONNX pooling needs pads below the kernel."""
    if not t.has_time or one_frame(plans[0]):
        return x
    b, rank = ctx.builder, len(t.dims)
    pads = [0] * (2 * rank)
    pads[1], pads[rank + 1] = plans[0].left, plans[0].right
    return b.op("Pad", x, b.const(pads), b.const(np.float32(fill), np.float32), name=f"{name}/pad_time",
                mode="constant")


def attributes(plans: list[AxisPlan], t: TensorType) -> dict[str, list[int]]:
    """Kernel, strides, and the static axes' pads (the time axis is padded by pad_time)."""
    static = [(0, 0) if t.has_time and i == 0 else (p.left, p.right) for i, p in enumerate(plans)]
    return {"kernel_shape": [p.kernel for p in plans], "strides": [p.stride for p in plans],
            "pads": [left for left, _ in static] + [right for _, right in static]}


def frame_count(ctx: LowerContext, steps: str, rule: LengthRule, name: str) -> str:
    """`max(0, ceil((steps + add) / stride))` on an int64 `[1]` frame count."""
    b = ctx.builder
    total = b.op("Max", b.op("Add", steps, b.const([rule.add]), name=f"{name}/add"), b.const([0]), name=f"{name}/pos")
    return b.op("Div", b.op("Add", total, b.const([rule.stride - 1]), name=f"{name}/up"), b.const([rule.stride]),
                name=f"{name}/count")


def finish(node: Node, ctx: LowerContext, y: str, x: str, t: TensorType, plans: list[AxisPlan]) -> str:
    """The time axis cut to its rule's frame count of the input `x` (batch-major, unpadded), or the per-sequence frame
    pick (SAME with a time stride); then channels last and the stored layout."""
    time = plans[0] if t.has_time and not one_frame(plans[0]) else None
    if time is not None and time.frames is not None:
        b = ctx.builder
        steps = b.op("Slice", b.op("Shape", x, name=f"{node.name}/in_shape"), b.const([1]), b.const([2]),
                     name=f"{node.name}/in_steps")  # x: the batch-major input before padding
        count = frame_count(ctx, steps, time.frames, f"{node.name}/frames")
        if time.gather_stride > 1:
            y = pick_frames(node, ctx, y, time, t, count)
        else:
            y = b.op("Slice", y, b.const([0]), count, b.const([2]), name=f"{node.name}/cut")
    rank = len(t.dims)
    y = ctx.builder.op("Transpose", y, name=f"{node.name}/channels_last", perm=[0, *range(2, rank), 1])
    return ctx.stored(y, node.out_type, node.name)


def pick_frames(node: Node, ctx: LowerContext, y: str, plan: AxisPlan, t: TensorType, t_out: str) -> str:
    """y ran at time stride 1 with left padding `plan.left`; frame t of sequence b is y[t*s + left - left_b],
    left_b TF's SAME left padding for that sequence's length."""
    b, name, s = ctx.builder, node.name, plan.gather_stride
    offset = b.op("Sub", b.const(plan.left), same_left(ctx, plan, t, name), name=f"{name}/offset")
    shape = b.op("Shape", y, name=f"{name}/y_shape")
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


def same_left(ctx: LowerContext, plan: AxisPlan, t: TensorType, name: str) -> str:
    """TF's SAME left padding of each sequence's own length on a strided time axis (`AxisPlan.same_left`), int64 [B]."""
    b, s = ctx.builder, plan.gather_stride
    n = b.op("Cast", ctx.length_value(t.time), name=f"{name}/n64", to=7)
    reach = (plan.kernel - 1) * plan.dilation
    steps = b.op("Div", b.op("Add", n, b.const(s - 1), name=f"{name}/n_up"), b.const(s), name=f"{name}/steps_b")
    total = b.op("Sub", b.op("Add", b.op("Mul", b.op("Sub", steps, b.const(1), name=f"{name}/steps_1"),
                                         b.const(s), name=f"{name}/span"), b.const(reach + 1), name=f"{name}/reach"),
                 n, name=f"{name}/total")
    return b.op("Div", b.op("Max", total, b.const(0), name=f"{name}/total0"), b.const(2), name=f"{name}/left_b")


def lower_conv(node: Node, layer: Conv, ctx: LowerContext) -> str:
    b = ctx.builder
    x_in, t, plans = spatial_input(node, layer, ctx, 0.0)
    x = channels_first(ctx, pad_time(ctx, x_in, t, plans, 0.0, node.name), t, node.name)
    rank = len(layer.filter_size)
    W = ctx.param(node, "W").transpose(rank + 1, rank, *range(rank))  # [k..., in, out] -> [out, in, k...]
    inputs = [x, b.initializer(f"{node.name}/W", np.ascontiguousarray(W))]
    if layer.with_bias:
        inputs.append(b.initializer(f"{node.name}/bias", ctx.param(node, "bias")))
    y = b.op("Conv", *inputs, name=f"{node.name}/conv", dilations=[p.dilation for p in plans],
             group=layer.groups, **attributes(plans, t))
    y = finish(node, ctx, y, x_in, t, plans)
    return apply_activation(b, ctx.activation(node, layer.activation), y, node.name, ctx.opset)


def lower_pool(node: Node, layer: Pool, ctx: LowerContext) -> str:
    """max: frames past each end are float32's lowest; avg: the pooled sum over the pooled count of real
    frames (TF excludes SAME padding from the average; netc also each sequence's padded frames)."""
    b = ctx.builder
    is_max = layer.mode is PoolMode.MAX
    t_in = ctx.graph.input_type_of(node)
    t, plans = layer.plans(t_in, node.at)
    if t == t_in and all(one_frame(p) for p in plans):  # a window of one frame (exp3's later pool_size (1,))
        return b.op("Identity", ctx.source(node), name=f"{node.name}/one_frame")
    if is_max and t == t_in and len(plans) == 1 and t.has_time and not one_frame(plans[0]):
        return lower_time_max_pool(node, t, plans[0], ctx)
    x_in, t, plans = spatial_input(node, layer, ctx, LOWEST if is_max else 0.0)
    if is_max:
        x = channels_first(ctx, pad_time(ctx, x_in, t, plans, LOWEST, node.name), t, node.name)
        y = b.op("MaxPool", x, name=f"{node.name}/max", dilations=[p.dilation for p in plans],
                 **attributes(plans, t))
    else:
        ones = b.op("Expand", b.const(np.float32(1), np.float32), b.op("Shape", x_in, name=f"{node.name}/x_shape"),
                    name=f"{node.name}/ones")
        if t.has_time:
            ones = ctx.mask(t, ones, f"{node.name}/real", stored=False)
        x = channels_first(ctx, pad_time(ctx, x_in, t, plans, 0.0, node.name), t, node.name)
        ones = channels_first(ctx, pad_time(ctx, ones, t, plans, 0.0, f"{node.name}/real"), t, f"{node.name}/real")
        total = b.op("AveragePool", x, name=f"{node.name}/sum", count_include_pad=1, **attributes(plans, t))
        count = b.op("AveragePool", ones, name=f"{node.name}/count", count_include_pad=1, **attributes(plans, t))
        count = b.op("Max", count, b.const(np.float32(1e-30), np.float32), name=f"{node.name}/count1")
        y = b.op("Div", total, count, name=f"{node.name}/avg")
    return finish(node, ctx, y, x_in, t, plans)


def lower_time_max_pool(node: Node, t: TensorType, plan: AxisPlan, ctx: LowerContext) -> str:
    """Max pooling of `[B, T, F]` over time, in the stored layout (time-major in a graph with an LSTM): no
    transposes, no stride-1 pass and no frame gather. Frames past each end are float32's lowest; for each left
    padding `o` that some length gets (one, unless SAME with a stride: `AxisPlan.same_left`), `o` lowest frames
    before the batch and the max of `kernel` slices with step `stride`; each sequence takes its own `o`'s frames."""
    b, name = ctx.builder, node.name
    x = ctx.mask(t, ctx.source(node), f"{name}/ends", fill=LOWEST)
    axis = 0 if ctx.swapped(t) else 1  # time; batch is the other of the first two axes
    steps = b.op("Slice", b.op("Shape", x, name=f"{name}/in_shape"), b.const([axis]), b.const([axis + 1]),
                 name=f"{name}/in_steps")
    assert plan.frames is not None
    count = frame_count(ctx, steps, plan.frames, f"{name}/frames")
    stride, reach = max(plan.stride, plan.gather_stride), (plan.kernel - 1) * plan.dilation
    # Output frame t reads padded frames t*stride + j*dilation, j < kernel: the last one is (count-1)*stride + reach.
    span = b.op("Add", b.op("Mul", b.op("Sub", count, b.const([1]), name=f"{name}/last"), b.const([stride]),
                            name=f"{name}/last_start"), b.const([1]), name=f"{name}/span")
    lefts = [plan.left]
    if plan.gather_stride > 1:  # TF's SAME total padding lies in [reach + 1 - stride, reach]
        lefts = list(range(max(reach + 1 - stride, 0) // 2, reach // 2 + 1))
    left_b = same_left(ctx, plan, t, name) if len(lefts) > 1 else ""
    y = ""
    for o in lefts:
        right = max(reach - o + plan.frames.add, 0)  # SAME: the last window may reach reach - o frames past T
        padded = x
        if o or right:
            pads = [0] * 6
            pads[axis], pads[axis + 3] = o, right
            padded = b.op("Pad", x, b.const(pads), b.const(np.float32(LOWEST), np.float32),
                          name=f"{name}/pad{o}", mode="constant")
        windows = [b.op("Slice", padded, b.const([j * plan.dilation]),
                        b.op("Add", span, b.const([j * plan.dilation]), name=f"{name}/end{o}_{j}"),
                        b.const([axis]), b.const([stride]), name=f"{name}/frames{o}_{j}")
                   for j in range(plan.kernel)]
        y_o = windows[0] if len(windows) == 1 else b.op("Max", *windows, name=f"{name}/max{o}")
        if not y:
            y = y_o
            continue
        takes = b.op("Equal", left_b, b.const(o), name=f"{name}/takes{o}")
        takes = b.op("Unsqueeze", takes, b.const([axis, 2]), name=f"{name}/takes{o}_nd")  # [1, B, 1] or [B, 1, 1]
        y = b.op("Where", takes, y_o, y, name=f"{name}/left{o}")
    return y


def lower_transposed_conv(node: Node, layer: TransposedConv, ctx: LowerContext) -> str:
    """ConvTranspose on each sequence's own frames (zeros past its end); each axis's full result zero-extended
    and cut to `n*s + add` frames from `offset` (ir/layers/conv.py DeconvAxis)."""
    b, name = ctx.builder, node.name
    x_in, t = ctx.source_batch_major(node)
    if t.has_time:
        x_in = ctx.mask(t, x_in, f"{name}/ends", stored=False)
    rank = len(layer.filter_size)
    W = ctx.param(node, "W_native_transposed_conv")
    W = W[:, 0] if rank == 1 else W  # RETURNN's 1D filter [k, 1, out, in]
    W = W.transpose(rank + 1, rank, *range(rank))  # [k..., out, in] -> [in, out, k...]
    inputs = [channels_first(ctx, x_in, t, name), b.initializer(f"{name}/W", np.ascontiguousarray(W))]
    axes = layer.axes(node.at)
    y = b.op("ConvTranspose", *inputs, name=f"{name}/deconv", kernel_shape=list(layer.filter_size),
             strides=[a.stride for a in axes])
    extra = [a.extra() for a in axes]
    if any(extra):
        y = b.op("Pad", y, b.const([0] * (rank + 2) + [0, 0, *extra]), name=f"{name}/extend", mode="constant")
    shape = b.op("Shape", x_in, name=f"{name}/in_shape")
    starts, ends = [], []
    for i, (axis, dim) in enumerate(zip(axes, t.dims[1:-1])):
        if dim.size is not None:
            count = b.const([dim.size * axis.stride + axis.add])
        else:
            steps = b.op("Slice", shape, b.const([i + 1]), b.const([i + 2]), name=f"{name}/steps")
            count = b.op("Add", b.op("Mul", steps, b.const([axis.stride]), name=f"{name}/scaled"),
                         b.const([axis.add]), name=f"{name}/count")
        starts.append(b.const([axis.offset]))
        ends.append(b.op("Add", count, b.const([axis.offset]), name=f"{name}/end"))
    y = b.op("Slice", y, b.op("Concat", *starts, name=f"{name}/starts", axis=0),
             b.op("Concat", *ends, name=f"{name}/ends_at", axis=0), b.const(list(range(2, rank + 2))),
             name=f"{name}/cut")
    y = b.op("Transpose", y, name=f"{name}/channels_last", perm=[0, *range(2, rank + 2), 1])
    if layer.with_bias:  # after the extension: TF adds it to the zero frames too
        y = b.op("Add", y, b.initializer(f"{name}/bias", ctx.param(node, "bias")), name=f"{name}/add_bias")
    y = apply_activation(b, ctx.activation(node, layer.activation or Act.IDENTITY), y, name, ctx.opset)
    return ctx.stored(y, node.out_type, name)
