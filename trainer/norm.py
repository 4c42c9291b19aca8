"""Torch lowering of layer_norm, norm, batch_norm; mirrors compiler/onnx/norm.py.

batch_norm in training normalizes by the mean and (biased) variance of the batch's valid frames and moves
the running statistics by `momentum` towards them (RETURNN LayerBase.batch_norm, use_sample 0); in eval it
uses the stored statistics.
"""

from __future__ import annotations

import torch
from netc.ir import Node
from netc.ir.layers import BatchNorm, LayerNorm, Norm

from .context import RunContext


def normalize(x: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor, epsilon: float) -> torch.Tensor:
    return (x - mean) * torch.rsqrt(variance + epsilon)


def lower_layer_norm(node: Node, layer: LayerNorm, ctx: RunContext) -> torch.Tensor:
    x = ctx.source(node)
    mean = x.mean(dim=-1, keepdim=True)
    variance = (x - mean).square().mean(dim=-1, keepdim=True)
    return normalize(x, mean, variance, layer.epsilon) * ctx.param(node, "scale") + ctx.param(node, "bias")


def lower_norm(node: Node, layer: Norm, ctx: RunContext) -> torch.Tensor:
    x, t = ctx.padded_source(node)
    axes = layer.normalized(t)
    count = 1.0
    for a in axes:
        count *= t.dims[a].size or 1
    if t.time_index in axes:
        valid = ctx.valid(t, x)
        lengths = ctx.packing(t.time).lengths.to(x).reshape((-1,) + (1,) * (x.dim() - 1))
        count = lengths * count
        mean = torch.where(valid, x, 0.0).sum(dim=axes, keepdim=True) / count
        variance = torch.where(valid, x - mean, 0.0).square().sum(dim=axes, keepdim=True) / count
    else:
        mean = x.mean(dim=axes, keepdim=True)
        variance = (x - mean).square().mean(dim=axes, keepdim=True)
    y = normalize(x, mean, variance, layer.epsilon)
    if layer.scale:
        y = y * ctx.param(node, "scale")
    if layer.bias:
        y = y + ctx.param(node, "bias")
    return ctx.store(node.out_type, y)


def lower_batch_norm(node: Node, layer: BatchNorm, ctx: RunContext) -> torch.Tensor:
    names = layer.names(node.name)
    x = ctx.source(node)  # packed frames, or a tensor without time: every entry is valid
    running_mean, running_var = (ctx.param(node, names[k]) for k in ("mean", "variance"))
    n = x.shape[-1]
    if ctx.training:
        rows = x.reshape(-1, n)
        mean, variance = rows.mean(dim=0), rows.var(dim=0, unbiased=False)
        with torch.no_grad():
            running_mean += (mean.detach().reshape(running_mean.shape) - running_mean) * layer.momentum
            running_var += (variance.detach().reshape(running_var.shape) - running_var) * layer.momentum
    else:
        mean, variance = running_mean.reshape(n), running_var.reshape(n)
    y = normalize(x, mean, variance, layer.epsilon)
    if layer.use_std:
        y = y * ctx.param(node, names["gamma"]).reshape(n)
    if layer.use_shift:
        y = y + ctx.param(node, names["beta"]).reshape(n)
    return y
