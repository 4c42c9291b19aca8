"""Refuse networks too large to allocate or to store in one ONNX file, before allocating anything."""

from __future__ import annotations

from netc.ir.errors import NetcError
from netc.ir.graph import Graph
from netc.ir.params import param_specs

MAX_PARAM_BYTES = (2 << 30) - (64 << 20)  # protobuf's 2 GiB limit, with room for the graph


def check_size(graph: Graph) -> Graph:
    """Requires: a typed graph. Ensures: all parameters fit in one ONNX file (float32)."""
    total = 0
    for spec in param_specs(graph):
        total += spec.size * 4
        if total > MAX_PARAM_BYTES:
            node = graph[spec.layer]
            raise NetcError(f"the parameters reach {total / 2**30:.1f} GiB at {spec.name!r}, "
                            f"over the {MAX_PARAM_BYTES / 2**30:.2f} GiB a model may hold",
                            node.at("n_out"), "reduce n_out")
    return graph
