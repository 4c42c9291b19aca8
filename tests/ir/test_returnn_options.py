"""The table of RETURNN layer options netc names but does not implement (ir/layers/returnn_options.py)."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, graph_from_document, param_specs
from netc.ir.layers import LAYER_TYPES
from netc.ir.layers.base import config_keys
from netc.ir.layers.returnn_options import BY_CLASS, EVERY_LAYER

CLASSES = {cls.class_name: cls for cls in LAYER_TYPES}


def test_every_entry_names_a_netc_class_and_an_option_it_lacks() -> None:
    assert set(BY_CLASS) <= set(CLASSES)
    for name, cls in CLASSES.items():  # an option a class declares itself wins over EVERY_LAYER's entry
        assert not set(BY_CLASS.get(name, {})) & set(config_keys(cls)), name
    assert not {name for name, cls in CLASSES.items() if set(EVERY_LAYER) & set(config_keys(cls))}


@pytest.mark.parametrize(("layer", "key", "message"), [
    ({"class": "softmax", "loss": "ce", "only_on_search": True}, "only_on_search", "only in search"),
    ({"class": "softmax", "loss": "ce", "size_target": "classes"}, "size_target", "lengths are taken from"),
    ({"class": "softmax", "loss": "ce", "sprint_opts": {}}, "sprint_opts", "RETURNN Theano: how the sequence loss"),
    ({"class": "window", "window": 5}, "window", "RETURNN Theano's window size"),
    ({"class": "hidden", "n_out": 3, "residual": True}, "residual", "RETURNN Theano: the input added"),
])
def test_returnn_options_say_they_are_returnns(layer: dict, key: str, message: str) -> None:
    expected = f"RETURNN's option '{key}' \\(.*{message}.*\\) is not implemented by netc"
    with pytest.raises(NetcError, match=expected) as e:
        graph_from_document(Document("net.json", {"output": layer}), 4, 5)
    assert (e.value.where.layer, e.value.where.key) == ("output", key)
    assert e.value.hint


@pytest.mark.parametrize(("layers", "warning"), [
    ({"fw": {"class": "rec", "unit": "nativelstm2", "n_out": 8,
             "forward_weights_init": "random_normal_initializer(stddev=0.1)"},
      "output": {"class": "softmax", "from": "fw", "bias_init": 0.1}},
     ["layer 'fw': RETURNN's option 'forward_weights_init' (the initializer of the input weights) is ignored: "
      "netc initialises as RETURNN's defaults do",
      "layer 'output': RETURNN's option 'bias_init' (the initializer of b) is ignored"]),
    ({"output": {"class": "softmax", "param_device": "cpu"}},
     ["layer 'output': RETURNN's option 'param_device' (the TF device that holds the layer's parameters) is "
      "ignored: it changes no number"]),
])
def test_options_that_change_no_trained_number_are_accepted_and_said(layers: dict, warning: list[str]) -> None:
    """Initializers only move where a training from scratch starts; a loaded model's numbers are unchanged."""
    said = graph_from_document(Document("net.json", layers), 4, 5).warnings
    assert len(said) == len(warning)
    assert all(line.startswith(start) for line, start in zip(said, warning))


def test_an_option_of_another_class_is_still_unknown() -> None:
    with pytest.raises(NetcError, match="unknown option"):
        graph_from_document(Document("net.json", {"output": {"class": "softmax", "unit_opts": {}}}), 4, 5)


def test_trainable_false_marks_every_parameter_of_the_layer_and_its_sublayers() -> None:
    net = {"h": {"class": "linear", "n_out": 3, "trainable": False},
           "s": {"class": "subnetwork", "from": "h", "trainable": False,
                 "subnetwork": {"output": {"class": "linear", "n_out": 3}}},
           "output": {"class": "softmax", "from": "s", "trainable": True}}
    specs = param_specs(graph_from_document(Document("net.json", net), 4, 5))
    assert {s.name: s.trainable for s in specs} == {"h/W": False, "h/b": False, "s/output/W": False,
                                                    "s/output/b": False, "output/W": True, "output/b": True}


@pytest.mark.parametrize("options", [
    {"dropout": 0.1, "dropout_axis": "F"}, {"dropout": 0.1, "dropout_axis": ["F"]}, {"dropout": 0.1, "mask": "dropout"},
    {"mask": "unity"}, {"mask": None, "dropout_on_forward": False}, {"only_on_eval": True},
])
def test_dropout_and_eval_options_where_they_change_nothing(options: dict) -> None:
    """`_ConcatInputLayer`'s dropout_axis "F" (netc's one mask per feature), its obsolete `mask` (RETURNN only
    asserts it against dropout), and only_on_eval on a layer without a loss (computing it in training too changes
    no number)."""
    net = {"output": {"class": "linear", "n_out": 3, **options}}
    graph = graph_from_document(Document("net.json", net), 4, 5)
    assert graph["output"].layer.dropout == options.get("dropout", 0.0)


@pytest.mark.parametrize(("options", "key", "message"), [
    ({"dropout": 0.1, "dropout_axis": "T"}, "dropout_axis", r"dropout_axis \['T'\] is not supported"),
    ({"dropout": 0.1, "dropout_axis": "F", "dropout_noise_shape": {"*": None}}, "dropout_axis", "together"),
    ({"dropout_on_forward": True}, "dropout_on_forward", "deterministic"),
    ({"mask": "dropout"}, "mask", "RETURNN asserts dropout > 0"),
    ({"dropout": 0.1, "mask": "unity"}, "mask", "RETURNN asserts no dropout"),
    ({"mask": "other"}, "mask", "invalid mask"),
    ({"only_on_eval": True, "loss": "ce"}, "only_on_eval", "netc would train on it"),
])
def test_dropout_and_eval_options_that_would_change_numbers_are_refused(options: dict, key: str, message: str) -> None:
    with pytest.raises(NetcError, match=message) as e:
        graph_from_document(Document("net.json", {"output": {"class": "softmax", **options}}), 4, 5)
    assert (e.value.where.layer, e.value.where.key) == ("output", key)


def test_norm_param_shape_is_the_feature_axis_only() -> None:
    net = {"output": {"class": "norm", "axes": "T", "param_shape": "F"}}
    graph_from_document(Document("net.json", net), 4, 5)
    with pytest.raises(NetcError, match="param_shape over axes") as e:
        graph_from_document(Document("net.json", {"output": {"class": "norm", "axes": "T", "param_shape": "T"}}), 4, 5)
    assert e.value.where.key == "param_shape"


@pytest.mark.parametrize(("layer", "key"), [
    ({"class": "copy", "extra_deps": ["data"]}, "extra_deps"),
    ({"class": "copy", "register_as_extern_data": "x"}, "register_as_extern_data"),
    ({"class": "rec", "unit": "nativelstm2", "n_out": 4, "debug": True}, "debug"),
    ({"class": "conv", "filter_size": [3], "n_out": 4, "padding": "same", "use_time_mask": True}, "use_time_mask"),
    ({"class": "transposed_conv", "filter_size": [3], "n_out": 4, "bias_init": 0.1}, "bias_init"),
    ({"class": "softmax", "loss": "ce", "compute_priors": True}, "compute_priors"),
    ({"class": "hidden", "n_out": 3, "device": "gpu0"}, "device"),
])
def test_options_that_change_no_number_of_netcs_model_are_warnings(layer: dict, key: str) -> None:
    said = graph_from_document(Document("net.json", {"output": layer}), 4, 5).warnings
    assert len(said) == 1 and said[0].startswith(f"layer 'output': RETURNN's option '{key}'")


@pytest.mark.parametrize("layer", [
    {"class": "rec", "unit": "nativelstm2", "n_out": 4, "initial_state": "zeros", "back_prop": True,
     "input_projection": True, "axis": None, "cheating": False},
    {"class": "softmax", "loss": "ce", "only_on_search": False, "forward_weights_init": None, "name_scope": None,
     "use_transposed_weights": False, "updater_opts": {}, "debug_print_layer_output": False},
    {"class": "conv", "filter_size": [3], "n_out": 4, "padding": "same", "groups": 1, "filter": None},
])
def test_returnns_default_values_are_accepted_silently(layer: dict) -> None:
    """A config that writes out RETURNN's default of an option netc does not implement changes nothing."""
    assert graph_from_document(Document("net.json", {"output": layer}), 4, 5).warnings == ()


@pytest.mark.parametrize(("layer", "key"), [
    ({"class": "rec", "unit": "nativelstm2", "n_out": 4, "initial_state": "var"}, "initial_state"),
    ({"class": "softmax", "loss": "ce", "only_on_search": 0}, "only_on_search"),
])
def test_other_values_of_those_options_are_still_refused(layer: dict, key: str) -> None:
    with pytest.raises(NetcError, match=f"RETURNN's option '{key}'"):
        graph_from_document(Document("net.json", {"output": layer}), 4, 5)


def test_ce_use_fused_is_accepted_for_ce_only() -> None:
    """RETURNN's unfused CE equals the fused one but for target probabilities below safe_log's 1e-20."""
    graph = graph_from_document(Document("net.json", {"output": {"class": "softmax", "loss": "ce",
                                                                  "loss_opts": {"use_fused": False}}}), 4, 5)
    assert graph["output"].layer.loss_opts.use_fused is False
    with pytest.raises(NetcError, match="loss_opts 'use_fused' is an option of loss 'ce', not 'ctc'"):
        graph_from_document(Document("net.json", {"output": {"class": "softmax", "loss": "ctc",
                                                              "loss_opts": {"use_fused": False}}}), 4, 5)


def test_loss_opts_at_returnns_defaults_are_accepted() -> None:
    opts = {"input_type": "prob", "safe_log_opts": {}, "debug_dump": False, "use_flatten_frames": True}
    graph_from_document(Document("net.json", {"output": {"class": "softmax", "loss": "ce", "loss_opts": opts}}), 4, 5)
    with pytest.raises(NetcError, match="'input_type' is not supported"):
        graph_from_document(Document("net.json", {"output": {"class": "softmax", "loss": "ce",
                                                              "loss_opts": {"input_type": "logits"}}}), 4, 5)


def test_an_activation_composition_is_refused_with_the_eval_spelling() -> None:
    net = {"output": {"class": "linear", "n_out": 3, "activation": "2 * sigmoid"}}
    with pytest.raises(NetcError, match="unknown value") as e:
        graph_from_document(Document("net.json", net), 4, 5)
    assert "eval" in (e.value.hint or "") and e.value.where.key == "activation"


def test_loss_scale_and_loss_opts_none_without_a_loss_are_dropped_as_returnn_does() -> None:
    net = {"output": {"class": "softmax", "loss": None, "loss_scale": None, "loss_opts": None}}
    graph_from_document(Document("net.json", net), 4, 5)
    with pytest.raises(NetcError, match="expected a finite number"):
        graph_from_document(Document("net.json", {"output": {"class": "softmax", "loss": "ce",
                                                              "loss_scale": None}}), 4, 5)


def test_null_is_off_where_returnn_reads_it_so() -> None:
    """RETURNN's defaults of L2, darc1, is_output_layer, ... are None; dropout None fails its `if dropout` test."""
    layer = {"class": "linear", "n_out": 3, "dropout": None, "L2": None, "darc1": None, "is_output_layer": None,
             "spatial_smoothing": None, "param_variational_noise": None}
    graph = graph_from_document(Document("net.json", {"output": layer}), 4, 5)
    assert (graph["output"].layer.dropout, graph["output"].layer.L2) == (0.0, 0.0)
