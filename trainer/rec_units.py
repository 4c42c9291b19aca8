"""Torch lowering of the rec units with their own parameter layouts (ir/layers/rec.py): TF's LSTMCell/BasicLSTMCell
and RETURNN's NativeLstmLowMem run on netc's LSTM kernel after a differentiable layout change; GRUCell runs its own
step loop over the packed frames."""

from __future__ import annotations

import torch
from netc.ir import Direction, Node
from netc.ir.layers import Rec
from netc.ir.layers.rec import GRU, TF_LSTM
from netc.ir.types import Unit

from .context import RunContext
from .lstm import lstm_forward, ordered_steps
from .packing import Packing


def tf_cell_as_native(kernel: torch.Tensor, bias: torch.Tensor, n_in: int,
                      forget_bias: float) -> tuple[torch.Tensor, ...]:
    """TF kernel over [x, h] in gates i, j, f, o (+ forget bias) -> netc's W, W_re, b in j, i, f, o."""
    n = bias.shape[0] // 4

    def reorder(m: torch.Tensor) -> torch.Tensor:
        i, j, f, o = m.split(n, dim=-1)
        return torch.cat([j, i, f, o], dim=-1)

    i, j, f, o = bias.split(n)
    b = torch.cat([j, i, f + forget_bias, o])
    return reorder(kernel[:n_in]), reorder(kernel[n_in:]), b


def low_mem_as_native(W: torch.Tensor, b: torch.Tensor, n_in: int) -> tuple[torch.Tensor, ...]:
    """NativeLstmLowMem's `rec/W` `[n_in + n, 4n]` over [x, h] (gates j, i, f, o, as NativeLSTM2) -> W, W_re, b."""
    return W[:n_in], W[n_in:], b


def lower_converted_lstm(node: Node, layer: Rec, ctx: RunContext) -> torch.Tensor:
    """An LSTM unit whose parameters are not NativeLSTM2's (TF cells, NativeLstmLowMem), on netc's LSTM kernel."""
    x = ctx.source(node)
    if layer.unit is Unit.LOW_MEM_LSTM:
        params = low_mem_as_native(ctx.param(node, "rec/W"), ctx.param(node, "rec/b"), x.shape[1])
    else:
        cell = TF_LSTM[layer.unit]
        params = tf_cell_as_native(ctx.param(node, f"{cell}/kernel"), ctx.param(node, f"{cell}/bias"), x.shape[1],
                                   layer.forget_bias)
    y, ctx.final_states[node.name] = lstm_forward(x, ctx.packing(node.out_type.time), params,
                                                  layer.direction is Direction.BACKWARD)
    return y


def lower_gru(node: Node, layer: Rec, ctx: RunContext) -> torch.Tensor:
    """TF GRUCell: r, u = sigmoid([x, h] Wg + bg); c = tanh([x, r*h] Wc + bc); h' = u*h + (1-u)*c."""
    x = ctx.source(node)
    gk, gb, ck, cb = (ctx.param(node, f"{GRU}/{k}") for k in ("gates/kernel", "gates/bias", "candidate/kernel",
                                                                 "candidate/bias"))
    return gru_packed(x, ctx.packing(node.out_type.time), gk, gb, ck, cb, layer.direction is Direction.BACKWARD)


def gru_packed(x: torch.Tensor, packing: Packing, gk: torch.Tensor, gb: torch.Tensor, ck: torch.Tensor,
               cb: torch.Tensor, backward: bool, h0: torch.Tensor | None = None) -> torch.Tensor:
    """y `[frames, n]` over packed frames from state `h0 [B, n]` in batch order (None: zeros); state rows are
    the sequences longest first (packing.py)."""
    n, n_in = cb.shape[0], x.shape[1]
    x_gates, x_cand = x @ gk[:n_in] + gb, x @ ck[:n_in] + cb
    h = x.new_zeros(len(packing.lengths), n) if h0 is None else packing.to_rows(h0)
    outputs: list[torch.Tensor] = [x.new_zeros(0, n)] * packing.steps
    for t, first in ordered_steps(packing.sizes, backward):
        k = packing.sizes[t]
        rows, h_k = slice(first, first + k), h[:k]
        r, u = torch.sigmoid(x_gates[rows] + h_k @ gk[n_in:]).split(n, dim=1)
        c = torch.tanh(x_cand[rows] + (r * h_k) @ ck[n_in:])
        new = u * h_k + (1 - u) * c
        h = torch.cat([new, h[k:]])
        outputs[t] = new
    return torch.cat(outputs) if outputs else x.new_zeros(0, n)
