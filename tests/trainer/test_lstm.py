"""The packed LSTM (native and portable kernels) against a plain step-by-step reference of netdict.md section 5.

Float64 and autograd on the reference side; the kernels' hand-written backward passes must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from netc.trainer import lstm, native
from netc.trainer.lstm import lstm_forward
from netc.trainer.packing import Packing


def reference_lstm(x, lengths, W, W_re, b, backward, initial=None):
    """Section 5 literally on padded `[B, T, F]`: masked steps, state carried over padding, padded outputs 0."""
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


def tiny_problem(n_in=3, n=4, lengths=(5, 1, 3, 5, 2)):
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor(lengths)
    x = torch.randn(len(lengths), int(lengths.max()), n_in, generator=g, dtype=torch.float64) * 2
    for b, length in enumerate(lengths.tolist()):
        x[b, length:] = 100.0 * (-1) ** b  # garbage in padded frames must not matter
    params = [(torch.randn(*s, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
              for s in ((n_in, 4 * n), (n, 4 * n), (4 * n,))]
    initial = tuple(torch.randn(len(lengths), n, generator=g, dtype=torch.float64, requires_grad=True)
                    for _ in range(2))
    return x.requires_grad_(), lengths, params, initial


@pytest.fixture(params=["native", "portable"])
def kernel(request, monkeypatch):
    """Run each test once with the C++ kernel and once with the torch-operations kernel."""
    if request.param == "native":
        assert native.load(), "the native kernel must build where the tests run (g++ and ninja are installed)"
    else:
        monkeypatch.setattr(lstm, "uses_native", lambda x: False)
    return request.param


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("with_initial", [False, True])
def test_lstm_outputs_states_and_gradients_match_reference(kernel, backward, with_initial):
    x, lengths, params, initial = tiny_problem()
    initial = initial if with_initial else None
    packing = Packing.of(lengths)
    y, states = lstm_forward(packing.pack(x), packing, tuple(params), backward, initial)
    y_ref, states_ref = reference_lstm(x, lengths, *params, backward, initial)
    torch.testing.assert_close(packing.unpack(y), y_ref, atol=1e-12, rtol=1e-10)
    for state, state_ref in zip(states, states_ref):
        torch.testing.assert_close(state, state_ref, atol=1e-12, rtol=1e-10)
    weights = torch.linspace(-1, 1, y_ref.numel(), dtype=torch.float64).reshape(y_ref.shape)
    loss = (packing.unpack(y) * weights).sum() + states[1].sum() - 2 * states[0].sum()
    loss_ref = (y_ref * weights).sum() + states_ref[1].sum() - 2 * states_ref[0].sum()
    inputs = [x, *params, *(initial or ())]
    for g, g_ref in zip(torch.autograd.grad(loss, inputs), torch.autograd.grad(loss_ref, inputs)):
        torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-8)


def test_decoder_without_input_matches_reference(kernel):
    """A decoder: no input features, only the bias before the recurrence, initial state from encoders."""
    _, lengths, (_, W_re, b), initial = tiny_problem()
    W = torch.zeros(0, W_re.shape[1], dtype=torch.float64)
    packing = Packing.of(lengths)
    y, _ = lstm_forward(torch.zeros(packing.frames, 0, dtype=torch.float64), packing, (W, W_re, b), False, initial)
    y_ref, _ = reference_lstm(torch.zeros(5, 5, 0, dtype=torch.float64), lengths, W, W_re, b, False, initial)
    torch.testing.assert_close(packing.unpack(y), y_ref, atol=1e-12, rtol=1e-10)
    grads = torch.autograd.grad(packing.unpack(y).sum(), [W_re, b, *initial])
    grads_ref = torch.autograd.grad(y_ref.sum(), [W_re, b, *initial])
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-8)


def test_float32_kernels_agree_with_each_other(monkeypatch):
    x, lengths, params, _ = tiny_problem(n_in=7, n=33, lengths=(40, 1, 17, 40, 39, 2))
    packing = Packing.of(lengths)
    inputs = [packing.pack(x).float().detach().requires_grad_(), *(p.float().detach().requires_grad_()
                                                                  for p in params)]
    results = []
    for use_native in (True, False):
        monkeypatch.setattr(lstm, "uses_native", lambda t, use_native=use_native: use_native and native.load())
        y, (h, c) = lstm_forward(inputs[0], packing, tuple(inputs[1:]), True)
        results.append([y, h, c, *torch.autograd.grad(y.square().sum() + c.sum(), inputs)])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_packing_round_trip_orders_frames_time_major_longest_first():
    packing = Packing.of(torch.tensor([2, 3, 1]))
    assert packing.sizes == (3, 2, 1)
    assert packing.seq.tolist() == [1, 0, 2, 1, 0, 1] and packing.step.tolist() == [0, 0, 0, 1, 1, 2]
    padded = torch.arange(9.0).reshape(3, 3, 1)
    unpacked = packing.unpack(packing.pack(padded))[..., 0]
    assert unpacked.tolist() == [[0, 1, 0], [3, 4, 5], [6, 0, 0]]
    states = torch.tensor([[10.0], [20.0], [30.0]])
    assert packing.to_rows(states)[:, 0].tolist() == [20, 10, 30]
    assert torch.equal(packing.from_rows(packing.to_rows(states)), states)


def test_without_a_compiler_training_warns_and_uses_the_portable_kernel(tmp_path):
    """No C++ compiler (CXX is `false`) and an empty kernel cache: a warning that says how to fix it, and the
    same training result as the native kernel's run."""
    net = {"lstm": {"class": "rec", "n_out": 3, "direction": -1},
           "output": {"class": "softmax", "loss": "ce", "from": "lstm"}}
    config = {"train": {"class": "DummyDataset", "input_dim": 2, "output_dim": 3, "num_seqs": 4, "seq_len": 5},
              "network": net, "num_epochs": 2, "learning_rate": 0.1}
    lines = {}
    for name, env in (("native", {}), ("no compiler", {"CXX": "false", "NETC_CACHE_DIR": str(tmp_path / "cache")})):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(config | {"model": str(tmp_path / name / "model")}))
        result = subprocess.run([sys.executable, "-m", "netc", "train", str(path)], capture_output=True, text=True,
                                env=os.environ | env)
        assert result.returncode == 0, result.stderr
        lines[name] = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
        if name == "no compiler":
            assert "the native LSTM kernel could not be built" in result.stderr
            assert "Install a C++ compiler (g++)" in result.stderr
    assert [line.split(" elapsed")[0] for line in lines["no compiler"]] == \
        [line.split(" elapsed")[0] for line in lines["native"]]
