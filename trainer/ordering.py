"""Sequence order, batches in padded frames and per-rank shards (numpy only: dump-dataset uses it too)."""

from __future__ import annotations

import numpy as np


def seq_order(method: str, lengths: np.ndarray, epoch_seed: int) -> np.ndarray:
    """RETURNN's orderings; `random` is `RandomState(epoch_seed).permutation(N)`."""
    n = len(lengths)
    if method == "default":
        return np.arange(n)
    if method in ("sorted", "sorted_reverse"):
        order = np.argsort(lengths, kind="stable")
        return order[::-1].copy() if method == "sorted_reverse" else order
    shuffled = np.random.RandomState(epoch_seed).permutation(n)
    if method == "random":
        return shuffled
    return laplace_order(shuffled, lengths, int(method.split(":")[1]))


def laplace_order(shuffled: np.ndarray, lengths: np.ndarray, bucket: int) -> np.ndarray:
    """Random buckets of `bucket` sequences, each sorted by length, alternately up and down."""
    parts = [shuffled[i:i + bucket] for i in range(0, len(shuffled), bucket)]
    sorted_parts = [p[np.argsort(lengths[p], kind="stable")] for p in parts]
    return np.concatenate([p if k % 2 == 0 else p[::-1] for k, p in enumerate(sorted_parts)] or [shuffled])


def skip_long(order: np.ndarray, lengths: np.ndarray, max_length: int | None) -> tuple[np.ndarray, int]:
    """Drop sequences longer than `max_seq_length`; returns the kept order and how many were skipped."""
    if max_length is None:
        return order, 0
    keep = lengths[order] <= max_length
    return order[keep], int((~keep).sum())


def make_batches(order: np.ndarray, lengths: np.ndarray, batch_size: int,
                 max_seqs: int | None) -> list[np.ndarray]:
    """Consecutive sequences while `max_len * n_seqs <= batch_size` and `n_seqs <= max_seqs`."""
    batches: list[np.ndarray] = []
    start, longest = 0, 0
    for k, index in enumerate(order):
        new_longest = max(longest, int(lengths[index]))
        count = k - start + 1
        if count > 1 and (new_longest * count > batch_size or (max_seqs is not None and count > max_seqs)):
            batches.append(order[start:k])
            start, new_longest = k, int(lengths[index])
        longest = new_longest
    if start < len(order):
        batches.append(order[start:])
    return batches


def shard(batch: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This rank's sequences of a global batch (every world-th one)."""
    return batch[rank::world]
