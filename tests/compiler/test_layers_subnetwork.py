"""subnetwork against RETURNN TF: sublayers named `<layer>/<sublayer>` (RETURNN's parameter names), `data` and
`base:` references, nesting; and its errors."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, format_table, graph_from_document

from tests.compiler.returnn_goldens import golden_tests, graph_of, load_cases

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_subnetwork.json")


def test_sublayers_are_nodes_named_by_their_path() -> None:
    graph = graph_of(load_cases("returnn_subnetwork.json")["subnetwork_nested_base"])
    assert graph["sub/n/output"].sources == ("sub/a", "sub/a")  # its "data" (n's input a) and "base:a"
    assert graph["sub/output"].sources == ("sub/n", "x")
    assert graph["sub"].sources == ("sub/output",)
    assert "sub/n/output" in format_table(graph)


def test_unknown_sublayer_source_names_the_sublayer() -> None:
    net = {"output": {"class": "subnetwork", "subnetwork": {"output": {"class": "copy", "from": "nope"}}}}
    with pytest.raises(NetcError, match="unknown source layer 'output/nope'") as e:
        graph_from_document(Document("net.json", net), 4)
    assert e.value.where.layer == "output/output"


def test_subnetwork_without_output_is_an_error() -> None:
    net = {"output": {"class": "subnetwork", "subnetwork": {"h": {"class": "copy"}}}}
    with pytest.raises(NetcError, match="no layer named 'output'"):
        graph_from_document(Document("net.json", net), 4)
