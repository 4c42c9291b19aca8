"""RETURNN's 12AX demo settings (task12ax.md) with `netc train`, seeds 0..4: final dev FER and wall time.

Each run is a fresh `python -m netc train` process, so the wall time includes start-up.
Usage: python bench/train12ax.py [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import json
import re
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


def run_seed(seed: int, directory: Path) -> tuple[float, float]:
    config = directory / f"12ax-{seed}.json"
    config.write_text(json.dumps(DEMO | {"model": str(directory / f"seed{seed}" / "model")}))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "netc", "train", str(config), "++random_seed", str(seed)],
                            capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    return float(re.findall(r"dev: score [0-9.]+ error ([0-9.]+)", result.stdout)[-1]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            fer, wall = run_seed(seed, Path(tmp))
            print(f"seed {seed}: final dev FER {fer:.4f} ({'ok' if fer < 0.015 else 'ABOVE 0.015'}), "
                  f"wall {wall:.1f} s", flush=True)


if __name__ == "__main__":
    main()
