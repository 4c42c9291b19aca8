"""`netc train` on class-index `data` (LSTM language models): RETURNN's sparse HDF inputs, an embedding
lookup for `linear` on them, CE on `classes`; the trained checkpoint compiles to the same log-probs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from netc.data import HdfSeq, write_hdf
from netc.data.hdf import HdfReader
from netc.ir import Document, NetcError, graph_from_document
from netc.trainer.batching import collate
from netc.trainer.checkpoint import load_params
from netc.trainer.loop import Trainer
from netc.trainer.model import NetModel
from netc.trainer.setup import prepare

from netc.cli import main
from tests.helpers import session
from tests.trainer.returnn_goldens import assert_params_equal, assert_scores_equal

V = 10
NET = {"embed": {"class": "linear", "activation": None, "n_out": 6, "with_bias": False, "from": "data"},
       "lstm": {"class": "rec", "unit": "lstm", "n_out": 8, "from": "embed"},
       "output": {"class": "softmax", "loss": "ce", "from": "lstm"}}
DIMS = {"extern_data": {"data": {"dim": V, "sparse": True}, "classes": {"dim": V, "sparse": True}},
        "num_outputs": {"data": [V, 1], "classes": [V, 1]}}


def lm_corpus(count: int, seed: int = 0) -> list[HdfSeq]:
    """Counting sequences (next label = label + 1 mod V) from random starts: `classes` is `data` shifted."""
    rng = np.random.default_rng(seed)
    seqs = []
    for i in range(count):
        length = int(rng.integers(3, 9))
        labels = (int(rng.integers(V)) + np.arange(length + 1)) % V
        seqs.append(HdfSeq(f"seq-{i}", labels[:-1].astype(np.int32), {"classes": labels[1:].astype(np.int32)}))
    return seqs


def write_lm(tmp_path: Path, dims: str) -> tuple[Path, Path]:
    hdf = tmp_path / "lm.hdf"
    write_hdf(hdf, lm_corpus(20), V, {"classes": V}, sparse_inputs=True)
    config = {"train": str(hdf), "network": NET, dims: DIMS[dims], "num_epochs": 2, "max_seqs": 4,
              "optimizer": {"class": "adam"}, "learning_rate": 0.05, "model": str(tmp_path / "model"),
              "device": "cpu", "log_verbosity": 3}
    path = tmp_path / "lm.json"
    path.write_text(json.dumps(config))
    return path, hdf


def test_sparse_hdf_is_stored_as_returnn_stores_it(tmp_path) -> None:
    hdf = tmp_path / "lm.hdf"
    seqs = lm_corpus(3)
    write_hdf(hdf, seqs, V, {"classes": V}, sparse_inputs=True)
    reader = HdfReader(hdf)
    assert reader.sparse_inputs and reader.num_inputs == V and reader.file["inputs"].dtype == np.int32
    assert reader.file["inputs"].ndim == 1 and reader.file.attrs["inputPattSize"] == V
    for i, seq in enumerate(seqs):
        np.testing.assert_array_equal(reader[i].features, seq.features)
        np.testing.assert_array_equal(reader[i].targets["classes"], seq.targets["classes"])
    batch = collate([reader[0], reader[1]], V, sparse=True)
    assert batch.data.dtype == torch.int64 and batch.data.shape == (2, int(batch.lengths.max()))
    with pytest.raises(NetcError, match="outside"):
        collate([reader[0]], 3, sparse=True)
    with pytest.raises(NetcError, match="class indices"):
        collate([reader[0]], V)
    reader.close()


@pytest.mark.parametrize("dims", ["extern_data", "num_outputs"])
def test_lm_trains_and_its_checkpoint_compiles_to_the_same_log_probs(tmp_path, dims: str) -> None:
    config, hdf = write_lm(tmp_path, dims)
    result = CliRunner().invoke(main, ["train", str(config)])
    assert result.exit_code == 0, result.output
    scores = [float(s) for s in re.findall(r"epoch \d+ score: ([0-9.]+)", result.output)]
    assert len(scores) == 2 and scores[1] < scores[0], result.output

    checkpoint = tmp_path / "model.002.pt"
    out = tmp_path / "lm.onnx"
    result = CliRunner().invoke(main, ["compile", str(config), "--params", str(checkpoint), "-o", str(out)])
    assert result.exit_code == 0, result.output

    graph = graph_from_document(Document(str(config), json.loads(config.read_text())))
    model = NetModel(graph, load_params(str(checkpoint))).eval()
    reader = HdfReader(hdf)
    batch = collate([reader[i] for i in range(5)], V, sparse=True)
    reader.close()
    with torch.no_grad():
        torch_probs = model(batch.data, batch.lengths).padded("output").numpy()
    probs = session(out).run(["output"], {"data": batch.data.numpy().astype(np.int32),
                                          "data:size1": batch.lengths.numpy().astype(np.int32)})[0]
    valid = np.arange(probs.shape[1])[None, :] < batch.lengths.numpy()[:, None]
    np.testing.assert_allclose(np.log(probs[valid]), np.log(torch_probs[valid]), atol=1e-5)


GOLDEN = json.loads((Path(__file__).parent / "data" / "returnn_lm.json").read_text())


@pytest.fixture(scope="module")
def trained_like_returnn(tmp_path_factory):
    """netc from RETURNN's initial parameters on the sequences of bench/returnn_lm_golden.py (2 epochs of Adam)."""
    directory = tmp_path_factory.mktemp("returnn_lm")
    hdf = directory / "lm.hdf"
    write_hdf(hdf, [HdfSeq(f"seq-{i}", np.array(s[:-1], np.int32), {"classes": np.array(s[1:], np.int32)})
                    for i, s in enumerate(GOLDEN["sequences"])], V, {"classes": V}, sparse_inputs=True)
    config = directory / "config.json"
    config.write_text(json.dumps(GOLDEN["config"] | {"train": str(hdf), "dev": str(hdf),
                                                     "model": str(directory / "model")}))
    trainer = Trainer(prepare(str(config)), log=lambda line: None, progress=False)
    trainer.start_from({k: np.asarray(v, np.float32) for k, v in GOLDEN["initial"].items()})
    trainer.run()
    return trainer


def test_lm_scores_of_every_epoch_equal_returnns(trained_like_returnn):
    assert_scores_equal(trained_like_returnn, GOLDEN)


def test_lm_parameters_after_2_epochs_equal_returnns(trained_like_returnn):
    assert_params_equal(trained_like_returnn, GOLDEN)


def test_lm_trains_in_chunks_and_refuses_a_window(tmp_path) -> None:
    config, _ = write_lm(tmp_path, "extern_data")
    result = CliRunner().invoke(main, ["train", str(config), "++chunking", "4:2", "++num_epochs", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model.001.pt").exists()
    with pytest.raises(NetcError, match="window applies to feature frames") as e:
        prepare(str(config), ["++window", "3"]).graph()
    assert e.value.where.key == "window"


def test_an_input_label_outside_the_vocabulary_is_an_error_naming_the_sequence(tmp_path) -> None:
    seqs = lm_corpus(3)
    seqs[1] = HdfSeq("seq-1", np.array([1, 12, 3], np.int32), {"classes": np.array([2, 3, 4], np.int32)})
    write_hdf(tmp_path / "lm.hdf", seqs, 13, {"classes": V}, sparse_inputs=True)
    config = {"train": str(tmp_path / "lm.hdf"), "network": NET, "extern_data": DIMS["extern_data"],
              "num_epochs": 1, "model": str(tmp_path / "model")}
    (tmp_path / "lm.json").write_text(json.dumps(config))
    with pytest.raises(NetcError, match="sequence 'seq-1': 'data' holds label 12, outside the network's 10 classes"):
        Trainer(prepare(str(tmp_path / "lm.json")), log=lambda line: None, progress=False).run()
