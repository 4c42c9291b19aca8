"""The reference itself, pinned to netdict.md by hand-computed values (not by the compiler).

Parity with the compiler proves the two agree; these tests make sure they do not agree on a shared mistake
(gate order, reversal, decoder state) by checking the reference against the spec's formulas step by step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.reference import activation, lstm, reference_output


def sig(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def cell(j: float, i: float, f: float, o: float, c: float) -> tuple[float, float]:
    """One step of section 5 for n = 1, written with scalars: (h, c)."""
    c = sig(f) * c + sig(i) * math.tanh(j)
    return sig(o) * math.tanh(c), c


def test_lstm_gate_order_is_j_i_f_o() -> None:
    """n = 1, input weights 0: two steps driven by a bias whose four gate values all differ."""
    b = np.array([0.3, -0.2, 1.5, 0.7])  # j, i, f, o
    w_re = np.array([[0.4, -0.6, 0.2, 0.9]])
    x = np.zeros((1, 3, 2))
    seq = lstm(x, np.array([2]), np.zeros((2, 4)), w_re, b, 1, np.zeros((1, 1)), np.zeros((1, 1)))
    h1, c1 = cell(0.3, -0.2, 1.5, 0.7, 0.0)
    h2, c2 = cell(*(b + h1 * w_re[0]), c1)
    np.testing.assert_allclose(seq.x[0, :, 0], [h1, h2, 0.0], rtol=1e-12)
    np.testing.assert_allclose([seq.final[0][0, 0], seq.final[1][0, 0]], [h2, c2], rtol=1e-12)


def test_backward_runs_each_sequence_within_its_length() -> None:
    """direction -1 == forward over the sequence's own frames reversed, written back time-aligned."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3))
    lens = np.array([3, 5])
    W, W_re, b = rng.standard_normal((3, 8)), rng.standard_normal((2, 8)), rng.standard_normal(8)
    zero = np.zeros((2, 2))
    back = lstm(x, lens, W, W_re, b, -1, zero, zero)
    for s, n in enumerate(lens):
        fwd = lstm(x[s:s + 1, :n][:, ::-1], lens[s:s + 1], W, W_re, b, 1, zero[:1], zero[:1])
        np.testing.assert_allclose(back.x[s, :n], fwd.x[0, ::-1], rtol=1e-12)
        np.testing.assert_array_equal(back.x[s, n:], 0.0)
        np.testing.assert_allclose(back.final[0][s], fwd.x[0, -1], rtol=1e-12)  # state after frame 0


def test_decoder_starts_from_encoder_final_h_and_c() -> None:
    """Two n=1 encoders (fw, bw) -> a 2-wide decoder: initial h, c = [fw final, bw final], gates = b + h W_re."""
    net = {"fw": {"class": "rec", "n_out": 1}, "bw": {"class": "rec", "n_out": 1, "direction": -1},
           "dec": {"class": "rec", "n_out": 2, "from": "null", "encoder": ["fw", "bw"]},
           "output": {"class": "copy", "from": "dec"}}
    rng = np.random.default_rng(1)
    p = {f"{k}/rec/{n}": rng.uniform(-1, 1, s) for k, shapes in
         {"fw": {"W": (1, 4), "W_re": (1, 4), "b": (4,)}, "bw": {"W": (1, 4), "W_re": (1, 4), "b": (4,)},
          "dec": {"W": (0, 8), "W_re": (2, 8), "b": (8,)}}.items() for n, s in shapes.items()}
    xs = [0.5, -1.0]  # one sequence of 2 frames, 1 feature, then a padded frame of garbage
    x = np.array([[[xs[0]], [xs[1]], [99.0]]])

    def run(name: str, frames: list[float]) -> tuple[float, float]:
        h = c = 0.0
        for v in frames:
            a = v * p[f"{name}/rec/W"][0] + p[f"{name}/rec/b"] + h * p[f"{name}/rec/W_re"][0]
            h, c = cell(*a, c)
        return h, c

    (hf, cf), (hb, cb) = run("fw", xs), run("bw", xs[::-1])
    h, c = np.array([hf, hb]), np.array([cf, cb])
    expected = []
    for _ in range(3):  # target length 3, longer than the input
        a = p["dec/rec/b"] + h @ p["dec/rec/W_re"]
        j, i, f, o = np.split(a, 4)
        c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(j)
        h = 1 / (1 + np.exp(-o)) * np.tanh(c)
        expected.append(h)
    y, y_lens = reference_output(net, p, x, np.array([2]), np.array([3]))
    np.testing.assert_allclose(y[0], expected, rtol=1e-12)
    assert y_lens.tolist() == [3]


@pytest.mark.parametrize(("name", "x", "expected"), [
    ("identity", -2.0, -2.0), ("none", 3.0, 3.0), (None, 3.0, 3.0),
    ("relu", -1.0, 0.0), ("relu", 2.0, 2.0),
    ("tanh", 0.5, math.tanh(0.5)), ("sigmoid", 0.0, 0.5), ("logistic", 2.0, sig(2.0)),
    ("elu", -1.0, math.exp(-1) - 1), ("elu", 2.0, 2.0),
    ("selu", -1.0, 1.0507009873554805 * 1.6732632423543772 * (math.exp(-1) - 1)), ("selu", 2.0, 2 * 1.0507009873554805),
    ("gelu", 1.0, 0.8413447460685429), ("gelu", -0.5, -0.15426876936299344),
    ("softplus", 0.0, math.log(2)), ("softplus", 3.0, math.log1p(math.exp(3))),
    ("swish", 1.0, sig(1.0)), ("silu", -2.0, -2 * sig(-2.0)),
    ("abs", -1.5, 1.5), ("exp", 1.0, math.e), ("square", -3.0, 9.0),
])
def test_scalar_activations(name: str | None, x: float, expected: float) -> None:
    assert activation(name)(np.array([x]))[0] == pytest.approx(expected, rel=1e-12)


def test_softmax_and_log_softmax_over_features() -> None:
    x = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 0.0]])
    e = np.exp([1.0, 2.0, 4.0])
    np.testing.assert_allclose(activation("softmax")(x), [e / e.sum(), [1 / 3] * 3], rtol=1e-12)
    np.testing.assert_allclose(activation("log_softmax")(x), np.log([e / e.sum(), [1 / 3] * 3]), rtol=1e-12)


def test_sources_concatenate_in_from_order_and_copy_masks() -> None:
    net = {"a": {"class": "linear", "n_out": 1, "with_bias": False},
           "output": {"class": "copy", "from": ["a", "data:data", "a"]}}
    x = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    y, _ = reference_output(net, {"a/W": np.array([[10.0], [1.0]])}, x, np.array([1]))
    np.testing.assert_array_equal(y, [[[12.0, 1.0, 2.0, 12.0], [0.0, 0.0, 0.0, 0.0]]])
