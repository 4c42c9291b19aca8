"""Opening an onnxruntime session on a model file: providers, threads, clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnxruntime as ort
from netc.ir import NetcError, Where

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")


def providers_for(device: str) -> list[str]:
    """The provider list for a device: CUDA first where onnxruntime has it and the device is not `cpu`."""
    if device not in DEVICES:
        raise NetcError(f"unknown device {device!r}", hint="use auto, cpu or cuda")
    if device != "cpu" and CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    return [CPU]


def session_options(threads: int | None, share: bool) -> ort.SessionOptions:
    """Graph optimizations on; `share`: threads sleep instead of spinning (torch in the same process)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise NetcError(f"threads must be >= 1, got {threads}")
        options.intra_op_num_threads = threads
    if share:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def open_session(path: str | Path, device: str = "auto", threads: int | None = None,
                 share: bool = False) -> ort.InferenceSession:
    """An InferenceSession on `path`; unreadable or invalid files raise a located NetcError."""
    path = str(path)
    if not Path(path).is_file():
        raise NetcError("no such model file", Where(path))
    try:
        session = ort.InferenceSession(path, session_options(threads, share), providers=providers_for(device))
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several types for unreadable models
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NetcError(f"not a loadable ONNX model: {first_line}", Where(path),
                        "the file may be truncated or not an ONNX model; recompile it with netc compile") from None
    if device == "cuda" and CUDA not in session.get_providers():
        # NOTE: also when onnxruntime-gpu is installed but cannot load the CUDA libraries.
        warnings.warn("CUDA is not available to onnxruntime (install onnxruntime-gpu and CUDA); running on the CPU",
                      RuntimeWarning, stacklevel=3)
    return session
