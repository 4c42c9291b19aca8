"""Optimizers, gradient post-processing and learning-rate forms as RETURNN TF reads and runs them.

tests/trainer/data/tf_optimizer_kernels.json (bench/tf_optimizer_kernels.py) holds TensorFlow's own
`ResourceApply*` kernels run on fixed data; the whole-training goldens are in test_optim_parity.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.ir import Document, NetcError
from netc.ir.keys import TRAIN, account
from netc.trainer.config import TrainConfig, read_train_config
from netc.trainer.lr_control import LrControl
from netc.trainer.optim import GradientSteps, TfOptimizer, global_norm, truncated_normal

KERNELS = json.loads((Path(__file__).parent / "data" / "tf_optimizer_kernels.json").read_text())


def config(**values) -> TrainConfig:
    return read_train_config(Document("c.config", values))


@pytest.mark.parametrize("case", KERNELS["cases"], ids=lambda c: f"{c['kind']}-{sorted(c['options'].items())}")
def test_update_equals_tensorflows_kernel(case):
    """Each kind's update is TF's kernel (epsilon placement, initial slots, Nadam's Nesterov step), to 1e-6."""
    p = torch.nn.Parameter(torch.tensor(case["initial"], dtype=torch.float32))
    optimizer = TfOptimizer([p], case["kind"], case["options"] | {"learning_rate_multiplier": 1.0}, case["lr"])
    for grad, expected in zip(case["grads"], case["after"]):
        p.grad = torch.tensor(grad, dtype=torch.float32)
        optimizer.step()
        np.testing.assert_allclose(p.detach().numpy(), np.asarray(expected, np.float32), rtol=0, atol=1e-6)


def test_torch_builtins_differ_from_tensorflow_where_netc_replaces_them():
    """The kernel test can fail: torch's Adam/RMSprop/Adagrad give other numbers on the same data."""
    builtins = {"adam": lambda p, o, lr: torch.optim.Adam([p], lr, (o["beta1"], o["beta2"]), o["epsilon"]),
                "adagrad": lambda p, o, lr: torch.optim.Adagrad([p], lr),
                "rmsprop": lambda p, o, lr: torch.optim.RMSprop([p], lr, o["decay"], o["epsilon"])}
    for case in KERNELS["cases"]:
        if case["kind"] not in builtins or case["options"].get("centered"):
            continue
        p = torch.nn.Parameter(torch.tensor(case["initial"], dtype=torch.float32))
        optimizer = builtins[case["kind"]](p, case["options"], case["lr"])
        for grad in case["grads"]:
            p.grad = torch.tensor(grad, dtype=torch.float32)
            optimizer.step()
        assert np.abs(p.detach().numpy() - np.asarray(case["after"][-1])).max() > 1e-4, case["kind"]


@pytest.mark.parametrize(("values", "kind", "options"), [
    ({}, "sgd", {}),
    ({"adam": True, "nadam": True, "adadelta": True, "adagrad": True, "rmsprop": 0.5}, "adam", {"epsilon": 1e-16}),
    ({"nadam": 1, "adadelta": True, "adagrad": True}, "nadam", {"epsilon": 1e-16, "nesterov": True}),
    ({"adadelta": "true", "adagrad": True, "adadelta_decay": 0.5}, "adadelta", {"rho": 0.95}),
    ({"adagrad": True, "rmsprop": True, "optimizer_epsilon": 0.1}, "adagrad", {"initial_accumulator_value": 0.1}),
    ({"rmsprop": 0.0, "momentum": 0.5}, "rmsprop", {"decay": 0.0, "momentum": 0.5, "epsilon": 1e-16}),
    ({"rmsprop": 1}, "rmsprop", {"decay": 0.9}),
    ({"momentum": 0.9, "nesterov_momentum": 0.9}, "momentum", {"momentum": 0.9, "use_nesterov": False}),
    ({"nesterov_momentum": 0.9}, "sgd", {}),
    ({"optimizer": {"class": "Adam", "beta1": 0.5}, "adagrad": True}, "adam", {"beta1": 0.5, "epsilon": 1e-16}),
    ({"optimizer": {"class": "AdamOptimizer", "epsilon": 0.1}, "optimizer_epsilon": 1.0}, "adam", {"epsilon": 0.1}),
    ({"optimizer": {"class": "rmsprop"}, "momentum": 0.3}, "rmsprop", {"momentum": 0.3, "decay": 0.9}),
    ({"optimizer": {"class": "adam"}, "momentum": 0.3}, "adam", {"beta2": 0.999}),
    ({"optimizer": {"class": "momentum", "use_nesterov": True}, "momentum": 0.3}, "momentum",
     {"momentum": 0.3, "use_nesterov": True}),
    ({"optimizer": {"class": "gradientdescent", "learning_rate_multiplier": 3, "use_locking": True}}, "sgd",
     {"learning_rate_multiplier": 3.0}),
])
def test_optimizer_choice_follows_returnns_priority_and_options(values, kind, options):
    c = config(**values)
    assert c.optimizer == kind
    assert options.items() <= dict(c.optimizer_options).items()


def test_keys_returnn_ignores_are_accepted_and_said(tmp_path):
    doc = Document("c.config", {"adadelta": True, "adadelta_decay": 0.5, "nesterov_momentum": 0.9})
    notes = account(doc, TRAIN).warnings()
    assert len(notes) == 2 and notes[0].endswith(": adadelta_decay") and notes[1].endswith(": nesterov_momentum")
    assert "rho stays 0.95" in notes[0] and "no Nesterov momentum" in notes[1]
    path = tmp_path / "c.config"
    path.write_text("#!rnn.py\nnum_inputs = 9\nnum_outputs = 2\nnesterov_momentum = 0.9\n"
                    "network = {'output': {'class': 'softmax', 'loss': 'ce', 'from': 'data'}}\n")
    result = subprocess.run([sys.executable, "-m", "netc", "check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "RETURNN TF ignores it (no Nesterov momentum" in result.stderr
    assert "nesterov_momentum" in result.stderr


@pytest.mark.parametrize(("values", "message"), [
    ({"adasecant": True}, "'adasecant' is an optimizer of RETURNN's Theano back end"),
    ({"smorms3": 1}, "Theano"),
    ({"mean_normalized_sgd": True}, "Theano"),
    ({"update_multiple_models": 2}, "Theano"),
    ({"optimizer": {"class": "smorms3"}}, "Theano"),
    ({"optimizer": {"class": "ftrl"}}, "unknown optimizer class 'ftrl'"),
    ({"optimizer": {"class": "sgd"}, "momentum": 0.9}, "plain gradient descent, without momentum"),
    ({"optimizer": "adam"}, "a name alone is refused"),
    ({"optimizer": {"beta1": 0.9}}, "needs a 'class'"),
    ({"optimizer": {"class": "adam", "rho": 0.9}}, r"options \['rho'\] are not options of 'adam'"),
    ({"optimizer": {"class": "adam", "learning_rate": 0.1}}, "cannot set learning_rate"),
    ({"optimizer": {"class": "momentum"}}, "needs a momentum value"),
    ({"optimizer": {"class": "adam", "beta1": "big"}}, "wrong type"),
    ({"adam": True, "momentum": 0.9}, "refuses momentum"),
    ({"adam": 0.5}, "must be True or False"),
    ({"learning_rates": "[0.1, 0.2]"}, "a string holding a list is refused"),
    ({"learning_rates": "{1: 0.1"}, "not a literal dict"),
    ({"learning_rates": {0: 0.1}}, "must be a list of rates or a dict"),
    ({"learning_rate_control_error_measure": 3}, "must be a score name"),
    ({"gradient_clip": -1.0}, "must be >= 0"),
    ({"accum_grad_multiple_step": -2}, "must be >= 0"),
])
def test_bad_optimizer_keys_are_located_errors(values, message):
    with pytest.raises(NetcError, match=message) as error:
        config(**values)
    assert error.value.where.key in values


def test_learning_rates_in_all_forms():
    assert config(learning_rates=[0.1, 0.2]).learning_rates == ((1, 0.1), (2, 0.2))
    assert config(learning_rates={3: 1, 1: 0.5}).learning_rates == ((1, 0.5), (3, 1.0))
    assert config(learning_rates="{2: 0.25}").learning_rates == ((2, 0.25),)
    assert config(learning_rate_decay=0.7, newbob_learning_rate_decay=0.2).learning_rate_decay == 0.7
    assert config(newbob_learning_rate_decay=0.2).learning_rate_decay == 0.2
    assert config(learning_rate_control_error_measure="dev_error").learning_rate_control_error_measure == (
        "dev_error",)


def rates(control: LrControl, epochs: int, scores: list[dict[str, float]] | None = None) -> list[float]:
    result = []
    for epoch in range(1, epochs + 1):
        result.append(control.lr(epoch))
        control.record(epoch, scores[epoch - 1] if scores else {"train_score": 1.0})
    return result


def test_fixed_epochs_and_the_most_recent_earlier_rate():
    """A dict fixes its epochs; the others take the most recent earlier epoch's rate, not learning_rate."""
    c = config(learning_rate=0.5, learning_rates={2: 0.1, 4: 0.01})
    assert rates(LrControl(c), 5) == [0.5, 0.1, 0.1, 0.01, 0.01]
    assert rates(LrControl(config(learning_rates=[0.3, 0.2])), 4) == [0.3, 0.2, 0.2, 0.2]


def test_newbob_after_the_list_and_the_error_measure():
    scores = [{"dev_score": 1.0, "dev_error": 0.5}, {"dev_score": 0.5, "dev_error": 0.5},
              {"dev_score": 0.4, "dev_error": 0.5}, {"dev_score": 0.3, "dev_error": 0.5}]
    newbob = {"learning_rate_control": "newbob", "learning_rates": [1.0, 1.0], "newbob_learning_rate_decay": 0.5}
    assert rates(LrControl(config(**newbob)), 4, scores) == [1.0, 1.0, 1.0, 1.0]  # dev_score improves
    by_error = config(**newbob, learning_rate_control_error_measure="dev_error")
    assert rates(LrControl(by_error), 4, scores) == [1.0, 1.0, 0.5, 0.25]  # dev_error does not
    missing = config(**newbob, learning_rate_control_error_measure="dev_nothing")  # RETURNN falls back
    assert rates(LrControl(missing), 4, scores) == [1.0, 1.0, 1.0, 1.0]


def grads_of(values: list[list[float]]) -> list[torch.nn.Parameter]:
    params = [torch.nn.Parameter(torch.zeros(len(v))) for v in values]
    for p, v in zip(params, values):
        p.grad = torch.tensor(v)
    return params


def test_global_norm_is_of_the_raw_gradients_before_value_clipping():
    """RETURNN: clip each value to [-c, c], then scale by clip_norm / the RAW global norm."""
    params = grads_of([[3.0, 4.0], [0.0, 12.0]])  # raw norm 13; after value clipping 1 the norm is sqrt(3)
    GradientSteps(config(gradient_clip=1.0, gradient_clip_global_norm=1.3), params, 0).process(0)
    np.testing.assert_allclose([p.grad.tolist() for p in params], [[0.1, 0.1], [0.0, 0.1]], rtol=1e-6)
    assert float(global_norm([torch.tensor([3.0, 4.0]), None])) == 5.0


def test_accumulation_applies_every_n_global_steps_the_sum_since_the_start():
    """The update is at step % N == N - 1 of the global step (which runs on over epoch ends); it applies the
    sum (not the mean) of all gradients of the run, as RETURNN 1.2026 on TF 2.21 does (measured)."""
    steps = GradientSteps(config(accum_grad_multiple_step=3), params := grads_of([[1.0]]), 0)
    applied = []
    for step in range(10, 17):
        params[0].grad = torch.tensor([float(step)])
        if steps.process(step):
            applied.append((step, float(params[0].grad[0])))
    assert applied == [(11, 10.0 + 11), (14, 10.0 + 11 + 12 + 13 + 14)]


def test_gradient_noise_is_seeded_and_truncated_at_two_stddevs():
    noise = truncated_normal(torch.Size([20000]), 0.3, torch.Generator().manual_seed(5))
    again = truncated_normal(torch.Size([20000]), 0.3, torch.Generator().manual_seed(5))
    assert torch.equal(noise, again) and float(noise.abs().max()) <= 0.6
    assert float(noise.std()) == pytest.approx(0.3 * 0.8796, rel=0.03)  # tf.truncated_normal's std
    params = grads_of([[0.0] * 1000])
    GradientSteps(config(gradient_noise=0.3), params, 7).process(0)
    assert 0.2 < float(params[0].grad.std()) < 0.32


def test_a_checkpoint_of_another_optimizer_is_refused_and_options_stay_the_configs():
    p = torch.nn.Parameter(torch.ones(2))
    adam = TfOptimizer([p], "adam", dict(config(adam=True).optimizer_options), 0.1)
    p.grad = torch.ones(2)
    adam.step()
    rmsprop = TfOptimizer([p], "rmsprop", dict(config(rmsprop=0.5).optimizer_options), 0.1)
    with pytest.raises(ValueError, match="not that of this config's rmsprop optimizer"):
        rmsprop.load_state_dict(adam.state_dict())
    other = TfOptimizer([p], "adam", dict(config(adam=True, optimizer_epsilon=0.5).optimizer_options), 0.1)
    other.load_state_dict(adam.state_dict())
    assert other.param_groups[0]["epsilon"] == 0.5 and torch.equal(other.state[p]["m"], adam.state[p]["m"])


def test_adamw_is_keras_adamw_decoupled_weight_decay_then_adam():
    """Keras 3's AdamW (RETURNN's class "adamw"): `var -= var * wd * lr`, then the Adam step."""
    c = config(optimizer={"class": "adamw", "beta_1": 0.8, "weight_decay": 0.1}, optimizer_epsilon=1e-3)
    assert c.optimizer == "adamw" and dict(c.optimizer_options)["epsilon"] == 1e-3
    p, q = torch.nn.Parameter(torch.tensor([1.0, -2.0])), torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    adamw = TfOptimizer([p], "adamw", dict(c.optimizer_options), 0.5)
    adam = TfOptimizer([q], "adam", dict(config(optimizer={"class": "adam", "beta1": 0.8, "epsilon": 1e-3})
                                         .optimizer_options), 0.5)
    for step in range(3):
        p.grad, q.grad = torch.tensor([0.3, step - 1.0]), torch.tensor([0.3, step - 1.0])
        with torch.no_grad():
            q.mul_(1 - 0.1 * 0.5)
        adamw.step()
        adam.step()
        torch.testing.assert_close(p.detach(), q.detach(), rtol=0, atol=1e-6)
