"""int8 models (`netc compile --quantize int8`): onnxruntime's dynamic quantization of LSTM and MatMul weights.

Weights become int8 with one scale per tensor; activations are quantized per call (DynamicQuantizeLSTM,
MatMulInteger). The LSTM runs as a com.microsoft contrib op, so such models need onnxruntime.
NOTE: weights use 7 bits (`reduce_range`): without AVX-512 VNNI, the u8 x s8 kernels add pairs of products in
int16 and saturate. On a 3xBLSTM-500 this cut the largest log-probability deviation from 0.042 to 0.003 for
about 3% of the speed (AMD EPYC, AVX2).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnx
from netc.ir import NetcError

QUANTIZE_KINDS = ("int8",)


def quantize_model(model: onnx.ModelProto, kind: str) -> onnx.ModelProto:
    """The dynamically quantized model, with the original metadata kept."""
    if kind not in QUANTIZE_KINDS:
        raise NetcError(f"unknown quantization {kind!r}", hint="use int8")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="netc-quantize-") as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, source)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # NOTE: it logs a pre-processing advice on the root logger on every call
        try:
            quantize_dynamic(source, target, op_types_to_quantize=["LSTM", "MatMul"], weight_type=QuantType.QInt8,
                             reduce_range=True)
        finally:
            root.setLevel(level)
        quantized = onnx.load(target)
    quantized.ir_version = model.ir_version
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(model.metadata_props)
    return quantized
