"""variable against RETURNN TF (each sequence alone): broadcast over batch and time, with the batch axis, static
axes; its parameter's name and shape, its type, and what it refuses."""

from __future__ import annotations

import pytest
from netc.ir import Document, Graph, NetcError, graph_from_document, init_params, param_specs

from tests.compiler.returnn_goldens import golden_tests

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_variable.json")


READS_V = {"output": {"class": "copy", "from": "data"}, "x": {"class": "copy", "from": "v", "is_output_layer": True}}


def graph(net: dict) -> Graph:
    return graph_from_document(Document("net.json", net), 4)


def test_type_and_parameter() -> None:
    g = graph({"v": {"class": "variable", "shape": [2, 3], "add_batch_axis": True, "add_time_axis": True,
                     "init": 0.5, "trainable": False},
               **READS_V})
    assert str(g["v"].out_type) == "[B, 1, 2, 3]"
    (spec,) = [s for s in param_specs(g) if s.layer == "v"]
    assert (spec.name, spec.shape, spec.trainable) == ("v/v", (2, 3), False)
    assert (init_params(g, 0)["v/v"] == 0.5).all()


def test_glorot_init_and_param_name() -> None:
    g = graph({"v": {"class": "variable", "shape": [4, 6], "init": "glorot_uniform", "param_name": "p"},
               **READS_V})
    values = init_params(g, 0)["v/p"]
    assert 0.3 < abs(values).max() <= (6 / (4 + 6)) ** 0.5  # TF glorot_uniform: sqrt(6 / (fan_in + fan_out))


@pytest.mark.parametrize(("options", "message"), [
    ({}, "'shape' is required"),
    ({"shape": [0]}, "every dim of shape"),
    ({"shape": [3], "from": "data"}, "takes no input"),
    ({"shape": [3], "init": "orthogonal"}, "invalid value"),
    ({"shape": [3], "dtype": "int32"}, "dtype"),
])
def test_refused(options: dict, message: str) -> None:
    with pytest.raises(NetcError, match=message):
        graph({"v": {"class": "variable", **options}, "output": {"class": "combine", "kind": "add",
                                                                 "from": ["data", "v"]}})
