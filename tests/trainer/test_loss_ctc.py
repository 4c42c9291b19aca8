"""CTC in the trainer: TF's decoders, a numpy forward-algorithm reference of the loss, and TF's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from netc.ir import NetcError, load_graph
from netc.trainer.batching import Batch
from netc.trainer.ctc import beam_search, edit_distance, greedy_decode, required_frames
from netc.trainer.loss import layer_loss
from netc.trainer.model import NetModel

from tests.helpers import ragged_batch

DECODED = np.load(Path(__file__).parent / "data" / "tf_ctc_decode.npz")
F, LABELS = 4, 3


def tf_decoding(key: str, b: int) -> list[int]:
    return [int(v) for v in DECODED[key][b] if v >= 0]


@pytest.mark.parametrize("width", [1, 2, 3, 100])
def test_beam_search_equals_tensorflows(width):
    logits, lengths = DECODED["logits"], DECODED["lengths"]
    for b in range(len(logits)):
        assert beam_search(logits[b, : lengths[b]], width).tolist() == tf_decoding(f"beam{width}", b), b


def test_greedy_equals_tensorflows_and_differs_from_the_beam():
    logits, lengths = DECODED["logits"], DECODED["lengths"]
    differ = 0
    for b in range(len(logits)):
        got = greedy_decode(logits[b, : lengths[b]], blank=logits.shape[-1] - 1).tolist()
        assert got == tf_decoding("greedy", b), b
        differ += got != tf_decoding("beam100", b)
    assert differ >= 10, "the golden logits must tell best path from beam search"


def textbook_edit_distance(h: list[int], t: list[int]) -> int:
    d = [[i + j if i * j == 0 else 0 for j in range(len(t) + 1)] for i in range(len(h) + 1)]
    for i in range(1, len(h) + 1):
        for j in range(1, len(t) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (h[i - 1] != t[j - 1]))
    return d[-1][-1]


@given(st.lists(st.integers(0, 3), max_size=9), st.lists(st.integers(0, 3), max_size=9))
def test_edit_distance_equals_the_textbook_table(h, t):
    assert edit_distance(h, t) == textbook_edit_distance(h, t)


def test_edit_distance_and_required_frames():
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([], [4, 4]) == 2 and edit_distance([1, 2], []) == 2
    assert edit_distance([1, 3, 2, 2], [1, 2, 2]) == 1 and edit_distance([2, 1], [1, 2]) == 2
    assert required_frames(np.array([1, 1, 2, 2, 2])) == 8 and required_frames(np.array([], np.int32)) == 0


def ctc_reference(log_probs: np.ndarray, target: list[int], blank: int) -> float:
    """-log p(target | x) by the forward algorithm over the blank-extended target, float64."""
    ext = [blank] + [s for label in target for s in (label, blank)]
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = log_probs[0, blank]
    if len(ext) > 1:
        alpha[1] = log_probs[0, ext[1]]
    for t in range(1, len(log_probs)):
        stay, step = alpha, np.concatenate([[-np.inf], alpha[:-1]])
        skip = np.concatenate([[-np.inf, -np.inf], alpha[:-2]])
        allowed = np.array([s >= 2 and ext[s] != blank and ext[s] != ext[s - 2] for s in range(len(ext))])
        alpha = np.logaddexp(np.logaddexp(stay, step), np.where(allowed, skip, -np.inf)) + log_probs[t, ext]
    return -float(np.logaddexp(alpha[-1], alpha[-2]) if len(ext) > 1 else alpha[-1])


def log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.logaddexp.reduce(x, axis=-1, keepdims=True)


def ctc_net(tmp_path: Path, loss_opts: dict | None = None) -> tuple[NetModel, object]:
    net = {"h": {"class": "linear", "activation": "tanh", "n_out": 5},
           "output": {"class": "softmax", "loss": "ctc", "from": "h"} | ({"loss_opts": loss_opts} if loss_opts else {})}
    (tmp_path / "net.json").write_text(json.dumps(net))
    graph = load_graph(tmp_path / "net.json", F, LABELS)
    return NetModel(graph, seed=1), graph["output"]


def batch_of(lengths: list[int], targets: list[list[int]]) -> Batch:
    x, lens = ragged_batch(np.random.default_rng(0), lengths, F)
    padded = np.zeros((len(targets), max(1, max(map(len, targets)))), np.int64)
    for b, t in enumerate(targets):
        padded[b, : len(t)] = t
    return Batch(torch.from_numpy(x), torch.from_numpy(lens).long(), {"classes": torch.from_numpy(padded)},
                 {"classes": torch.tensor([len(t) for t in targets])})


def run(model: NetModel, node, batch: Batch, training: bool = True):  # noqa: ANN001, ANN202
    model.train(training)
    ctx = model(batch.data, batch.lengths)
    ctx.logits[node.name].retain_grad()
    return layer_loss(node, ctx, batch), ctx


TARGETS = [[0, 1, 1], [2], [1, 0, 2, 2], [0]]
LENGTHS = [6, 1, 9, 3]  # [0, 1, 1] needs 4 frames, [1, 0, 2, 2] needs 5


def test_ctc_loss_equals_the_forward_algorithm_with_garbage_padding(tmp_path):
    model, node = ctc_net(tmp_path)
    stats, ctx = run(model, node, batch_of(LENGTHS, TARGETS))
    logits = ctx.padded(node.name, logits=True).detach().double().numpy()
    expected = [ctc_reference(log_softmax(logits[b, :n]), t, blank=LABELS) for b, (n, t) in
                enumerate(zip(LENGTHS, TARGETS))]
    assert stats[0].item() == pytest.approx(sum(expected), rel=1e-5)
    assert stats[2].item() == sum(map(len, TARGETS))  # the score is normalized by target labels


def test_ctc_gradient_equals_finite_differences_of_the_reference(tmp_path):
    model, node = ctc_net(tmp_path)
    stats, ctx = run(model, node, batch_of(LENGTHS, TARGETS))
    stats[0].backward()
    grad = ctx.packings[node.out_type.time].unpack(ctx.logits[node.name].grad).numpy()
    logits = ctx.padded(node.name, logits=True).detach().double().numpy()
    b, n = 2, LENGTHS[2]
    numeric = np.zeros((n, LABELS + 1))
    for t in range(n):
        for c in range(LABELS + 1):
            plus, minus = logits[b, :n].copy(), logits[b, :n].copy()
            plus[t, c] += 1e-6
            minus[t, c] -= 1e-6
            numeric[t, c] = (ctc_reference(log_softmax(plus), TARGETS[b], LABELS) -
                             ctc_reference(log_softmax(minus), TARGETS[b], LABELS)) / 2e-6
    np.testing.assert_allclose(grad[b, :n], numeric, atol=1e-4)


def test_training_error_is_the_edit_distance_of_the_best_path(tmp_path):
    model, node = ctc_net(tmp_path)
    stats, ctx = run(model, node, batch_of(LENGTHS, TARGETS))
    logits = ctx.padded(node.name, logits=True).detach().numpy()
    expected = sum(edit_distance(greedy_decode(logits[b, :n], LABELS).tolist(), t)
                   for b, (n, t) in enumerate(zip(LENGTHS, TARGETS)))
    assert stats[1].item() == expected


def test_a_target_longer_than_its_input_is_an_error_unless_ignored(tmp_path):
    targets = [[0, 1, 1], [2, 2]]  # [2, 2] needs 3 frames, its input has 1
    model, node = ctc_net(tmp_path)
    with pytest.raises(NetcError, match="ignore_longer_outputs_than_inputs"):
        run(model, node, batch_of([6, 1], targets))
    model, node = ctc_net(tmp_path, {"ctc_opts": {"ignore_longer_outputs_than_inputs": True}})
    stats, ctx = run(model, node, batch_of([6, 1], targets))
    only_first, _ = run(model, node, batch_of([6], targets[:1]))
    assert stats[0].item() == pytest.approx(only_first[0].item(), rel=1e-6)  # the long one adds 0
    assert stats[2].item() == 5  # but its labels count in the norm
    stats[0].backward()
    assert ctx.packings[node.out_type.time].unpack(ctx.logits[node.name].grad)[1].abs().sum() == 0


def test_an_empty_target_is_refused_as_tensorflow_does_but_not_by_the_native_ctc(tmp_path):
    model, node = ctc_net(tmp_path)
    with pytest.raises(NetcError, match="Labels length is zero"):
        run(model, node, batch_of([4, 3], [[1], []]))
    model, node = ctc_net(tmp_path, {"use_native": True, "beam_width": 1})
    stats, ctx = run(model, node, batch_of([4, 3], [[1], []]))
    logits = ctx.padded(node.name, logits=True).detach().double().numpy()
    all_blank = -log_softmax(logits[1, :3])[:, LABELS].sum()
    one = ctc_reference(log_softmax(logits[0, :4]), [1], LABELS)
    assert stats[0].item() == pytest.approx(one + all_blank, rel=1e-5)
