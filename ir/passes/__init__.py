"""Passes over the IR, Graph -> Graph, run in this order by the pipeline."""

from netc.ir.passes.check_size import check_size
from netc.ir.passes.infer_types import infer_types

PASSES = (infer_types, check_size)

__all__ = ["PASSES", "check_size", "infer_types"]
