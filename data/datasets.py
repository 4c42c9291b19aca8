"""Datasets from config values (training.md): HDF files and generating datasets, one epoch at a time."""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from netc.data.generating import DummyDataset, Task12AXDataset
from netc.data.hdf import HdfReader, HdfSeq
from netc.ir import Dims, NetcError, Where
from netc.ir.dims import has_data_dims, resolve_dims
from netc.ir.errors import did_you_mean
from netc.ir.keys import needed, opaque_parts
from netc.ir.read import Document


class Corpus(Protocol):
    """The sequences of one epoch, in corpus order."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> HdfSeq: ...


class Dataset(Protocol):
    """What the trainer needs of a dataset: dims, and each epoch's corpus with its lengths."""

    @property
    def num_inputs(self) -> int: ...

    @property
    def target_dims(self) -> dict[str, int]: ...

    def corpus(self, epoch: int) -> tuple[Corpus, np.ndarray]:
        """The epoch's sequences and their lengths (max over input and targets)."""
        ...


@dataclass(frozen=True)
class HdfDataset:
    """One or more RETURNN HDF files, read lazily and concatenated; the same every epoch."""

    readers: tuple[HdfReader, ...]

    @property
    def num_inputs(self) -> int:
        return self.readers[0].num_inputs

    @property
    def target_dims(self) -> dict[str, int]:
        dims = {k: self.readers[0].target_dim(k) for k in self.readers[0].target_keys}
        return {k: v for k, v in dims.items() if v is not None}

    def corpus(self, epoch: int) -> tuple[Corpus, np.ndarray]:
        return ConcatCorpus(self.readers), np.concatenate([seq_lengths(r) for r in self.readers])

    def __len__(self) -> int:
        return sum(len(r) for r in self.readers)


def seq_lengths(reader: HdfReader) -> np.ndarray:
    """Per sequence, the longest of its input and target lengths (what batching pads to)."""
    return np.maximum.reduce([reader.input_lengths, *reader.target_lengths.values()])


class ConcatCorpus:
    """Several HDF files as one corpus, in file order."""

    def __init__(self, readers: Sequence[HdfReader]):
        self.readers = list(readers)
        self.offsets = np.cumsum([0] + [len(r) for r in readers])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> HdfSeq:
        file = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.readers[file][index - int(self.offsets[file])]


@dataclass(frozen=True)
class GeneratedDataset:
    """A generating dataset (DummyDataset, Task12AXDataset): its sequences made per epoch."""

    generator: DummyDataset | Task12AXDataset

    @property
    def num_inputs(self) -> int:
        return self.generator.input_dim

    @property
    def target_dims(self) -> dict[str, int]:
        return dict(self.generator.target_dims)

    def corpus(self, epoch: int) -> tuple[Corpus, np.ndarray]:
        seqs = self.generator.epoch_seqs(epoch)
        return seqs, np.array([len(s.features) for s in seqs], np.int64)


GENERATORS: dict[str, type] = {"DummyDataset": DummyDataset, "Task12AXDataset": Task12AXDataset}
HDF_CLASS = "HDFDataset"
CACHING = "dataset caching only"
IGNORED_OPTIONS = {"cache_byte_size": CACHING, "use_cache_manager": CACHING, "name": "a name for RETURNN's log"}
# NOTE: RETURNN dataset options that change what training sees; netc does not implement them yet.
DIFFERS_OPTIONS = {"seq_ordering": None, "partition_epoch": 1, "window": 1, "context_window": None,
                   "chunking": None, "seq_list_filter_file": None, "fixed_random_subset": None}
RASR_HINT = ("dump the features and alignments to RETURNN HDF files (RETURNN's tools/hdf_dump.py) and pass "
             "++train train.hdf ++dev dev.hdf")


def ignored_options(value: Any) -> list[str]:
    """RETURNN dataset options netc does not apply because they only steer RETURNN (reported, never dropped)."""
    return sorted(k for k in value if k in IGNORED_OPTIONS) if isinstance(value, dict) else []


def differing_options(value: Any) -> list[str]:
    """Dataset options netc does not implement that change training: `name (value)`."""
    if not isinstance(value, dict):
        return []
    return [f"{k} ({v!r})" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
            if k in DIFFERS_OPTIONS and v is not None and v != DIFFERS_OPTIONS[k]]


def dataset_spec(value: Any, at: Where, lookup: Callable[[str], Any] = lambda name: None) -> Any:
    """A dataset value in RETURNN's string forms turned into a path list or a dataset dict.

    Follows `returnn/__main__.py: load_data` and `returnn/datasets/basic.py: init_dataset_via_str`: a list is
    its items joined by ","; "sprint:..." is RASR data (ExternSprintDataset), which netc cannot read;
    "config:NAME" is the value of another config key (`lookup`); "Class:k=v,..." a dataset class with
    literal options; anything else comma-separated HDF file names.
    """
    if isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        value = ",".join(value)
    if not isinstance(value, str):
        return value
    if value.startswith("sprint:"):
        raise NetcError("RASR (Sprint) data ('sprint:...') cannot be read by netc", at, RASR_HINT)
    if value.startswith("config:"):
        name = value[len("config:"):].strip()
        if not name.isidentifier():
            raise NetcError(f"{value!r}: netc resolves 'config:NAME' only for a plain key name", at,
                            "write the dataset dict itself, or ++train FILE.hdf")
        return dataset_spec(lookup(name), at, lookup)
    head, colon, rest = value.partition(":")
    if colon and head.isidentifier():
        return {"class": head, **class_options(rest, at)}
    return [p.strip() for p in value.split(",") if p.strip()]


def class_options(text: str, at: Where) -> dict[str, Any]:
    """The literal keyword options of "Class:k=v,...", as RETURNN's `eval("dict(%s)" % ...)` reads them."""
    try:
        call = ast.parse(f"dict({text})", mode="eval").body
        assert isinstance(call, ast.Call) and not call.args
        return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg is not None}
    except (SyntaxError, ValueError, TypeError, AssertionError, RecursionError, MemoryError):
        raise NetcError(f"dataset options {text!r} are not literal key=value pairs", at,
                        "write a dataset dict, e.g. {\"class\": \"Task12AXDataset\", \"num_seqs\": 1000}") from None


def dataset_from_config(value: Any, at: Where, lookup: Callable[[str], Any] = lambda name: None) -> Dataset:
    """HDF paths (a comma-separated string or a list), a dataset dict, or RETURNN's string forms (training.md)."""
    value = dataset_spec(value, at, lookup)
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        return hdf_dataset(value, at)
    if not isinstance(value, dict) or "class" not in value:
        raise NetcError(f"not a dataset: {value!r}", at,
                        'give HDF paths, or a dict such as {"class": "Task12AXDataset", "num_seqs": 1000}')
    name = value["class"]
    if not isinstance(name, str):
        raise NetcError(f"a dataset class is a name, got {name!r}", at, 'e.g. {"class": "HDFDataset", "files": [...]}')
    options = {k: v for k, v in value.items()
               if k != "class" and k not in IGNORED_OPTIONS and k not in DIFFERS_OPTIONS}
    if name == HDF_CLASS:
        files = options.get("files")
        if not isinstance(files, (list, tuple, str)):
            raise NetcError("HDFDataset needs 'files', a list of paths", at)
        return hdf_dataset([files] if isinstance(files, str) else list(files), at)
    if name in ("ExternSprintDataset", "SprintDataset"):
        raise NetcError(f"{name} is RASR (Sprint) data, which netc cannot read", at, RASR_HINT)
    if name not in GENERATORS:
        raise NetcError(f"dataset class {name!r} is not one netc reads (it reads HDFDataset, "
                        f"{', '.join(GENERATORS)})", at,
                        f"{did_you_mean(str(name), [HDF_CLASS, *GENERATORS])} Or convert the data to RETURNN HDF "
                        "files and pass ++train train.hdf ++dev dev.hdf")
    return GeneratedDataset(generator_from_options(GENERATORS[name], options, at))


def hdf_dataset(paths: list[str], at: Where) -> HdfDataset:
    if not paths:
        raise NetcError("no HDF files given", at)
    for i, path in enumerate(paths):
        if not Path(path).is_file():
            where = f"file {i + 1} of {len(paths)}, " if len(paths) > 1 else ""
            raise NetcError(f"no such HDF file: {path!r} ({where}relative paths are read from {os.getcwd()})", at,
                            f"fix the path, or pass ++{at.key} FILE.hdf" if at.key else "fix the path")
    readers = tuple(HdfReader(p) for p in paths)
    for reader in readers[1:]:
        if reader.num_inputs != readers[0].num_inputs:
            raise NetcError(f"input dim {reader.num_inputs} differs from {readers[0].num_inputs} "
                            f"of {readers[0].path}", Where(reader.path))
    return HdfDataset(readers)


def generator_from_options(cls: type, options: dict[str, Any], at: Where) -> Any:
    """Check a generating dataset's options: known names, whole numbers."""
    known = [f.name for f in fields(cls)]
    for key, item in options.items():
        if key not in known:
            raise NetcError(f"unknown {cls.__name__} option {key!r}", at, did_you_mean(str(key), known))
        if item is not None and (not isinstance(item, int) or isinstance(item, bool) or item < 0):
            raise NetcError(f"{cls.__name__} option {key!r} must be a whole number >= 0, got {item!r}", at)
    missing = [f.name for f in fields(cls) if f.name not in options and f.default is MISSING]
    if missing:
        raise NetcError(f"{cls.__name__} needs {', '.join(missing)}", at)
    return cls(**options)


def training_dims(value: Any, at: Where, lookup: Callable[[str], Any] = lambda name: None) -> tuple[Dims, str]:
    """The dims of the training data (as `netc train` takes them), or empty dims and why they are unknown.

    `value` is the config's `train` value; an unreadable or opaque dataset is no error here: the reason is
    returned for the message of a dim that is then missing.
    """
    for _, blocked in opaque_parts(value, ("train",)):
        return Dims(), f"the train dataset is not computed ({blocked.reason})"
    if not value:
        return Dims(), "the config has no train dataset"
    try:
        dataset = dataset_from_config(value, at, lookup)
        return Dims(dataset.num_inputs, tuple(sorted(dataset.target_dims.items()))), ""
    except NetcError as e:
        return Dims(), f"the train dataset gives none: {e.message}"


def network_dims(doc: Document, num_inputs: int | None, num_outputs: int | None) -> Dims:
    """The dims for `netc check`/`compile`: the options', else the config's, else the training data's.

    The training data is opened only when the config lacks the input dim or every target dim; it gives
    what `netc train` would take from it (`Setup.graph`). When the input dim is then still unknown, the
    error says why the data did not give it.
    """
    dims = resolve_dims(doc, num_inputs, num_outputs)
    if has_data_dims(dims):
        return dims
    fallback, reason = training_dims(doc.values.get("train"), doc.where("train", key="train"),
                                     lambda name: needed(doc, name))
    dims = resolve_dims(doc, num_inputs, num_outputs, fallback)
    if dims.num_inputs is None and reason and "network" in doc.values:
        raise NetcError("the input dim is unknown", doc.where("network", key="network"),
                        f"{reason}; pass --num-inputs N, set num_inputs or extern_data, or give an HDF file as train")
    return dims
