"""Write RETURNN's training trajectories with loss options (CE on 12AX, CTC on a small HDF file) as golden files.

Each variant runs RETURNN twice, as bench/returnn_golden.py does: one epoch at learning rate 0 (its checkpoint is
the initial parameters), then from those parameters for a few epochs without dropout. The golden JSON holds the
config, RETURNN's per-epoch scores, and the initial and final parameters; tests/trainer/test_loss_parity.py
trains netc from the same initial parameters and must print the same scores and reach the same parameters.
The CTC variants train on HDF files written here (committed beside the goldens). A last file holds
TensorFlow's CTC beam search and greedy decodings of random logits (tests/trainer/test_ctc_decode.py).
Usage: python bench/returnn_loss_goldens.py --returnn /work/rvenv/bin/python -o tests/trainer/data
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from netc.data import HdfSeq, write_hdf
from returnn_golden import params, scores
from train12ax import DEMO, RETURNN_ENV, write_returnn_config

CE_NET = {"fw0": {"class": "rec", "unit": "NativeLstm2", "n_out": 10, "from": "data"},
          "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}}
SMALL_12AX = {"train": {"class": "Task12AXDataset", "num_seqs": 300},
              "dev": {"class": "Task12AXDataset", "num_seqs": 50, "fixed_random_seed": 1}}
CTC_NET = {"fw0": {"class": "rec", "unit": "NativeLstm2", "n_out": 10, "from": "data"},
           "output": {"class": "softmax", "loss": "ctc", "from": ["fw0"]}}
CTC_KEYS = {"num_inputs": 9, "num_outputs": 5, "batch_size": 10000, "max_seqs": 4, "learning_rate": 0.05}


def with_loss(net: dict, **options: object) -> dict:
    """`net` with extra keys on its output layer."""
    return net | {"output": net["output"] | options}


# name -> (config keys besides the demo's, epochs, training HDF file or None for 12AX)
VARIANTS: dict[str, tuple[dict, int, str | None]] = {
    "ce_label_smoothing": (SMALL_12AX | {"network": with_loss(CE_NET, loss_opts={"label_smoothing": 0.1})}, 2, None),
    "ce_focal_loss": (SMALL_12AX | {"network": with_loss(CE_NET, loss_opts={"focal_loss_factor": 2.0})}, 2, None),
    # Adam is nearly invariant to a constant loss scale: plain SGD shows it (RETURNN 1.2026 fails on
    # {"class": "sgd"} with Keras 3; no optimizer at all is its default SGD).
    "ce_loss_scale": (SMALL_12AX | {"network": with_loss(CE_NET, loss_scale=0.3, loss_only_on_non_search=True),
                                    "optimizer": None, "learning_rate": 0.002}, 2, None),
    "ctc": (CTC_KEYS | {"network": CTC_NET}, 3, "ctc_train.hdf"),
    "ctc_ignore_longer": (CTC_KEYS | {"network": with_loss(CTC_NET, loss_opts={
        "ctc_opts": {"ignore_longer_outputs_than_inputs": True}, "beam_width": 1})}, 2, "ctc_train_long.hdf"),
    # RETURNN's own CTC (native op): trains an empty target, which TensorFlow's CTC refuses.
    "ctc_native": (CTC_KEYS | {"network": with_loss(CTC_NET, loss_opts={"use_native": True, "beam_width": 1})},
                   2, "ctc_train_empty.hdf"),
}


def ctc_seqs(seed: int, count: int, too_long: bool = False, empty: bool = False) -> list[HdfSeq]:
    """Sequences of 5 labels (+ blank): each label shows its one-hot feature for 1-3 noisy frames.

    Lengths are ragged and include 1 frame (one label, no blank), 2 frames (one label) and a repeated label
    that needs a blank between; `too_long` adds one sequence whose target does not fit its frames, `empty` one
    without labels (TensorFlow's CTCLoss refuses it, "Labels length is zero"; RETURNN's native CTC trains it).
    """
    rng = np.random.RandomState(seed)
    targets = [np.array([4], np.int32), np.array([3], np.int32), np.array([2, 2], np.int32)]
    targets += [rng.randint(0, 5, size=rng.randint(1, 7)).astype(np.int32) for _ in range(count - len(targets))]
    seqs = []
    for k, target in enumerate(targets):
        frames = []
        for i, label in enumerate(target):
            repeated = i > 0 and label == target[i - 1]  # CTC needs a blank between repeated labels
            frames += [5] * rng.randint(int(repeated), 2) + [int(label)] * rng.randint(1, 4)
        frames += [5] * rng.randint(1, 3)
        if k < 2:
            frames = [int(target[0])] if k == 0 else [int(target[0]), 5]
        features = rng.normal(0, 0.5, size=(len(frames), 9)).astype(np.float32)
        features[np.arange(len(frames)), frames] += 1.0
        seqs.append(HdfSeq(f"seq-{seed}-{k}", features, {"classes": target}))
    if empty:
        seqs.append(HdfSeq(f"seq-{seed}-empty", rng.normal(size=(3, 9)).astype(np.float32),
                           {"classes": np.zeros(0, np.int32)}))
    if too_long:
        seqs.append(HdfSeq(f"seq-{seed}-long", rng.normal(size=(2, 9)).astype(np.float32),
                           {"classes": np.array([1, 4, 0, 2], np.int32)}))
    return seqs


def write_ctc_files(directory: Path) -> None:
    """The CTC training and dev HDF files (written once, committed with the goldens)."""
    dims = {"classes": 5}
    write_hdf(directory / "ctc_train.hdf", ctc_seqs(1, 20), 9, dims)
    write_hdf(directory / "ctc_train_long.hdf", ctc_seqs(1, 20, too_long=True), 9, dims)
    write_hdf(directory / "ctc_train_empty.hdf", ctc_seqs(1, 20, empty=True), 9, dims)
    write_hdf(directory / "ctc_dev.hdf", ctc_seqs(2, 8), 9, dims)


def run_returnn(python: str, directory: Path, name: str, keys: dict) -> str:
    """RETURNN on the demo config updated by `keys`; its stdout (the log)."""
    config = write_returnn_config(directory / f"{name}.config", keys | {"model": str(directory / name / "model")})
    result = subprocess.run([python, "-m", "returnn", str(config)], capture_output=True, text=True,
                            env=os.environ | RETURNN_ENV)
    if result.returncode:
        sys.exit(f"RETURNN failed on {name}:\n{(result.stdout + result.stderr)[-4000:]}")
    return result.stdout


def golden(python: str, directory: Path, data: Path, name: str, version: str) -> dict:
    """One variant: initial parameters, RETURNN's scores per epoch, final parameters."""
    keys, epochs, train = VARIANTS[name]
    if train is not None:
        keys = keys | {"train": {"class": "HDFDataset", "files": [str(data / train)]},
                       "dev": {"class": "HDFDataset", "files": [str(data / "ctc_dev.hdf")]}}
    run_returnn(python, directory, f"{name}-init", keys | {"learning_rate": 0.0, "num_epochs": 1})
    init = directory / f"{name}-init" / "model.001"
    log = run_returnn(python, directory, name, keys | {"num_epochs": epochs, "import_model_train_epoch1": str(init)})
    config = DEMO | keys | {"num_epochs": epochs}
    if train is not None:  # the test points the datasets at its own copies of the files
        config |= {"train": train, "dev": "ctc_dev.hdf"}
    return {"made_by": f"bench/returnn_loss_goldens.py with {version} (CPU)", "config": config,
            "epochs": scores(log),
            "initial": params(python, init),
            "final": params(python, directory / name / f"model.{epochs:03d}")}


DECODE = """import sys, numpy as np, tensorflow as tf
d = np.load(sys.argv[1]); logits, lens = d["logits"], d["lengths"]
out = {}
for width in (1, 2, 3, 100):
    (dec,), _ = tf.nn.ctc_beam_search_decoder(tf.constant(logits.transpose(1, 0, 2)), tf.constant(lens),
                                              beam_width=width)
    out[f"beam{width}"] = tf.sparse.to_dense(dec, default_value=-1).numpy()
(dec,), _ = tf.nn.ctc_greedy_decoder(tf.constant(logits.transpose(1, 0, 2)), tf.constant(lens))
out["greedy"] = tf.sparse.to_dense(dec, default_value=-1).numpy()
np.savez(sys.argv[2], logits=logits, lengths=lens, **out)
"""


def decode_golden(python: str, directory: Path, output: Path) -> None:
    """TensorFlow's CTC decodings of random logits: flat and peaked, lengths 1..12, 4 labels + blank."""
    rng = np.random.RandomState(0)
    batch, steps, dim = 64, 12, 5
    sharpness = rng.uniform(0.3, 4.0, size=(batch, 1, 1))
    logits = (rng.normal(size=(batch, steps, dim)) * sharpness).astype(np.float32)
    lengths = np.concatenate([[1, 2, 12], rng.randint(1, steps + 1, size=batch - 3)]).astype(np.int32)
    np.savez(directory / "logits.npz", logits=logits, lengths=lengths)
    subprocess.run([python, "-c", DECODE, str(directory / "logits.npz"), str(output)], check=True,
                   env=os.environ | RETURNN_ENV)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True, help="the folder of the golden files")
    parser.add_argument("--only", nargs="*", help="variants to remake (default: all, and the decodings)")
    args = parser.parse_args()
    data = Path(args.output)
    version = subprocess.run([args.returnn, "-c", "import returnn, tensorflow as tf; "
                              "print(f'RETURNN {returnn.__version__}, TensorFlow {tf.__version__}')"],
                             capture_output=True, text=True, check=True).stdout.strip()
    write_ctc_files(data)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.only:
            decode_golden(args.returnn, Path(tmp), data / "tf_ctc_decode.npz")
        for name in args.only or VARIANTS:
            result = golden(args.returnn, Path(tmp), data, name, version)
            (data / f"returnn_{name}.json").write_text(json.dumps(result, indent=1) + "\n")
            print(f"{name}: {result['epochs']}", flush=True)


if __name__ == "__main__":
    main()
