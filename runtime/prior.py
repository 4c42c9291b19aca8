"""`netc prior`: the average posterior over every valid frame of an HDF file, as RETURNN's `compute_priors` writes it.

RETURNN (returnn/tf/engine.py `Engine.compute_priors`) sums the output layer's posteriors over all frames of
the dataset, divides by the number of frames, and writes `numpy.log` of the average with
`numpy.savetxt(f, log_average_posterior, delimiter=" ")`: one value per line, `%.18e`, natural log
(`netc compile --prior` reads it). RASR reads priors as an XML vector (`<vector-f32 size="N">`, values
`%.20e`, as i6_core's prior jobs convert RETURNN's file): an output named `*.xml` gets that form.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from netc.ir import NetcError, Where
from netc.ir.files import atomic_output

from .hdf import check_writable, iter_outputs, open_checked, target_lengths
from .model import Model


def posteriors(outputs: np.ndarray, kind: str, path: str) -> np.ndarray:
    """`(T, C)` model outputs of an output kind -> `(T, C)` float64 posteriors (softmax of logits, exp of
    log-probs). A model whose outputs are already divided by a prior has none to average."""
    values = outputs.astype(np.float64)
    if kind == "probs":
        return values
    if kind == "log-probs":
        return np.exp(values)
    if kind == "logits":
        shifted = np.exp(values - values.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    raise NetcError(f"the model's outputs are {kind}, not posteriors: they cannot be averaged into a prior",
                    Where(path), "compute the prior with the model compiled without --prior "
                                 "(--output-kind probs, log-probs or logits)")


def average_posterior(model: Model, source: str | Path, progress: Callable[[int], None] | None = None
                      ) -> tuple[np.ndarray, int]:
    """The float64 `(C,)` mean posterior over all output frames of `source`, and the number of frames.

    Frames are the model's output frames (an encoder–decoder model: its decoder's, the `classes` lengths);
    0-frame sequences add nothing. Errors name the file, and a sequence by its file index and tag.
    """
    kind = model.info.metadata.get("netc.output_kind", "probs")
    total, frames = np.zeros(model.num_outputs, np.float64), 0
    with open_checked(model, source) as reader:
        for seq in iter_outputs(model, reader, target_lengths(model, reader), progress):
            total += posteriors(seq.features, kind, model.info.path).sum(axis=0)
            frames += len(seq.features)
    if frames == 0:
        raise NetcError("the HDF file has no frames to average over", Where(str(source)),
                        "compute the prior on the training data")
    return total / frames, frames


def write_prior(path: str | Path, average: np.ndarray) -> None:
    """`log(average)` written atomically as RETURNN writes it (`numpy.savetxt(..., delimiter=" ")`), or for a
    `.xml` name as RASR's XML vector."""
    zero = np.flatnonzero(~(average > 0) | ~np.isfinite(average))
    if len(zero):
        raise NetcError(f"class {int(zero[0])} has average posterior {average[zero[0]]}: its log prior is not finite",
                        Where(str(path)), "the model never gives that class any probability on this data")
    with atomic_output(path, "prior file") as tmp, open(tmp, "w") as f:
        if Path(path).suffix == ".xml":
            f.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<vector-f32 size="{len(average)}">\n'
                    + " ".join(f"{v:.20e}" for v in np.log(average)) + "\n</vector-f32>\n")
        else:
            np.savetxt(f, np.log(average), delimiter=" ")


def compute_prior(model: Model, source: str | Path, target: str | Path,
                  progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
    """`netc prior`: write the log prior of `source` to `target`; returns the average posterior and frames."""
    check_writable(Path(target))
    average, frames = average_posterior(model, source, progress)
    write_prior(target, average)
    return average, frames
