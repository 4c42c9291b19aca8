"""The trainer's layout of a batch on one time axis: packed frames, no padding.

Frames are stored time-major: step t holds frame t of every sequence longer than t, longest sequence
first (torch's PackedSequence layout). Per-frame layers (linear, softmax, dropout, concatenation)
run on `[frames, F]` rows and never see a padded frame; the LSTM kernel walks the steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Packing:
    lengths: torch.Tensor  # [B] int64, in batch order
    order: torch.Tensor  # [B] batch index of the longest, second longest, ... sequence
    rank: torch.Tensor  # [B] inverse of order: position of each batch sequence among the state rows
    sizes: tuple[int, ...]  # sequences active at each step (non-increasing)
    seq: torch.Tensor  # [frames] batch index of each packed frame
    step: torch.Tensor  # [frames] time index of each packed frame

    @classmethod
    def of(cls, lengths: torch.Tensor) -> Packing:
        lengths = lengths.to(torch.int64)
        order = torch.sort(lengths, descending=True, stable=True).indices
        steps = int(lengths.max()) if len(lengths) else 0
        active = torch.arange(steps, device=lengths.device)[:, None] < lengths[order][None, :]  # [T, B] sorted
        step, position = active.nonzero(as_tuple=True)  # row-major: time-major, longest first
        return cls(lengths, order, torch.argsort(order), tuple(active.sum(dim=1).tolist()), order[position], step)

    @property
    def frames(self) -> int:
        return len(self.seq)

    @property
    def steps(self) -> int:
        return len(self.sizes)

    def pack(self, padded: torch.Tensor) -> torch.Tensor:
        """`[B, T, ...]` (T at least the longest length) -> `[frames, ...]`."""
        return padded[self.seq, self.step]

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """`[frames, ...]` -> `[B, T, ...]` with zeros on padded frames."""
        padded = packed.new_zeros((len(self.lengths), self.steps, *packed.shape[1:]))
        padded[self.seq, self.step] = packed
        return padded

    def to_rows(self, per_sequence: torch.Tensor) -> torch.Tensor:
        """`[B, ...]` in batch order -> the kernel's state rows (longest sequence first)."""
        return per_sequence.index_select(0, self.order)

    def from_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """The kernel's state rows -> `[B, ...]` in batch order."""
        return rows.index_select(0, self.rank)
