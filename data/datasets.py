"""Datasets from config values (training.md): HDF files and generating datasets, one epoch at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Protocol

import numpy as np
from netc.data.generating import DummyDataset, Task12AXDataset
from netc.data.hdf import HdfReader, HdfSeq
from netc.ir import NetcError, Where
from netc.ir.errors import did_you_mean


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
IGNORED_OPTIONS = frozenset({"seq_ordering", "partition_epoch", "cache_byte_size", "use_cache_manager"})


def ignored_options(value: Any) -> list[str]:
    """RETURNN dataset options netc does not apply (reported to the user, never dropped silently)."""
    return sorted(k for k in value if k in IGNORED_OPTIONS) if isinstance(value, dict) else []


def dataset_from_config(value: Any, at: Where) -> Dataset:
    """A path, comma-separated paths, a list of paths, or a dataset dict (training.md)."""
    if isinstance(value, str):
        return hdf_dataset([p.strip() for p in value.split(",") if p.strip()], at)
    if isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        return hdf_dataset(list(value), at)
    if not isinstance(value, dict) or "class" not in value:
        raise NetcError(f"not a dataset: {value!r}", at,
                        'give HDF paths, or a dict such as {"class": "Task12AXDataset", "num_seqs": 1000}')
    name = value["class"]
    options = {k: v for k, v in value.items() if k != "class" and k not in IGNORED_OPTIONS}
    if name == HDF_CLASS:
        files = options.get("files")
        if not isinstance(files, (list, tuple, str)):
            raise NetcError("HDFDataset needs 'files', a list of paths", at)
        return hdf_dataset([files] if isinstance(files, str) else list(files), at)
    if name not in GENERATORS:
        raise NetcError(f"unknown dataset class {name!r}", at, did_you_mean(str(name), [HDF_CLASS, *GENERATORS]))
    return GeneratedDataset(generator_from_options(GENERATORS[name], options, at))


def hdf_dataset(paths: list[str], at: Where) -> HdfDataset:
    if not paths:
        raise NetcError("no HDF files given", at)
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
