"""RETURNN's recurrent subnetwork (`rec` with a dict unit, ir/loop.py): reading, per-step types, parameters, errors."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from netc.ir import Document, NetcError, graph_from_document, verify
from netc.ir.loop import RecLoop
from netc.ir.params import param_specs
from netc.ir.printing import canonical_json
from netc.ir.types import BATCH, DimKind, TimeAxis

HEADS, KEY, VALUE = 1, 6, 16  # the exp3 attention decoder's layout, miniature (docs/netdict.md "rec units")


def attention_net(heads: int = HEADS) -> dict:
    """RETURNN's LibriSpeech attention decoder (2018-asr-attention exp3), miniature."""
    return {
        "encoder": {"class": "rec", "unit": "nativelstm2", "n_out": VALUE, "from": "data"},
        "enc_ctx": {"class": "linear", "activation": None, "from": "encoder", "n_out": KEY},
        "inv_fertility": {"class": "linear", "activation": "sigmoid", "with_bias": False, "from": "encoder",
                          "n_out": heads},
        "enc_value": {"class": "split_dims", "axis": "F", "dims": (heads, VALUE // heads), "from": "encoder"},
        "output": {"class": "rec", "from": [], "target": "classes", "max_seq_len": "max_len_from('base:encoder')",
                   "unit": {
            "output": {"class": "choice", "target": "classes", "beam_size": 4, "from": "output_prob",
                       "initial_output": 0},
            "end": {"class": "compare", "from": "output", "value": 0},
            "target_embed": {"class": "linear", "activation": None, "with_bias": False, "from": "output",
                             "n_out": 5, "initial_output": 0},
            "weight_feedback": {"class": "linear", "activation": None, "with_bias": False,
                                "from": "prev:accum_att_weights", "n_out": KEY},
            "s_transformed": {"class": "linear", "activation": None, "with_bias": False, "from": "s", "n_out": KEY},
            "energy_in": {"class": "combine", "kind": "add",
                          "from": ["base:enc_ctx", "weight_feedback", "s_transformed"]},
            "energy_tanh": {"class": "activation", "activation": "tanh", "from": "energy_in"},
            "energy": {"class": "linear", "activation": None, "with_bias": False, "from": "energy_tanh",
                       "n_out": heads},
            "att_weights": {"class": "softmax_over_spatial", "from": "energy"},
            "accum_att_weights": {"class": "eval", "from": ["prev:accum_att_weights", "att_weights",
                                                            "base:inv_fertility"],
                                  "eval": "source(0) + source(1) * source(2) * 0.5"},
            "att0": {"class": "generic_attention", "weights": "att_weights", "base": "base:enc_value"},
            "att": {"class": "merge_dims", "axes": "except_batch", "from": "att0"},
            "s": {"class": "rnn_cell", "unit": "LSTMBlock", "from": ["prev:target_embed", "prev:att"], "n_out": 10},
            "readout_in": {"class": "linear", "from": ["s", "prev:target_embed", "att"], "activation": None,
                           "n_out": 8},
            "readout": {"class": "reduce_out", "mode": "max", "num_pieces": 2, "from": "readout_in"},
            "output_prob": {"class": "softmax", "from": "readout", "target": "classes", "loss": "ce"},
        }},
        "decision": {"class": "decide", "from": "output", "loss": "edit_distance", "target": "classes"},
    }


def graph(net: dict, num_inputs: int = 3, num_outputs: int = 7):  # noqa: ANN201
    g = graph_from_document(Document("net.json", net), num_inputs, num_outputs)
    verify(g)
    return g


def error(net: dict) -> NetcError:
    with pytest.raises(NetcError) as e:
        graph(net)
    return e.value


def test_attention_decoder_types_each_unit_layer_per_step() -> None:
    g = graph(attention_net())
    loop = g["output"].layer
    assert isinstance(loop, RecLoop)
    step = {n.name: n.out_type for n in loop.unit}
    enc_time = g["encoder"].out_type.dims[1]
    assert str(step["s"]) == "[B, 10]" and str(step["readout"]) == "[B, 4]"
    assert step["energy_in"].dims[:2] == (BATCH, enc_time) and step["energy_in"].feature == KEY
    assert step["att_weights"] == step["energy"] and step["accum_att_weights"] == step["att_weights"]
    assert str(step["att0"]) == f"[B, 1, {VALUE}]" and str(step["att"]) == f"[B, {VALUE}]"
    assert str(step["output"]) == "[B] sparse(7)" and step["end"].dtype == "bool"
    out = g["output"].out_type
    assert str(out) == "[B, T_classes] sparse(7)" and out.time is TimeAxis.CLASSES
    assert g["decision"].out_type == out
    assert loop.initial_output("target_embed").constant == 0.0
    assert loop.max_seq_len is not None and loop.max_seq_len.layer == "encoder"
    assert set(loop.outer_layers) == {"enc_ctx", "inv_fertility", "enc_value", "encoder"}
    assert g.names.index("enc_value") < g.names.index("output")  # base: layers come first


def test_generic_attention_keeps_the_heads_as_returnn_matches_them() -> None:
    step = {n.name: n.out_type for n in graph(attention_net(heads=2))["output"].layer.unit}
    assert str(step["att0"]) == f"[B, 2, {VALUE // 2}]" and str(step["att"]) == f"[B, {VALUE}]"


def test_unit_parameters_have_returnn_names() -> None:
    specs = {s.name: s.shape for s in param_specs(graph(attention_net()))}
    assert specs["output/rec/s/rec/lstm_cell/kernel"] == (5 + VALUE + 10, 40)  # TF LSTMCell: [x, h] x 4n
    assert specs["output/rec/s/rec/lstm_cell/bias"] == (40,)
    assert specs["output/rec/target_embed/W"] == (7, 5)  # an embedding of the labels
    assert specs["output/rec/weight_feedback/W"] == (1, KEY)
    assert specs["output/rec/readout_in/W"] == (10 + 5 + VALUE, 8)
    assert specs["output/rec/output_prob/W"] == (4, 7) and "output/rec/output_prob/b" in specs
    assert "output/rec/energy/b" not in specs and "encoder/rec/W" in specs


def test_canonical_form_holds_the_unit_and_is_stable() -> None:
    text = canonical_json(graph(attention_net()))
    assert text == canonical_json(graph(attention_net()))
    unit = json.loads(text)["output"]["unit"]
    assert unit["s"]["class"] == "rnn_cell" and unit["s"]["unit"] == "standardlstm"


@pytest.mark.parametrize("declared", [True, False])
def test_loop_over_the_input_settles_types_as_returnn(declared: bool) -> None:
    net = {"lstm": {"class": "rec", "from": "data", "unit": {
        "input": {"class": "copy", "from": ["prev:output", "data:source"]},
        "gate": {"class": "linear", "from": "input", "activation": "sigmoid", "n_out": 4},
        "c": {"class": "eval", "from": ["gate", "prev:c"], "eval": "source(0) + source(1)"},
        "output": {"class": "eval", "from": ["gate", "c"], "eval": "source(0) * source(1)",
                   **({"out_type": {"shape": (4,)}} if declared else {})}}},
        "output": {"class": "softmax", "loss": "ce", "from": "lstm"}}
    g = graph(net)
    assert str(g["lstm"].out_type) == "[B, T_data, 4]"
    assert str(g["lstm"].layer["input"].out_type) == "[B, 7]"  # prev:output [B, 4] + the input frame [B, 3]


@pytest.mark.parametrize("change, message, key", [
    (lambda u: u["s"].update({"from": ["prev:target_emb"]}), "'prev:target_emb' is not a layer of the unit", "from"),
    (lambda u: u["energy_in"].update({"from": ["base:enc_ctxx"]}), "has no layer 'enc_ctxx'", "from"),
    (lambda u: u["att0"].update({"base": "base:nothing"}), "has no layer 'nothing'", "base"),
    (lambda u: u["s"].update({"from": ["target_embed", "att"]}), "read each other at the same step", "from"),
    (lambda u: u["end"].update({"from": "data:bpe"}), "reads the loop's target", "from"),
    (lambda u: u["output"].pop("beam_size"), "'beam_size' is required", "beam_size"),
    (lambda u: u["output"].update({"initial_output": "var"}), "invalid initial_output", "initial_output"),
    (lambda u: u["readout"].update({"num_pieces": 3}), "not a multiple of num_pieces", "num_pieces"),
    (lambda u: u["s"].update({"unit": "foo"}), "unknown value 'foo'", "unit"),
    (lambda u: u["att_weights"].update({"axis": "F"}), None, None),
])
def test_unit_errors_are_located(change, message: str | None, key: str | None) -> None:  # noqa: ANN001
    net = copy.deepcopy(attention_net())
    change(net["output"]["unit"])
    if message is None:  # a softmax over the heads axis is legal (one head: all weights 1)
        graph(net)
        return
    e = error(net)
    assert message in e.message, e.message
    assert e.where.key == key and e.where.layer and e.where.layer.startswith("output/")


def test_unit_without_output_and_unsettled_types_are_errors() -> None:
    net = copy.deepcopy(attention_net())
    del net["output"]["unit"]["output"]
    assert "has no layer named 'output'" in error(net).message
    net = {"output": {"class": "rec", "from": "data", "unit": {
        "a": {"class": "copy", "from": ["prev:b"]}, "b": {"class": "copy", "from": ["prev:a"]},
        "output": {"class": "copy", "from": ["a", "b"]}}}}
    e = error(net)
    assert "depend on each other through prev: only" in e.message and e.where.layer == "output/a"


def test_a_seed_that_contradicts_the_layer_is_an_error() -> None:
    net = copy.deepcopy(attention_net())
    net["output"]["unit"]["att"]["out_type"] = {"shape": (3,)}
    assert "out_type declares" in error(net).message


def test_netc_check_prints_the_unit(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "att.json"
    path.write_text(json.dumps(attention_net()))
    done = subprocess.run([sys.executable, "-m", "netc", "check", str(path), "--num-inputs", "3",
                           "--num-outputs", "7"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line}
    assert "[B, 10] per step" in rows["output/s"] and "rnn_cell" in rows["output/s"]
    assert "prev: at step 0 = 0.0" in rows["output/target_embed"]
    assert DimKind.TIME  # the table's time axes come from the same types


def test_a_rec_layer_inside_a_unit_is_one_step_of_its_cell() -> None:
    net = copy.deepcopy(attention_net())
    net["output"]["unit"]["s"] = {"class": "rec", "unit": "nativelstm2", "from": ["prev:target_embed", "prev:att"],
                                  "n_out": 10}
    g = graph(net)
    assert str(g["output"].layer["s"].out_type) == "[B, 10]"
    specs = {s.name: s.shape for s in param_specs(g)}
    assert specs["output/rec/s/rec/W"] == (5 + VALUE, 40) and specs["output/rec/s/rec/W_re"] == (10, 40)


def test_a_window_start_read_through_prev_settles_as_returnn() -> None:
    """The local-attention form with layers: the window start is the argmax of prev:att_weights, which the window
    masks: att_weights' type is its energies' (RETURNN's template without the window), checked once typed."""
    net = copy.deepcopy(attention_net())
    unit = net["output"]["unit"]
    unit["p_t_w"] = {"class": "squeeze", "axis": "F", "from": "prev:att_weights"}
    unit["p_t_in"] = {"class": "reduce", "from": "p_t_w", "mode": "argmax", "axis": "T"}
    unit["att_weights"].update({"window_start": "p_t_in", "window_size": 3})
    loop = graph(net)["output"].layer
    assert loop["att_weights"].out_type == loop["energy"].out_type
    assert str(loop["p_t_in"].out_type) == "[B]" and loop["p_t_in"].out_type.dtype == "int32"
