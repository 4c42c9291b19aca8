"""Training keys in RETURNN's forms (device, task, log, datasets) and what each command reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from netc.data import HdfSeq, write_hdf
from netc.data.datasets import dataset_from_config, training_dims
from netc.ir import Dims, Document, NetcError, Where
from netc.ir.keys import DUMP
from netc.ir.read import Opaque
from netc.trainer.config import read_train_config
from netc.trainer.setup import LogFiles, check_device, prepare

AT = Where("c.config", 3, 1, key="train")
NET = {"output": {"class": "softmax", "loss": "ce"}}
TASK12AX = {"class": "Task12AXDataset", "num_seqs": 4}


def config(**values) -> Document:
    return Document("c.config", values)


@pytest.mark.parametrize(("value", "device"), [
    (None, "auto"), ("auto", "auto"), ("cpu", "cpu"), ("cpu0", "cpu"), ("gpu", "cuda"), ("gpuX", "cuda"),
    ("GPU", "cuda"), ("gpu1", "cuda:1"), ("cuda", "cuda"), ("cuda:2", "cuda:2")])
def test_device_in_returnns_forms(value, device) -> None:
    assert read_train_config(config(device=value)).device == device


@pytest.mark.parametrize(("value", "message"), [
    ("tpu", "unknown device 'tpu'"), ("gpu0,gpu1", "several devices"), (["gpu0", "gpu1"], "several devices")])
def test_device_refused(value, message) -> None:
    with pytest.raises(NetcError, match=message) as error:
        read_train_config(config(device=value))
    assert error.value.where.key == "device"


def test_a_gpu_without_a_gpu_is_a_clear_error(tmp_path, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"network": NET, "train": TASK12AX, "device": "gpu"}))
    with pytest.raises(NetcError, match="device 'gpu' asks for a GPU, but PyTorch finds no GPU") as error:
        check_device(prepare(str(path)))
    assert error.value.hint.startswith("train on the CPU with ++device cpu")
    check_device(prepare(str(path), ["++device", "cpu"]))


def test_task_train_only() -> None:
    read_train_config(config(task="train"))
    with pytest.raises(NetcError, match="task 'search': netc train only trains") as error:
        read_train_config(config(task="search"))
    assert "netc run" in error.value.hint


def test_log_and_verbosity_forms() -> None:
    assert read_train_config(config(log="log/train.log")).log == ("log/train.log",)
    assert read_train_config(config(log=["stdout", "a.log"], log_verbosity=[3, 5])).log == ("a.log",)
    assert read_train_config(config(log="t-$date.log")).log[0][2:6].isdigit()
    assert read_train_config(config(log_verbosity=5)).log_verbosity == (5,)
    with pytest.raises(NetcError, match="never runs commands"):
        read_train_config(config(log="| tee x"))
    with pytest.raises(NetcError, match="verbosity 0..5"):
        read_train_config(config(log_verbosity=7))


def test_log_files_get_the_lines_in_new_folders_unless_verbosity_0(tmp_path) -> None:
    doc = config(log=[str(tmp_path / "a" / "b" / "train.log"), str(tmp_path / "quiet.log")], log_verbosity=[1, 0])
    files = LogFiles(read_train_config(doc))
    files.write("epoch 1 score: 0.5")
    files.write("epoch 2 score: 0.4")
    files.close()
    assert (tmp_path / "a" / "b" / "train.log").read_text() == "epoch 1 score: 0.5\nepoch 2 score: 0.4\n"
    assert not (tmp_path / "quiet.log").exists()


def test_newbob_learning_rate_decay_is_returnns_older_name() -> None:
    assert read_train_config(config(newbob_learning_rate_decay=0.7)).learning_rate_decay == 0.7
    assert read_train_config(config(newbob_learning_rate_decay=0.7, learning_rate_decay=0.6)).learning_rate_decay == 0.6


def hdf(path, num_inputs=3, classes=5) -> str:
    seqs = [HdfSeq(f"s{i}", np.ones((2 + i, num_inputs), np.float32), {"classes": np.zeros(2 + i, np.int32)})
            for i in range(3)]
    write_hdf(path, seqs, num_inputs, {"classes": classes})
    return str(path)


def test_dataset_forms(tmp_path) -> None:
    a, b = hdf(tmp_path / "a.hdf"), hdf(tmp_path / "b.hdf")
    for value in (a, f"{a},{b}", [a, b], {"class": "HDFDataset", "files": [a, b], "cache_byte_size": 0}):
        assert dataset_from_config(value, AT).num_inputs == 3
    assert len(dataset_from_config([a, b], AT)) == 6
    assert dataset_from_config("Task12AXDataset:num_seqs=3", AT).generator.num_seqs == 3
    assert dataset_from_config("config:data", AT, lambda name: {"data": TASK12AX}[name]).generator.num_seqs == 4


@pytest.mark.parametrize(("value", "message"), [
    ("sprint:--config=x.config", r"RASR \(Sprint\) data \('sprint:...'\) cannot be read"),
    ({"class": "ExternSprintDataset", "sprintConfigStr": "x"}, "ExternSprintDataset is RASR"),
    ({"class": "MetaDataset", "datasets": {}}, "dataset class 'MetaDataset' is not one netc reads"),
    ("Task12AXDataset:num_seqs=f(3)", "not literal key=value pairs"),
    ("config:get_data()", "only for a plain key name"),
])
def test_data_netc_cannot_read_says_how_to_go_on(value, message) -> None:
    with pytest.raises(NetcError, match=message) as error:
        dataset_from_config(value, AT)
    assert error.value.where == AT
    if "Sprint" in message or "netc reads" in message:
        assert "++train train.hdf ++dev dev.hdf" in error.value.hint


def test_training_dims_or_why_not(tmp_path) -> None:
    assert training_dims(hdf(tmp_path / "a.hdf"), AT) == (Dims(3, (("classes", 5),)), "")
    assert training_dims(Opaque(3, 9, "calls f()"), AT) == (Dims(), "the train dataset is not computed (calls f())")
    nested = {"class": "HDFDataset", "files": [Opaque(3, 9, "calls glob()")]}
    assert training_dims(nested, AT) == (Dims(), "the train dataset is not computed (calls glob())")
    dims, reason = training_dims("sprint:x", AT)
    assert dims == Dims() and reason.startswith("the train dataset gives none: RASR")


def test_train_without_data_says_how_to_go_on(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"network": NET, "train": "sprint:x", "dev": "sprint:y"}))
    with pytest.raises(NetcError, match="RASR"):
        prepare(str(path))
    setup = prepare(str(path), ["++train", hdf(tmp_path / "t.hdf"), "++dev", hdf(tmp_path / "d.hdf")])
    assert set(setup.datasets) == {"train", "dev"}
    path.write_text(json.dumps({"network": NET}))
    with pytest.raises(NetcError, match="the config has no 'train' dataset"):
        prepare(str(path))


def test_dump_dataset_reads_only_the_data_keys(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"network": NET, "dev": TASK12AX, "train": "sprint:x", "learning_rate": "fast",
                                "task": "search", "batching": "sorted", "device": "tpu"}))
    setup = prepare(str(path), command=DUMP, roles=("dev",))
    assert set(setup.datasets) == {"dev"} and setup.config.batching == "sorted"
    with pytest.raises(NetcError, match="learning_rate"):
        prepare(str(path), ["++train", "x.hdf"])
