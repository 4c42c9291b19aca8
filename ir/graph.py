"""The typed IR: frozen nodes in topological order, the data dims, and the graph's invariants."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import NetcError, Where
from .layers import Layer
from .types import TensorType, TimeAxis

DATA = "data"


@dataclass(frozen=True)
class Dims:
    """The data dimensions a net dict does not state: input features and target classes."""

    num_inputs: int | None = None
    targets: tuple[tuple[str, int], ...] = ()
    sparse_input: bool = False  # `data` holds class indices (extern_data sparse): num_inputs is their number
    input_key: str = "data"  # the extern data key the net reads as its input (`data:delayed`: "delayed")
    inputs_given: bool = field(default=False, compare=False)  # num_inputs is --num-inputs (the input key's dim)

    def target(self, name: str) -> int | None:
        return dict(self.targets).get(name)


@dataclass(frozen=True)
class Node:
    """One layer of the network: its name, options, static output type and input position."""

    name: str
    layer: Layer
    type: TensorType | None = None
    where: Where = Where()
    key_positions: tuple[tuple[str, Where], ...] = field(default=(), repr=False)

    @property
    def sources(self) -> tuple[str, ...]:
        return self.layer.sources

    def at(self, key: str) -> Where:
        """The position of one option key of this layer (or of the layer itself)."""
        return dict(self.key_positions).get(key, self.where.at_key(key))

    @property
    def out_type(self) -> TensorType:
        if self.type is None:
            raise NetcError("internal: node used before type inference", self.where)
        return self.type


@dataclass(frozen=True)
class Graph:
    """A network: nodes in topological order (each after its dependencies)."""

    nodes: tuple[Node, ...]
    dims: Dims
    warnings: tuple[str, ...] = ()
    source_file: str | None = None

    def __getitem__(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    @property
    def output(self) -> Node:
        return self["output"]

    @property
    def input_type(self) -> TensorType:
        if self.dims.num_inputs is None:
            raise NetcError("the input dim is unknown", Where(self.source_file),
                            "pass --num-inputs N, or set num_inputs or extern_data in the config")
        if self.dims.sparse_input:
            return TensorType.labels(TimeAxis.DATA, self.dims.num_inputs)
        return TensorType.seq(TimeAxis.DATA, self.dims.num_inputs, "feature:data")  # RETURNN's tag description

    def type_of(self, name: str) -> TensorType:
        """The output type of a layer, or of the input `data`."""
        return self.input_type if name == DATA else self[name].out_type

    def in_feature(self, node: Node) -> int:
        """The concatenated input dim of a node; 0 for a decoder and for operand layers (combine)."""
        if not node.layer.concatenates:
            return 0
        return sum(self.type_of(s).feature for s in node.sources)

    def input_type_of(self, node: Node) -> TensorType | None:
        """The type of a node's sources concatenated on the feature dim (None: no input)."""
        if not node.layer.concatenates:
            return None
        types = [self.type_of(s) for s in node.sources]
        if len(types) <= 1:
            return types[0] if types else None
        return types[0].with_feature(sum(t.feature for t in types))

    @property
    def is_encoder_decoder(self) -> bool:
        return any(n.layer.is_decoder for n in self.nodes)


def verify(graph: Graph) -> None:
    """Check the IR's invariants (used after passes in tests): names unique, order topological."""
    seen = {DATA}
    for node in graph.nodes:
        if node.name in seen:
            raise AssertionError(f"duplicate or shadowing node {node.name!r}")
        missing = [d for d in node.layer.dependencies if d not in seen]
        if missing:
            raise AssertionError(f"{node.name!r} comes before its dependencies {missing}")
        seen.add(node.name)
