"""Torch lowering of conv and pool; mirrors compiler/onnx/conv.py (masking, padding, per-sequence frame pick)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from netc.ir import Act, Node
from netc.ir.layers import Conv, Pool, TransposedConv
from netc.ir.layers.conv import AxisPlan, PoolMode, Spatial
from netc.ir.types import TensorType

from .context import RunContext
from .reshape import shape_of

LOWEST = torch.finfo(torch.float32).min
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d}


def spatial_input(node: Node, layer: Spatial, ctx: RunContext, fill: float
                  ) -> tuple[torch.Tensor, TensorType, list[AxisPlan], torch.Tensor, int]:
    """Transformed input, `fill` past each length, channels first and padded; the real-frame mask alike; and the
    input's frame count."""
    x, t_in = ctx.padded_source(node)
    t, plans = layer.plans(t_in, node.at)
    x = x.reshape(shape_of(x, t_in, t))
    valid = ctx.valid(t, x).to(x.dtype).expand_as(x) if t.has_time else torch.ones_like(x)
    if t.has_time and fill != 0.0:
        x = torch.where(valid > 0, x, x.new_tensor(fill))
    steps = x.shape[1] if t.has_time else 0
    return pad(channels_first(x), plans, fill), t, plans, pad(channels_first(valid), plans, 0.0), steps


def channels_first(x: torch.Tensor) -> torch.Tensor:
    return x.movedim(-1, 1)


def pad(x: torch.Tensor, plans: list[AxisPlan], value: float) -> torch.Tensor:
    widths: list[int] = []
    for p in reversed(plans):  # F.pad lists the last axis first
        widths += [p.left, p.right]
    return F.pad(x, widths, value=value)


def finish(node: Node, ctx: RunContext, y: torch.Tensor, t: TensorType, plans: list[AxisPlan], steps: int
           ) -> torch.Tensor:
    """The time axis cut to its rule's frame count (or picked per sequence), channels last, stored."""
    time = plans[0] if t.has_time else None
    if time is not None and time.frames is not None:
        frames = time.out_frames(steps)
        y = pick_frames(ctx, y, time, t, frames) if time.gather_stride > 1 else y[:, :, :frames]
    return ctx.store(node.out_type, y.movedim(1, -1))


def pick_frames(ctx: RunContext, y: torch.Tensor, plan: AxisPlan, t: TensorType, frames: int) -> torch.Tensor:
    """Frame t of sequence b is y[t*s + plan.left - left_b] (TF SAME left padding for its own length)."""
    s = plan.gather_stride
    lengths = ctx.packing(t.time).lengths.tolist()
    offsets = torch.tensor([plan.left - plan.same_left(n) for n in lengths], device=y.device)
    index = torch.arange(frames, device=y.device)[None, :] * s + offsets[:, None]  # [B, T']
    index = index.reshape(index.shape[0], 1, frames, *([1] * (y.dim() - 3)))
    return torch.gather(y, 2, index.expand(y.shape[0], y.shape[1], frames, *y.shape[3:]))


def lower_conv(node: Node, layer: Conv, ctx: RunContext) -> torch.Tensor:
    from .lower import ACTIVATIONS  # lower.py imports this module

    x, t, plans, _, steps = spatial_input(node, layer, ctx, 0.0)
    rank = len(plans)
    W = ctx.param(node, "W").permute(rank + 1, rank, *range(rank))  # [k..., in, out] -> [out, in, k...]
    bias = ctx.param(node, "bias") if layer.with_bias else None
    y = CONV[rank](x, W, bias, stride=[p.stride for p in plans], dilation=[p.dilation for p in plans],
                   groups=layer.groups)
    return ACTIVATIONS[layer.activation](finish(node, ctx, y, t, plans, steps))


def lower_pool(node: Node, layer: Pool, ctx: RunContext) -> torch.Tensor:
    is_max = layer.mode is PoolMode.MAX
    x, t, plans, valid, steps = spatial_input(node, layer, ctx, LOWEST if is_max else 0.0)
    rank = len(plans)
    kernel, strides = [p.kernel for p in plans], [p.stride for p in plans]
    if is_max:
        y = MAX_POOL[rank](x, kernel, strides, dilation=[p.dilation for p in plans])
    else:
        total = AVG_POOL[rank](x, kernel, strides)
        y = total / AVG_POOL[rank](valid, kernel, strides).clamp(min=1e-30)
    return finish(node, ctx, y, t, plans, steps)


def lower_transposed_conv(node: Node, layer: TransposedConv, ctx: RunContext) -> torch.Tensor:
    """Mirrors compiler/onnx/conv.py: zeros past each end, the full result extended and cut per axis."""
    from .lower import ACTIVATIONS  # lower.py imports this module

    x, t = ctx.padded_source(node)
    if t.has_time:
        x = torch.where(ctx.valid(t, x), x, x.new_zeros(()))
    rank = len(layer.filter_size)
    W = ctx.param(node, "W_native_transposed_conv")
    W = (W[:, 0] if rank == 1 else W).permute(rank + 1, rank, *range(rank))  # -> [in, out, k...]
    axes = layer.axes(node.at)
    y = DECONV[rank](channels_first(x), W, stride=[a.stride for a in axes])
    widths: list[int] = []
    for a in reversed(axes):  # F.pad lists the last axis first
        widths += [0, a.extra()]
    y = F.pad(y, widths)
    for i, a in enumerate(axes):
        y = y.narrow(i + 2, a.offset, x.shape[i + 1] * a.stride + a.add)
    y = y.movedim(1, -1)
    if layer.with_bias:  # after the extension: TF adds it to the zero frames too
        y = y + ctx.param(node, "bias")
    return ACTIVATIONS[layer.activation or Act.IDENTITY](ctx.store(node.out_type, y))
