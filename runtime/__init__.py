"""netc.runtime: serve compiled netc models on onnxruntime. Never imports torch."""
