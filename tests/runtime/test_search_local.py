"""Teacher-forced scoring and beam search of the compiled local (windowed) attention decoder against RETURNN TF
(the golden of bench/returnn_local_attention_golden.py; tests/trainer/test_rec_loop_local.py says what it holds):
tests/runtime/test_search.py's checks, run on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from netc.compiler import compile_graph, save_model
from netc.ir import graph_from_document
from netc.runtime import Model

from tests.decoder_goldens import inputs_of, params_of
from tests.runtime.test_search import (  # noqa: F401 (pytest collects them here, on this module's fixtures)
    test_each_sequence_is_searched_alone,
    test_log_prob_sum_is_the_teacher_forced_sum,
    test_search_matches_returnn,
    test_teacher_forced_log_probs_match_returnn,
)
from tests.trainer.test_rec_loop_local import GOLDENS, UNIT, document, with_unit


def compiled(golden: dict, folder: Path) -> Path:
    """The golden (with its config functions) compiled with RETURNN's parameters into `folder`."""
    save_model(compile_graph(graph_from_document(document(golden)), params_of(golden)), folder)
    return folder


@pytest.fixture(scope="module", params=sorted(GOLDENS))
def golden(request: pytest.FixtureRequest) -> dict:
    return GOLDENS[request.param]


@pytest.fixture(scope="module")
def model(golden: dict, tmp_path_factory: pytest.TempPathFactory) -> Model:
    return Model(compiled(golden, tmp_path_factory.mktemp("search") / "model"), threads=1)


def test_the_golden_searches_beams_1_4_12_with_windows_that_move(golden: dict) -> None:
    assert {"1", "4", "12"} <= set(golden["search"])
    assert max(max(len(h) for h in e["hyps"]) for e in golden["search"]["4"] if "hyps" in e) > 3  # > the window


def test_switchboard_float_position_searches_as_returnn(tmp_path: Path) -> None:
    """The Switchboard argmax form (`p_t` the float position, the window's start) compiles to the same search."""
    golden = GOLDENS["local_argmax_win3"]
    p_t = {"class": "eval", "from": "prev:att_weights",
           "eval": "tf.to_float(tf.squeeze(tf.argmax(source(0), axis=1, output_type=tf.int32), axis=1))",
           "out_type": {"shape": (), "batch_dim_axis": 0, "dtype": "float32"}}
    net = with_unit(p_t=p_t, p_t_in=None, att_weights=UNIT["att_weights"] | {"window_start": "p_t"})
    model = Model(compiled(golden | {"net": net}, tmp_path / "model"), threads=1)
    for b, (hyps, expected) in enumerate(zip(model.search(inputs_of(golden), beam_size=4), golden["search"]["4"])):
        assert [h.labels.tolist() for h in hyps] == expected["hyps"], b
        np.testing.assert_allclose([h.score for h in hyps], expected["scores"], atol=1e-4, rtol=0, err_msg=str(b))
