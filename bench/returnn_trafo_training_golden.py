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

from returnn_chunk_goldens import training_golden_main

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


if __name__ == "__main__":
    training_golden_main(__doc__, "returnn_trafo_training_golden.py", NAME, KEYS)
