"""What RETURNN and `netc train` do with 0-frame sequences in an HDF file (issue 12, training.md "Empty sequences").

Writes a tiny HDF file (8 sequences, two of them with 0 frames), trains a small LSTM on it for 2 epochs with
RETURNN (TensorFlow) and with `netc train`, and prints for each tool whether it trained or failed, with its
per-epoch scores. Two cases (max_seqs 2): `--batching default` puts each empty sequence in a batch with a
non-empty one; `--batching sorted` puts the two empty sequences together in a batch of no frames.
Usage: cd bench && python returnn_empty.py --returnn /work/rvenv/bin/python --batching default|sorted
Seen with RETURNN 1.20261022 / TensorFlow 2.21: `default` trains; `sorted` fails with an AssertionError in
datasets/basic.py `shape_for_batches` (`assert shape[0].max_value() > 0`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from netc.data import HdfSeq, write_hdf
from train12ax import RETURNN_ENV, write_returnn_config

LENGTHS = [5, 0, 7, 3, 0, 6, 4, 2]
F, C = 3, 4
KEYS = {"train": None, "dev": None, "num_inputs": F, "num_outputs": C, "batching": "sorted", "batch_size": 20,
        "max_seqs": 2, "learning_rate": 0.01, "optimizer": {"class": "adam"}, "num_epochs": 2,
        "network": {"fw0": {"class": "rec", "unit": "NativeLstm2", "n_out": 5, "from": "data"},
                    "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}}}


def write_data(path: Path) -> None:
    """Random features, random classes; sequences `corpus/i` with `LENGTHS[i]` frames."""
    rng = np.random.default_rng(0)
    seqs = [HdfSeq(f"corpus/{i}", rng.standard_normal((n, F)).astype(np.float32),
                   {"classes": rng.integers(0, C, n).astype(np.int32)}) for i, n in enumerate(LENGTHS)]
    write_hdf(path, seqs, F, {"classes": C})


def outcome(name: str, result: subprocess.CompletedProcess) -> dict:
    log = result.stdout + result.stderr
    train = re.findall(r"^epoch \d+ score: (\S+) error: (\S+)", log, re.MULTILINE)
    dev = re.findall(r"^dev: score (\S+) error (\S+)", log, re.MULTILINE)
    errors = [line for line in log.splitlines() if re.search(r"Error|error:|Exception|assert", line)][-5:]
    return {"tool": name, "exit": result.returncode, "train": train, "dev": dev,
            "errors": errors if result.returncode else []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("--batching", choices=["default", "sorted"], default="default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = directory / "empty.hdf"
        write_data(data)
        keys = KEYS | {"train": str(data), "dev": str(data), "batching": args.batching}
        returnn_config = write_returnn_config(directory / "returnn.config", keys | {"model": str(directory / "r/m")})
        netc_config = directory / "netc.json"
        netc_config.write_text(json.dumps(keys | {"model": str(directory / "n/m"), "device": "cpu"}))
        env = os.environ | RETURNN_ENV
        runs = [("returnn", [args.returnn, "-m", "returnn", str(returnn_config)]),
                ("netc", [sys.executable, "-m", "netc", "train", str(netc_config)])]
        for name, command in runs:
            result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=directory)
            print(json.dumps(outcome(name, result)))


if __name__ == "__main__":
    main()
