"""netc trains with RETURNN's loss options to RETURNN's own numbers (scores and parameters).

Each golden file under tests/trainer/data/ was written by `bench/returnn_loss_goldens.py` with RETURNN and
TensorFlow: the initial parameters, RETURNN's per-epoch train/dev scores and errors, and its parameters
after 2-3 epochs without dropout. CE variants train on 12AX (label_smoothing, focal_loss_factor, loss_scale
with loss_only_on_non_search under plain SGD); CTC variants on small HDF files written by the same script
(the dev error is TF's beam search of width 100; the second variant ignores a target longer than its input
and decodes dev by best path with beam_width 1; the third uses RETURNN's native CTC, which trains an empty
target).
"""

from __future__ import annotations

import pytest

from .returnn_goldens import DATA, assert_params_equal, assert_scores_equal, load_golden, train_like

VARIANTS = ["ce_label_smoothing", "ce_focal_loss", "ce_loss_scale", "ctc", "ctc_ignore_longer", "ctc_native"]


@pytest.fixture(scope="module", params=VARIANTS)
def trained(request, tmp_path_factory):
    """netc on the golden's config (HDF names resolved to tests/trainer/data), from its initial parameters."""
    golden = load_golden(f"returnn_{request.param}")
    files = {role: str(DATA / name) for role in ("train", "dev") if isinstance(name := golden["config"][role], str)}
    trainer, _ = train_like(golden, tmp_path_factory.mktemp(request.param), **files)
    return golden, trainer


def test_scores_of_every_epoch_equal_returnns(trained):
    golden, trainer = trained
    assert_scores_equal(trainer, golden)


def test_parameters_after_training_equal_returnns(trained):
    golden, trainer = trained
    assert_params_equal(trainer, golden)
