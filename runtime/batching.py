"""Batching by frames: sequences of similar length go together (onnxruntime's LSTM costs max(len) x batch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_BATCH_FRAMES = 20000
# A sequence joins a batch only if it is at most this fraction shorter than the batch's longest:
# padded frames cost as much as valid ones, so small corpora get several small, tight batches.
DEFAULT_MAX_SPREAD = 0.1


def buckets(lengths: Sequence[int], max_frames: int = DEFAULT_BATCH_FRAMES,
            max_spread: float = DEFAULT_MAX_SPREAD) -> list[list[int]]:
    """Indices grouped into batches, longest first, each with `max_len * count <= max_frames`
    and every length `>= (1 - max_spread) * max_len`. A sequence longer than `max_frames` is a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -int(lengths[i]))
    batches: list[list[int]] = []
    for i in order:
        # Sorted longest first, so a batch's padded length is the length of its first sequence.
        longest = int(lengths[batches[-1][0]]) if batches else 0
        if batches and longest * (len(batches[-1]) + 1) <= max_frames and lengths[i] >= (1 - max_spread) * longest:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def pad(seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`(T_i, F)` float32 arrays (or `(T_i,)` int32 class indices) -> a zero-padded `[B, T, F]` (`[B, T]`) batch
    of their dtype and int32 lengths."""
    lens = np.array([len(s) for s in seqs], np.int32)
    data = np.zeros((len(seqs), int(lens.max()), *seqs[0].shape[1:]), seqs[0].dtype)
    for b, s in enumerate(seqs):
        data[b, : len(s)] = s
    return data, lens
