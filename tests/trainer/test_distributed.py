"""torchrun with 2 processes (gloo): same parameters on both ranks, scores as one process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import torch
from netc.trainer.checkpoint import load_checkpoint

from tests.helpers import REPO

CONFIG = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 10, "seq_len": 5},
          "dev": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 3, "seq_len": 5},
          "network": {"lstm": {"class": "rec", "n_out": 4}, "output": {"class": "softmax", "loss": "ce",
                                                                          "from": "lstm"}},
          "num_epochs": 2, "max_seqs": 3, "learning_rate": 0.05, "device": "cpu", "batching": "sorted"}


def run(tmp_path, name, launcher):
    directory = tmp_path / name
    directory.mkdir()
    path = directory / "config.json"
    path.write_text(json.dumps(CONFIG | {"model": str(directory / "model")}))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([*launcher, "-m", "netc", "train", str(path)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, load_checkpoint(str(directory / "model.002.pt"))["params"]


def scores(log):
    return [float(x) for x in re.findall(r"score:? ([0-9.]+)", log)]


def test_two_ranks_match_one_process(tmp_path):
    # --standalone: the rendezvous store listens on a port the OS picks (localhost:0), never a fixed one
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    log2, params2 = run(tmp_path, "two", torchrun)
    log1, params1 = run(tmp_path, "one", [sys.executable])
    assert "parameters identical on 2 ranks" in log2
    assert log2.count("epoch ") == 2 and log2.count("dev: score") == 2  # only rank 0 prints
    assert len(scores(log2)) == 4
    for a, b in zip(scores(log1), scores(log2)):
        assert abs(a - b) < 1e-3
    for name, value in params1.items():
        torch.testing.assert_close(params2[name], value, atol=1e-5, rtol=1e-4)
