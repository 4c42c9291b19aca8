"""RETURNN's 12AX demo settings (task12ax.md) with `netc train`: final dev FER and whole-run wall time per seed.

Each run is a fresh process, so the wall time includes start-up. With `--returnn PYTHON` (a Python that has
RETURNN and TensorFlow installed) RETURNN runs the same demo config with the same seeds, side by side.
One untimed warm-up run each first builds the native LSTM kernels (netc's and RETURNN's NativeLstm2), which
both tools compile once and cache.
Usage: python bench/train12ax.py [--seeds 0 1 2 3 4] [--returnn /path/to/python]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = {"train": {"class": "Task12AXDataset", "num_seqs": 1000},
        "dev": {"class": "Task12AXDataset", "num_seqs": 100, "fixed_random_seed": 1},
        "num_inputs": 9, "num_outputs": 2, "batching": "random", "batch_size": 5000, "max_seqs": 10,
        "network": {"fw0": {"class": "rec", "unit": "NativeLstm2", "dropout": 0.1, "n_out": 10, "from": "data"},
                    "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}},
        "optimizer": {"class": "adam"}, "learning_rate": 0.01, "num_epochs": 5}
TARGET = 0.015  # RETURNN's own test of this demo


def netc_command(directory: Path, seed: int, epochs: int) -> list[str]:
    config = directory / f"netc-{seed}-{epochs}.json"
    config.write_text(json.dumps(DEMO | {"num_epochs": epochs, "model": str(directory / f"netc{seed}-{epochs}" / "m")}))
    return [sys.executable, "-m", "netc", "train", str(config), "++random_seed", str(seed)]


# DISABLE_CUDA: RETURNN would compile its native op for CUDA when it finds nvcc, even on a CPU-only run.
RETURNN_ENV = {"DISABLE_CUDA": "1"}


def write_returnn_config(path: Path, keys: dict) -> Path:
    """The demo as a RETURNN config file (TensorFlow back end, one `key = value` line per key)."""
    values = DEMO | {"task": "train", "use_tensorflow": True, "chunking": "0", "log_verbosity": 3} | keys
    path.write_text("#!rnn.py\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items()))
    return path


def returnn_command(python: str, directory: Path, seed: int, epochs: int) -> list[str]:
    config = write_returnn_config(directory / f"returnn-{seed}-{epochs}.config",
                                  {"num_epochs": epochs, "model": str(directory / f"returnn{seed}-{epochs}" / "m")})
    return [python, "-m", "returnn", str(config), "++random_seed", str(seed)]


def run(command: list[str]) -> tuple[float, float]:
    """Final dev FER and wall seconds of one whole training process."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ | RETURNN_ENV)
    wall = time.perf_counter() - start
    fers = re.findall(r"^dev: score [0-9.e-]+ error ([0-9.e-]+)", result.stdout + result.stderr, re.MULTILINE)
    if result.returncode or not fers:
        sys.exit(f"{command[:3]} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return float(fers[-1]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--returnn", metavar="PYTHON", help="a Python with RETURNN (and TensorFlow) installed")
    args = parser.parse_args()
    tools = {"netc": netc_command}
    if args.returnn:
        tools["RETURNN"] = functools.partial(returnn_command, args.returnn)
    results: dict[str, list[tuple[float, float]]] = {tool: [] for tool in tools}
    with tempfile.TemporaryDirectory() as tmp:
        for command in tools.values():
            run(command(Path(tmp), 0, 1))  # warm-up: native kernels built and cached
        for seed in args.seeds:
            line = [f"seed {seed}:"]
            for tool, command in tools.items():
                fer, wall = run(command(Path(tmp), seed, DEMO["num_epochs"]))
                results[tool].append((fer, wall))
                line.append(f"{tool} FER {fer:.4f}{'' if fer < TARGET else ' (>= 0.015)'} wall {wall:5.1f} s")
            print("   ".join(line), flush=True)
    for tool, values in results.items():
        fers, walls = [v[0] for v in values], [v[1] for v in values]
        print(f"{tool:8s} FER median {statistics.median(fers):.4f}, {sum(f >= TARGET for f in fers)} of "
              f"{len(fers)} seeds >= {TARGET}; wall median {statistics.median(walls):.1f} s")
    if args.returnn:
        ratio = statistics.median(w for _, w in results["RETURNN"]) / statistics.median(w for _, w in results["netc"])
        print(f"wall time RETURNN / netc (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
