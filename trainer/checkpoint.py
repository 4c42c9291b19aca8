"""Checkpoints `<model>.NNN.pt`: written atomically, loaded with `weights_only=True` (no code runs)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from netc.ir import NetcError, Where

FORMAT = 1


def checkpoint_path(prefix: str, epoch: int) -> str:
    return f"{prefix}.{epoch:03d}.pt"


def save_checkpoint(path: str, payload: dict[str, Any]) -> None:
    """Write to a temporary file beside the target, then rename: a crash never leaves a half file."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise NetcError(f"cannot write the checkpoint: {e.strerror or e}", Where(path),
                        "free disk space or point `model` elsewhere; earlier checkpoints are unchanged, "
                        "and running again resumes after the newest") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def complete_checkpoints(prefix: str) -> list[tuple[int, str]]:
    """Every complete `<prefix>.NNN.pt`, newest first (temporary files never match)."""
    base = Path(prefix)
    directory = base.parent if str(base.parent) else Path(".")
    pattern = re.compile(re.escape(base.name) + r"\.(\d{3,})\.pt")
    found = [(int(m.group(1)), str(directory / m.group(0)))
             for p in directory.glob(f"{base.name}.*.pt") if (m := pattern.fullmatch(p.name))]
    return sorted(found, reverse=True)


def newest_checkpoint(prefix: str) -> tuple[int, str] | None:
    """The highest-numbered complete checkpoint."""
    found = complete_checkpoints(prefix)
    return found[0] if found else None
