"""A model on class indices (sparse `data`, an LSTM language model): the runtime and `netc run` take int32 label
sequences, check them, and give RETURNN's outputs (the golden of tests/compiler/data/returnn_sparse.json)."""

from __future__ import annotations

import h5py
import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from netc.compiler import compile_graph
from netc.data import HdfReader
from netc.ir import NetcError
from netc.runtime import Model

from netc.cli import main
from tests.compiler.returnn_goldens import graph_of, load_cases, params_of

CASE = load_cases("returnn_sparse.json")["lstm_lm"]
LABELS = [np.asarray(x, np.int32) for x in CASE["inputs"]]


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("lm") / "lm.onnx"
    onnx.save(compile_graph(graph_of(CASE), params_of(CASE)), path)
    return str(path)


def assert_golden(outs: list[np.ndarray]) -> None:
    for out, want in zip(outs, CASE["outputs"], strict=True):
        np.testing.assert_allclose(out, np.asarray(want, np.float32), atol=1e-5)


def test_label_sequences_give_returnns_outputs(lm: str) -> None:
    model = Model(lm, threads=1, batch_frames=4)
    assert model.info.sparse_input
    assert_golden(model(LABELS))
    assert_golden(model([x.astype(np.int64) for x in LABELS]))  # any integer dtype


def test_padded_batch_may_hold_anything_beyond_the_lengths(lm: str) -> None:
    lens = np.array([len(x) for x in LABELS], np.int32)
    data = np.full((len(LABELS), lens.max() + 2), -1, np.int32)
    for b, x in enumerate(LABELS):
        data[b, : len(x)] = x
    out, out_lens = Model(lm, threads=1).run(data, lens)
    assert out_lens.tolist() == lens.tolist()
    assert_golden([out[b, :n] for b, n in enumerate(lens)])


@pytest.mark.parametrize(("seqs", "message"), [
    ([np.zeros((3, 7), np.float32)], "sequence 0 has dtype float32, but this model reads class indices"),
    ([np.zeros((3, 7), np.int32)], r"sequence 0 has shape \(3, 7\), expected class indices \(time,\)"),
    ([np.array([1, 2]), np.array([0, 7, 1])], r"sequence 1, frame 1: class index 7 is out of range 0..6"),
])
def test_wrong_inputs_are_clear_errors(lm: str, seqs: list[np.ndarray], message: str) -> None:
    with pytest.raises(NetcError, match=message):
        Model(lm, threads=1)(seqs)


def test_run_checks_the_valid_frames_of_a_padded_batch(lm: str) -> None:
    with pytest.raises(NetcError, match=r"data\[1\], frame 0: class index -3"):
        Model(lm, threads=1).run(np.array([[1, 2], [-3, 0]], np.int32), np.array([2, 1], np.int32))


def write_sparse_hdf(path: str, seqs: list[np.ndarray], vocab: int) -> None:
    """RETURNN's HDF layout for sparse data: 1-dimensional `inputs`, `inputPattSize` the number of classes."""
    with h5py.File(path, "w") as f:
        f.create_dataset("inputs", data=np.concatenate(seqs).astype(np.int32))
        f.create_dataset("seqLengths", data=np.array([[len(x)] for x in seqs], np.int32))
        f.create_dataset("seqTags", data=np.array([f"seq-{i}" for i in range(len(seqs))], dtype=h5py.string_dtype()))
        f.attrs["inputPattSize"] = vocab
        f.attrs["numSeqs"] = len(seqs)


def test_netc_run_reads_class_indices_from_a_sparse_hdf(lm: str, tmp_path) -> None:
    write_sparse_hdf(str(tmp_path / "in.hdf"), LABELS, CASE["num_inputs"])
    result = CliRunner().invoke(main, ["run", lm, "--data", str(tmp_path / "in.hdf"), "-o", str(tmp_path / "out.hdf"),
                                       "--threads", "1"])
    assert result.exit_code == 0, result.output
    out = HdfReader(tmp_path / "out.hdf")
    assert_golden([out[i].features for i in range(len(LABELS))])


def test_netc_run_refuses_features_for_a_sparse_model(lm: str, tmp_path) -> None:
    from netc.data import HdfSeq, write_hdf

    write_hdf(tmp_path / "in.hdf", [HdfSeq("a", np.zeros((3, 7), np.float32))], 7)
    result = CliRunner().invoke(main, ["run", lm, "--data", str(tmp_path / "in.hdf"), "-o", str(tmp_path / "out.hdf")])
    assert result.exit_code == 2
    assert "the HDF file holds feature vectors, but the model reads class indices" in result.output
