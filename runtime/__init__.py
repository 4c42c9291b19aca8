"""netc.runtime: serve compiled netc models on onnxruntime. Never imports torch or netc.compiler."""

from .batching import DEFAULT_BATCH_FRAMES, DEFAULT_STEP_COST, buckets
from .info import ModelInfo
from .model import Model
from .stream import Stream

__all__ = ["DEFAULT_BATCH_FRAMES", "DEFAULT_STEP_COST", "Model", "ModelInfo", "Stream", "buckets"]
