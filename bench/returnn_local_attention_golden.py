"""RETURNN TF goldens for the local (windowed) attention decoder of returnn-experiments 2019-asr-local-attention.

The net is bench/returnn_attention_golden.py's att1 miniature (the 2018 exp3 layout; 1 head) with the unit's
local-attention layers as /work/corpus3/returnn-experiments__2019-asr-local-attention__librispeech__local-heuristic.
argmax.win12.exp3.ctc.config publishes them:

    "p_t": {"class": "eval", "from": "p_t_in", "eval": "tf.to_float(source(0))"},
    "p_t_in": {"class": "eval", "from": "prev:att_weights",
               "eval": "tf.squeeze(tf.argmax(source(0), axis=1, output_type=tf.int32), axis=1)",
               "out_type": {"shape": (), "batch_dim_axis": 0, "dtype": "float32"}},
    "energy_reinterpreted": {"class": "reinterpret_data", "enforce_batch_major": True, "from": "energy", ...},
    "att_weights": {"class": "softmax_over_spatial", "from": ["energy_reinterpreted"], "window_start": "p_t_in",
                    "window_size": AttWindowSize},

with WINDOW = 3 frames. That eval was written for RETURNN of 2019, whose softmax_over_spatial kept the weights
`[B, T, 1]`; the RETURNN installed here moves the softmax axis last (`[B, 1, T]`), so the published eval fails
(copy_compatible_to), and `tf.to_float` is gone from TF 2. RETURNN runs the same computation in layers it
accepts (`returnn_net`: `squeeze` of the heads axis, then `reduce` mode argmax over T: int32 [B], the first
maximum); the file's `net` is the published form, which netc reads. Inputs (13, 1, 8, 20, 5 frames: encoder
lengths 7, 1, 4, 10, 3) and everything else as returnn_attention_golden.py's `golden` makes them: the 5-step adam
trajectory (`train`: RETURNN's first epoch, one sequence per step), the teacher-forced `forward` and the `search`
per beam 1, 4, 12, 64 after 20 epochs, each sequence alone.
Usage (the Python with RETURNN and TensorFlow; a few minutes on 2 cores):
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_local_attention_golden.py
"""

from __future__ import annotations

import copy
import json
import sys

import returnn_attention_golden as attention
from returnn_attention_golden import OUT, golden, network

HERE = OUT.parent / "local_attention"  # tests/compiler/data/local_attention/

WINDOW = 3
LENGTHS = (13, 1, 8, 20, 5)
NAME = "local_argmax_win3"


def published(window: int = WINDOW) -> dict:
    """att1's net with the LibriSpeech local-attention unit layers exactly as published."""
    net = copy.deepcopy(network(heads=1, ctc=False))
    net["output"]["unit"] |= {
        "p_t": {"class": "eval", "from": "p_t_in", "eval": "tf.to_float(source(0))"},
        "p_t_in": {"class": "eval", "from": "prev:att_weights",
                   "eval": "tf.squeeze(tf.argmax(source(0), axis=1, output_type=tf.int32), axis=1)",
                   "out_type": {"shape": (), "batch_dim_axis": 0, "dtype": "float32"}},
        "energy_reinterpreted": {"class": "reinterpret_data", "enforce_batch_major": True, "from": "energy",
                                 "trainable": False},
        "att_weights": {"class": "softmax_over_spatial", "from": ["energy_reinterpreted"], "window_start": "p_t_in",
                        "window_size": window}}
    return net


def for_returnn(net: dict) -> dict:
    """The same computation in layers the installed RETURNN builds (see the module docstring)."""
    net = copy.deepcopy(net)
    unit = net["output"]["unit"]
    del unit["p_t"]
    unit["p_t_weights"] = {"class": "squeeze", "axis": "F", "from": "prev:att_weights"}
    unit["p_t_in"] = {"class": "reduce", "mode": "argmax", "axis": "T", "from": "p_t_weights"}
    return net


def main() -> None:
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    attention.CONFIG_LENGTHS[NAME] = LENGTHS
    net = published()
    result = golden(NAME, for_returnn(net), 7, sys.executable)
    result["returnn_net"], result["net"] = result["net"], net
    result["made_by"] = result["made_by"].replace("returnn_attention_golden.py", "returnn_local_attention_golden.py")
    HERE.mkdir(exist_ok=True)
    path = HERE / f"{NAME}.json"
    path.write_text(json.dumps(result, separators=(",", ":")) + "\n")
    print(f"wrote {path}: params {sorted(result['params'])}")
    for beam, found in result["search"].items():
        print(f"  beam {beam}: " + "; ".join(f"{f['hyps'][0]} {f['scores'][0]:.4f} (max {f['max_seq_len']})"
                                             if "hyps" in f else f["returnn_error"] for f in found))
    print(f"  train losses {result['train']['losses']}")


if __name__ == "__main__":
    main()
