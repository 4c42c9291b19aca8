"""Write RETURNN's own training trajectory of a tiny LSTM language model (sparse input) as a golden file.

As bench/returnn_golden.py, on class-index data: 20 counting sequences (V=10) in an HDF file with sparse int32
inputs (netc.data.write_hdf(..., sparse_inputs=True), read by RETURNN's HDFDataset), an embedding `linear` on
`data`, one LSTM of 8 cells, CE on `classes`. RETURNN runs with learning rate 0 for one epoch (its checkpoint is
the initial parameters), then from those for 2 epochs; tests/trainer/test_sparse_data.py trains netc from the same
initial parameters on the same sequences and must reach the same scores and parameters.
Usage: python bench/returnn_lm_golden.py --returnn /path/to/python-with-returnn -o tests/trainer/data/returnn_lm.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from netc.data import HdfSeq, write_hdf
from returnn_golden import made_by, params, scores
from train12ax import RETURNN_ENV

V = 10
EPOCHS = 2
NETWORK = {"embed": {"class": "linear", "activation": None, "with_bias": False, "n_out": 6, "from": "data"},
           "lstm": {"class": "rec", "unit": "NativeLstm2", "n_out": 8, "from": "embed"},
           "output": {"class": "softmax", "loss": "ce", "from": "lstm"}}
CONFIG = {"extern_data": {"data": {"dim": V, "sparse": True}, "classes": {"dim": V, "sparse": True}},
          "batching": "default", "batch_size": 5000, "max_seqs": 4, "optimizer": {"class": "adam"},
          "learning_rate": 0.01, "network": NETWORK, "num_epochs": EPOCHS}
LAYERS = ("embed", "lstm", "output")


def sequences(count: int = 20, seed: int = 0) -> list[list[int]]:
    """Counting sequences (next label = label + 1 mod V) from random starts, 4 to 9 labels each."""
    rng = np.random.default_rng(seed)
    return [((int(rng.integers(V)) + np.arange(int(rng.integers(4, 10)))) % V).tolist() for _ in range(count)]


def write_lm_hdf(path: Path, seqs: list[list[int]]) -> None:
    """`data` is each sequence but its last label, `classes` the sequence shifted by one."""
    write_hdf(path, [HdfSeq(f"seq-{i}", np.array(s[:-1], np.int32), {"classes": np.array(s[1:], np.int32)})
                     for i, s in enumerate(seqs)], V, {"classes": V}, sparse_inputs=True)


def returnn(python: str, directory: Path, name: str, hdf: Path, **keys: object) -> str:
    values = CONFIG | {"train": {"class": "HDFDataset", "files": [str(hdf)]},
                       "dev": {"class": "HDFDataset", "files": [str(hdf)]}, "task": "train",
                       "use_tensorflow": True, "log_verbosity": 3, "model": str(directory / name / "model")} | keys
    config = directory / f"{name}.config"
    config.write_text("#!rnn.py\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items()))
    return subprocess.run([python, "-m", "returnn", str(config)], capture_output=True, text=True,
                          env=os.environ | RETURNN_ENV, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    seqs = sequences()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        hdf = directory / "lm.hdf"
        write_lm_hdf(hdf, seqs)
        returnn(args.returnn, directory, "init", hdf, learning_rate=0.0, num_epochs=1)
        log = returnn(args.returnn, directory, "train", hdf,
                      import_model_train_epoch1=str(directory / "init" / "model.001"))
        golden = {"made_by": made_by("returnn_lm_golden.py", args.returnn),
                  "config": CONFIG, "sequences": seqs,
                  "epochs": scores(log),
                  "initial": params(args.returnn, directory / "init" / "model.001", LAYERS),
                  "final": params(args.returnn, directory / "train" / f"model.{EPOCHS:03d}", LAYERS)}
    Path(args.output).write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {args.output}: {len(golden['epochs'])} epochs, {len(golden['final'])} parameters")


if __name__ == "__main__":
    main()
