"""device="cuda" without CUDA: a warning, then the CPU."""

from __future__ import annotations

import onnxruntime as ort
import pytest
from netc.runtime import Model

from .conftest import sequences


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is available here")
def test_cuda_request_falls_back_to_cpu_with_a_warning(models):
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        model = Model(models["blstm"].path, device="cuda")
    assert model.device == "cpu"
    assert len(model(sequences(0, [3]))) == 1
