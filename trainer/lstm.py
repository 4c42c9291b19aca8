"""The LSTM of netdict.md section 5 on packed batches, with a hand-written backward pass.

Parameters stay in RETURNN's layout and gate order (j, i, f, o). The input projection `x W + b` is one
matrix product over all frames of the batch (padded frames are never computed), written straight into
the buffer where the recurrence adds its products. The recurrence runs step by step over the packed
frames, so the sequences active at a step are the first state rows, a finished sequence keeps its final
state and a backward layer starts every sequence at its own last frame. The gradient of `W_re` is one
matrix product over all frames after the loop, not one small product per step. Two kernels compute the
same thing: the native one (native/lstm.cpp) for CPU tensors, and a portable one built from torch
operations for other devices, or where no C++ compiler is available.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import native
from .packing import Packing

State = tuple[torch.Tensor, torch.Tensor]


def portable_forward(gates: torch.Tensor, W_re: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
                     sizes: Sequence[int], backward: bool) -> tuple[torch.Tensor, ...]:
    """What `netc::lstm_forward` computes: y, final h, final c, then c_prev, tanh(c), h_prev for backward.

    `gates` holds x W + b; the recurrent products are added in place and the activated gates left there.
    """
    frames, n = gates.shape[0], W_re.shape[0]
    y, tanh_c, c_prev, h_prev = (gates.new_empty(frames, n) for _ in range(4))
    h, c = h0.clone(), c0.clone()
    for t, first in ordered_steps(sizes, backward):
        rows, k = slice(first, first + sizes[t]), sizes[t]
        h_prev[rows], c_prev[rows] = h[:k], c[:k]
        g = gates[rows].addmm_(h_prev[rows], W_re)
        g[:, :n].tanh_()
        g[:, n:].sigmoid_()
        j, i, f, o = g.split(n, dim=1)
        c[:k] = torch.addcmul(f * c_prev[rows], i, j)
        torch.tanh(c[:k], out=tanh_c[rows])
        torch.mul(o, tanh_c[rows], out=y[rows])
        h[:k] = y[rows]
    return y, h, c, c_prev, tanh_c, h_prev


def portable_backward(grad_y: torch.Tensor, grad_h: torch.Tensor, grad_c: torch.Tensor, W_re: torch.Tensor,
                      gates: torch.Tensor, c_prev: torch.Tensor, tanh_c: torch.Tensor, h_prev: torch.Tensor,
                      sizes: Sequence[int], backward: bool) -> tuple[torch.Tensor, ...]:
    """What `netc::lstm_backward` computes: gradients of the gate pre-activations, W_re, h0 and c0."""
    n, W_re_t = W_re.shape[0], W_re.t().contiguous()
    grad_gates = torch.empty_like(gates)
    dh, dc = grad_h.clone(), grad_c.clone()
    for t, first in reversed(ordered_steps(sizes, backward)):
        rows, k = slice(first, first + sizes[t]), sizes[t]
        j, i, f, o = gates[rows].split(n, dim=1)
        tc = tanh_c[rows]
        d_out = dh[:k] + grad_y[rows]
        d_cell = dc[:k] + d_out * o * (1 - tc * tc)
        torch.cat([d_cell * i * (1 - j * j), d_cell * j * i * (1 - i), d_cell * c_prev[rows] * f * (1 - f),
                   d_out * tc * o * (1 - o)], dim=1, out=grad_gates[rows])
        dc[:k] = d_cell * f
        torch.mm(grad_gates[rows], W_re_t, out=dh[:k])
    return grad_gates, h_prev.t() @ grad_gates, dh, dc


def ordered_steps(sizes: Sequence[int], backward: bool) -> list[tuple[int, int]]:
    """(step, first packed row) in the order the recurrence visits them."""
    firsts = [0] * len(sizes)
    for t in range(1, len(sizes)):
        firsts[t] = firsts[t - 1] + sizes[t - 1]
    steps = list(zip(range(len(sizes)), firsts))
    return steps[::-1] if backward else steps


def uses_native(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and native.load()


def onednn_weight(weight: torch.Tensor) -> torch.Tensor | None:
    """`weight` (out x in) prepacked for oneDNN's GEMM, which the native kernel then uses for the per-step
    products; None where torch has no oneDNN (the kernel then calls MKL/BLAS through ATen)."""
    if (weight.dtype != torch.float32 or not torch.backends.mkldnn.is_available()
            or not hasattr(torch.ops.mkldnn, "_reorder_linear_weight")):
        return None
    return torch.ops.mkldnn._reorder_linear_weight(weight.contiguous())


class PackedLstm(torch.autograd.Function):
    """y, final h, final c of an LSTM layer over packed `x [frames, F]` from state rows `h0, c0`."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, W: torch.Tensor,  # noqa: D102
                W_re: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, sizes: tuple[int, ...],
                backward: bool) -> tuple[torch.Tensor, ...]:
        gates = torch.addmm(b, x, W)  # a decoder's W has no rows: the bias alone
        h0, c0 = h0.contiguous(), c0.contiguous()
        if uses_native(gates):
            y, h, c, *saved = torch.ops.netc.lstm_forward(gates, W_re, onednn_weight(W_re.t()), h0, c0, list(sizes),
                                                          backward)
        else:
            y, h, c, *saved = portable_forward(gates, W_re, h0, c0, sizes, backward)
        ctx.save_for_backward(x, W, W_re, gates, *saved)
        ctx.sizes, ctx.backward, ctx.states = sizes, backward, h0.shape[0]
        return y, h, c

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_y: torch.Tensor | None,  # noqa: D102
                 grad_h: torch.Tensor | None, grad_c: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        x, W, W_re, gates, c_prev, tanh_c, h_prev = ctx.saved_tensors
        frames, states, n = gates.shape[0], ctx.states, W_re.shape[0]
        grad_y = grad_y if grad_y is not None else gates.new_zeros(frames, n)
        grad_h = grad_h if grad_h is not None else gates.new_zeros(states, n)
        grad_c = grad_c if grad_c is not None else gates.new_zeros(states, n)
        grads = grad_y.contiguous(), grad_h.contiguous(), grad_c.contiguous()
        if uses_native(gates):
            grad_gates, grad_W_re, grad_h0, grad_c0 = torch.ops.netc.lstm_backward(
                *grads, W_re, onednn_weight(W_re), gates, c_prev, tanh_c, h_prev, list(ctx.sizes), ctx.backward)
        else:
            grad_gates, grad_W_re, grad_h0, grad_c0 = portable_backward(
                *grads, W_re, gates, c_prev, tanh_c, h_prev, ctx.sizes, ctx.backward)
        grad_x = grad_gates @ W.t() if ctx.needs_input_grad[0] else None
        return grad_x, x.t() @ grad_gates, grad_W_re, grad_gates.sum(dim=0), grad_h0, grad_c0, None, None


def lstm_forward(x: torch.Tensor, packing: Packing, params: tuple[torch.Tensor, ...], backward: bool,
                 initial: State | None = None) -> tuple[torch.Tensor, State]:
    """y `[frames, n]` (packed) and each sequence's final state `[B, n]` in batch order.

    Final states: forward after frame len-1, backward after frame 0. A decoder passes `x` with 0 features.
    """
    W, W_re, b = params
    if initial is None:
        h0 = c0 = x.new_zeros(len(packing.lengths), W_re.shape[0])
    else:
        h0, c0 = (packing.to_rows(s) for s in initial)
    y, h, c = PackedLstm.apply(x, W, W_re, b, h0, c0, packing.sizes, backward)
    return y, (packing.from_rows(h), packing.from_rows(c))
