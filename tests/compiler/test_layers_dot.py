"""dot against RETURNN TF (each sequence alone): a batched matrix from a variable, behaviour-version-0 defaults,
a per-frame product of static axes, no var axes (the added size-1 axis); and what it refuses."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, graph_from_document

from tests.compiler.returnn_goldens import golden_tests

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_dot.json")

W = {"class": "variable", "shape": [4, 3], "add_batch_axis": True}


def test_output_type() -> None:
    net = {"w": W, "output": {"class": "dot", "red1": "F", "red2": "spatial:0", "var1": "T", "var2": "F",
                              "from": ["data", "w"]}}
    assert str(graph_from_document(Document("net.json", net), 4).output.out_type) == "[B, T_data, 3]"


@pytest.mark.parametrize(("options", "message"), [
    ({"red1": "T", "red2": "spatial:0", "var1": "F", "var2": "F"}, "static axes only"),
    ({"red1": "F", "red2": "F", "var2": "spatial:0"}, "differ in size"),
    ({"red1": "F", "red2": ["spatial:0", "F"]}, "pair up"),
    ({"red1": "F", "red2": "spatial:0", "var1": "F"}, "overlapping"),
    ({"red1": "F", "red2": "spatial:0", "var1": None}, "shared axes"),
])
def test_refused(options: dict, message: str) -> None:
    net = {"w": W, "output": {"class": "dot", "from": ["data", "w"], **options}}
    with pytest.raises(NetcError, match=message):
        graph_from_document(Document("net.json", net), 4)


def test_needs_two_sources() -> None:
    with pytest.raises(NetcError, match="exactly two sources"):
        graph_from_document(Document("net.json", {"output": {"class": "dot", "from": "data"}}), 4)
