"""The compile job: parameters in, a checked ONNX model out, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from netc.ir import Graph, NetcError, Where, check_params, init_params

from .onnx import CompileOptions, lower_graph
from .onnx.quantize import quantize_model


def compile_graph(graph: Graph, params: dict[str, np.ndarray] | None = None, seed: int = 42,
                  options: CompileOptions = CompileOptions(), params_file: str = "<params>") -> onnx.ModelProto:
    """Lower a typed graph with given parameters (checked) or seeded initial ones."""
    params = init_params(graph, seed) if params is None else check_params(graph, params, params_file)
    model = lower_graph(graph, params, options)
    return quantize_model(model, options.quantize) if options.quantize else model


def save_model(model: onnx.ModelProto, path: str | Path) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written model."""
    path = Path(path)
    data = model.SerializeToString(deterministic=True)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise NetcError(f"cannot write the output: {e.strerror}", Where(str(path)),
                        "check that the output directory exists and is writable") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise NetcError(f"cannot write the output: {e.strerror}", Where(str(path))) from None

