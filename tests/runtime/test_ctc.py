"""CTC models in the runtime: log-probs by default, `Model.ctc_greedy`, `netc run --ctc-greedy`."""

from __future__ import annotations

import itertools
import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from netc.compiler import compile_graph, save_model
from netc.ir import NetcError, load_graph
from netc.runtime import Model
from netc.runtime.ctc import greedy_labels

from netc.cli import main
from tests.helpers import ragged_batch
from tests.reference import reference_output

from .conftest import F, random_params, sequences
from .test_run_command import LENGTHS, TAGS, write_features

LABELS = 3  # the target's classes; the CTC softmax has LABELS + 1 outputs, the blank last
NET = {"fw": {"class": "rec", "n_out": 6}, "bw": {"class": "rec", "n_out": 5, "direction": -1},
       "output": {"class": "softmax", "loss": "ctc", "from": ["fw", "bw"]}}


@pytest.fixture(scope="module")
def ctc_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ctc")
    (directory / "net.json").write_text(json.dumps(NET))
    graph = load_graph(directory / "net.json", F, LABELS)
    params = random_params(graph, seed=3)
    save_model(compile_graph(graph, params), directory / "ctc.onnx")
    return directory / "ctc.onnx", params


def best_path(scores: np.ndarray, blank: int) -> list[int]:
    """The textbook definition: arg-max per frame, runs collapsed, blanks removed."""
    return [k for k, _ in itertools.groupby(np.argmax(scores, axis=-1).tolist()) if k != blank]


def test_a_ctc_model_gives_log_probs_of_labels_and_blank(ctc_model):
    path, params = ctc_model
    model = Model(path, threads=1)
    assert model.info.metadata["netc.output_kind"] == "log-probs"
    assert model.info.metadata["netc.ctc_blank"] == str(LABELS) and model.info.num_outputs == LABELS + 1
    x, lens = ragged_batch(np.random.default_rng(0), [7, 1, 12, 3], F)
    out, out_lens = model.run(x, lens)
    expected, _ = reference_output(NET, params, x, lens, output_kind="log-probs")
    np.testing.assert_allclose(out, expected, atol=1e-5)
    for b, n in enumerate(out_lens):
        np.testing.assert_allclose(np.exp(out[b, :n]).sum(axis=-1), 1.0, atol=1e-5)


def test_ctc_greedy_is_the_best_path_of_the_log_probs(ctc_model):
    path, params = ctc_model
    model = Model(path, threads=1)
    seqs = [np.random.default_rng(k).normal(0, 3, (n, F)).astype(np.float32) for k, n in enumerate([1, 2, 9, 40])]
    decoded = model.ctc_greedy(seqs)
    assert [d.dtype for d in decoded] == [np.int32] * len(seqs)
    assert sum(len(d) for d in decoded) > 0, "the test needs non-blank frames"
    for x, got in zip(seqs, decoded):
        expected, _ = reference_output(NET, params, x[None], np.array([len(x)]), output_kind="log-probs")
        assert got.tolist() == best_path(expected[0], blank=LABELS)


def test_greedy_labels_merges_repeats_only_between_blanks():
    scores = np.eye(4)[[1, 1, 3, 1, 0, 0, 3, 3, 2]]  # argmax per frame; 3 is the blank
    assert greedy_labels(scores, blank=3).tolist() == [1, 1, 0, 2]
    assert greedy_labels(np.eye(4)[[3, 3]], blank=3).tolist() == []


def test_ctc_greedy_refuses_a_model_without_ctc(models):
    with pytest.raises(NetcError, match="not compiled from a CTC output layer"):
        Model(models["blstm"].path, threads=1).ctc_greedy([np.zeros((3, F), np.float32)])


def test_run_ctc_greedy_writes_labels_with_the_same_tags(ctc_model, tmp_path):
    path, _ = ctc_model
    write_features(tmp_path / "in.hdf")
    result = CliRunner().invoke(main, ["run", str(path), "--data", str(tmp_path / "in.hdf"), "-o",
                                       str(tmp_path / "labels.hdf"), "--ctc-greedy", "--batch-size", "40"])
    assert result.exit_code == 0, result.output
    expected = Model(path, threads=1).ctc_greedy(sequences(12, LENGTHS))
    with h5py.File(tmp_path / "labels.hdf", "r") as f:
        assert [t.decode() for t in f["seqTags"][...]] == TAGS
        lengths = f["seqLengths"][...]
        assert lengths[:, 0].tolist() == [len(e) for e in expected] and f["inputs"].dtype == np.int32
        assert f.attrs["numLabels"] == LABELS and f.attrs["inputPattSize"] == LABELS
        got = np.split(f["inputs"][...], np.cumsum(lengths[:, 0])[:-1])
    assert [g.tolist() for g in got] == [e.tolist() for e in expected]


def test_run_ctc_greedy_on_a_non_ctc_model_exits_2_and_writes_nothing(models, tmp_path):
    write_features(tmp_path / "in.hdf")
    result = CliRunner().invoke(main, ["run", str(models["blstm"].path), "--data", str(tmp_path / "in.hdf"), "-o",
                                       str(tmp_path / "labels.hdf"), "--ctc-greedy"])
    assert result.exit_code == 2 and "not compiled from a CTC output layer" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["in.hdf"]
