"""A reduced RETURNN 12AX demo must learn the task (always answering L gives a dev FER of 0.1413)."""

from __future__ import annotations

import json
import re

import torch
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

DEMO = {"train": {"class": "Task12AXDataset", "num_seqs": 400},
        "dev": {"class": "Task12AXDataset", "num_seqs": 100, "fixed_random_seed": 1},
        "num_inputs": 9, "num_outputs": 2, "batching": "random", "batch_size": 5000, "max_seqs": 10,
        "network": {"fw0": {"class": "rec", "unit": "NativeLstm2", "dropout": 0.1, "n_out": 10, "from": "data"},
                    "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}},
        "optimizer": {"class": "adam"}, "learning_rate": 0.01, "num_epochs": 4, "device": "cpu"}


def test_reduced_12ax_demo_reaches_a_low_frame_error_rate(tmp_path):
    path = tmp_path / "12ax.json"
    path.write_text(json.dumps(DEMO | {"model": str(tmp_path / "model")}))
    lines: list[str] = []
    torch.manual_seed(0)
    Trainer(prepare(str(path)), log=lines.append, progress=False).run()
    dev_errors = [float(m.group(1)) for line in lines if (m := re.match(r"dev: score [0-9.]+ error ([0-9.]+)", line))]
    assert len(dev_errors) == 4
    assert dev_errors[-1] < 0.05, lines
    assert re.fullmatch(r"epoch 4 score: [0-9.]+ error: [0-9.]+ elapsed: \d+:\d\d:\d\d", lines[-2])
