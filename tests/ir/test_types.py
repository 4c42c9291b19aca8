"""Typed tensors: dims, derived time axes and their length rules, shape rules, the `netc check` table."""

from __future__ import annotations

import numpy as np
import pytest
from netc.ir import Document, NetcError, TimeAxis, format_table, graph_from_document
from netc.ir.types import Derived, LengthRule, TensorType, lengths_numpy


def typed(net: dict, num_inputs: int = 6):  # noqa: ANN201
    return graph_from_document(Document("net.json", net), num_inputs, 5)


def test_types_print_as_their_dims() -> None:
    halved = Derived(TimeAxis.DATA, LengthRule(stride=2))
    assert str(TensorType.seq(TimeAxis.DATA, 32)) == "[B, T_data, 32]"
    assert str(Derived(halved, LengthRule(add=-2))) == "T_data/2-2"
    assert str(Derived(TimeAxis.DATA, LengthRule(add=-2, stride=3))) == "(T_data-2)/3"
    assert Derived(TimeAxis.DATA, LengthRule(add=1)) == Derived(TimeAxis.DATA, LengthRule(add=1))  # structural


@pytest.mark.parametrize("rule", [LengthRule(), LengthRule(add=-2, stride=3), LengthRule(add=3), LengthRule(stride=2),
                                  LengthRule(add=-1, stride=2, factor=3)])
def test_length_rules_agree_across_backends(rule: LengthRule) -> None:
    """numpy (reference), torch and ONNX evaluate a rule the same way, lengths 0 and 1 included."""
    import torch
    from netc.compiler.onnx.builder import INT32, OnnxBuilder
    from netc.compiler.onnx.context import LowerContext
    from netc.trainer.context import derive_lengths

    from tests.helpers import session

    lengths = np.arange(0, 12, dtype=np.int32)
    expected = [max(0, -(-(n * rule.factor + rule.add) // rule.stride)) for n in lengths]
    assert lengths_numpy(rule, lengths).tolist() == expected
    assert derive_lengths(rule, torch.from_numpy(lengths).long()).tolist() == expected
    from onnx import helper

    b = OnnxBuilder()
    ctx = LowerContext(typed({"output": {"class": "copy"}}), {}, b, False)
    ctx.lengths[TimeAxis.DATA] = b.reserve("n")
    out = ctx.length_value(Derived(TimeAxis.DATA, rule))
    b.graph.input.append(helper.make_tensor_value_info("n", INT32, ["batch"]))
    b.graph.output.append(helper.make_tensor_value_info(out, INT32, ["batch"]))
    b.model.opset_import.append(helper.make_opsetid("", 17))
    b.model.ir_version = 8
    assert session(b.model).run(None, {"n": lengths})[0].tolist() == expected


def test_shape_inference_follows_each_layer() -> None:
    g = typed({"s": {"class": "split_dims", "axis": "F", "dims": [2, -1], "from": "data"},
               "p": {"class": "pad", "axes": "T", "padding": [1, 0], "from": "s"},
               "t": {"class": "slice", "axis": "T", "slice_step": 2, "from": "p"},
               "output": {"class": "merge_dims", "axes": "static", "from": "t"}})
    assert str(g["s"].out_type) == "[B, T_data, 2, 3]"
    assert str(g["t"].out_type) == "[B, (T_data+1)/2, 2, 3]"
    assert str(g.output.out_type) == "[B, (T_data+1)/2, 6]"
    assert g.output.out_type.time == Derived(Derived(TimeAxis.DATA, LengthRule(add=1)), LengthRule(stride=2))


def test_check_prints_shapes_and_length_rules() -> None:
    g = typed({"p": {"class": "pad", "axes": "T", "padding": [2, 1], "from": "data"},
               "output": {"class": "softmax", "from": "p"}})
    table = format_table(g)
    assert "[B, T_data+3, 5]" in table
    assert "time axis T_data+3 (from layer 'p'): lengths = max(0, ceil((T_data * 1 + 3) / 1))" in table


@pytest.mark.parametrize(("net", "message"), [
    ({"output": {"class": "split_dims", "axis": "F", "dims": [4, -1], "from": "data"}}, "do not split"),
    ({"output": {"class": "split_dims", "axis": "T", "dims": [2, -1], "from": "data"}}, "needs dims \\[-1"),
    ({"output": {"class": "squeeze", "axis": "F", "from": "data"}}, "size 1"),
    ({"output": {"class": "slice", "axis": "spatial:3", "from": "data"}}, "spatial:3"),
    ({"output": {"class": "slice", "axis": "T", "slice_end": 3, "from": "data"}}, "static axis"),
    ({"output": {"class": "merge_dims", "axes": "foo", "from": "data"}}, "unknown axis description"),
    ({"s": {"class": "split_dims", "axis": "F", "dims": [2, 3], "from": "data"},
      "output": {"class": "rec", "n_out": 3, "from": "s"}}, "merge the extra dims"),
    ({"p": {"class": "pad", "axes": "T", "padding": 1, "from": "data"},
      "output": {"class": "copy", "from": ["p", "data"]}}, "different time axes"),
])
def test_bad_shapes_are_located_errors(net: dict, message: str) -> None:
    with pytest.raises(NetcError, match=message) as e:
        typed(net)
    assert e.value.where.layer == "output" or e.value.where.layer in net
