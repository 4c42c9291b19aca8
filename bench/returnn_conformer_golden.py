"""RETURNN TF's training trajectory of the conformer-hybrid miniature (returnn_layer_goldens.py `conformer`) on 12AX.

One sequence per batch (`max_seqs 1`): netc computes each sequence as RETURNN computes it alone (docs/netdict.md,
"Types"), and RETURNN's conv and batch_norm read their batch-mates' padded frames, so only batches of one give
the same numbers in both. No dropout. The depthwise conv has no bias here: batch_norm right after it makes its
gradient 0 up to float rounding, and Adam turns that rounding noise into steps of the learning rate's size, so
the bias (and the running mean that follows it, hence the dev scores) would walk by noise in RETURNN and netc
alike (measured: 0.45 apart after 2 epochs, while every other parameter agreed within 3e-5).
The golden holds the config, per-epoch scores, and the initial and final parameters (with the batch_norm
statistics); tests/trainer/test_conformer_training.py trains netc from the same initial parameters and must
reach the same numbers.
Usage: cd bench && python returnn_conformer_golden.py --returnn /work/rvenv/bin/python -o ../tests/trainer/data
"""

from __future__ import annotations

from returnn_chunk_goldens import training_golden_main
from returnn_layer_goldens import conformer

NAME = "returnn_conformer"
KEYS = {"max_seqs": 1, "num_epochs": 2, "train": {"class": "Task12AXDataset", "num_seqs": 120},
        "network": conformer({"class": "softmax", "loss": "ce"}, dw_bias=False)}


if __name__ == "__main__":
    training_golden_main(__doc__, "returnn_conformer_golden.py", NAME, KEYS)
