"""ONNX lowering of `rec`: one native LSTM node, gates reordered at compile time."""

from __future__ import annotations

import numpy as np
from netc.ir import Direction, Node, TimeAxis
from netc.ir.layers import Rec

from .context import LowerContext
from .streaming import final_states, initial_states

# netc (RETURNN TF) stores gates as j, i, f, o; ONNX wants i, o, f, c (c = j).
NETC_GATES = "jifo"
ONNX_GATES = "iofj"
GATE_ORDER = [NETC_GATES.index(g) for g in ONNX_GATES]


def to_onnx_gates(matrix: np.ndarray, n: int) -> np.ndarray:
    """`(rows, 4n)` in j,i,f,o -> `(1, 4n, rows)` in i,o,f,c, as ONNX's W and R (one copy)."""
    return np.concatenate([matrix[:, g * n:(g + 1) * n].T for g in GATE_ORDER])[None]


def onnx_lstm_weights(W: np.ndarray, W_re: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """RETURNN-layout LSTM parameters -> ONNX `W`, `R`, `B` (`B = [Wb, Rb]`, `Rb` = 0)."""
    n = W_re.shape[0]
    bias = to_onnx_gates(b[None], n).reshape(1, 4 * n)
    return to_onnx_gates(W, n), to_onnx_gates(W_re, n), np.concatenate([bias, np.zeros_like(bias)], axis=1)


def lower_rec(node: Node, layer: Rec, ctx: LowerContext) -> str:
    """Y (time-major, padded frames 0); keeps Y_h, Y_c when a decoder starts from them."""
    b, n = ctx.builder, node.out_type.feature
    W, R, B = onnx_lstm_weights(ctx.param(node, "rec/W"), ctx.param(node, "rec/W_re"), ctx.param(node, "rec/b"))
    initial = ["", ""]
    if layer.is_decoder:
        x = ctx.zero_input(TimeAxis.CLASSES)
        W = np.zeros((1, 4 * n, 1), np.float32)
        initial = [b.op("Concat", *[ctx.final_states[e][k] for e in layer.encoder or ()],
                        name=f"{node.name}/initial_{'hc'[k]}", axis=2) for k in (0, 1)]
    else:
        x = ctx.source(node)
    if ctx.streaming:
        initial = initial_states(node, ctx)
    needs_states = node.name in ctx.encoders or ctx.streaming
    y, *states = b.op_multi(
        "LSTM", x, b.initializer(f"{node.name}/W", W), b.initializer(f"{node.name}/R", R),
        b.initializer(f"{node.name}/B", B), ctx.length_value(node.out_type.time), *initial,
        name=node.name, outputs=3 if needs_states else 1, hidden_size=n,
        direction="forward" if layer.direction is Direction.FORWARD else "reverse")
    if needs_states:
        ctx.final_states[node.name] = (states[0], states[1])
    if ctx.streaming:
        final_states(node, ctx, states[0], states[1])
    return b.op("Squeeze", y, b.const([1]), name=f"{node.name}/squeeze")
