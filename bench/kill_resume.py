"""kill -9 at random moments during `netc train` (checkpoint writes included), restart until done,
and compare the final parameters bit for bit with an uninterrupted run.

Usage: python bench/kill_resume.py [--kills 20] [--seed 0]     (run from the repository root)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from netc.trainer import native
from netc.trainer.checkpoint import load_params

CONFIG = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 40, "seq_len": 8},
          "dev": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 8, "seq_len": 8},
          "network": {"lstm": {"class": "rec", "n_out": 16, "dropout": 0.2},
                      "output": {"class": "softmax", "loss": "ce", "from": "lstm"}},
          "num_epochs": 12, "max_seqs": 4, "optimizer": {"class": "adam"}, "learning_rate": 0.01,
          "learning_rate_control": "newbob", "device": "cpu"}


def start(config: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "netc", "train", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def write_config(directory: Path) -> Path:
    directory.mkdir()
    path = directory / "config.json"
    path.write_text(json.dumps(CONFIG | {"model": str(directory / "model"),
                                         "learning_rate_file": str(directory / "lr.txt")}))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    native.load()  # build the LSTM kernel now if it is not cached, so the uninterrupted run times training only
    with tempfile.TemporaryDirectory() as tmp:
        whole = write_config(Path(tmp) / "whole")
        begin = time.perf_counter()
        assert start(whole).wait() == 0
        full_run = time.perf_counter() - begin
        broken = write_config(Path(tmp) / "broken")
        kills = restarts = 0
        while True:
            process = start(broken)
            restarts += 1
            if kills < args.kills:
                try:
                    process.wait(timeout=rng.uniform(0.5, full_run))
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    kills += 1
                    continue
            _, err = process.communicate()
            assert process.returncode == 0, err
            if (Path(tmp) / "broken" / f"model.{CONFIG['num_epochs']:03d}.pt").exists():
                break
        a = load_params(str(Path(tmp) / "whole" / f"model.{CONFIG['num_epochs']:03d}.pt"))
        b = load_params(str(Path(tmp) / "broken" / f"model.{CONFIG['num_epochs']:03d}.pt"))
        same = a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        lr_same = (Path(tmp) / "whole" / "lr.txt").read_text() == (Path(tmp) / "broken" / "lr.txt").read_text()
    print(f"{kills} kills over {restarts} starts (an uninterrupted run takes {full_run:.1f} s): "
          f"final parameters {'bit-identical' if same else 'DIFFERENT'}, "
          f"learning-rate file {'identical' if lr_same else 'DIFFERENT'}")
    sys.exit(0 if same and lr_same else 1)


if __name__ == "__main__":
    main()
