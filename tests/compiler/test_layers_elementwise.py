"""combine, eval, gating, constant, reduce, length against RETURNN TF (each sequence alone)."""

from __future__ import annotations

import numpy as np
import pytest
from netc.ir import Document, NetcError, graph_from_document

from tests.compiler.returnn_goldens import golden_tests, run_onnx, run_torch

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_elementwise.json")


@pytest.mark.parametrize(("expression", "message"), [
    ("__import__('os').system('true')", "unsupported call target"),
    ("__import__('os')", "unsupported call '__import__'"),
    ("source(0).eval()", "unsupported call target"),
    ("tf.py_func(source(0))", "unsupported call 'tf.py_func'"),
    ("source(3)", "source\\(i\\) needs a constant i in 0..0"),
    ("tf.cast(source(0), tf.int32)", "only casts to tf.float32"),
    ("[source(0)]", "unsupported expression"),
    ("source(0) +", "not a Python expression"),
    ("tf.maximum(source(0))", "takes 2 positional"),
    ("tf.clip_by_value(source(0), source(0), 1.0)", "bounds of tf.clip_by_value must be numbers"),
    ("safe_log(source(0), eps=0)", "eps must be a positive number"),
    ("safe_log(source(0), use_fake_grad=False)", "only use_fake_grad=True"),
    ("safe_exp(source(0), 1e-3, 1)", "safe_exp takes x and an optional eps"),
])
def test_eval_outside_the_safe_subset_is_a_located_error(expression: str, message: str) -> None:
    net = {"output": {"class": "eval", "from": "data", "eval": expression}}
    with pytest.raises(NetcError, match=message) as e:
        graph_from_document(Document("net.json", net), 4)
    assert (e.value.where.layer, e.value.where.key) == ("output", "eval")
    assert expression in str(e.value)


@pytest.mark.parametrize("terms", [302, 3000])  # 3000: Python's own parser runs out of stack
def test_eval_nested_too_deeply_is_a_located_error(terms: int) -> None:
    net = {"output": {"class": "eval", "from": "data", "eval": "+".join(["source(0)"] * terms)}}
    with pytest.raises(NetcError, match="nests more than 300 operations") as e:
        graph_from_document(Document("net.json", net), 4)
    assert (e.value.where.layer, e.value.where.key) == ("output", "eval")


def test_eval_at_the_depth_limit_runs_in_onnx_and_torch() -> None:
    case = {"id": "deep", "num_inputs": 2, "params": {}, "inputs": [[1.0, 2.0], [3.0, 4.0, 5.0, 6.0]],
            "net": {"output": {"class": "eval", "from": "data", "eval": "+".join(["source(0)"] * 301)}}}
    for y, lens in (run_onnx(case), run_torch(case)):
        np.testing.assert_array_equal(lens, [1, 2])
        np.testing.assert_allclose(y[1, :2], 301 * np.array([[3.0, 4.0], [5.0, 6.0]]), rtol=1e-6)


@pytest.mark.parametrize("expression", ["tf.maximum(-3.0, source(0))", "tf.minimum(0.5, source(0) - 1.0)",
                                        "tf.maximum(source(0), tf.minimum(source(0) * 2.0, 1.0))"])
def test_minimum_and_maximum_take_a_number_or_an_expression_on_either_side(expression: str) -> None:
    x = [[-4.0, 0.25], [2.0, 0.75, -1.0, 3.0]]
    case = {"id": "minmax", "num_inputs": 2, "params": {}, "inputs": x,
            "net": {"output": {"class": "eval", "from": "data", "eval": expression}}}
    frames = np.array(x[1], np.float32).reshape(2, 2)
    want = {"tf.maximum(-3.0, source(0))": np.maximum(-3.0, frames),
            "tf.minimum(0.5, source(0) - 1.0)": np.minimum(0.5, frames - 1.0),
            "tf.maximum(source(0), tf.minimum(source(0) * 2.0, 1.0))": np.maximum(frames, np.minimum(frames * 2, 1))}
    for y, lens in (run_onnx(case), run_torch(case)):
        np.testing.assert_array_equal(lens, [1, 2])
        np.testing.assert_allclose(y[1, :2], want[expression], rtol=1e-6)


def test_sources_that_do_not_broadcast_are_an_error() -> None:
    net = {"s": {"class": "split_dims", "axis": "F", "dims": [2, 2], "from": "data"},
           "output": {"class": "combine", "kind": "add", "from": ["data", "s"]}}
    with pytest.raises(NetcError, match="do not broadcast"):
        graph_from_document(Document("net.json", net), 4)
