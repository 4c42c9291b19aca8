"""rec units against RETURNN TF: gru (TF GRUCell), basiclstm/standardlstm (TF LSTMCell, forget bias 1 at run time),
lstmblock and nativelstm (NativeLSTM2 in TF2), forward and backward; compiled to ONNX LSTM/GRU nodes."""

from __future__ import annotations

import pytest
from netc.compiler import compile_graph

from tests.compiler.returnn_goldens import golden_tests, graph_of, load_cases, params_of

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_rec.json")
CASES = load_cases("returnn_rec.json")


@pytest.mark.parametrize(("case_id", "op"), [("gru_fw", "GRU"), ("standardlstm_bw", "LSTM"), ("basiclstm_fw", "LSTM")])
def test_units_lower_to_native_onnx_ops(case_id: str, op: str) -> None:
    model = compile_graph(graph_of(CASES[case_id]), params_of(CASES[case_id]))
    assert [n.op_type for n in model.graph.node].count(op) == 1
