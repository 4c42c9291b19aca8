"""Sparse inputs (LSTM language models): `data` holds class indices, a linear layer on it is an embedding lookup
of RETURNN's `W` `[V, n_out]`; compiled models take int32 `data` `[batch, time]`."""

from __future__ import annotations

import onnx
from netc.compiler import compile_graph
from netc.ir import Document, graph_from_document

from tests.compiler.returnn_goldens import golden_tests, graph_of, load_cases, params_of

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_sparse.json")


def test_compiled_lm_takes_int32_labels() -> None:
    case = load_cases("returnn_sparse.json")["lstm_lm"]
    model = compile_graph(graph_of(case), params_of(case))
    data = next(i for i in model.graph.input if i.name == "data")
    assert data.type.tensor_type.elem_type == onnx.TensorProto.INT32
    assert len(data.type.tensor_type.shape.dim) == 2
    assert {p.key: p.value for p in model.metadata_props}["netc.sparse_input"] == "true"


def test_num_outputs_data_with_one_dim_is_sparse() -> None:
    doc = Document("c.json", {"network": {"output": {"class": "linear", "n_out": 3}}, "num_outputs": {"data": [9, 1]}})
    graph = graph_from_document(doc)
    assert graph.input_type.sparse and graph.input_type.feature == 9
    assert graph.output.out_type.feature == 3
