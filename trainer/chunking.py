"""RETURNN's `chunking`: training sequences cut into overlapping windows, each its own batch entry (numpy only).

Follows `returnn/datasets/basic.py`: `Dataset._parse_chunking` (the forms of the key) and
`Dataset.iterate_seqs` (where chunks start and end). A chunk starts at every multiple of `step` below the
sequence length, as long as more than `min_chunk_size` frames are left; it ends `size` frames later or at
the sequence end. `_generate_batches` then treats each chunk as a sequence of its own: `batch_size`,
`max_seqs` and `max_seq_length` count chunks and chunk lengths. Dev and eval sets are not chunked
(`Dataset.get_default_kwargs_eval`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from netc.data import HdfSeq
from netc.ir import Document, NetcError
from netc.ir.keys import needed

CHUNK_KEYS = ("chunking", "min_chunk_size", "chunking_variance")


@dataclass(frozen=True)
class Chunking:
    """Chunks of `size` frames every `step` frames; none start with `min_size` or fewer frames left.
    `variance` v > 0 scales size and step of each sequence by 1 - v * (a uniform draw)."""

    size: int
    step: int
    min_size: int = 0
    variance: float = 0.0

    def spans(self, length: int) -> list[tuple[int, int]]:
        """`(start, end)` of the chunks of one sequence of `length` frames (`iterate_seqs`)."""
        spans, t = [], 0
        while length > t:
            spans.append((t, min(t + self.size, length)))
            t += self.step
            if length - t <= self.min_size:
                break
        return spans

    def cut(self, order: np.ndarray, lengths: np.ndarray, seed: int = 1,
            max_length: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chunks of the sequences in `order`: `(sequence index, start, end)`, each `[chunks]` int64.

        With `variance`, the draws follow RETURNN's `rnd_seq_drop = Random(epoch seed)`: one per sequence
        (`iterate_seqs`), then one per chunk not longer than `max_length` (`_generate_batches`' seq_drop test).
        """
        rng, rows = random.Random(seed), []
        for s in order:
            chunking = self
            if self.variance:
                scale = 1.0 - rng.random() * self.variance
                chunking = replace(self, size=max(int(self.size * scale), 1), step=max(int(self.step * scale), 1))
            for a, b in chunking.spans(int(lengths[s])):
                rows.append((int(s), a, b))
                if self.variance and (max_length is None or b - a <= max_length):
                    rng.random()
        table = np.array(rows, np.int64).reshape(-1, 3)
        return table[:, 0], table[:, 1], table[:, 2]


class ChunkCorpus:
    """The chunks of a corpus as a corpus: item k is frames `start[k]:end[k]` of sequence `seq[k]`, targets
    cut the same way (targets are frame-aligned with the input)."""

    def __init__(self, corpus: Any, seq: np.ndarray, start: np.ndarray, end: np.ndarray):
        self.corpus, self.seq, self.start, self.end = corpus, seq, start, end
        self.last: tuple[int, HdfSeq] | None = None  # a sequence's chunks are read one after another

    def sequence(self, index: int) -> HdfSeq:
        if self.last is None or self.last[0] != index:
            self.last = (index, self.corpus[index])
        return self.last[1]

    def __len__(self) -> int:
        return len(self.seq)

    def __getitem__(self, index: int) -> HdfSeq:
        s = self.sequence(int(self.seq[index]))
        a, b = int(self.start[index]), int(self.end[index])
        return HdfSeq(f"{s.tag}[{a}:{b}]", s.features[a:b], {k: v[a:b] for k, v in s.targets.items()})


def read_chunking(doc: Document) -> Chunking | None:
    """`chunking` (`"50:25"`, `"50"`, `50`, `(size, step)`, `{"data": 50, "classes": 50}`, a pair of such dicts),
    `min_chunk_size` and `chunking_variance`; None when off (`"0"`, `0`, unset: RETURNN's default).

    Raises NetcError (located at the key) for forms netc cannot follow exactly: sizes that differ between
    data keys (netc chunks frame-aligned targets only), negative values, a variance outside [0, 1].
    """
    value = plain(doc, "chunking")
    if value is None or value in ("", "0", 0):
        return None
    if isinstance(value, str):
        try:
            parts = [int(p) for p in value.split(":")]
        except ValueError:
            raise error(doc, "chunking", f"cannot read {value!r}", 'write "size:step", e.g. "50:25"') from None
        if len(parts) > 2:
            raise error(doc, "chunking", f"cannot read {value!r}", 'write "size:step", e.g. "50:25"')
        value = parts[0] if len(parts) == 1 else tuple(parts)
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, None)
    if len(pair) != 2:
        raise error(doc, "chunking", f"expected (size, step), got {value!r}")
    size = frames(doc, "chunking", pair[0])
    step = size if pair[1] in (None, 0) else frames(doc, "chunking", pair[1])
    if size == 0:
        return None
    if size < 0 or step < 1:
        raise error(doc, "chunking", f"size and step must be positive, got {value!r}")
    variance = plain(doc, "chunking_variance") or 0
    if isinstance(variance, bool) or not isinstance(variance, (int, float)) or not 0 <= variance <= 1:
        raise error(doc, "chunking_variance", f"must be a number in [0, 1], got {variance!r}")
    min_size = frames(doc, "min_chunk_size", plain(doc, "min_chunk_size") or 0)
    if min_size < 0:
        raise error(doc, "min_chunk_size", f"must be >= 0, got {min_size}")
    return Chunking(size, step, min_size, float(variance))


def frames(doc: Document, key: str, value: Any) -> int:
    """An int, or a dict of data key -> int holding one value (data and targets are chunked alike)."""
    if isinstance(value, dict):
        values = set(value.values())
        if len(values) != 1:
            raise error(doc, key, f"different values per data key {value!r}",
                        "netc chunks the input and its frame-aligned targets alike; use one number")
        value = values.pop()
    if not isinstance(value, int) or isinstance(value, bool):
        raise error(doc, key, f"expected a number of frames, got {value!r}")
    return value


def plain(doc: Document, key: str) -> Any:
    return needed(doc, key)


def error(doc: Document, key: str, message: str, hint: str | None = None) -> NetcError:
    return NetcError(message, doc.where(key, key=key), hint)
