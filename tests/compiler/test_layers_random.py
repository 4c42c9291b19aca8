"""Random stacks of the layer families, with and without an LSTM (time-major ONNX graphs): the compiled model on
onnxruntime equals the torch model on ragged batches with garbage padding, lengths included."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from netc.compiler import compile_graph
from netc.ir import Document, graph_from_document, param_specs
from netc.trainer.model import NetModel

from tests.helpers import ragged_batch, session

F = 6


def stage(rng: random.Random, name: str, src: str) -> dict[str, dict]:
    """One random block reading `src` ([B, T', F]) and ending in `name` ([B, T'', F'])."""
    kind = rng.choice(["reshape", "window", "conv", "pool", "pad_slice", "norm", "combine", "eval", "gating", "rec",
                       "sampling"])
    if kind == "reshape":
        return {f"{name}_s": {"class": "split_dims", "axis": "F", "dims": [-1, 1], "from": src},
                f"{name}_w": {"class": "swap_axes", "axis1": "spatial:1", "axis2": "F", "from": f"{name}_s"},
                name: {"class": "merge_dims", "axes": "static", "from": f"{name}_w"}}
    if kind == "window":
        return {f"{name}_w": {"class": "window", "window_size": rng.choice([2, 3]), "stride": rng.choice([1, 2]),
                              "padding": rng.choice(["same", "valid"]), "from": src},
                name: {"class": "merge_dims", "axes": "except_time", "from": f"{name}_w"}}
    if kind == "conv":
        return {name: {"class": "conv", "filter_size": [rng.choice([1, 2, 3])], "n_out": F, "with_bias": True,
                       "padding": rng.choice(["same", "valid"]), "strides": [rng.choice([1, 2, 3])], "from": src}}
    if kind == "pool":
        return {name: {"class": "pool", "mode": rng.choice(["max", "avg"]), "pool_size": [rng.choice([1, 2, 3])],
                       "padding": rng.choice(["same", "valid"]), "from": src}}
    if kind == "pad_slice":
        return {f"{name}_p": {"class": "pad", "axes": "T", "padding": [rng.randint(0, 2), rng.randint(0, 2)],
                              "value": 0.5, "from": src},
                name: {"class": "slice", "axis": "T", "slice_start": rng.randint(0, 1),
                       "slice_step": rng.choice([1, 2]),
                       "from": f"{name}_p"}}
    if kind == "norm":
        return {name: rng.choice([{"class": "layer_norm", "from": src}, {"class": "norm", "axes": "T", "from": src},
                                  {"class": "batch_norm", "masked_time": True, "from": src}])}
    if kind == "combine":
        return {f"{name}_m": {"class": "reduce", "mode": rng.choice(["mean", "max", "logsumexp"]), "axes": "T",
                              "from": src},
                name: {"class": "combine", "kind": rng.choice(["add", "sub", "mul"]), "from": [src, f"{name}_m"]}}
    if kind == "eval":
        return {name: {"class": "eval", "from": src, "eval": "tf.tanh(source(0)) * 2 + tf.sigmoid(source(0)) ** 2"}}
    if kind == "gating":
        return {f"{name}_h": {"class": "linear", "n_out": 2 * F, "from": src},
                name: {"class": "gating", "activation": "tanh", "from": f"{name}_h"}}
    if kind == "sampling":
        return {f"{name}_d": {"class": "downsample", "axis": 0, "factor": rng.choice([2, 3]),
                              "method": rng.choice(["average", "max"]), "from": src},
                name: {"class": "upsample", "axis": 0, "factor": 2, "time_like_last_source": True,
                       "from": [f"{name}_d", src]}}
    return {name: {"class": "rec", "unit": rng.choice(["lstm", "gru", "standardlstm"]), "n_out": F,
                   "direction": rng.choice([1, -1]), "from": src}}


def random_net(seed: int) -> dict[str, dict]:
    rng, net, src = random.Random(seed), {}, "data"
    for k in range(rng.randint(1, 4)):
        block = stage(rng, f"b{k}", src)
        net |= block
        src = list(block)[-1]
    return net | {"output": {"class": "softmax", "n_out": 4, "from": src}}


@pytest.mark.parametrize("seed", range(40))
def test_random_stack_onnx_equals_torch(seed: int) -> None:
    net = random_net(seed)
    graph = graph_from_document(Document("random.json", net), F)
    rng = np.random.default_rng(seed)
    params = {s.name: (rng.uniform(0.5, 1.5, s.shape) if s.name.endswith("variance") else
                       rng.uniform(-0.6, 0.6, s.shape)).astype(np.float32) for s in param_specs(graph)}
    x, lens = ragged_batch(rng, [int(n) for n in rng.integers(1, 8, 4)], F)
    y, out_lens = session(compile_graph(graph, params)).run(None, {"data": x, "data:size1": lens})
    with torch.no_grad():
        ctx = NetModel(graph, params).eval()(torch.from_numpy(x), torch.from_numpy(lens).long())
        got = ctx.padded("output").numpy()
        got_lens = ctx.packing(graph.output.out_type.time).lengths.numpy()
    np.testing.assert_array_equal(out_lens, got_lens, err_msg=str(net))
    for b, n in enumerate(out_lens):
        np.testing.assert_allclose(got[b, :n], y[b, :n], atol=1e-5, rtol=0, err_msg=str(net))
        assert not np.any(y[b, n:]), str(net)
