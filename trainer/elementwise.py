"""Torch lowering of combine, eval, gating, constant, reduce, length; mirrors compiler/onnx/elementwise.py."""

from __future__ import annotations

import math

import torch
from netc.ir import Act, Node
from netc.ir.layers import Combine, Constant, Eval, Gating, Length, Linear, Reduce, Softmax
from netc.ir.layers.elementwise import CombineKind, Operands, ReduceMode, broadcast_positions
from netc.ir.layers.expr import Const, Expr, Position, Source, position_nodes
from netc.ir.types import TensorType

from .context import RunContext

FUNCTIONS = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "truediv": torch.div, "pow": torch.pow,
    "minimum": torch.minimum, "maximum": torch.maximum, "log": torch.log, "sqrt": torch.sqrt, "neg": torch.neg,
    "squared_difference": lambda a, b: (a - b).square(), "cast": lambda a: a.float(),
    "less": lambda a, b: (a < b).float(), "less_equal": lambda a, b: (a <= b).float(),
    "greater": lambda a, b: (a > b).float(), "greater_equal": lambda a, b: (a >= b).float(),
    "equal": lambda a, b: (a == b).float(), "not_equal": lambda a, b: (a != b).float(),
    "clip_by_value": lambda x, low, high: torch.maximum(torch.minimum(x, high), low),
    "safe_log": lambda x, eps: torch.log(identity_grad(x, x.clamp(min=eps.item()))),
    "safe_exp": lambda x, eps: torch.exp(identity_grad(x, x.clamp(math.log(eps.item()), math.log(1 / eps.item())))),
    "log_sigmoid": torch.nn.functional.logsigmoid, "stop_gradient": torch.Tensor.detach,
}
COMBINE = {CombineKind.ADD: torch.add, CombineKind.SUB: torch.sub, CombineKind.MUL: torch.mul,
           CombineKind.TRUEDIV: torch.div, CombineKind.MAXIMUM: torch.maximum, CombineKind.MINIMUM: torch.minimum,
           CombineKind.AVERAGE: torch.add, CombineKind.SQUARED_DIFFERENCE: lambda a, b: (a - b).square()}
FLOAT32 = torch.finfo(torch.float32)
REDUCE_FILL = {ReduceMode.SUM: 0.0, ReduceMode.MEAN: 0.0, ReduceMode.MAX: FLOAT32.min, ReduceMode.MIN: FLOAT32.max,
               ReduceMode.LOGSUMEXP: FLOAT32.min, ReduceMode.ARGMAX: FLOAT32.min, ReduceMode.ARGMIN: FLOAT32.max}


def identity_grad(x: torch.Tensor, clipped: torch.Tensor) -> torch.Tensor:
    """`clipped`'s values with x's gradient everywhere, as RETURNN's maximum_with_identity_grad."""
    return clipped.detach() + (x - x.detach())  # not x + (clipped - x): 1e-20 - 0.4 + 0.4 rounds to 0


def activations() -> dict:
    from .lower import ACTIVATIONS  # the one activation table (lower.py imports this module)

    return ACTIVATIONS


def operand(ctx: RunContext, source: str, out: TensorType, value: torch.Tensor | None = None) -> torch.Tensor:
    """A source (or `value` of its type), padded in its type's dim order, with size-1 axes where `out` has dims
    it lacks."""
    t = ctx.graph.type_of(source)
    x = ctx.values[source] if value is None else value
    x = ctx.packing(t.time).unpack(x) if t.is_packable else x
    positions = broadcast_positions(t, out) or []
    for i in range(len(out.dims)):
        if i not in positions:
            x = x.unsqueeze(i)
    return x


def finish(node: Node, layer: Operands, ctx: RunContext, y: torch.Tensor) -> torch.Tensor:
    if layer.with_bias:
        y = y + ctx.param(node, "b")
    return ctx.store(node.out_type, activations()[layer.activation](y))


def lower_combine(node: Node, layer: Combine, ctx: RunContext) -> torch.Tensor:
    assert layer.kind is not None
    xs = [operand(ctx, s, node.out_type) for s in layer.sources]
    y = xs[0]
    for x in xs[1:]:
        y = COMBINE[layer.kind](y, x)
    if layer.kind is CombineKind.AVERAGE:
        y = y / len(xs)
    return finish(node, layer, ctx, y)


def lower_eval(node: Node, layer: Eval, ctx: RunContext) -> torch.Tensor:
    at = {p.index: p for p in position_nodes(layer.expression)}
    operands = {i: position(ctx, s, at[i]) if i in at else operand(ctx, s, node.out_type)
                for i, s in enumerate(layer.sources) if i in at or not at}
    y = run_expr(layer.expression, operands, node, ctx)
    return finish(node, layer, ctx, y.float() if node.out_type.dtype == "float32" else y)  # a declared float32


def position(ctx: RunContext, source: str, at: Position) -> torch.Tensor:
    """expr.Position of `source` `[B, T, 1]`, int32 `[B]` (no gradient: an index). The argmax: the first frame of
    each sequence's largest value, padded frames (garbage in netc, zero weights in RETURNN) excluded. The median
    (`level`): padded frames 0 as RETURNN's, `c` = the cumulative sum - level, the first frame of the smallest
    of `c` where c > 0, else 1."""
    t = ctx.graph.type_of(source)
    x = operand(ctx, source, t)
    if at.level is None:
        x = torch.where(ctx.valid(t, x), x, x.new_tensor(float("-inf")))
        return x.argmax(dim=t.time_index).reshape(x.shape[0]).to(torch.int32)
    c = torch.where(ctx.valid(t, x), x, x.new_tensor(0.0)).cumsum(dim=t.time_index) - at.level
    c = torch.where(c > 0, c, c.new_tensor(1.0))
    return c.argmin(dim=t.time_index).reshape(x.shape[0]).to(torch.int32)


def log_of_softmax(ctx: RunContext, node: Node, expr: Expr) -> torch.Tensor | None:
    """safe_log(source(i)) of a softmax layer: log_softmax of its logits, as RETURNN rewrites it; None for any other
    operand, and for a softmax layer whose batch_norm option normalizes its output."""
    if not isinstance(expr, Source):
        return None
    source = node.layer.sources[expr.index]
    made = ctx.graph[source].layer
    if made.batch_norm is not None:  # RETURNN's safe_log finds the normalization's Add, not the Softmax
        return None
    if not (isinstance(made, Softmax) or (isinstance(made, Linear) and made.activation is Act.SOFTMAX)):
        return None
    return operand(ctx, source, node.out_type, torch.log_softmax(ctx.logits[source], dim=-1))


def run_expr(expr: Expr, operands: dict[int, torch.Tensor], node: Node, ctx: RunContext) -> torch.Tensor:
    if isinstance(expr, (Source, Position)):
        return operands[expr.index]
    if isinstance(expr, Const):
        return torch.tensor(expr.value, dtype=torch.float32)
    if expr.fn == "safe_log" and (y := log_of_softmax(ctx, node, expr.args[0])) is not None:
        return y
    args = [run_expr(a, operands, node, ctx) for a in expr.args]
    if expr.fn in FUNCTIONS:
        return FUNCTIONS[expr.fn](*args)
    return activations()[Act(expr.fn)](args[0])


def lower_gating(node: Node, layer: Gating, ctx: RunContext) -> torch.Tensor:
    a, g = ctx.source(node).chunk(2, dim=-1)
    acts = activations()
    return acts[layer.activation or Act.IDENTITY](a) * acts[layer.gate_activation](g)


def lower_constant(node: Node, layer: Constant, ctx: RunContext) -> torch.Tensor:
    value = torch.tensor(layer.value, dtype=torch.float32)
    if layer.with_batch_dim:
        return value.expand(len(next(iter(ctx.packings.values())).lengths)).clone()
    return value


def lower_reduce(node: Node, layer: Reduce, ctx: RunContext) -> torch.Tensor:
    """Over time: frames past each length hold RETURNN's neutral fill; a mean divides by max(length, 1)."""
    assert layer.mode is not None
    x, t = ctx.padded_source(node)
    axes = layer.reduced(t)
    over_time = t.time_index in axes
    if over_time:
        x = torch.where(ctx.valid(t, x), x, x.new_tensor(REDUCE_FILL[layer.mode]))
    keep = layer.keep_dims
    if layer.mode.is_arg:  # the first extreme index, as tf.argmax
        y = x.argmax(dim=axes[0], keepdim=keep) if layer.mode is ReduceMode.ARGMAX else \
            x.argmin(dim=axes[0], keepdim=keep)
        return ctx.store(node.out_type, y)
    if layer.mode in (ReduceMode.SUM, ReduceMode.MEAN):
        y = x.sum(dim=axes, keepdim=keep)
    elif layer.mode is ReduceMode.LOGSUMEXP:
        y = torch.logsumexp(x, dim=axes, keepdim=keep)
    else:
        y = x.amax(dim=axes, keepdim=keep) if layer.mode is ReduceMode.MAX else x.amin(dim=axes, keepdim=keep)
    if layer.mode is ReduceMode.MEAN:
        static = 1
        for a in axes:
            static *= t.dims[a].size or 1
        y = y / static
        if over_time:
            lengths = ctx.packing(t.time).lengths.clamp(min=1).to(y)
            y = y / lengths.reshape((-1,) + (1,) * (y.dim() - 1))
    return ctx.store(node.out_type, y)


def lower_length(node: Node, layer: Length, ctx: RunContext) -> torch.Tensor:
    t = ctx.graph.input_type_of(node)
    assert t is not None
    return ctx.packing(t.time).lengths.to(torch.int32)
