"""RETURNN HDF files (training.md): a lazy reader and an atomic writer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from netc.ir import NetcError, Where
from netc.ir.files import atomic_output


@dataclass(frozen=True)
class HdfSeq:
    """One sequence: its tag, `(T, D)` float32 features (or, for sparse data, `(T,)` int32 class indices)
    and sparse int32 targets by key."""

    tag: str
    features: np.ndarray
    targets: dict[str, np.ndarray] = field(default_factory=dict)


class HdfReader:
    """Reads sequences on demand; only lengths and tags are held in memory."""

    def __init__(self, path: str | Path):
        import h5py

        self.path = str(path)
        try:
            self.file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise NetcError("no such HDF file", Where(self.path)) from None
        except OSError as e:
            raise NetcError(f"not a readable HDF file: {e}", Where(self.path)) from None
        try:
            self.read_index()
        except BaseException:
            self.file.close()
            raise

    def read_index(self) -> None:
        """Tags, target keys, lengths and offsets; a damaged or foreign file is a NetcError naming it."""
        for name in ("inputs", "seqLengths", "seqTags"):
            if name not in self.file:
                raise NetcError(f"not a RETURNN HDF file: no {name!r} dataset", Where(self.path),
                                "RETURNN HDF files hold inputs, seqLengths and seqTags")
        self.tags = [t.decode() if isinstance(t, bytes) else str(t) for t in self.file["seqTags"][...]]
        self.target_keys = sorted(self.file["targets/data"].keys()) if "targets/data" in self.file else []
        lengths = self.read_lengths()
        self.input_lengths = lengths[:, 0]
        self.target_lengths = {k: lengths[:, 1 + i] for i, k in enumerate(self.target_keys)}
        self.input_offsets = np.concatenate([[0], np.cumsum(self.input_lengths)])
        self.target_offsets = {k: np.concatenate([[0], np.cumsum(v)]) for k, v in self.target_lengths.items()}
        self.check_totals()

    def name(self, index: int) -> str:
        """How messages name a sequence: its index in the file and its tag."""
        return f"sequence {index} (tag {self.tags[index]!r})"

    def read_lengths(self) -> np.ndarray:
        """`seqLengths` as `[N, 1 + targets]` int64, every length >= 0 (0: an empty segment or transcription).

        RETURNN's HDFDataset reads column 0 as the input lengths and column 1 + k as the k-th target key in
        sorted order; a file without targets has 2 equal columns (returnn/datasets/hdf.py).
        """
        raw = np.asarray(self.file["seqLengths"][...], dtype=np.int64)
        raw = raw.reshape(-1, 1) if raw.ndim == 1 else raw
        columns = 1 + len(self.target_keys)
        if raw.ndim != 2 or len(raw) != len(self.tags) or raw.shape[1] < columns:
            raise NetcError(f"seqLengths has shape {raw.shape}, expected ({len(self.tags)}, {max(columns, 2)}): "
                            f"one row per tag, columns inputs, {', '.join(self.target_keys) or '(none)'}",
                            Where(self.path), "the file is damaged, or not written as RETURNN writes HDF files")
        bad = np.flatnonzero((raw[:, :columns] < 0).any(axis=1))
        if len(bad):
            raise NetcError(f"{self.name(int(bad[0]))} has a negative length {raw[bad[0], :columns].tolist()} in "
                            f"seqLengths", Where(self.path), "the file is damaged; write it again")
        return raw[:, :columns]

    def check_totals(self) -> None:
        """The lengths must add up to the rows of `inputs` and of each `targets/data/KEY`."""
        datasets = {"inputs": (self.input_offsets[-1], self.file["inputs"])}
        datasets |= {f"targets/data/{k}": (self.target_offsets[k][-1], self.file[f"targets/data/{k}"])
                     for k in self.target_keys}
        for name, (total, dataset) in datasets.items():
            if total != len(dataset):
                raise NetcError(f"seqLengths add up to {total} frames, but {name} has {len(dataset)}",
                                Where(self.path), "the file is damaged or truncated")

    @property
    def num_inputs(self) -> int:
        shape = self.file["inputs"].shape
        return int(shape[1]) if len(shape) == 2 else int(self.file.attrs.get("inputPattSize", 1))

    @property
    def sparse_inputs(self) -> bool:
        """Whether `inputs` holds one class index per frame (RETURNN's sparse data), not feature vectors."""
        return len(self.file["inputs"].shape) == 1

    def labels(self, index: int) -> np.ndarray:
        """The int32 class indices `(T,)` of one sequence of a file with sparse inputs."""
        start, end = self.input_offsets[index], self.input_offsets[index + 1]
        return np.asarray(self.file["inputs"][start:end], dtype=np.int32)

    def target_dim(self, key: str) -> int | None:
        """The number of classes of a target (attrs of `targets/size`, else `numLabels`)."""
        if "targets/size" in self.file and key in self.file["targets/size"].attrs:
            size = np.atleast_1d(self.file["targets/size"].attrs[key])
            return int(size[0])
        return int(self.file.attrs["numLabels"]) if "numLabels" in self.file.attrs else None

    def __len__(self) -> int:
        return len(self.tags)

    def __getitem__(self, index: int) -> HdfSeq:
        start, end = self.input_offsets[index], self.input_offsets[index + 1]
        features = (self.labels(index) if self.sparse_inputs
                    else np.asarray(self.file["inputs"][start:end], dtype=np.float32))
        targets = {}
        for key in self.target_keys:
            t_start, t_end = self.target_offsets[key][index], self.target_offsets[key][index + 1]
            targets[key] = np.asarray(self.file[f"targets/data/{key}"][t_start:t_end], dtype=np.int32)
        return HdfSeq(self.tags[index], features, targets)

    def __iter__(self) -> Iterator[HdfSeq]:
        return (self[i] for i in range(len(self)))

    def close(self) -> None:
        self.file.close()


def write_hdf(path: str | Path, seqs: Iterable[HdfSeq], num_inputs: int,
              target_dims: dict[str, int] | None = None, sparse_inputs: bool = False) -> int:
    """Write sequences as RETURNN writes them, streaming, to a temporary name renamed at the end.

    With `sparse_inputs` each sequence's features are `(T,)` class indices below `num_inputs` (the vocabulary),
    stored as RETURNN stores sparse data: 1-D int32 `inputs`, `inputPattSize` the vocabulary size.
    """
    import h5py

    target_dims = target_dims or {}
    keys = sorted(target_dims)
    with atomic_output(path, "HDF file") as tmp, h5py.File(tmp, "w") as f:
        count, frames = write_datasets(f, seqs, num_inputs, keys, sparse_inputs)
        f.attrs["inputPattSize"] = num_inputs
        f.attrs["numDims"] = 1
        f.attrs["numSeqs"] = count
        f.attrs["numTimesteps"] = frames
        # Sparse inputs without targets: the vocabulary, as RETURNN's SimpleHDFWriter (numLabels = dim).
        f.attrs["numLabels"] = target_dims.get("classes", next(iter(target_dims.values()), num_inputs * sparse_inputs))
        if keys:
            size = f.create_group("targets/size")
            for key in keys:
                size.attrs[key] = target_dims[key]
            labels = f.create_group("targets/labels")
            for key in keys:
                labels.create_dataset(key, data=np.array([str(i).encode() for i in range(target_dims[key])]))
    return count


def write_datasets(f, seqs: Iterable[HdfSeq], num_inputs: int, keys: list[str],  # noqa: ANN001
                   sparse_inputs: bool = False) -> tuple[int, int]:
    """Append sequences to resizable datasets; returns (sequences, input frames)."""
    import h5py

    if sparse_inputs:
        inputs = f.create_dataset("inputs", (0,), np.int32, maxshape=(None,), chunks=True)
    else:
        inputs = f.create_dataset("inputs", (0, num_inputs), np.float32, maxshape=(None, num_inputs), chunks=True)
    targets = {k: f.create_dataset(f"targets/data/{k}", (0,), np.int32, maxshape=(None,), chunks=True)
               for k in keys}
    lengths: list[list[int]] = []
    tags: list[str] = []
    for seq in seqs:
        if sparse_inputs:
            append(inputs, np.asarray(seq.features, np.int32).reshape(-1))
        else:
            append(inputs, np.asarray(seq.features, np.float32).reshape(-1, num_inputs))
        row = [len(seq.features)]
        for key in keys:
            append(targets[key], np.asarray(seq.targets[key], np.int32))
            row.append(len(seq.targets[key]))
        lengths.append(row if keys else row * 2)  # files without targets still have 2 columns
        tags.append(seq.tag)
    f.create_dataset("seqLengths", data=np.array(lengths, np.int32).reshape(len(lengths), 1 + len(keys) if keys else 2))
    f.create_dataset("seqTags", data=np.array(tags, dtype=h5py.string_dtype()))
    return len(tags), int(inputs.shape[0])


def append(dataset, rows: np.ndarray) -> None:  # noqa: ANN001 - an h5py dataset
    start = dataset.shape[0]
    dataset.resize(start + len(rows), axis=0)
    dataset[start:] = rows
