"""The numpy attention reference (tests/reference_attention.py) against RETURNN TF's goldens.

Goldens: tests/compiler/data/attention/*.json, made by bench/returnn_attention_golden.py (each sequence alone).
Teacher-forced log-probs within 1e-5 on every target frame, RETURNN's ce loss, and per beam size and sequence
RETURNN's final beam: the same hypotheses in the same order, scores within 1e-4, plain log-prob sums within 1e-4.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.reference_attention import ce_losses, encode, search, teacher_forced

DATA = Path(__file__).parent / "data" / "attention"
GOLDENS = sorted(p.stem for p in DATA.glob("*.json"))
ATOL_LOG_PROB, ATOL_SCORE = 1e-5, 1e-4


def load(name: str) -> dict:
    golden = json.loads((DATA / f"{name}.json").read_text())
    golden["params"] = {k: np.asarray(v, np.float32) for k, v in golden["params"].items()}
    golden["inputs"] = [np.asarray(x, np.float32).reshape(-1, 5) for x in golden["inputs"]]
    return golden


def test_goldens_present() -> None:
    assert GOLDENS == ["att1", "att2_ctc", "att3_pool32_ls"]


def label_smoothing(golden: dict) -> float:
    return golden["net"]["output"]["unit"]["output_prob"].get("loss_opts", {}).get("label_smoothing", 0.0)


@pytest.mark.parametrize("name", GOLDENS)
def test_teacher_forced_log_probs(name: str) -> None:
    golden = load(name)
    for b, (x, y, expected) in enumerate(zip(golden["inputs"], golden["targets"], golden["forward"])):
        log_probs = teacher_forced(golden["net"], golden["params"], x, y)
        np.testing.assert_allclose(log_probs, expected["log_probs"], atol=ATOL_LOG_PROB, rtol=0,
                                   err_msg=f"{name}: sequence {b}")
        np.testing.assert_allclose(np.exp(log_probs), expected["probs"], atol=ATOL_LOG_PROB, rtol=0)
        ce = ce_losses(log_probs, y, label_smoothing(golden)).sum()
        assert ce == pytest.approx(expected["loss_sum"], abs=1e-4), f"{name}: ce loss of sequence {b}"
        assert expected["loss"] == pytest.approx(expected["loss_sum"] / len(y), rel=1e-5)


def beams(name: str) -> list[tuple[str, int]]:
    return [(name, int(beam)) for beam in load(name)["search"]]


@pytest.mark.parametrize(("name", "beam"), [c for n in GOLDENS for c in beams(n)])
def test_search(name: str, beam: int) -> None:
    golden = load(name)
    for b, (x, expected) in enumerate(zip(golden["inputs"], golden["search"][str(beam)])):
        found = search(golden["net"], golden["params"], x, beam)
        where = f"{name} beam {beam} sequence {b}"
        assert expected["max_seq_len"] == len(encode(golden["net"], golden["params"], x)["encoder"]), where
        if "returnn_error" in expected:  # RETURNN fails when every hypothesis is empty: the obvious result
            assert [h.labels for h in found] == [()] * beam, where
            end_log_prob = teacher_forced(golden["net"], golden["params"], x, [0])[0, 0]
            assert found[0].score == pytest.approx(end_log_prob, abs=ATOL_SCORE), where
            continue
        assert [list(h.labels) for h in found] == expected["hyps"], where
        assert [h.ended for h in found] == expected["ended"], where
        # rtol: beam 64 keeps ended hypotheses extended by filtered labels, scored about -1e30
        np.testing.assert_allclose([h.score for h in found], expected["scores"], atol=ATOL_SCORE, rtol=1e-6,
                                   err_msg=where)
        finite = np.isfinite(expected["scores"])  # -inf: top_k's padding, no hypothesis
        np.testing.assert_allclose(np.array([h.log_prob_sum for h in found])[finite],
                                   np.array(expected["log_prob_sums"])[finite], atol=ATOL_SCORE, rtol=0,
                                   err_msg=where)


@pytest.mark.parametrize("name", GOLDENS)
def test_goldens_exercise_search(name: str) -> None:
    """Hypotheses that end and ones cut at max_seq_len, and beams whose order differs from beam 1's."""
    golden = load(name)
    entries = [e for found in golden["search"].values() for e in found if "hyps" in e]
    ended = [x for e in entries for x in e["ended"]]
    assert any(ended) and not all(ended)
    assert sum(e["ended"][0] for e in golden["search"]["12"] if "hyps" in e) >= 2


@pytest.mark.parametrize("name", GOLDENS)
def test_first_training_step_loss(name: str) -> None:
    """RETURNN's logged cost of the first training step (computed before its update; the batch is the first
    sequence alone) is the ce of the initial parameters summed over its target frames, divided by their number."""
    golden = load(name)
    initial = {k: np.asarray(v, np.float32) for k, v in golden["train"]["initial"].items()}
    (first,), x, y = golden["train"]["batches"][0], golden["inputs"][0], golden["targets"][0]
    assert first == 0 and len(golden["train"]["losses"]) == len(golden["train"]["batches"]) == 5
    ce = ce_losses(teacher_forced(golden["net"], initial, x, y), y, label_smoothing(golden)).mean()
    assert ce == pytest.approx(golden["train"]["losses"][0]["output/output_prob"], abs=1e-5)
