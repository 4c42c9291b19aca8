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


def test_native_lstm_low_mem_keeps_returnn_layout_and_lowers_to_one_lstm() -> None:
    case = CASES["lowmem_bw"]
    from netc.ir import param_specs
    shapes = {s.name: s.shape for s in param_specs(graph_of(case)) if s.name.startswith("h/")}
    assert shapes == {"h/rec/W": (6 + 4, 16), "h/rec/b": (16,)}
    model = compile_graph(graph_of(case), params_of(case))
    lstm = [n for n in model.graph.node if n.op_type == "LSTM"]
    direction = [a.s for n in lstm for a in n.attribute if a.name == "direction"]
    assert len(lstm) == 1 and direction == [b"reverse"]


@pytest.mark.parametrize(("options", "message"), [
    ({"unit_opts": {"forget_bias": 1.0}}, "NativeLstmLowMemCell accepts neither"),
    ({"unit_opts": {"rec_weight_dropout": 0.1}}, "NativeLstmLowMemCell accepts neither"),
    ({"unroll": True, "max_seq_len": 5}, "max_seq_len with a native LSTM unit"),
])
def test_native_lstm_low_mem_refuses_what_returnn_refuses(options: dict, message: str) -> None:
    from netc.ir import Document, NetcError, graph_from_document
    net = {"output": {"class": "rec", "unit": "NativeLstmLowMem", "n_out": 3, "from": "data", **options}}
    with pytest.raises(NetcError, match=message):
        graph_from_document(Document("net.json", net), 4)
