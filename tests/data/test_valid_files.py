"""`netc train` and `netc run` agree on what a valid HDF file is: both accept 0-frame sequences and empty
transcriptions, both refuse a damaged file with the same located message (both read through HdfReader)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from netc.compiler import compile_graph, save_model
from netc.data import HdfReader, HdfSeq, write_hdf
from netc.ir import load_graph
from netc.trainer.checkpoint import load_checkpoint

from netc.cli import main

F, C = 3, 4
NET = {"fw": {"class": "rec", "n_out": 5}, "output": {"class": "softmax", "loss": "ce", "from": "fw"}}
LENGTHS = [5, 0, 7, 3, 0, 6, 4, 2]


def write_data(path, lengths):
    rng = np.random.default_rng(0)
    seqs = [HdfSeq(f"corpus/{i}", rng.standard_normal((n, F)).astype(np.float32),
                   {"classes": rng.integers(0, C, n).astype(np.int32)}) for i, n in enumerate(lengths)]
    write_hdf(path, [s for s in seqs if len(s.features) in lengths], F, {"classes": C})


def train(tmp_path, name, data):
    config = tmp_path / f"{name}.json"
    config.write_text(json.dumps({"train": str(data), "dev": str(data), "network": NET, "device": "cpu",
                                  "model": str(tmp_path / name / "m"), "num_epochs": 2, "batching": "sorted",
                                  "max_seqs": 2, "batch_size": 20, "learning_rate": 0.01,
                                  "optimizer": {"class": "adam"}}))
    return CliRunner().invoke(main, ["train", str(config)])


def run(tmp_path, data):
    net = tmp_path / "net.json"
    net.write_text(json.dumps(NET))
    save_model(compile_graph(load_graph(net, F, C)), tmp_path / "m.onnx")
    return CliRunner().invoke(main, ["run", str(tmp_path / "m.onnx"), "--data", str(data),
                                     "-o", str(tmp_path / "out.hdf"), "--threads", "1"])


def test_empty_sequences_train_as_without_them_and_run(tmp_path):
    """Sorted with max_seqs 2, the two 0-frame sequences form a batch of no frames, which RETURNN stops on
    (bench/returnn_empty.py); netc leaves that batch out, so training equals training without them."""
    write_data(tmp_path / "with.hdf", LENGTHS)
    write_data(tmp_path / "without.hdf", [n for n in LENGTHS if n])
    logs = {}
    for name in ("with", "without"):
        result = train(tmp_path, name, tmp_path / f"{name}.hdf")
        assert result.exit_code == 0, result.output
        logs[name] = [line for line in result.output.splitlines() if "score" in line]
    assert [line.split("elapsed")[0] for line in logs["with"]] == [line.split("elapsed")[0] for line in logs["without"]]
    params = [load_checkpoint(str(tmp_path / name / "m.002.pt"))["params"] for name in ("with", "without")]
    for key, value in params[1].items():
        np.testing.assert_array_equal(params[0][key].numpy(), value.numpy())
    result = run(tmp_path, tmp_path / "with.hdf")
    assert result.exit_code == 0, result.output


def damage(path, how):
    with h5py.File(path, "r+") as f:
        lengths = f["seqLengths"][...]
        if how == "negative":
            lengths[2] = [-7, -7]
        else:  # the targets' total no longer matches targets/data/classes
            lengths[2, 1] += 1
        del f["seqLengths"]
        f["seqLengths"] = lengths


@pytest.mark.parametrize(("how", "message"), [
    ("negative", "sequence 2 (tag 'corpus/2') has a negative length [-7, -7] in seqLengths"),
    ("targets", "seqLengths add up to 28 frames, but targets/data/classes has 27"),
])
def test_damaged_files_are_refused_alike(tmp_path, how, message):
    write_data(tmp_path / "d.hdf", LENGTHS)
    damage(tmp_path / "d.hdf", how)
    for result in (train(tmp_path, "t", tmp_path / "d.hdf"), run(tmp_path, tmp_path / "d.hdf")):
        assert result.exit_code == 2
        assert f"netc: error: {tmp_path / 'd.hdf'}: {message}" in result.output


def test_dump_dataset_keeps_empty_sequences(tmp_path):
    write_data(tmp_path / "with.hdf", LENGTHS)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"train": str(tmp_path / "with.hdf"), "network": NET, "batching": "default"}))
    result = CliRunner().invoke(main, ["dump-dataset", str(config), "-o", str(tmp_path / "out.hdf")])
    assert result.exit_code == 0, result.output
    reader = HdfReader(tmp_path / "out.hdf")
    assert reader.input_lengths.tolist() == LENGTHS and reader.target_lengths["classes"].tolist() == LENGTHS
    assert reader[1].features.shape == (0, F) and reader[1].targets["classes"].shape == (0,)
