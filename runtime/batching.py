"""Batching by frames: sequences of similar length go together (onnxruntime's LSTM costs max(len) x batch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_BATCH_FRAMES = 20000
# What one time step of a batch costs beyond its rows, in frames. onnxruntime's LSTM runs every row of a batch
# up to the longest length (padded frames cost as much as valid ones), and each step reads the whole recurrent
# matrix, so batches of 1-3 rows run the recurrent product at a fraction of the speed of wider ones.
# bench/encoder.py measured 0.5-1 as the best for netc (padding dominates from 2 on); see bench/README.md.
DEFAULT_STEP_COST = 1.0
# No batch has more rows: beyond a few dozen rows a step's fixed cost is negligible, and the cap bounds the search.
MAX_ROWS = 512


def buckets(lengths: Sequence[int], max_frames: int = DEFAULT_BATCH_FRAMES,
            step_cost: float = DEFAULT_STEP_COST) -> list[list[int]]:
    """Indices grouped into batches, longest first, each with `max_len * count <= max_frames` and at most
    `MAX_ROWS` rows; a sequence longer than `max_frames` is a batch of its own.

    The batches are the runs of the length-sorted sequences that minimize the modelled cost
    `sum over batches of max_len * (count + step_cost)` (padded frames plus a fixed cost per time step), found
    exactly by dynamic programming over the sorted lengths (O(n * rows)); equal lengths keep input order.
    Raises ValueError for a negative `step_cost`.
    """
    if step_cost < 0:
        raise ValueError(f"step_cost must be >= 0, got {step_cost}")
    order = sorted(range(len(lengths)), key=lambda i: -int(lengths[i]))
    sorted_lens = np.array([int(lengths[i]) for i in order], np.float64)
    n = len(order)
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, np.int64)  # the best last batch of the first j sequences is order[start[j]:j]
    for j in range(1, n + 1):
        # Candidate first rows i of the last batch, nearest first: count j - i, padded length sorted_lens[i].
        first = np.arange(j - 1, max(j - MAX_ROWS, 0) - 1, -1)
        count = j - first
        fits = (sorted_lens[first] * count <= max_frames) | (count == 1)
        # Longer batches only grow both factors, so the feasible candidates are a prefix.
        first = first[: int(np.argmin(fits)) if not fits.all() else len(fits)]
        cost = best[first] + sorted_lens[first] * (j - first + step_cost)
        k = int(np.argmin(cost))
        best[j], start[j] = cost[k], first[k]
    batches: list[list[int]] = []
    j = n
    while j:
        batches.append(order[int(start[j]):j])
        j = int(start[j])
    return batches[::-1]


def pad(seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`(T_i, F)` float32 arrays (or `(T_i,)` int32 class indices) -> a zero-padded `[B, T, F]` (`[B, T]`) batch
    of their dtype and int32 lengths."""
    lens = np.array([len(s) for s in seqs], np.int32)
    data = np.zeros((len(seqs), int(lens.max()), *seqs[0].shape[1:]), seqs[0].dtype)
    for b, s in enumerate(seqs):
        data[b, : len(s)] = s
    return data, lens
