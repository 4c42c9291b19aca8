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
    """Padded tensors of one batch: data `[B, T, F]` (int64 `[B, T]` class indices for sparse data), lengths,
    and sparse targets with their lengths."""

    data: torch.Tensor
    lengths: torch.Tensor
    targets: dict[str, torch.Tensor]
    target_lengths: dict[str, torch.Tensor]

    def to(self, device: torch.device) -> Batch:
        return Batch(self.data.to(device), self.lengths.to(device),
                     {k: v.to(device) for k, v in self.targets.items()},
                     {k: v.to(device) for k, v in self.target_lengths.items()})


def collate(seqs: Sequence[HdfSeq], num_inputs: int, sparse: bool = False) -> Batch:
    """Pad features with zeros and targets with 0; the lengths say what is real. With `sparse` data each
    sequence's features are `(T,)` class indices below `num_inputs`, padded to int64 `[B, T]`."""
    lengths = torch.tensor([len(s.features) for s in seqs], dtype=torch.int64)
    data = collate_labels(seqs, num_inputs, lengths) if sparse else collate_features(seqs, num_inputs, lengths)
    targets, target_lengths = {}, {}
    for key in seqs[0].targets:
        target_lengths[key] = torch.tensor([len(s.targets[key]) for s in seqs], dtype=torch.int64)
        padded = torch.zeros(len(seqs), int(target_lengths[key].max()), dtype=torch.int64)
        for b, s in enumerate(seqs):
            padded[b, : len(s.targets[key])] = torch.from_numpy(s.targets[key].astype(np.int64))
        targets[key] = padded
    return Batch(data, lengths, targets, target_lengths)


def collate_labels(seqs: Sequence[HdfSeq], vocabulary: int, lengths: torch.Tensor) -> torch.Tensor:
    """Class indices `(T,)` per sequence -> int64 `[B, T]`, 0 on padded frames."""
    data = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.int64)
    for b, s in enumerate(seqs):
        labels = np.asarray(s.features)
        if labels.ndim != 1:
            raise NetcError(f"sequence {s.tag!r} has feature vectors {labels.shape}, the network reads class "
                            "indices (sparse data)", Where(), "write the dataset with sparse int32 inputs")
        if len(labels) and (labels.min() < 0 or labels.max() >= vocabulary):
            raise NetcError(f"sequence {s.tag!r} has class index {int(labels.max())} outside [0, {vocabulary})",
                            Where(), "check the data dim (the vocabulary) against the dataset")
        data[b, : len(labels)] = torch.from_numpy(labels.astype(np.int64))
    return data


def collate_features(seqs: Sequence[HdfSeq], num_inputs: int, lengths: torch.Tensor) -> torch.Tensor:
    """Feature frames `(T, F)` per sequence -> float32 `[B, T, F]`, zeros on padded frames."""
    data = torch.zeros(len(seqs), int(lengths.max()), num_inputs)
    for b, s in enumerate(seqs):
        if s.features.ndim != 2:
            raise NetcError(f"sequence {s.tag!r} holds class indices (sparse data), the network reads {num_inputs} "
                            "features", Where(), "declare the data sparse (extern_data) or use a dense dataset")
        if s.features.shape[1] != num_inputs:
            raise NetcError(f"sequence {s.tag!r} has {s.features.shape[1]} features, the network reads "
                            f"{num_inputs}", Where(), "check num_inputs against the dataset (with a top-level "
                            "`window` w, the network reads w x the data dim)")
        data[b, : len(s.features)] = torch.from_numpy(s.features)
    return data
