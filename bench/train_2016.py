"""A 2016-paper-shaped training run, netc and RETURNN TF side by side: valid frames/s of each and their ratio.

3 x BLSTM-500 on 50-dimensional features, 4,500 classes, `chunking "50:25"`, `max_seqs 40`,
`batch_size 5000`, Adam with newbob, on a synthetic RETURNN HDF file of sequences of 200-1500 frames
(uniform, seeded). Each tool trains one epoch in a fresh process (after an untimed warm-up run that builds
both native LSTM kernels); the time is the epoch's `elapsed` as each tool prints it (start-up and graph
building excluded, 1 s resolution), the frames are the chunk frames the epoch trains (overlapping frames
count once per chunk, for both tools alike). Tools take turns for `--rounds` rounds. `--threads N` gives
torch `OMP_NUM_THREADS=N` and TensorFlow `intra_op_parallelism_threads` and `inter_op_parallelism_threads` N;
by default each tool picks its own (both use every core).
Usage: cd bench && python train_2016.py --returnn /path/to/python-with-returnn [--seqs 4] [--rounds 1] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from netc.data import HdfSeq, write_hdf
from netc.trainer.chunking import Chunking
from train12ax import RETURNN_ENV, write_returnn_config

FEATURES, CLASSES, HIDDEN = 50, 4500, 500
LSTM = {"class": "rec", "unit": "NativeLstm2", "n_out": HIDDEN}
NETWORK = {"lstm0_fw": LSTM | {"from": ["data"]}, "lstm0_bw": LSTM | {"direction": -1, "from": ["data"]},
           "lstm1_fw": LSTM | {"from": ["lstm0_fw", "lstm0_bw"]},
           "lstm1_bw": LSTM | {"direction": -1, "from": ["lstm0_fw", "lstm0_bw"]},
           "lstm2_fw": LSTM | {"from": ["lstm1_fw", "lstm1_bw"]},
           "lstm2_bw": LSTM | {"direction": -1, "from": ["lstm1_fw", "lstm1_bw"]},
           "output": {"class": "softmax", "loss": "ce", "from": ["lstm2_fw", "lstm2_bw"]}}
CONFIG = {"num_inputs": FEATURES, "num_outputs": CLASSES, "network": NETWORK, "chunking": "50:25", "max_seqs": 40,
          "batch_size": 5000, "batching": "random", "optimizer": {"class": "adam"}, "learning_rate": 0.0005,
          "learning_rate_control": "newbob", "num_epochs": 1, "dev": None}


def synthetic_hdf(path: Path, seqs: int, seed: int = 0) -> int:
    """`seqs` sequences of 200-1500 frames; returns the chunk frames one epoch trains."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(200, 1501, seqs)
    write_hdf(path, (HdfSeq(f"seq-{k}", rng.standard_normal((n, FEATURES)).astype(np.float32),
                            {"classes": rng.integers(0, CLASSES, n).astype(np.int32)})
                     for k, n in enumerate(lengths)), FEATURES, {"classes": CLASSES})
    _, start, end = Chunking(50, 25).cut(np.arange(seqs), lengths)
    return int((end - start).sum())


def command(tool: str, python: str, directory: Path, data: Path, name: str, threads: int | None) -> list[str]:
    keys = CONFIG | {"train": str(data), "model": str(directory / name / "model")}
    if threads and tool != "netc":
        keys["tf_session_opts"] = {"intra_op_parallelism_threads": threads, "inter_op_parallelism_threads": threads}
    if tool == "netc":
        (directory / f"{name}.json").write_text(json.dumps(keys))
        return [sys.executable, "-m", "netc", "train", str(directory / f"{name}.json")]
    return [python, "-m", "returnn", str(write_returnn_config(directory / f"{name}.config", keys))]


def epoch_seconds(cmd: list[str], threads: int | None) -> int:
    """The `elapsed` of the epoch line a training process prints."""
    env = os.environ | RETURNN_ENV | ({"OMP_NUM_THREADS": str(threads)} if threads else {})
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = re.findall(r"^epoch 1 score: .* elapsed: (\d+):(\d+):(\d+)", result.stdout + result.stderr, re.MULTILINE)
    if result.returncode or not found:
        sys.exit(f"{cmd[:3]} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    h, m, s = map(int, found[-1])
    return h * 3600 + m * 60 + s


def best_rates(command: Callable[[str, str, str], list[str]], frames: int, rounds: int, threads: int | None,
               line: str) -> dict[str, float]:
    """netc's and RETURNN's best frames/s over `rounds` one-epoch runs each, taking turns, after one warm-up epoch
    each (which builds both native LSTM kernels). `command(tool, hdf file name, run name)` is a run's command
    line; `line` formats each run's printed line from `k`, `tool`, `frames`, `seconds` and `rate`."""
    tools = ("netc", "RETURNN")
    for tool in tools:
        epoch_seconds(command(tool, "warmup.hdf", f"{tool}-warmup"), threads)
    rates: dict[str, list[float]] = {tool: [] for tool in tools}
    for k in range(rounds):
        for tool in tools:
            seconds = epoch_seconds(command(tool, "train.hdf", f"{tool}{k}"), threads)
            rates[tool].append(frames / max(seconds, 1))
            print(line.format(k=k, tool=tool, frames=frames, seconds=seconds, rate=rates[tool][-1]), flush=True)
    return {tool: max(values) for tool, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True, help="a Python with RETURNN and TensorFlow")
    parser.add_argument("--seqs", type=int, default=4, help="sequences in the synthetic HDF file")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, help="CPU threads of each tool (default: each tool's own choice)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        synthetic_hdf(directory / "warmup.hdf", 1)
        frames = synthetic_hdf(directory / "train.hdf", args.seqs)
        best = best_rates(lambda tool, data, name: command(tool, args.returnn, directory, directory / data, name,
                                                           args.threads),
                          frames, args.rounds, args.threads,
                          "round {k}: {tool:7s} {frames} chunk frames in {seconds} s: {rate:.0f} frames/s")
    print(f"valid frames/s (best of {args.rounds}): netc {best['netc']:.0f}, RETURNN {best['RETURNN']:.0f}; "
          f"netc / RETURNN = {best['netc'] / best['RETURNN']:.2f}x")


if __name__ == "__main__":
    main()
