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

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

DATA = Path(__file__).parent / "data"
VARIANTS = ["ce_label_smoothing", "ce_focal_loss", "ce_loss_scale", "ctc", "ctc_ignore_longer", "ctc_native"]


def golden(name: str) -> dict:
    return json.loads((DATA / f"returnn_{name}.json").read_text())


def train_from_golden(name: str, directory: Path, change: dict | None = None) -> Trainer:
    """netc on the golden's config (HDF names resolved to tests/trainer/data), from its initial parameters."""
    expected = golden(name)
    config = dict(expected["config"])
    for role in ("train", "dev"):
        if isinstance(config[role], str):
            config[role] = str(DATA / config[role])
    config_file = directory / "config.json"
    config_file.write_text(json.dumps(config | (change or {}) | {"model": str(directory / "model")}))
    trainer = Trainer(prepare(str(config_file)), log=lambda line: None, progress=False)
    with torch.no_grad():
        for parameter_name, parameter in trainer.model.named_parameters():
            parameter.copy_(torch.tensor(expected["initial"][parameter_name]))
    trainer.run()
    return trainer


@pytest.fixture(scope="module", params=VARIANTS)
def trained(request, tmp_path_factory):
    return request.param, train_from_golden(request.param, tmp_path_factory.mktemp(request.param))


def test_scores_of_every_epoch_equal_returnns(trained):
    name, trainer = trained
    for epoch, expected in enumerate(golden(name)["epochs"], 1):
        got = trainer.control.epochs[epoch]["scores"]
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=2e-5), (name, epoch, key)


def test_parameters_after_training_equal_returnns(trained):
    name, trainer = trained
    got = trainer.model.named_values()
    final = golden(name)["final"]
    assert got.keys() == final.keys()
    for parameter_name, expected in final.items():
        np.testing.assert_allclose(got[parameter_name], np.asarray(expected, np.float32), atol=1e-4, rtol=0,
                                   err_msg=f"{name}: {parameter_name}")
