"""Training semantics of netdict.md section 7 and training.md: objective, dropout, batching, newbob, config."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from netc.data import HdfSeq, write_hdf
from netc.ir import Document, NetcError, graph_from_document, load_graph, param_specs, read_file
from netc.ir.types import DropoutNoise
from netc.trainer.config import TrainConfig, parse_overrides, read_train_config
from netc.trainer.context import RunContext
from netc.trainer.loop import Trainer
from netc.trainer.loss import l2_term
from netc.trainer.lr_control import LrControl, read_lr_file, write_lr_file
from netc.trainer.model import NetModel
from netc.trainer.ordering import LengthLimit, make_batches, seq_order, skip_long
from netc.trainer.setup import prepare

NET = {"hid": {"class": "linear", "activation": "tanh", "n_out": 5, "L2": 0.1},
       "output": {"class": "softmax", "loss": "ce", "from": "hid"}}


def write_config(tmp_path, **keys):
    config = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 6, "seq_len": 5},
              "network": NET, "model": str(tmp_path / "model"), "batch_size": 100, "learning_rate": 1.0} | keys
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


def newbob_rates(scores, kind="newbob", **keys):
    """The learning rate of every epoch, and of the one after the last score."""
    control = LrControl(TrainConfig(learning_rate=0.01, learning_rate_control=kind, **keys))
    rates = []
    for epoch, score in enumerate(scores, 1):
        rates.append(control.lr(epoch))
        control.record(epoch, {"dev_score": score, "train_score": 5.0})
    return [*rates, control.lr(len(scores) + 1)]


def newbob(scores, kind="newbob"):
    return newbob_rates(scores, kind)[-1]


def test_newbob_documented_decisions():
    assert newbob([1.99, 1.9]) == pytest.approx(0.01)
    assert newbob([1.99, 1.985]) == pytest.approx(0.005)
    assert newbob([1.99, 1.9], "newbob_abs") == pytest.approx(0.01)  # -0.09 is below the -0.01 threshold
    assert newbob([1.99, 1.985], "newbob_abs") == pytest.approx(0.005)
    assert newbob([1.99, 1.985], "constant") == pytest.approx(0.01)


MULTI_EPOCH_SCORES = [2.0, 1.8, 1.7, 1.69, 1.688, 1.687, 1.6, 1.5, 1.49, 1.489, 1.4889, 1.48888]


@pytest.mark.parametrize(("keys", "expected"), [
    ({}, [0.01] * 13),
    ({"newbob_multi_num_epochs": 3}, [0.01] * 6 + [0.005] * 6 + [0.0025]),
    ({"newbob_multi_num_epochs": 3, "newbob_multi_update_interval": 1},
     [0.01] * 6 + [0.005] * 5 + [0.0025, 0.00125]),
    ({"newbob_multi_num_epochs": 2, "newbob_multi_update_interval": 2, "min_learning_rate": 0.004},
     [0.01] * 6 + [0.005] * 4 + [0.004] * 3),
])
def test_newbob_multi_epoch_decides_as_returnn(keys, expected):
    """Expected rates computed with RETURNN 1.20261022's NewbobMultiEpoch (learning_rate 0.01, the same
    dev scores): decisions only at epochs 1, 1+k, ...; mean relative change over the last N+1 epochs."""
    assert newbob_rates(MULTI_EPOCH_SCORES, "newbob_multi_epoch", **keys) == pytest.approx(expected)


def test_learning_rate_file_round_trip(tmp_path):
    control = LrControl(TrainConfig(learning_rate=0.01))
    control.record(1, {"dev_score": 1.5, "train_score": 2.0})
    write_lr_file(str(tmp_path / "lr"), control)
    assert "1: EpochData(learningRate=0.01" in (tmp_path / "lr").read_text()
    assert read_lr_file(str(tmp_path / "lr")) == control.state()["epochs"]


def test_l2_covers_all_params_of_the_layer_including_biases(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(NET))
    graph = load_graph(path, 3, 4)
    params = dict(NetModel(graph, seed=1).named_parameters())
    with torch.no_grad():
        params["hid/b"].fill_(2.0)
    expected = 0.1 * (params["hid/W"].square().sum() + 5 * 4.0)
    torch.testing.assert_close(l2_term(graph, params), expected)


def test_dropout_mask_is_shared_by_frames_and_sequences_by_default():
    ctx = RunContext(None, {}, {}, training=True, noise=torch.Generator().manual_seed(0))
    x = torch.ones(24, 50)  # packed frames of all sequences
    mask = ctx.dropout_mask(x, 0.5, DropoutNoise.PER_FEATURE)
    assert mask.shape == (1, 50) and set(mask.unique().tolist()) == {0.0, 2.0}
    per_element = ctx.dropout_mask(x, 0.5, DropoutNoise.PER_ELEMENT)
    assert per_element.shape == x.shape and not torch.equal(per_element[0], per_element[1])


def test_normalized_loss_is_the_sum_divided_by_frames(tmp_path):
    """One SGD step (lr 1): the update of a layer without L2 scales with 1/frames when normalized."""
    updates = {}
    for flag in (False, True):
        trainer = Trainer(prepare(write_config(tmp_path, use_normalized_loss=flag)), log=lambda line: None)
        before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        corpus, _, order, _ = trainer.setup.epoch("train", 1)
        trainer.train_step(corpus, order)
        updates[flag] = {k: v - before[k] for k, v in trainer.model.state_dict().items()}
    frames = 6 * 5
    assert updates[False]["output/W"].abs().max() > 1e-3
    torch.testing.assert_close(updates[True]["output/W"] * frames, updates[False]["output/W"], atol=1e-5, rtol=1e-4)


def test_batches_count_padded_frames_and_max_seqs():
    lengths = np.array([10, 30, 20, 5, 50, 100])
    batches = make_batches(np.arange(6), lengths, batch_size=60, max_seqs=2)
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3], [4], [5]]  # 100 > 60 forms its own batch
    order, skipped = skip_long(np.arange(6), {"data": lengths}, LengthLimit(40))
    assert order.tolist() == [0, 1, 2, 3] and skipped == 2
    assert seq_order("sorted", lengths, 1).tolist() == [3, 0, 2, 1, 4, 5]
    assert seq_order("sorted_reverse", lengths, 1).tolist() == [5, 4, 1, 2, 0, 3]
    assert sorted(seq_order("laplace:3", lengths, 1).tolist()) == list(range(6))


def test_max_seq_length_limits_every_data_key_or_single_keys_as_returnns_numbersdict(tmp_path):
    """returnn/datasets/basic.py `_generate_batches`: skipped if any data key's length exceeds its limit; an int
    limits all keys, a dict single keys, -N is {"classes": N}, 0 and None are no limit."""
    def limit(value):
        return read_train_config(Document("c.json", {"max_seq_length": value})).max_seq_length

    assert limit(0) is None and limit(None) is None and limit(40) == LengthLimit(40)
    assert limit({"classes": 75}) == LengthLimit(keys=(("classes", 75),)) == limit(-75)
    for bad, words in (({"classes": "75"}, "dict of data key to int"), ({"classes": 0}, "must be >= 1"),
                       (1.5, "must be an int")):
        with pytest.raises(NetcError, match=words):
            limit(bad)
    lengths = {"data": np.array([10, 30, 50, 5]), "classes": np.array([8, 20, 3, 9])}
    assert skip_long(np.arange(4), lengths, LengthLimit(25))[0].tolist() == [0, 3]  # both keys count
    assert skip_long(np.arange(4), lengths, limit({"classes": 8}))[0].tolist() == [0, 2]  # input unlimited
    assert skip_long(np.arange(4), lengths, limit({"data": 40, "classes": 10}))[0].tolist() == [0, 3]
    seqs = [HdfSeq(f"s{i}", np.zeros((t, 3), np.float32), {"classes": np.zeros(y, np.int32)})
            for i, (t, y) in enumerate(zip(lengths["data"], lengths["classes"]))]
    write_hdf(tmp_path / "train.hdf", seqs, 3, {"classes": 4})
    config = write_config(tmp_path, train=str(tmp_path / "train.hdf"), max_seq_length={"classes": 8},
                          batching="default")
    _, _, order, skipped = prepare(config).epoch("train", 1)
    assert order.tolist() == [0, 2] and skipped == 2
    with pytest.raises(NetcError, match="data key.*'clases'.*does not have") as e:
        prepare(write_config(tmp_path, train=str(tmp_path / "train.hdf"), max_seq_length={"clases": 8})
                ).epoch("train", 1)
    assert "data, classes" in str(e.value)


def test_overrides_and_bad_values_are_located_errors(tmp_path):
    path = tmp_path / "c.config"
    path.write_text("#!rnn.py\nnum_epochs = 3\noptimizer = {'class': 'adam'}\nbatching = pick()\n")
    doc = read_file(path, overrides=parse_overrides(["++num_epochs", "7", "++batching", "sorted"]))
    config = read_train_config(doc)
    assert config.num_epochs == 7 and config.batching == "sorted" and config.optimizer == "adam"
    with pytest.raises(NetcError, match="num_epochs"):
        read_train_config(Document("c.json", {"num_epochs": "five"}))
    with pytest.raises(NetcError, match="unknown optimizer"):
        read_train_config(Document("c.json", {"optimizer": {"class": "ftrl"}}))
    with pytest.raises(NetcError, match="no such HDF file"):
        prepare(write_config(tmp_path, train="missing.hdf"))
    assert read_train_config(Document("c.json", {"adam": True})).optimizer == "adam"


def test_l2_counts_each_layers_own_parameters_even_when_names_nest():
    from netc.trainer.loss import l2_term

    doc = Document("n.json", {"a": {"class": "linear", "n_out": 2, "L2": 0.5},
                              "a/b": {"class": "linear", "n_out": 2, "from": "a"},
                              "output": {"class": "softmax", "from": "a/b", "loss": "ce"}})
    graph = graph_from_document(doc, 3, 4)
    params = {s.name: torch.ones(s.shape) for s in param_specs(graph)}
    assert float(l2_term(graph, params)) == 0.5 * (3 * 2 + 2)


def test_unused_config_keys_and_dataset_options_are_reported(tmp_path):
    from netc.trainer.setup import prepare

    path = tmp_path / "c.json"
    path.write_text(json.dumps({
        "train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 4, "seq_len": 5,
                  "partition_epoch": 2},
        "network": {"output": {"class": "softmax", "loss": "ce"}}, "use_tensorflow": True}))
    assert prepare(str(path)).warnings == (
        "ignored config keys (they steer only RETURNN itself: back end, processes, caches): use_tensorflow",
        "not implemented, training will differ from RETURNN: train.partition_epoch (2)")


def test_training_leaves_the_process_floating_point_mode_as_it_was(tmp_path):
    """Denormals are flushed during training (as TensorFlow does) and representable again afterwards."""
    tiny = torch.tensor([1e-40])
    assert float(tiny * 1.0) != 0.0
    Trainer(prepare(write_config(tmp_path, num_epochs=1)), log=lambda line: None, progress=False).run()
    assert float(tiny * 1.0) != 0.0


def test_decoder_without_a_target_in_the_dataset_is_a_located_error(tmp_path):
    write_hdf(tmp_path / "feats.hdf", [HdfSeq(f"s{i}", np.ones((4 + i, 3), np.float32), {}) for i in range(3)], 3, {})
    net = {"enc": {"class": "rec", "n_out": 4}, "dec": {"class": "rec", "from": "null", "encoder": ["enc"]},
           "output": {"class": "softmax", "loss": "ce", "from": "dec"}}
    config = write_config(tmp_path, train=str(tmp_path / "feats.hdf"), network=net, num_outputs=4)
    with pytest.raises(NetcError, match="the dataset has no target 'classes'") as error:
        Trainer(prepare(config), log=lambda line: None, progress=False).run()
    assert error.value.where.layer == "dec" and error.value.where.key == "encoder"
