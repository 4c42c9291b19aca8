"""ONNX lowering of `rec`: one native LSTM node, gates reordered at compile time."""

from __future__ import annotations

import numpy as np
from netc.ir import Direction, Node, TimeAxis
from netc.ir.layers import Rec
from netc.ir.layers.rec import GRU, TF_LSTM
from netc.ir.types import Unit

from .context import LowerContext
from .streaming import final_states, initial_states
from .theano_attention import lower_attention_decoder

# netc (RETURNN TF) stores gates as j, i, f, o; TF's LSTMCell as i, j, f, o; ONNX wants i, o, f, c (c = j).
NETC_GATES = "jifo"
TF_CELL_GATES = "ijfo"
ONNX_GATES = "iofj"


def to_onnx_gates(matrix: np.ndarray, n: int, gates: str = NETC_GATES) -> np.ndarray:
    """`(rows, 4n)` in `gates` order -> `(1, 4n, rows)` in i,o,f,c, as ONNX's W and R (one copy)."""
    return np.concatenate([matrix[:, gates.index(g) * n:(gates.index(g) + 1) * n].T for g in ONNX_GATES])[None]


def tf_cell_lstm_weights(kernel: np.ndarray, bias: np.ndarray, forget_bias: float) -> tuple[np.ndarray, ...]:
    """TF LSTMCell/BasicLSTMCell (kernel over [x, h], gates i, j, f, o, forget bias added at run time) -> ONNX W,
    R, B."""
    n = bias.shape[0] // 4
    n_in = kernel.shape[0] - n
    b = bias.copy()
    b[2 * n:3 * n] += forget_bias
    onnx_b = to_onnx_gates(b[None], n, TF_CELL_GATES).reshape(1, 4 * n)
    return (to_onnx_gates(kernel[:n_in], n, TF_CELL_GATES), to_onnx_gates(kernel[n_in:], n, TF_CELL_GATES),
            np.concatenate([onnx_b, np.zeros_like(onnx_b)], axis=1))


def gru_weights(gates_k: np.ndarray, gates_b: np.ndarray, cand_k: np.ndarray, cand_b: np.ndarray
                ) -> tuple[np.ndarray, ...]:
    """TF GRUCell (gates r, u over [x, h]; candidate over [x, r*h]) -> ONNX GRU W, R, B (z, r, h order;
    linear_before_reset 0 applies r before the recurrent product, as TF)."""
    n = cand_b.shape[0]
    n_in = gates_k.shape[0] - n
    r, u = gates_k[:, :n], gates_k[:, n:]
    blocks = [u, r, cand_k]  # ONNX z (= TF u), r, h
    W = np.concatenate([k[:n_in].T for k in blocks])[None]
    R = np.concatenate([k[n_in:].T for k in blocks])[None]
    b = np.concatenate([gates_b[n:], gates_b[:n], cand_b])[None]
    return W, R, np.concatenate([b, np.zeros_like(b)], axis=1)


def onnx_lstm_weights(W: np.ndarray, W_re: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """RETURNN-layout LSTM parameters -> ONNX `W`, `R`, `B` (`B = [Wb, Rb]`, `Rb` = 0)."""
    n = W_re.shape[0]
    bias = to_onnx_gates(b[None], n).reshape(1, 4 * n)
    return to_onnx_gates(W, n), to_onnx_gates(W_re, n), np.concatenate([bias, np.zeros_like(bias)], axis=1)


def low_mem_lstm_weights(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """RETURNN's NativeLstmLowMem (`rec/W` `[n_in + n, 4n]` over [x, h], `rec/b` `[4n]`, gates j, i, f, o;
    returnn/native_op.py LstmLowMem) -> ONNX `W`, `R`, `B`."""
    n_in = W.shape[0] - b.shape[0] // 4
    return onnx_lstm_weights(W[:n_in], W[n_in:], b)


def cell_weights(node: Node, layer: Rec, ctx: LowerContext) -> tuple[np.ndarray, ...]:
    """The ONNX LSTM (GRU) `W`, `R`, `B` of the rec layer's (or rnn_cell's) parameters, by its unit's layout."""
    if layer.unit is Unit.GRU:
        return gru_weights(*(ctx.param(node, f"{GRU}/{k}")
                             for k in ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")))
    if layer.unit in TF_LSTM:
        cell = TF_LSTM[layer.unit]
        return tf_cell_lstm_weights(ctx.param(node, f"{cell}/kernel"), ctx.param(node, f"{cell}/bias"),
                                    layer.forget_bias)
    if layer.unit is Unit.LOW_MEM_LSTM:
        return low_mem_lstm_weights(ctx.param(node, "rec/W"), ctx.param(node, "rec/b"))
    return onnx_lstm_weights(ctx.param(node, "rec/W"), ctx.param(node, "rec/W_re"), ctx.param(node, "rec/b"))


def lower_rec(node: Node, layer: Rec, ctx: LowerContext) -> str:
    """Y (time-major, padded frames 0); keeps Y_h, Y_c when a decoder starts from them."""
    b, n = ctx.builder, node.out_type.feature
    if layer.theano_attention is not None:
        return lower_attention_decoder(node, layer, ctx)
    if layer.unit is Unit.GRU:
        return lower_gru(node, layer, ctx)
    W, R, B = cell_weights(node, layer, ctx)
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


def lower_gru(node: Node, layer: Rec, ctx: LowerContext) -> str:
    """One ONNX GRU node (linear_before_reset 0), TF GRUCell's parameters converted at compile time."""
    b, n = ctx.builder, node.out_type.feature
    W, R, B = cell_weights(node, layer, ctx)
    y = b.op("GRU", ctx.source(node), b.initializer(f"{node.name}/W", W), b.initializer(f"{node.name}/R", R),
             b.initializer(f"{node.name}/B", B), ctx.length_value(node.out_type.time), name=node.name,
             hidden_size=n, linear_before_reset=0,
             direction="forward" if layer.direction is Direction.FORWARD else "reverse")
    return b.op("Squeeze", y, b.const([1]), name=f"{node.name}/squeeze")
