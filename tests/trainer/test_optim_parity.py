"""netc trains with each of RETURNN TF's optimizers and learning-rate forms to RETURNN's own numbers.

tests/trainer/data/returnn_optim.json was written by `bench/returnn_optim_goldens.py` with RETURNN and
TensorFlow: shared initial parameters (a learning-rate-0 run), then per variant (legacy optimizer flags, the
optimizer dict with TF's option names, optimizer_epsilon, gradient clipping, accum_grad_multiple_step,
learning_rates forms, newbob options) 3 epochs of 12AX without dropout: per-epoch scores, learning rates and
the final parameters. From the same parameters netc must print the same scores (2e-5) and reach the same
parameters (1e-4).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

GOLDEN = json.loads((Path(__file__).parent / "data" / "returnn_optim.json").read_text())
# nadam_class: RETURNN 1.2026 cannot build its NadamOptimizer on TF 2.21 (the golden keeps its error);
# tests/trainer/test_optim.py checks netc's Nadam against TF's kernel instead.
VARIANTS = sorted(name for name, variant in GOLDEN["variants"].items() if "returnn_error" not in variant)


def train(directory: Path, name: str, extra: str = "") -> Trainer:
    """netc on the golden's base config plus the variant's keys (as RETURNN read them) plus `extra` lines,
    from RETURNN's initial parameters."""
    config = directory / "config.py"
    base = "".join(f"{k} = {v!r}\n" for k, v in GOLDEN["base"].items())
    config.write_text(base + GOLDEN["variants"][name]["config_py"] + extra + f"model = {str(directory / 'm')!r}\n")
    trainer = Trainer(prepare(str(config)), log=lambda line: None, progress=False)
    trainer.start_from({key: np.asarray(value, np.float32) for key, value in GOLDEN["initial"].items()})
    trainer.global_step = GOLDEN["initial_global_step"]  # RETURNN continues the checkpoint's global_step
    trainer.run()
    return trainer


def differences(trainer: Trainer, name: str) -> tuple[float, float]:
    """The largest differences to RETURNN's numbers: of scores and learning rates, and of final parameters."""
    golden = GOLDEN["variants"][name]
    scores = 0.0
    for epoch, expected in enumerate(golden["epochs"], 1):
        got = trainer.control.epochs[epoch]["scores"] | {"learning_rate": trainer.control.epochs[epoch]["lr"]}
        scores = max(scores, *(abs(got[key] - value) for key, value in expected.items()))
    values = trainer.model.named_values()
    assert values.keys() == golden["final"].keys()
    params = max(float(np.abs(values[k] - np.asarray(v, np.float32)).max()) for k, v in golden["final"].items())
    return scores, params


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_reproduces_returnn(name, tmp_path):
    scores, params = differences(train(tmp_path, name), name)
    assert scores <= 2e-5 and params <= 1e-4, (name, scores, params)


def norm_after_value_clipping(monkeypatch):
    """netc's old order: the global norm of the value-clipped gradients."""
    from netc.trainer import optim

    real = optim.scale_by_global_norm
    monkeypatch.setattr(optim, "scale_by_global_norm",
                        lambda grads, clip, norm: real(grads, clip, optim.global_norm(grads)))


# Each variant with its feature switched off (config lines appended, or a patch): the comparison must fail.
SWITCHED_OFF = {
    "sgd": "optimizer = {'class': 'adam'}\n",
    "adam_flag_epsilon": "optimizer_epsilon = 1e-8\n",  # TF's default instead of the configured epsilon
    "adam_class_options": "optimizer = {'class': 'adam'}\n",
    "adadelta_flag": "optimizer = {'class': 'adadelta', 'rho': 0.5}\n",  # honouring adadelta_decay
    "adadelta_class": "optimizer = {'class': 'adadelta', 'epsilon': 1e-5}\n",
    "adagrad_flag": "adagrad = False\n",  # then rmsprop would win
    "adagrad_class": "optimizer = {'class': 'adagrad'}\n",
    "rmsprop_decay": "rmsprop = True\n",
    "rmsprop_momentum": "momentum = 0.0\n",
    "rmsprop_class_centered": "optimizer = {'class': 'rmsprop', 'decay': 0.7, 'momentum': 0.3, 'epsilon': 1e-4}\n",
    "momentum_flag": "momentum = 0.0\n",
    "momentum_class_nesterov": "optimizer = {'class': 'momentum', 'momentum': 0.8}\n",
    "nesterov_momentum_ignored": "momentum = 0.9\n",  # honouring nesterov_momentum
    "gradient_descent_multiplier": "optimizer = {'class': 'gradientdescent'}\n",
    "gradient_clip": "gradient_clip = 0\n",
    "gradient_clip_global_norm": "gradient_clip_global_norm = 0\n",
    "gradient_clip_both": norm_after_value_clipping,
    "accum_grad_multiple_step": "accum_grad_multiple_step = 0\n",
    "learning_rates_list_newbob": "learning_rate_control = 'constant'\n",
    "learning_rates_dict": "learning_rates = [0.01, 0.5, 0.003]\n",  # epoch 2 at learning_rate
    "learning_rates_string": "learning_rates = None\n",
    "newbob_error_measure": "learning_rate_control_error_measure = None\n",
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_without_its_feature_differs_from_returnn(name, tmp_path, monkeypatch):
    off = SWITCHED_OFF[name]
    if callable(off):
        off(monkeypatch)
    scores, params = differences(train(tmp_path, name, off if isinstance(off, str) else ""), name)
    assert scores > 2e-5 or params > 1e-4, (name, scores, params)
