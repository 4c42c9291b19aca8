"""ONNX lowering of layer_norm, norm, batch_norm (ir/layers/norm.py); statistics over time per sequence."""

from __future__ import annotations

import numpy as np
from netc.ir import Act, Node
from netc.ir.layers import BatchNorm, LayerNorm, Norm

from .activations import apply_activation
from .builder import FLOAT
from .context import LowerContext


def scale_shift(ctx: LowerContext, node: Node, y: str, scale: np.ndarray | None, shift: np.ndarray | None) -> str:
    """y * scale + shift on the (last) feature axis; the output activation rule of --output-kind last."""
    b = ctx.builder
    if scale is not None:
        y = b.op("Mul", y, b.initializer(f"{node.name}/scale", scale.reshape(-1)), name=f"{node.name}/scale")
    if shift is not None:
        y = b.op("Add", y, b.initializer(f"{node.name}/shift", shift.reshape(-1)), name=f"{node.name}/shift")
    return apply_activation(b, ctx.activation(node, Act.IDENTITY), y, node.name, ctx.opset)


def normalize(ctx: LowerContext, x: str, mean: str, variance: str, epsilon: float, name: str) -> str:
    """(x - mean) * rsqrt(variance + epsilon), as RETURNN writes it."""
    b = ctx.builder
    std = b.op("Sqrt", b.op("Add", variance, b.const(np.float32(epsilon), np.float32), name=f"{name}/var_eps"),
               name=f"{name}/std")
    return b.op("Mul", b.op("Sub", x, mean, name=f"{name}/centered"), b.op("Reciprocal", std, name=f"{name}/rstd"),
                name=f"{name}/normalized")


def lower_layer_norm(node: Node, layer: LayerNorm, ctx: LowerContext) -> str:
    x = ctx.source(node)
    axis = [len(node.out_type.dims) - 1]
    mean = ctx.reduce("ReduceMean", x, axis, f"{node.name}/mean", keepdims=True)
    centered = ctx.builder.op("Sub", x, mean, name=f"{node.name}/diff")
    variance = ctx.reduce("ReduceMean", ctx.builder.op("Mul", centered, centered, name=f"{node.name}/sq"), axis,
                          f"{node.name}/variance", keepdims=True)
    y = normalize(ctx, x, mean, variance, layer.epsilon, node.name)
    return scale_shift(ctx, node, y, ctx.param(node, "scale"), ctx.param(node, "bias"))


def lower_norm(node: Node, layer: Norm, ctx: LowerContext) -> str:
    """Mean and variance over the axes; over time only each sequence's frames count."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    axes = layer.normalized(t)
    over_time = t.time_index in axes
    count = b.const(np.float32(np.prod([t.dims[a].size for a in axes if t.dims[a].size is not None])), np.float32)
    if over_time:
        x = ctx.mask(t, x, f"{node.name}/mask_in", stored=False)
        lengths = b.op("Cast", ctx.length_value(t.time), name=f"{node.name}/len", to=FLOAT)
        lengths = b.op("Unsqueeze", lengths, b.const(list(range(1, len(t.dims)))), name=f"{node.name}/len_b")
        count = b.op("Mul", lengths, count, name=f"{node.name}/count")
    mean = b.op("Div", ctx.reduce("ReduceSum", x, axes, f"{node.name}/sum", keepdims=True), count,
                name=f"{node.name}/mean")
    centered = b.op("Sub", x, mean, name=f"{node.name}/diff")
    if over_time:
        centered = ctx.mask(t, centered, f"{node.name}/mask_diff", stored=False)
    squares = ctx.reduce("ReduceSum", b.op("Mul", centered, centered, name=f"{node.name}/sq"), axes,
                         f"{node.name}/sum_sq", keepdims=True)
    variance = b.op("Div", squares, count, name=f"{node.name}/variance")
    y = normalize(ctx, x, mean, variance, layer.epsilon, node.name)
    y = scale_shift(ctx, node, y, ctx.param(node, "scale") if layer.scale else None,
                    ctx.param(node, "bias") if layer.bias else None)
    return ctx.stored(y, node.out_type, node.name)


def lower_batch_norm(node: Node, layer: BatchNorm, ctx: LowerContext) -> str:
    """Inference: the stored statistics (netc never updates them outside training)."""
    names = layer.names(node.name)
    x = ctx.source(node)
    mean = ctx.builder.initializer(f"{node.name}/mean", ctx.param(node, names["mean"]).reshape(-1))
    variance = ctx.builder.initializer(f"{node.name}/variance", ctx.param(node, names["variance"]).reshape(-1))
    y = normalize(ctx, x, mean, variance, layer.epsilon, node.name)
    return scale_shift(ctx, node, y, ctx.param(node, names["gamma"]) if layer.use_std else None,
                       ctx.param(node, names["beta"]) if layer.use_shift else None)
