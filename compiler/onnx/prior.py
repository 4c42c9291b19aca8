"""`netc compile --prior P --prior-scale a`: the output becomes `log softmax(z) - a * log prior`, the scaled
log-likelihoods a hybrid NN-HMM decoder consumes (output kind `scaled-log-likelihoods`).

The prior file is what RETURNN's `compute_priors` task and `netc prior` write: `numpy.savetxt` of the log
average posterior, one natural-log value per line (returnn/tf/engine.py `Engine.compute_priors`); or the
same values in RASR's XML vector form (`<vector-f32 size="N">` ... `</vector-f32>`, as i6_core's prior jobs
convert them for RASR), which `netc prior -o NAME.xml` writes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from netc.ir import NetcError, Where

from .builder import OnnxBuilder

SCALED_LOG_LIKELIHOODS = "scaled-log-likelihoods"
XML_SIZE = re.compile(r'<vector-f32\s+size="(\d+)"\s*>')


@dataclass(frozen=True)
class Prior:
    """A read prior file: one log prior per class, and the scale it is applied with."""

    log_prior: tuple[float, ...]
    scale: float
    file: str

    def check_classes(self, num_classes: int) -> None:
        if len(self.log_prior) != num_classes:
            raise NetcError(f"the prior file has {len(self.log_prior)} values, the network has {num_classes} "
                            f"output classes", Where(self.file),
                            "compute the prior with netc prior on this network's model (one value per class)")


def read_prior(path: str | Path, scale: float) -> Prior:
    """A RETURNN/netc prior file: whitespace-separated natural-log values, one per class, each finite."""
    path = str(path)
    if not math.isfinite(scale):
        raise NetcError(f"--prior-scale must be a finite number, got {scale}")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise NetcError(f"cannot read the prior file: {getattr(e, 'strerror', None) or e}", Where(path),
                        "give the file netc prior (or RETURNN's compute_priors) wrote") from None
    values: list[float] = []
    size: int | None = None
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("<"):  # RASR's XML form: the header, <vector-f32 size="N">, </vector-f32>
            match = XML_SIZE.search(line)
            size = int(match.group(1)) if match else size
            continue
        for col, word in words(line):
            try:
                value = float(word)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise NetcError(f"{word!r} is not a finite number", Where(path, number, col),
                                "a prior file holds one finite log probability per class")
            values.append(value)
    if size is not None and size != len(values):
        raise NetcError(f'<vector-f32 size="{size}"> holds {len(values)} values', Where(path),
                        "the file is cut short or was edited; write it again with netc prior")
    if not values:
        raise NetcError("the prior file holds no values", Where(path),
                        "give the file netc prior (or RETURNN's compute_priors) wrote")
    if max(values) > 0:  # a log probability is <= 0; positive values are probabilities or another format
        raise NetcError(f"the prior holds a positive value ({max(values):g}); a log prior's values are <= 0",
                        Where(path), "give the log prior netc prior writes (probabilities: take their log)")
    return Prior(tuple(values), float(scale), path)


def words(line: str) -> list[tuple[int, str]]:
    """The whitespace-separated words of a line with their 1-based columns."""
    found, col = [], 0
    for word in line.split():
        col = line.index(word, col)
        found.append((col + 1, word))
        col += len(word)
    return found


def subtract_prior(b: OnnxBuilder, log_probs: str, prior: Prior) -> str:
    """`log_probs - scale * log_prior`, broadcast over batch and time (one float32 constant of `C` values)."""
    offset = (prior.scale * np.asarray(prior.log_prior, np.float64)).astype(np.float32)
    return b.op("Sub", log_probs, b.initializer("output/scaled_log_prior", offset),
                name="output/scaled_log_likelihoods")
