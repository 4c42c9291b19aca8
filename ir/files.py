"""Writing output files atomically: a temporary name beside the target, renamed only on success."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netc.ir.errors import NetcError, Where

WRITABLE_HINT = "check that the directory exists and is writable, and that the disk has room"


def refuse_overwriting_inputs(output: str | Path, *inputs: str | Path | None) -> None:
    """An output path that names one of the command's input files is an error before any work (it would
    replace the input with the result)."""
    for source in inputs:
        if source is not None and os.path.exists(source) and os.path.exists(output) and os.path.samefile(output,
                                                                                                          source):
            raise NetcError(f"the output is the input file {str(source)!r}; writing it would replace that input",
                            Where(str(output)), "choose another output path")


@contextmanager
def atomic_output(path: str | Path, what: str, hint: str = WRITABLE_HINT) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes `path` when the block ends without error.

    A crash leaves at most a `.NAME.*.tmp` file, never a half-written `path`; an OSError
    becomes a NetcError naming the file.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # Not mkstemp: its files are private (0600); a model or checkpoint gets the umask's mode, as with open().
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as e:
        raise NetcError(f"cannot write the {what}: {e.strerror or e}", Where(str(path)), hint) from None
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise NetcError(f"cannot write the {what}: {e.strerror or e}", Where(str(path)), hint) from None
    finally:
        tmp.unlink(missing_ok=True)
