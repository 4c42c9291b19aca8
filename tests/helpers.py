"""Shared test helpers: the shipped examples, ragged batches with garbage padding, ORT sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"  # copies of shared/examples/, the seed networks


def ragged_batch(rng: np.random.Generator, lengths: list[int], num_inputs: int,
                 garbage: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """A padded `[B, T, F]` batch whose padded frames hold large non-zero garbage."""
    lens = np.asarray(lengths, np.int32)
    x = rng.standard_normal((len(lens), int(lens.max()), num_inputs)).astype(np.float32)
    for b, n in enumerate(lens):
        x[b, n:] = garbage * rng.standard_normal((x.shape[1] - n, num_inputs))
    return x, lens


def session(model: onnx.ModelProto | str | Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session with strict shape and type inference, as the contract requires."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.strict_shape_type_inference", "1")
    options.intra_op_num_threads = threads
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
