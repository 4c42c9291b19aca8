"""Which parameters RETURNN TF trains when `trainable: False` meets `reuse_params` (LayerBase.add_param).

RETURNN removes a variable from TRAINABLE_VARIABLES only when the layer that sees it FIRST (its owner, built
before any layer reusing it) or a layer enclosing that one has `trainable: False`; a frozen layer reusing a
trainable layer's variable leaves it trainable (add_param's `RETURNN_layer is None` guard). The golden holds,
per net, the names `network.get_trainable_params()` returns in train mode and all parameter names; the test
tests/trainer/test_layer_options.py compares them with netc's ParamSpec.trainable.
Usage: cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_trainable_golden.py
  (writes tests/trainer/data/returnn_trainable.json)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from train12ax import RETURNN_ENV

os.environ.update(RETURNN_ENV)


def linear(**extra: object) -> dict:
    return {"class": "linear", "activation": "tanh", "n_out": 4, "from": "data", **extra}


ADD = {"class": "combine", "kind": "add", "from": ["a", "b"]}
NETS: dict[str, dict] = {
    "frozen_layer_reuses_a_trainable_one": {"a": linear(), "b": linear(reuse_params="a", trainable=False),
                                            "output": ADD},
    "layer_reuses_a_frozen_one": {"a": linear(trainable=False), "b": linear(reuse_params="a"), "output": ADD},
    "frozen_layer_reuses_part_of_a_trainable_one": {
        "a": linear(), "b": linear(reuse_params={"map": {"W": "a", "b": None}}, trainable=False), "output": ADD},
    "layer_reuses_a_sublayer_of_a_frozen_subnetwork": {
        "s": {"class": "subnetwork", "from": "data", "trainable": False, "subnetwork": {
            "h": linear(), "output": {"class": "copy", "from": "h"}}},
        "b": linear(reuse_params="s/h"), "output": {"class": "combine", "kind": "add", "from": ["s", "b"]}},
}


def trainable(net: dict) -> dict:
    import tensorflow as tf
    from returnn.config import Config
    from returnn.tf.network import TFNetwork

    tf.compat.v1.reset_default_graph()
    network = TFNetwork(config=Config({"extern_data": {"data": {"dim": 3}}}), train_flag=True)
    network.construct_from_dict(net)
    return {"net": net, "params": sorted(v.op.name for v in tf.compat.v1.global_variables()),
            "trainable": sorted(v.op.name for v in network.get_trainable_params())}


def main() -> None:
    import returnn
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    cases = {name: trainable(net) for name, net in NETS.items()}
    output = Path(__file__).resolve().parents[1] / "tests" / "trainer" / "data" / "returnn_trainable.json"
    output.write_text(json.dumps({"made_by": f"bench/returnn_trainable_golden.py with RETURNN {returnn.__version__}, "
                                             f"TensorFlow {tf.__version__} (CPU)", "cases": cases}, indent=1) + "\n")
    for name, case in cases.items():
        print(f"{name}: trainable {case['trainable']} of {case['params']}")


if __name__ == "__main__":
    main()
