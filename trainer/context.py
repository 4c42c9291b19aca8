"""What a torch layer lowering may use: parameters, packings, other layers' values, dropout noise."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from netc.ir import Graph, Node, param_name
from netc.ir.types import Derived, DropoutNoise, LengthRule, Lengths, TensorType

from .constraints import noisy_param
from .lstm import State
from .packing import Packing


@dataclass
class RunContext:
    """One forward pass over a batch.

    A value whose type is `[B, T, ...]` is packed `[frames, ...]` on its time axis (packing.py); any other
    value is a padded tensor in its type's dim order (zeros beyond each sequence's length).
    """

    graph: Graph
    params: dict[str, torch.Tensor]
    packings: dict[Lengths, Packing]  # how the frames of each time axis are laid out (derived ones added)
    training: bool = False
    noise: torch.Generator | None = None  # dropout masks are drawn from it (on the CPU)
    values: dict[str, torch.Tensor] = field(default_factory=dict)  # layer (or "data") -> output
    logits: dict[str, torch.Tensor] = field(default_factory=dict)  # softmax layers -> pre-softmax values
    before_activation: dict[str, torch.Tensor] = field(default_factory=dict)  # darc1 layers -> x W + b
    final_states: dict[str, State] = field(default_factory=dict)  # rec layer -> final (h, c), batch order
    targets: dict[str, torch.Tensor] = field(default_factory=dict)  # target key -> padded labels [B, T] (int64)

    def param(self, node: Node, suffix: str) -> torch.Tensor:
        """The parameter as the layer computes with it (shared by reuse_params; with noise in training)."""
        value = self.params[param_name(node, suffix)]
        layer = node.layer
        if self.training and (layer.param_variational_noise or layer.param_dropout):
            return noisy_param(node, value, self.noise)
        return value

    def source(self, node: Node) -> torch.Tensor:
        """The node's input: sources concatenated on the feature axis, then the layer's dropout."""
        inputs = [self.values[s] for s in node.sources]
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, dim=-1)
        layer = node.layer
        if not self.training or layer.dropout == 0.0:
            return x
        return x * self.dropout_mask(x, layer.dropout, layer.dropout_noise_shape)

    def dropout_mask(self, x: torch.Tensor, p: float, noise: DropoutNoise) -> torch.Tensor:
        """Inverted dropout: kept values scaled by 1/(1-p); one mask per feature unless per element."""
        per_feature = (1,) * (x.dim() - 1) + (x.shape[-1],)
        shape = per_feature if noise is DropoutNoise.PER_FEATURE else tuple(x.shape)
        keep = torch.rand(shape, generator=self.noise) >= p
        return (keep.to(x.dtype) / (1.0 - p)).to(x.device)

    def padded(self, name: str, logits: bool = False) -> torch.Tensor:
        """A layer's output (or its logits) as `[B, T, F]`, zeros on padded frames."""
        packed = self.logits[name] if logits else self.values[name]
        return self.packing(self.graph[name].out_type.time).unpack(packed)

    def packing(self, axis: Lengths) -> Packing:
        """The packing of a time axis; a derived axis's lengths come from its parent's by its rule."""
        if axis not in self.packings:
            assert isinstance(axis, Derived), f"no lengths for {axis}"
            parent = self.packing(axis.parent)
            self.packings[axis] = Packing.of(derive_lengths(axis.rule, parent.lengths))
        return self.packings[axis]

    def padded_source(self, node: Node) -> tuple[torch.Tensor, TensorType]:
        """The node's input as a padded tensor in its type's dim order, and that type."""
        t = self.graph.input_type_of(node)
        assert t is not None
        x = self.source(node)
        return (self.packing(t.time).unpack(x) if t.is_packable else x), t

    def valid(self, t: TensorType, padded: torch.Tensor) -> torch.Tensor:
        """A bool mask broadcastable to a padded `[B, ..., T, ...]` value (batch first, time at `t.time_index`:
        `[B, F, T]` after a swap_axes too): frame < its sequence's length."""
        index = t.time_index
        assert index is not None
        lengths = self.packing(t.time).lengths.to(padded.device)
        frames = torch.arange(padded.shape[index], device=padded.device)
        valid = frames[None, :] < lengths[:, None]
        shape = [1] * padded.dim()
        shape[0], shape[index] = valid.shape
        return valid.reshape(shape)

    def store(self, t: TensorType, padded: torch.Tensor) -> torch.Tensor:
        """A padded value of type `t` -> its stored form (packed when `[B, T, ...]`)."""
        return self.packing(t.time).pack(padded) if t.is_packable else padded


def derive_lengths(rule: LengthRule, lengths: torch.Tensor) -> torch.Tensor:
    """`max(0, ceil((len * factor + add) / stride))` (ir.types.LengthRule) on int64 lengths."""
    total = (lengths * rule.factor + rule.add).clamp(min=0)
    return torch.div(total + rule.stride - 1, rule.stride, rounding_mode="floor")
