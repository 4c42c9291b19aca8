"""Streaming: push a sequence chunk by chunk, carrying each LSTM's state between pushes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from netc.ir import NetcError, Where

from .checks import check_sequences
from .info import OUTPUT

if TYPE_CHECKING:
    from .model import Model


class Stream:
    """One sequence in chunks: `push(chunk)` returns the chunk's outputs, equal to the whole sequence's.

    A stream holds state: use one per sequence and per thread (the Model itself may be shared).
    """

    def __init__(self, model: Model):
        if not model.info.streaming:
            raise NetcError("this model has no recurrent state inputs, so it cannot stream", Where(model.info.path),
                            "compile it with netc compile --streaming (all rec layers forward, no decoders)")
        self.model = model
        self.states: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Start a new sequence: all states zero."""
        self.states = {s.input: np.zeros((1, s.size), np.float32) for s in self.model.info.states}

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """`(T, F)` features of the next frames -> their `(T, C)` outputs; an empty chunk gives `(0, C)`."""
        (features,) = check_sequences([chunk], self.model.info)
        if len(features) == 0:  # no frames, nothing to compute
            return np.zeros((0, self.model.num_outputs), np.float32)
        lens = np.array([len(features)], np.int32)
        outputs = self.model.execute(self.model.feeds(features[None], lens, None, self.states))
        self.states = {s.input: outputs[s.output] for s in self.model.info.states}
        return outputs[OUTPUT][0, : len(features)].copy()
