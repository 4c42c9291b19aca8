"""The fused LSTM against a plain step-by-step reference of netdict.md section 5 (float64, autograd)."""

from __future__ import annotations

import pytest
import torch
from netc.trainer.lstm import lstm_forward, reverse_within_length


def reference_lstm(x, lengths, W, W_re, b, backward, initial=None):
    """Section 5 literally: masked steps, state carried over padding, padded outputs 0."""
    B, T, _ = x.shape
    n = W_re.shape[0]
    h, c = initial if initial is not None else (x.new_zeros(B, n), x.new_zeros(B, n))
    outputs = [None] * T
    for t in (range(T - 1, -1, -1) if backward else range(T)):
        a = x[:, t] @ W + b + h @ W_re
        j, i, f, o = a.split(n, dim=1)
        m = (t < lengths)[:, None]
        c = torch.where(m, torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(j), c)
        y = torch.where(m, torch.sigmoid(o) * torch.tanh(c), torch.zeros_like(c))
        h = torch.where(m, y, h)
        outputs[t] = y
    return torch.stack(outputs, dim=1), (h, c)


def tiny_problem(n_in=3, n=4):
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([5, 1, 3, 5])
    x = torch.randn(4, 5, n_in, generator=g, dtype=torch.float64) * 2
    x[1, 1:] = 100.0  # garbage in padded frames must not matter
    x[2, 3:] = -100.0
    params = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) * 0.5
              for s in ((n_in, 4 * n), (n, 4 * n), (4 * n,))]
    initial = tuple(torch.randn(4, n, generator=g, dtype=torch.float64) for _ in range(2))
    return x.requires_grad_(), lengths, [p.detach().requires_grad_() for p in params], initial


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("final_states", [False, True])
def test_lstm_outputs_states_and_gradients_match_reference(backward, final_states):
    x, lengths, params, initial = tiny_problem()
    y, states = lstm_forward(x, lengths, tuple(params), backward, initial, final_states=final_states)
    y_ref, states_ref = reference_lstm(x, lengths, *params, backward, initial)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    weights = torch.linspace(-1, 1, y.numel(), dtype=torch.float64).reshape(y.shape)
    loss, loss_ref = (y * weights).sum(), (y_ref * weights).sum()
    if final_states:
        torch.testing.assert_close(states[0], states_ref[0], atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(states[1], states_ref[1], atol=1e-12, rtol=1e-10)
        loss, loss_ref = loss + states[1].sum(), loss_ref + states_ref[1].sum()
    grads = torch.autograd.grad(loss, [x, *params])
    grads_ref = torch.autograd.grad(loss_ref, [x, *params])
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-8)


def test_padded_outputs_are_exactly_zero():
    x, lengths, params, _ = tiny_problem()
    for backward in (False, True):
        y, _ = lstm_forward(x, lengths, tuple(params), backward)
        assert torch.all(y[1, 1:] == 0) and torch.all(y[2, 3:] == 0)


def test_reverse_within_length_reverses_valid_frames_only():
    x = torch.arange(8.0).reshape(2, 4, 1)
    got = reverse_within_length(x, torch.tensor([4, 2]))[..., 0]
    assert got.tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
