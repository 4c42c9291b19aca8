"""netc trains the conformer-hybrid miniature (depthwise conv with `groups`, batch_norm, layer_norm, eval swish,
combine residuals) on 12AX as RETURNN TF does: the same per-epoch scores and final parameters.

tests/trainer/data/returnn_conformer.json was written by bench/returnn_conformer_golden.py (RETURNN 1.20261022):
2 epochs of Adam, one sequence per batch, no dropout, from RETURNN's initial parameters."""

from __future__ import annotations

from pathlib import Path

from .returnn_goldens import assert_params_equal, assert_scores_equal, load_golden, train_like

GOLDEN = load_golden("returnn_conformer")


def test_training_matches_returnn(tmp_path: Path) -> None:
    trainer, _ = train_like(GOLDEN, tmp_path)
    assert_scores_equal(trainer, GOLDEN)
    assert_params_equal(trainer, GOLDEN)
