"""Decoders whose state reads this step's choice and a layer before it (the 2018/2019 local-attention Switchboard
configs' `s` reads `target_embed` and this step's `att`): the step model carries `att` of the step before
(compiler/onnx/rec_loop.py `carried_layers`), against RETURNN TF's teacher forcing and search
(bench/returnn_carry_golden.py: tests/compiler/data/carry/), with tests/runtime/test_search.py's checks."""

from __future__ import annotations

import copy

import pytest
from netc.compiler.onnx.rec_loop import plan_decoder
from netc.ir import Document, NetcError, graph_from_document
from netc.runtime import Model

import tests.runtime.test_search as checks
from tests.decoder_goldens import DATA, compiled, golden_id, graph_of, load

CARRY = sorted((DATA / "carry").glob("*.json"))


@pytest.fixture(scope="module", params=CARRY, ids=golden_id)
def golden(request: pytest.FixtureRequest) -> dict:
    return load(request.param)


@pytest.fixture(scope="module")
def model(golden: dict, tmp_path_factory: pytest.TempPathFactory) -> Model:
    return Model(compiled(golden, tmp_path_factory.mktemp("carry") / "model"), threads=1)


def test_goldens_are_the_switchboard_layout() -> None:
    """All but `prev_s_last_state` (the exp3 layout, `s` before the choice, with get_last_hidden_state of `prev:s`
    as the Switchboard configs read it)."""
    assert [p.stem for p in CARRY] == ["prev_s_last_state", "s_carry", "s_carry_gru", "s_carry_initial_state",
                                       "s_carry_last_state"]
    for path in CARRY:
        unit = load(path)["net"]["output"]["unit"]
        assert unit["s"]["from"] == (["target_embed", "att"] if path.stem.startswith("s_carry") else
                                     ["prev:target_embed", "prev:att"])
        assert unit["s_transformed"]["from"] == ["prev:s"] or unit["prev_s_state"]["from"] == ["prev:s"]


def test_plan_carries_att(golden: dict) -> None:
    plan = plan_decoder(graph_of(golden))
    after_choice = golden["net"]["output"]["unit"]["s"]["from"][0] == "target_embed"
    assert plan.carried == (("att",) if after_choice else ())
    assert [n.name for n in plan.label_layers] == (["target_embed", "s"] if after_choice else ["target_embed"])
    assert "att" in plan.states and "s" in plan.cells  # read as prev:att, or carried


def test_teacher_forced_log_probs_match_returnn(model: Model, golden: dict) -> None:
    checks.test_teacher_forced_log_probs_match_returnn(model, golden)


def test_search_matches_returnn(model: Model, golden: dict) -> None:
    checks.test_search_matches_returnn(model, golden)


def test_each_sequence_is_searched_alone(model: Model, golden: dict) -> None:
    checks.test_each_sequence_is_searched_alone(model, golden)


def test_log_prob_sum_is_the_teacher_forced_sum(model: Model, golden: dict) -> None:
    checks.test_log_prob_sum_is_the_teacher_forced_sum(model, golden)


def test_a_label_layer_reading_prev_of_a_step_layer_is_an_error() -> None:
    """Two steps back is what the step model does not have: a located error naming the layer and the read."""
    net = copy.deepcopy(load(DATA / "carry" / "s_carry.json")["net"])
    net["output"]["unit"]["s"]["from"] = ["target_embed", "prev:att"]
    doc = Document("net.json", {"network": net, "extern_data": load(DATA / "carry" / "s_carry.json")["extern_data"]})
    with pytest.raises(NetcError, match="'s' reads this step's choice and 'prev:att'") as caught:
        plan_decoder(graph_from_document(doc))
    assert "layer 'output/s'" in str(caught.value)
