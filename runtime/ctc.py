"""Greedy (best-path) CTC decoding of a compiled CTC model, and the label files of `netc run --ctc-greedy`.

A CTC model's metadata names its blank (`netc.ctc_blank`, the last output unless `use_native` set another).
Best path: the most probable output per frame (the first of equals), repeats merged, blanks dropped, as
TensorFlow's `ctc_greedy_decoder`, which RETURNN uses for its training error. Any output kind works: the
arg-max of probs, log-probs and logits is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from netc.data import HdfSeq, write_hdf
from netc.ir import NetcError, Where

from .hdf import check_writable, iter_outputs, open_checked
from .info import ModelInfo


def ctc_blank(info: ModelInfo) -> int:
    """The blank's output index of a CTC model; an error for any other model."""
    if "netc.ctc_blank" not in info.metadata:
        raise NetcError("the model was not compiled from a CTC output layer (no netc.ctc_blank in its metadata)",
                        Where(info.path), 'compile a network whose output layer has "loss": "ctc"')
    return int(info.metadata["netc.ctc_blank"])


def greedy_labels(scores: np.ndarray, blank: int) -> np.ndarray:
    """`[T, C]` outputs of one sequence -> int32 labels: arg-max per frame, repeats merged, blanks dropped."""
    best = np.argmax(scores, axis=-1)
    keep = (best != blank) & np.concatenate([[True], best[1:] != best[:-1]])[: len(best)]
    return best[keep].astype(np.int32)


def run_hdf_ctc_greedy(model, source: str | Path, target: str | Path,  # noqa: ANN001 - a runtime.Model
                       progress: Callable[[int], None] | None = None) -> int:
    """`netc run --ctc-greedy`: the best-path labels of every sequence of `source`, as an HDF file of labels.

    The file is RETURNN's HDF layout for sparse data: `inputs` holds the int32 labels of all sequences one after
    another, `seqLengths` each sequence's label count (twice), `seqTags` the source's tags, and `inputPattSize`
    and `numLabels` the number of labels (the blank excluded). Written atomically; returns the sequence count.
    """
    check_writable(Path(target))
    blank = ctc_blank(model.info)
    with open_checked(model, source) as reader:
        labels = ((seq.tag, greedy_labels(seq.features, blank)) for seq in iter_outputs(model, reader, None, progress))
        return write_labels(target, labels, (model.info.num_outputs or 1) - 1)


def write_labels(path: str | Path, seqs: Iterator[tuple[str, np.ndarray]], num_labels: int) -> int:
    """Label sequences as a sparse RETURNN HDF file (see `run_hdf_ctc_greedy`), streaming."""
    return write_hdf(path, (HdfSeq(tag, labels) for tag, labels in seqs), num_labels, sparse_inputs=True)
