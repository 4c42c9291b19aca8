"""Beam search and teacher-forced scoring of compiled attention decoders (runtime/search.py) against RETURNN TF's
search and training forward (tests/decoder_goldens.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from netc.data import HdfSeq, write_hdf
from netc.ir import NetcError
from netc.runtime import Model

from tests.decoder_goldens import ATOL, GOLDENS, SCORE_ATOL, compiled, golden_id, inputs_of, load, targets_of

BEAMS = ("1", "4", "12")


@pytest.fixture(scope="module", params=GOLDENS, ids=golden_id)
def golden(request: pytest.FixtureRequest) -> dict:
    return load(request.param)


@pytest.fixture(scope="module")
def model(golden: dict, tmp_path_factory: pytest.TempPathFactory) -> Model:
    return Model(compiled(golden, tmp_path_factory.mktemp("search") / "model"), threads=1)


def test_teacher_forced_log_probs_match_returnn(model: Model, golden: dict) -> None:
    got = model(inputs_of(golden), targets=targets_of(golden))
    for b, (y, expected) in enumerate(zip(got, golden["forward"])):
        np.testing.assert_allclose(y, np.asarray(expected["log_probs"], np.float32), atol=ATOL, rtol=0,
                                   err_msg=f"sequence {b}")


def test_search_matches_returnn(model: Model, golden: dict) -> None:
    """Per beam size of the golden (1, 4, 12, and 64 in gold13's: more than the candidates, ties at -1e30 and
    -inf; beam 1 only for the initial_state golden, RETURNN's wider search fails on it): RETURNN's final beam, in
    its order, with its scores; where RETURNN fails (every hypothesis empty), netc's hypotheses are all empty."""
    assert set(BEAMS) <= set(golden["search"]) or set(golden["search"]) == {"1"}
    for beam, entries in golden["search"].items():
        found = model.search(inputs_of(golden), beam_size=int(beam))
        for b, (hyps, expected) in enumerate(zip(found, entries)):
            where = f"beam {beam}, sequence {b}"
            labels = [h.labels.tolist() for h in hyps]
            if "returnn_error" in expected:
                assert labels == [[]] * len(hyps) and "TensorArray" in expected["returnn_error"], where
                continue
            assert labels == expected["hyps"], where
            np.testing.assert_allclose([h.score for h in hyps], expected["scores"], atol=SCORE_ATOL, rtol=0,
                                       err_msg=where)
            assert [h.ended for h in hyps] == [len(h) < expected["max_seq_len"] for h in expected["hyps"]], where


def test_goldens_cover_ended_and_unended_hypotheses() -> None:
    """The goldens exercise what the search rules distinguish: hypotheses that end and ones cut at max_seq_len,
    more than one length in a beam, and -inf fillers at beam 12 (7 labels)."""
    entries = [e for path in GOLDENS for found in load(path)["search"].values() for e in found if "hyps" in e]
    ended = [len(h) < e["max_seq_len"] for e in entries for h in e["hyps"]]
    assert any(ended) and not all(ended)
    assert any(len({len(h) for h in e["hyps"]}) > 1 for e in entries)
    assert any(s == -np.inf for e in entries for s in e["scores"])


def test_each_sequence_is_searched_alone(model: Model, golden: dict) -> None:
    xs = inputs_of(golden)
    alone = [model.search([x], beam_size=4)[0] for x in xs]
    mixed = model.search([*xs[::-1], xs[0]], beam_size=4)
    for a, b in zip(alone, [*mixed[-2::-1], mixed[-1]][:len(xs)]):
        assert [h.labels.tolist() for h in a] == [h.labels.tolist() for h in b]
        assert [h.score for h in a] == [h.score for h in b]


def test_log_prob_sum_is_the_teacher_forced_sum(model: Model, golden: dict) -> None:
    xs = inputs_of(golden)
    for x, hyps in zip(xs, model.search(xs, beam_size=4)):
        for h in hyps:
            y = np.array([*h.labels, golden["end_label"]] if h.ended else h.labels, np.int32)
            if len(y) and np.isfinite(h.score):
                log_probs = model([x], targets=[y])[0]
                assert abs(log_probs[np.arange(len(y)), y].sum() - h.log_prob_sum) < SCORE_ATOL


def test_default_beam_is_the_configs(model: Model, golden: dict) -> None:
    xs = inputs_of(golden)[:2]
    beam = golden["net"]["output"]["unit"]["output"]["beam_size"]
    assert [len(h) for h in model.search(xs)] == [beam, beam]


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    golden = load(GOLDENS[0])
    return golden, compiled(golden, tmp_path_factory.mktemp("first") / "model")


@pytest.mark.parametrize("call, words", [
    (lambda m, xs: m.search(xs, beam_size=0), "beam_size must be an integer >= 1"),
    (lambda m, xs: m.decoder.spec.update(beam_size=0) or m.search(xs), "got 0 (the decoder.json's beam_size"),
    (lambda m, xs: m.search([xs[0][:, :3]]), "sequence 0 has 3 features, the model expects 5"),
    (lambda m, xs: m.search(xs[0]), "got one array"),
    (lambda m, xs: m(xs, targets=[np.array([1, 9])] * len(xs)), "sequence 0, position 1: label 9 is out of range"),
    (lambda m, xs: m(xs, targets=[np.array([1])]), "expected a list of 5 label arrays"),
    (lambda m, xs: m(xs), "scores given targets, or searches"),
    (lambda m, xs: m.run(xs[0][None], np.array([len(xs[0])])), "runs per sequence"),
])
def test_bad_inputs_are_errors(first: tuple[dict, Path], call, words: str) -> None:  # noqa: ANN001
    golden, folder = first
    with pytest.raises(NetcError, match=words.replace("(", r"\(")):
        call(Model(folder), inputs_of(golden))


def test_search_of_a_single_model_and_a_foreign_folder_are_errors(tmp_path: Path) -> None:
    from netc.compiler import compile_graph, save_model
    from netc.ir import Document, graph_from_document

    graph = graph_from_document(Document("n.json", {"output": {"class": "softmax", "n_out": 3}}), 5)
    save_model(compile_graph(graph), tmp_path / "plain.onnx")
    with pytest.raises(NetcError, match="search needs an encoder-decoder"):
        Model(tmp_path / "plain.onnx").search([np.zeros((2, 5), np.float32)])
    (tmp_path / "folder").mkdir()
    with pytest.raises(NetcError, match="decoder.json is missing") as caught:
        Model(tmp_path / "folder")
    assert "folder" in str(caught.value)
    (tmp_path / "folder" / "decoder.json").write_text(json.dumps({"format": "netc-decoder-1", "encoder": "e.onnx"}))
    with pytest.raises(NetcError, match=r"not a netc decoder spec .*: no \['base_beam_score_scale'"):
        Model(tmp_path / "folder")


def netc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netc", *args], capture_output=True, text=True)


def test_cli_compile_and_run_search(first: tuple[dict, Path], tmp_path: Path) -> None:
    golden, _ = first
    config, params = tmp_path / "net.json", tmp_path / "params.npz"
    config.write_text(json.dumps({"network": golden["net"], "extern_data": golden["extern_data"]}))
    np.savez(params, **{k: np.asarray(v, np.float32) for k, v in golden["params"].items()})
    done = netc("compile", str(config), "--params", str(params), "-o", str(tmp_path / "model"))
    assert done.returncode == 0, done.stderr
    xs = inputs_of(golden)
    write_hdf(tmp_path / "feats.hdf", (HdfSeq(f"seq-{i}", x) for i, x in enumerate(xs)), xs[0].shape[1])
    done = netc("run", str(tmp_path / "model"), "--data", str(tmp_path / "feats.hdf"), "-o", str(tmp_path / "h.json"),
                "--search", "--beam-size", "4")
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "h.json").read_text())
    expected = Model(tmp_path / "model").search(xs, beam_size=4)
    assert list(written) == [f"seq-{i}" for i in range(len(xs))]
    for hyps, beam in zip(written.values(), expected):
        assert [(h["labels"], h["score"]) for h in hyps] == [(h.labels.tolist(), h.score) for h in beam]
    done = netc("run", str(tmp_path / "model"), "--data", str(tmp_path / "feats.hdf"), "-o", str(tmp_path / "x.json"),
                "--beam-size", "4")
    assert done.returncode == 2 and "--beam-size goes with --search" in done.stderr
    done = netc("run", str(tmp_path / "model"), "--data", str(tmp_path / "feats.hdf"), "-o", str(tmp_path / "x.json"))
    assert done.returncode == 2 and "is run with --search" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.json").exists()


def test_top_k_keeps_the_lower_index_of_ties() -> None:
    """tf.nn.top_k's order (beam_search's flat index hypothesis * V + label): many ties and -inf fillers."""
    from netc.runtime.search import top_k

    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = rng.integers(-3, 3, (int(rng.integers(1, 4)), int(rng.integers(2, 40)))).astype(np.float32)
        scores[rng.random(scores.shape) < 0.2] = -np.inf
        k = int(rng.integers(1, scores.shape[1]))
        expected = [sorted(range(len(row)), key=lambda i, row=row: (-row[i], i))[:k] for row in scores]
        np.testing.assert_array_equal(top_k(scores, k), expected)


def test_empty_sequences(first: tuple[dict, Path]) -> None:
    """0 frames: no search step (one empty hypothesis, score 0), alone or among others; 0 targets: (0, V)."""
    golden, folder = first
    model, x = Model(folder), inputs_of(golden)[0]
    empty = np.zeros((0, x.shape[1]), np.float32)
    for found in (model.search([empty])[0], model.search([empty, x], beam_size=3)[0]):
        assert [(h.labels.tolist(), h.score, h.ended) for h in found] == [([], 0.0, False)]
    scored = model([empty, x], targets=[np.array([1, 0]), np.zeros(0, np.int32)])
    assert scored[0].shape == (2, 7) and np.isfinite(scored[0]).all() and scored[1].shape == (0, 7)


def test_rows_keep_the_sequences_left() -> None:
    """Rows.keep: `width` rows per kept sequence, states of any shape on axis 0; the first sequences as views."""
    from netc.runtime.search import Rows

    rng = np.random.default_rng(0)
    rows = Rows({"a": rng.standard_normal((4 * 3, 5, 2)).astype(np.float32), "b": np.arange(4 * 3)})
    for keep in ([True, True, False, False], [True, False, True, False], [False, True, True, True],
                 [False] * 4, [True] * 4):
        keep = np.array(keep)
        kept = rows.keep(keep, 3)
        for name, value in rows.feeds.items():
            np.testing.assert_array_equal(kept.feeds[name], value[np.repeat(keep, 3)])
        prefix = keep[:keep.sum()].all()
        assert all(np.shares_memory(v, rows.feeds[k]) == (prefix and keep.any()) for k, v in kept.feeds.items())


def test_empty_sequence_beside_others_with_a_constant_max_seq_len(tmp_path: Path) -> None:
    """max_seq_len 4: the loop runs on 0 encoder frames too (attention over nothing, context 0, as RETURNN's); a
    0-frame sequence among others gets the hypotheses it gets alone, and never breaks its batch-mates'."""
    golden = load(GOLDENS[0])
    net = golden["net"] | {"output": golden["net"]["output"] | {"max_seq_len": 4}}
    model = Model(compiled(golden | {"net": net}, tmp_path / "model"), threads=1)
    x = inputs_of(golden)[0]
    empty = np.zeros((0, x.shape[1]), np.float32)
    together = model.search([empty, x, empty], beam_size=2)
    for got, alone in zip(together, [model.search([empty], beam_size=2)[0], model.search([x], beam_size=2)[0]] * 2):
        assert [(h.labels.tolist(), h.score) for h in got] == [(h.labels.tolist(), h.score) for h in alone]
        assert all(np.isfinite(h.score) for h in got)
    assert max(len(h.labels) for h in together[0]) > 0  # steps ran on 0 frames
    y = np.array([1, 2, 0], np.int32)
    scored = model([empty, x], targets=[y, y])
    np.testing.assert_allclose(scored[0], model([empty], targets=[y])[0], atol=ATOL, rtol=0)
    np.testing.assert_allclose(scored[1], model([x], targets=[y])[0], atol=ATOL, rtol=0)


def test_cli_info_of_a_decoder_folder(first: tuple[dict, Path]) -> None:
    """`netc info FOLDER` prints decoder.json and both models' metadata, as Model(FOLDER) loads them."""
    _, folder = first
    done = netc("info", str(folder))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "decoder.json:" and "  format: netc-decoder-1" in lines
    assert lines.index("encoder.onnx:") < lines.index("  netc.decoder_part: encoder") < \
        lines.index("decoder_step.onnx:") < lines.index("  netc.decoder_part: decoder_step")
    done = netc("info", str(folder.parent))
    assert done.returncode == 2 and "decoder.json is missing" in done.stderr and "Traceback" not in done.stderr


def test_cli_search_output_and_decoder_compile_names(first: tuple[dict, Path], tmp_path: Path) -> None:
    """--search writes JSON: a non-.json output is refused before any work; a decoder compiles to a folder, so
    `-o model.onnx` is refused with nothing written (exit 2, located, no traceback)."""
    golden, folder = first
    xs = inputs_of(golden)
    write_hdf(tmp_path / "feats.hdf", (HdfSeq(f"seq-{i}", x) for i, x in enumerate(xs)), xs[0].shape[1])
    done = netc("run", str(folder), "--data", str(tmp_path / "feats.hdf"), "-o", str(tmp_path / "h.hdf"), "--search")
    assert done.returncode == 2 and "give the output a .json name" in done.stderr and "h.json" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "h.hdf").exists()
    config, params = tmp_path / "net.json", tmp_path / "params.npz"
    config.write_text(json.dumps({"network": golden["net"], "extern_data": golden["extern_data"]}))
    np.savez(params, **{k: np.asarray(v, np.float32) for k, v in golden["params"].items()})
    done = netc("compile", str(config), "--params", str(params), "-o", str(tmp_path / "model.onnx"))
    assert done.returncode == 2 and "not one .onnx file" in done.stderr and "model.onnx" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "model.onnx").exists()


def test_search_of_a_decoder_folders_encoder_says_pass_the_folder(first: tuple[dict, Path], tmp_path: Path) -> None:
    golden, folder = first
    x = inputs_of(golden)[0]
    for part, name in (("encoder", "encoder.onnx"), ("decoder_step", "decoder_step.onnx")):
        with pytest.raises(NetcError, match=f"this is the {part} of an encoder-decoder folder") as caught:
            Model(folder / name)
        assert f"pass the folder: {folder}" in str(caught.value)
    write_hdf(tmp_path / "feats.hdf", [HdfSeq("s", x)], x.shape[1])
    done = netc("run", str(folder / "encoder.onnx"), "--data", str(tmp_path / "feats.hdf"), "-o",
                str(tmp_path / "h.json"), "--search")
    assert done.returncode == 2 and f"pass the folder: {folder}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "h.json").exists()
