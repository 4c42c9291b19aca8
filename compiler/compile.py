"""The compile job: parameters in, a checked ONNX model out, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from netc.ir import Graph, check_params, init_params
from netc.ir.files import atomic_output

from .onnx import CompileOptions, lower_graph
from .onnx.quantize import quantize_model
from .onnx.rec_loop import DecoderModels, is_decoder, lower_decoder, save_decoder


def compile_graph(graph: Graph, params: dict[str, np.ndarray] | None = None, seed: int = 42,
                  options: CompileOptions = CompileOptions(), params_file: str = "<params>"
                  ) -> onnx.ModelProto | DecoderModels:
    """Lower a typed graph with given parameters (checked) or seeded initial ones; an encoder-decoder (the output a
    rec layer with a unit dict) gives an encoder model and a decoder-step model (onnx/rec_loop.py)."""
    params = init_params(graph, seed) if params is None else check_params(graph, params, params_file)
    if is_decoder(graph):
        return lower_decoder(graph, params, options)
    model = lower_graph(graph, params, options)
    return quantize_model(model, options.quantize) if options.quantize else model


def save_model(model: onnx.ModelProto | DecoderModels, path: str | Path) -> None:
    """Write the model atomically: never a half-written file under the final name (a decoder: a folder)."""
    if isinstance(model, DecoderModels):
        save_decoder(model, path)
        return
    data = model.SerializeToString(deterministic=True)
    with atomic_output(path, "output") as tmp:
        tmp.write_bytes(data)
