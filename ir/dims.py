"""Data dimensions from, in order: command-line options, extern_data, num_inputs/num_outputs."""

from __future__ import annotations

from typing import Any

from .errors import NetcError, Where
from .graph import Dims
from .read import Document

DEFAULT_TARGET = "classes"


def resolve_dims(doc: Document, num_inputs: int | None = None, num_outputs: int | None = None,
                 fallback: Dims = Dims()) -> Dims:
    """Combine the dims a user gave; `fallback` holds dims read from data files."""
    inputs, targets, sparse = dims_from_config(doc)
    if num_inputs is not None:
        inputs = num_inputs
    if num_outputs is not None:
        targets[DEFAULT_TARGET] = num_outputs
    if inputs is None:
        inputs = fallback.num_inputs
    for name, dim in fallback.targets:
        targets.setdefault(name, dim)
    return Dims(inputs, tuple(sorted(targets.items())), sparse)


def dims_from_config(doc: Document) -> tuple[int | None, dict[str, int], bool]:
    """`extern_data` wins over `num_inputs`/`num_outputs`; also whether `data` is sparse (class indices:
    `"sparse": true`, or `num_outputs` `{"data": [V, 1]}`, RETURNN's 1-dimensional label data)."""
    values = doc.values
    inputs: int | None = None
    targets: dict[str, int] = {}
    sparse = False
    if "num_inputs" in values:
        inputs = positive_dim(values["num_inputs"], doc.where("num_inputs", key="num_inputs"))
    if "num_outputs" in values:
        outputs = values["num_outputs"]
        at = doc.where("num_outputs", key="num_outputs")
        if isinstance(outputs, dict):
            for name, spec in outputs.items():
                dim = positive_dim(spec[0] if isinstance(spec, (list, tuple)) and spec else spec, at)
                if name == "data":
                    inputs = inputs if inputs is not None else dim
                    sparse = isinstance(spec, (list, tuple)) and len(spec) > 1 and spec[1] == 1
                else:
                    targets[name] = dim
        else:
            targets[DEFAULT_TARGET] = positive_dim(outputs, at)
    extern = values.get("extern_data")
    if extern is not None:
        at = doc.where("extern_data", key="extern_data")
        if not isinstance(extern, dict):
            raise NetcError("extern_data must be a dict of data keys", at,
                            'write {"data": {"dim": 40}, "classes": {"dim": 1000, "sparse": true}}')
        for name, spec in extern.items():
            dim = positive_dim(spec.get("dim") if isinstance(spec, dict) else spec, at)
            if name == "data":
                inputs = dim
                sparse = isinstance(spec, dict) and spec.get("sparse") is True
            else:
                targets[name] = dim
    return inputs, targets, sparse


def positive_dim(value: Any, at: Where) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1 << 20:
        return value
    raise NetcError(f"expected a dimension between 1 and {1 << 20}, got {value!r}", at)
