"""Training errors name the network and the time axis they come from: a pretrain network that the config does
not contain (F22), a CE loss on a time axis that a layer derived from the input's (F14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netc.ir import Document, NetcError
from netc.ir.pretrain import read_pretrain
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

DUMMY = {"train": {"class": "DummyDataset", "input_dim": 5, "output_dim": 3, "num_seqs": 4, "seq_len": 7},
         "num_inputs": 5, "num_outputs": 3, "num_epochs": 2, "learning_rate": 0.01}
CHUNKED = {"chunk": {"class": "time_chunking", "chunk_size": 4, "chunk_step": 2, "from": "data"},
           "fw0": {"class": "linear", "activation": "tanh", "n_out": 6, "from": "chunk"},
           "fw1": {"class": "linear", "activation": "tanh", "n_out": 6, "from": "fw0"},
           "unchunk": {"class": "time_unchunking", "chunking_layer": "chunk", "from": "fw1"},
           "output": {"class": "softmax", "loss": "ce", "from": "unchunk"}}


def trainer(tmp_path: Path, **config: object) -> Trainer:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(DUMMY | {"model": str(tmp_path / "model")} | config))
    return Trainer(prepare(str(path)), log=lambda line: None, progress=False)


def test_a_pretrain_networks_error_names_its_epoch_and_what_pretrain_removed(tmp_path: Path) -> None:
    """`from_output` removes time_unchunking (RETURNN's construction does too, and its CE then fails):
    the error is epoch 1's network's, not the config's, which trains without pretrain."""
    with pytest.raises(NetcError) as e:
        trainer(tmp_path, network=CHUNKED, pretrain="default")
    assert e.value.message.startswith("in the network of pretrain epoch 1 (construction 'from_output' removed "
                                      "fw0, fw1, unchunk; output from ['chunk']): loss 'ce' on a batch of chunks")
    assert e.value.where.layer == "output" and e.value.where.key == "loss"
    assert "skip this step with repetitions {0: 0}" in (e.value.hint or "")
    trainer(tmp_path, network=CHUNKED)


def test_an_error_of_the_full_network_is_left_as_it_is() -> None:
    pretrain = read_pretrain(Document("c.py", {"network": CHUNKED, "pretrain": {"repetitions": 2}}))
    assert pretrain is not None and [pretrain.step_of(epoch) for epoch in (1, 2, 3, 7, 8)] == [0, 0, 1, 3, 3]
    error = NetcError("bad")
    assert pretrain.explain(pretrain.nets[-1], error) is error
    assert pretrain.explain(pretrain.nets[2], error).message.startswith("in the network of pretrain epochs 3-4 ")


def test_ce_on_a_derived_time_axis_names_that_axis(tmp_path: Path) -> None:
    """Not "the decoder's time axis" (the net has no decoder): the pooled axis the loss layer is on."""
    net = {"p": {"class": "pool", "mode": "max", "pool_size": [2], "padding": "same", "from": "data"},
           "output": {"class": "softmax", "loss": "ce", "from": "p"}}
    with pytest.raises(NetcError) as e:
        trainer(tmp_path, network=net, num_epochs=1).run()
    assert "target 'classes' is not frame-aligned with the layer's time axis T_data/2" in e.value.message
    assert "decoder" not in str(e.value) and e.value.where.key == "target"
