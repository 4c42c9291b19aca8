"""The reshape family against RETURNN TF: split_dims, merge_dims, swap_axes, expand_dims, squeeze, slice, pad."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

from tests.compiler.returnn_goldens import assert_matches, garbage_batch, golden_tests, graph_of, load_cases, params_of
from tests.helpers import session

CASES = load_cases("returnn_reshape.json")
test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_reshape.json")


def test_compile_cli_with_params_matches_returnn(tmp_path: Path) -> None:
    """The user's path: the net dict file and a parameter .npz through `netc compile --params`."""
    case = CASES["reshape_then_linear"]
    net = tmp_path / "net.json"
    net.write_text(__import__("json").dumps(case["net"]))
    np.savez(tmp_path / "params.npz", **params_of(case))
    out = tmp_path / "m.onnx"
    subprocess.run([sys.executable, "-m", "netc", "compile", str(net), "-o", str(out), "--num-inputs",
                    str(case["num_inputs"]), "--params", str(tmp_path / "params.npz")], check=True)
    x, lens = garbage_batch(case)
    assert_matches(case, *session(out).run(None, {"data": x, "data:size1": lens}))


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
