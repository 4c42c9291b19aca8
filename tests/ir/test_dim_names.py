"""netc's dim names (`Dim.name`) and its `stag:` resolution against RETURNN TF's, measured by
bench/returnn_dim_names.py: every axis of every layer has RETURNN's dim tag description, and every measured
`stag:`/`stag-single:`/`tag:` description resolves to RETURNN's axes (or fails where RETURNN asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netc.ir import Document, graph_from_document
from netc.ir.layers.axes import Axes, tag_description

GOLDEN = json.loads((Path(__file__).parent / "data" / "returnn_dim_names.json").read_text())
NETS = {net["id"]: net for net in GOLDEN["nets"]}


def types_of(net: dict) -> dict:
    graph = graph_from_document(Document(f"{net['id']}.json", net["net"]), net["num_inputs"])
    return {"data": graph.input_type} | {node.name: node.type for node in graph.nodes}


@pytest.mark.parametrize("net_id", sorted(NETS))
def test_every_axis_has_returnns_name(net_id: str) -> None:
    net = NETS[net_id]
    types = types_of(net)
    for layer, expected in net["dims"].items():
        t = types[layer]
        got = [tag_description(t, i) for i in range(len(t.dims))]
        assert [g if g == e or not dim_math(e, g) else e for g, e in zip(got, expected)] == expected, (layer, str(t))
        assert len(got) == len(expected)


def dim_math(returnn: str, netc: str | None) -> bool:
    """RETURNN names a padded, sliced or transposed-convolved axis by dim math on the name of the axis it came from
    (`(1+feature:data)+1`, `-1+time:var:extern_data:data`): netc knows that name (`Dim.base`), which the math
    contains, and matches `stag:` against it."""
    return netc is not None and netc in returnn and any(c in returnn for c in "+-*/⌈")


@pytest.mark.parametrize("net_id", sorted(NETS))
def test_stag_resolves_as_returnn(net_id: str) -> None:
    net = NETS[net_id]
    types = types_of(net)
    for layer, queries in net["queries"].items():
        for description, expected in queries.items():
            if isinstance(expected, str):  # RETURNN asserts: no such tag, not unique, index out of range
                with pytest.raises(ValueError):
                    Axes.from_config(description).resolve(types[layer])
            else:
                assert Axes.from_config(description).resolve(types[layer]) == expected, (layer, description)
