"""Train netc on the config of a RETURNN golden file (bench/returnn_chunk_goldens.py) from its initial parameters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

DATA = Path(__file__).parent / "data"


def load_golden(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def train_like(golden: dict, directory: Path, **overrides: object) -> tuple[Trainer, list[str]]:
    """netc trained on the golden's config (plus `overrides`) from its initial parameters; the printed lines."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.json"
    config.write_text(json.dumps(golden["config"] | {"model": str(directory / "model")} | overrides))
    lines: list[str] = []
    trainer = Trainer(prepare(str(config)), log=lines.append, progress=False)
    trainer.start_from({k: np.asarray(v, np.float32) for k, v in golden["initial"].items()})
    trainer.run()
    return trainer, lines


def assert_scores_equal(trainer: Trainer, golden: dict) -> None:
    """Per epoch: train/dev score and error within 2e-5 of RETURNN's, the same learning rate where recorded."""
    for epoch, expected in enumerate(golden["epochs"], 1):
        got = trainer.control.epochs[epoch]
        if "learning_rate" in expected:  # (recorded by the goldens of the learning-rate keys)
            assert got["lr"] == pytest.approx(expected["learning_rate"], rel=1e-9), epoch
        for key in ("train_score", "train_error", "dev_score", "dev_error"):
            assert got["scores"][key] == pytest.approx(expected[key], abs=2e-5), (epoch, key)


def assert_params_equal(trainer: Trainer, golden: dict) -> None:
    """The final parameters within 1e-4 of RETURNN's, the same names."""
    got = trainer.model.named_values()
    assert got.keys() == golden["final"].keys()
    for name, expected in golden["final"].items():
        np.testing.assert_allclose(got[name], np.asarray(expected, np.float32), atol=1e-4, rtol=0, err_msg=name)


def step_losses(trainer: Trainer) -> list[dict[str, float]]:
    """Run `trainer`; each step's losses as RETURNN logs them: per loss layer, summed loss / normalisation count
    (per target frame; CTC per label)."""
    steps: list[dict[str, float]] = []
    run_model = trainer.run_model

    def recorded(batch, model):  # noqa: ANN001, ANN202
        per_layer, ctx = run_model(batch, model)
        stats = [s.detach() for s in per_layer]
        steps.append({node.name: float(s[0] / s[2]) for node, s in zip(trainer.losses, stats)})
        return per_layer, ctx

    trainer.run_model = recorded
    trainer.run()
    return steps


def assert_step_losses_equal(got: list[dict[str, float]], expected: list[dict[str, float]]) -> None:
    """As many steps as RETURNN's, the same loss layers in each, every loss within 1e-5."""
    assert len(got) == len(expected)
    for step, (got_losses, expected_losses) in enumerate(zip(got, expected)):
        assert got_losses.keys() == expected_losses.keys(), step
        for key, value in expected_losses.items():
            assert got_losses[key] == pytest.approx(value, abs=1e-5), (step, key)
