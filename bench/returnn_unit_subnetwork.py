"""RETURNN TF's parameters of a `subnetwork` inside a rec unit: the LM shallow fusion of the published attention
configs (returnn-experiments 2018-asr-attention `exp3.ctc.lm.config`: an LSTM LM over `prev:output`, its
softmax combined with the decoder's in an `eval`, `choice` with `input_type: log_prob`), in miniature.

RETURNN builds the LM only where it is used: in search (the choice reads the fusion), not in training (the
choice there is the target). The golden holds the trainable variables of the search network, name and shape as
the checkpoint stores them, the golden of netc's parameter specs for the same net (tests/ir/test_corpus_units.py).
Usage (a Python with RETURNN and TensorFlow):
  cd bench && /work/rvenv/bin/python returnn_unit_subnetwork.py   (writes tests/ir/data/returnn_unit_subnetwork.json)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from train12ax import RETURNN_ENV

os.environ.update(RETURNN_ENV)

NUM_INPUTS, NUM_CLASSES = 3, 7
NET = {
    "encoder": {"class": "linear", "activation": "tanh", "n_out": 6, "from": "data"},
    "output": {"class": "rec", "from": [], "target": "classes", "max_seq_len": "max_len_from('base:encoder')",
               "unit": {
        "output": {"class": "choice", "target": "classes", "beam_size": 2, "from": "combo_output_log_prob",
                   "initial_output": 0, "input_type": "log_prob"},
        "end": {"class": "compare", "from": "output", "value": 0},
        "lm_output": {"class": "subnetwork", "from": ["prev:output"], "n_out": NUM_CLASSES, "subnetwork": {
            "input": {"class": "linear", "n_out": 5, "activation": "identity"},
            "lstm0": {"class": "rnn_cell", "unit": "LSTMBlock", "n_out": 4, "unit_opts": {"forget_bias": 0.0},
                      "from": ["input"]},
            "output": {"class": "linear", "from": ["lstm0"], "activation": "identity", "n_out": NUM_CLASSES}}},
        "lm_output_prob": {"class": "activation", "activation": "softmax", "from": "lm_output"},
        "target_embed": {"class": "linear", "activation": None, "with_bias": False, "from": "output", "n_out": 2,
                         "initial_output": 0},
        "s": {"class": "rnn_cell", "unit": "LSTMBlock", "from": ["prev:target_embed"], "n_out": 3},
        "output_prob": {"class": "softmax", "from": "s", "target": "classes", "loss": "ce"},
        "combo_output_log_prob": {"class": "eval", "from": ["output_prob", "lm_output_prob"],
                                  "eval": "safe_log(source(0)) + 0.36 * safe_log(source(1))"},
    }},
}


def search_variables() -> dict[str, list[int]]:
    """Name (without `:0`) -> shape of every trainable variable RETURNN creates for NET in search."""
    import tensorflow as tf
    from returnn.config import Config
    from returnn.tf.network import TFNetwork

    tf.compat.v1.disable_eager_execution()
    config = Config({"extern_data": {"data": {"dim": NUM_INPUTS},
                                     "classes": {"dim": NUM_CLASSES, "sparse": True}}, "network": NET})
    with tf.compat.v1.Graph().as_default():
        TFNetwork(config=config, train_flag=False, search_flag=True).construct_from_dict(NET)
        return {v.name.removesuffix(":0"): v.shape.as_list() for v in tf.compat.v1.trainable_variables()}


def main() -> None:
    import returnn

    out = Path(__file__).resolve().parents[1] / "tests/ir/data/returnn_unit_subnetwork.json"
    golden = {"made_by": f"bench/returnn_unit_subnetwork.py, returnn {returnn.__version__}",
              "num_inputs": NUM_INPUTS, "num_classes": NUM_CLASSES, "network": NET,
              "variables": dict(sorted(search_variables().items()))}
    out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
