"""Layer options every layer has (ir/layers/base.py) as the trainer applies them: `trainable`, `spatial_smoothing`
and `darc1` (against RETURNN TF), `param_variational_noise` and `param_dropout`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.ir import Document, NetcError, graph_from_document
from netc.trainer.constraints import constraint_term
from netc.trainer.context import RunContext
from netc.trainer.loop import Trainer
from netc.trainer.loss import l2_term
from netc.trainer.model import NetModel
from netc.trainer.setup import prepare

NET = {"h": {"class": "linear", "activation": "tanh", "n_out": 5, "from": "data", "trainable": False, "L2": 0.1},
       "s": {"class": "subnetwork", "from": "h", "trainable": False,
             "subnetwork": {"a": {"class": "linear", "activation": "relu", "n_out": 4},
                            "output": {"class": "layer_norm", "from": "a"}}},
       "output": {"class": "softmax", "loss": "ce", "from": "s"}}
CONFIG = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 6, "seq_len": 5},
          "network": NET, "num_epochs": 2, "max_seqs": 2, "optimizer": {"class": "adam"}, "learning_rate": 0.05,
          "gradient_noise": 0.3, "device": "cpu"}


def trained(directory: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The parameters before and after two epochs of the config in `directory`."""
    path = directory / "config.json"
    path.write_text(json.dumps(CONFIG | {"model": str(directory / "model")}))
    trainer = Trainer(prepare(str(path), []), log=lambda line: None)
    before = trainer.model.named_values()
    trainer.run()
    return before, trainer.model.named_values()


def test_trainable_false_freezes_a_layer_and_every_sublayer_of_a_subnetwork(tmp_path: Path) -> None:
    """RETURNN leaves a layer's parameters out of the trained variables when it or any enclosing layer has
    `trainable: False` (LayerBase.add_param); L2 and gradient noise do not move them either."""
    before, after = trained(tmp_path)
    frozen = {"h/W", "h/b", "s/a/W", "s/a/b", "s/output/scale", "s/output/bias"}
    assert frozen < set(before)
    for name in frozen:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    for name in set(before) - frozen:
        assert not np.array_equal(after[name], before[name]), name


TRAINABLE = json.loads((Path(__file__).parent / "data" / "returnn_trainable.json").read_text())["cases"]


@pytest.mark.parametrize("case_id", sorted(TRAINABLE))
def test_trainable_false_with_reuse_params_trains_what_returnn_trains(case_id: str) -> None:
    """A shared parameter is frozen exactly when its owner (the layer RETURNN builds first, whose add_param sees
    it first) or a subnetwork around the owner has `trainable: False`; a frozen layer reusing a trainable layer's
    parameter leaves it trained (bench/returnn_trainable_golden.py, RETURNN's get_trainable_params)."""
    case = TRAINABLE[case_id]
    graph = graph_from_document(Document("net.json", case["net"]), 3, 4)
    model = NetModel(graph)
    assert {name for name, p in model.named_parameters() if p.requires_grad} == set(case["trainable"])
    assert len(list(model.parameters())) == len(case["params"])  # RETURNN names b's own bias b/b_1 in one case


CONSTRAINTS = json.loads((Path(__file__).parent / "data" / "returnn_constraints.json").read_text())["cases"]


@pytest.mark.parametrize("case", CONSTRAINTS, ids=[c["id"] for c in CONSTRAINTS])
def test_constraints_and_grad_filter_equal_returnns_value_and_gradient(case: dict) -> None:
    """The terms RETURNN adds to a batch's objective, L2 with them (bench/returnn_constraint_goldens.py; darc1 as
    RETURNN computes
    it under TensorFlow 1, see there), and its gradient with respect to every parameter, through a grad_filter
    that keeps the gradient of all, some or none of the sequences."""
    graph = graph_from_document(Document("net.json", case["net"]), case["num_inputs"], 4)
    params = {k: np.asarray(v, np.float32) for k, v in case["params"].items()}
    model = NetModel(graph, params).train()
    x = np.zeros((len(case["lengths"]), max(case["lengths"]) + 2, case["num_inputs"]), np.float32) + 50.0
    for b, seq in enumerate(case["inputs"]):
        x[b, :len(seq)] = np.asarray(seq, np.float32)
    ctx = model(torch.from_numpy(x), torch.tensor(case["lengths"]))
    terms = [t for t in (constraint_term(graph, ctx), l2_term(graph, dict(model.named_parameters()))) if t is not None]
    value = sum(terms[1:], terms[0])
    np.testing.assert_allclose(value.item(), case["constraint"], rtol=1e-5)
    value.backward()
    for name, expected in case["grads"].items():
        grad = model.get_parameter(name).grad
        got = np.zeros_like(params[name]) if grad is None else grad.numpy()
        np.testing.assert_allclose(got, np.asarray(expected, np.float32), atol=1e-5, rtol=1e-5, err_msg=name)


def test_parameter_noise_and_dropout_apply_in_training_only() -> None:
    """param_variational_noise adds N(0, s^2) to each parameter, param_dropout zeroes a share p of the entries of
    parameters with at least param_dropout_min_ndim dims and scales the rest by 1/(1-p); evaluation sees the
    parameters as they are."""
    net = {"h": {"class": "linear", "n_out": 400, "param_variational_noise": 0.5, "from": "data"},
           "output": {"class": "linear", "n_out": 300, "param_dropout": 0.25, "param_dropout_min_ndim": 2,
                      "from": "h"}}
    graph = graph_from_document(Document("net.json", net), 200, 4)
    model = NetModel(graph, seed=1)
    ctx = RunContext(graph, dict(model.named_parameters()), {}, True, torch.Generator().manual_seed(0))
    W = model.get_parameter("h/W")
    noise = (ctx.param(graph["h"], "W") - W).detach()
    assert abs(noise.mean().item()) < 0.01 and abs(noise.std().item() - 0.5) < 0.01
    V, b = model.get_parameter("output/W"), model.get_parameter("output/b")
    dropped = ctx.param(graph["output"], "W").detach()
    assert abs((dropped == 0).float().mean().item() - 0.25) < 0.01
    torch.testing.assert_close(dropped[dropped != 0], V.detach()[dropped != 0] / 0.75)
    assert torch.equal(ctx.param(graph["output"], "b"), b)  # 1 dim < param_dropout_min_ndim
    evaluation = RunContext(graph, dict(model.named_parameters()), {}, False)
    assert torch.equal(evaluation.param(graph["h"], "W"), W)


def test_training_adds_the_constraints_to_the_objective(tmp_path: Path) -> None:
    """The same training with a large darc1 on the output ends elsewhere than without it."""
    runs = []
    for darc in (0.0, 5.0):
        net = {"h": {"class": "linear", "activation": "tanh", "n_out": 5, "from": "data"},
               "output": {"class": "softmax", "loss": "ce", "from": "h", "darc1": darc}}
        directory = tmp_path / str(darc)
        directory.mkdir()
        path = directory / "config.json"
        path.write_text(json.dumps(CONFIG | {"network": net, "num_epochs": 1, "gradient_noise": 0.0,
                                             "model": str(directory / "model")}))
        trainer = Trainer(prepare(str(path), []), log=lambda line: None)
        trainer.run()
        runs.append(trainer.model.named_values())
    assert not np.allclose(runs[0]["output/W"], runs[1]["output/W"], atol=1e-3)


def test_rec_weight_dropout_drops_recurrent_weights_in_training_only() -> None:
    """NativeLstm2's `unit_opts` rec_weight_dropout: inverted dropout on `rec/W_re` per entry, in training."""
    outputs = {}
    for p in (0.0, 0.5):
        net = {"output": {"class": "rec", "unit": "nativelstm2", "n_out": 6, "unit_opts": {"rec_weight_dropout": p}}}
        model = NetModel(graph_from_document(Document("net.json", net), 3, 4), seed=2)
        x, lens = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([5, 3])
        for training in (False, True):
            ctx = model.train(training)(x, lens, noise=torch.Generator().manual_seed(1))
            outputs[p, training] = ctx.padded("output").detach()
    torch.testing.assert_close(outputs[0.5, False], outputs[0.0, False])
    torch.testing.assert_close(outputs[0.0, True], outputs[0.0, False])
    assert not torch.allclose(outputs[0.5, True], outputs[0.5, False])


@pytest.mark.parametrize(("unit", "opts", "message"), [
    ("nativelstm2", {"forget_bias": 1.0}, "NativeLstm2 asserts it is 0"),
    ("gru", {"forget_bias": 1.0}, "GRUCell has none"),
    ("gru", {"rec_weight_dropout": 0.1}, "an option of the native LSTM"),
    ("nativelstm2", {"rec_weight_dropout": 1.0}, r"must be in \[0, 1\)"),
    ("standardlstm", {"use_peepholes": True}, "not supported by netc"),
    ("standardlstm", {"forget_bais": 0.0}, "unknown entry"),
])
def test_unit_opts_refused_where_the_cell_has_no_such_option(unit: str, opts: dict, message: str) -> None:
    net = {"output": {"class": "rec", "unit": unit, "n_out": 4, "unit_opts": opts}}
    with pytest.raises(NetcError, match=message) as e:
        graph_from_document(Document("net.json", net), 3, 4)
    assert e.value.where.key == "unit_opts"
