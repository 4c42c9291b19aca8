"""Shape inference: give every node its static output type, in one pass in topological order."""

from __future__ import annotations

from dataclasses import replace

from netc.ir.errors import NetcError
from netc.ir.graph import DATA, Graph, Node
from netc.ir.types import TensorType


class NodeShapeEnv:
    """What one node's shape rule may ask: its target's dim, other layers' types."""

    def __init__(self, graph: Graph, types: dict[str, TensorType], node: Node):
        self.graph, self.types, self.node = graph, types, node

    def target_dim(self) -> int:
        target = self.node.layer.target
        dim = self.graph.dims.target(target)
        if dim is None and getattr(self.node.layer, "n_out", None) is not None:  # the loss reads the target data
            raise NetcError(f"the number of classes of target {target!r} is unknown", self.node.at(
                "target" if "target" in dict(self.node.key_positions) else "loss"),
                f"pass --num-outputs C, or declare {target!r} in extern_data or num_outputs: n_out is set, but "
                "the loss reads the target's data, which RETURNN too needs declared")
        if dim is None:
            raise NetcError(f"the number of classes of target {target!r} is unknown", self.node.at("n_out"),
                            "pass --num-outputs C, set num_outputs or extern_data in the config, or set n_out")
        return dim

    def feature(self, layer: str) -> int:
        return self.types[layer].feature

    def type_of(self, layer: str) -> TensorType:
        if layer == DATA:
            return self.graph.input_type
        if layer not in self.types:
            raise NetcError(f"unknown layer {layer!r}", self.node.where,
                            "name a layer of the network that this layer's output does not depend on")
        return self.types[layer]


def infer_types(graph: Graph) -> Graph:
    """Requires: a built graph in topological order. Ensures: every node has `type`.

    Sources are concatenated on the feature axis: all their other dims must be the same (one time
    axis, equal static sizes). Each layer's `out_type` is its shape rule; a decoder lives on the target
    (classes) time axis. The dims a layer creates get their RETURNN names with the layer's name (`Dim.of_layer`).
    """
    types: dict[str, TensorType] = {DATA: graph.input_type} if uses_data(graph) else {}
    typed = []
    for node in graph.nodes:
        x = concat_type(types, node) if node.layer.concatenates else None
        try:
            t = node.layer.out_type(x, NodeShapeEnv(graph, types, node), node.at)
            t = t.with_dims(tuple(d.of_layer(node.name.rsplit("/", 1)[-1]) for d in t.dims))  # RETURNN: `w:window`
            types[node.name] = node.layer.checked_type(t, node.at)
        except ValueError as e:  # a type query a shape rule did not guard (no feature or time dim)
            raise NetcError(f"this layer cannot take its input {x}: {e}", node.at("from"),
                            "check the dims of its sources with `netc check`") from None
        layer = node.layer.with_graph_dims(lambda name: types[name].feature)
        typed.append(replace(node, layer=layer, type=types[node.name]))
    return replace(graph, nodes=tuple(typed))


def uses_data(graph: Graph) -> bool:
    return any(DATA in node.sources for node in graph.nodes)


def concat_type(types: dict[str, TensorType], node: Node) -> TensorType | None:
    """The type of the node's sources concatenated on the feature dim (RETURNN's `concat_sources`)."""
    if not node.sources:
        return None
    inputs = [(s, types[s]) for s in node.sources]  # a source may repeat: ["data", "data"]
    first = inputs[0][1]
    if len(inputs) == 1:
        return first
    axes = {s: t.time if t.has_time else None for s, t in inputs}
    if len(set(axes.values())) > 1:
        listing = ", ".join(f"{s!r} on {t or 'no time axis'}" for s, t in axes.items())
        raise NetcError(f"sources live on different time axes: {listing}", node.at("from"),
                        "concatenate only layers of the input's time axis, or only of a decoder's")
    if any(t.sparse or t.feature_index is None for _, t in inputs) or len({t.dims[:-1] for _, t in inputs}) > 1:
        listing = ", ".join(f"{s!r} {t}" for s, t in inputs)
        raise NetcError(f"sources cannot be concatenated on their feature dim: {listing}", node.at("from"),
                        "all sources need the same dims except the last (feature) one")
    return first.with_feature(sum(t.feature for _, t in inputs))
