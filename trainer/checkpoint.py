"""Checkpoints `<model>.NNN.pt`: written atomically, loaded with `weights_only=True` (no code runs).

Also every parameter file netc reads by name: `.pt`, `.npz`, and RETURNN's TensorFlow checkpoints."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from netc.data.tf_checkpoint import load_arrays
from netc.ir import NetcError, Where
from netc.ir.files import atomic_output

FORMAT = 1


def checkpoint_path(prefix: str, epoch: int, pretrain: bool = False) -> str:
    """`<prefix>.NNN.pt`, or `<prefix>.pretrain.NNN.pt` for a pretrain epoch (RETURNN's `epoch_model_filename`)."""
    return f"{prefix}{'.pretrain' if pretrain else ''}.{epoch:03d}.pt"


def make_checkpoint_directory(path: str) -> None:
    """The folder of a checkpoint path (`model`'s), created; an error names it before any work is lost."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NetcError(f"cannot create the checkpoint directory: {e.strerror or e}", Where(path),
                        "point `model` at a writable directory") from None


def save_checkpoint(path: str, payload: dict[str, Any]) -> None:
    """Write atomically and durably: a crash never leaves a half-written checkpoint under its name."""
    target = Path(path)
    make_checkpoint_directory(path)
    with atomic_output(target, "checkpoint", "free disk space or point `model` elsewhere; earlier checkpoints "
                       "are unchanged, and running again resumes after the newest") as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, **payload}, f)
        f.flush()
        os.fsync(f.fileno())


def load_checkpoint(path: str) -> dict[str, Any]:
    """A checkpoint's contents; anything but plain tensors and containers is refused."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise NetcError("no such checkpoint", Where(path)) from None
    except Exception as e:  # noqa: BLE001 - unpickling refusals and damaged files raise many types
        raise NetcError(f"not a loadable netc checkpoint: {type(e).__name__}: {str(e)[:300]}", Where(path),
                        "checkpoints are loaded with weights_only=True; only netc train's files load") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "params" not in payload:
        raise NetcError("not a netc checkpoint (no format/params entries)", Where(path))
    return payload


def load_params(path: str) -> dict[str, np.ndarray]:
    """The parameters of a checkpoint under their netdict.md section 8 names (for `netc compile --params`)."""
    params = load_checkpoint(path)["params"]
    if not isinstance(params, dict) or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise NetcError("the checkpoint's params are not a dict of tensors", Where(path))
    return {str(k): v.detach().cpu().float().numpy() for k, v in params.items()}


def read_params(path: str) -> dict[str, np.ndarray]:
    """Named arrays of a netc checkpoint `.pt`, an `.npz`, or a TensorFlow checkpoint prefix (`model.003`).

    A TensorFlow checkpoint also holds non-parameters (`global_step`, optimizer slots): callers pick by name.
    """
    return load_params(path) if path.endswith(".pt") else load_arrays(path)


def complete_checkpoints(prefix: str) -> list[tuple[int, str]]:
    """Every complete `<prefix>.NNN.pt` and `<prefix>.pretrain.NNN.pt`, newest first (temporary files never match)."""
    base = Path(prefix)
    directory = base.parent if str(base.parent) else Path(".")
    pattern = re.compile(re.escape(base.name) + r"(?:\.pretrain)?\.(\d{3,})\.pt")
    found = [(int(m.group(1)), str(directory / m.group(0)))
             for p in directory.glob(f"{base.name}.*.pt") if (m := pattern.fullmatch(p.name))]
    return sorted(found, reverse=True)


def newest_checkpoint(prefix: str) -> tuple[int, str] | None:
    """The highest-numbered complete checkpoint."""
    found = complete_checkpoints(prefix)
    return found[0] if found else None
