"""Building the IR: from-forms, roots and pruning, topological order, decoders, canonical form."""

from __future__ import annotations

import json

import pytest
from netc.ir import Dims, Document, NetcError, TimeAxis, graph_from_document, load_graph, verify
from netc.ir.layers import Linear, Rec
from netc.ir.types import Act, Direction


def graph(net: dict, num_inputs: int = 4, num_outputs: int = 6):  # noqa: ANN201
    g = graph_from_document(Document("net.json", net), num_inputs, num_outputs)
    verify(g)
    return g


@pytest.mark.parametrize("value, sources", [
    (None, ()), ("null", ()), ("none", ()), (["null"], ()), ([], ()),
    ("data", ("data",)), ("data:data", ("data",)), (["a", "data"], ("a", "data")),
])
def test_from_forms(value: object, sources: tuple) -> None:
    layer = {"class": "rec", "encoder": ["a"]} if sources == () else {"class": "copy"}
    net = {"a": {"class": "rec", "n_out": 2}, "output": {**layer, "from": value}}
    assert graph(net)["output"].sources == sources


def test_absent_from_reads_data_and_defaults_are_filled() -> None:
    node = graph({"output": {"class": "linear", "n_out": 3}})["output"]
    assert node.sources == ("data",)
    assert node.layer == Linear(n_out=3, activation=Act.IDENTITY, with_bias=True)


def test_unreachable_layers_are_pruned_with_a_warning_and_comments_ignored() -> None:
    g = graph({"#comment": "x", "unused": {"class": "linear", "n_out": 3},
               "aux": {"class": "softmax", "loss": "ce"}, "output": {"class": "copy"}})
    assert g.names == ("output", "aux")
    assert g.warnings == ("layer 'unused' is not used by any output or loss layer; it is not built",)


def test_topological_order_follows_dependencies_not_dict_order() -> None:
    g = graph({"output": {"class": "softmax", "from": ["b", "a"]}, "b": {"class": "rec", "n_out": 2, "from": "a"},
               "a": {"class": "rec", "n_out": 2}})
    assert g.names == ("a", "b", "output")


def test_types_concatenate_features_and_decoders_live_on_classes_time() -> None:
    g = graph({"fw": {"class": "rec", "n_out": 3}, "bw": {"class": "rec", "n_out": 5, "direction": -1},
               "dec": {"class": "rec", "from": "null", "encoder": ["fw", "bw"], "unit": "NativeLstm2"},
               "output": {"class": "softmax", "from": ["dec"]}})
    assert g["bw"].layer.direction is Direction.BACKWARD
    assert (g["dec"].out_type.time, g["dec"].out_type.feature) == (TimeAxis.CLASSES, 8)
    assert (g.output.out_type.time, g.output.out_type.feature) == (TimeAxis.CLASSES, 6)
    assert g.in_feature(g["dec"]) == 0 and g.is_encoder_decoder
    assert isinstance(g["dec"].layer, Rec) and g["dec"].layer.is_decoder


def test_cycle_is_printed() -> None:
    with pytest.raises(NetcError, match="cycle: output -> output"):
        graph({"output": {"class": "copy", "from": "output"}})


def test_config_dims_come_from_extern_data_else_num_outputs() -> None:
    """As RETURNN's _extern_data_types_from_config: extern_data, when set, is the only source."""
    net = {"output": {"class": "softmax", "loss": "ce"}}
    both = Document("c.json", {"network": net, "num_outputs": {"classes": [7, 1], "data": [9, 2]},
                               "extern_data": {"data": {"shape": (None, 8)}, "classes": {"dim": 11, "sparse": True}}})
    assert graph_from_document(both).dims == Dims(8, (("classes", 11),))
    legacy = Document("c.json", {"network": net, "num_outputs": {"classes": [7, 1], "data": [9, 2]}})
    assert graph_from_document(legacy).dims == Dims(9, (("classes", 7),))
    assert graph_from_document(legacy, num_outputs=5).output.out_type.feature == 5


def test_canonical_json_is_stable_and_complete() -> None:
    from netc.ir import canonical_json

    a = canonical_json(graph({"output": {"class": "linear", "n_out": 3, "activation": "logistic"}}))
    b = canonical_json(graph({"output": {"activation": "sigmoid", "n_out": 3, "class": "hidden"}}))
    assert a == b
    assert json.loads(a)["output"]["activation"] == "sigmoid"


def test_line_format_network_in_a_json_file_names_that_file(tmp_path) -> None:
    """The 2016 papers' line-format configs keep their Theano net in `initialize_from_json`."""
    config = tmp_path / "x.config"
    config.write_text("task train\nnum_inputs 50\nnum_outputs 4498\ninitialize_from_json config-train/x.json\n")
    with pytest.raises(NetcError, match="takes its network from the JSON file 'config-train/x.json'") as error:
        load_graph(config)
    assert (error.value.where.line, error.value.where.key) == (4, "initialize_from_json")
    assert error.value.hint.startswith("check the network itself: netc check config-train/x.json")


def test_the_table_names_each_rec_unit() -> None:
    from netc.ir import format_table

    doc = Document("n.json", {"g": {"class": "rec", "unit": "gru", "n_out": 5},
                              "l": {"class": "rec", "unit": "nativelstm2", "n_out": 5, "direction": -1},
                              "output": {"class": "softmax", "from": ["g", "l"]}})
    table = format_table(graph_from_document(doc, 3, 4))
    assert "gru forward" in table and "lstm backward" in table
