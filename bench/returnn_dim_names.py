"""RETURNN TF's dim tag names (`Dim.description`) of the axes each layer creates, and how it resolves `stag:`,
`stag-single:` and `tag:` axis descriptions against them: the golden of netc's `Dim.name` and of its resolver.

For each net (every layer an output layer, so that RETURNN and netc build them all), every layer's output dims
in batch-major order (`layer.output.copy_as_batch_major().dim_tags`), and for the listed (layer, description)
queries RETURNN's `get_axes_from_description` on that batch-major output (axis indices with the batch as 0) or
the start of its error.
Usage (a Python with RETURNN and TensorFlow):
  cd bench && /work/rvenv/bin/python returnn_dim_names.py   (writes tests/ir/data/returnn_dim_names.json)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from returnn_layer_goldens import conformer_front_end, conv, pool, reduce, split
from train12ax import RETURNN_ENV

os.environ.update(RETURNN_ENV)

FRONT_END = {**conformer_front_end(10, (4, 3)), "output": {"class": "copy", "from": "conv_merged"}}
NETS: dict[str, tuple[int, dict, dict[str, list]]] = {  # id: (input dim, net, queries per layer)
    "front_end": (10, FRONT_END, {
        "conv0p": ["stag:conv0p:conv:s1", "stag:conv:s1", "stag:feature:data", "stag:conv", "tag:channel",
                   "stag:channel"],
        "conv1p": ["stag:conv0p", "stag-single:0:conv", "stag-single:-1:conv0p", "stag-single:1:conv0p"],
        "conv_merged": ["stag:conv0p:conv:s1"]}),
    "conv_time": (6, {"c": conv([3], 4, padding="valid", strides=[2]), "p": pool("max", [2], "c", padding="same"),
                      "k": conv([3], 2, "p", padding="same"), "output": {"class": "copy", "from": "k"}}, {
        "p": ["stag:p:conv:s0", "stag:c:conv:s0", "stag:time", "stag:extern_data:data"],
        "k": ["stag:p:conv:s0", "stag:time"]}),
    "split_dims": (6, {"s": split([2, 3]), "r": split([2, -1]), "q": split([-1, 2, 3]), "o": split([1, -1]),
                       "sw": {"class": "swap_axes", "axis1": "spatial:1", "axis2": "F", "from": "s"},
                       "m": {"class": "merge_dims", "axes": "static", "from": "sw"},
                       "output": {"class": "copy", "from": "data"}}, {
        "s": ["stag:s_split_dims0", "stag:split_dims", "stag:s_split_dims1", "tag:s_split_dims1"],
        "r": ["stag:rem", "stag:r_split_dims0"],
        "q": ["stag:split", "stag-single:1:split", "stag-single:-3:split", "stag:q_split_dims0_rem"],
        "o": ["stag:feature:data", "stag:o_split"],
        "sw": ["stag:s_split_dims1", "stag:s_split_dims0"]}),
    "window_expand_reduce": (6, {
        "w": {"class": "window", "window_size": 3, "from": "data"},
        "wm": {"class": "merge_dims", "axes": "static", "from": "w"},
        "e": {"class": "expand_dims", "axis": "spatial", "from": "data"},
        "ef": {"class": "expand_dims", "axis": "F", "dim": 3, "from": "data"},
        "kf": reduce("max", "F", keep_dims=True), "kt": reduce("max", "T", keep_dims=True),
        "output": {"class": "copy", "from": "data"}}, {
        "w": ["stag:w:window", "stag:window", "stag:feature"], "e": ["stag:e_expand_dims", "stag:expand"],
        "ef": ["stag:ef_expand_dims", "stag:feature:data"], "kt": ["stag:kt:keep-dim-1", "stag:keep"]}),
    "variable_chunking": (6, {
        "v": {"class": "variable", "shape": [3, 4], "add_batch_axis": False},
        "c": {"class": "time_chunking", "chunk_size": 4, "chunk_step": 2, "from": "data"},
        "output": {"class": "time_unchunking", "chunking_layer": "c", "from": "c"}}, {
        "v": ["stag:v:static:0", "stag:static"], "c": ["stag:chunking", "stag:time"], "output": ["stag:time"]}),
    "conv_inputs": (6, {"a": conv([3, 3], 2, padding="same", input_add_feature_dim=True),
                        "b": conv([3, 3], 2, padding="valid", input_split_feature_dim=2),
                        "e": conv([3, 1], 2, padding="same", input_expand_dims=1),
                        "output": {"class": "copy", "from": "data"}}, {
        "a": ["stag:feature:data", "stag:a:conv:s1"], "b": ["stag:b:conv:s1", "stag:feature"]}),
    "others": (6, {"t": {"class": "split_dims", "axis": "T", "dims": [-1, 2], "pad_to_multiples": True},
                   "l": {"class": "linear", "n_out": 4, "activation": "tanh"},
                   "a": {"class": "activation", "activation": "relu", "from": "l"},
                   "r": {"class": "reinterpret_data", "size_base": "data", "from": "l"},
                   "pf": {"class": "pad", "axes": "F", "padding": [1, 1], "from": "data"},
                   "sf": {"class": "slice", "axis": "F", "slice_start": 1, "from": "data"},
                   "st": {"class": "slice", "axis": "T", "slice_start": 1, "from": "data"},
                   "output": {"class": "copy", "from": "data"}}, {
        "t": ["stag:t_split", "stag:time"], "pf": ["stag:feature:data", "tag:feature:data"]}),
    "subnetwork": (6, {"sub": {"class": "subnetwork", "from": "data", "subnetwork": {
        "w": {"class": "window", "window_size": 3, "from": "data"}, "output": {"class": "copy", "from": "w"}}},
        "output": {"class": "merge_dims", "axes": "static", "from": "sub"}}, {
        "sub": ["stag:w:window", "stag:sub"]}),
}


def measure(num_inputs: int, net: dict, queries: dict[str, list]) -> dict:
    import tensorflow as tf
    from returnn.config import Config
    from returnn.tf.network import TFNetwork

    tf.compat.v1.reset_default_graph()
    network = TFNetwork(config=Config({"extern_data": {"data": {"dim": num_inputs}}}), train_flag=False)
    network.construct_from_dict(net)
    layers = {"data": network.extern_data.data["data"]} | {name: layer.output for name, layer in network.layers.items()}
    dims, found = {}, {}
    for name, data in layers.items():
        data = data.copy_as_batch_major() if data.have_batch_axis() else data
        dims[name] = [tag.description for tag in data.dim_tags]
        for description in queries.get(name, []):
            try:
                answer: object = data.get_axes_from_description(description)
            except Exception as e:  # RETURNN asserts: no tag named so, or not unique
                answer = f"error: {str(e).splitlines()[0][:100]}"
            found.setdefault(name, {})[description] = answer
    return {"dims": dims, "queries": found}


def main() -> None:
    import returnn
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    nets = []
    for key, (n, net, queries) in NETS.items():
        net = {name: layer if name == "output" else dict(layer, is_output_layer=True) for name, layer in net.items()}
        nets.append({"id": key, "num_inputs": n, "net": net, **measure(n, net, queries)})
    output = Path(__file__).resolve().parents[1] / "tests" / "ir" / "data" / "returnn_dim_names.json"
    golden = {"made_by": f"bench/returnn_dim_names.py with RETURNN {returnn.__version__}, TensorFlow {tf.__version__}",
              "nets": nets}
    output.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    for net in nets:
        print(net["id"], json.dumps(net["dims"], ensure_ascii=False), json.dumps(net["queries"]))


if __name__ == "__main__":
    main()
