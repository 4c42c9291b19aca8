"""int8 models: the runtime runs them, and they stay close to fp32."""

from __future__ import annotations

import numpy as np
import onnx
from netc.runtime import Model

from tests.helpers import session

from .conftest import sequences


def test_int8_model_runs_and_stays_close_to_fp32(models):
    seqs = sequences(11, [9, 30, 1, 17])
    fp32 = Model(models["blstm"].path, threads=1)(seqs)
    int8 = Model(models["blstm-int8"].path, threads=1)(seqs)
    deviation = max(float(np.abs(a - b).max()) for a, b in zip(fp32, int8))
    log_deviation = max(float(np.abs(np.log(a) - np.log(b)).max()) for a, b in zip(fp32, int8))
    # Probabilities of a tiny random net with large weights: 7-bit weights, dynamic 8-bit activations
    # (measured here: 0.0055, and 0.029 in log space).
    assert 0 < deviation < 0.02 and log_deviation < 0.1
    for out in int8:
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_int8_model_has_quantized_lstms_and_keeps_metadata(models):
    proto = onnx.load(models["blstm-int8"].path)
    ops = {n.op_type for n in proto.graph.node}
    assert {"DynamicQuantizeLSTM", "MatMulInteger"} <= ops and "LSTM" not in ops
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["netc.quantize"] == "int8" and meta["netc.num_inputs"] == "5"
    assert proto.ir_version == 8
    onnx.checker.check_model(proto, full_check=True)
    onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    session(models["blstm-int8"].path)
    assert models["blstm-int8"].path.stat().st_size < models["blstm"].path.stat().st_size
