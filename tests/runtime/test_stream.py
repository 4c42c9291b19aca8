"""Streaming: chunks pushed one after another give the outputs of the whole sequence."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions
from netc.ir import NetcError, load_graph
from netc.runtime import Model

from tests.helpers import session

from .conftest import NETS, C, F, sequences
from .reference import forward

CHUNKINGS = [[1] * 17, [17], [5, 5, 5, 2], [1, 16], [3, 1, 1, 8, 1, 3]]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_stream_equals_whole_sequence(models, chunks):
    built = models["uni-stream"]
    model = Model(built.path, threads=1)
    x = sequences(7, [17])[0]
    whole = Model(models["uni"].path, threads=1)([x])[0]
    stream = model.stream()
    ends = np.cumsum([0, *chunks])
    parts = [stream.push(x[a:b]) for a, b in zip(ends[:-1], ends[1:])]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)
    np.testing.assert_allclose(np.concatenate(parts), forward(built.graph, built.params, x), atol=1e-5)


def test_reset_starts_a_new_sequence_and_empty_chunks_are_no_ops(models):
    model = Model(models["uni-stream"].path, threads=1)
    x, y = sequences(8, [6, 4])
    stream = model.stream()
    stream.push(x)
    assert stream.push(np.zeros((0, F), np.float32)).shape == (0, C)
    stream.reset()
    np.testing.assert_allclose(stream.push(y), model([y])[0], atol=1e-6)


def test_streaming_model_runs_whole_batches_from_zero_state(models):
    seqs = sequences(9, [5, 12, 1])
    for a, b in zip(Model(models["uni-stream"].path, threads=1)(seqs), Model(models["uni"].path, threads=1)(seqs)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_streaming_io_names_and_metadata(models):
    proto = onnx.load(models["uni-stream"].path)
    assert [i.name for i in proto.graph.input] == ["data", "data:size1", "l1:h0", "l1:c0", "l2:h0", "l2:c0"]
    assert [o.name for o in proto.graph.output] == ["output", "output:size1", "l1:h", "l1:c", "l2:h", "l2:c"]
    assert {p.key: p.value for p in proto.metadata_props}["netc.streaming"] == "true"
    onnx.checker.check_model(proto, full_check=True)
    onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    session(models["uni-stream"].path)  # strict shape and type inference in onnxruntime


@pytest.mark.parametrize(("name", "layer", "message"), [
    ("blstm", "bw", "--streaming needs all rec layers forward"),
    ("seq2seq", "enc_bw", "--streaming needs all rec layers forward"),
])
def test_bidirectional_and_decoder_models_refuse_streaming(tmp_path, name, layer, message):
    net = tmp_path / "net.json"
    net.write_text(json.dumps(NETS[name]))
    with pytest.raises(NetcError) as e:
        compile_graph(load_graph(net, F, C), options=CompileOptions(streaming=True))
    assert f"layer '{layer}'" in str(e.value) and message in str(e.value)


def test_forward_decoder_refuses_streaming(tmp_path):
    net = tmp_path / "net.json"
    net.write_text(json.dumps({"enc": {"class": "rec", "n_out": 4},
                               "dec": {"class": "rec", "n_out": 4, "from": "null", "encoder": ["enc"]},
                               "output": {"class": "softmax", "from": "dec"}}))
    with pytest.raises(NetcError, match="layer 'dec'.*needs a model without decoders"):
        compile_graph(load_graph(net, F, C), options=CompileOptions(streaming=True))


def test_stream_on_a_non_streaming_model(models):
    with pytest.raises(NetcError, match="cannot stream"):
        Model(models["uni"].path).stream()


@pytest.mark.parametrize("layer", [
    {"class": "window", "window_size": 3},
    {"class": "split_dims", "axis": "F", "dims": [F, 1]},  # frame-wise: accepted (the conv after it is not)
])
def test_layers_that_read_other_frames_refuse_streaming(tmp_path, layer):
    """A window (or a filter over time) before a forward LSTM would make chunked outputs differ from the whole's."""
    net = {"front": layer, "merge": {"class": "merge_dims", "axes": "static", "from": "front"},
           "fw": {"class": "rec", "n_out": 4, "from": "merge"}, "output": {"class": "softmax", "from": "fw"}}
    if layer["class"] == "split_dims":
        net["conv"] = {"class": "conv", "filter_size": [3, 1], "padding": "same", "n_out": 2, "from": "front"}
        net["merge"]["from"] = "conv"
    (tmp_path / "net.json").write_text(json.dumps(net))
    with pytest.raises(NetcError, match=r"--streaming needs layers that compute each frame from that frame alone; a "
                                        r"(window|conv) layer may read other frames"):
        compile_graph(load_graph(tmp_path / "net.json", F, C), options=CompileOptions(streaming=True))
