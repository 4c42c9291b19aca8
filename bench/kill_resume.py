"""kill -9 at random moments during `netc train` (checkpoint writes included), restart until done,
and compare the final parameters bit for bit with an uninterrupted run.

A kill's moment is drawn relative to the run's own progress: after its line `epoch k` (k one or two epochs
past the newest checkpoint, at least two epochs before the end), a random delay of up to half an epoch of
the uninterrupted run, which covers that epoch's dev pass, its checkpoint write and the next epoch's start
(a run would have to be 4x faster than the uninterrupted one to end first). NOTE: delays drawn
from the whole run's wall time missed their run whenever a resumed run (less left to do) or a less loaded
machine finished first, so fewer kills happened than asked (tests/hardening/test_kill_resume.py failed).

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
from netc.trainer.checkpoint import complete_checkpoints, load_params

CONFIG = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 40, "seq_len": 8},
          "dev": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 8, "seq_len": 8},
          "network": {"lstm": {"class": "rec", "n_out": 16, "dropout": 0.2},
                      "output": {"class": "softmax", "loss": "ce", "from": "lstm"}},
          "num_epochs": 12, "max_seqs": 4, "optimizer": {"class": "adam"}, "learning_rate": 0.01,
          "learning_rate_control": "newbob", "device": "cpu"}


def start(config: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")  # each epoch line as it is printed
    return subprocess.Popen([sys.executable, "-m", "netc", "train", str(config)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after(process: subprocess.Popen, epoch: int, delay: float) -> bool:
    """SIGKILL `delay` seconds after the process prints `epoch EPOCH `; False if it ended before that."""
    for line in process.stdout:
        if line.startswith(f"epoch {epoch} "):
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            break
    return False


def timed_run(config: Path) -> tuple[float, float]:
    """Run to the end: wall seconds of the whole run and of one epoch (between its first and last epoch lines;
    start-up, mostly imports, is most of a short run)."""
    begin = time.perf_counter()
    process = start(config)
    stamps = [time.perf_counter() for line in process.stdout if line.startswith("epoch ")]
    _, err = process.communicate()
    assert process.returncode == 0, err
    return time.perf_counter() - begin, (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)


def newest_epoch(directory: Path) -> int:
    """The epoch of the newest complete checkpoint (0: none), where a restart resumes."""
    return max((epoch for epoch, _ in complete_checkpoints(str(directory / "model"))), default=0)


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
        full_run, epoch_seconds = timed_run(whole)
        broken = write_config(Path(tmp) / "broken")
        kills = restarts = 0
        epochs = CONFIG["num_epochs"]
        while True:
            done = newest_epoch(broken.parent)
            process = start(broken)
            restarts += 1
            if kills < args.kills and done + 1 <= epochs - 2:
                epoch = rng.randint(done + 1, min(done + 2, epochs - 2))
                if kill_after(process, epoch, rng.uniform(0.0, epoch_seconds / 2)):
                    kills += 1
                    continue
            _, err = process.communicate()
            assert process.returncode == 0, err
            if (Path(tmp) / "broken" / f"model.{epochs:03d}.pt").exists():
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
