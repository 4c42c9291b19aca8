"""RETURNN TF's optimizers with TensorFlow's update equations, and its gradient post-processing.

The optimizer (a kind and its TF options) is resolved from the config by `config.read_optimizer`, following
`returnn/tf/updater.py: Updater._create_default_optimizer / _create_optimizer`. The update of each kind is
TensorFlow's kernel (`tensorflow/core/kernels/training_ops.cc`) written out in float32 (per parameter, or
per group with torch's foreach kernels for Adam): torch's
built-in optimizers place epsilon differently (Adam, RMSProp, Adagrad), start RMSProp's mean square at 0 and
Adagrad's accumulator at 0 where TF starts at 1 and 0.1, and have no TF-style Nadam.
Gradient post-processing follows `Updater._post_process_grad` (docs/training.md, "Optimizers and learning
rates").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from .config import TrainConfig

F32 = np.float32
Options = dict[str, Any]
# An update of one parameter: (param, grad, its state, learning rate, options); GROUP_KINDS update all
# parameters of a group in one call, with lists.
Update = Callable[[Any, Any, Any, float, Options], None]
GROUP_KINDS = ("adam", "nadam", "adamw")


def sgd(p: torch.Tensor, g: torch.Tensor, state: dict[str, Any], lr: float, o: Options) -> None:
    """GradientDescentOptimizer: `var -= lr * grad`."""
    p.sub_(g * F32(lr))


def momentum(p: torch.Tensor, g: torch.Tensor, state: dict[str, Any], lr: float, o: Options) -> None:
    """MomentumOptimizer (ApplyMomentum): `accum = accum * momentum + grad; var -= lr * accum`;
    with use_nesterov `var -= grad * lr + accum * momentum * lr`."""
    accum = state["accum"].mul_(F32(o["momentum"])).add_(g)
    if o["use_nesterov"]:
        p.sub_(g * F32(lr) + accum * F32(o["momentum"]) * F32(lr))
    else:
        p.sub_(accum * F32(lr))


def adam(ps: list[torch.Tensor], gs: list[torch.Tensor], states: list[dict[str, Any]], lr: float,
         o: Options) -> None:
    """AdamOptimizer (ApplyAdam) on all parameters of a group at once (torch's foreach kernels):
    `alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`, `m += (g - m)(1 - beta1)`, `v += (g^2 - v)(1 - beta2)`,
    `var -= alpha * m / (sqrt(v) + epsilon)` (epsilon outside the bias correction, unlike torch). Nadam
    (RETURNN's NadamOptimizer, ApplyAdam with use_nesterov): `var -= alpha * (g (1 - beta1) + beta1 m) /
    (sqrt(v) + epsilon)`. beta^t are float32 running products, as TF's beta1_power/beta2_power variables;
    factors are float32 as in TF's kernel (`1 - beta1` is 0.100000024 for beta1 0.9)."""
    b1, b2 = F32(o.get("beta1", o.get("beta_1"))), F32(o.get("beta2", o.get("beta_2")))  # adamw: Keras names
    if o.get("weight_decay"):  # Keras AdamW (_apply_weight_decay): `var -= var * wd * lr` before the step
        torch._foreach_sub_(ps, torch._foreach_mul(torch._foreach_mul(ps, float(F32(o["weight_decay"]))),
                                                   float(F32(lr))))
    power1 = F32(states[0].get("beta1_power", 1.0)) * b1
    power2 = F32(states[0].get("beta2_power", 1.0)) * b2
    for state in states:  # floats: checkpoints load safely
        state["beta1_power"], state["beta2_power"] = float(power1), float(power2)
    alpha = float(F32(lr) * np.sqrt(F32(1) - power2) / (F32(1) - power1))
    ms, vs = [s["m"] for s in states], [s["v"] for s in states]
    torch._foreach_lerp_(ms, gs, float(F32(1) - b1))  # m + (g - m) w
    torch._foreach_lerp_(vs, torch._foreach_mul(gs, gs), float(F32(1) - b2))
    steps = torch._foreach_add(torch._foreach_mul(gs, float(F32(1) - b1)), ms, alpha=float(b1)) \
        if o["nesterov"] else ms
    denominators = torch._foreach_sqrt(vs)
    torch._foreach_add_(denominators, float(F32(o["epsilon"])))
    torch._foreach_addcdiv_(ps, steps, denominators, value=-alpha)


def adadelta(p: torch.Tensor, g: torch.Tensor, state: dict[str, Any], lr: float, o: Options) -> None:
    """AdadeltaOptimizer (ApplyAdadelta): `accum = rho accum + (1 - rho) g^2`,
    `update = sqrt(accum_update + eps) / sqrt(accum + eps) * g`, `var -= lr * update`,
    `accum_update = rho accum_update + (1 - rho) update^2`."""
    rho, eps = F32(o["rho"]), F32(o["epsilon"])
    accum = state["accum"].mul_(rho).add_(g * g * (F32(1) - rho))
    update = (state["accum_update"] + eps).sqrt() * (accum + eps).rsqrt() * g
    p.sub_(update * F32(lr))
    state["accum_update"].mul_(rho).add_(update * update * (F32(1) - rho))


def adagrad(p: torch.Tensor, g: torch.Tensor, state: dict[str, Any], lr: float, o: Options) -> None:
    """AdagradOptimizer (ApplyAdagrad): `accum += g^2; var -= g * lr / sqrt(accum)`; no epsilon; the
    accumulator starts at initial_accumulator_value (0.1)."""
    accum = state["accum"].add_(g * g)
    p.sub_(g * F32(lr) * accum.rsqrt())


def rmsprop(p: torch.Tensor, g: torch.Tensor, state: dict[str, Any], lr: float, o: Options) -> None:
    """RMSPropOptimizer (ApplyRMSProp): `ms += (g^2 - ms)(1 - decay)` (ms starts at 1),
    `mom = momentum mom + lr g / sqrt(ms + eps)` (epsilon inside the root), `var -= mom`. Centered
    (ApplyCenteredRMSProp): also `mg += (g - mg)(1 - decay)` and the root is of `ms - mg^2 + eps`."""
    one_minus_rho = F32(1) - F32(o["decay"])
    ms = state["ms"].add_((g * g - state["ms"]) * one_minus_rho)
    if o["centered"]:
        mg = state["mg"].add_((g - state["mg"]) * one_minus_rho)
        denom = (ms - mg * mg) + F32(o["epsilon"])
    else:
        denom = ms + F32(o["epsilon"])
    mom = state["mom"].mul_(F32(o["momentum"])).add_(g * F32(lr) / denom.sqrt())
    p.sub_(mom)


# kind: (update, slots with their initial value: a number or the option naming it)
KINDS: dict[str, tuple[Update, dict[str, float | str]]] = {
    "sgd": (sgd, {}),
    "momentum": (momentum, {"accum": 0.0}),
    "adam": (adam, {"m": 0.0, "v": 0.0}),
    "nadam": (adam, {"m": 0.0, "v": 0.0}),
    "adamw": (adam, {"m": 0.0, "v": 0.0}),
    "adadelta": (adadelta, {"accum": 0.0, "accum_update": 0.0}),
    "adagrad": (adagrad, {"accum": "initial_accumulator_value"}),
    "rmsprop": (rmsprop, {"ms": 1.0, "mg": 0.0, "mom": 0.0}),
}


class TfOptimizer(torch.optim.Optimizer):
    """One of RETURNN TF's optimizers: `kind` (a key of KINDS) with TF's options (config.OPTIMIZER_OPTIONS).

    The learning rate of the group is RETURNN's learning rate times `learning_rate_multiplier`; state
    tensors are float32 like the parameters; `state_dict()` round-trips through checkpoints.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], kind: str, options: Options, lr: float):
        self.kind = kind
        super().__init__(params, {"lr": lr} | dict(options))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """The slots of a checkpoint; the options stay the config's (RETURNN builds its optimizer from the
        config). A checkpoint of another kind is a ValueError (the trainer reports it as a NetcError)."""
        options = [{k: v for k, v in group.items() if k != "params"} for group in self.param_groups]
        saved = state_dict.get("param_groups", [])
        if len(saved) != len(options) or any(set(s) - {"params"} != set(o) for s, o in zip(saved, options)):
            raise ValueError(f"its optimizer state is not that of this config's {self.kind} optimizer")
        super().load_state_dict(state_dict)
        for group, own in zip(self.param_groups, options):
            group.update(own)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # noqa: D102 (torch's signature)
        update, slots = KINDS[self.kind]
        for group in self.param_groups:
            lr = group["lr"] * group["learning_rate_multiplier"]
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                for name, init in slots.items():
                    if name not in state:
                        value = group[init] if isinstance(init, str) else init
                        state[name] = torch.full_like(p, float(value), memory_format=torch.preserve_format)
            if self.kind in GROUP_KINDS and params:
                update(params, [p.grad for p in params], [self.state[p] for p in params], lr, group)
            elif self.kind not in GROUP_KINDS:
                for p in params:
                    update(p, p.grad, self.state[p], lr, group)


def make_optimizer(config: TrainConfig, params: Iterable[torch.nn.Parameter]) -> TfOptimizer:
    """The configured optimizer (config.optimizer, config.optimizer_options); the learning rate is set per
    epoch by the lr control (`set_lr`)."""
    return TfOptimizer(params, config.optimizer, dict(config.optimizer_options), config.learning_rate)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """RETURNN's learning rate of the epoch (the optimizer multiplies its learning_rate_multiplier)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


class GradientSteps:
    """RETURNN's gradient post-processing and `accum_grad_multiple_step` (`Updater._post_process_grad`,
    `accum_grad_multiple_step`), for the parameters `params` in their order.

    `step` counts updates over the whole training (RETURNN's global_train_step: it does not restart at epoch
    ends, and a run started from a RETURNN checkpoint continues its `global_step`). With accumulation over N
    steps the optimizer applies at `step % N == N - 1`. What it applies is, as measured with RETURNN 1.2026 on
    TensorFlow 2.21 (docs/training.md), the sum of ALL raw gradients since the run started: the reset of the
    sum that RETURNN's code intends at `step % N == 0` has no effect there. The loss is not scaled.
    """

    def __init__(self, config: TrainConfig, params: list[torch.nn.Parameter], seed: int):
        self.config, self.params = config, params
        self.accumulated: list[torch.Tensor | None] = [None] * len(params)
        self.noise = torch.Generator().manual_seed(seed)

    def apply_due(self, step: int) -> bool:
        """Whether the optimizer updates the parameters at global step `step` (from 0)."""
        n = self.config.accum_grad_multiple_step
        return n < 1 or step % n == n - 1

    def process(self, step: int) -> bool:
        """Turn the `.grad` of each parameter (this step's raw gradient) into what the optimizer applies, in
        RETURNN's order: accumulate, add noise, clip each value, scale by the global norm of the RAW
        gradients of this step. Returns whether the optimizer is to step now."""
        c = self.config
        grads = [p.grad for p in self.params]
        raw_norm = global_norm(grads) if c.gradient_clip_global_norm > 0 else None
        if c.accum_grad_multiple_step >= 1:
            for k, g in enumerate(grads):
                if g is None:
                    continue
                if self.accumulated[k] is None:
                    self.accumulated[k] = g.detach().clone()
                else:
                    self.accumulated[k].add_(g)
                self.params[k].grad = self.accumulated[k].clone()
            if not self.apply_due(step):
                return False
        for p in self.params:
            if p.grad is None:
                continue
            if c.gradient_noise > 0:
                p.grad.add_(truncated_normal(p.grad.shape, c.gradient_noise, self.noise).to(p.grad))
            if c.gradient_clip > 0:
                p.grad.clamp_(-c.gradient_clip, c.gradient_clip)
        if raw_norm is not None:
            scale_by_global_norm([p.grad for p in self.params], c.gradient_clip_global_norm, raw_norm)
        return True

    def state(self) -> dict[str, Any]:
        return {"accumulated": self.accumulated, "noise": self.noise.get_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.accumulated = list(state["accumulated"])
        self.noise.set_state(state["noise"])


def global_norm(grads: list[torch.Tensor | None]) -> torch.Tensor:
    """`sqrt(sum_t sum(t^2))` over the gradients that exist (tf.global_norm, as RETURNN's `_global_norm`)."""
    squares = [(g.double() ** 2).sum() for g in grads if g is not None]
    return torch.stack(squares).sum().sqrt().float()


def scale_by_global_norm(grads: list[torch.Tensor | None], clip_norm: float, norm: torch.Tensor) -> None:
    """tf.clip_by_global_norm with `use_norm`: each gradient times `clip_norm / max(norm, clip_norm)`."""
    with np.errstate(divide="ignore"):  # a zero norm: 1/0 = inf, as in TF, and the scale is c * (1/c)
        scale = F32(clip_norm) * min(F32(1) / F32(norm.item()), F32(1) / F32(clip_norm))
    if not math.isfinite(float(norm)):
        scale = F32("nan")  # TF's `scale + (use_norm - use_norm)`: a NaN/inf norm makes every gradient NaN
    for g in grads:
        if g is not None:
            g.mul_(scale)


def truncated_normal(shape: torch.Size, stddev: float, generator: torch.Generator) -> torch.Tensor:
    """Samples of N(0, stddev^2) redrawn while outside two standard deviations (tf.truncated_normal), float32.

    RETURNN adds this to each gradient with `gradient_noise` as the stddev (`add_scaled_noise_to_gradients`);
    the draws come from netc's own seeded generator, not TensorFlow's.
    """
    values = torch.randn(shape, generator=generator, dtype=torch.float32)
    outside = values.abs() > 2
    while outside.any():
        values[outside] = torch.randn(int(outside.sum()), generator=generator, dtype=torch.float32)
        outside = values.abs() > 2
    return values * stddev
