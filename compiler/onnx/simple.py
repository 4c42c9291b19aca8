"""ONNX lowering of the parameter-free layers: copy, activation, dropout."""

from __future__ import annotations

from netc.ir import Act, Node
from netc.ir.layers import Activation, PassThrough

from .activations import apply_activation
from .context import LowerContext


def lower_identity(node: Node, layer: PassThrough, ctx: LowerContext) -> str:
    """copy, and dropout (identity at inference)."""
    return apply_activation(ctx.builder, ctx.activation(node, Act.IDENTITY), ctx.source(node), node.name,
                            ctx.opset)


def lower_activation(node: Node, layer: Activation, ctx: LowerContext) -> str:
    act = ctx.activation(node, layer.activation or Act.IDENTITY)
    return apply_activation(ctx.builder, act, ctx.source(node), node.name, ctx.opset)
