"""Generating datasets (no download needed): DummyDataset and Task12AXDataset, as RETURNN defines them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from netc.data.hdf import HdfSeq

TASK12AX_SYMBOLS = "123ABCXYZ"  # class ids 0..8
TASK12AX_TARGETS = ("1AX", "2BY")  # outer + inner + this symbol giving target R


@dataclass(frozen=True)
class DummyDataset:
    """RETURNN's DummyDataset: features and targets from one running counter per sequence."""

    input_dim: int
    output_dim: int
    num_seqs: int
    seq_len: int

    @property
    def target_dims(self) -> dict[str, int]:
        return {"classes": self.output_dim}

    def epoch_seqs(self, epoch: int) -> list[HdfSeq]:
        """The same sequences every epoch, in corpus order."""
        return [self.seq(s) for s in range(self.num_seqs)]

    def seq(self, s: int) -> HdfSeq:
        """Sequence s: counter i starts at s, runs over T*D feature values, then T targets."""
        n_feat = self.seq_len * self.input_dim
        counter = np.arange(s, s + n_feat + self.seq_len)
        features = (((counter[:n_feat] % 10) - 5) / 10).astype(np.float32).reshape(self.seq_len, self.input_dim)
        classes = (counter[n_feat:] % self.output_dim).astype(np.int32)
        return HdfSeq(f"seq-{s}", features, {"classes": classes})


@dataclass(frozen=True)
class Task12AXDataset:
    """RETURNN's 12AX task (task12ax.md): same sequences, same order, per epoch and seed."""

    num_seqs: int = 1000
    fixed_random_seed: int | None = None
    random_seed_offset: int = 0

    input_dim = len(TASK12AX_SYMBOLS)
    target_dims = {"classes": 2}

    def epoch_seed(self, epoch: int) -> int:
        if self.fixed_random_seed is not None:
            return self.fixed_random_seed
        return epoch + self.random_seed_offset

    def epoch_seqs(self, epoch: int) -> list[HdfSeq]:
        seed = self.epoch_seed(epoch)
        rng = np.random.RandomState()
        return [self.seq(seed, s, rng) for s in range(self.num_seqs)]

    def seq(self, epoch_seed: int, index: int, rng: np.random.RandomState | None = None) -> HdfSeq:
        """Sequence `index` drawn from `RandomState((epoch_seed, index))`."""
        # NOTE: re-seeding one generator gives the same stream as a new RandomState, 14x faster.
        rng = rng or np.random.RandomState()
        rng.seed((epoch_seed, index))
        symbols = draw_12ax_symbols(rng)
        ids = np.array([TASK12AX_SYMBOLS.index(c) for c in symbols], np.int64)
        features = np.eye(self.input_dim, dtype=np.float32)[ids]
        return HdfSeq(f"seq-{index}", features, {"classes": targets_12ax(symbols)})


def draw_12ax_symbols(rng: np.random.RandomState) -> str:
    """Exactly RETURNN's draws, in RETURNN's order (task12ax.md, 'How one sequence is drawn')."""
    length = rng.randint(10, 100)
    s = choice(rng, ("", "1", "2"))
    uniform = rng.random_sample  # NOTE: the value uniform() returns, without its 6x argument-parsing cost
    while len(s) < length:
        if uniform() < 0.5:
            s += choice(rng, ("1", "2"))
        if uniform() < 0.9:
            s += choice(rng, ("AX", "BY"))
        while uniform() < 0.5:
            s += choice(rng, TASK12AX_SYMBOLS)
    return s[:length]


def choice(rng: np.random.RandomState, options: tuple[str, ...] | str) -> str:
    """`RandomState.choice(options)`: one `randint(0, k)` draw, reproduced exactly and 3x faster.

    NOTE: numpy's legacy `randint(0, k)` (k >= 2, k <= 2**32) draws 32-bit words and keeps the first
    whose low bits under the smallest covering mask are < k (netc's tests compare it with randint).
    """
    bound = len(options) - 1
    mask = (1 << bound.bit_length()) - 1
    raw = rng._bit_generator.random_raw
    while (value := raw() & mask) > bound:
        pass
    return options[value]


def targets_12ax(symbols: str) -> np.ndarray:
    """L = 0, R = 1 by the target rule: R iff outer + inner + X/Y is 1AX or 2BY."""
    outer, inner = "", ""
    targets = np.zeros(len(symbols), np.int32)
    for t, c in enumerate(symbols):
        if c in "12":
            outer = c
        elif c in "AB":
            inner = c
        elif c in "XY":
            targets[t] = int(outer + inner + c in TASK12AX_TARGETS)
            inner = ""
    return targets
