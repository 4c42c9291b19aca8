"""Optimizers (SGD, Adam, Nadam, AdamW with `optimizer_epsilon`) and gradient clipping."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from netc.ir import NetcError

from .config import TrainConfig

# Keys of the optimizer dict besides "class" (RETURNN's names).
KNOWN_OPTIONS = ("beta1", "beta2", "epsilon", "momentum", "weight_decay", "learning_rate")


def make_optimizer(config: TrainConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The configured optimizer; the learning rate is set per epoch by the lr control."""
    options = dict(config.optimizer_options)
    unknown = [k for k in options if k not in KNOWN_OPTIONS]
    if unknown:
        raise NetcError(f"unknown optimizer options {unknown}", hint="known: " + ", ".join(KNOWN_OPTIONS))
    eps = float(options.get("epsilon", config.optimizer_epsilon))
    betas = (float(options.get("beta1", 0.9)), float(options.get("beta2", 0.999)))
    decay = float(options.get("weight_decay", 0.0 if config.optimizer != "adamw" else 0.01))
    lr = config.learning_rate
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(options.get("momentum", 0.0)), weight_decay=decay)
    cls = {"adam": torch.optim.Adam, "nadam": torch.optim.NAdam, "adamw": torch.optim.AdamW}[config.optimizer]
    return cls(params, lr=lr, betas=betas, eps=eps, weight_decay=decay)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def clip_gradients(config: TrainConfig, params: list[torch.nn.Parameter]) -> None:
    """`gradient_clip`: each element to [-c, c]; `gradient_clip_global_norm`: the global norm to c."""
    if config.gradient_clip > 0:
        torch.nn.utils.clip_grad_value_(params, config.gradient_clip)
    if config.gradient_clip_global_norm > 0:
        torch.nn.utils.clip_grad_norm_(params, config.gradient_clip_global_norm)
