"""Atomic output files: the target appears only complete; failures are located messages, no leftovers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from netc.ir import NetcError
from netc.ir.files import atomic_output


def test_target_appears_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_output(target, "output") as tmp:
        tmp.write_bytes(b"half")
        assert not target.exists()
    assert target.read_bytes() == b"half"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failing_block_leaves_neither_target_nor_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    with pytest.raises(ValueError), atomic_output(target, "output") as tmp:
        tmp.write_bytes(b"new")
        raise ValueError("interrupted")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_unwritable_place_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(NetcError, match="cannot write the checkpoint") as error:
        with atomic_output(tmp_path / "file" / "m.001.pt", "checkpoint"):
            pass
    assert str(tmp_path / "file" / "m.001.pt") in str(error.value)


def test_the_target_gets_the_umask_mode_not_a_private_one(tmp_path: Path) -> None:
    """A compiled model must be readable by the decoding service's user, as any file the user writes."""
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "model.onnx", "ONNX model") as tmp:
            tmp.write_bytes(b"model")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model.onnx").stat().st_mode) == 0o644
