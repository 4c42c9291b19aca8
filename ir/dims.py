"""Data dimensions from, in order: command-line options, the config (extern_data, else num_inputs/num_outputs),
the training data files (`fallback`).

Follows RETURNN's `returnn/tf/network.py: _extern_data_types_from_config` and `_num_inputs_outputs_from_config`
with `returnn/datasets/basic.py: convert_data_dims`: `extern_data`, when set, is the only source (RETURNN then
ignores num_inputs/num_outputs); a scalar `num_outputs` is the dim of the config's `target` (default
"classes"); `num_outputs` entries are an int (dim; sparse except for "data"), `[dim, ndim]` (ndim 1: sparse
class indices, 2: dense features) or a data dict (`dim`, else the last of `shape`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from .errors import NetcError, Where
from .graph import Dims
from .keys import needed, opaque_error, opaque_parts
from .read import Document

DEFAULT_TARGET = "classes"
DATA = "data"


def resolve_dims(doc: Document, num_inputs: int | None = None, num_outputs: int | None = None,
                 fallback: Dims = Dims()) -> Dims:
    """Combine the dims a user gave; `fallback` holds dims read from data files (only what is missing).

    A dim given on the command line is never read from the config (an opaque config value is then no error).
    """
    given = {"num_inputs"} if num_inputs is not None else set()
    if num_inputs is not None and num_outputs is not None:
        given.add("num_outputs")
    inputs, targets, sparse = dims_from_config(replace(doc, values={k: v for k, v in doc.values.items()
                                                                    if k not in given}))
    if num_inputs is not None:
        inputs = num_inputs
    if num_outputs is not None:
        targets[target_name(doc)] = num_outputs
    if inputs is None:
        inputs = fallback.num_inputs
    for name, dim in fallback.targets:
        targets.setdefault(name, dim)
    return Dims(inputs, tuple(sorted(targets.items())), sparse, inputs_given=num_inputs is not None)


def has_data_dims(dims: Dims) -> bool:
    """Whether the input dim and at least one target dim are known (no data file needs opening)."""
    return dims.num_inputs is not None and bool(dims.targets)


def target_name(doc: Document) -> str:
    """The config's `target` (RETURNN's default target data key)."""
    name = needed(doc, "target", DEFAULT_TARGET)
    if name is None:
        return DEFAULT_TARGET
    if not isinstance(name, str):
        raise NetcError(f"target must be a data key name, got {name!r}", doc.where("target", key="target"))
    return name


def dims_from_config(doc: Document) -> tuple[int | None, dict[str, int], bool]:
    """The input dim, the target dims and whether `data` is sparse (class indices), as a config states them
    (extern_data, else num_inputs/num_outputs and the Theano-era `sparse_input`)."""
    if doc.values.get("extern_data") is not None:
        return dims_from_extern_data(doc)
    inputs: int | None = None
    targets: dict[str, int] = {}
    sparse_input = needed(doc, "sparse_input", False) is True
    if doc.values.get("num_inputs") is not None:
        inputs = positive_dim(needed(doc, "num_inputs"), doc.where("num_inputs", key="num_inputs"))
    outputs = needed(doc, "num_outputs")
    if outputs is None:
        return inputs, targets, sparse_input
    at = doc.where("num_outputs", key="num_outputs")
    if not isinstance(outputs, dict):
        return inputs, {target_name(doc): positive_dim(outputs, at)}, sparse_input
    dict_inputs, targets, dict_sparse = data_specs(doc, outputs, "num_outputs")
    if DATA in outputs:
        inputs, sparse_input = dict_inputs, dict_sparse
    return inputs, targets, sparse_input


def dims_from_extern_data(doc: Document) -> tuple[int | None, dict[str, int], bool]:
    """`extern_data = {"data": {"dim": 40}, "classes": {"dim": 1000, "sparse": True}}` (or `[dim, ndim]`)."""
    extern = read_extern_data(doc)
    at = doc.where("extern_data", key="extern_data")
    if not isinstance(extern, dict):
        raise NetcError("extern_data must be a dict of data keys", at,
                        'write {"data": {"dim": 40}, "classes": {"dim": 1000, "sparse": true}}')
    return data_specs(doc, extern, "extern_data")


def data_specs(doc: Document, specs: dict, key: str) -> tuple[int | None, dict[str, int], bool]:
    """(input dim, target dims, input sparse) of a dict of data keys, config key `key` (`extern_data`, or
    `num_outputs` as a dict): `data` is the input (None, dense when absent), every other key a target."""
    inputs: int | None = None
    targets: dict[str, int] = {}
    sparse_input = False
    for name, spec in specs.items():
        dim, sparse = data_spec(spec, str(name), doc.where(key, str(name), key=key))
        if name == DATA:
            inputs, sparse_input = dim, sparse
        else:
            targets[str(name)] = dim
    return inputs, targets, sparse_input


def with_input_key(doc: Document, dims: Dims, key: str, at: Where) -> Dims:
    """The dims of a net whose layers read extern data `key` (`"from": "data:delayed"`, the input of
    RETURNN's LM setups: `LmDataset` with `add_delayed_seq_data`) instead of `data`: `key` is the input (its
    dim and sparsity as the config declares it), and `data` becomes a target like any other key.

    `--num-inputs` (`dims.inputs_given`) sets the dim of `key`, the model's input; `data` keeps its declared dim.

    Errors: `key` is not declared (extern_data, or a num_outputs dict), located at the reading layer's `from`.
    """
    declared = doc.values.get("extern_data")
    name = "extern_data" if declared is not None else "num_outputs"
    declared = (read_extern_data(doc) if name == "extern_data" else needed(doc, name)) \
        if declared is not None or isinstance(doc.values.get(name), dict) else None
    if not isinstance(declared, dict) or key not in declared:
        raise NetcError(f"the network reads data:{key}, a data key the config does not declare", at,
                        f'declare it, e.g. extern_data = {{"data": {{"dim": 10025, "sparse": True}}, "{key}": '
                        f'{{"dim": 10025, "sparse": True}}}}, or read "data"')
    dim, sparse = data_spec(declared[key], key, doc.where(name, key, key=name), input_key=key)
    targets = dict(dims.targets)  # `key` stays a target too (an LM's `"target": "delayed"`), as in RETURNN
    if DATA in declared:
        targets.setdefault(DATA, data_spec(declared[DATA], DATA, doc.where(name, DATA, key=name), input_key=key)[0])
    elif dims.num_inputs is not None and not dims.inputs_given:
        targets.setdefault(DATA, dims.num_inputs)
    if dims.inputs_given:  # --num-inputs is the dim of the model's input, here `key` (also as a target)
        dim = targets[key] = dims.num_inputs  # type: ignore[assignment] - set when given
    return Dims(dim, tuple(sorted(targets.items())), sparse, input_key=key, inputs_given=dims.inputs_given)


SPEC_KEYS = ("dim", "shape", "sparse", "sparse_dim")  # what netc reads of a data dict (data_spec)


def read_extern_data(doc: Document) -> Any:
    """`extern_data` with only what netc reads of it computed: the keys of `SPEC_KEYS` of each data dict.

    Dim-tag annotations (`same_dim_tags_as`, `dim_tags`, as the RNN-T configs of returnn-experiments 2020
    build them with `DimensionTag(...)`) and other keys may be opaque; an opaque value netc reads is a located
    error naming its key path.
    """
    extern = doc.values.get("extern_data")
    if not isinstance(extern, dict):
        return needed(doc, "extern_data")
    for name, spec in extern.items():
        parts = [(key, spec[key]) for key in SPEC_KEYS if key in spec] if isinstance(spec, dict) else [(None, spec)]
        for key, value in parts:
            path = ("extern_data", str(name)) + ((key,) if key else ())
            for at, item in opaque_parts(value, path):
                raise opaque_error(doc, at, item)
    return extern


def data_spec(spec: Any, name: str, at: Where, input_key: str = DATA) -> tuple[int, bool]:
    """(dim, sparse) of one data key: an int, `[dim, ndim]`, or a data dict (`dim` or `shape`, `sparse`).

    A dense key's dim is the last of its `shape` when it has one, whatever `dim` says (RETURNN's
    `tensor/_tensor_extra.py: infer_dim_tags`). The shape of `input_key`, the key the net reads, must be
    `(T, F)` dense or `(T,)` sparse: netc's model input is `[B, T, F]` or `[B, T]` (other shapes: NetcError)."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return positive_dim(spec, at), name != DATA
    if isinstance(spec, (list, tuple)):
        if len(spec) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in spec) or spec[1] < 1:
            raise NetcError(f"data key {name!r}: expected [dim, ndim] with ndim >= 1, got {list(spec)!r}", at,
                            "ndim 1: class indices (sparse), 2: feature vectors (dense)")
        return positive_dim(spec[0], at), spec[1] == 1
    if isinstance(spec, dict):
        dim = spec.get("dim")
        shape = spec.get("shape")
        sparse = bool(spec.get("sparse", False)) or spec.get("sparse_dim") is not None
        if name == input_key:
            check_input_dtype(spec.get("dtype"), sparse, name, at)
        if isinstance(shape, (list, tuple)) and shape:
            if name == input_key:
                check_input_shape(tuple(shape), sparse, name, at)
            if not sparse or dim is None:
                # RETURNN's `infer_dim_tags` takes a dense feature dim from `shape` and does not check `dim`
                # against it (feature_dim_axis unspecified): `{"dim": 40, "shape": (None, 30)}` is 30 there too
                dim = shape[-1]
        return positive_dim(dim, at), sparse
    raise NetcError(f"data key {name!r}: expected a dim, [dim, ndim] or a dict, got {spec!r}", at,
                    '{"dim": 40} for features, {"dim": 1000, "sparse": true} for class indices')


INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


def check_input_dtype(dtype: Any, sparse: bool, name: str, at: Where) -> None:
    """The data key a net reads holds float32 features or integer class indices (fed as int32): another dtype
    would have RETURNN compute in it (e.g. float16), which a netc model does not (NetcError)."""
    if dtype is None or dtype == ("int32" if sparse else "float32") or (sparse and dtype in INT_DTYPES):
        return
    raise NetcError(f"extern_data {name!r} has dtype {dtype!r}: netc's models take "
                    f"{'class indices as int32' if sparse else 'float32 features and compute in float32'}", at,
                    f"remove dtype (RETURNN's default is {'int32' if sparse else 'float32'})")


def check_input_shape(shape: tuple[Any, ...], sparse: bool, name: str, at: Where) -> None:
    """The `shape` of the data key a net reads is `(None, F)` (dense) or `(None,)` (sparse), without the batch
    dim: netc's model input is `[B, T, F]` or `[B, T]` with per-sequence lengths (other shapes: NetcError)."""
    expected = 1 if sparse else 2
    layout = f"{'(None,)' if sparse else '(None, F)'} ([B, T{', F' * (not sparse)}])"
    kind = "class indices (sparse)" if sparse else "feature frames (dense)"
    if len(shape) == expected:
        if shape[0] is None:
            return
        raise NetcError(f"extern_data {name!r} has shape {tuple(shape)!r}: its time axis has the fixed size "
                        f"{shape[0]!r}, but netc compiles nets whose input is {kind} of shape {layout}, with "
                        "per-sequence lengths", at, f"write shape {(None, *shape[1:])!r}")
    dims = ", ".join(["B", "T", *(f"spatial{i}" for i in range(1, len(shape) - expected + 1)), *["F"] * (not sparse)]
                     if len(shape) > expected else ["B", *["F"] * (not sparse)])
    flat = math.prod(v for v in shape[1:] if isinstance(v, int)) if len(shape) > expected else None
    hint = (f"feed the features flat, shape (None, {flat}), and split them in the network with a split_dims layer"
            if flat and not sparse else f"write shape {'(None,)' if sparse else f'(None, {shape[-1]})'}, or leave "
            "shape out and give dim")
    raise NetcError(f"extern_data {name!r} has shape {tuple(shape)!r}: RETURNN reads it as {len(shape) + 1}-D data "
                    f"[{dims}], but netc compiles nets whose input is {kind} of shape {layout}", at, hint)


def positive_dim(value: Any, at: Where) -> int:
    """A dimension: a whole number in [1, 2^20] (a string of digits, as RETURNN's `config.int`, too)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1 << 20:
        return value
    raise NetcError(f"expected a dimension between 1 and {1 << 20}, got {value!r}", at)
