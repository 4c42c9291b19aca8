"""CUDA: parity with the CPU through IO binding. Skipped where onnxruntime has no CUDA provider."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from netc.runtime import Model

from .conftest import sequences

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(),
                       reason="onnxruntime has no CUDAExecutionProvider"),
]


@pytest.mark.parametrize("name", ["blstm", "uni", "uni-stream"])
def test_cuda_matches_cpu(models, name):
    seqs = sequences(13, [5, 40, 1, 23])
    gpu = Model(models[name].path, device="cuda")
    assert gpu.device == "cuda"
    # fp32 on Hopper may run in TF32.
    for a, b in zip(gpu(seqs), Model(models[name].path, device="cpu")(seqs)):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_cuda_encoder_decoder_and_stream(models):
    seqs, targets = sequences(14, [6, 2]), [3, 5]
    gpu, cpu = Model(models["seq2seq"].path, device="cuda"), Model(models["seq2seq"].path, device="cpu")
    for a, b in zip(gpu(seqs, targets), cpu(seqs, targets)):
        np.testing.assert_allclose(a, b, atol=1e-3)
    stream = Model(models["uni-stream"].path, device="cuda").stream()
    x = sequences(15, [9])[0]
    parts = np.concatenate([stream.push(x[:4]), stream.push(x[4:])])
    np.testing.assert_allclose(parts, Model(models["uni"].path, device="cpu")([x])[0], atol=1e-3)
