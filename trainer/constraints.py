"""Training-only layer options (ir/layers/base.py): RETURNN's output constraints `spatial_smoothing` and `darc1`
(`LayerBase.get_constraints_value`, added to the objective), and noise and dropout on parameters
(`LayerBase.var_creation_scope`'s custom getter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from netc.ir import Graph, Node
from netc.ir.layers.base import smoothing_grid

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
            terms.append(node.layer.darc1 * darc1(ctx.before_activation[node.name]))
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
