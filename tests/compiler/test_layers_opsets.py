"""The layer families at the oldest and newest supported opsets (Reduce* axes move from attribute to input at 18),
through onnx's full checker and onnxruntime's strict shape inference."""

from __future__ import annotations

import onnx
import pytest
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions

from tests.compiler.returnn_goldens import assert_matches, garbage_batch, graph_of, load_cases, params_of
from tests.helpers import session

CASES = [("returnn_norm.json", "norm_time_feature"), ("returnn_norm.json", "layer_norm_lstm_residual"),
         ("returnn_elementwise.json", "reduce_min_sum_lse_time"), ("returnn_conv.json", "conv2d_front_end"),
         ("returnn_conv.json", "pool_avg_time_same3"), ("returnn_window.json", "window_same_stride"),
         ("returnn_rec.json", "gru_bw"), ("returnn_sparse.json", "lstm_lm")]


@pytest.mark.parametrize("opset", [14, 21])
@pytest.mark.parametrize(("file", "case_id"), CASES)
def test_families_at_each_opset(file: str, case_id: str, opset: int) -> None:
    case = load_cases(file)[case_id]
    model = compile_graph(graph_of(case), params_of(case), options=CompileOptions(opset=opset))
    onnx.checker.check_model(model, full_check=True)
    x, lens = garbage_batch(case)
    assert_matches(case, *session(model).run(None, {"data": x, "data:size1": lens}))
