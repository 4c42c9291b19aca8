"""Training-only layer options (ir/layers/base.py): RETURNN's output constraints `spatial_smoothing` and `darc1`
(`LayerBase.get_constraints_value`, added to the objective), noise and dropout on parameters
(`LayerBase.var_creation_scope`'s custom getter), and linear's `grad_filter` (returnn/tf/util/basic.py
filter_grad)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from netc.ir import Graph, Node
from netc.ir.layers.shared_options import smoothing_grid

if TYPE_CHECKING:
    from .context import RunContext

HIGH_PASS = torch.tensor([[-0.125, -0.125, -0.125], [-0.125, 1.0, -0.125], [-0.125, -0.125, -0.125]])


def constraint_term(graph: Graph, ctx: RunContext) -> torch.Tensor | None:
    """Sum over layers of `spatial_smoothing * energy + darc1 * darc1_value` on this batch's outputs; None if no
    layer has either."""
    terms = []
    for node in graph.nodes:
        if node.layer.spatial_smoothing:
            terms.append(node.layer.spatial_smoothing * spatial_smoothing_energy(ctx.values[node.name]))
        if node.layer.darc1:
            x = ctx.before_activation.get(node.name, ctx.values[node.name])  # RETURNN: else the output
            terms.append(node.layer.darc1 * darc1(x))
    return torch.stack(terms).sum() if terms else None


def spatial_smoothing_energy(frames: torch.Tensor) -> torch.Tensor:
    """returnn/tf/util/basic.py spatial_smoothing_energy summed over frames: each frame's `dim` features viewed as
    an `h x w` grid, circularly padded by 1, filtered by a 3x3 high-pass (1 in the centre, -1/8 around); the sum of
    the squared responses. `frames` `[N, dim]` (packed, valid frames only)."""
    h, w = smoothing_grid(frames.shape[-1]) or (0, 0)
    grid = frames.reshape(-1, 1, h, w)
    padded = F.pad(grid, (1, 1, 1, 1), mode="circular")
    response = F.conv2d(padded, HIGH_PASS.to(frames).reshape(1, 1, 3, 3))
    return response.square().sum()


def darc1(frames: torch.Tensor) -> torch.Tensor:
    """LayerBase.get_darc1: the largest, over features, sum over valid frames of |x| (x before the activation)."""
    return frames.abs().sum(dim=0).max()


def noisy_param(node: Node, value: torch.Tensor, noise: torch.Generator | None) -> torch.Tensor:
    """In training, a parameter as the layer uses it: plus Gaussian noise of stddev `param_variational_noise`,
    then with dropout `param_dropout` (kept values scaled by 1/(1-p)) if it has at least
    `param_dropout_min_ndim` dims. Fresh noise per layer and step, as RETURNN's getter draws it per use."""
    layer = node.layer
    if layer.param_variational_noise:
        draw = torch.randn(value.shape, generator=noise).to(value)
        value = value + layer.param_variational_noise * draw
    if layer.param_dropout and value.dim() >= layer.param_dropout_min_ndim:
        keep = torch.rand(value.shape, generator=noise) >= layer.param_dropout
        value = value * (keep.to(value) / (1.0 - layer.param_dropout))
    return value


class FilterGrad(torch.autograd.Function):
    """Identity; backward zeroes the gradient of every sequence whose largest squared gradient entry is not below
    the threshold (`filter_grad` with the max over all axes but the batch). `seq` maps rows to sequences."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, seq: torch.Tensor, sequences: int, threshold: float) -> torch.Tensor:
        ctx.save_for_backward(seq)
        ctx.sequences, ctx.threshold = sequences, threshold
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:
        (seq,) = ctx.saved_tensors
        per_row = grad.square().reshape(len(grad), -1).amax(dim=1)
        per_seq = per_row.new_zeros(ctx.sequences).scatter_reduce(0, seq, per_row, "amax")
        keep = (per_seq < ctx.threshold)[seq]
        return grad * keep.reshape((-1,) + (1,) * (grad.dim() - 1)).to(grad), None, None, None


def filter_grad(node: Node, y: torch.Tensor, ctx: RunContext) -> torch.Tensor:
    """`y` (a layer's `x W + b`, packed frames or `[B, ...]`) with linear's `grad_filter` applied in training."""
    threshold = getattr(node.layer, "grad_filter", None)
    if not ctx.training or threshold is None:
        return y
    t = node.out_type
    if t.is_packable:
        packing = ctx.packing(t.time)
        seq, sequences = packing.seq.to(y.device), len(packing.lengths)
    else:
        seq, sequences = torch.arange(len(y), device=y.device), len(y)
    return FilterGrad.apply(y, seq, sequences, threshold)
