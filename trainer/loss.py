"""The objective of netdict.md section 7: CE summed over valid frames (or normalized), plus L2."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from netc.ir import Act, Graph, NetcError, Node, TimeAxis, Where, param_specs
from netc.ir.layers import Linear, Softmax

from .batching import Batch
from .context import RunContext


@dataclass
class Stats:
    """Sums over real frames, for the reported score (CE / frames) and error (frame error rate)."""

    ce: float = 0.0
    errors: float = 0.0
    frames: float = 0.0

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
    """Layers with `loss: ce`; each must produce logits (softmax, or linear with softmax activation)."""
    nodes = [n for n in graph.nodes if n.layer.loss is not None]
    for node in nodes:
        layer = node.layer
        if not (isinstance(layer, Softmax) or (isinstance(layer, Linear) and layer.activation in
                                                (Act.SOFTMAX, Act.LOG_SOFTMAX))):
            raise NetcError("loss 'ce' needs a softmax layer (or a linear layer with softmax activation)",
                            node.at("loss"), 'make it {"class": "softmax", "loss": "ce"}')
    if not nodes:
        raise NetcError("the network has no layer with a loss; there is nothing to train", graph.output.where,
                        'add "loss": "ce" to the output layer')
    return nodes


def frame_ce(node: Node, ctx: RunContext, batch: Batch) -> torch.Tensor:
    """`[ce_sum, errors, frames]` of one loss layer over its frames (packed: every frame is real)."""
    logits = ctx.logits[node.name]
    key = node.layer.target
    if key not in batch.targets:
        raise missing_target(key, node.at("target"), batch)
    packing = ctx.packings[node.out_type.time]
    if not torch.equal(batch.target_lengths[key].to(packing.lengths), packing.lengths):
        axis = "the input" if node.out_type.time is TimeAxis.DATA else "the decoder's time axis"
        raise NetcError(f"target {key!r} is not frame-aligned with {axis} (other lengths)", node.at("target"),
                        "an encoder-decoder net (a decoder rec layer) reads targets of their own length")
    targets = packing.pack(batch.targets[key])
    ce = F.cross_entropy(logits, targets, reduction="sum")
    errors = (logits.argmax(dim=-1) != targets).sum()
    return torch.stack([ce, errors.to(ce.dtype), ce.new_tensor(float(packing.frames))])


def missing_target(key: str, where: Where, batch: Batch) -> NetcError:
    return NetcError(f"the dataset has no target {key!r}", where,
                     f"the dataset has: {', '.join(batch.targets) or 'no targets'}")


def l2_term(graph: Graph, params: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """`L2 * sum p^2` over every parameter of each layer with L2, biases included."""
    l2 = {node.name: node.layer.L2 for node in graph.nodes}
    terms = [l2[spec.layer] * params[spec.name].square().sum() for spec in param_specs(graph) if l2[spec.layer] > 0]
    return torch.stack(terms).sum() if terms else None


def normalized(node: Node, config_default: bool) -> bool:
    flag = node.layer.loss_opts.use_normalized_loss
    return config_default if flag is None else flag
