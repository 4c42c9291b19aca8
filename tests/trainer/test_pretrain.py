"""`pretrain` as RETURNN does it: the schedule of each construction, and a RETURNN trajectory on 12AX.

tests/trainer/data/returnn_pretrain.json was written by bench/returnn_chunk_goldens.py (RETURNN 1.20261022):
a 2-layer BLSTM with `pretrain "default"` and `pretrain_learning_rate`, 3 epochs without dropout. Its initial
parameters hold the values RETURNN drew for the second layer pair when pretraining added it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from netc.ir import Document, NetcError, init_params
from netc.ir.pretrain import read_pretrain
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

from .returnn_goldens import assert_params_equal, assert_scores_equal, load_golden, train_like

GOLDEN = load_golden("returnn_pretrain")
TABLES = load_golden("returnn_chunk_tables")
LSTM = {"class": "rec", "n_out": 4}


def blstm(layers: int) -> dict:
    net = {"output": {"class": "softmax", "loss": "ce", "from": [f"l{layers - 1}_fw", f"l{layers - 1}_bw"]}}
    for k in range(layers):
        below = ["data"] if k == 0 else [f"l{k - 1}_fw", f"l{k - 1}_bw"]
        net |= {f"l{k}_fw": LSTM | {"from": below}, f"l{k}_bw": LSTM | {"direction": -1, "from": below}}
    return net


def schedule(value: object, network: dict, **keys: object) -> list[dict]:
    pretrain = read_pretrain(Document("config.py", {"network": network, "pretrain": value} | keys))
    return list(pretrain.nets)


def test_default_removes_the_layers_nearest_the_output_step_by_step():
    nets = schedule("default", blstm(3))
    assert [sorted(n) for n in nets] == [sorted(blstm(k)) for k in (1, 2, 3)]
    assert [n["output"]["from"] for n in nets] == [["l0_bw", "l0_fw"], ["l1_bw", "l1_fw"], ["l2_fw", "l2_bw"]]


def test_repetitions_and_construction_algos():
    assert len(schedule({"repetitions": 2}, blstm(3))) == 6
    assert len(schedule({"repetitions": {"default": 1, "final": 3}}, blstm(2))) == 4
    assert len(schedule("default", blstm(3), pretrain_repetitions=[1, 2])) == 5
    assert len(schedule({"construction_algo": "no_network_modifications"}, blstm(3))) == 1
    from_input = schedule({"construction_algo": "from_input"}, blstm(3))
    assert [sorted(n) for n in from_input] == [sorted(blstm(k)) for k in (1, 2, 3)]


@pytest.mark.parametrize("case", TABLES["schedules"], ids=lambda c: json.dumps(c["opts"]))
def test_schedules_are_returnns(case):
    """RETURNN's own `Pretrain` nets: layers, their options and sources, per pretrain epoch."""
    assert schedule(case["opts"] or "default", case["network"]) == case["nets"]


@pytest.mark.parametrize(("value", "message"), [
    ("yes", "unknown pretrain type"), ({"repetition": 2}, "unknown pretrain option 'repetition'"),
    ({"construction_algo": "from_middle"}, "unknown construction_algo"), ({"greedy": True}, "greedy"),
    ({"repetitions": {"default": 1, 7: 2}}, "repetitions key 7 is not a construction step"),
    ({"repetitions": {"x": 2}}, "repetitions key 'x' is not a construction step"),
    ({"output_layers": 5}, "output_layers must be a list"), ({"input_layers": None}, "input_layers must be a list"),
])
def test_bad_values_are_located_errors(value, message):
    with pytest.raises(NetcError, match=message) as info:
        schedule(value, blstm(2))
    assert info.value.where.file == "config.py"


def test_netc_reaches_returnns_scores_checkpoints_and_parameters(tmp_path):
    trainer, lines = train_like(GOLDEN, tmp_path)
    assert_scores_equal(trainer, GOLDEN)
    assert_params_equal(trainer, GOLDEN)
    assert [line.split(" score")[0] for line in lines if "epoch" in line] == [
        "pretrain epoch 1", "pretrain epoch 2", "epoch 3"]
    assert sorted(p.name for p in tmp_path.glob("model*.pt")) == sorted(f"{c}.pt" for c in GOLDEN["checkpoints"])


def test_netc_check_prints_the_schedule(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"network": blstm(3), "pretrain": "default", "num_inputs": 3, "num_outputs": 2}))
    out = subprocess.run([sys.executable, "-m", "netc", "check", str(config)], capture_output=True, text=True,
                         check=True).stdout
    assert "Pretrain construction algo 'from_output', number of pretrain epochs: 3" in out
    assert "pretrain epoch 1: 3 layers output, l0_fw, l0_bw; output from ['l0_bw', 'l0_fw']" in out


def test_resuming_after_a_pretrain_checkpoint_rebuilds_its_network(tmp_path):
    """Stopped after pretrain epoch 2 (`model.pretrain.002.pt`), resumed: the uninterrupted run's parameters."""
    small = GOLDEN | {"config": GOLDEN["config"] | {"train": {"class": "Task12AXDataset", "num_seqs": 20},
                                                    "dev": None}}
    whole, _ = train_like(small, tmp_path / "whole")
    train_like(small, tmp_path / "parts", num_epochs=2)
    resumed, lines = train_like(small, tmp_path / "parts")
    assert any(line.startswith("resuming after epoch 2 from ") and line.endswith("model.pretrain.002.pt")
               for line in lines)
    for name, value in whole.model.named_values().items():
        np.testing.assert_array_equal(resumed.model.named_values()[name], value, err_msg=name)


def test_a_bad_pretrain_option_is_a_located_error_from_netc_check(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"num_inputs": 3, "num_outputs": 2,\n "pretrain": {"repetition": 2},\n'
                      ' "network": {"output": {"class": "softmax", "loss": "ce", "from": ["data"]}}}\n')
    result = subprocess.run([sys.executable, "-m", "netc", "check", str(config)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"netc: error: {config}:2:2, key 'pretrain': unknown pretrain option 'repetition'")
    assert "hint: did you mean 'repetitions'?" in result.stderr


@pytest.mark.parametrize(("mode", "copied"), [(None, {"l0_fw", "l0_bw", "output"}), ("reset", set()),
                                              ({"copy_output_layer": False}, {"l0_fw", "l0_bw"})])
def test_growing_copies_by_name_and_resets_the_optimizer(tmp_path, mode, copied):
    """After pretrain epoch 1, epoch 2's net keeps the trained layers (per copy mode) and new Adam moments."""
    config = tmp_path / "config.json"
    pretrain = mode if isinstance(mode, dict) else {"copy_param_mode": mode} if mode else "default"
    config.write_text(json.dumps({"train": {"class": "Task12AXDataset", "num_seqs": 5}, "num_inputs": 9,
                                  "num_outputs": 2, "network": blstm(2), "pretrain": pretrain, "learning_rate": 0.1,
                                  "optimizer": {"class": "adam"}, "model": str(tmp_path / "model")}))
    trainer = Trainer(prepare(str(config)), log=lambda line: None, progress=False)
    given = {k: v.copy() for k, v in init_params(trainer.setup.graph(), 7).items()}  # the full network's values
    trainer.start_from(given)
    trainer.run_epoch(1)
    trained = trainer.model.named_values()
    assert trainer.optimizer.state
    trainer.grow(2)
    assert not trainer.optimizer.state and sorted(trainer.model.named_values()) == sorted(given)
    for name, value in trainer.model.named_values().items():
        expected = trained[name] if name.split("/")[0] in copied else given[name]
        np.testing.assert_array_equal(value, expected, err_msg=name)
