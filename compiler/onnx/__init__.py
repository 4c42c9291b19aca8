"""Lowering of the typed IR to ONNX."""

from .lower import DEFAULT_OPSET, IR_VERSION, LOWER, OUTPUT_KINDS, CompileOptions, lower_graph

__all__ = ["DEFAULT_OPSET", "IR_VERSION", "LOWER", "OUTPUT_KINDS", "CompileOptions", "lower_graph"]
