"""RETURNN TF goldens for the layer constraints `L2`, `spatial_smoothing` and `darc1`
(LayerBase.get_constraints_value).

RETURNN adds `sum over layers of L2 * sum p^2 + spatial_smoothing * energy + darc1 * darc1_value` to the objective
of each
batch. Each case runs one ragged batch (train flag on) with seeded parameters and records the constraint value
and its gradient with respect to every parameter. The test (tests/trainer/test_layer_options.py) compares
netc's `trainer/constraints.py` on the same batch, value and gradients within 1e-5 (relative for large values).
Usage (a Python with RETURNN and TensorFlow):
  cd bench && /work/rvenv/bin/python returnn_constraint_goldens.py  (writes tests/trainer/data/returnn_constraints.json)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from returnn_layer_goldens import F, rounded
from train12ax import RETURNN_ENV

os.environ.update(RETURNN_ENV)

LENGTHS = (5, 1, 3)
CASES: dict[str, dict] = {
    "spatial_smoothing": {"h": {"class": "linear", "activation": "tanh", "n_out": 12, "spatial_smoothing": 0.5,
                                "from": "data"},
                          "output": {"class": "softmax", "n_out": 4, "from": "h"}},
    "darc1_softmax": {"h": {"class": "linear", "activation": "tanh", "n_out": 5, "from": "data"},
                      "output": {"class": "softmax", "n_out": 4, "darc1": 0.01, "from": "h"}},
    "darc1_linear_and_smoothing": {"h": {"class": "linear", "activation": "relu", "n_out": 9, "darc1": 0.1,
                                         "spatial_smoothing": 0.25, "from": "data"},
                                   "output": {"class": "softmax", "n_out": 4, "darc1": 0.02, "from": "h"}},
}
CASES["l2_and_darc1"] = {"h": {"class": "linear", "activation": "tanh", "n_out": 5, "L2": 0.1, "from": "data"},
                         "r": {"class": "rec", "unit": "nativelstm2", "n_out": 3, "L2": 0.01, "darc1": 0.5,
                               "from": "h"},
                         "output": {"class": "softmax", "n_out": 4, "darc1": 0.01, "L2": 0.001, "from": "r"}}
CASES["l2_subnetwork"] = {  # the subnetwork's L2 covers its sublayers' parameters, theirs add to it
    "s": {"class": "subnetwork", "L2": 0.1, "dropout": 0.2, "from": "data", "subnetwork": {
        "a": {"class": "linear", "activation": "tanh", "n_out": 5, "L2": 0.01},
        "output": {"class": "linear", "activation": "tanh", "n_out": 4, "from": ["a", "data"]}}},
    "output": {"class": "softmax", "n_out": 4, "L2": 0.001, "from": "s"}}
CASES |= {  # grad_filter on the layer below: the sequences whose gradient is too large get none
    f"grad_filter_{threshold:g}": {
        "h": {"class": "linear", "activation": "tanh", "n_out": 9, "grad_filter": threshold, "from": "data"},
        "output": {"class": "linear", "n_out": 9, "spatial_smoothing": 1.0, "from": "h"}}
    for threshold in (1e6, 20.0, 5.0)}  # all, some and none of the 3 sequences keep theirs
SEEDS = {name: 100 for name in CASES if name.startswith("grad_filter")}  # the same batch and parameters


def patch_darc1() -> None:
    """RETURNN 1.2026's `LayerBase.get_darc1` fails under TensorFlow 2: `tf.where(mask, x, 0)` with a `[N]` mask and
    `[N, dim]` values must broadcast there, while TensorFlow 1's `where` selected rows. This is the same
    function with the mask given a feature axis, i.e. what it computed under TensorFlow 1."""
    import tensorflow as tf
    from returnn.tf.layers.base import LayerBase

    def get_darc1(self: LayerBase) -> tf.Tensor:
        x = self.output_before_activation.x if self.output_before_activation else self.output.placeholder
        mask = self.output.get_sequence_mask()
        size = tf.size(mask)
        mask = tf.reshape(mask, (size, 1))  # the only change: (size,) -> (size, 1)
        x = tf.abs(tf.reshape(x, (size,) + self.output.shape[1:]))
        x = tf.where(mask, x, tf.zeros_like(x))
        return tf.reduce_max(tf.reduce_sum(x, axis=0))

    LayerBase.get_darc1 = get_darc1


def run_case(name: str, net: dict, seed: int) -> dict:
    import numpy as np
    import tensorflow as tf
    from returnn.config import Config
    from returnn.tf.network import TFNetwork

    tf.compat.v1.reset_default_graph()
    network = TFNetwork(config=Config({"extern_data": {"data": {"dim": F}}}), train_flag=True)
    network.construct_from_dict(net)
    data = network.extern_data.data["data"]
    rng = np.random.default_rng(seed)
    x = np.zeros((len(LENGTHS), max(LENGTHS), F), np.float32)
    for b, n in enumerate(LENGTHS):
        x[b, :n] = rng.standard_normal((n, F))
    variables = sorted(network.get_params_list(), key=lambda v: v.op.name)
    constraints = network.get_total_constraints()
    grads = [tf.zeros_like(v) if g is None else g for v, g in zip(variables, tf.gradients(constraints, variables))]
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        params = {v.op.name: rng.uniform(-0.8, 0.8, v.shape.as_list()).astype(np.float32) for v in variables}
        for var in variables:
            var.load(params[var.op.name], session)
        value, grad_values = session.run([constraints, grads], {data.placeholder: x,
                                                                data.get_sequence_lengths(): list(LENGTHS)})
    return {"id": name, "net": net, "num_inputs": F, "lengths": list(LENGTHS),
            "inputs": [rounded(x[b, :n]) for b, n in enumerate(LENGTHS)],
            "params": {k: rounded(v) for k, v in params.items()}, "constraint": float(value),
            "grads": {v.op.name: rounded(g) for v, g in zip(variables, grad_values)}}


def main() -> None:
    import returnn
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    patch_darc1()
    output = Path(__file__).resolve().parents[1] / "tests" / "trainer" / "data" / "returnn_constraints.json"
    cases = [run_case(name, net, SEEDS.get(name, seed)) for seed, (name, net) in enumerate(CASES.items())]
    golden = {"made_by": f"bench/returnn_constraint_goldens.py with RETURNN {returnn.__version__}, "
                         f"TensorFlow {tf.__version__} (CPU)", "cases": cases}
    output.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    for case in cases:
        print(f"  {case['id']}: constraint {case['constraint']:.6g}")
    print(f"wrote {output}: {len(cases)} cases")


if __name__ == "__main__":
    main()
