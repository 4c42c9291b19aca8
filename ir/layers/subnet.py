"""`subnetwork` (returnn/tf/layers/basic.py SubnetworkLayer): a nested net dict whose `output` is the value.

ir/subnetwork.py flattens it before the graph is built: each sublayer becomes a node `<layer>/<sublayer>`
(so its parameters are `<layer>/<sublayer>/W`, as RETURNN names them), `data` inside is the layer's
(concatenated) sources, `base:x` is the enclosing network's `x`, and the layer itself copies
`<layer>/output`. A subnetwork's `dropout` applies to its input: `data` inside is then a copy node
`<layer>/data` with that dropout (RETURNN's `make_subnet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import At, required
from netc.ir.layers.simple import PassThrough


@dataclass(frozen=True)
class SubnetSpec:
    """The sublayer names of a subnetwork dict (the dicts themselves become nodes of the graph)."""

    layers: tuple[str, ...]

    @classmethod
    def from_config(cls, value: Any) -> SubnetSpec:
        if not isinstance(value, dict) or not all(isinstance(v, dict) for k, v in value.items()
                                                  if not str(k).startswith("#")):
            raise ValueError('a subnetwork is a dict of layers, e.g. {"output": {"class": "copy"}}')
        if "output" not in value:
            raise ValueError("the subnetwork has no layer named 'output'")
        return cls(tuple(str(k) for k in value if not str(k).startswith("#")))

    def plain(self) -> Any:
        return list(self.layers)


@dataclass(frozen=True)
class Subnetwork(PassThrough):
    """The value of the flattened sublayer `<layer>/output`."""

    subnetwork: SubnetSpec | None = None
    concat_sources: bool = True

    class_name: ClassVar[str] = "subnetwork"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.subnetwork, "subnetwork", at, '"subnetwork": {"output": {...}}')
        if not self.concat_sources:
            raise NetcError("concat_sources false (data:0, data:1 inside) is not supported", at("concat_sources"),
                            "remove concat_sources: the sources are concatenated as 'data'")

