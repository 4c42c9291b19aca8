"""The values of the safe evaluator: opaque values, dicts with positions, functions, scopes, signals."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netc.ir.pyconfig.evaluator import Evaluator

Path_ = tuple[str, ...]
Pos = tuple[int, int]
MAX_DEPTH = 64  # nesting of exported values, as the JSON reader
CONFIG_MODULE_NAME = "__returnn_config__"  # RETURNN's `_PyModuleName`, the `__name__` a config sees


@dataclass(frozen=True)
class Budgets:
    """Limits of one evaluation; exceeding one is a located NetcError naming it."""

    steps: int = 1_000_000  # AST node evaluations
    size: int = 1_000_000  # elements of a container, characters of a string
    depth: int = 32  # nested calls of functions defined in the config
    int_bits: int = 65_536  # bits of an integer result


@dataclass(frozen=True)
class Opaque:
    """A config value netc could not compute without running the config; an error only where it is needed.

    `reason` says what blocked it (e.g. "calls get_login_username() imported from returnn.util.basic").
    """

    line: int
    col: int
    reason: str = "not a literal"
    # the fix, where it is not `--exec-config` (a value --exec-config itself gave); keyword-only, so subclasses'
    # positional fields follow `reason`
    hint: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Imported(Opaque):
    """An imported name (never imported): `name` as the config wrote it, from `module`."""

    name: str = ""
    module: str = ""


@dataclass(frozen=True)
class Evaluated:
    """The config keys a Python config assigns, their positions, and notes for the user."""

    values: dict[str, Any]
    positions: dict[Path_, Pos]
    notes: tuple[str, ...]


class Located(dict):
    """A dict built by the config, with the position of its display and of each key."""

    __slots__ = ("at", "key_at")

    def __init__(self, at: Pos, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.at = at
        self.key_at: dict[Any, Pos] = {}


@dataclass(eq=False)
class Function:
    """A `def` or `lambda` of the config, with its defining scope."""

    name: str
    args: ast.arguments
    body: list[ast.stmt] | ast.expr
    defaults: list[Any]
    kw_defaults: list[Any]
    closure: Scope
    evaluator: Evaluator
    node: ast.AST
    global_names: frozenset[str]
    nonlocal_names: frozenset[str]
    is_generator: bool

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # from sorted(key=...), min(key=...)
        return self.evaluator.call_function(self, list(args), kwargs, self.node)

    def __repr__(self) -> str:
        return f"<function {self.name}>"

    def __deepcopy__(self, memo: dict) -> Function:
        return self


@dataclass(eq=False)
class ConfigClass:
    """A `class` statement of the config (no bases): its body's names, methods and class attributes."""

    name: str
    namespace: dict[str, Any]

    def __repr__(self) -> str:
        return f"<class {self.name}>"


@dataclass(eq=False)
class Instance:
    """An object of a config class: its attributes (`self.x = ...`)."""

    cls: ConfigClass
    attrs: dict[str, Any]

    def __repr__(self) -> str:
        return f"<{self.cls.name} object>"


@dataclass(frozen=True)
class BoundMethod:
    """A config class's function read from one of its objects (`obj.build` not yet called)."""

    function: Function
    instance: Instance


@dataclass(frozen=True)
class Builtin:
    """An accepted builtin; `kind` is the real type for `isinstance` where it names one."""

    name: str
    run: Callable[..., Any]
    kind: type | None = None

    def __repr__(self) -> str:
        return f"<built-in {self.name}>"


@dataclass(frozen=True)
class StandIn:
    """A module netc knows without importing it (`os`, `os.path`, `sys`, `copy`)."""

    name: str
    attrs: dict[str, Any]

    def __repr__(self) -> str:
        return f"<module {self.name}>"


@dataclass(frozen=True)
class Method:
    """An accepted method bound to a value (`d.get` not yet called)."""

    receiver: Any
    name: str


class Scope:
    """Variables of the module or of one function call; `parent` is the defining scope."""

    def __init__(self, parent: Scope | None = None, global_names: frozenset[str] = frozenset(),
                 nonlocal_names: frozenset[str] = frozenset()):
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.global_names = global_names
        self.nonlocal_names = nonlocal_names

    @property
    def root(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def find(self, name: str) -> Scope | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope
            scope = scope.parent
        return None

    def target(self, name: str) -> Scope:
        """The scope an assignment to `name` binds in (`global`, `nonlocal` or this one)."""
        if name in self.global_names:
            return self.root
        if name in self.nonlocal_names and self.parent is not None:
            return self.parent.find(name) or self.parent
        return self



class Signal(Exception):  # noqa: N818 - control flow, not an error
    """break / continue / return inside the evaluated code."""


class Break(Signal):
    pass


class Continue(Signal):
    pass


class Return(Signal):
    def __init__(self, value: Any):
        super().__init__()
        self.value = value


class OpaqueControl(Signal):
    """A break/continue/return under an opaque condition: what follows cannot be known."""

    def __init__(self, reason: str, returns: bool):
        super().__init__(reason)
        self.reason = reason
        self.returns = returns


class Raised(Exception):  # noqa: N818 - a Python exception raised by the config's code
    """An exception the config's code raises (ZeroDivisionError, KeyError, ...), with its line."""

    def __init__(self, error: BaseException, line: int):
        super().__init__(str(error))
        self.error = error
        self.line = line

    def reason(self) -> str:
        message = str(self.error).replace("'Located'", "'dict'")  # netc's dict with positions is a dict
        return f"line {self.line} raises {type(self.error).__name__}: {message}"


class Refused(Exception):  # noqa: N818 - internal: a construct netc does not evaluate
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason



STR_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "join", "replace",
    "startswith", "endswith", "format", "find", "rfind", "index", "rindex", "count", "isdigit", "isalpha",
    "isalnum", "isspace", "islower", "isupper", "isnumeric", "isdecimal", "isidentifier", "title",
    "capitalize", "casefold", "swapcase", "partition", "rpartition", "zfill", "center", "ljust", "rjust",
    "removeprefix", "removesuffix",
})


LIST_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "index", "count", "sort", "reverse",
                          "copy", "clear"})


DICT_METHODS = frozenset({"get", "items", "keys", "values", "update", "pop", "setdefault", "copy", "clear",
                          "popitem"})


SET_METHODS = frozenset({"add", "update", "discard", "remove", "pop", "union", "intersection", "difference",
                         "symmetric_difference", "issubset", "issuperset", "copy", "clear"})


MUTATING = frozenset({"append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear", "update",
                      "setdefault", "popitem", "add", "discard"})


NEVER_RUN = frozenset({"eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr",
                       "__import__", "globals", "locals", "vars", "input", "breakpoint", "exit", "quit",
                       "help", "memoryview", "type", "object", "super", "dir", "id", "hash", "iter", "next",
                       "callable", "classmethod", "staticmethod", "property", "issubclass", "aiter", "anext"})

EXCEPTIONS = {e.__name__: e for e in (
    BaseException, Exception, ArithmeticError, AssertionError, AttributeError, FileNotFoundError, ImportError,
    IndexError, KeyError, LookupError, ModuleNotFoundError, NameError, NotImplementedError, OSError,
    OverflowError, RuntimeError, StopIteration, TypeError, ValueError, ZeroDivisionError)}
EXCEPTIONS["IOError"] = OSError


PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


DIGITS = re.compile(r"\d+")


PLAIN_SCALARS = (str, int, float, bool, type(None), bytes, complex)


MISSING = object()  # a keyword-only parameter without a default



def pos(node: ast.AST) -> Pos:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


def find_opaque(value: Any, tick: Callable[[], None]) -> Opaque | None:
    """The first opaque value inside `value` (dict keys and values, items), charging one step per item."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        tick()
        if isinstance(item, Opaque):
            return item
        if isinstance(item, (dict, list, tuple, set, frozenset)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                stack.extend(item)
    return None

