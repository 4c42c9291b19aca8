"""What the runtime needs to know about a model: read from its graph I/O and netc metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort
from netc.ir import NetcError, Where

DATA, DATA_LENGTHS, TARGET_LENGTHS = "data", "data:size1", "classes:size1"
OUTPUT, OUTPUT_LENGTHS = "output", "output:size1"
# A streaming model has per rec layer the inputs `<layer>:h0`, `<layer>:c0` and outputs `<layer>:h`, `<layer>:c`.
STATE_IN = (":h0", ":c0")
STATE_OUT = (":h", ":c")


@dataclass(frozen=True)
class StateSpec:
    """One recurrent state of a streaming model: its input and output names and its size."""

    input: str
    output: str
    size: int


@dataclass(frozen=True)
class ModelInfo:
    """The model's interface: feature and class dims, kind, and its streaming states."""

    path: str
    num_inputs: int | None
    num_outputs: int | None
    encoder_decoder: bool
    states: tuple[StateSpec, ...]
    metadata: dict[str, str]
    sparse_input: bool = False  # data: int32 class indices [batch, time] in 0..num_inputs-1, not features

    @property
    def is_netc(self) -> bool:
        return "netc.version" in self.metadata

    @property
    def streaming(self) -> bool:
        return bool(self.states)


def static_dim(arg: ort.NodeArg, axis: int) -> int | None:
    """A fixed dim of a graph input or output, None when symbolic or absent."""
    shape = arg.shape or []
    return shape[axis] if len(shape) > axis and isinstance(shape[axis], int) else None


def read_info(session: ort.InferenceSession, path: str) -> ModelInfo:
    """Check the I/O names of the ONNX contract and read dims from metadata or static shapes."""
    part = session.get_modelmeta().custom_metadata_map.get("netc.decoder_part")
    if part is not None:  # encoder.onnx or decoder_step.onnx of a folder (docs/onnx-contract.md)
        folder = Path(path).parent
        raise NetcError(f"this is the {part} of an encoder-decoder folder, not a model of its own", Where(path),
                        f"pass the folder: {folder}")
    inputs = {a.name: a for a in session.get_inputs()}
    outputs = {a.name: a for a in session.get_outputs()}
    missing = [n for n in (DATA, DATA_LENGTHS) if n not in inputs] + [n for n in (OUTPUT,) if n not in outputs]
    if missing:
        raise NetcError(f"not a netc model: no {', '.join(repr(m) for m in missing)}", Where(path),
                        f"a netc model has inputs {DATA!r}, {DATA_LENGTHS!r} and output {OUTPUT!r}; "
                        f"this one has inputs {sorted(inputs)} and outputs {sorted(outputs)}")
    meta = dict(session.get_modelmeta().custom_metadata_map)
    num_inputs = int(meta["netc.num_inputs"]) if "netc.num_inputs" in meta else static_dim(inputs[DATA], 2)
    num_outputs = int(meta["netc.num_outputs"]) if "netc.num_outputs" in meta else static_dim(outputs[OUTPUT], 2)
    sparse = meta.get("netc.sparse_input", "false") == "true" or inputs[DATA].type == "tensor(int32)"
    return ModelInfo(path, num_inputs, num_outputs, TARGET_LENGTHS in inputs,
                     read_states(inputs, outputs, path), meta, sparse)


def read_states(inputs: dict[str, ort.NodeArg], outputs: dict[str, ort.NodeArg], path: str) -> tuple[StateSpec, ...]:
    """The state pairs of a streaming model, in graph input order."""
    states = []
    for name, arg in inputs.items():
        for suffix_in, suffix_out in zip(STATE_IN, STATE_OUT):
            if not name.endswith(suffix_in):
                continue
            out = name[: -len(suffix_in)] + suffix_out
            size = static_dim(arg, 1)
            if out not in outputs or size is None:
                raise NetcError(f"state input {name!r} has no matching output {out!r} or no fixed size",
                                Where(path), "recompile the model with netc compile --streaming")
            states.append(StateSpec(name, out, size))
    return tuple(states)
