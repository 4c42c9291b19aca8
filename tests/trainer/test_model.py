"""The torch model built from the IR equals the compiled ONNX model on ORT, on every valid frame."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions
from netc.ir import Act, init_params, load_graph
from netc.ir.layers import LAYER_TYPES
from netc.ir.loop import RecLoop
from netc.trainer.lower import ACTIVATIONS, LOWER
from netc.trainer.model import NetModel

from tests.helpers import EXAMPLES, ragged_batch, session

NUM_INPUTS, NUM_OUTPUTS = 40, 7
LENGTHS = [9, 1, 5, 9, 2]
ALL_ACTS = [a.value for a in Act]


def small_variant(path, tmp_path):
    """An example net with every n_out divided by 50 (500 -> 10), so the test runs fast."""
    net = json.loads(path.read_text())
    for layer in net.values():
        if "n_out" in layer:
            layer["n_out"] //= 50
    out = tmp_path / path.name
    out.write_text(json.dumps(net))
    return out


def random_params(graph, seed=0):
    """Seeded init with non-zero biases, so a bias in the wrong gate would show."""
    rng = np.random.default_rng(seed)
    params = init_params(graph, seed)
    return {k: (rng.uniform(-0.5, 0.5, v.shape).astype(np.float32) if k.endswith("b") else v)
            for k, v in params.items()}


def compare_with_ort(graph, params, target_lengths=None):
    rng = np.random.default_rng(1)
    x, lens = ragged_batch(rng, LENGTHS, NUM_INPUTS)
    feeds = {"data": x, "data:size1": lens}
    if target_lengths is not None:
        feeds["classes:size1"] = np.asarray(target_lengths, np.int32)
    for kind in ("logits", "probs"):
        model = compile_graph(graph, params, options=CompileOptions(output_kind=kind))
        expected = session(model).run(["output"], feeds)[0]
        torch_model = NetModel(graph, params).eval()
        tl = None if target_lengths is None else torch.tensor(target_lengths)
        with torch.no_grad():
            ctx = torch_model(torch.from_numpy(x), torch.from_numpy(lens).long(), tl)
        got = ctx.padded("output", logits=kind == "logits").numpy()
        out_lens = lens if target_lengths is None else np.asarray(target_lengths)
        for b, n in enumerate(out_lens):
            np.testing.assert_allclose(got[b, :n], expected[b, :n], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["ff2.json", "lstm2.json", "blstm3.json", "blstm2_300.json"])
def test_example_nets_match_onnx(name, tmp_path):
    graph = load_graph(small_variant(EXAMPLES / name, tmp_path), NUM_INPUTS, NUM_OUTPUTS)
    compare_with_ort(graph, random_params(graph))


def test_encoder_decoder_matches_onnx(tmp_path):
    graph = load_graph(small_variant(EXAMPLES / "seq2seq.json", tmp_path), NUM_INPUTS, NUM_OUTPUTS)
    compare_with_ort(graph, random_params(graph), target_lengths=[3, 6, 1, 2, 6])


def test_every_activation_and_passthrough_layer_matches_onnx(tmp_path):
    net = {f"act_{a}": {"class": "activation", "activation": a, "from": "lin"} for a in ALL_ACTS}
    net["lin"] = {"class": "linear", "n_out": 6, "activation": "tanh"}
    net["cp"] = {"class": "copy", "from": list(net)[:-1]}
    net["drop"] = {"class": "dropout", "dropout": 0.3, "from": "cp"}
    net["output"] = {"class": "softmax", "from": ["drop"]}
    path = tmp_path / "acts.json"
    path.write_text(json.dumps(net))
    graph = load_graph(path, NUM_INPUTS, NUM_OUTPUTS)
    compare_with_ort(graph, random_params(graph))


def test_every_layer_class_and_activation_has_a_torch_lowering():
    assert set(LOWER) == set(LAYER_TYPES) | {RecLoop}  # `rec` with a unit dict is read by the rec layer's reader
    assert set(ACTIVATIONS) == set(Act)


def test_state_dict_uses_returnn_names_and_layouts():
    graph = load_graph(EXAMPLES / "seq2seq.json", NUM_INPUTS, NUM_OUTPUTS)
    shapes = {k: tuple(v.shape) for k, v in NetModel(graph).state_dict().items()}
    assert shapes["fw_0/rec/W"] == (40, 1200)
    assert shapes["fw_0/rec/W_re"] == (300, 1200)
    assert shapes["fw_1/rec/W"] == (0, 2400)
    assert shapes["output/W"] == (1200, 7) and shapes["output/b"] == (7,)
    assert NetModel(graph, seed=3).named_values().keys() == init_params(graph, 3).keys()
