"""Input validation: every wrong input becomes a NetcError that says which sequence and why."""

from __future__ import annotations

from collections.abc import Sequence
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
    """A float32 array of the given rank whose last axis is the model's input dim."""
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


def check_sequences(seqs: Sequence[object], info: ModelInfo, names: SeqNames = LIST_POSITIONS) -> list[np.ndarray]:
    """`(T_i, F)` float32 feature arrays of finite values; `T_i` may be 0 (an empty segment)."""
    if isinstance(seqs, np.ndarray):
        raise NetcError("expected a list of (time, features) arrays, got one array",
                        hint="wrap a single sequence in a list, or use model.run(data, lens) for a padded batch")
    arrays = [as_features(s, names(i), 2, info, names.where) for i, s in enumerate(seqs)]
    for i, array in enumerate(arrays):
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
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


def nonempty(lens: np.ndarray, targets: np.ndarray | None, names: SeqNames = LIST_POSITIONS) -> np.ndarray:
    """Indices of the sequences onnxruntime must run: those with output frames.

    A sequence with no output frames (0 input frames, or an encoder–decoder's target length 0) is kept out
    of the call: onnxruntime's LSTM refuses `sequence_lens` 0. An encoder–decoder sequence with 0 input
    frames but target frames has outputs that no onnxruntime call can give: an error naming it.
    """
    if targets is None:
        return np.flatnonzero(lens > 0)
    undecodable = np.flatnonzero((lens == 0) & (targets > 0))
    if len(undecodable):
        i = int(undecodable[0])
        raise NetcError(f"{names(i)} has no input frames but target length {int(targets[i])}", names.where,
                        "an encoder-decoder model decodes from its encoders' final states, and onnxruntime's "
                        "LSTM cannot run 0 frames: drop the sequence, or give it target length 0")
    return np.flatnonzero((lens > 0) & (targets > 0))
