"""`netc run`: posteriors for every sequence of a RETURNN HDF file, written as an HDF file with the same tags."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from netc.data import HdfReader, HdfSeq, write_hdf
from netc.ir import NetcError, Where

from .checks import SeqNames
from .model import Model

# Sequences are read and bucketed in windows of this many batches: memory stays flat on large files.
WINDOW_BATCHES = 16


def run_hdf(model: Model, source: str | Path, target: str | Path,
            progress: Callable[[int], None] | None = None) -> int:
    """Write `model`'s outputs for `source` to `target` (atomically); returns the number of sequences."""
    check_writable(Path(target))
    with open_checked(model, source) as reader:
        seqs = iter_outputs(model, reader, target_lengths(model, reader), progress)
        return write_hdf(target, seqs, model.info.num_outputs or 0)


@contextmanager
def open_checked(model: Model, source: str | Path) -> Iterator[HdfReader]:
    """The HDF file `source` opened, its inputs checked against the model's (`check_dim`); closed at the end."""
    reader = HdfReader(source)
    try:
        check_dim(model, reader)
        yield reader
    finally:
        reader.close()


def check_writable(target: Path) -> None:
    """Fail before any work when the output cannot be written."""
    directory = target.parent
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK) or target.is_dir():
        raise NetcError("cannot write the output here", Where(str(target)),
                        "check that the output directory exists and is writable")


def check_dim(model: Model, reader: HdfReader) -> None:
    """The file's feature dim must be the model's input dim; class indices for a sparse-input model."""
    if model.info.sparse_input != reader.sparse_inputs:
        holds, reads = ("feature vectors", "class indices (sparse data)") if model.info.sparse_input else \
            ("class indices (1-dimensional inputs)", "feature vectors")
        raise NetcError(f"the HDF file holds {holds}, but the model reads {reads}", Where(reader.path),
                        "run the model on data of the kind it was compiled for (netc info MODEL shows it)")
    expected = model.info.num_inputs
    if expected is not None and reader.num_inputs != expected:
        what = "classes" if reader.sparse_inputs else "features per frame"
        raise NetcError(f"the HDF file has {reader.num_inputs} {what}, the model expects {expected}",
                        Where(reader.path), "run the model on features of the kind it was trained on")


def target_lengths(model: Model, reader: HdfReader) -> np.ndarray | None:
    """An encoder–decoder model's output lengths: the lengths of the file's `classes` targets."""
    if not model.info.encoder_decoder:
        return None
    if "classes" not in reader.target_lengths:
        raise NetcError("the encoder-decoder model needs target lengths, but the HDF file has no 'classes' targets",
                        Where(reader.path), "write the decoder lengths as targets/data/classes")
    return reader.target_lengths["classes"]


def iter_outputs(model: Model, reader: HdfReader, targets: np.ndarray | None,
                 progress: Callable[[int], None] | None = None) -> Iterator[HdfSeq]:
    """Outputs in file order; each window of sequences is bucketed by length inside the model.

    Errors name a sequence by its index in the file, its tag and the file, never by its place in a window.
    """
    for start, end in windows(reader.input_lengths, model.batch_frames * WINDOW_BATCHES):
        read = reader.labels if model.info.sparse_input else (lambda i: reader[i].features)
        features = [read(i) for i in range(start, end)]
        names = SeqNames(reader.path, reader.tags[start:end], start)
        outputs = model(features, None if targets is None else targets[start:end], names)
        for i, out in zip(range(start, end), outputs):
            yield HdfSeq(reader.tags[i], out)
        if progress is not None:
            progress(int(reader.input_lengths[start:end].sum()))


def windows(lengths: np.ndarray, max_frames: int) -> Iterator[tuple[int, int]]:
    """Consecutive index ranges of about `max_frames` frames each (at least one sequence)."""
    start, frames = 0, 0
    for i, n in enumerate(lengths):
        if frames and frames + int(n) > max_frames:
            yield start, i
            start, frames = i, 0
        frames += int(n)
    if start < len(lengths):
        yield start, len(lengths)
