"""netc compile: typed IR -> ONNX. Never imports torch."""

from .compile import compile_graph, save_model

__all__ = ["compile_graph", "save_model"]
