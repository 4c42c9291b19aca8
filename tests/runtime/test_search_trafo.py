"""A transformer decoder (self_attention and positional_encoding inside the rec unit) compiled to encoder +
decoder step, searched and scored by the runtime as RETURNN does.

The golden `tests/compiler/data/trafo_decoder/trafo2.json` is bench/returnn_trafo_decoder_golden.py's (its
docstring has the command). The tests of tests/runtime/test_search.py run on it through this module's `golden`
fixture: teacher-forced log-probs within 1e-5, RETURNN's final beams (beams 1, 4, 12, 64) with identical
hypotheses and scores within 1e-4, log-prob sums, the config's default beam. Each sequence is searched alone here
too, but its scores in a batch with a longer sequence are equal only to rounding (measured 1.5e-8): the
encoder-decoder attention's Einsums reduce over the padded encoder frames (weight 0), and onnxruntime's sums group
their terms by the padded length.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from netc.ir import NetcError
from netc.runtime import Model

from tests.decoder_goldens import DATA, compiled, graph_of, inputs_of, load, params_of, targets_of
from tests.runtime.test_search import (  # noqa: F401 (collected here, with this module's fixture)
    test_default_beam_is_the_configs,
    test_log_prob_sum_is_the_teacher_forced_sum,
    test_search_matches_returnn,
    test_teacher_forced_log_probs_match_returnn,
)

GOLDEN = DATA / "trafo_decoder" / "trafo2.json"
STATES = ("dec_01_self_att_att:k_left", "dec_01_self_att_att:v_left", "dec_02_self_att_att:k_left",
          "dec_02_self_att_att:v_left", "target_embed:position")


@pytest.fixture(scope="module")
def golden() -> dict:
    return load(GOLDEN)


@pytest.fixture(scope="module")
def folder(golden: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled(golden, tmp_path_factory.mktemp("trafo") / "model")


@pytest.fixture(scope="module")
def model(folder: Path) -> Model:
    return Model(folder, threads=1)


def test_the_golden_has_ended_and_cut_hypotheses(golden: dict) -> None:
    entries = [e for found in golden["search"].values() for e in found if "hyps" in e]
    ended = [len(h) < e["max_seq_len"] for e in entries for h in e["hyps"]]
    assert any(ended) and not all(ended) and set(golden["search"]) >= {"1", "4", "12"}


def test_each_sequence_is_searched_alone(model: Model, golden: dict) -> None:
    """The hypotheses of a sequence searched in a batch of other (longer, shorter) ones are those it gets alone."""
    xs = inputs_of(golden)
    alone = [model.search([x], beam_size=4)[0] for x in xs]
    mixed = model.search([*xs[::-1], xs[0]], beam_size=4)
    for a, b in zip(alone, [*mixed[-2::-1], mixed[-1]][:len(xs)]):
        assert [h.labels.tolist() for h in a] == [h.labels.tolist() for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-6, rtol=0)


def test_keys_and_values_are_states_that_grow_one_frame_per_step(folder: Path) -> None:
    """docs/onnx-contract.md: `LAYER:k_left0`/`LAYER:v_left0` `[N, H, t, d]` in, t + 1 frames out; the
    position counts from -1 (the encoder's value) up by one per step."""
    spec = json.loads((folder / "decoder.json").read_text())
    assert {s["output"] for s in spec["states"]} >= set(STATES)
    assert all(spec["time_axes"][name + "0"] is None for name in STATES)
    golden = load(GOLDEN)
    x = inputs_of(golden)[3]
    encoder = ort.InferenceSession(str(folder / "encoder.onnx"))
    names = [o.name for o in encoder.get_outputs()]
    encoded = dict(zip(names, encoder.run(None, {"data": x[None], "data:size1": np.array([len(x)], np.int32)})))
    assert encoded["dec_01_self_att_att:k_left0"].shape == (1, 2, 0, 4)
    assert encoded["target_embed:position0"].tolist() == [-1]
    step = ort.InferenceSession(str(folder / "decoder_step.onnx"))
    feeds = {i.name: encoded[i.name] for i in step.get_inputs() if i.name in encoded}
    outputs = [o.name for o in step.get_outputs()]
    for t in range(3):
        out = dict(zip(outputs, step.run(None, feeds | {"prev:output": np.array([2 * t], np.int32),
                                                        "first": np.array([t == 0])})))
        assert out["dec_02_self_att_att:v_left"].shape == (1, 2, t + 1, 4)
        assert out["target_embed:position"].tolist() == [t]
        feeds |= {name + "0": out[name] for name in STATES}


def test_a_self_attention_reading_this_steps_choice_is_refused_by_name(golden: dict) -> None:
    """The decoder step computes layers that read this step's choice from the label alone: a stateful layer there
    is a located error (the published decoders read prev:output)."""
    from netc.compiler import compile_graph
    from netc.ir import Document, graph_from_document

    unit = golden["net"]["output"]["unit"]
    changed = unit | {"target_embed_raw": unit["target_embed_raw"] | {"from": ["output"]},
                      "dec_01_self_att_laynorm": unit["dec_01_self_att_laynorm"] | {"from": ["prev:target_embed"]},
                      "dec_01_self_att_out": unit["dec_01_self_att_out"] | {"from": ["prev:target_embed",
                                                                                      "dec_01_self_att_lin"]}}
    net = golden["net"] | {"output": golden["net"]["output"] | {"unit": changed}}
    graph = graph_from_document(Document("t.json", {"network": net, "extern_data": golden["extern_data"]}))
    with pytest.raises(NetcError, match="positional_encoding that reads this step's choice") as caught:
        compile_graph(graph, params_of(golden))
    assert caught.value.where.layer.endswith("target_embed")


def test_the_step_model_checks(folder: Path) -> None:
    onnx.checker.check_model(onnx.load(str(folder / "decoder_step.onnx")), full_check=True)
    assert graph_of(load(GOLDEN)).output.name == "output"


@pytest.mark.parametrize("options", [{"constant": 3}, {"n_out": 8, "add_to_input": False}])
def test_positional_encoding_options_step_as_netc_trains_them(golden: dict, options: dict, tmp_path: Path) -> None:
    """positional_encoding with `constant` (no state) or without add_to_input: the decoder step's log-probs are
    those of netc's trainer (per step and moved out, tests/trainer/test_rec_loop_trafo.py), opset 14 too."""
    import torch
    from netc.compiler import compile_graph, save_model
    from netc.compiler.onnx.lower import CompileOptions
    from netc.ir import Document, graph_from_document

    from tests.trainer.test_rec_loop import batch_of, run

    unit = golden["net"]["output"]["unit"]
    changed = unit | {"target_embed": unit["target_embed"] | options}
    if not options.get("add_to_input", True):  # the sinusoids alone, added to the embedding by a combine
        changed |= {"target_embed_pos": changed.pop("target_embed") | {"from": ["target_embed_weighted"]},
                    "target_embed": {"class": "combine", "kind": "add",
                                     "from": ["target_embed_weighted", "target_embed_pos"]}}
    net = golden["net"] | {"output": golden["net"]["output"] | {"unit": changed}}
    config = {"network": net, "extern_data": golden["extern_data"]}
    graph = graph_from_document(Document("t.json", config))
    save_model(compile_graph(graph, params_of(golden), CompileOptions(opset=14)), tmp_path / "m")
    got = Model(tmp_path / "m", threads=1)(inputs_of(golden), targets=targets_of(golden))
    for move_out in (True, False):
        output = net["output"] | {"optimize_move_layers_out": move_out}
        moved = graph_from_document(Document("t.json", config | {"network": net | {"output": output}}))
        _, ctx = run(golden, batch_of(golden), moved)
        packing = ctx.packing(ctx.graph["output"].out_type.time)
        expected = packing.unpack(torch.log_softmax(ctx.logits["output/output_prob"], dim=-1)).detach().numpy()
        for b, y in enumerate(got):
            np.testing.assert_allclose(y, expected[b, :len(y)], atol=1e-5, rtol=0, err_msg=f"sequence {b}")
