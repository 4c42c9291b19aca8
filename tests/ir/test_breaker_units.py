"""Rec units that breaker13 found accepted by `netc check` and broken later (/tmp/breaker13 cases as minimal nets):
initial outputs that do not fit their layer's step type, misleading type errors."""

from __future__ import annotations

import pytest
from netc.ir import NetcError
from netc.ir.build import check_model_output

from tests.ir.test_rec_loop import attention_net, graph


def with_initial(layer: str, value: object) -> dict:
    net = attention_net()
    net["output"]["unit"][layer]["initial_output"] = value
    return net


@pytest.mark.parametrize("value", ["base:encoder", "base:enc_ctx"])
def test_initial_output_of_another_type_is_refused(value: str) -> None:
    """RETURNN's `get_rec_initial_output`: `copy_compatible_to` the step's template; `att` is [B, 16] per step,
    the encoder [B, T, 16] (H1_init_att_base_encoder.config: check passed, train and search crashed)."""
    with pytest.raises(NetcError, match=rf"initial_output '{value}' is \[B, T_data, \d+\], but 'att' is \[B, 16\] "
                                        "per step") as caught:
        graph(with_initial("att", value))
    assert (caught.value.where.layer, caught.value.where.key) == ("output/att", "initial_output")


def test_initial_output_of_the_step_type_is_read() -> None:
    net = attention_net()
    net["att_init"] = {"class": "reduce", "mode": "mean", "axes": "T", "from": "encoder"}  # [B, 16]
    net["output"]["unit"]["att"]["initial_output"] = "base:att_init"
    graph(net)


@pytest.mark.parametrize("value, shown", [(7, "7"), (99, "99"), (-1, "-1"), (0.5, "0.5"),
                                          ("base:encoder", "'base:encoder'"), ("apply(0)", "'apply(0)'")])
def test_a_choices_initial_output_is_a_label(value: object, shown: str) -> None:
    """The choice's `prev:` at step 0 indexes the target embedding: a label in [0, 7) (H4: 5 of 2 labels crashed
    the search in onnxruntime's Gather)."""
    with pytest.raises(NetcError, match=rf"the choice's initial_output {shown.replace('(', '[(]').replace(')', '[)]')} "
                                        r"is not a label of target 'classes' \(7 labels\)") as caught:
        graph(with_initial("output", value))
    assert caught.value.where.key == "initial_output"


@pytest.mark.parametrize("value", [0, 6, "zeros", "ones", None])
def test_a_choices_label_initial_output_is_read(value: object) -> None:
    """RETURNN casts the constant to the label dtype: "ones" is label 1."""
    graph(with_initial("output", value))


def test_a_wrong_declared_out_type_in_a_prev_cycle_names_the_out_type() -> None:
    """M1_out_type_dim_wrong.config: `accum_att_weights` reads its own prev: with out_type dim 3 (1 head); the error
    was "depend on each other through prev: only"."""
    net = attention_net()
    net["output"]["unit"]["accum_att_weights"]["out_type"] = {"dim": 3, "shape": (None, 3)}
    with pytest.raises(NetcError, match=r"out_type declares shape \[None, 3\], but netc infers \[B, T_data, 1\]"):
        graph(net)


def test_output_decide_of_a_searching_unit_named_otherwise_says_to_rename_it() -> None:
    """M2_output_is_decide.config: the unit named `dec`, `output` its decide: the error said "[B, T_classes]
    sparse(2) is not [B, T, ...]" with a hint about swap_axes."""
    net = attention_net()
    net["dec"] = net.pop("output")
    net["output"] = {**net.pop("decision"), "from": "dec"}
    with pytest.raises(NetcError, match=r"the output layer is a decide of the searching rec layer 'dec'; its type "
                                        r"\[B, T_classes\] sparse\(7\) is labels") as caught:
        check_model_output(graph(net))
    assert "name that rec layer 'output'" in caught.value.hint


def test_a_sparse_output_is_called_sparse() -> None:
    with pytest.raises(NetcError, match=r"type \[B, T_data\] sparse\(7\) is sparse \(class indices\), not the "
                                        r"dense \[B, T, ...\]"):
        check_model_output(graph({"argmax": {"class": "reduce", "mode": "argmax", "axes": "F", "from": "data"},
                                  "output": {"class": "reinterpret_data", "from": "argmax", "set_sparse": True,
                                             "set_sparse_dim": 7}}))
