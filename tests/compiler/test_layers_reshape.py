"""The reshape family against RETURNN TF: split_dims, merge_dims, swap_axes, expand_dims, squeeze, slice, pad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

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

CASES = load_cases("returnn_reshape.json")
test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_reshape.json")


def test_compile_cli_with_params_matches_returnn(tmp_path: Path) -> None:
    assert_cli_matches(tmp_path, CASES["reshape_then_linear"])


def test_the_check_fails_on_a_wrong_slice() -> None:
    """Teeth: a model whose time slice starts one frame late misses RETURNN's values."""
    case = CASES["slice_time_step"]
    from netc.compiler import compile_graph

    model = compile_graph(graph_of(case), params_of(case))
    (node,) = [n for n in model.graph.node if n.op_type == "Slice"]
    model.graph.initializer.append(numpy_helper.from_array(np.asarray([2], np.int64), "late_start"))
    node.input[1] = "late_start"
    x, lens = garbage_batch(case)
    with pytest.raises(AssertionError):
        assert_matches(case, *session(model).run(None, {"data": x, "data:size1": lens}))
