"""Sequence order, batches in padded frames and per-rank shards (numpy only: dump-dataset uses it too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


INPUT_KEY = "data"  # RETURNN's data key of the input features


@dataclass(frozen=True)
class LengthLimit:
    """RETURNN's `max_seq_length` as the NumbersDict its batching compares with (returnn/datasets/basic.py
    `_generate_batches`: a sequence is skipped if any data key's length exceeds its limit): `common` limits
    every data key (input "data" and each target; an int in the config), `keys` single data keys (a dict in
    the config; a negative int -N is RETURNN's `{"classes": N}`)."""

    common: int | None = None
    keys: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_config(cls, value: object) -> LengthLimit | None:
        """None for no limit (unset, None, 0: RETURNN's sys.maxsize); raises ValueError saying what is wrong."""
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(common=value) if value > 0 else cls(keys=(("classes", -value),))
        if isinstance(value, dict) and value and all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in value.items()):
            bad = {k: v for k, v in value.items() if v < 1}
            if bad:
                raise ValueError(f"each data key's limit must be >= 1, got {bad}")
            return cls(keys=tuple(sorted(value.items())))
        raise ValueError(f"must be an int or a dict of data key to int, got {value!r}")

    def __str__(self) -> str:
        return str(self.common) if not self.keys else str(dict(self.keys))

    @property
    def tightest(self) -> int:
        """The smallest limit: a chunk's, whose data keys are all cut to the chunk's frames."""
        return min([v for _, v in self.keys] + ([self.common] if self.common is not None else []))

    def keep(self, lengths: dict[str, np.ndarray]) -> np.ndarray:
        """Per sequence whether it is kept: `lengths` are each data key's lengths `[N]` (all keys of the data)."""
        n = len(next(iter(lengths.values())))
        keep = np.ones(n, bool)
        if self.common is not None:
            for values in lengths.values():
                keep &= values <= self.common
        for key, limit in self.keys:
            keep &= lengths[key] <= limit
        return keep


def skip_long(order: np.ndarray, lengths: dict[str, np.ndarray], limit: LengthLimit | None
              ) -> tuple[np.ndarray, int]:
    """Drop sequences longer than `max_seq_length` (`lengths`: per data key `[N]`, LengthLimit.keep); returns
    the kept order and how many were skipped."""
    if limit is None:
        return order, 0
    keep = limit.keep(lengths)[order]
    return order[keep], int((~keep).sum())


def data_key_lengths(corpus: Any) -> dict[str, np.ndarray]:
    """Each data key's sequence lengths `[N]` of an epoch's corpus ("data": the input, then every target key):
    from the HDF files' length tables (data/datasets.py ConcatCorpus), else from the sequences themselves."""
    readers = getattr(corpus, "readers", None)
    if readers is not None:
        keys = readers[0].target_keys
        return {INPUT_KEY: np.concatenate([r.input_lengths for r in readers]),
                **{k: np.concatenate([r.target_lengths[k] for r in readers]) for k in keys}}
    seqs = [corpus[i] for i in range(len(corpus))]
    keys = seqs[0].targets.keys() if seqs else ()
    return {INPUT_KEY: np.array([len(s.features) for s in seqs], np.int64),
            **{k: np.array([len(s.targets[k]) for s in seqs], np.int64) for k in keys}}


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
