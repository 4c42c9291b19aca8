"""RETURNN TF forward goldens for netc's layer families: each case's net runs on each sequence ALONE.

netc computes every sequence as RETURNN computes it in a batch of one (docs/netdict.md "Types"), so the
golden output of a sequence is RETURNN's output for a batch holding only that sequence. Parameters are
drawn from a seeded numpy generator and assigned to RETURNN's variables by their names (`layer/W`), which
are netc's names. The file is small JSON: inputs, parameters and outputs per case, values rounded to 9
significant digits (float32's precision).
Usage (a Python with RETURNN and TensorFlow), one file per layer family:
  cd bench && /work/rvenv/bin/python returnn_layer_goldens.py FAMILY   (writes tests/compiler/data/returnn_FAMILY.json)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from train12ax import RETURNN_ENV

os.environ.update(RETURNN_ENV)
# NOTE: oneDNN's pooling cannot produce an empty output (a length-1 sequence under VALID pooling of 2 has none)
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

F = 6
LENGTHS = (3, 1, 5)  # run one by one; a length 1 sequence included


def split(dims: list[int], src: str = "data") -> dict:
    return {"class": "split_dims", "axis": "F", "dims": dims, "from": src}


RESHAPE: dict[str, dict] = {
    "split_dims": {"output": split([2, -1])},
    "merge_dims_static": {"s": split([2, 3]), "output": {"class": "merge_dims", "axes": "static", "from": "s"}},
    "merge_dims_keep_order": {"s": split([2, 3]), "output": {"class": "merge_dims", "axes": ["F", "spatial:1"],
                                                             "keep_order": True, "from": "s"}},
    "swap_axes_static": {"s": split([2, 3]), "output": {"class": "swap_axes", "axis1": "spatial:1", "axis2": "F",
                                                        "from": "s"}},
    "expand_dims_spatial": {"output": {"class": "expand_dims", "axis": "spatial", "from": "data"}},
    "expand_dims_feature": {"output": {"class": "expand_dims", "axis": "F", "dim": 1, "from": "data"}},
    "squeeze": {"e": {"class": "expand_dims", "axis": "spatial", "from": "data"},
                "output": {"class": "squeeze", "axis": "dim:1", "from": "e"}},
    "slice_feature": {"output": {"class": "slice", "axis": "F", "slice_start": 1, "slice_end": 5, "slice_step": 2}},
    "slice_time_step": {"output": {"class": "slice", "axis": "T", "slice_start": 1, "slice_step": 2}},
    "slice_time_end": {"output": {"class": "slice", "axis": "T", "slice_end": -1}},
    "pad_time": {"output": {"class": "pad", "axes": "T", "padding": [2, 1], "value": 0.5}},
    "pad_feature": {"output": {"class": "pad", "axes": "F", "padding": [1, 2], "value": 1.5}},
    "reshape_then_linear": {"s": split([2, 3]), "w": {"class": "swap_axes", "axis1": "spatial:1", "axis2": "F",
                                                      "from": "s"},
                            "m": {"class": "merge_dims", "axes": "static", "from": "w"},
                            "p": {"class": "pad", "axes": "T", "padding": [1, 1], "from": "m"},
                            "output": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "p"}},
    "reinterpret_size_base": {"p": {"class": "pad", "axes": "T", "padding": [1, 2], "from": "data"},
                              "s": {"class": "slice", "axis": "T", "slice_start": 1, "slice_end": -2, "from": "p"},
                              "r": {"class": "reinterpret_data", "size_base": "data", "enforce_batch_major": True,
                                    "from": "s"},
                              "output": {"class": "combine", "kind": "mul", "from": ["data", "r"]}},
}


def combine(kind: str, sources: list[str], **extra: object) -> dict:
    return {"class": "combine", "kind": kind, "from": sources, **extra}


def reduce(mode: str, axes: str | list[str], src: str = "data", **extra: object) -> dict:
    return {"class": "reduce", "mode": mode, "axes": axes, "from": src, **extra}


EXP = {"class": "activation", "activation": "exp", "from": "data"}
ELEMENTWISE: dict[str, dict] = {
    "combine_add": {"a": {"class": "linear", "activation": "tanh", "n_out": F},
                    "output": combine("add", ["data", "a"])},
    "combine_sub_3": {"e": EXP, "output": combine("sub", ["data", "e", "data"])},
    "combine_truediv": {"e": EXP, "output": combine("truediv", ["data", "e"])},
    "combine_max_min_avg": {"e": EXP, "x": combine("maximum", ["data", "e"]), "n": combine("minimum", ["data", "e"]),
                            "output": combine("average", ["x", "n", "data"])},
    "combine_mul_bias_act": {"e": EXP, "output": combine("mul", ["data", "e"], activation="tanh", with_bias=True)},
    "combine_squared_difference": {"e": EXP, "output": combine("squared_difference", ["data", "e"])},
    "reduce_mean_time_broadcast": {"m": reduce("mean", "T"), "output": combine("sub", ["data", "m"])},
    "reduce_max_time": {"m": reduce("max", "T"), "output": combine("add", ["data", "m"])},
    "reduce_min_sum_lse_time": {"a": reduce("min", "T"), "b": reduce("sum", "T"), "c": reduce("logsumexp", "T"),
                                "ab": combine("add", ["a", "b"]), "abc": combine("mul", ["ab", "c"]),
                                "output": combine("add", ["data", "abc"])},
    "reduce_mean_feature": {"m": reduce("mean", "F"), "output": combine("mul", ["data", "m"])},
    "reduce_max_feature_keep": {"output": reduce("max", "F", keep_dims=True)},
    "reduce_static_split": {"s": {"class": "split_dims", "axis": "F", "dims": [2, 3], "from": "data"},
                            "output": reduce("sum", "spatial:1", "s")},
    "eval_functions": {"output": {"class": "eval", "from": ["data"],
                                  "eval": "tf.nn.relu(source(0)) * 2 - tf.sigmoid(source(0)) + "
                                          "tf.maximum(source(0), 0.5) / tf.sqrt(tf.exp(source(0)) + 1.0)"}},
    "eval_compare_log": {"output": {"class": "eval", "from": ["data"],
                                    "eval": "tf.cast(source(0) > 0.1, tf.float32) * tf.math.log(tf.abs(source(0)) + 1)"
                                            " + tf.minimum(-source(0), 0.2) ** 2 + tf.tanh(source(0))"}},
    "eval_two_sources": {"e": EXP, "output": {"class": "eval", "from": ["data", "e"],
                                              "eval": "source(0) * source(1) - source(1) / 3"}},
    "gating": {"output": {"class": "gating", "activation": "tanh", "from": "data"}},
    "constant": {"c": {"class": "constant", "value": 0.5}, "output": combine("mul", ["data", "c"])},
    "length": {"n": {"class": "length", "from": "data"},
               "output": {"class": "eval", "from": ["data", "n"],
                          "eval": "source(0) * tf.cast(source(1), tf.float32)"}},
    "eval_clip_safe": {"output": {"class": "eval", "from": ["data"],
                                  "eval": "tf.clip_by_value(source(0), -0.5, 0.8) + safe_log(tf.abs(source(0)) - 0.5)"
                                          " + safe_exp(source(0) * 3.0, eps=0.1) + safe_log(tf.exp(source(0)))"}},
    "eval_safe_log_sigmoid": {"output": {"class": "eval", "from": ["data"],
                                         "eval": "safe_log(tf.sigmoid(source(0) * 20.0)) * 0.5"}},
    "eval_safe_log_softmax": {"a": {"class": "eval", "from": "data", "eval": "source(0) * 12.0"},
                              "s": {"class": "softmax", "n_out": 5, "from": "a"},
                              "output": {"class": "eval", "from": "s", "eval": "safe_log(source(0)) * 0.5"}},
}
EVAL_STATS = {"update_sample_only_in_training": True}  # RETURNN's bare default updates them even in eval
NORM: dict[str, dict] = {
    "layer_norm": {"output": {"class": "layer_norm", "from": "data"}},
    "layer_norm_split": {"s": split([2, 3]), "output": {"class": "layer_norm", "from": "s"}},
    "norm_time": {"output": {"class": "norm", "axes": "T", "from": "data"}},
    "norm_time_feature": {"output": {"class": "norm", "axes": "TF", "from": "data"}},
    "norm_feature_plain": {"output": {"class": "norm", "axes": "F", "scale": False, "bias": False, "from": "data"}},
    "batch_norm_v0": {"output": {"class": "batch_norm", "masked_time": True, **EVAL_STATS, "from": "data"}},
    "batch_norm_v2": {"h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "data"},
                      "output": {"class": "batch_norm", "masked_time": True, "param_version": 2, "momentum": 0.1,
                                 "epsilon": 0.01, **EVAL_STATS, "from": "h"}},
    "layer_norm_lstm_residual": {"l": {"class": "linear", "activation": "relu", "n_out": 5, "from": "data"},
                                 "lstm": {"class": "rec", "unit": "nativelstm2", "n_out": 5, "from": "l"},
                                 "n": {"class": "layer_norm", "from": "lstm"},
                                 "r": {"class": "combine", "kind": "add", "from": ["l", "n"]},
                                 "output": {"class": "softmax", "n_out": 3, "from": "r"}},
}
WINDOW: dict[str, dict] = {
    "window_same": {"output": {"class": "window", "window_size": 3, "from": "data"}},
    "window_left": {"output": {"class": "window", "window_size": 4, "window_left": 3, "from": "data"}},
    "window_valid_stride": {"output": {"class": "window", "window_size": 2, "padding": "valid", "stride": 2}},
    "window_same_stride": {"output": {"class": "window", "window_size": 3, "stride": 2, "from": "data"}},
    "window_feedforward_hybrid": {"w": {"class": "window", "window_size": 5, "from": "data"},
                                  "m": {"class": "merge_dims", "axes": "except_time", "from": "w"},
                                  "h": {"class": "linear", "activation": "relu", "n_out": 7, "from": "m"},
                                  "output": {"class": "softmax", "n_out": 4, "from": "h"}},
}


def conv(size: list[int], n_out: int, src: str = "data", **extra: object) -> dict:
    return {"class": "conv", "filter_size": size, "n_out": n_out, "from": src, **extra}


def pool(mode: str, size: list[int], src: str = "data", **extra: object) -> dict:
    return {"class": "pool", "mode": mode, "pool_size": size, "from": src, **extra}


def rec(n: int, direction: int, src: str | list[str]) -> dict:
    return {"class": "rec", "unit": "nativelstm2", "n_out": n, "direction": direction, "from": src}


CONV: dict[str, dict] = {
    "conv1d_same": {"output": conv([3], 4, padding="same", with_bias=True, activation="relu")},
    "conv1d_valid": {"output": conv([2], 3, padding="valid")},
    "conv1d_same_dilation": {"output": conv([3], 3, padding="same", dilation_rate=[2])},
    "conv1d_same_stride2": {"output": conv([3], 4, padding="same", strides=[2], with_bias=True)},
    "conv1d_same_k4_stride3": {"output": conv([4], 2, padding="same", strides=[3])},
    "conv2d_front_end": {"c": conv([3, 3], 2, padding="same", input_add_feature_dim=True, with_bias=True,
                                   activation="relu"),
                         "p": pool("max", [1, 2], "c", padding="same"),
                         "output": {"class": "merge_dims", "axes": "static", "from": "p"}},
    "conv2d_split_feature": {"c": conv([2, 2], 3, padding="valid", input_split_feature_dim=2),
                             "output": {"class": "merge_dims", "axes": "static", "from": "c"}},
    "pool_max_time_same": {"output": pool("max", [2], padding="same")},
    "pool_avg_time_same3": {"output": pool("avg", [3], padding="same")},
    "pool_max_valid": {"output": pool("max", [2])},
    "pool_avg_static_same": {"s": {"class": "split_dims", "axis": "F", "dims": [3, 2], "from": "data"},
                             "p": pool("avg", [1, 2], "s", padding="same", strides=[1, 2]),
                             "output": {"class": "merge_dims", "axes": "static", "from": "p"}},
    "blstm_time_pooling": {"fw0": rec(3, 1, "data"), "bw0": rec(3, -1, "data"),
                           "p": pool("max", [2], ["fw0", "bw0"], padding="same"),
                           "fw1": rec(3, 1, "p"), "bw1": rec(3, -1, "p"),
                           "output": {"class": "softmax", "n_out": 4, "from": ["fw1", "bw1"]}},
}
CONV |= {  # groups: depthwise (groups = channels: RETURNN's depthwise_conv2d path) and grouped (tf convolution)
    "conv1d_depthwise_same": {"output": conv([3], F, padding="same", groups=F, with_bias=True)},
    "conv1d_depthwise_multiplier": {"output": conv([2], 2 * F, padding="valid", groups=F, activation="tanh")},
    "conv1d_depthwise_stride2": {"output": conv([3], F, padding="same", groups=F, strides=[2])},
    "conv1d_depthwise_dilation": {"output": conv([2], F, padding="same", groups=F, dilation_rate=[2])},
    "conv1d_groups2": {"output": conv([3], 4, padding="same", groups=2, with_bias=True)},
    "conv2d_in_spatial_dims": {"s": {"class": "split_dims", "axis": "F", "dims": (-1, 1), "from": "data"},
                               "c": conv([3, 3], 2, "s", padding="same", in_spatial_dims=["T", f"dim:{F}"]),
                               "p": pool("max", [1, 2], "c", padding="same", in_spatial_dims=["T", f"dim:{F}"]),
                               "output": {"class": "merge_dims", "axes": "static", "from": "p"}},
    "conv2d_depthwise": {"s": split([2, 3]), "c": conv([3, 2], 3, "s", padding="same", groups=3, with_bias=True),
                         "output": {"class": "merge_dims", "axes": "static", "from": "c"}},
}

def tconv(size: list[int], n_out: int, src: str = "data", **extra: object) -> dict:
    return {"class": "transposed_conv", "filter_size": size, "n_out": n_out, "from": src, **extra}


TRANSPOSED_CONV: dict[str, dict] = {
    "tconv1d_same_stride2": {"output": tconv([3], 4, strides=[2], activation="relu")},
    "tconv1d_valid_default_strides": {"output": tconv([2], 3, padding="valid")},
    "tconv1d_valid_k3_s2": {"output": tconv([3], 3, strides=[2], padding="valid", with_bias=False)},
    "tconv1d_valid_k2_s3": {"output": tconv([2], 2, strides=[3], padding="valid")},
    "tconv1d_same_k4_s1": {"output": tconv([4], 2, strides=[1])},
    "tconv1d_same_output_padding": {"output": tconv([3], 3, strides=[2], output_padding=1)},
    "tconv1d_valid_remove_padding": {"output": tconv([4], 3, strides=[2], padding="valid", remove_padding=1)},
    "tconv2d_split": {"s": split([3, 2]), "c": tconv([2, 3], 2, "s", strides=[2, 1], activation="tanh"),
                      "output": {"class": "merge_dims", "axes": "static", "from": "c"}},
    "conv_then_tconv": {"c": conv([3], 4, padding="same", strides=[2], activation="relu"),
                        "output": tconv([2], 3, "c", padding="valid")},
}
SUBNETWORK: dict[str, dict] = {
    "subnetwork": {"sub": {"class": "subnetwork", "from": "data", "subnetwork": {
                       "h": {"class": "linear", "activation": "tanh", "n_out": 5, "from": "data"},
                       "output": {"class": "linear", "activation": "relu", "n_out": 4, "from": ["h", "data"]}}},
                   "output": {"class": "softmax", "n_out": 3, "from": "sub"}},
    "subnetwork_nested_base": {
        "x": {"class": "linear", "n_out": 4, "from": "data"},
        "sub": {"class": "subnetwork", "from": ["x", "data"], "subnetwork": {
            "a": {"class": "linear", "activation": "tanh", "n_out": 4},
            "n": {"class": "subnetwork", "from": "a", "subnetwork": {
                "output": {"class": "combine", "kind": "mul", "from": ["data", "base:a"]}}},
            "output": {"class": "combine", "kind": "add", "from": ["n", "base:x"]}}},
        "output": {"class": "copy", "from": "sub"}},
}
REC: dict[str, dict] = {
    f"{unit}_{'fw' if d == 1 else 'bw'}": {"h": {"class": "rec", "unit": unit, "n_out": 4, "direction": d,
                                                 "from": "data"},
                                           "output": {"class": "softmax", "n_out": 3, "from": "h"}}
    for unit in ("gru", "basiclstm", "standardlstm", "lstmblock", "nativelstm") for d in (1, -1)}
REC |= {  # unroll (a static_rnn over max_seq_len frames for TF cells; ignored by native units): the same numbers
    f"{unit}_unroll": {"h": {"class": "rec", "unit": unit, "n_out": 4, "direction": -1, "unroll": True, **extra,
                             "from": "data"},
                       "output": {"class": "softmax", "n_out": 3, "from": "h"}}
    for unit, extra in (("basiclstm", {"max_seq_len": 5}), ("gru", {"max_seq_len": 8}), ("nativelstm2", {}))}
REC |= {  # RETURNN's NativeLstmLowMem: one W over [x, h], gates j, i, f, o (returnn/native_op.py LstmLowMem)
    f"lowmem_{'fw' if d == 1 else 'bw'}": {"h": {"class": "rec", "unit": "NativeLstmLowMem", "n_out": 4,
                                                 "direction": d, "from": "data"},
                                           "output": {"class": "softmax", "n_out": 3, "from": "h"}}
    for d in (1, -1)}
VOCAB = 7
SPARSE: dict[str, dict] = {  # data: class indices (extern_data sparse), as the LSTM language models have
    "embedding": {"output": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "data"}},
    "lstm_lm": {"emb": {"class": "linear", "n_out": 5, "with_bias": False, "from": "data"},
                "lstm": {"class": "rec", "unit": "nativelstm2", "n_out": 4, "from": "emb"},
                "output": {"class": "softmax", "n_out": VOCAB, "from": "lstm"}},
}
VARIABLE: dict[str, dict] = {
    "variable_add": {"v": {"class": "variable", "shape": [F]}, "output": {"class": "combine", "kind": "add",
                                                                          "from": ["data", "v"]}},
    "variable_batch_mul": {"v": {"class": "variable", "shape": [F], "add_batch_axis": True, "init": 1.0},
                           "output": {"class": "combine", "kind": "mul", "from": ["data", "v"]}},
    "variable_static_split": {"s": split([2, 3]), "v": {"class": "variable", "shape": [2, 3], "init": "glorot_uniform"},
                              "a": {"class": "combine", "kind": "sub", "from": ["s", "v"]},
                              "output": {"class": "merge_dims", "axes": "static", "from": "a"}},
}
DOT: dict[str, dict] = {
    "dot_feature_matrix": {"w": {"class": "variable", "shape": [F, 4], "add_batch_axis": True},
                           "output": {"class": "dot", "red1": "F", "red2": "spatial:0", "var1": "T", "var2": "F",
                                      "from": ["data", "w"]}},
    "dot_defaults": {"w": {"class": "variable", "shape": [F, 3], "add_batch_axis": True},
                     "output": {"class": "dot", "from": ["data", "w"]}},
    "dot_static_per_frame": {"s": split([2, 3]), "h": {"class": "linear", "activation": "tanh", "n_out": 12},
                             "t": split([3, 4], "h"),
                             "d": {"class": "dot", "red1": "F", "red2": "spatial:1", "var1": "spatial:1",
                                   "var2": "F", "from": ["s", "t"]},
                             "output": {"class": "merge_dims", "axes": "static", "from": "d"}},
    "dot_var_none": {"h": {"class": "linear", "activation": "tanh", "n_out": F},
                     "output": {"class": "dot", "red1": "F", "red2": "F", "var1": None, "var2": None,
                                "from": ["data", "h"]}},
}
def conformer_front_end(features: int, channels: tuple[int, int]) -> dict:
    """The conv front end of the 2022 conformer hybrids (rwth-i6/returnn-experiments) in miniature, ending in
    their merge_dims over `stag:conv0p:conv:s1` (the frequency axis the pool halved) as `conv_merged`."""
    (c0, c1), full, half = channels, ["T", f"dim:{features}"], ["T", f"dim:{features // 2}"]
    return {
        "source0": {"class": "split_dims", "axis": "F", "dims": [-1, 1], "from": "data"},
        "conv0_0": conv([3, 3], c0, "source0", padding="same", with_bias=True, in_spatial_dims=full),
        "conv0p": pool("max", [1, 2], "conv0_0", padding="same", strides=[1, 2], in_spatial_dims=full),
        "conv1_0": conv([3, 3], c1, "conv0p", padding="same", activation="relu", with_bias=True, in_spatial_dims=half),
        "conv1p": pool("max", [1, 1], "conv1_0", padding="same", strides=[1, 1], in_spatial_dims=half),
        "conv_merged": {"class": "merge_dims", "from": "conv1p", "axes": ["stag:conv0p:conv:s1", f"dim:{c1}"]},
    }


AXES: dict[str, dict] = {  # RETURNN's axis notation, argmax/argmin, reinterpret_data's axis and sparse options
    "reduce_argmax_feature_embedding": {"r": reduce("argmax", "F"),
                                        "output": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "r"}},
    "reduce_argmin_dim_split": {"s": split([2, 3]), "r": reduce("argmin", "dim:3", "s"),
                                "e": {"class": "linear", "n_out": 4, "from": "r"},
                                "output": {"class": "merge_dims", "axes": "static", "from": "e"}},
    "reduce_argmax_time_dense": {"r": reduce("argmax", "stag:time"),
                                 "d": {"class": "reinterpret_data", "set_sparse": False, "from": "r"},
                                 "output": {"class": "eval", "from": ["data", "d"],
                                            "eval": "source(0) * tf.cast(source(1), tf.float32)"}},
    "reduce_argmax_keep_dims": {"s": split([3, 2]), "r": reduce("argmax", "spatial:1", "s", keep_dims=True),
                                "e": {"class": "linear", "n_out": 2, "from": "r"},
                                "output": {"class": "merge_dims", "axes": "static", "from": "e"}},
    "reduce_mean_stag_pooled_time": {"p": {"class": "pool", "mode": "max", "pool_size": [2], "padding": "same",
                                           "from": "data"},
                                     "m": reduce("mean", "stag:extern_data", "p"),
                                     "output": combine("sub", ["data", "m"])},
    "reduce_mean_except_batch": {"m": reduce("mean", "except_batch"), "output": combine("sub", ["data", "m"])},
    "reduce_max_int_axis": {"m": {"class": "reduce", "mode": "max", "axis": 1, "from": "data"},
                            "output": combine("add", ["data", "m"])},
    "reduce_sum_list": {"s": split([2, 3]), "m": reduce("sum", ["stag:extern_data", "spatial:1"], "s"),
                        "c": combine("mul", ["s", "m"]),
                        "output": {"class": "merge_dims", "axes": "static", "from": "c"}},
    "increase_sparse_dim": {"r": reduce("argmax", "F"),
                            "i": {"class": "reinterpret_data", "increase_sparse_dim": 2, "from": "r"},
                            "output": {"class": "linear", "n_out": 3, "from": "i"}},
    "set_sparse_dim": {"r": reduce("argmin", "F"),
                       "i": {"class": "reinterpret_data", "set_sparse_dim": 9, "from": "r"},
                       "output": {"class": "linear", "activation": "relu", "n_out": 3, "from": "i"}},
    "set_axes_named": {"r": {"class": "reinterpret_data", "set_axes": {"T": "stag:time", "F": "dim:6"},
                             "enforce_batch_major": True, "from": "data"},
                       "output": combine("add", ["data", "r"])},
    # stag: on the static axes layers create (RETURNN names them after the layer: bench/returnn_dim_names.py)
    "stag_conv_front_end": {**conformer_front_end(6, (4, 2)),
                            "output": {"class": "linear", "activation": "tanh", "n_out": 3, "from": "conv_merged"}},
    "stag_conv_static_axis": {"s": split([-1, 1]),
                              "c": conv([1, 3], 2, "s", padding="valid", in_spatial_dims=["T", "dim:6"]),
                              "m": reduce("mean", "stag:c:conv:s1", "c"),
                              "output": {"class": "linear", "n_out": 3, "from": "m"}},
    "stag_split_dims": {"s": split([2, 3]), "r": reduce("sum", "stag:s_split_dims0", "s"),
                        "output": combine("mul", ["s", "r"])},
    "stag_window_swap": {"w": {"class": "window", "window_size": 3, "from": "data"},
                         "x": {"class": "swap_axes", "axis1": "stag:w:window", "axis2": "F", "from": "w"},
                         "m": reduce("max", "stag:feature:data", "x"),
                         "output": {"class": "linear", "n_out": 2, "from": "m"}},
    "stag_single_split": {"s": split([1, 2, 3]), "r": reduce("sum", "stag-single:1:split_dims", "s"),
                          "output": {"class": "merge_dims", "axes": "static", "from": "r"}},
}


def chunked(src: str, size: int, step: int) -> dict:
    return {"class": "time_chunking", "chunk_size": size, "chunk_step": step, "from": src}


def unchunked(src: str, chunker: str = "c") -> dict:
    return {"class": "time_unchunking", "chunking_layer": chunker, "from": src}


CHUNKING: dict[str, dict] = {
    "chunk_linear_unchunk": {"c": chunked("data", 3, 2),
                             "h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "c"},
                             "output": unchunked("h")},
    "chunk_no_overlap": {"c": chunked("data", 2, 2), "output": unchunked("c")},
    "chunk_step_one": {"c": chunked("data", 3, 1), "output": unchunked("c")},
    "chunked_blstm": {"l": {"class": "linear", "activation": "relu", "n_out": 5, "from": "data"},
                      "c": chunked("l", 4, 2), "fw": rec(3, 1, "c"), "bw": rec(3, -1, "c"),
                      "u": unchunked(["fw", "bw"]),
                      "output": {"class": "softmax", "n_out": 4, "from": "u"}},
    "chunked_blstm_step3": {"c": chunked("data", 5, 3), "fw": rec(4, 1, "c"), "bw": rec(4, -1, "c"),
                            "u": unchunked(["fw", "bw"]), "output": {"class": "copy", "from": ["u", "data"]}},
    "split_time_stack": {"s": {"class": "split_dims", "axis": "T", "dims": [-1, 2], "from": "data"},
                         "output": {"class": "merge_dims", "axes": "except_time", "from": "s"}},
    "split_time_pad_value": {"s": {"class": "split_dims", "axis": "T", "dims": [-1, 3], "pad_value": 0.5,
                                   "from": "data"},
                             "m": {"class": "merge_dims", "axes": "except_time", "from": "s"},
                             "output": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "m"}},
    "split_merge_time": {"s": {"class": "split_dims", "axis": "T", "dims": [-1, 2], "from": "data"},
                         "output": {"class": "merge_dims", "axes": ["T", "dim:2"], "from": "s"}},
    "chunk_window": {"c": chunked("data", 4, 3), "w": {"class": "window", "window_size": 3, "from": "c"},
                     "m": {"class": "merge_dims", "axes": "except_time", "from": "w"},
                     "h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "m"},
                     "output": unchunked("h")},
    "window_merge_time": {"w": {"class": "window", "window_size": 3, "from": "data"},
                          "output": {"class": "merge_dims", "axes": ["T", "spatial:1"], "from": "w"}},
    # chunking_layer inside a subnetwork: a sibling sublayer, and the enclosing network's layer by `base:`
    "chunk_in_subnetwork": {"s": {"class": "subnetwork", "from": "data", "subnetwork": {
        "c": chunked("data", 3, 2), "h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "c"},
        "output": unchunked("h")}}, "output": {"class": "copy", "from": "s"}},
    "chunk_base_in_subnetwork": {"c": chunked("data", 4, 3), "s": {"class": "subnetwork", "from": "c", "subnetwork": {
        "h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "data"},
        "output": unchunked("h", "base:c")}}, "output": {"class": "copy", "from": "s"}},
    # length of the chunks' time axis keeps their batch: [B*C], each chunk's length
    "chunk_length": {"c": chunked("data", 4, 2), "l": {"class": "length", "from": "c"},
                     "x": {"class": "eval", "eval": "source(0) + tf.cast(source(1), tf.float32)", "from": ["c", "l"]},
                     "output": unchunked("x")},
}


OPTIONS: dict[str, dict] = {  # options every layer has (ir/layers/base.py)
    "reuse_params_layer": {"a": {"class": "linear", "activation": "tanh", "n_out": F},
                           "b": {"class": "linear", "activation": "tanh", "n_out": F, "from": "a", "reuse_params": "a"},
                           "output": {"class": "combine", "kind": "add", "from": ["a", "b"]}},
    "reuse_params_map": {"l1": {"class": "linear", "activation": "tanh", "n_out": 4},
                         "l2": {"class": "linear", "activation": "relu", "n_out": 4, "from": "data",
                                "reuse_params": {"map": {"W": "l1", "b": None}}},
                         "output": {"class": "combine", "kind": "sub", "from": ["l1", "l2"]}},
    "reuse_params_rec": {"fw": rec(4, 1, "data"), "bw": {**rec(4, -1, "data"), "reuse_params": "fw"},
                         "output": {"class": "softmax", "n_out": 3, "from": ["fw", "bw"]}},
    "reuse_params_subnetwork": {"x": {"class": "linear", "activation": "tanh", "n_out": F},
                                "s": {"class": "subnetwork", "from": "x", "subnetwork": {
                                    "a": {"class": "linear", "activation": "tanh", "n_out": F,
                                          "reuse_params": "base:x"},
                                    "output": {"class": "linear", "n_out": 3, "reuse_params": {
                                        "map": {"W": {"reuse_layer": "base:o"}, "b": None}}, "from": "a"}}},
                                "o": {"class": "linear", "n_out": 3, "from": "x"},
                                "output": {"class": "combine", "kind": "add", "from": ["s", "o"]}},
}
OPTIONS |= {  # activation names RETURNN's get_activation_function finds in TensorFlow, on inputs * 4 (relu6 clips)
    f"activation_{name}": {"s": {"class": "eval", "eval": "source(0) * 4.0", "from": "data"},
                           "output": {"class": "activation", "activation": name, "from": "s"}}
    for name in ("relu6", "leaky_relu", "softsign", "log_sigmoid", "negative", "neg", "sin", "cos")}
OPTIONS |= {f"activation_{name}": {"e": EXP, "output": {"class": "activation", "activation": name, "from": "e"}}
            for name in ("sqrt", "log")}
OPTIONS |= {  # the batch_norm option of every layer: LayerBase.batch_norm on the layer's output
    "batch_norm_option_v0": {"output": {"class": "linear", "activation": "tanh", "n_out": 4,
                                        "batch_norm": EVAL_STATS}},
    "batch_norm_option_v2": {"h": {"class": "linear", "activation": "relu", "n_out": 5},
                             "output": {"class": "copy", "from": "h", "batch_norm": {
                                 **EVAL_STATS, "param_version": 2, "momentum": 0.1, "epsilon": 1e-5}}},
}
OPTIONS |= {  # rec's unit_opts: the forget bias of TF's LSTM cells; NativeLstm2's (0) and its weight dropout
    f"unit_opts_{unit}": {"h": {"class": "rec", "unit": unit, "n_out": 4, "direction": -1, "unit_opts": opts,
                                "from": "data"},
                          "output": {"class": "softmax", "n_out": 3, "from": "h"}}
    for unit, opts in (("basiclstm", {"forget_bias": 2.5}), ("standardlstm", {"forget_bias": 0.0}),
                       ("nativelstm2", {"forget_bias": 0.0, "rec_weight_dropout": 0.3}))}
OPTIONS["eval_tf_functions"] = {"output": {"class": "eval", "eval": (
    "tf.nn.relu6(source(0) * 4.0) + tf.nn.leaky_relu(source(0)) * tf.sin(source(0)) - tf.math.cos(source(0)) "
    "+ tf.nn.softsign(source(0)) * tf.nn.selu(source(0)) + tf.nn.silu(source(0)) - tf.negative(source(0)) "
    "* tf.nn.gelu(source(0)) + tf.math.log_sigmoid(source(0))")}}
OPTIONS["linear_leaky_relu_out_type"] = {"h": {"class": "linear", "activation": "leaky_relu", "n_out": 1},
                                         "output": {"class": "eval", "eval": "source(0) * 2.0 + 1.0", "from": "h",
                                                    "out_type": {"dim": 1, "shape": (None, 1)}}}
OPTIONS |= {  # the batch_norm option of a softmax layer normalizes its probabilities (post_init: after the softmax)
    "batch_norm_option_softmax": {"output": {"class": "softmax", "n_out": 3, "batch_norm": EVAL_STATS}},
    "batch_norm_option_softmax_safe_log": {  # safe_log sees an Add, not a Softmax: log(max(x, 1e-20))
        "s": {"class": "softmax", "n_out": 3, "batch_norm": EVAL_STATS},
        "output": {"class": "eval", "from": "s", "eval": "safe_log(source(0)) * 0.5"}},
    "reuse_params_whole_subnetwork": {  # RETURNN 1.20261022: a subnetwork's reuse_params shares no sublayer's
        "s1": {"class": "subnetwork", "from": "data", "subnetwork": {
            "h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "data"},
            "output": {"class": "copy", "from": "h"}}},
        "x": {"class": "eval", "from": "data", "eval": "source(0) * 2.0"},
        "s2": {"class": "subnetwork", "from": "x", "reuse_params": "s1", "subnetwork": {
            "h": {"class": "linear", "activation": "tanh", "n_out": 4, "from": "data"},
            "output": {"class": "copy", "from": "h"}}},
        "output": {"class": "combine", "kind": "add", "from": ["s1", "s2"]}},
}


def swish(src: str) -> dict:
    return {"class": "eval", "eval": "source(0) * tf.sigmoid(source(0))", "from": src}


def conformer_ff(name: str, src: str, dim: int) -> dict:
    """A conformer feed-forward module: layer_norm, linear + eval swish, linear, half-step residual."""
    return {f"{name}_ln": {"class": "layer_norm", "from": src},
            f"{name}_1": {"class": "linear", "n_out": 2 * dim, "from": f"{name}_ln"},
            f"{name}_swish": swish(f"{name}_1"),
            f"{name}_2": {"class": "linear", "n_out": dim, "from": f"{name}_swish"},
            f"{name}_half": {"class": "eval", "eval": "0.5 * source(0)", "from": f"{name}_2"},
            f"{name}_res": combine("add", [src, f"{name}_half"])}


def conformer_conv(name: str, src: str, dim: int, dw_bias: bool) -> dict:
    """A conformer conv module: layer_norm, pointwise linear + GLU (gating), depthwise conv, batch_norm, swish,
    pointwise linear, residual (as the rwth-i6 2022 conformer hybrid setups, smaller)."""
    return {f"{name}_ln": {"class": "layer_norm", "from": src},
            f"{name}_pw1": {"class": "linear", "n_out": 2 * dim, "from": f"{name}_ln"},
            f"{name}_glu": {"class": "gating", "activation": "identity", "from": f"{name}_pw1"},
            f"{name}_dw": conv([5], dim, f"{name}_glu", padding="same", groups=dim, with_bias=dw_bias),
            f"{name}_bn": {"class": "batch_norm", "masked_time": True, **EVAL_STATS, "from": f"{name}_dw"},
            f"{name}_swish": swish(f"{name}_bn"),
            f"{name}_pw2": {"class": "linear", "n_out": dim, "from": f"{name}_swish"},
            f"{name}_res": combine("add", [src, f"{name}_pw2"])}


def conformer(output: dict, dim: int = 8, dw_bias: bool = True) -> dict:
    """A conformer-hybrid miniature without self-attention: 2D conv front end (pool over frequency), then
    feed-forward, conv and feed-forward modules, a final layer_norm and `output`. `dw_bias`: the depthwise conv's
    bias (the published setups have one; batch_norm right after it cancels it)."""
    return {"c0": conv([3, 3], 4, padding="same", input_add_feature_dim=True, with_bias=True, activation="relu"),
            "p0": pool("max", [1, 2], "c0", padding="same"),
            "c1": conv([3, 3], 4, "p0", padding="same", with_bias=True, activation="relu"),
            "m": {"class": "merge_dims", "axes": "static", "from": "c1"},
            "in": {"class": "linear", "n_out": dim, "with_bias": False, "from": "m"},
            **conformer_ff("ff1", "in", dim), **conformer_conv("conv", "ff1_res", dim, dw_bias),
            **conformer_ff("ff2", "conv_res", dim),
            "ln": {"class": "layer_norm", "from": "ff2_res"},
            "output": output | {"from": "ln"}}


CONFORMER: dict[str, dict] = {"conformer_hybrid": conformer({"class": "softmax", "n_out": 3})}
# even and odd lengths: SAME with a stride pads them differently
GREATER = {"class": "compare", "kind": "greater", "value": 0.0, "from": "data"}
T_ARGMAX = {"m": reduce("mean", "F"), "pos": reduce("argmax", "T", "m")}  # [B] int32, inside each length
SELECT: dict[str, dict] = {
    "switch_layer_const": {"c": GREATER, "output": {"class": "switch", "condition": "c", "true_from": "data",
                                                    "false_from": -1.5}},
    "switch_const_layer": {"c": GREATER, "e": EXP, "output": {"class": "switch", "condition": "c",
                                                              "true_from": 0.5, "false_from": "e"}},
    "switch_broadcast": {"m": reduce("mean", "F"), "c": {"class": "compare", "kind": "less", "value": 0.0,
                                                         "from": "m"},
                         "a": reduce("max", "T"), "output": {"class": "switch", "condition": "c",
                                                             "true_from": "data", "false_from": "a"}},
    "gather_feature_by_argmax": {"l": {"class": "linear", "n_out": 4, "from": "data"},
                                 "pos": reduce("argmax", "F", "l"),
                                 "g": {"class": "gather", "from": "data", "position": "pos", "axis": "F"},
                                 "output": combine("mul", ["data", "g"])},
    "gather_time_by_int": {"g": {"class": "gather", "from": "data", "position": 0, "axis": "T"},
                           "output": combine("sub", ["data", "g"])},
    "gather_time_by_layer": {**T_ARGMAX, "g": {"class": "gather", "from": "data", "position": "pos", "axis": "T"},
                             "output": combine("mul", ["data", "g"])},
    "gather_static_per_frame": {"s": split([2, 3]), "l": {"class": "linear", "n_out": 2, "from": "data"},
                                "pos": reduce("argmax", "F", "l"),
                                "output": {"class": "gather", "from": "s", "position": "pos", "axis": "spatial:1"}},
    "gather_nd_time": {**T_ARGMAX, "g": {"class": "gather_nd", "from": "data", "position": "pos"},
                       "output": combine("add", ["data", "g"])},
}
FAMILY_LENGTHS = {"conv": (4, 1, 5, 2, 6), "conformer": (4, 1, 5, 2, 6), "transposed_conv": (4, 1, 5, 2, 6),
                  "chunking": (7, 1, 5, 2, 9, 4)}
# also run with train_flag=True (batch statistics)
TRAIN_MODE = ("batch_norm_v0", "batch_norm_v2", "batch_norm_option_v0", "batch_norm_option_v2",
              "conformer_hybrid")
FAMILIES = {"reshape": RESHAPE, "elementwise": ELEMENTWISE, "norm": NORM, "window": WINDOW, "conv": CONV,
            "subnetwork": SUBNETWORK, "rec": REC, "sparse": SPARSE,
            "variable": VARIABLE, "dot": DOT, "transposed_conv": TRANSPOSED_CONV, "axes": AXES,
            "chunking": CHUNKING, "options": OPTIONS, "conformer": CONFORMER, "select": SELECT}


def run_case(name: str, net: dict, seed: int, lengths: tuple[int, ...] = LENGTHS, sparse: bool = False) -> dict:
    """Build the net in a fresh TF graph, set seeded parameters, run each sequence alone (eval; and in train
    mode for TRAIN_MODE cases, with the running statistics after the update of each sequence)."""
    case = run_net(name, net, seed, False, lengths, sparse)
    if name in TRAIN_MODE:
        train = run_net(name, net, seed, True, lengths, sparse)
        case |= {"train_outputs": train["outputs"], "train_stats": train["stats"]}
    del case["stats"]
    return case


def run_net(name: str, net: dict, seed: int, train: bool, lengths: tuple[int, ...], sparse: bool) -> dict:
    import numpy as np
    import tensorflow as tf
    from returnn.config import Config
    from returnn.tf.network import TFNetwork

    tf.compat.v1.reset_default_graph()
    data_spec = {"dim": VOCAB, "sparse": True} if sparse else {"dim": F}
    network = TFNetwork(config=Config({"extern_data": {"data": data_spec}}), train_flag=train)
    network.construct_from_dict(net)
    out = network.get_default_output_layer().output.copy_as_batch_major()
    data = network.extern_data.data["data"]
    rng = np.random.default_rng(seed)
    inputs = [rng.integers(0, VOCAB, n).astype(np.int32) if sparse else rng.standard_normal((n, F)).astype(np.float32)
              for n in lengths]
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        params, variables = {}, sorted(network.get_params_list(), key=lambda v: v.op.name)
        for var in variables:
            low = 0.5 if var.op.name.endswith("variance") else -0.8  # a variance is positive
            params[var.op.name] = rng.uniform(low, 0.8 + low + 0.8, var.shape.as_list()).astype(np.float32)
        outputs, out_lengths, stats = [], [], []
        for x in inputs:
            for var in variables:  # every sequence starts from the same parameters and statistics
                var.load(params[var.op.name], session)
            feed = {data.placeholder: x[None], data.get_sequence_lengths(): [len(x)]}
            y, n, _ = session.run([out.placeholder, out.get_sequence_lengths(),
                                   network.get_post_control_dependencies()], feed)
            outputs.append(y[0, :n[0]])
            out_lengths.append(int(n[0]))
            stats.append({v.op.name: rounded(session.run(v)) for v in variables if not v.trainable})
    return {"id": name, "net": net, "num_inputs": VOCAB if sparse else F, **({"sparse": True} if sparse else {}),
            "returnn_type": str(out), "inputs": [rounded(x) for x in inputs],
            "params": {k: rounded(v) for k, v in params.items()}, "outputs": [rounded(y) for y in outputs],
            "out_lengths": out_lengths, "stats": stats}


def rounded(array: object) -> object:
    import numpy as np

    return np.vectorize(lambda v: float(f"{v:.9g}"), otypes=[object])(np.asarray(array, np.float64)).tolist() \
        if np.asarray(array).size else np.asarray(array).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("--only", nargs="*", help="case ids (default: all)")
    args = parser.parse_args()
    output = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / f"returnn_{args.family}.json"
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    lengths = FAMILY_LENGTHS.get(args.family, LENGTHS)
    family, sparse = FAMILIES[args.family], args.family == "sparse"
    cases = [run_case(name, net, seed, lengths, sparse) for seed, (name, net) in enumerate(family.items())
             if not args.only or name in args.only]
    write_cases(output, cases, "bench/returnn_layer_goldens.py")


def write_cases(output: Path, cases: list[dict], script: str) -> None:
    """The golden file `{"made_by", "cases"}` the tests read (tests/compiler/returnn_goldens.py)."""
    import returnn
    import tensorflow as tf

    golden = {"made_by": f"{script} with RETURNN {returnn.__version__}, TensorFlow {tf.__version__} (CPU), "
                         "each sequence alone", "cases": cases}
    output.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {output}: {len(cases)} cases")
    for case in cases:
        print(f"  {case['id']}: {case['returnn_type']} params {sorted(case['params'])} lengths {case['out_lengths']}")


if __name__ == "__main__":
    main()
