"""time_chunking / time_unchunking (the chunked BLSTM) and split_dims / merge_dims on the time axis against
RETURNN TF (tests/compiler/data/returnn_chunking.json, bench/returnn_layer_goldens.py chunking)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions
from netc.ir import Document, NetcError, graph_from_document
from netc.ir.types import Chunked, Derived, LengthRule, TimeAxis, chunk_lengths_numpy, n_chunks
from netc.trainer.time_chunking import chunk_lengths

from tests.cli.test_errors import run_cli
from tests.compiler.returnn_goldens import (
    assert_cli_matches,
    assert_matches,
    garbage_batch,
    golden_tests,
    graph_of,
    load_cases,
    params_of,
)
from tests.helpers import session

CASES = load_cases("returnn_chunking.json")
test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_chunking.json")


def typed(net: dict):  # noqa: ANN201
    return graph_from_document(Document("net.json", net), 6)


def test_chunk_count_is_returnns() -> None:
    """The examples in RETURNN's native_op.Chunking docstring (chunk_size 50, chunk_step 10)."""
    counts = {1: 1, 49: 1, 50: 1, 51: 2, 60: 2, 61: 3, 99: 6, 100: 6, 101: 7}
    assert {n: n_chunks(n, 50, 10) for n in counts} == counts


def test_chunk_lengths_are_each_sequences_own() -> None:
    """A sequence gets the chunks it has alone; rows past them (from a longer batch-mate) are empty."""
    axis = Chunked(TimeAxis.DATA, 4, 2)
    lengths = np.asarray([9, 7, 1])
    expected = [4, 4, 4, 3,  4, 4, 3, 0,  1, 0, 0, 0]  # 7 frames alone: 3 chunks (RETURNN in this batch: 4)
    assert chunk_lengths_numpy(axis, lengths, 9).tolist() == expected
    assert chunk_lengths(axis, torch.from_numpy(lengths), 4).tolist() == expected


def test_compile_cli_with_params_matches_returnn(tmp_path: Path) -> None:
    assert_cli_matches(tmp_path, CASES["chunked_blstm"])


@pytest.mark.parametrize("opset", [14, 21])
@pytest.mark.parametrize("case_id", ["chunked_blstm_step3", "split_time_pad_value", "split_merge_time"])
def test_at_each_opset(case_id: str, opset: int) -> None:
    """Through onnx's full checker (strict shape inference) at the oldest and newest supported opsets."""
    case = CASES[case_id]
    model = compile_graph(graph_of(case), params_of(case), options=CompileOptions(opset=opset))
    onnx.checker.check_model(model, full_check=True)
    x, lens = garbage_batch(case)
    assert_matches(case, *session(model).run(None, {"data": x, "data:size1": lens}))


def test_the_check_fails_when_chunks_ignore_sequence_ends() -> None:
    """Teeth: chunk lengths clipped only by chunk_size (padding frames inside the chunks) miss RETURNN."""
    case = CASES["chunked_blstm"]
    model = compile_graph(graph_of(case), params_of(case))
    (node,) = [n for n in model.graph.node if n.output[0].startswith("lengths/")]
    node.input[0] = [n for n in model.graph.node if n.output[0] == node.input[0]][0].input[1]  # skip own-chunk Where
    x, lens = garbage_batch(case)
    with pytest.raises(AssertionError):
        assert_matches(case, *session(model).run(None, {"data": x, "data:size1": lens}))


CHUNK = {"class": "time_chunking", "chunk_size": 4, "chunk_step": 2, "from": "data"}


@pytest.mark.parametrize(("net", "key", "message"), [
    ({"c": {**CHUNK, "chunk_step": 0}, "output": {"class": "copy", "from": "c"}}, "chunk_step", "positive"),
    ({"c": CHUNK, "output": {"class": "time_unchunking", "from": "c"}}, "chunking_layer", "required"),
    ({"c": CHUNK, "l": {"class": "linear", "n_out": 3, "from": "data"},
      "output": {"class": "time_unchunking", "chunking_layer": "l", "from": "c"}}, "chunking_layer",
     "not a time_chunking layer"),
    ({"c": CHUNK, "l": {"class": "linear", "n_out": 3, "from": "c"},  # on the chunks, yet no chunking layer
      "output": {"class": "time_unchunking", "chunking_layer": "l", "from": "l"}}, "chunking_layer",
     "'l' is a linear layer, not a time_chunking layer"),
    ({"c": CHUNK, "l": {"class": "linear", "n_out": 5, "from": "c"},  # was an AssertionError traceback
      "output": {"class": "time_unchunking", "chunking_layer": "data", "from": "l"}}, "chunking_layer",
     "'data' is the network's input, not a time_chunking layer"),
    ({"c": CHUNK, "output": {"class": "time_unchunking", "chunking_layer": "nope", "from": "c"}}, "chunking_layer",
     "chunking_layer names 'nope', which is not a layer"),
    ({"s": {"class": "subnetwork", "subnetwork": {"c": CHUNK, "output": {
        "class": "time_unchunking", "chunking_layer": "base:c", "from": "c"}}},
      "output": {"class": "copy", "from": "s"}},
     "chunking_layer", "names 'c', which is not a layer"),  # no top-level 'c'
    ({"r": {"class": "reinterpret_data", "size_base": "nope", "from": "data"},
      "output": {"class": "copy", "from": "r"}},
     "size_base", "size_base names 'nope', which is not a layer"),
    ({"c": CHUNK, "output": {"class": "time_unchunking", "chunking_layer": "c", "from": "data"}}, "from",
     "needs the dense chunks"),
    ({"c": CHUNK, "l": {"class": "length", "from": "c"},  # one length per chunk: [B*C], not the sequences' [B]
      "e": {"class": "eval", "eval": "tf.cast(source(0), tf.float32)", "from": "l"},
      "u": {"class": "time_unchunking", "chunking_layer": "c", "from": "c"},
      "output": {"class": "combine", "kind": "add", "from": ["u", "e"]}}, "from",
     re.escape("'u' [B, T_data, 6], 'e' [B*C(data:chunk(4,2))]")),
    ({"c": CHUNK, "output": {"class": "copy", "from": ["c", "data"]}}, "from", "different time axes"),
    ({"c": CHUNK, "d": {**CHUNK, "from": "c"}, "output": {"class": "copy", "from": "d"}}, "from", "chunked already"),
    ({"output": {"class": "split_dims", "axis": "T", "dims": [2, -1], "from": "data"}}, "dims", "needs dims"),
    ({"output": {"class": "split_dims", "axis": "T", "dims": [-1, 2], "pad_to_multiples": False, "from": "data"}},
     "pad_to_multiples", "pad_to_multiples"),
    ({"w": {"class": "window", "window_size": 3, "from": "data"},
      "output": {"class": "merge_dims", "axes": ["spatial:1", "T"], "keep_order": True, "from": "w"}}, "axes",
     "time first"),
    ({"output": {"class": "merge_dims", "axes": ["T", "F"], "from": "data"}}, "axes", "dynamic feature dim"),
])
def test_bad_configs_are_located_errors(net: dict, key: str, message: str) -> None:
    with pytest.raises(NetcError, match=message) as e:
        typed(net)
    assert e.value.where.key == key


def test_a_chunked_output_is_refused() -> None:
    """The model's output is per sequence: a layer on the batch of chunks cannot be it."""
    graph = typed({"c": CHUNK, "output": {"class": "copy", "from": "c"}})
    with pytest.raises(NetcError, match="batch of chunks"):
        compile_graph(graph, {})


@pytest.mark.parametrize(("net", "message"), [
    ({"c": CHUNK, "output": {"class": "copy", "from": "c"}}, "is on a batch of chunks"),
    ({"c": CHUNK, "output": {"class": "length", "from": "c"}}, "type [B*C(data:chunk(4,2))] is on a batch of chunks"),
    ({"output": {"class": "reduce", "mode": "mean", "axes": "T", "from": "data"}}, "type [B, 6] is not [B, T, ...]"),
])
def test_check_refuses_the_output_compile_refuses(net: dict, message: str, tmp_path: Path) -> None:
    """One validation of the model's output: `netc check` and `netc compile` give the same located error."""
    (tmp_path / "net.json").write_text(json.dumps(net))
    check = run_cli(["check", "net.json", "--num-inputs", "6"], tmp_path)
    compiled = run_cli(["compile", "net.json", "-o", "m.onnx", "--num-inputs", "6"], tmp_path)
    assert check == compiled
    assert check[0] == 2 and "net.json:1:" in check[1] and "layer 'output'" in check[1] and message in check[1]
    assert not (tmp_path / "m.onnx").exists()


def test_check_takes_hidden_layers_on_chunks_and_without_time(tmp_path: Path) -> None:
    """Only the output is the model's: other layers may be on the chunks or have no time axis."""
    net = {"c": CHUNK, "l": {"class": "length", "from": "c", "is_output_layer": True},
           "r": {"class": "reduce", "mode": "max", "axes": "T", "from": "c", "is_output_layer": True},
           "output": {"class": "time_unchunking", "chunking_layer": "c", "from": "c"}}
    (tmp_path / "net.json").write_text(json.dumps(net))
    assert run_cli(["check", "net.json", "--num-inputs", "6"], tmp_path)[0] == 0


def test_messages_print_an_axis_as_the_table_does() -> None:
    """A derived axis of a derived axis is named as `netc check` prints it (was `_data/2)*2`)."""
    net = {"s": {"class": "split_dims", "axis": "T", "dims": [-1, 2], "from": "data"},
           "m": {"class": "merge_dims", "axes": ["T", "dim:2"], "from": "s"},
           "output": {"class": "copy", "from": ["m", "data"]}}
    with pytest.raises(NetcError, match=re.escape("'m' on (T_data/2)*2, 'data' on T_data")):
        typed(net)
    assert Derived(Derived(TimeAxis.DATA, LengthRule(stride=2)), LengthRule(factor=2)).value == "(data/2)*2"


def test_check_prints_the_chunk_axis() -> None:
    from netc.ir.printing import format_table

    table = format_table(typed({"c": CHUNK, "output": {"class": "time_unchunking", "chunking_layer": "c",
                                                        "from": "c"}}))
    assert "[B*C(data:chunk(4,2)), T_data:chunk(4,2), 6]" in table
    assert "max(0, T_data - 3) // 2 + 1" in table


@pytest.mark.parametrize("case_id", ["chunked_blstm", "split_time_stack", "split_merge_time"])
def test_streaming_is_refused(case_id: str) -> None:
    """Chunks of a stream would cut RETURNN's chunks and frame blocks: --streaming refuses these layers."""
    case = CASES[case_id]
    with pytest.raises(NetcError, match="--streaming needs layers that compute each frame"):
        compile_graph(graph_of(case), params_of(case), options=CompileOptions(streaming=True))


def test_chunking_class_indices_names_the_embedding_as_the_way() -> None:
    """Sparse `data` is refused with a hint about the indices, not about the axes (second tester's N4)."""
    doc = Document("c.json", {"network": {"c": CHUNK, "output": {"class": "copy", "from": "c"}},
                              "num_outputs": {"data": [9, 1], "classes": 3}})
    with pytest.raises(NetcError, match=r"needs a dense \[B, T, \.\.\.\] input, got \[B, T_data\] sparse\(9\)") as e:
        graph_from_document(doc)
    assert "a linear layer on them" in e.value.hint
