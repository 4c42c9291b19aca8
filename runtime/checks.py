"""Input validation: every wrong input becomes a NetcError that says which sequence and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from netc.ir import NetcError, Where

from .info import ModelInfo


@dataclass(frozen=True)
class SeqNames:
    """How errors name the i-th sequence of a call: by list position, or (netc run, netc prior) by its index in
    the file, its tag and the file, so that a sequence inside a read window is named as the user knows it."""

    file: str | None = None
    tags: Sequence[str] | None = None
    first: int = 0  # file index of the call's sequence 0

    def __call__(self, i: int) -> str:
        if self.tags is None:
            return f"sequence {i}"
        return f"sequence {self.first + i} (tag {self.tags[i]!r})"

    @property
    def where(self) -> Where:
        return Where(self.file)


LIST_POSITIONS = SeqNames()


def as_features(x: object, what: str, rank: int, info: ModelInfo, where: Where | None = None) -> np.ndarray:
    """A float32 array of the given rank whose last axis is the model's input dim; for a model on class indices
    (sparse input) an int32 array of one rank less (`as_labels`)."""
    if info.sparse_input:
        return as_labels(x, what, rank - 1, info, where)
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise NetcError(f"{what} has dtype {array.dtype}, expected float32", where,
                        "features are real numbers; convert them with .astype(np.float32)")
    if array.ndim != rank:
        shape = "(time, features)" if rank == 2 else "[batch, time, features]"
        raise NetcError(f"{what} has shape {array.shape}, expected rank {rank} {shape}", where)
    if info.num_inputs is not None and array.shape[-1] != info.num_inputs:
        raise NetcError(f"{what} has {array.shape[-1]} features, the model expects {info.num_inputs}", where,
                        "the model was compiled for another input dim (netc info MODEL shows it)")
    return np.ascontiguousarray(array, dtype=np.float32)


def as_labels(x: object, what: str, rank: int, info: ModelInfo, where: Where | None = None) -> np.ndarray:
    """An int32 array of class indices (rank 1: one sequence `(T,)`, rank 2: a padded batch `[B, T]`)."""
    array = np.asarray(x)
    shape = "(time,)" if rank == 1 else "[batch, time]"
    if array.dtype.kind not in "iu":
        raise NetcError(f"{what} has dtype {array.dtype}, but this model reads class indices {shape}", where,
                        "the model was compiled for sparse data (label sequences, e.g. a language model): give "
                        "integer arrays, e.g. np.array([3, 1, 4], np.int32)")
    if array.ndim != rank:
        raise NetcError(f"{what} has shape {array.shape}, expected class indices {shape}", where,
                        "this model reads one integer per frame, not feature vectors")
    return array.astype(np.int32)


def check_labels(data: np.ndarray, lens: np.ndarray, info: ModelInfo, name: Callable[[int], str],
                 where: Where | None = None) -> None:
    """Every valid frame of a `[B, T]` batch of class indices is in `0..num_inputs-1` (padding may be anything:
    the model sets it to 0); `name(b)` names row b in an error."""
    if not info.sparse_input or info.num_inputs is None:
        return
    valid = np.arange(data.shape[1])[None, :] < lens[:, None]
    bad = np.argwhere(valid & ((data < 0) | (data >= info.num_inputs)))
    if len(bad):
        b, t = (int(v) for v in bad[0])
        raise NetcError(f"{name(b)}, frame {t}: class index {int(data[b, t])} is out of range "
                        f"0..{info.num_inputs - 1}", where,
                        f"the model's input has {info.num_inputs} classes (netc info MODEL shows it)")


def check_sequences(seqs: Sequence[object], info: ModelInfo, names: SeqNames = LIST_POSITIONS) -> list[np.ndarray]:
    """`(T_i, F)` float32 feature arrays of finite values (for a sparse-input model `(T_i,)` int32 class indices,
    each in range); `T_i` may be 0 (an empty segment)."""
    if isinstance(seqs, np.ndarray):
        kind = "(time,) class index" if info.sparse_input else "(time, features)"
        raise NetcError(f"expected a list of {kind} arrays, got one array",
                        hint="wrap a single sequence in a list, or use model.run(data, lens) for a padded batch")
    arrays = [as_features(s, names(i), 2, info, names.where) for i, s in enumerate(seqs)]
    for i, a in enumerate(arrays):
        check_labels(a[None], np.array([len(a)]), info, lambda _, i=i: names(i), names.where)
        bad = np.flatnonzero(~np.isfinite(a).all(axis=tuple(range(1, a.ndim))))
        if len(bad):  # onnxruntime's LSTM would turn a NaN frame into plausible-looking outputs
            raise NetcError(f"{names(i)} has a non-finite feature (NaN or inf) in frame {int(bad[0])}", names.where,
                            "check the feature extraction of that sequence")
    return arrays


def check_lengths(lens: object, what: str, batch: int, max_len: int | None) -> np.ndarray:
    """int32 lengths, one per sequence, each in `0..max_len` (0: an empty sequence)."""
    array = np.asarray(lens)
    if array.ndim != 1 or len(array) != batch:
        raise NetcError(f"{what} has shape {array.shape}, expected ({batch},): one length per sequence")
    if array.dtype.kind not in "iu":
        raise NetcError(f"{what} has dtype {array.dtype}, expected integers")
    limit = max_len if max_len is not None else np.iinfo(np.int32).max
    bad = np.flatnonzero((array < 0) | (array > limit))
    if len(bad):
        i = int(bad[0])
        allowed = f"0..{max_len} (the padded time)" if max_len is not None else ">= 0"
        raise NetcError(f"{what}[{i}] = {int(array[i])} is out of range: must be in {allowed}")
    return array.astype(np.int32)


def check_targets(target_lengths: object | None, batch: int, info: ModelInfo) -> np.ndarray | None:
    """Target lengths (0 allowed: an empty transcription) exactly when the model is an encoder–decoder."""
    if info.encoder_decoder and target_lengths is None:
        raise NetcError("this encoder-decoder model needs target lengths",
                        hint="pass target_lengths=[...], one decoder length per sequence")
    if not info.encoder_decoder and target_lengths is not None:
        raise NetcError("target_lengths given, but the model is not an encoder-decoder model",
                        hint="its output has one frame per input frame; drop target_lengths")
    if target_lengths is None:
        return None
    return check_lengths(target_lengths, "target_lengths", batch, None)


def nonempty(lens: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
    """Indices of the sequences onnxruntime must run: those with output frames.

    A sequence with no output frames (0 input frames, or an encoder–decoder's target length 0) is kept out of
    the call: it needs no computation, and a batch of only such sequences makes no call at all. An
    encoder–decoder sequence with 0 input frames but target frames is run: its decoder starts from the
    encoders' zero initial states, as `netc train` computes it (onnxruntime's LSTM runs `sequence_lens` 0,
    measured with onnxruntime 1.17 and 1.32 on CPU).
    """
    return np.flatnonzero(lens > 0 if targets is None else targets > 0)
