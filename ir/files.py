"""Writing output files atomically: a temporary name beside the target, renamed only on success."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netc.ir.errors import NetcError, Where

WRITABLE_HINT = "check that the directory exists and is writable, and that the disk has room"


@contextmanager
def atomic_output(path: str | Path, what: str, hint: str = WRITABLE_HINT) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes `path` when the block ends without error.

    A crash leaves at most a `.NAME.*.tmp` file, never a half-written `path`; an OSError
    becomes a NetcError naming the file.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise NetcError(f"cannot write the {what}: {e.strerror or e}", Where(str(path)), hint) from None
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise NetcError(f"cannot write the {what}: {e.strerror or e}", Where(str(path)), hint) from None
    finally:
        tmp.unlink(missing_ok=True)
