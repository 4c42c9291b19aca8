"""Learning-rate control (training.md): constant, newbob, newbob_abs, newbob_multi_epoch, and the file."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netc.ir import NetcError, Where
from netc.ir.files import atomic_output

from .config import TrainConfig


@dataclass
class LrControl:
    """Per epoch: the learning rate used and the scores reached. The decision uses dev_score, else train_score."""

    config: TrainConfig
    epochs: dict[int, dict[str, Any]] = field(default_factory=dict)  # epoch -> {"lr": .., "scores": {..}}

    def lr(self, epoch: int) -> float:
        """The learning rate of an epoch (decided once, then kept)."""
        if epoch not in self.epochs:
            self.epochs[epoch] = {"lr": self.decide(epoch), "scores": {}}
        return float(self.epochs[epoch]["lr"])

    def record(self, epoch: int, scores: dict[str, float]) -> None:
        self.lr(epoch)
        self.epochs[epoch]["scores"] = dict(scores)

    def decide(self, epoch: int) -> float:
        """RETURNN's `get_learning_rate_for_epoch`: a rate fixed by `learning_rates`, else the control's
        rate from the most recent earlier epoch (fixed or run); the first epoch without one uses
        `learning_rate`."""
        c = self.config
        fixed = dict(c.learning_rates)
        if epoch in fixed:
            return fixed[epoch]
        last = self.last_epoch(epoch)
        if last is None:
            return c.learning_rate
        lr = self.rate(last)
        if c.learning_rate_control != "constant" and self.should_decay(epoch):
            lr = max(lr * c.learning_rate_decay, c.min_learning_rate)
        return lr

    def known_epochs(self) -> set[int]:
        """Epochs with a learning rate: run (or decided) ones and those fixed by `learning_rates`."""
        return set(self.epochs) | {e for e, _ in self.config.learning_rates}

    def last_epoch(self, epoch: int) -> int | None:
        earlier = [e for e in self.known_epochs() if e < epoch]
        return max(earlier) if earlier else None

    def rate(self, epoch: int) -> float:
        if epoch in self.epochs:
            return float(self.epochs[epoch]["lr"])
        return dict(self.config.learning_rates)[epoch]

    def error_key(self, epoch: int) -> str | None:
        """RETURNN's `get_error_key`: which recorded score of `epoch` newbob compares.

        Tried in order: each `learning_rate_control_error_measure` (and KEY_output), dev_score(_output),
        any dev_* key (sorted), train_score(_output), else the smallest key; None if nothing was recorded.
        """
        scores = self.epochs.get(epoch, {}).get("scores", {})
        if not scores:
            return None
        wanted = [k for m in self.config.learning_rate_control_error_measure for k in (m, m + "_output")]
        for key in wanted + ["dev_score", "dev_score_output"]:
            if key in scores:
                return key
        for key in sorted(scores):
            if key.startswith("dev_"):
                return key
        for key in ("train_score", "train_score_output"):
            if key in scores:
                return key
        return min(scores)

    def score(self, epoch: int) -> tuple[str | None, float | None]:
        """The key newbob uses for `epoch` and its value."""
        key = self.error_key(epoch)
        return key, (None if key is None else self.epochs[epoch]["scores"][key])

    def relative_error(self, old: int, new: int) -> float | None:
        """RETURNN's `calc_relative_error`: None when a score is missing or the two epochs' keys differ."""
        (old_key, old_value), (new_key, new_value) = self.score(old), self.score(new)
        if old_value is None or new_value is None or old_key != new_key:
            return None
        return relative_change(old_value, new_value)

    def should_decay(self, epoch: int) -> bool:
        """Newbob, deciding the learning rate of `epoch`: did the score of the epochs before improve enough?"""
        c = self.config
        if c.learning_rate_control == "newbob_multi_epoch":
            return self.multi_epoch_decay(epoch)
        last = self.last_epoch(epoch)
        before = self.last_epoch(last) if last is not None else None
        if before is None:
            return False
        if c.learning_rate_control == "newbob_abs":
            (old_key, old), (new_key, new) = self.score(before), self.score(last)
            return old is not None and new is not None and old_key == new_key and new - old > c.newbob_error_threshold
        change = self.relative_error(before, last)
        return change is not None and change > c.newbob_relative_error_threshold

    def multi_epoch_decay(self, epoch: int) -> bool:
        """RETURNN's NewbobMultiEpoch: at epochs 1, 1+k, 1+2k, ... (k = update interval, default N), the mean
        relative change between consecutive scores of the last N+1 epochs before `epoch`."""
        c = self.config
        interval = c.newbob_multi_update_interval or c.newbob_multi_num_epochs
        if interval > 1 and epoch % interval != 1:
            return False
        last = sorted(e for e in self.known_epochs() if e < epoch)[-(c.newbob_multi_num_epochs + 1):]
        if len(last) < 2:
            return False
        changes = [self.relative_error(old, new) for old, new in zip(last, last[1:])]
        if None in changes:
            return False
        return sum(changes) / len(changes) > c.newbob_relative_error_threshold

    def state(self) -> dict[str, Any]:
        return {"epochs": {int(e): {"lr": float(v["lr"]), "scores": dict(v["scores"])}
                           for e, v in self.epochs.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        self.epochs = {int(e): {"lr": float(v["lr"]), "scores": dict(v["scores"])}
                       for e, v in state["epochs"].items()}


def relative_change(old: float, new: float) -> float:
    """RETURNN's relative error `(new - old) / |new|`; a new score of 0 is an improvement (or no change)."""
    if new == 0:
        return 0.0 if old == 0 else -math.inf
    return (new - old) / abs(new)


def write_lr_file(path: str, control: LrControl) -> None:
    """RETURNN's format: `{epoch: EpochData(learningRate=.., error={...}), ...}`, written atomically."""
    lines = ["{"]
    for epoch in sorted(control.epochs):
        entry = control.epochs[epoch]
        scores = ", ".join(f"{k!r}: {v!r}" for k, v in sorted(entry["scores"].items()))
        lines.append(f"  {epoch}: EpochData(learningRate={entry['lr']!r}, error={{{scores}}}),")
    lines.append("}")
    with atomic_output(path, "learning-rate file") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def read_lr_file(path: str) -> dict[int, dict[str, Any]]:
    """Read RETURNN's learning-rate file (literals only, nothing is executed)."""
    try:
        tree = ast.parse(Path(path).read_text(), mode="eval")
        if not isinstance(tree.body, ast.Dict):
            raise ValueError("not a dict")
        return {ast.literal_eval(k): epoch_data(v) for k, v in zip(tree.body.keys, tree.body.values)}
    except (OSError, SyntaxError, ValueError, TypeError) as e:
        raise NetcError(f"not a readable learning-rate file: {e}", Where(path),
                        "delete it, or fix the entry; it is rewritten after every epoch") from None


def epoch_data(node: ast.expr) -> dict[str, Any]:
    if not isinstance(node, ast.Call) or any(k.arg not in ("learningRate", "error") for k in node.keywords):
        raise ValueError("entries are EpochData(learningRate=..., error={...})")
    values = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    return {"lr": float(values["learningRate"]), "scores": dict(values.get("error", {}))}
