"""Faults in training: NaN loss, a full disk, a damaged checkpoint. Each ends in a clear message, and
running again reaches the parameters of an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from netc.trainer.checkpoint import load_params

from netc.cli import main

NET = {"lstm": {"class": "rec", "n_out": 4}, "output": {"class": "softmax", "loss": "ce", "from": "lstm"}}


def config(directory: Path, **keys: object) -> Path:
    directory.mkdir()
    values = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 8, "seq_len": 5},
              "network": NET, "num_epochs": 3, "max_seqs": 4, "optimizer": {"class": "adam"},
              "learning_rate": 0.01, "model": str(directory / "model"), "device": "cpu"} | keys
    path = directory / "config.json"
    path.write_text(json.dumps(values))
    return path


def train(path: Path, *overrides: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["train", str(path), *overrides])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def final_params(directory: Path, epoch: int = 3) -> dict[str, np.ndarray]:
    return load_params(str(directory / f"model.{epoch:03d}.pt"))


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_good_checkpoint(tmp_path: Path) -> None:
    path = config(tmp_path / "run", optimizer={"class": "sgd"}, learning_rates=[0.01, 1e38, 0.01])
    code, _, err = train(path)
    assert code == 2
    assert "the training loss is inf at epoch 2, step 2; stopped before updating the parameters" in err
    assert "the last good checkpoint is" in err and "model.001.pt" in err
    assert sorted(p.name for p in (tmp_path / "run").glob("model.*")) == ["model.001.pt"]
    assert all(np.isfinite(v).all() for v in final_params(tmp_path / "run", 1).values())


def test_full_disk_is_a_message_and_running_again_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert train(config(tmp_path / "whole"))[0] == 0
    path = config(tmp_path / "run")
    real_save = torch.save
    calls = []

    def save_until_disk_full(obj: object, f: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_save(obj, f)

    monkeypatch.setattr(torch, "save", save_until_disk_full)
    code, _, err = train(path)
    assert code == 2 and "cannot write the checkpoint: No space left on device" in err and "model.002.pt" in err
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "model.001.pt"]
    monkeypatch.setattr(torch, "save", real_save)
    code, out, _ = train(path)
    assert code == 0 and "resuming after epoch 1" in out
    assert_same(final_params(tmp_path / "run"), final_params(tmp_path / "whole"))


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_newest_checkpoint_is_skipped(tmp_path: Path, damage: str) -> None:
    assert train(config(tmp_path / "whole"))[0] == 0
    path = config(tmp_path / "run")
    assert train(path, "++num_epochs", "2")[0] == 0
    newest = tmp_path / "run" / "model.002.pt"
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" * 100)
    code, out, _ = train(path)
    assert code == 0
    assert "warning: skipping damaged checkpoint" in out and "model.002.pt" in out
    assert "resuming after epoch 1" in out
    assert_same(final_params(tmp_path / "run"), final_params(tmp_path / "whole"))


def test_unwritable_model_directory_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    code, _, err = train(config(tmp_path / "run", model=str(tmp_path / "file" / "sub" / "model")))
    assert code == 2
    assert "cannot create the checkpoint directory" in err and "point `model` at a writable directory" in err
