"""combine, eval, gating, constant, reduce, length against RETURNN TF (each sequence alone)."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, graph_from_document

from tests.compiler.returnn_goldens import golden_tests

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


def test_sources_that_do_not_broadcast_are_an_error() -> None:
    net = {"s": {"class": "split_dims", "axis": "F", "dims": [2, 2], "from": "data"},
           "output": {"class": "combine", "kind": "add", "from": ["data", "s"]}}
    with pytest.raises(NetcError, match="do not broadcast"):
        graph_from_document(Document("net.json", net), 4)
