"""The LSTM of netdict.md section 5 on torch's fused kernel, exact on every valid frame.

Parameters stay in RETURNN layout (gates j, i, f, o); they are reordered to torch's i, f, g, o
inside forward with differentiable indexing, so gradients flow to the RETURNN-layout tensors.
A backward layer reverses each sequence within its own length, runs forward, and reverses back.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# netc (RETURNN TF) gate blocks j, i, f, o -> torch's i, f, g, o (g = j).
TORCH_GATE_ORDER = (1, 2, 0, 3)
RETURNN_GATE_ORDER = tuple(TORCH_GATE_ORDER.index(g) for g in range(4))  # its inverse

State = tuple[torch.Tensor, torch.Tensor]


class TorchGates(torch.autograd.Function):
    """`(rows, 4n)` in j,i,f,o -> `(4n, rows)` in i,f,g,o; the gradient is the inverse permutation.

    NOTE: plain fancy indexing back-propagates through a zero-filled index_put of every weight
    (about 3% of a 3xBLSTM-500 training step); a permutation needs only one copy each way.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, matrix: torch.Tensor) -> torch.Tensor:  # noqa: D102
        rows, n4 = matrix.shape
        blocks = matrix.reshape(rows, 4, n4 // 4)[:, list(TORCH_GATE_ORDER), :]
        return blocks.reshape(rows, n4).t().contiguous()  # the CPU kernel is slow on strided weights

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        n4, rows = grad.shape
        blocks = grad.t().reshape(rows, 4, n4 // 4)[:, list(RETURNN_GATE_ORDER), :]
        return blocks.reshape(rows, n4)


def torch_gates(matrix: torch.Tensor) -> torch.Tensor:
    """`(rows, 4n)` in j,i,f,o -> `(4n, rows)` in i,f,g,o, as torch's `weight_ih`/`weight_hh`."""
    return TorchGates.apply(matrix)


def valid_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """`[B, T]` bool, True on frames `t < len`."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Frame t of sequence b -> frame len_b-1-t on valid frames; padded frames stay. An involution."""
    steps = x.shape[1]
    t = torch.arange(steps, device=x.device)[None, :]
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return x.gather(1, index[:, :, None].expand(-1, -1, x.shape[2]))


def fused_weights(W: torch.Tensor, W_re: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
    """torch's `[w_ih, w_hh, b_ih, b_hh]`; the whole bias in `b_ih`. A decoder's empty W is a zero column."""
    w_ih = torch_gates(W) if W.shape[0] > 0 else W.new_zeros(W.shape[1], 1)
    b_ih = torch_gates(b[None, :])[:, 0]
    return [w_ih, torch_gates(W_re), b_ih, torch.zeros_like(b_ih)]


def run_kernel(x: torch.Tensor, weights: list[torch.Tensor], initial: State) -> tuple[torch.Tensor, State]:
    """One forward pass of the fused LSTM kernel on `[B, T, F]` (batch-major)."""
    # NOTE: torch._VF.lstm is what nn.LSTM calls; using it directly lets the weights be computed tensors.
    y, h, c = torch._VF.lstm(x, initial, weights, True, 1, 0.0, torch.is_grad_enabled(), False, True)
    return y, (h[0], c[0])


def lstm_forward(x: torch.Tensor, lengths: torch.Tensor, params: tuple[torch.Tensor, ...], backward: bool,
                 initial: State | None = None, final_states: bool = False) -> tuple[torch.Tensor, State | None]:
    """y `[B, T, n]` with padded frames exactly 0; final states per sequence when asked.

    Final states: forward after frame len-1, backward after frame 0. The padded kernel's final
    state sits at the padded end, so a layer whose final states are read runs packed instead.
    """
    weights = fused_weights(*params)
    n = params[1].shape[0]
    if initial is None:
        zeros = x.new_zeros(1, x.shape[0], n)
        initial = (zeros, zeros)
    else:
        initial = (initial[0][None].contiguous(), initial[1][None].contiguous())
    if backward:
        x = reverse_within_length(x, lengths)
    if final_states:
        y, state = run_packed(x, lengths, weights, initial)
    else:
        y, state = run_kernel(x, weights, initial)
        state = None
    if backward:
        y = reverse_within_length(y, lengths)
    return y * valid_mask(lengths, y.shape[1])[:, :, None].to(y.dtype), state


def run_packed(x: torch.Tensor, lengths: torch.Tensor, weights: list[torch.Tensor],
               initial: State) -> tuple[torch.Tensor, State]:
    """The kernel on a packed batch: its final states are each sequence's own last state."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    h0, c0 = (s.index_select(1, packed.sorted_indices) for s in initial)
    out, h, c = torch._VF.lstm(packed.data, packed.batch_sizes, (h0, c0), weights, True, 1, 0.0, False, False)
    y, _ = pad_packed_sequence(type(packed)(out, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
                               batch_first=True, total_length=x.shape[1])
    return y, (h[0].index_select(0, packed.unsorted_indices), c[0].index_select(0, packed.unsorted_indices))
