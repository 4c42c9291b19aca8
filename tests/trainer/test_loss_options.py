"""Loss options as RETURNN computes them: CE per frame (label smoothing, focal loss) and the objective's scales."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from netc.ir import NetcError, load_graph
from netc.trainer.loss import frame_losses, objective


def log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.logaddexp.reduce(x, axis=-1, keepdims=True)


def returnn_ce(logits: np.ndarray, targets: np.ndarray, smoothing: float, focal: float) -> np.ndarray:
    """RETURNN's CrossEntropyLoss.get_value per frame, written from smoothing_cross_entropy (float64)."""
    classes = logits.shape[-1]
    log_probs = log_softmax(logits)
    nll = -log_probs[np.arange(len(targets)), targets]
    loss = nll
    if smoothing:
        confidence, low = 1.0 - smoothing, smoothing / (classes - 1)
        soft = np.full(logits.shape, low)
        soft[np.arange(len(targets)), targets] = confidence
        normalizing = -(confidence * np.log(confidence) + (classes - 1) * low * np.log(low + 1e-20))
        loss = -(soft * log_probs).sum(axis=-1) - normalizing
    if focal:
        loss = loss * (1.0 - np.exp(-nll)) ** focal
    return loss


@pytest.mark.parametrize("smoothing,focal", [(0.0, 0.0), (0.1, 0.0), (0.0, 2.0), (0.2, 1.5)])
def test_frame_losses_follow_returnns_formulas(smoothing, focal):
    rng = np.random.default_rng(0)
    logits, targets = rng.normal(0, 2, (50, 7)), rng.integers(0, 7, 50)
    got = frame_losses(torch.tensor(logits), torch.tensor(targets), smoothing, focal).numpy()
    np.testing.assert_allclose(got, returnn_ce(logits, targets, smoothing, focal), rtol=1e-10, atol=1e-12)


def loss_nodes(tmp_path, **options):  # noqa: ANN001, ANN003, ANN201
    net = {"aux": {"class": "softmax", "loss": "ce"} | options.get("aux", {}),
           "output": {"class": "softmax", "loss": "ce"} | options.get("output", {})}
    (tmp_path / "net.json").write_text(json.dumps(net))
    graph = load_graph(tmp_path / "net.json", 4, 3)
    return [graph["aux"], graph["output"]]


def test_objective_scales_only_the_objective_and_scale_0_leaves_a_loss_out(tmp_path):
    values = [torch.tensor([10.0, 1.0, 4.0]), torch.tensor([6.0, 2.0, 3.0])]
    norms = torch.tensor([4.0, 3.0])
    nodes = loss_nodes(tmp_path, aux={"loss_scale": 0.5}, output={"loss_opts": {"scale": 2.0}})
    assert objective(values, nodes, norms, False).item() == pytest.approx(0.5 * 10 + 2 * 6)
    assert objective(values, nodes, norms, True).item() == pytest.approx(0.5 * 10 / 4 + 2 * 6 / 3)
    nodes = loss_nodes(tmp_path, aux={"loss_opts": {"scale": 0.0}, "loss_only_on_non_search": True})
    assert objective(values, nodes, norms, False).item() == pytest.approx(6.0)


def test_an_infinite_loss_stays_infinite(tmp_path):
    values = [torch.tensor([float("inf"), 0.0, 1.0]), torch.tensor([1.0, 0.0, 1.0])]
    assert objective(values, loss_nodes(tmp_path), torch.ones(2), False).item() == float("inf")


@pytest.mark.parametrize("options,message", [
    ({"loss_scale": 0.5, "loss_opts": {"scale": 2.0}}, "loss_scale and loss_opts.scale differ"),
    ({"loss_opts": {"beam_width": 3}}, "is an option of loss 'ctc'"),
    ({"loss_opts": {"label_smoothing": 1.0}}, "label_smoothing must be in [0, 1)"),
    ({"loss_opts": {"custom_norm_factor": 2.0}}, "'custom_norm_factor' is not supported by netc"),
])
def test_bad_loss_options_are_located_errors(tmp_path, options, message):
    with pytest.raises(NetcError, match=message.replace("[", r"\[").replace(")", r"\)")) as error:
        loss_nodes(tmp_path, output=options)
    assert error.value.where.layer == "output"


def test_use_fused_false_is_minus_safe_log_of_the_target_probability():
    # RETURNN CrossEntropyLoss(use_fused=False): -safe_log(p_target), log(max(p, 1e-20)) with identity gradient
    logits = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, -60.0]], dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([2, 2])
    fused = frame_losses(logits, targets, 0.0, 0.0)
    unfused = frame_losses(logits, targets, 0.0, 0.0, fused=False)
    assert unfused[0].item() == pytest.approx(fused[0].item(), rel=1e-12)
    assert fused[1].item() == pytest.approx(60.0 + np.log(2.0), rel=1e-9)
    assert unfused[1].item() == pytest.approx(-np.log(1e-20), rel=1e-12), "clamped at p = 1e-20"
    (grad,) = torch.autograd.grad(unfused[1], logits)
    p = torch.softmax(logits[1].detach(), -1)
    expected = -(torch.nn.functional.one_hot(targets[1], 3) - p) * p[2] / 1e-20  # d(-log x)/dx at x = eps, times dp
    np.testing.assert_allclose(grad[1].numpy(), expected.numpy(), rtol=1e-9)
    smoothed = frame_losses(logits, targets, 0.1, 0.0, fused=False)
    np.testing.assert_allclose(smoothed.detach().numpy(), frame_losses(logits, targets, 0.1, 0.0).detach().numpy())


def test_use_fused_is_a_ce_option(tmp_path):
    assert loss_nodes(tmp_path, output={"loss_opts": {"use_fused": False}})[1].layer.loss_opts.use_fused is False
    with pytest.raises(NetcError, match="'use_fused' is an option of loss 'ce', not 'ctc'"):
        loss_nodes(tmp_path, output={"loss": "ctc", "loss_opts": {"use_fused": False}})
