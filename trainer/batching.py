"""Padded torch tensors of a batch of sequences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from netc.data import HdfSeq
from netc.ir import NetcError, Where


@dataclass(frozen=True)
class Batch:
    """Padded tensors of one batch: data `[B, T, F]`, lengths, and sparse targets with their lengths."""

    data: torch.Tensor
    lengths: torch.Tensor
    targets: dict[str, torch.Tensor]
    target_lengths: dict[str, torch.Tensor]

    def to(self, device: torch.device) -> Batch:
        return Batch(self.data.to(device), self.lengths.to(device),
                     {k: v.to(device) for k, v in self.targets.items()},
                     {k: v.to(device) for k, v in self.target_lengths.items()})


def collate(seqs: Sequence[HdfSeq], num_inputs: int) -> Batch:
    """Pad features with zeros and targets with 0; the lengths say what is real."""
    lengths = torch.tensor([len(s.features) for s in seqs], dtype=torch.int64)
    data = torch.zeros(len(seqs), int(lengths.max()), num_inputs)
    for b, s in enumerate(seqs):
        if s.features.shape[1] != num_inputs:
            raise NetcError(f"sequence {s.tag!r} has {s.features.shape[1]} features, the network reads "
                            f"{num_inputs}", Where(), "check num_inputs against the dataset")
        data[b, : len(s.features)] = torch.from_numpy(s.features)
    targets, target_lengths = {}, {}
    for key in seqs[0].targets:
        target_lengths[key] = torch.tensor([len(s.targets[key]) for s in seqs], dtype=torch.int64)
        padded = torch.zeros(len(seqs), int(target_lengths[key].max()), dtype=torch.int64)
        for b, s in enumerate(seqs):
            padded[b, : len(s.targets[key])] = torch.from_numpy(s.targets[key].astype(np.int64))
        targets[key] = padded
    return Batch(data, lengths, targets, target_lengths)
