"""Starting from given parameters: `import_model_train_epoch1` and `preload_from_files`, as RETURNN TF does.

RETURNN (returnn/engine/base.py `get_epoch_model`, returnn/tf/engine.py `init_network_from_config`,
returnn/tf/network.py `load_params_from_file` and `CustomCheckpointLoader`) applies both only when a training
starts at epoch 1, never when it resumes. First each `preload_from_files` entry with `init_for_train` (in the
order of the entries' names) sets the parameters it selects; a parameter keeps the first preload's value. Then
`import_model_train_epoch1` sets every other parameter, and each must be in the file (unless
`load_ignore_missing_vars`). Entries of a file that the network does not have (`global_step`, optimizer slots,
other layers) are not used; the optimizer starts fresh. Files: an `.npz`, a netc checkpoint `.pt`, or a
TensorFlow checkpoint prefix (`model.003` with `model.003.index` beside it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from netc.ir import Document, NetcError, Where
from netc.ir.errors import did_you_mean
from netc.ir.keys import needed
from netc.ir.params import ParamSpec

from .checkpoint import read_params

PRELOAD_OPTIONS = ("filename", "prefix", "init_for_train", "ignore_missing", "ignore_params",
                   "ignore_params_prefixes", "var_name_mapping", "custom_missing_load_func")
KEYS = ("import_model_train_epoch1", "preload_from_files", "load_ignore_missing_vars")
Log = Callable[[str], None]


@dataclass(frozen=True)
class Preload:
    """One `preload_from_files` entry (CustomCheckpointLoader's options)."""

    name: str
    filename: str
    where: Where
    prefix: str = ""  # load_if_prefix: only parameters whose name contains it; the file's name lacks it
    init_for_train: bool = False  # False: RETURNN applies the entry only when not training
    ignore_missing: bool = False
    ignore_params: tuple[str, ...] = ()
    ignore_params_prefixes: tuple[str, ...] = ()
    var_name_mapping: tuple[tuple[str, str], ...] = ()  # name without prefix -> name in the file


@dataclass(frozen=True)
class GivenParams:
    """Where a training's first-epoch parameters come from."""

    import_model: str | None = None
    import_where: Where = Where()
    ignore_missing_vars: bool = False
    preloads: tuple[Preload, ...] = ()


def read_given_params(doc: Document) -> GivenParams:
    """The three keys of a config, checked; errors name the file position and key."""
    for key in KEYS:
        needed(doc, key)
    path = doc.values.get("import_model_train_epoch1")
    if path is not None and not isinstance(path, str):  # "" is unset, as in RETURNN
        raise NetcError(f"must be a file name, got {path!r}", doc.where("import_model_train_epoch1",
                                                                         key="import_model_train_epoch1"))
    ignore = doc.values.get("load_ignore_missing_vars", False)
    if not isinstance(ignore, bool):
        raise NetcError(f"must be True or False, got {ignore!r}", doc.where("load_ignore_missing_vars",
                                                                             key="load_ignore_missing_vars"))
    preloads = doc.values.get("preload_from_files") or {}
    if not isinstance(preloads, dict):
        raise NetcError("must be a dict of name -> options", doc.where("preload_from_files", key="preload_from_files"))
    return GivenParams(path or None, doc.where("import_model_train_epoch1", key="import_model_train_epoch1"), ignore,
                       tuple(read_preload(doc, name, preloads[name]) for name in sorted(preloads)))


def read_preload(doc: Document, name: str, opts: Any) -> Preload:
    """One entry; unknown options and `custom_missing_load_func` (code) are errors."""
    at = doc.where("preload_from_files", name, key=f"preload_from_files[{name!r}]")
    if not isinstance(opts, dict):
        raise NetcError(f"must be a dict of options, got {opts!r}", at)
    for option in opts:
        if option not in PRELOAD_OPTIONS:
            raise NetcError(f"unknown option {option!r}", at, did_you_mean(str(option), PRELOAD_OPTIONS))
    if "custom_missing_load_func" in opts:
        raise NetcError("custom_missing_load_func is code, which netc does not run", at,
                        "remove it; ignore_missing or var_name_mapping cover missing parameters")
    kinds = {"filename": str, "prefix": str, "init_for_train": bool, "ignore_missing": bool,
             "ignore_params": (list, tuple), "ignore_params_prefixes": (list, tuple), "var_name_mapping": dict}
    for option, kind in kinds.items():
        if option in opts and not isinstance(opts[option], kind):
            raise NetcError(f"option {option!r} has the wrong type: {opts[option]!r}", at)
    if not opts.get("filename"):
        raise NetcError("no 'filename'", at, "set the parameter file: .npz, .pt or a checkpoint prefix")
    mapping = opts.get("var_name_mapping", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise NetcError("var_name_mapping must map names to names", at)
    return Preload(name, opts["filename"], at, opts.get("prefix", ""), opts.get("init_for_train", False),
                   opts.get("ignore_missing", False), tuple(map(str, opts.get("ignore_params", ()))),
                   tuple(map(str, opts.get("ignore_params_prefixes", ()))), tuple(sorted(mapping.items())))


def given_values(given: GivenParams, specs: list[ParamSpec], import_model: bool = True,
                 log: Log = print) -> dict[str, np.ndarray]:
    """Values for the parameters that the preloads and the import set, by name (float32, shapes checked).

    `import_model` False: RETURNN skips `import_model_train_epoch1` (start_epoch 1 beside existing checkpoints).
    Parameters not in the result keep their random initialisation.
    """
    values: dict[str, np.ndarray] = {}
    for preload in given.preloads:
        if not preload.init_for_train:
            log(f"note: preload_from_files {preload.name!r} has no init_for_train: RETURNN loads it only when "
                "not training, so netc train does not")
            continue
        loaded = preload_values(preload, specs, set(values))
        log(f"preloaded {len(loaded)} parameters from {preload.filename} ({preload.name!r})")
        values |= loaded
    if given.import_model and import_model:
        rest = [s for s in specs if s.name not in values]
        loaded = import_values(given, rest)
        log(f"loaded {len(loaded)} parameters from {given.import_model} (import_model_train_epoch1)")
        values |= loaded
    return values


def import_values(given: GivenParams, specs: list[ParamSpec]) -> dict[str, np.ndarray]:
    """`load_params_from_file`: every parameter must be in the file, unless `load_ignore_missing_vars`."""
    assert given.import_model is not None
    file = read_params(given.import_model)
    missing = [s for s in specs if s.name not in file]
    if missing and (not given.ignore_missing_vars or len(missing) == len(specs)):
        raise missing_error(missing, file, given.import_model, given.import_where,
                            "set load_ignore_missing_vars = True to keep those randomly initialised")
    return checked({s.name: file[s.name] for s in specs if s.name in file}, specs, given.import_model)


def preload_values(preload: Preload, specs: list[ParamSpec], done: set[str]) -> dict[str, np.ndarray]:
    """CustomCheckpointLoader: prefix selection, ignore lists, var_name_mapping for names not in the file.

    Parameters in `done` (set by an earlier entry) count as selected but are not loaded again.
    """
    selected: dict[str, str] = {}  # parameter -> its name in the file
    for spec in specs:
        if preload.prefix and preload.prefix not in spec.name:
            continue
        name = spec.name.replace(preload.prefix, "") if preload.prefix else spec.name
        if name in preload.ignore_params or name.startswith(preload.ignore_params_prefixes):
            continue
        selected[spec.name] = name
    if not selected:
        raise NetcError(f"no parameter of the network is selected (prefix {preload.prefix!r})", preload.where,
                        "check prefix, ignore_params and ignore_params_prefixes")
    file = read_params(preload.filename)
    selected = {param: name for param, name in selected.items() if param not in done}
    mapping = dict(preload.var_name_mapping)
    for param, name in selected.items():
        if name not in file and name in mapping:
            selected[param] = mapping[name]
    missing = [s for s in specs if s.name in selected and selected[s.name] not in file]
    found = {param: file[name] for param, name in selected.items() if name in file}
    if missing and (not preload.ignore_missing or not found):
        raise missing_error(missing, file, preload.filename, preload.where,
                            "set ignore_missing, prefix or var_name_mapping in this preload_from_files entry")
    return checked(found, specs, preload.filename)


def missing_error(missing: list[ParamSpec], file: dict[str, np.ndarray], path: str, where: Where,
                  hint: str) -> NetcError:
    names = ", ".join(f"{s.name!r} {s.shape}" for s in missing[:20]) + (" ..." if len(missing) > 20 else "")
    unused = sorted(file)[:20]
    return NetcError(f"{len(missing)} parameters are not in {path}: {names}; the file holds {len(file)} entries "
                     f"({', '.join(unused)}{' ...' if len(file) > 20 else ''})", where, hint)


def checked(values: dict[str, np.ndarray], specs: list[ParamSpec], path: str) -> dict[str, np.ndarray]:
    """Shapes as the network's, finite floating-point values, as float32."""
    shapes = {s.name: s.shape for s in specs}
    problems = [f"{name!r} has shape {tuple(v.shape)} in the file, the network needs {shapes[name]}"
                for name, v in values.items() if tuple(v.shape) != shapes[name]]
    problems += [f"{name!r} is not finite floating-point ({v.dtype})" for name, v in values.items()
                 if not np.issubdtype(v.dtype, np.floating) or not np.all(np.isfinite(v))]
    if problems:
        raise NetcError("parameters do not fit the network:\n    " + "\n    ".join(problems), Where(path),
                        "names and shapes follow RETURNN TF (layer/W, layer/rec/W, ...)")
    return {name: np.ascontiguousarray(v, dtype=np.float32) for name, v in values.items()}
