"""Checkpoints: atomic, weights_only, resume after kill -9 reaching bit-identical parameters."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from netc.ir import NetcError
from netc.trainer.checkpoint import load_checkpoint, load_params, newest_checkpoint

from netc.cli import main
from tests.helpers import REPO, session

NET = {"lstm": {"class": "rec", "n_out": 4, "dropout": 0.2},
       "output": {"class": "softmax", "loss": "ce", "from": "lstm"}}


def write_config(directory: Path) -> Path:
    directory.mkdir()
    config = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 12, "seq_len": 6},
              "dev": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 4, "seq_len": 6},
              "network": NET, "num_epochs": 4, "max_seqs": 3, "optimizer": {"class": "adam"},
              "learning_rate": 0.01, "learning_rate_control": "newbob", "model": str(directory / "model"),
              "learning_rate_file": str(directory / "lr.txt"), "device": "cpu"}
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    return path


def train(config: Path, *overrides: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "netc", "train", str(config), *overrides], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def test_resume_after_kill_reaches_the_same_parameters(tmp_path):
    whole = write_config(tmp_path / "whole")
    log = finish(train(whole))
    assert log.count("dev: score") == 4 and "epoch 4 score:" in log

    broken = write_config(tmp_path / "broken")
    finish(train(broken, "++num_epochs", "2"))
    (tmp_path / "broken" / ".model.003.pt.x1y2.tmp").write_bytes(b"half a checkpoint")  # killed while writing
    process = train(broken)
    while not (tmp_path / "broken" / "model.003.pt").exists() and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed = finish(train(broken))
    assert "resuming after epoch" in resumed

    a, b = (load_checkpoint(str(d / "model.004.pt")) for d in (tmp_path / "whole", tmp_path / "broken"))
    for name, value in a["params"].items():
        assert torch.equal(value, b["params"][name]), name
    assert a["lr_control"] == b["lr_control"]
    assert (tmp_path / "whole" / "lr.txt").read_text() == (tmp_path / "broken" / "lr.txt").read_text()
    assert newest_checkpoint(str(tmp_path / "broken" / "model"))[0] == 4


def test_compile_with_checkpoint_params_and_refuse_pickled_code(tmp_path):
    config = write_config(tmp_path / "run")
    finish(train(config, "++num_epochs", "1"))
    checkpoint = tmp_path / "run" / "model.001.pt"
    net = tmp_path / "net.json"
    net.write_text(json.dumps(NET))
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["compile", str(net), "--num-inputs", "3", "--num-outputs", "4",
                                       "--params", str(checkpoint), "-o", str(out)])
    assert result.exit_code == 0, result.output
    probs = session(out).run(["output"], {"data": np.zeros((1, 2, 3), np.float32),
                                          "data:size1": np.array([2], np.int32)})[0]
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert set(load_params(str(checkpoint))) == {"lstm/rec/W", "lstm/rec/W_re", "lstm/rec/b", "output/W", "output/b"}

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": 1, "params": Evil()}))
    with pytest.raises(NetcError, match="weights_only"):
        load_params(str(evil))
    assert not (tmp_path / "pwned").exists()
    result = CliRunner().invoke(main, ["compile", str(net), "--num-inputs", "3", "--num-outputs", "4",
                                       "--params", str(evil), "-o", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
