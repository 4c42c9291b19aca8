"""`choice` and `decide` (returnn/tf/layers/rec.py ChoiceLayer, DecideLayer): beam search inside a rec unit.

In training, `choice` gives the target's label at this step (teacher forcing: RETURNN's `ChoiceLayer` in train
mode without search returns the target); in search it extends each hypothesis by its `beam_size` best labels
under the scores of its source (docs/search.md). `decide` takes the best hypothesis out of the final beam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import At, Layer, ShapeEnv, required
from netc.ir.types import BATCH, ConfigEnum, Loss, TensorType


class ChoiceInput(ConfigEnum):
    """What `choice` reads: probabilities (it takes their log) or log-probabilities."""

    PROB = "prob"
    LOG_PROB = "log_prob"


@dataclass(frozen=True)
class Choice(Layer):
    """Per step `[B]` int32 labels of the target (`classes` its dim), from a source `[B, classes]` of scores."""

    beam_size: int | None = None
    input_type: ChoiceInput = ChoiceInput.PROB
    length_normalization: bool = True
    length_normalization_exponent: float = 1.0
    prob_scale: float = 1.0
    base_beam_score_scale: float = 1.0
    random_sample_scale: float = 0.0
    keep_beams: bool = False
    scheduled_sampling: bool = False
    cheating: bool = False
    search: bool | None = None  # None: search when the network searches (RETURNN's NotSpecified)

    class_name: ClassVar[str] = "choice"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.beam_size, "beam_size", at, '"beam_size": 12')
        assert self.beam_size is not None
        if self.beam_size < 1:
            raise NetcError("beam_size must be >= 1", at("beam_size"), f"got {self.beam_size}")
        for key, default in (("random_sample_scale", 0.0), ("scheduled_sampling", False), ("cheating", False),
                             ("keep_beams", False), ("base_beam_score_scale", 1.0)):
            if getattr(self, key) != default:
                raise NetcError(f"choice option {key} is not implemented by netc", at(key), f"remove {key}")
        if len(self.sources) != 1:
            raise NetcError("netc's choice reads one source (the scores of the labels)", at("from"),
                            "give the softmax over the labels as its only source")

    def own_type(self, env: ShapeEnv, at: At) -> TensorType | None:
        return TensorType((BATCH,), "int32", env.target_dim())

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        classes = env.target_dim()
        if x is not None and (x.sparse or x.dims != (BATCH, x.dims[-1]) or x.feature != classes):
            raise NetcError(f"choice reads scores [B, {classes}] (the target's labels), got {x}", at("from"),
                            "give it the softmax over the target's labels, in the unit")
        return TensorType((BATCH,), "int32", classes)


@dataclass(frozen=True)
class Decide(Layer):
    """The best hypothesis out of the beam of its source (a rec layer's labels `[B, T]`); the labels unchanged.

    `loss: "edit_distance"` on it is a score RETURNN reports (no gradient, `EditDistanceLoss`)."""

    length_normalization: bool = False

    class_name: ClassVar[str] = "decide"

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None or len(self.sources) != 1:
            raise NetcError("decide reads one source (the rec layer with the choice)", at("from"),
                            "name the rec layer whose beam it decides")
        if self.loss is Loss.EDIT_DISTANCE and not x.sparse:
            raise NetcError(f"loss edit_distance compares labels, and {x} holds none", at("loss"),
                            "decide on the rec layer whose output is the choice")
        return x
