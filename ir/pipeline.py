"""From a file to a typed, checked Graph: read, resolve dims, build, then the passes in order."""

from __future__ import annotations

from pathlib import Path

from .build import build_graph
from .dims import resolve_dims
from .graph import Dims, Graph
from .passes import PASSES
from .read import Document, read_file


def graph_from_document(doc: Document, num_inputs: int | None = None, num_outputs: int | None = None,
                        fallback_dims: Dims = Dims()) -> Graph:
    """Build the typed IR of a read document; every error is a located NetcError."""
    graph = build_graph(doc, resolve_dims(doc, num_inputs, num_outputs, fallback_dims))
    for run_pass in PASSES:
        graph = run_pass(graph)
    return graph


def load_graph(path: str | Path, num_inputs: int | None = None, num_outputs: int | None = None,
               exec_config: bool = False) -> Graph:
    """Read a net dict or config file and build its typed IR."""
    return graph_from_document(read_file(path, exec_config), num_inputs, num_outputs)
