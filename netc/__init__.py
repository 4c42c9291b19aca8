"""netc: RETURNN network dicts compiled to ONNX, trained with PyTorch, served on onnxruntime."""

__version__ = "0.1.0"
