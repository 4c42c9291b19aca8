"""netc's typed IR: net dicts read, validated and typed. Depends on the stdlib and numpy only."""

from .errors import NetcError, Where
from .graph import Dims, Graph, Node, verify
from .params import ParamSpec, check_params, init_params, load_npz, output_batch_norm, param_name, param_specs
from .pipeline import graph_from_document, load_graph
from .printing import canonical_json, format_table
from .read import Document, read_file
from .types import Act, Direction, SeqType, TimeAxis

__all__ = ["Act", "Dims", "Direction", "Document", "Graph", "NetcError", "Node", "ParamSpec", "SeqType",
           "TimeAxis", "Where", "canonical_json", "check_params", "format_table", "graph_from_document",
           "init_params", "load_graph", "load_npz", "output_batch_norm", "param_name", "param_specs", "read_file",
           "verify"]
