"""A torch module built from the typed IR; its parameters carry the netdict.md section 8 names."""

from __future__ import annotations

import numpy as np
import torch
from netc.ir import Graph, NetcError, TimeAxis, init_params, output_batch_norm, param_specs

from .context import RunContext
from .lower import LOWER
from .packing import Packing


class NetModel(torch.nn.Module):
    """The network of a Graph. `state_dict()` keys are `layer/W`, `layer/rec/W_re`, ... (RETURNN TF)."""

    def __init__(self, graph: Graph, params: dict[str, np.ndarray] | None = None, seed: int = 42):
        super().__init__()
        self.graph = graph
        values = init_params(graph, seed) if params is None else params
        frozen = {spec.name for spec in param_specs(graph) if not spec.trainable}
        for name, value in values.items():
            if "." in name:
                raise NetcError(f"parameter {name!r}: layer names with '.' cannot be trained with torch",
                                graph[name.split("/")[0]].where, "rename the layer")
            # NOTE: running statistics are parameters without gradient, so checkpoints hold them like the rest
            tensor = torch.from_numpy(np.array(value, np.float32))
            self.register_parameter(name, torch.nn.Parameter(tensor, requires_grad=name not in frozen))

    def named_values(self) -> dict[str, np.ndarray]:
        """Parameters as float32 numpy arrays under their section 8 names."""
        return {name: p.detach().cpu().numpy().copy() for name, p in self.named_parameters()}

    def forward(self, data: torch.Tensor, lengths: torch.Tensor, target_lengths: torch.Tensor | None = None,
                noise: torch.Generator | None = None, targets: dict[str, torch.Tensor] | None = None) -> RunContext:
        """Run every layer on padded `data [B, T, F]`; the context holds each layer's packed output and logits.
        `targets` (padded labels `[B, T]` per key) are what a rec unit's `choice` reads in training."""
        packings = {TimeAxis.DATA: Packing.of(lengths)}
        if target_lengths is not None and self.graph.is_encoder_decoder:  # only decoders run on the classes axis
            packings[TimeAxis.CLASSES] = Packing.of(target_lengths)
        ctx = RunContext(self.graph, dict(self.named_parameters()), packings, self.training, noise,
                         targets=dict(targets or {}))
        ctx.values["data"] = packings[TimeAxis.DATA].pack(data)
        for node in self.graph.nodes:
            ctx.values[node.name] = LOWER[type(node.layer)](node, node.layer, ctx)
            normalized = output_batch_norm(node)  # the layer's batch_norm option, on its output
            if normalized is not None:
                ctx.values[node.name] = LOWER[type(normalized.layer)](normalized, normalized.layer, ctx)
        return ctx
