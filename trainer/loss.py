"""The objective of netdict.md section 7 and the reported scores: RETURNN's `CrossEntropyLoss` and `CtcLoss`.

Each loss layer gives `[value, errors, norm]` for a batch: the summed loss (what RETURNN fetches as
`cost:layer`), the summed errors, and the count RETURNN normalizes both by (`1 / loss_norm_factor`: target
frames for CE, target labels for CTC). The epoch score is sum(value) / sum(norm). The objective takes each
value times the layer's scale (`Loss.scale`, `loss_scale`), divided by its norm with `use_normalized_loss`
(returnn/tf/network.py `LossHolder._prepare`, returnn/tf/layers/basic.py `CrossEntropyLoss`, `CtcLoss`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from netc.ir import Act, Graph, NetcError, Node, TimeAxis, Where, param_specs
from netc.ir.layers import Linear, Softmax, Subnetwork
from netc.ir.layers.base import loss_scale
from netc.ir.loop import RecLoop
from netc.ir.types import Loss

from .batching import Batch
from .context import RunContext
from .ctc import beam_search, collapse, edit_distance, required_frames
from .packing import Packing
from .rec_loop import unit_loss_nodes

SAFE_LOG_EPS = 1e-20  # returnn/tf/util/basic.py safe_log


@dataclass
class Stats:
    """Sums over a set, for the reported score (loss / norm) and error (errors / norm)."""

    ce: float = 0.0  # the summed loss value (CE or CTC)
    errors: float = 0.0
    frames: float = 0.0  # the norm: target frames (CE) or target labels (CTC)

    def add(self, other: torch.Tensor) -> None:
        ce, errors, frames = other.tolist()
        self.ce, self.errors, self.frames = self.ce + ce, self.errors + errors, self.frames + frames

    @property
    def score(self) -> float:
        return self.ce / max(self.frames, 1.0)

    @property
    def error(self) -> float:
        return self.errors / max(self.frames, 1.0)


def loss_nodes(graph: Graph) -> list[Node]:
    """Layers with a loss; each must produce logits (softmax, or linear with softmax activation)."""
    nodes = [m for n in graph.nodes for m in ([n] if n.layer.loss is not None else []) + unit_loss_nodes(n)
             if m.layer.loss is not Loss.EDIT_DISTANCE]  # edit_distance: a score, never in the objective
    for node in nodes:
        layer = node.layer
        name = layer.loss.value
        if not (isinstance(layer, Softmax) or (isinstance(layer, Linear) and layer.activation in
                                                (Act.SOFTMAX, Act.LOG_SOFTMAX))):
            raise NetcError(f"loss {name!r} needs a softmax layer (or a linear layer with softmax activation)",
                            node.at("loss"), f'make it {{"class": "softmax", "loss": "{name}"}}')
        if node.out_type.batch is not None and node.out_type.batch.chunks is not None:
            raise NetcError(f"loss {name!r} on a batch of chunks {node.out_type}: the targets are per sequence",
                            node.at("loss"), "put the loss after a time_unchunking layer")
        if layer.loss is Loss.CTC and node.out_type.time is TimeAxis.CLASSES:
            raise NetcError("loss 'ctc' on a decoder's time axis: CTC aligns targets to the input's frames",
                            node.at("loss"), "put the CTC layer on the encoder")
    if not nodes:
        raise NetcError("the network has no layer with a loss; there is nothing to train", graph.output.where,
                        'add "loss": "ce" to the output layer')
    return nodes


def layer_loss(node: Node, ctx: RunContext, batch: Batch) -> torch.Tensor:
    """`[value, errors, norm]` of one loss layer on a batch (value differentiable)."""
    key = node.layer.target
    if key not in batch.targets:
        raise missing_target(key, node.at("target"), batch)
    return ctc_loss(node, ctx, batch) if node.layer.loss is Loss.CTC else frame_ce(node, ctx, batch)


def frame_ce(node: Node, ctx: RunContext, batch: Batch) -> torch.Tensor:
    """CE over the layer's frames (packed: every frame is real), with label smoothing and focal loss."""
    logits = ctx.logits[node.name]
    key = node.layer.target
    packing = ctx.packings[node.out_type.time]
    if not torch.equal(batch.target_lengths[key].to(packing.lengths), packing.lengths):
        raise misaligned_target(node)
    targets = packing.pack(batch.targets[key])
    opts = node.layer.loss_opts
    ce = frame_losses(logits, targets, opts.label_smoothing, opts.focal_loss_factor, opts.use_fused).sum()
    errors = (logits.argmax(dim=-1) != targets).sum()
    return torch.stack([ce, errors.to(ce.dtype), ce.new_tensor(float(packing.frames))])


def misaligned_target(node: Node) -> NetcError:
    """CE takes one target label per frame of the layer's time axis; the targets have other lengths. Named
    by the axis: the input's, a decoder's, or one a layer derived from them (pooling, split_dims, ...)."""
    key, time = node.layer.target, node.out_type.time
    if time is TimeAxis.DATA:
        return NetcError(f"target {key!r} is not frame-aligned with the input (other lengths)", node.at("target"),
                         'an encoder-decoder net (a decoder rec layer) reads targets of their own length; '
                         'a target of its own length needs "loss": "ctc"')
    if time is TimeAxis.CLASSES:
        return NetcError(f"target {key!r} is not frame-aligned with the decoder's time axis (other lengths)",
                         node.at("target"), "give the loss layer the decoder's target")
    return NetcError(f"target {key!r} is not frame-aligned with the layer's time axis {time} (other lengths: a layer "
                     f"before it made this axis from {time.root})", node.at("target"),
                     f'CE needs one target label per frame of {time}: give targets of that length, or use '
                     '"loss": "ctc", which aligns a target of its own length')


def frame_losses(logits: torch.Tensor, targets: torch.Tensor, smoothing: float, focal: float,
                 fused: bool = True) -> torch.Tensor:
    """Per frame `[N]`: CE of `logits [N, C]` to `targets [N]`, as RETURNN's `CrossEntropyLoss.get_value`.

    `smoothing`: `smoothing_cross_entropy` (1 - s on the target, s / (C - 1) elsewhere, minus the entropy of
    that distribution); `focal`: times (1 - p_target) ** focal, differentiated through p_target too.
    `fused` False (`use_fused`, without smoothing): `-safe_log(p_target)` of the softmax output, i.e.
    -log(max(p_target, 1e-20)) with the identity gradient through the max (`maximum_with_identity_grad`).
    """
    log_probs = F.log_softmax(logits, dim=-1)
    nll = -log_probs.gather(1, targets[:, None])[:, 0]
    if not fused and not smoothing:
        probs = F.softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]
        nll = -torch.log(probs + (probs.clamp_min(SAFE_LOG_EPS) - probs).detach())
    loss = nll
    if smoothing:
        classes = logits.shape[-1]
        low = smoothing / (classes - 1)
        soft = torch.full_like(log_probs, low).scatter_(1, targets[:, None], 1.0 - smoothing)
        entropy = -((1.0 - smoothing) * math.log(1.0 - smoothing) + (classes - 1) * low * math.log(low + 1e-20))
        loss = -(soft * log_probs).sum(dim=-1) - entropy
    if focal:
        loss = loss * (1.0 - torch.exp(-nll)) ** focal
    return loss


def ctc_loss(node: Node, ctx: RunContext, batch: Batch) -> torch.Tensor:
    """CTC (TF's `ctc_loss` semantics) summed over sequences; errors: edit distance of the decoding."""
    opts = node.layer.loss_opts
    logits = ctx.padded(node.name, logits=True)  # [B, T, C]
    packing = ctx.packing(node.out_type.time)  # the input's frames, or a pooled axis derived from them
    lengths = packing.lengths
    key = node.layer.target
    targets, target_lengths = batch.targets[key], batch.target_lengths[key]
    classes = logits.shape[-1]
    blank = classes - 1 if opts.ctc_opts.blank_index is None else opts.ctc_opts.blank_index
    if not -classes <= blank < classes:
        raise NetcError(f"blank_index {blank} is outside the layer's {classes} outputs", node.at("loss_opts"),
                        f"use 0..{classes - 1}, or -1 for the last")
    blank %= classes
    labels = [t[:n] for t, n in zip(targets.cpu().numpy(), target_lengths.tolist())]
    feasible = check_ctc_targets(node, labels, lengths.tolist())
    log_probs = F.log_softmax(logits, dim=-1).transpose(0, 1)
    padded_targets = targets if targets.shape[1] else targets.new_zeros(len(targets), 1)
    # NOTE: zero_infinity only touches infeasible sequences, whose loss is then dropped (TF gives them 0).
    losses = F.ctc_loss(log_probs, padded_targets, lengths, target_lengths, blank=blank, reduction="none",
                        zero_infinity=True)
    value = torch.where(torch.as_tensor(feasible, device=losses.device), losses, 0.0).sum()
    errors = ctc_errors(ctx.logits[node.name], packing, labels,
                        beam_width=1 if ctx.training else opts.beam_width)
    return torch.stack([value, value.new_tensor(float(errors)), value.new_tensor(float(target_lengths.sum()))])


def check_ctc_targets(node: Node, labels: Sequence[np.ndarray], lengths: Sequence[int]) -> list[bool]:
    """Which sequences' targets fit their frames; TF's refusals (empty, too long) as located errors."""
    opts = node.layer.loss_opts
    feasible = []
    for target, frames in zip(labels, lengths):
        if not len(target) and not opts.use_native:
            raise NetcError("a target is empty: TensorFlow's CTC loss, and so RETURNN, refuses it "
                            "(\"Labels length is zero\")", node.at("target"),
                            'remove sequences without labels, or set loss_opts "use_native": true, "beam_width": 1')
        need = required_frames(target)
        if need > frames and not opts.ctc_opts.ignore_longer_outputs_than_inputs:
            raise NetcError(f"a target of {len(target)} labels needs {need} frames but its input has {frames} "
                            "(\"Not enough time for target transition sequence\" in RETURNN)", node.at("loss_opts"),
                            'set loss_opts "ctc_opts": {"ignore_longer_outputs_than_inputs": true}, '
                            "or remove such sequences")
        feasible.append(need <= frames)
    return feasible


def ctc_errors(packed_logits: torch.Tensor, packing: Packing, labels: Sequence[np.ndarray], beam_width: int) -> int:
    """Summed edit distance of the decodings (best path if `beam_width` is 1, else TF's beam search).

    RETURNN decodes with the last output as blank, also with use_native. Best path needs only the arg-max per
    frame, so only frame labels leave the device.
    """
    logits = packed_logits.detach()
    blank = logits.shape[-1] - 1
    lengths = packing.lengths.tolist()
    if beam_width == 1:
        best = packing.unpack(logits.argmax(dim=-1)).cpu().numpy()
        decoded = [collapse(best[seq, :frames], blank) for seq, frames in enumerate(lengths)]
    else:
        padded = packing.unpack(logits.float())
        decoded = [beam_search(padded[seq, :frames].cpu().numpy(), beam_width) for seq, frames in enumerate(lengths)]
    return sum(edit_distance(d.tolist(), target.tolist()) for d, target in zip(decoded, labels))


def objective(per_layer: Sequence[torch.Tensor], nodes: Sequence[Node], norms: torch.Tensor,
              use_normalized_loss: bool) -> torch.Tensor:
    """Sum over loss layers of value x scale (scale 0: left out), / norm with use_normalized_loss.

    `norms[k]` is layer k's norm summed over all ranks (RETURNN's `1 / loss_norm_factor`).
    """
    terms = []
    for k, (stats, node) in enumerate(zip(per_layer, nodes)):
        scale = loss_scale(node.layer)
        if scale == 0.0:
            continue
        value = stats[0] * scale
        terms.append(value / norms[k] if normalized(node, use_normalized_loss) else value)
    # NOTE: no `0.0 * loss` start: an infinite loss must stay inf (the fault message reports it), not NaN.
    return sum(terms[1:], terms[0]) if terms else per_layer[0][0] * 0.0  # every scale 0: no gradient


def missing_target(key: str, where: Where, batch: Batch) -> NetcError:
    return NetcError(f"the dataset has no target {key!r}", where,
                     f"the dataset has: {', '.join(batch.targets) or 'no targets'}")


def l2_term(graph: Graph, params: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """`L2 * sum p^2` over every parameter of each layer with L2, biases included; a subnetwork's L2 covers every
    sublayer's parameters (RETURNN's SubnetworkLayer.update_params_from_subnet makes them its own), a rec unit's
    every unit layer's (RecLayer._add_params), beside each unit layer's own L2."""
    l2 = {node.name: node.layer.L2 for node in graph.nodes}
    l2 |= {n.layer.param_prefix(n.name, u.name): u.layer.L2 for n in graph.nodes if isinstance(n.layer, RecLoop)
           for u in n.layer.unit}
    subnets = [n.name for n in graph.nodes if isinstance(n.layer, (Subnetwork, RecLoop)) and n.layer.L2 > 0]
    terms = []
    for spec in param_specs(graph):
        factor = l2[spec.layer] + sum(l2[s] for s in subnets if spec.layer.startswith(s + "/"))
        if factor > 0:
            terms.append(factor * params[spec.name].square().sum())
    return torch.stack(terms).sum() if terms else None


def normalized(node: Node, config_default: bool) -> bool:
    flag = node.layer.loss_opts.use_normalized_loss
    return config_default if flag is None else flag
