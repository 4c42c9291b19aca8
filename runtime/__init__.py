"""netc.runtime: serve compiled netc models on onnxruntime. Never imports torch or netc.compiler."""

from .batching import DEFAULT_BATCH_FRAMES, buckets
from .info import ModelInfo
from .model import Model
from .stream import Stream

__all__ = ["DEFAULT_BATCH_FRAMES", "Model", "ModelInfo", "Stream", "buckets"]
