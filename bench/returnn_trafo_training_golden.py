"""RETURNN TF's training trajectory of a transformer-encoder miniature on 12AX: positional_encoding,
relative_positional_encoding as key_shift of a self_attention, a causal self_attention, layer_norm, residuals.

No dropout (its masks differ between tools). Batches of up to 10 sequences: self_attention masks each
sequence's keys by its own length, so RETURNN's batched numbers are each sequence's own, as netc computes them.
The golden holds the config, per-epoch scores, and the initial and final parameters;
tests/compiler/test_layers_self_attention.py trains netc from the same initial parameters and must reach the same
numbers.
Usage: cd bench && python returnn_trafo_training_golden.py --returnn /work/rvenv/bin/python -o ../tests/trainer/data
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from returnn_chunk_goldens import record

NAME = "returnn_trafo"
ATT = {"class": "self_attention", "num_heads": 2, "total_key_dim": 8, "n_out": 8}
KEYS = {"num_epochs": 2, "train": {"class": "Task12AXDataset", "num_seqs": 150},
        "network": {"in": {"class": "linear", "n_out": 8, "with_bias": False, "from": "data"},
                    "pe": {"class": "positional_encoding", "add_to_input": True, "from": "in"},
                    "ln1": {"class": "layer_norm", "from": "pe"},
                    "rel": {"class": "relative_positional_encoding", "n_out": 4, "clipping": 3, "from": "ln1"},
                    "att1": ATT | {"key_shift": "rel", "from": "ln1"},
                    "res1": {"class": "combine", "kind": "add", "from": ["pe", "att1"]},
                    "ln2": {"class": "layer_norm", "from": "res1"},
                    "att2": ATT | {"attention_left_only": True, "from": "ln2"},
                    "lin2": {"class": "linear", "activation": "relu", "n_out": 8, "from": "att2"},
                    "res2": {"class": "combine", "kind": "add", "from": ["res1", "lin2"]},
                    "output": {"class": "softmax", "loss": "ce", "from": "res2"}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True, help="the folder for the golden file")
    args = parser.parse_args()
    version = subprocess.run([args.returnn, "-c", "import returnn, tensorflow as tf; "
                              "print(returnn.__version__, tf.__version__)"],
                             capture_output=True, text=True, check=True).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        golden = {"made_by": f"bench/returnn_trafo_training_golden.py with RETURNN {version[0]}, TensorFlow "
                             f"{version[1]} (CPU)"} | record(args.returnn, Path(tmp), NAME, KEYS)
    path = Path(args.output) / f"{NAME}.json"
    path.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {path}: {len(golden['epochs'])} epochs, {golden['epochs']}")


if __name__ == "__main__":
    main()
