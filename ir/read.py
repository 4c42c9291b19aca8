"""Input files -> plain values plus the file position of every key.

The only module that sees raw text. JSON is parsed by a small located parser
(the stdlib one keeps no positions and accepts NaN); RETURNN Python configs are
read with `ast`, literals only, unless the user asks to execute them.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import NetcError, Where

Path_ = tuple[str, ...]
MAX_DEPTH = 64

# Characters that real configs copied from web pages contain, and their fix.
LOOKALIKES = {
    "\u2212": ("U+2212 MINUS SIGN", "-"),
    "\u2013": ("U+2013 EN DASH", "-"),
    "\u201c": ("typographic quote U+201C", '"'),
    "\u201d": ("typographic quote U+201D", '"'),
    "\u2018": ("typographic quote U+2018", "'"),
    "\u2019": ("typographic quote U+2019", "'"),
    "\u00a0": ("U+00A0 NO-BREAK SPACE", "a plain space"),
}
PYTHON_WORDS = {"None": "null", "True": "true", "False": "false"}
NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')


@dataclass(frozen=True)
class Document:
    """A parsed input file: its values and where each key and value stands."""

    path: str
    values: dict[str, Any]
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def where(self, *keys: str, layer: str | None = None, key: str | None = None) -> Where:
        """The file position of the value at `keys` (or its nearest known parent)."""
        path = tuple(keys)
        while path and path not in self.positions:
            path = path[:-1]
        line, col = self.positions.get(path, (None, None))
        return Where(self.path, line, col, layer, key)


def read_file(path: str | Path, exec_config: bool = False, overrides: dict[str, Any] | None = None) -> Document:
    """Read a JSON net dict, JSON config or RETURNN Python config; `overrides` (`++key value`) win."""
    doc = parse_file(Path(path), exec_config)
    if overrides:
        doc = replace(doc, values=doc.values | overrides)
    for key, value in doc.values.items():
        if isinstance(value, Opaque) and key in NEEDED_KEYS:
            raise NetcError(f"the value of {key!r} is not a literal; netc does not run config code",
                            Where(doc.path, value.line, value.col, key=key),
                            f"write a literal, pass ++{key} VALUE, or pass --exec-config for a trusted config")
    return doc


def parse_file(path: Path, exec_config: bool) -> Document:
    """The document of one file, by its kind."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NetcError("no such file", Where(str(path)), "check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise NetcError(f"cannot read the file: {e}", Where(str(path))) from None
    if is_python_config(path, text):
        if exec_config:
            return exec_python_config(str(path), text)
        return read_python_config(str(path), text)
    return read_json(str(path), text)


def is_python_config(path: Path, text: str) -> bool:
    """RETURNN configs are Python when named so or starting with `#!`."""
    if path.suffix == ".json":
        return False
    if path.suffix in (".config", ".py") or text.startswith("#!"):
        return True
    return not text.lstrip().startswith("{")


# ---------------------------------------------------------------- JSON


class JsonReader:
    """A recursive-descent JSON parser that records the position of every key."""

    def __init__(self, file: str, text: str):
        self.file = file
        self.text = text
        self.pos = 0
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.last_comma = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, pos: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, pos - self.line_starts[lo] + 1

    def fail(self, message: str, hint: str | None = None, pos: int | None = None) -> NetcError:
        line, col = self.line_col(self.pos if pos is None else pos)
        return NetcError(message, Where(self.file, line, col), hint)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str, context: str) -> None:
        if self.peek() != char:
            raise self.unexpected(f"expected {char!r} {context}")
        self.pos += 1

    def unexpected(self, message: str) -> NetcError:
        char = self.peek()
        if not char:
            return self.fail(f"{message}, found the end of the file", "close every '{' and '['")
        if char in LOOKALIKES:
            name, fix = LOOKALIKES[char]
            return self.fail(f"{name} {char!r} is not valid JSON", f"replace it with {fix}")
        if char == "'":
            return self.fail("JSON strings need double quotes", "write \"...\" instead of '...'")
        word = WORD.match(self.text, self.pos)
        if word and word.group() in PYTHON_WORDS:
            py = word.group()
            return self.fail(f"Python literal {py!r} in JSON", f"write {PYTHON_WORDS[py]}")
        if word and word.group() in ("NaN", "Infinity"):
            return self.fail(f"{word.group()} is not a number netc accepts", "write a finite number")
        return self.fail(f"{message}, found {char!r}")

    def parse(self) -> Any:
        value = self.value((), 0)
        if self.peek():
            raise self.unexpected("expected the end of the file")
        return value

    def value(self, path: Path_, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", "a net dict is a flat dict of layers")
        char = self.peek()
        self.positions[path] = self.line_col(self.pos)
        if char == "{":
            return self.object(path, depth)
        if char == "[":
            return self.array(path, depth)
        if char == '"':
            return self.string()
        number = NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            return float(number.group()) if number.group(2) or number.group(3) else int(number.group())
        for literal, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(literal, self.pos):
                self.pos += len(literal)
                return result
        raise self.unexpected("expected a value")

    def string(self) -> str:
        match = STRING.match(self.text, self.pos)
        if not match:
            raise self.fail("unterminated or malformed string", "strings are \"...\" on one line")
        self.pos = match.end()
        return json.loads(match.group())

    def object(self, path: Path_, depth: int) -> dict[str, Any]:
        self.pos += 1
        result: dict[str, Any] = {}
        if self.peek() == "}":
            self.pos += 1
            return result
        while True:
            if self.peek() != '"':
                if self.peek() == "}":
                    raise self.fail("trailing comma before '}'", "remove the last ','", pos=self.last_comma)
                raise self.unexpected("expected a key in double quotes")
            key_pos = self.pos
            key = self.string()
            if key in result:
                first_line, first_col = self.positions[(*path, key)]
                raise self.fail(
                    f"duplicate key {key!r} (first at line {first_line}, column {first_col})",
                    "remove or rename one of them", pos=key_pos)
            self.positions[(*path, key)] = self.line_col(key_pos)
            self.expect(":", f"after key {key!r}")
            result[key] = self.value((*path, key), depth + 1)
            self.positions[(*path, key)] = self.line_col(key_pos)
            if self.peek() == ",":
                self.last_comma = self.pos
                self.pos += 1
                continue
            self.expect("}", "or ',' in an object")
            return result

    def array(self, path: Path_, depth: int) -> list[Any]:
        self.pos += 1
        result: list[Any] = []
        if self.peek() == "]":
            self.pos += 1
            return result
        while True:
            if self.peek() == "]":
                raise self.fail("trailing comma before ']'", "remove the last ','", pos=self.last_comma)
            result.append(self.value((*path, str(len(result))), depth + 1))
            if self.peek() == ",":
                self.last_comma = self.pos
                self.pos += 1
                continue
            self.expect("]", "or ',' in a list")
            return result


def read_json(file: str, text: str) -> Document:
    """Parse JSON text; the top level must be an object."""
    reader = JsonReader(file, text)
    value = reader.parse()
    if not isinstance(value, dict):
        raise NetcError("the top level must be a JSON object of layers", Where(file, 1, 1),
                        'write {"layer_name": {"class": ...}, ...}')
    return Document(file, value, reader.positions)


# ---------------------------------------------------------------- Python configs

# Keys whose value netc needs; a non-literal value for them is an error.
NEEDED_KEYS = frozenset({
    "network", "num_inputs", "num_outputs", "extern_data", "target", "train", "dev", "eval",
    "num_epochs", "batch_size", "max_seqs", "max_seq_length", "batching", "seq_ordering",
    "learning_rate", "learning_rates", "optimizer", "optimizer_epsilon", "adam", "nadam",
    "gradient_clip", "gradient_clip_global_norm", "learning_rate_control", "learning_rate_decay",
    "newbob_relative_error_threshold", "newbob_error_threshold", "min_learning_rate",
    "learning_rate_file", "model", "save_interval", "start_epoch", "random_seed", "device",
    "use_normalized_loss",
})


@dataclass(frozen=True)
class Opaque:
    """A config value netc could not compute without running the config; an error only where it is needed.

    `reason` says what blocked it (e.g. "calls get_login_username() imported from returnn.util.basic").
    """

    line: int
    col: int
    reason: str = "not a literal"


def read_python_config(file: str, text: str) -> Document:
    """Read top-level `key = literal` assignments without running the file."""
    try:
        tree = ast.parse(text, filename=file)
    except SyntaxError as e:
        raise NetcError(f"Python syntax error: {e.msg}", Where(file, e.lineno, e.offset),
                        python_syntax_hint(e)) from None
    except (MemoryError, RecursionError):
        # NOTE: CPython's parser gives up on deeply nested brackets this way, not with a SyntaxError.
        raise NetcError("the config nests brackets too deeply to parse", Where(file),
                        "a net dict is a flat dict of layers") from None
    values: dict[str, Any] = {}
    positions: dict[Path_, tuple[int, int]] = {}
    ignored: list[str] = []
    for stmt in tree.body:
        target = assignment_target(stmt)
        if target is None:
            if not is_docstring(stmt):
                ignored.append(f"line {stmt.lineno}: {type(stmt).__name__.lower()}")
            continue
        assert isinstance(stmt, (ast.Assign, ast.AnnAssign))
        positions[(target,)] = (stmt.lineno, stmt.col_offset + 1)
        try:
            values[target] = literal(stmt.value, (target,), positions, file)
        except (ValueError, TypeError):  # TypeError: e.g. a set holding a dict, `{{}}`
            values[target] = Opaque(stmt.lineno, stmt.col_offset + 1)
            ignored.append(f"line {stmt.lineno}: {target} (not a literal)")
    notes = (f"ignored (netc reads literals only): {'; '.join(ignored)}",) if ignored else ()
    return Document(file, values, positions, notes)


def assignment_target(stmt: ast.stmt) -> str | None:
    """The name of a plain `name = value` statement."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        return stmt.target.id
    return None


def is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def literal(node: ast.expr | None, path: Path_, positions: dict[Path_, tuple[int, int]], file: str) -> Any:
    """Like `ast.literal_eval`, recording the position of every dict key."""
    if node is None:
        raise ValueError
    if len(path) > MAX_DEPTH:
        raise NetcError(f"nesting deeper than {MAX_DEPTH} levels", Where(file, node.lineno, node.col_offset + 1),
                        "a net dict is a flat dict of layers")
    positions.setdefault(path, (node.lineno, node.col_offset + 1))
    if isinstance(node, ast.Dict):
        result = {}
        for key_node, value_node in zip(node.keys, node.values):
            key = ast.literal_eval(key_node) if key_node is not None else None
            if not isinstance(key, (str, int)):
                raise ValueError
            sub = (*path, str(key))
            positions[sub] = (key_node.lineno, key_node.col_offset + 1)
            result[key] = literal(value_node, sub, positions, file)
        return result
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [literal(item, (*path, str(i)), positions, file) for i, item in enumerate(node.elts)]
        return items if isinstance(node, ast.List) else tuple(items)
    value = ast.literal_eval(node)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError
    return value


def python_syntax_hint(error: SyntaxError) -> str:
    text = error.text or ""
    for char, (name, fix) in LOOKALIKES.items():
        if char in text:
            return f"the line contains {name}: replace it with {fix}"
    return "fix the Python syntax at the caret"


def exec_python_config(file: str, text: str) -> Document:
    """Run a trusted config as Python, as RETURNN does (`--exec-config`)."""
    scope: dict[str, Any] = {"__file__": file, "__name__": "__returnn_config__"}
    try:
        exec(compile(text, file, "exec"), scope)
    except SyntaxError as e:
        raise NetcError(f"Python syntax error: {e.msg}", Where(file, e.lineno, e.offset),
                        python_syntax_hint(e)) from None
    except Exception as e:  # noqa: BLE001 - user code may raise anything; report it located
        raise NetcError(f"running the config failed: {type(e).__name__}: {e}", Where(file)) from None
    values = {k: v for k, v in scope.items() if not k.startswith("__") and is_plain(v)}
    return Document(file, values)


def is_plain(value: Any) -> bool:
    """Config values netc can use: nested literals."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))
