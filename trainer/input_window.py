"""RETURNN's top-level `window`: each input frame becomes the concatenation of its neighbours (numpy only).

RETURNN TF still honours it: `Dataset.kwargs_update_from_config` passes `window` to every dataset, train,
dev and eval alike, and `HDFDataset`, the generating datasets and `CachedDataset` apply
`Dataset._sliding_window` to the `data` key. An even window is widened by one (`Dataset._base_init`); the
input dim of the network is then `window x` the dataset's feature dim (`_num_inputs_outputs_from_config`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from netc.data import HdfSeq
from netc.ir import Document, NetcError
from netc.ir.keys import needed


def read_window(doc: Document) -> int:
    """The effective window (1: off); even values become the next odd one, as in RETURNN.

    Raises NetcError (located at the key) for a value that is not an int >= 1.
    """
    value = needed(doc, "window")
    if value is None or value == 0:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise NetcError(f"window must be a number of frames >= 1, got {value!r}", doc.where("window", key="window"),
                        "e.g. window = 3: each frame with one neighbour on each side")
    return value + 1 if value % 2 == 0 else value


def sliding_window(features: np.ndarray, window: int) -> np.ndarray:
    """`(T, F)` -> `(T, window * F)`: row t holds frames t - window//2 ... t + window//2, zeros beyond the ends."""
    if window == 1:
        return features
    half = window // 2
    padded = np.concatenate([np.zeros((half, features.shape[1]), features.dtype), features,
                             np.zeros((half, features.shape[1]), features.dtype)])
    return np.concatenate([padded[k:k + len(features)] for k in range(window)], axis=1)


class WindowCorpus:
    """A corpus whose sequences' features go through `sliding_window`."""

    def __init__(self, corpus: Any, window: int):
        self.corpus, self.window = corpus, window

    def __len__(self) -> int:
        return len(self.corpus)

    def __getitem__(self, index: int) -> HdfSeq:
        s = self.corpus[index]
        return HdfSeq(s.tag, sliding_window(s.features, self.window), s.targets)
