"""conv and pool against RETURNN TF (each sequence alone): 1D/2D, SAME/VALID, strides (per-length SAME
padding), dilation, input_add/split_feature_dim, a conv front end and a BLSTM stack with max-pooling in time."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, graph_from_document

from tests.compiler.returnn_goldens import golden_tests

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_conv.json")


def test_filter_size_must_match_the_spatial_axes() -> None:
    net = {"output": {"class": "conv", "filter_size": [3, 3], "n_out": 2, "from": "data"}}
    with pytest.raises(NetcError, match="input_add_feature_dim"):
        graph_from_document(Document("net.json", net), 4)


test_onnx_transposed_conv_matches_returnn, test_torch_transposed_conv_matches_returnn = \
    golden_tests("returnn_transposed_conv.json")


def test_transposed_conv_type_and_parameters() -> None:
    net = {"output": {"class": "transposed_conv", "filter_size": [3], "strides": [2], "padding": "valid",
                      "n_out": 5, "from": "data"}}
    g = graph_from_document(Document("net.json", net), 4)
    assert str(g.output.out_type) == "[B, T_data*2+1, 5]"
    from netc.ir import param_specs
    assert {s.name: s.shape for s in param_specs(g)} == {"output/W_native_transposed_conv": (3, 1, 5, 4),
                                                         "output/bias": (5,)}


@pytest.mark.parametrize(("options", "message"), [
    ({"filter_size": [3], "strides": [2], "padding": "valid", "output_padding": 2}, "TensorFlow's conv2d_transpose"),
    ({"filter_size": [2, 2, 2]}, "1 or 2 positive sizes"),
    ({"filter_size": [2, 2]}, "spatial axes"),
    ({"filter_size": [2]}, "n_out is required"),
    ({"filter_size": [2], "n_out": 2, "remove_padding": -1}, "remove_padding must be >= 0"),
])
def test_transposed_conv_refused(options: dict, message: str) -> None:
    net = {"output": {"class": "transposed_conv", "from": "data", "n_out": 3, **options}}
    if message == "n_out is required":
        del net["output"]["n_out"]
    with pytest.raises(NetcError, match=message):
        graph_from_document(Document("net.json", net), 4)


def test_depthwise_conv_keeps_returnn_filter_layout_and_lowers_to_one_grouped_conv() -> None:
    from netc.compiler import compile_graph
    from netc.ir import param_specs

    from tests.compiler.returnn_goldens import graph_of, load_cases, params_of
    case = load_cases("returnn_conv.json")["conv1d_depthwise_multiplier"]
    assert {s.name: s.shape for s in param_specs(graph_of(case))} == {"output/W": (2, 1, 12)}
    model = compile_graph(graph_of(case), params_of(case))
    conv = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(conv) == 1 and [a.i for a in conv[0].attribute if a.name == "group"] == [6]


@pytest.mark.parametrize(("options", "message"), [
    ({"n_out": 4, "groups": 3}, "n_out 4 is not a multiple of groups 3"),
    ({"n_out": 4, "groups": 0}, "groups must be >= 1"),
    ({"n_out": 6, "groups": 3}, "the input has 4 channels, not a multiple of groups 3"),
])
def test_conv_groups_refused(options: dict, message: str) -> None:
    net = {"output": {"class": "conv", "filter_size": [3], "from": "data", **options}}
    with pytest.raises(NetcError, match=message):
        graph_from_document(Document("net.json", net), 4)


def test_negative_input_split_feature_dim_is_a_located_error() -> None:
    net = {"output": {"class": "conv", "filter_size": [3], "n_out": 2, "from": "data", "input_split_feature_dim": -2}}
    with pytest.raises(NetcError, match="input_split_feature_dim must be a positive size") as e:
        graph_from_document(Document("net.json", net), 4)
    assert e.value.where.key == "input_split_feature_dim"


@pytest.mark.parametrize(("axes", "message"), [
    (["dim:4", "T"], r"names the axes \[4, T_data\] .* RETURNN asserts they are its spatial axes in order"),
    (["T"], r"names the axes \[T_data\]"),
    (["T", "dim:7"], "in_spatial_dims"),
])
def test_in_spatial_dims_must_be_the_spatial_axes_in_order(axes: list, message: str) -> None:
    net = {"s": {"class": "split_dims", "axis": "F", "dims": [-1, 1], "from": "data"},
           "output": {"class": "conv", "filter_size": [3, 3], "n_out": 2, "in_spatial_dims": axes, "from": "s"}}
    with pytest.raises(NetcError, match=message) as e:
        graph_from_document(Document("net.json", net), 4)
    assert e.value.where.key == "in_spatial_dims"
