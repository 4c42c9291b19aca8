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


def test_native_lstm_low_mem_trains_as_nativelstm2_with_its_matrices_stacked() -> None:
    """The torch model: the same outputs and, for rec/W, the gradients of NativeLSTM2's W and W_re stacked."""
    import numpy as np
    import torch
    from netc.ir import Document, graph_from_document
    from netc.trainer.model import NetModel

    from tests.helpers import ragged_batch

    def model(unit: str, params: dict) -> tuple[NetModel, torch.Tensor]:
        net = {"h": {"class": "rec", "unit": unit, "n_out": 3, "direction": -1, "from": "data"},
               "output": {"class": "softmax", "loss": "ce", "from": "h"}}
        m = NetModel(graph_from_document(Document("net.json", net), 4, 5), params).train()
        x, lens = ragged_batch(np.random.default_rng(0), [5, 1, 3], 4)
        loss = m(torch.from_numpy(x), torch.from_numpy(lens).long()).logits["output"].logsumexp(-1).sum()
        loss.backward()
        return m, loss

    rng = np.random.default_rng(1)
    low = {"h/rec/W": rng.uniform(-1, 1, (7, 12)), "h/rec/b": rng.uniform(-1, 1, 12),
           "output/W": rng.uniform(-1, 1, (3, 5)), "output/b": np.zeros(5)}
    low = {k: v.astype(np.float32) for k, v in low.items()}
    native = {k: v for k, v in low.items() if k != "h/rec/W"} | {"h/rec/W": low["h/rec/W"][:4],
                                                                "h/rec/W_re": low["h/rec/W"][4:]}
    (m_low, loss_low), (m_nat, loss_nat) = model("NativeLstmLowMem", low), model("nativelstm2", native)
    assert loss_low.item() == pytest.approx(loss_nat.item(), abs=1e-6)
    grads = {n: p.grad for n, p in m_nat.named_parameters()}
    stacked = torch.cat([grads["h/rec/W"], grads["h/rec/W_re"]])
    torch.testing.assert_close(dict(m_low.named_parameters())["h/rec/W"].grad, stacked)
