"""Input files -> plain values plus the file position of every key.

The only module that sees raw text. The kind of a file is chosen by its content, as RETURNN does
(`returnn/config.py: Config.load_file`): Python (`#!` first or a `.py` name), JSON (`{` first; `//` and
`/* */` comments allowed) or RETURNN's line format (`key value` lines). JSON is parsed by a small located
parser (the stdlib one keeps no positions and accepts NaN); Python configs are evaluated safely by
`pyconfig` (never run) unless the user passes `--exec-config`.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config_functions import top_level_functions
from .errors import NetcError, Where
from .pyconfig import Budgets, Opaque, evaluate
from .pyconfig.python2 import without_print_chevrons, without_print_statement
from .pyconfig.values import MAX_DEPTH, Path_

__all__ = ["Document", "Opaque", "read_file"]

MAX_PRINT_STATEMENTS = 200  # each one costs a parse of the file; old demos have one
MAX_NUMBER_CHARS = 400  # Python refuses int() of over 4300 digits; no config number comes close

# Characters that real configs copied from web pages contain, and their fix.
LOOKALIKES = {
    "\u2212": ("U+2212 MINUS SIGN", "-"),
    "\u2013": ("U+2013 EN DASH", "-"),
    "\u201c": ("typographic quote U+201C", '"'),
    "\u201d": ("typographic quote U+201D", '"'),
    "\u2018": ("typographic quote U+2018", "'"),
    "\u2019": ("typographic quote U+2019", "'"),
    "\u00a0": ("U+00A0 NO-BREAK SPACE", "a plain space"),
    "\ufeff": ("U+FEFF BYTE ORDER MARK", "nothing: save the file as UTF-8 without a byte-order mark"),
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
    notes: tuple[str, ...] = ()  # what reading found (Python errors of a config)
    kind: str = "json"  # "json", "python" or "line" (RETURNN's `key value` lines)
    overridden: frozenset[str] = frozenset()  # keys given on the command line as `++key value`
    functions: Mapping[str, ast.FunctionDef] = field(default_factory=dict)  # a Python config's top-level defs

    def warnings(self) -> tuple[str, ...]:
        """The notes, and the top-level values netc could not compute (as they stand after `++` overrides)."""
        opaque = [f"{name} (line {value.line}: {value.reason})" for name, value in self.values.items()
                  if isinstance(value, Opaque)]
        return self.notes + ((f"not computed (netc does not run config code): {'; '.join(opaque)}",) if opaque else ())

    def where(self, *keys: str, layer: str | None = None, key: str | None = None) -> Where:
        """The file position of the value at `keys` (or its nearest known parent); `++key` for a value given on
        the command line."""
        if keys and keys[0] in self.overridden:
            return Where(f"++{keys[0]}", None, None, layer, key)
        path = tuple(keys)
        while path and path not in self.positions:
            path = path[:-1]
        line, col = self.positions.get(path, (None, None))
        return Where(self.path, line, col, layer, key)


def read_file(path: str | Path, exec_config: bool = False, overrides: dict[str, Any] | None = None,
              budgets: Budgets = Budgets()) -> Document:
    """Read a JSON net dict or a RETURNN config of any kind; `overrides` (`++key value`) win.

    Values netc cannot compute without running the config are `Opaque`; each command decides whether it
    needs them. Errors: NetcError naming the file position (syntax, budgets of the safe evaluator).
    """
    doc = parse_file(Path(path), exec_config, budgets)
    if overrides:
        doc = replace(doc, values=doc.values | overrides, overridden=doc.overridden | frozenset(overrides))
    return doc


def parse_file(path: Path, exec_config: bool, budgets: Budgets = Budgets()) -> Document:
    """The document of one file, by its kind."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NetcError("no such file", Where(str(path)), "check the path") from None
    except UnicodeDecodeError as e:
        raise NetcError(f"the file is not UTF-8 text: {e.reason} at byte {e.start}", Where(str(path)),
                        "save it as UTF-8 (RETURNN reads configs as UTF-8 too)") from None
    except OSError as e:
        raise NetcError(f"cannot read the file: {e.strerror or e}", Where(str(path))) from None
    if not text.strip():
        raise NetcError("the file is empty", Where(str(path)), "give a net dict or a RETURNN config")
    kind = file_kind(path, text)
    if kind == "python":
        if exec_config:
            from .exec_config import exec_python_config  # NOTE: imported here: it imports this module

            return exec_python_config(str(path), text)
        return read_python_config(str(path), text, budgets)
    if kind == "line":
        return read_line_format(str(path), text)
    return read_json(str(path), remove_json_comments(text))


def file_kind(path: Path, text: str) -> str:
    """RETURNN's choice (`Config.load_file`): "python" when the stripped content starts with `#!` or the name
    ends in `.py`, "json" when it starts with `{`, else "line". netc reads a `.json` file as JSON always."""
    content = text.strip()
    if path.suffix == ".json":
        return "json"
    if content.startswith("#!") or path.name.endswith(".py"):
        return "python"
    if content.startswith("{"):
        return "json"
    return "line"


def remove_json_comments(text: str) -> str:
    """`//` and `/* */` comments outside strings blanked with spaces, so positions stay right.

    Follows `returnn/util/basic.py: json_remove_comments` (a `//` comment ends at the line end).
    """
    out = list(text)
    i, n = 0, len(text)
    in_string = False
    while i < n:
        char = text[i]
        if in_string:
            if char == "\\":
                i += 2
                continue
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif text.startswith("//", i):
            while i < n and text[i] not in "\r\n":
                out[i] = " "
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for j in range(i, end):
                if text[j] not in "\r\n":
                    out[j] = " "
            i = end
            continue
        i += 1
    return "".join(out)


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
            if len(number.group()) > MAX_NUMBER_CHARS:
                raise self.fail(f"a number of {len(number.group())} characters", "no config value needs more than "
                                f"{MAX_NUMBER_CHARS}; dims are at most {1 << 20}")
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


# ---------------------------------------------------------------- RETURNN's line format


def read_line_format(file: str, text: str) -> Document:
    """RETURNN's oldest config form (`Config.load_file`, `add_line`): one `key value` per line, `#` starts a
    comment anywhere, a value with a comma after its first character is a list.

    RETURNN keeps these values as strings and types them when a key is read (`config.int`, `config.float`,
    `config.bool`); netc types each item once here: an int, else a finite float, else `true`/`false`
    (any case) as a bool, else the string as written.
    """
    values: dict[str, Any] = {}
    positions: dict[Path_, tuple[int, int]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw[:raw.index("#")] if "#" in raw else raw
        stripped = line.strip()
        if not stripped:
            continue
        col = len(line) - len(line.lstrip()) + 1
        parts = stripped.split(None, 1)
        where = Where(file, number, col)
        if len(parts) != 2 or parts[1].startswith("=") or "=" in parts[0]:
            looks_python = "=" in stripped or stripped.startswith(("import ", "from ", "def ", "for "))
            raise NetcError(
                "RETURNN reads this file in its line format (`key value` per line), because it starts neither "
                "with '#!' nor with '{'; this line is not `key value`", where,
                "the file starts with a byte-order mark (U+FEFF), which hides its first character from RETURNN: "
                "save it as UTF-8 without BOM" if text.startswith("\ufeff") else
                "for a Python config make '#!rnn.py' the first line (RETURNN reads a file as Python only then, "
                "or when its name ends in .py)" if looks_python else "write `key value` on each line")
        key, value = parts
        if key == "include":
            raise NetcError("netc does not follow `include` lines", where, "copy the included keys into this file")
        items = [line_value(item) for item in (value.split(",") if value.find(",") > 0 else [value])]
        values[key] = items[0] if len(items) == 1 else items
        positions[(key,)] = (number, col)
    return Document(file, values, positions, kind="line")


def line_value(text: str) -> Any:
    """One item of a line-format value, typed as RETURNN's typed readers would read it."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
        if number - number == 0:  # finite
            return number
    except ValueError:
        pass
    return {"true": True, "false": False}.get(text.strip().lower(), text)


# ---------------------------------------------------------------- Python configs


def parse_python(file: str, text: str) -> tuple[ast.Module, tuple[str, ...]]:
    """The syntax tree of a Python config and the notes of reading it; a syntax error is located.

    Python 2 print statements are read as `pass` (`pyconfig/python2.py`), with one located note.
    """
    dropped: list[int] = []
    while True:
        try:
            tree = ast.parse(text, filename=file)
            break
        except SyntaxError as e:
            rewritten = without_print_statement(text, e) if len(dropped) < MAX_PRINT_STATEMENTS else None
            if rewritten is None:
                raise NetcError(f"Python syntax error: {e.msg}", Where(file, e.lineno, e.offset),
                                python_syntax_hint(e)) from None
            text = rewritten
            dropped.append(e.lineno or 0)
        except ValueError as e:  # e.g. a NUL character (Python 3.11)
            raise NetcError(f"Python syntax error: {e}", Where(file), "remove the NUL characters") from None
        except (MemoryError, RecursionError):
            # NOTE: CPython's parser gives up on deeply nested brackets this way, not with a SyntaxError.
            raise NetcError("the config nests brackets too deeply to parse", Where(file),
                            "a net dict is a flat dict of layers") from None
    dropped = sorted(dropped + without_print_chevrons(tree))
    return tree, (python2_prints_note(file, dropped),) if dropped else ()


def python2_prints_note(file: str, lines: list[int]) -> str:
    """The warning for the Python 2 print statements read as no-ops."""
    more = f" (and on line{'s' * (len(lines) > 2)} {', '.join(map(str, lines[1:]))})" if len(lines) > 1 else ""
    return (f"{file}:{lines[0]}: a Python 2 print statement{more}, read as a no-op: it sets no config key; "
            "RETURNN, which runs configs under Python 3, refuses the file: write print(...)")


def read_python_config(file: str, text: str, budgets: Budgets = Budgets()) -> Document:
    """Evaluate a Python config with the safe evaluator (`pyconfig`): nothing of it runs."""
    tree, notes = parse_python(file, text)
    try:
        result = evaluate(file, tree, budgets)
    except NetcError:
        raise
    except RecursionError:
        raise NetcError("evaluating the config exceeds Python's recursion limit", Where(file),
                        "pass --exec-config to run a trusted config as RETURNN does") from None
    except Exception as e:  # noqa: BLE001 - a bug of the evaluator must not become a traceback
        raise NetcError(f"internal error of netc's config evaluator ({type(e).__name__}: {e})", Where(file),
                        "please report it; pass --exec-config to run a trusted config as RETURNN does") from None
    return Document(file, result.values, result.positions, notes + result.notes, kind="python",
                    functions=top_level_functions(tree))


def python_syntax_hint(error: SyntaxError) -> str:
    text = error.text or ""
    for char, (name, fix) in LOOKALIKES.items():
        if char in text:
            return f"the line contains {name}: replace it with {fix}"
    py2 = python2_hint(error.msg or "", text.strip())
    return py2 or "fix the Python syntax at the caret"


def python2_hint(msg: str, line: str) -> str | None:
    """Python 2 statements (old RETURNN demos): RETURNN itself runs configs under Python 3 and fails there too."""
    for statement in ("print", "exec"):
        if msg.startswith(f"Missing parentheses in call to '{statement}'"):
            rest = line.removeprefix(statement).strip()
            simple = rest and not rest.startswith(">>") and "#" not in rest and not rest.endswith(",")
            fixed = f"{statement}({rest})" if simple else f"{statement}(...)"
            return (f"this is a Python 2 {statement} statement, which RETURNN under Python 3 cannot read either: "
                    f"write {fixed}, and so every other {statement} statement of the file")
    return None
