"""ONNX lowering of combine, eval, gating, constant, reduce, length (ir/layers/elementwise.py)."""

from __future__ import annotations

import numpy as np
from netc.ir import Act, Node
from netc.ir.layers import Combine, Constant, Eval, Gating, Length, Reduce
from netc.ir.layers.elementwise import CombineKind, Operands, ReduceMode, broadcast_positions
from netc.ir.layers.expr import Const, Expr, Position, Source, position_nodes
from netc.ir.types import DimKind, TensorType, TimeAxis

from .activations import apply_activation
from .builder import FLOAT, INT32
from .context import LowerContext

BINARY_OPS = {"add": "Add", "sub": "Sub", "mul": "Mul", "truediv": "Div", "pow": "Pow", "minimum": "Min",
              "maximum": "Max", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
              "greater_equal": "GreaterOrEqual", "equal": "Equal"}
COMBINE_OPS = {CombineKind.ADD: "Add", CombineKind.SUB: "Sub", CombineKind.MUL: "Mul", CombineKind.TRUEDIV: "Div",
               CombineKind.MAXIMUM: "Max", CombineKind.MINIMUM: "Min", CombineKind.AVERAGE: "Add"}
UNARY_OPS = {"neg": "Neg", "stop_gradient": "Identity"}  # the other one-argument functions are activations
REDUCE_OPS = {ReduceMode.SUM: "ReduceSum", ReduceMode.MEAN: "ReduceSum", ReduceMode.MAX: "ReduceMax",
              ReduceMode.MIN: "ReduceMin", ReduceMode.LOGSUMEXP: "ReduceLogSumExp"}
FLOAT32 = np.finfo(np.float32)
REDUCE_FILL = {ReduceMode.SUM: 0.0, ReduceMode.MEAN: 0.0, ReduceMode.MAX: float(FLOAT32.min),
               ReduceMode.MIN: float(FLOAT32.max), ReduceMode.LOGSUMEXP: float(FLOAT32.min),
               ReduceMode.ARGMAX: float(FLOAT32.min), ReduceMode.ARGMIN: float(FLOAT32.max)}  # RETURNN's
ARG_OPS = {ReduceMode.ARGMAX: "ArgMax", ReduceMode.ARGMIN: "ArgMin"}  # the first extreme index, as tf.argmax


def operand(ctx: LowerContext, source: str, out: TensorType, name: str, value: str | None = None) -> str:
    """A source (or `value` of its type) in its type's dim order with size-1 axes where `out` has dims it lacks
    (for broadcasting)."""
    t = ctx.type_of(source)
    x = ctx.batch_major(value or ctx.values[source], t, name)
    positions = broadcast_positions(t, out) or []
    missing = [i for i in range(len(out.dims)) if i not in positions]
    return ctx.builder.op("Unsqueeze", x, ctx.builder.const(missing), name=f"{name}/align") if missing else x


def finish(node: Node, layer: Operands, ctx: LowerContext, y: str) -> str:
    """+ b, the activation, then the stored layout."""
    b = ctx.builder
    if layer.with_bias:
        y = b.op("Add", y, b.initializer(f"{node.name}/b", ctx.param(node, "b")), name=f"{node.name}/add_bias")
    y = apply_activation(b, ctx.activation(node, layer.activation), y, node.name, ctx.opset)
    return ctx.stored(y, node.out_type, node.name)


def lower_combine(node: Node, layer: Combine, ctx: LowerContext) -> str:
    b, out = ctx.builder, node.out_type
    xs = [operand(ctx, s, out, f"{node.name}/in{i}") for i, s in enumerate(layer.sources)]
    y = xs[0]
    for x in xs[1:]:
        if layer.kind is CombineKind.SQUARED_DIFFERENCE:
            d = b.op("Sub", y, x, name=f"{node.name}/diff")
            y = b.op("Mul", d, d, name=f"{node.name}/square")
        else:
            assert layer.kind is not None
            y = b.op(COMBINE_OPS[layer.kind], y, x, name=f"{node.name}/{layer.kind.value}")
    if layer.kind is CombineKind.AVERAGE:
        y = b.op("Div", y, b.const(np.float32(len(xs)), np.float32), name=f"{node.name}/average")
    return finish(node, layer, ctx, y)


def lower_eval(node: Node, layer: Eval, ctx: LowerContext) -> str:
    out, at = node.out_type, {p.index: p for p in position_nodes(layer.expression)}
    operands = {i: position(ctx, s, at[i], f"{node.name}/in{i}") if i in at else
                operand(ctx, s, out, f"{node.name}/in{i}") for i, s in enumerate(layer.sources) if i in at or not at}
    y = emit_expr(ctx, layer.expression, operands, node)
    if isinstance(layer.expression, Position) and out.dtype == "float32":  # a declared float32 out_type
        y = ctx.builder.op("Cast", y, name=f"{node.name}/declared_float", to=FLOAT)
    return finish(node, layer, ctx, y)


def position(ctx: LowerContext, source: str, at: Position, name: str) -> str:
    """expr.Position of `source` `[B, T, 1]`, int32 `[B]`: ArgMax over time with padded frames at -inf; the median
    (`level`): CumSum over time with padded frames 0, minus level, 1 where not > 0, ArgMin (both: the first
    extreme, as tf.argmax/tf.argmin)."""
    b, t = ctx.builder, ctx.type_of(source)
    x = ctx.batch_major(ctx.values[source], t, name)
    if at.level is None:
        x = ctx.mask(t, x, name, stored=False, fill=float("-inf"))
        index = b.op("ArgMax", x, name=f"{name}/argmax", axis=t.time_index, keepdims=0)
    else:
        x = ctx.mask(t, x, name, stored=False, fill=0.0)
        c = b.op("Sub", b.op("CumSum", x, b.const(t.time_index), name=f"{name}/cumsum"),
                 b.const(np.float32(at.level), np.float32), name=f"{name}/minus_level")
        c = b.op("Where", b.op("Greater", c, b.const(np.float32(0), np.float32), name=f"{name}/positive"), c,
                 b.const(np.float32(1), np.float32), name=f"{name}/positive_or_1")
        index = b.op("ArgMin", c, name=f"{name}/argmin", axis=t.time_index, keepdims=0)
    flat = b.op("Reshape", index, b.const([-1]), name=f"{name}/squeeze")
    return b.op("Cast", flat, name=f"{name}/position", to=INT32)


def log_of_softmax(ctx: LowerContext, node: Node, expr: Expr) -> str | None:
    """safe_log(source(i)) of a softmax layer: LogSoftmax of its logits, as RETURNN's safe_log rewrites the
    Softmax op it finds (check_base_op_type_and_replace); None for any other operand."""
    if not isinstance(expr, Source):
        return None
    source = node.layer.sources[expr.index]
    if ctx.graph[source].layer.batch_norm is not None:  # the normalization's Add, not the Softmax, made the value
        return None
    made = next((n for n in ctx.builder.graph.node if ctx.values[source] in n.output), None)
    if made is None or made.op_type != "Softmax":
        return None
    y = ctx.builder.op("LogSoftmax", made.input[0], name=f"{node.name}/safe_log", axis=-1)
    return operand(ctx, source, node.out_type, f"{node.name}/in{expr.index}_log", y)


def emit_expr(ctx: LowerContext, expr: Expr, operands: dict[int, str], node: Node) -> str:
    """One ONNX value per expression node; comparisons become 1.0/0.0."""
    b, name = ctx.builder, node.name
    if isinstance(expr, (Source, Position)):
        return operands[expr.index]
    if isinstance(expr, Const):
        return b.const(np.float32(expr.value), np.float32)
    if expr.fn == "safe_log" and (y := log_of_softmax(ctx, node, expr.args[0])) is not None:
        return y
    args = [emit_expr(ctx, a, operands, node) for a in expr.args]
    fn = expr.fn
    if fn in BINARY_OPS:
        y = b.op(BINARY_OPS[fn], *args, name=f"{name}/{fn}")
        return b.op("Cast", y, name=f"{name}/to_float", to=FLOAT) if fn.startswith(("less", "greater", "equal")) \
            else y
    if fn == "not_equal":
        y = b.op("Not", b.op("Equal", *args, name=f"{name}/equal"), name=f"{name}/not")
        return b.op("Cast", y, name=f"{name}/to_float", to=FLOAT)
    if fn == "squared_difference":
        d = b.op("Sub", *args, name=f"{name}/diff")
        return b.op("Mul", d, d, name=f"{name}/square")
    if fn == "cast":
        return b.op("Cast", args[0], name=f"{name}/cast", to=FLOAT)
    if fn == "clip_by_value":  # TF's order: minimum with the upper bound, then maximum with the lower
        return b.op("Max", b.op("Min", args[0], args[2], name=f"{name}/clip_max"), args[1], name=f"{name}/clip_min")
    if fn == "safe_log":  # log(max(x, eps))
        return b.op("Log", b.op("Max", *args, name=f"{name}/at_least_eps"), name=f"{name}/safe_log")
    if fn == "safe_exp":  # exp(x clipped to [log eps, log 1/eps])
        eps = float(np.float32(expr.args[1].value))  # type: ignore[union-attr]
        low, high = (b.const(np.float32(v), np.float32) for v in (np.log(eps), np.log(1 / eps)))
        clipped = b.op("Min", b.op("Max", args[0], low, name=f"{name}/clip_min"), high, name=f"{name}/clip_max")
        return b.op("Exp", clipped, name=f"{name}/safe_exp")
    if fn in UNARY_OPS:
        return b.op(UNARY_OPS[fn], args[0], name=f"{name}/{fn}")
    return apply_activation(b, Act(fn), args[0], f"{name}/{fn}", ctx.opset)


def lower_gating(node: Node, layer: Gating, ctx: LowerContext) -> str:
    b, n = ctx.builder, node.out_type.feature
    x = ctx.source(node)
    axis = len(node.out_type.dims) - 1
    a, g = b.op_multi("Split", x, b.const([n, n]), name=f"{node.name}/split", outputs=2, axis=axis)
    act = apply_activation(b, layer.activation or Act.IDENTITY, a, f"{node.name}/act", ctx.opset)
    gate = apply_activation(b, layer.gate_activation, g, f"{node.name}/gate", ctx.opset)
    y = b.op("Mul", act, gate, name=f"{node.name}/mul")
    return apply_activation(b, ctx.activation(node, Act.IDENTITY), y, node.name, ctx.opset)


def lower_constant(node: Node, layer: Constant, ctx: LowerContext) -> str:
    b = ctx.builder
    value = b.const(np.float32(layer.value), np.float32)
    if not layer.with_batch_dim:
        return value
    batch = b.op("Shape", ctx.length_value(TimeAxis.DATA), name=f"{node.name}/batch")
    return b.op("Expand", value, batch, name=f"{node.name}/expand")


def lower_reduce(node: Node, layer: Reduce, ctx: LowerContext) -> str:
    """Masked reduction; over time, frames past each length are RETURNN's neutral fill, a mean divides by the
    sequence's own length (at least 1)."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    axes = layer.reduced(t)
    assert layer.mode is not None
    over_time = t.time_index in axes
    if over_time:
        x = ctx.mask(t, x, f"{node.name}/mask", stored=False, fill=REDUCE_FILL[layer.mode])
    if layer.mode.is_arg:
        y = b.op(ARG_OPS[layer.mode], x, name=f"{node.name}/{layer.mode.value}", axis=axes[0],
                 keepdims=int(layer.keep_dims))
        return ctx.stored(b.op("Cast", y, name=f"{node.name}/int32", to=INT32), node.out_type, node.name)
    y = ctx.reduce(REDUCE_OPS[layer.mode], x, axes, f"{node.name}/{layer.mode.value}", layer.keep_dims)
    if layer.mode is ReduceMode.MEAN:
        static = float(np.prod([t.dims[a].size for a in axes if t.dims[a].size is not None]))
        divisor = b.const(np.float32(static), np.float32)
        if over_time:
            lengths = b.op("Max", ctx.length_value(t.time), b.const(1, np.int32), name=f"{node.name}/len1")
            lengths = b.op("Cast", lengths, name=f"{node.name}/len_float", to=FLOAT)
            rank = len(node.out_type.dims)
            if rank > 1:
                lengths = b.op("Unsqueeze", lengths, b.const(list(range(1, rank))), name=f"{node.name}/len_b")
            divisor = b.op("Mul", lengths, divisor, name=f"{node.name}/count")
        y = b.op("Div", y, divisor, name=f"{node.name}/mean")
    return ctx.stored(y, node.out_type, node.name)


def lower_length(node: Node, layer: Length, ctx: LowerContext) -> str:
    t = ctx.graph.input_type_of(node)
    assert t is not None and any(d.kind is DimKind.TIME for d in t.dims)
    return ctx.length_value(t.time)
