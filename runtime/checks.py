"""Input validation: every wrong input becomes a NetcError that says which sequence and why."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from netc.ir import NetcError

from .info import ModelInfo


def as_features(x: object, what: str, rank: int, info: ModelInfo) -> np.ndarray:
    """A float32 array of the given rank whose last axis is the model's input dim."""
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise NetcError(f"{what} has dtype {array.dtype}, expected float32",
                        hint="features are real numbers; convert them with .astype(np.float32)")
    if array.ndim != rank:
        shape = "(time, features)" if rank == 2 else "[batch, time, features]"
        raise NetcError(f"{what} has shape {array.shape}, expected rank {rank} {shape}")
    if info.num_inputs is not None and array.shape[-1] != info.num_inputs:
        raise NetcError(f"{what} has {array.shape[-1]} features, the model expects {info.num_inputs}",
                        hint="the model was compiled for another input dim (netc info MODEL shows it)")
    return np.ascontiguousarray(array, dtype=np.float32)


def check_sequences(seqs: Sequence[object], info: ModelInfo, allow_empty: bool = False) -> list[np.ndarray]:
    """`(T_i, F)` feature arrays, each with at least one frame unless `allow_empty`."""
    if isinstance(seqs, np.ndarray):
        raise NetcError("expected a list of (time, features) arrays, got one array",
                        hint="wrap a single sequence in a list, or use model.run(data, lens) for a padded batch")
    arrays = [as_features(s, f"sequence {i}", 2, info) for i, s in enumerate(seqs)]
    for i, a in enumerate(arrays):
        if len(a) == 0 and not allow_empty:
            raise NetcError(f"sequence {i} has no frames", hint="every sequence needs at least one frame")
    return arrays


def check_lengths(lens: object, what: str, batch: int, max_len: int | None) -> np.ndarray:
    """int32 lengths, one per sequence, each in `1..max_len`."""
    array = np.asarray(lens)
    if array.ndim != 1 or len(array) != batch:
        raise NetcError(f"{what} has shape {array.shape}, expected ({batch},): one length per sequence")
    if array.dtype.kind not in "iu":
        raise NetcError(f"{what} has dtype {array.dtype}, expected integers")
    bad = np.flatnonzero((array < 1) | (array > (max_len if max_len is not None else np.iinfo(np.int32).max)))
    if len(bad):
        i = int(bad[0])
        limit = f"1..{max_len} (the padded time)" if max_len is not None else ">= 1"
        raise NetcError(f"{what}[{i}] = {int(array[i])} is out of range: must be in {limit}")
    return array.astype(np.int32)


def check_targets(target_lengths: object | None, batch: int, info: ModelInfo) -> np.ndarray | None:
    """Target lengths exactly when the model is an encoder–decoder."""
    if info.encoder_decoder and target_lengths is None:
        raise NetcError("this encoder-decoder model needs target lengths",
                        hint="pass target_lengths=[...], one decoder length per sequence")
    if not info.encoder_decoder and target_lengths is not None:
        raise NetcError("target_lengths given, but the model is not an encoder-decoder model",
                        hint="its output has one frame per input frame; drop target_lengths")
    if target_lengths is None:
        return None
    return check_lengths(target_lengths, "target_lengths", batch, None)
