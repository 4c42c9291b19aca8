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

The second golden, `local_median_win3`, has the Switchboard median form instead (returnn-experiments
2019-asr-local-attention switchboard local-heuristic.median.*.scratch.config): `p_t_in` the eval
`self.network._config.typed_dict['get_median'](source(0))` of the config function GET_MEDIAN (the file's
`config_functions`), `p_t` = `tf.maximum(tf.to_float(source(0)) - 1.0, 0.0)` the window's start. RETURNN runs it
as `squeeze`, `cumsum`, the eval of get_median's `tf.where`, `reduce` argmin and an int32 `p_t`
(`for_returnn_median`).
Usage (the Python with RETURNN and TensorFlow; about 4 minutes per golden on 2 cores), both files or one:
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_local_attention_golden.py
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_local_attention_golden.py --only local_median_win3
"""

from __future__ import annotations

import copy
import sys

import returnn_attention_golden as attention
from returnn_attention_golden import OUT, golden, network, write_result

HERE = OUT.parent / "local_attention"  # tests/compiler/data/local_attention/

WINDOW = 3
LENGTHS = (13, 1, 8, 20, 5)
NAME = "local_argmax_win3"
MEDIAN = "local_median_win3"


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


GET_MEDIAN = """def get_median(v):
  # expects (B, enc-T), computes median along enc-T
  # for this trick to work, sum(v, axis=1) = 1
  import tensorflow as tf
  v = tf.squeeze(v, axis=2)
  cs = tf.cumsum(v, axis=1) - 0.5
  vals = tf.where(cs > 0., cs, tf.ones_like(cs))
  batch_median = tf.argmin(vals, axis=1, output_type=tf.int32)  # (B,)
  return batch_median
"""  # the Switchboard configs' function as published (two comment lines and a commented-out line left out)


def published_median(window: int = WINDOW) -> dict:
    """att1's net with the Switchboard median local-attention layers as published (its `get_median` above)."""
    net = published(window)
    unit = net["output"]["unit"]
    del unit["p_t"]
    unit |= {
        "p_t_in": {"class": "eval", "from": "prev:att_weights",
                   "eval": "self.network._config.typed_dict['get_median'](source(0))",
                   "out_type": {"shape": (), "batch_dim_axis": 0, "dtype": "float32"}, "initial_output": window // 2},
        "p_t": {"class": "eval", "from": "p_t_in", "eval": "tf.maximum(tf.to_float(source(0)) - %f, 0.0)" % (
            window // 2), "is_output_layer": True, "initial_output": 0},
        "att_weights": unit["att_weights"] | {"window_start": "p_t", "is_output_layer": True, "initial_output": 0}}
    return net


def for_returnn_median(net: dict, window: int = WINDOW) -> dict:
    """The median form in layers the installed RETURNN builds: `squeeze`, `cumsum` over T, the `tf.where` of
    get_median as an eval, `reduce` mode argmin over T (int32 [B]); `p_t` in int32, as RETURNN's window mask
    compares int32 frame numbers (a float32 start fails there: GreaterEqual of int32 and float32)."""
    net = copy.deepcopy(net)
    unit = net["output"]["unit"]
    unit |= {
        "p_t_weights": {"class": "squeeze", "axis": "F", "from": "prev:att_weights"},
        "p_t_cumsum": {"class": "cumsum", "axis": "T", "from": "p_t_weights"},
        "p_t_vals": {"class": "eval", "from": "p_t_cumsum",
                     "eval": "tf.where(source(0) - 0.5 > 0., source(0) - 0.5, tf.ones_like(source(0)))"},
        "p_t_in": {"class": "reduce", "mode": "argmin", "axis": "T", "from": "p_t_vals"},
        "p_t": {"class": "eval", "from": "p_t_in", "eval": f"tf.maximum(source(0) - {window // 2}, 0)",
                "out_type": {"shape": (), "dtype": "int32"}, "is_output_layer": True}}
    return net


def main() -> None:
    import argparse

    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=(NAME, MEDIAN), help="golden names (default: both)")
    args = parser.parse_args()
    tf.compat.v1.disable_eager_execution()
    HERE.mkdir(exist_ok=True)
    goldens = {NAME: (published(), for_returnn, 7, None),
               MEDIAN: (published_median(), for_returnn_median, 8, GET_MEDIAN)}
    for name, (net, returnn_form, seed, functions) in goldens.items():
        if args.only and name not in args.only:
            continue
        attention.CONFIG_LENGTHS[name] = LENGTHS
        result = golden(name, returnn_form(net), seed, sys.executable)
        result["returnn_net"], result["net"] = result["net"], net
        if functions:
            result["config_functions"] = functions
        result["made_by"] = result["made_by"].replace("returnn_attention_golden.py",
                                                      "returnn_local_attention_golden.py")
        write_result(HERE / f"{name}.json", result)


if __name__ == "__main__":
    main()
