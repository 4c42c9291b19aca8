"""ONNX lowering of `linear` and `softmax`: MatMul, Add, activation."""

from __future__ import annotations

import numpy as np
from netc.ir import Act, Node
from netc.ir.layers import Affine, Linear, Softmax

from .activations import apply_activation
from .context import LowerContext


def affine(node: Node, layer: Affine, ctx: LowerContext) -> str:
    """x W + b (x W^T + b with `use_transposed_weights`)."""
    b = ctx.builder
    if layer.use_transposed_weights:  # RETURNN's W is [n_out, n_in]: the model stores W^T, [n_in, n_out]
        W = b.initializer(f"{node.name}/W_T", np.ascontiguousarray(ctx.param(node, "W").T))
    else:
        W = b.initializer(f"{node.name}/W", ctx.param(node, "W"))
    if ctx.type_of(node.sources[0]).sparse:  # an embedding: rows of W by class index
        y = b.op("Gather", W, ctx.source(node), name=f"{node.name}/embedding", axis=0)
    else:
        y = b.op("MatMul", ctx.source(node), W, name=f"{node.name}/matmul")
    if layer.with_bias:
        y = b.op("Add", y, b.initializer(f"{node.name}/b", ctx.param(node, "b")), name=f"{node.name}/add")
    return y


def lower_linear(node: Node, layer: Linear, ctx: LowerContext) -> str:
    act = ctx.activation(node, layer.activation)
    return apply_activation(ctx.builder, act, affine(node, layer, ctx), node.name, ctx.opset)


def lower_softmax(node: Node, layer: Softmax, ctx: LowerContext) -> str:
    act = ctx.activation(node, Act.SOFTMAX)
    return apply_activation(ctx.builder, act, affine(node, layer, ctx), node.name, ctx.opset)
