"""Shape inference: give every node its static output type."""

from __future__ import annotations

from dataclasses import replace

from netc.ir.errors import NetcError
from netc.ir.graph import DATA, Graph, Node
from netc.ir.types import SeqType, TimeAxis


class NodeShapeEnv:
    """What one node's shape rule may ask: its target's dim, other layers' dims."""

    def __init__(self, graph: Graph, types: dict[str, SeqType], node: Node):
        self.graph, self.types, self.node = graph, types, node

    def target_dim(self) -> int:
        target = self.node.layer.target
        dim = self.graph.dims.target(target)
        if dim is None:
            raise NetcError(f"the number of classes of target {target!r} is unknown", self.node.at("n_out"),
                            "pass --num-outputs C, set num_outputs or extern_data in the config, or set n_out")
        return dim

    def feature(self, layer: str) -> int:
        return self.types[layer].feature


def infer_types(graph: Graph) -> Graph:
    """Requires: a built graph in topological order. Ensures: every node has `type`.

    Sources are concatenated on the feature axis and must share one time axis;
    a decoder lives on the target (classes) time axis.
    """
    types: dict[str, SeqType] = {DATA: graph.input_type} if uses_data(graph) else {}
    typed = []
    for node in graph.nodes:
        time = time_axis(types, node)
        in_feature = sum(types[s].feature for s in node.sources)
        feature = node.layer.out_feature(in_feature, NodeShapeEnv(graph, types, node), node.at)
        types[node.name] = SeqType(time, feature)
        typed.append(replace(node, type=types[node.name]))
    return replace(graph, nodes=tuple(typed))


def uses_data(graph: Graph) -> bool:
    return any(DATA in node.sources for node in graph.nodes)


def time_axis(types: dict[str, SeqType], node: Node) -> TimeAxis:
    if node.layer.is_decoder:
        return TimeAxis.CLASSES
    axes = {s: types[s].time for s in node.sources}
    if len(set(axes.values())) > 1:
        listing = ", ".join(f"{s!r} on {t.value} time" for s, t in axes.items())
        raise NetcError(f"sources live on different time axes: {listing}", node.at("from"),
                        "concatenate only layers of the input's time axis, or only of a decoder's")
    return next(iter(axes.values()))
