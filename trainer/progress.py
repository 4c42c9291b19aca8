"""RETURNN's summary lines, and a progress bar only when stderr is a terminal."""

from __future__ import annotations

import datetime
import sys
import time


def elapsed(seconds: float) -> str:
    """`0:00:04`."""
    return str(datetime.timedelta(seconds=int(seconds)))


def epoch_line(epoch: int, score: float, error: float, seconds: float) -> str:
    return f"epoch {epoch} score: {score:.4f} error: {error:.4f} elapsed: {elapsed(seconds)}"


def eval_line(role: str, score: float, error: float) -> str:
    return f"{role}: score {score:.4f} error {error:.4f}"


class ProgressBar:
    """One line rewritten in place: steps, frames/s, score so far, time left."""

    def __init__(self, total_steps: int, enabled: bool | None = None):
        self.total = total_steps
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.monotonic()

    def update(self, step: int, frames: float, score: float) -> None:
        if not self.enabled:
            return
        spent = time.monotonic() - self.start
        left = spent / max(step, 1) * (self.total - step)
        width = 30
        done = int(width * step / max(self.total, 1))
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {step}/{self.total} "
                         f"{frames / max(spent, 1e-9):.0f} frames/s score {score:.4f} left {elapsed(left)}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()
