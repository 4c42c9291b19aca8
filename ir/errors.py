"""The one error type of netc, and where in the user's input it points."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Where:
    """A place in the user's input: file position, layer and key, each optional."""

    file: str | None = None
    line: int | None = None
    col: int | None = None
    layer: str | None = None
    key: str | None = None

    def at_key(self, key: str) -> Where:
        """The same place, narrowed to one option key of the layer."""
        return replace(self, key=key)

    def prefix(self) -> str:
        """`file:line:col: layer 'x', key 'y'` with whatever parts are known."""
        pos = [str(p) for p in (self.file, self.line, self.col) if p is not None]
        what = []
        if self.layer is not None:
            what.append(f"layer {self.layer!r}")
        if self.key is not None:
            what.append(f"key {self.key!r}")
        return ", ".join(filter(None, [":".join(pos), ", ".join(what)]))

    def source_excerpt(self) -> str:
        """The input line with a caret under the column, when the file can be read."""
        if self.file is None or self.line is None:
            return ""
        try:
            lines = Path(self.file).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        if not 1 <= self.line <= len(lines):
            return ""
        text = lines[self.line - 1].rstrip()
        caret = " " * (max(self.col or 1, 1) - 1) + "^"
        return f"  {text}\n  {caret}"


class NetcError(Exception):
    """A user-facing error: what is wrong, where, and how to fix it."""

    def __init__(self, message: str, where: Where | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where or Where()
        self.hint = hint

    def __str__(self) -> str:
        head = self.where.prefix()
        lines = [f"{head}: {self.message}" if head else self.message]
        excerpt = self.where.source_excerpt()
        if excerpt:
            lines.append(excerpt)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def did_you_mean(word: str, known: list[str] | tuple[str, ...]) -> str:
    """A hint naming the closest known word, or listing all known words."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if not close:
        normalized = word.replace(" ", "_").replace("-", "_").lower()
        close = [k for k in known if k.lower() == normalized]
    if close:
        return f"did you mean {close[0]!r}?"
    return "known: " + ", ".join(repr(k) for k in sorted(known))
