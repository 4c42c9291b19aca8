"""What a torch layer lowering may use: parameters, packings, other layers' values, dropout noise."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from netc.ir import Graph, Node, TimeAxis
from netc.ir.types import DropoutNoise

from .lstm import State
from .packing import Packing


@dataclass
class RunContext:
    """One forward pass over a batch. Values between layers are packed `[frames, F]` (packing.py)."""

    graph: Graph
    params: dict[str, torch.Tensor]
    packings: dict[TimeAxis, Packing]  # how the frames of each time axis are laid out
    training: bool = False
    noise: torch.Generator | None = None  # dropout masks are drawn from it (on the CPU)
    values: dict[str, torch.Tensor] = field(default_factory=dict)  # layer (or "data") -> output
    logits: dict[str, torch.Tensor] = field(default_factory=dict)  # softmax layers -> pre-softmax values
    final_states: dict[str, State] = field(default_factory=dict)  # rec layer -> final (h, c), batch order

    def param(self, node: Node, suffix: str) -> torch.Tensor:
        return self.params[f"{node.name}/{suffix}"]

    def source(self, node: Node) -> torch.Tensor:
        """The node's input: sources concatenated on the feature axis, then the layer's dropout."""
        inputs = [self.values[s] for s in node.sources]
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, dim=1)
        layer = node.layer
        if not self.training or layer.dropout == 0.0:
            return x
        return x * self.dropout_mask(x, layer.dropout, layer.dropout_noise_shape)

    def dropout_mask(self, x: torch.Tensor, p: float, noise: DropoutNoise) -> torch.Tensor:
        """Inverted dropout: kept values scaled by 1/(1-p); one mask per feature unless per element."""
        shape = (1, x.shape[1]) if noise is DropoutNoise.PER_FEATURE else tuple(x.shape)
        keep = torch.rand(shape, generator=self.noise) >= p
        return (keep.to(x.dtype) / (1.0 - p)).to(x.device)

    def padded(self, name: str, logits: bool = False) -> torch.Tensor:
        """A layer's output (or its logits) as `[B, T, F]`, zeros on padded frames."""
        packed = self.logits[name] if logits else self.values[name]
        return self.packings[self.graph[name].out_type.time].unpack(packed)
