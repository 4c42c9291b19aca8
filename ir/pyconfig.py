"""A safe evaluator of RETURNN Python configs: the subset configs use, walked on the `ast`, never run.

RETURNN runs a Python config with `exec` (`returnn/config.py: Config.load_file`, `util/basic.py:
custom_exec`). netc does not run it: this module interprets the statements and expressions configs use to
build their values (loops over layers, `"lstm%i" % i`, helper functions, `dict.update`), with budgets on
time and memory. What it cannot compute without running code (an import, a file, the environment, an
attribute outside the accepted list) becomes an `Opaque` value that says why; anything computed from an
opaque value is opaque too. `docs/netdict.md` ("Config files") lists the accepted subset.

Never: `eval`, `exec`, `compile`, executing an import, reading a file or the environment.
"""

from __future__ import annotations

import ast
import builtins
import posixpath
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import NetcError, Where

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


# ---------------------------------------------------------------- values that are not data


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


# ---------------------------------------------------------------- control flow and raised exceptions


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


# ---------------------------------------------------------------- what is accepted

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


class Evaluator:
    """Interprets one config's module body; `run` returns the config keys it assigns."""

    def __init__(self, file: str, budgets: Budgets = Budgets()):
        self.file = file
        self.budgets = budgets
        self.steps = 0
        self.calls = 0
        self.module = Scope()
        self.name_at: dict[str, Pos] = {}
        self.not_keys: set[str] = set()  # names bound by import, def, class
        self.star_imports: list[str] = []
        self.raised: list[str] = []  # reasons of module statements that raised
        self.node: ast.AST | None = None
        self.builtins = BUILTINS
        self.module.vars.update({"__file__": file, "__name__": CONFIG_MODULE_NAME})

    # ------------------------------------------------------------ budgets

    def budget_error(self, what: str, node: ast.AST | None = None) -> NetcError:
        line, col = pos(node or self.node or ast.Module())
        return NetcError(f"evaluating the config exceeds the budget of {what}", Where(self.file, line, col),
                         "netc evaluates Python configs without running them; simplify this line, "
                         "or pass --exec-config to run a trusted config as RETURNN does")

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.budgets.steps:
            raise self.budget_error(f"{self.budgets.steps:,} evaluation steps")

    def check_size(self, value: Any, node: ast.AST) -> Any:
        """Refuse a result over the size budget; building a big value costs steps (1 per 64 elements)."""
        if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
            if len(value) > self.budgets.size:
                raise self.budget_error(f"{self.budgets.size:,} elements or characters in one value", node)
            self.steps += len(value) >> 6
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > self.budgets.int_bits:
            raise self.budget_error(f"{self.budgets.int_bits:,}-bit integers", node)
        return value

    def check_count(self, count: int, node: ast.AST) -> None:
        if count > self.budgets.size:
            raise self.budget_error(f"{self.budgets.size:,} elements or characters in one value", node)

    # ------------------------------------------------------------ module

    def run(self, tree: ast.Module) -> Evaluated:
        for stmt in tree.body:
            self.module_statement(stmt)
        return self.export()

    def module_statement(self, stmt: ast.stmt) -> None:
        try:
            self.exec_stmt(stmt, self.module)
        except Raised as e:
            self.make_opaque(assigned_names([stmt], self.module), e.reason(), stmt, self.module)
            self.raised.append(e.reason())
        except (OpaqueControl, Refused) as e:
            self.make_opaque(assigned_names([stmt], self.module), e.reason, stmt, self.module)
        except Signal:
            pass  # `return`/`break` outside a function or loop: Python refuses to compile it
        except RecursionError:
            raise self.budget_error("Python's recursion limit (nesting of the config's code)", stmt) from None
        except MemoryError:
            raise self.budget_error("memory", stmt) from None

    def make_opaque(self, names: set[str], reason: str, node: ast.AST, scope: Scope) -> None:
        line, col = pos(node)
        for name in names:
            target = scope.target(name)
            target.vars[name] = Opaque(line, col, reason)
            if target is self.module:
                self.name_at.setdefault(name, (line, col))
                self.not_keys.discard(name)

    # ------------------------------------------------------------ statements

    def exec_block(self, stmts: list[ast.stmt], scope: Scope) -> None:
        for stmt in stmts:
            self.exec_stmt(stmt, scope)

    def exec_stmt(self, stmt: ast.stmt, scope: Scope) -> None:  # noqa: C901 - one dispatch
        self.tick()
        self.node = stmt
        if isinstance(stmt, ast.Expr):
            self.eval(stmt.value, scope)
        elif isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, scope)
            for target in stmt.targets:
                self.assign(target, value, scope, stmt)
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt, scope)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, scope), scope, stmt)
        elif isinstance(stmt, ast.If):
            self.exec_if(stmt, scope)
        elif isinstance(stmt, ast.For):
            self.exec_for(stmt, scope)
        elif isinstance(stmt, ast.While):
            self.exec_while(stmt, scope)
        elif isinstance(stmt, ast.FunctionDef):
            self.define(stmt, scope)
        elif isinstance(stmt, ast.Return):
            raise Return(None if stmt.value is None else self.eval(stmt.value, scope))
        elif isinstance(stmt, ast.Break):
            raise Break()
        elif isinstance(stmt, ast.Continue):
            raise Continue()
        elif isinstance(stmt, ast.Pass):
            pass
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.exec_import(stmt, scope)
        elif isinstance(stmt, (ast.Global, ast.Nonlocal)):
            pass  # read when the function is defined (`local_names`)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                self.delete(target, scope)
        elif isinstance(stmt, ast.Assert):
            test = self.eval(stmt.test, scope)
            if not isinstance(test, Opaque) and not self.truth(test):
                raise Raised(AssertionError("assert failed"), stmt.lineno)
        elif isinstance(stmt, ast.Try):
            self.exec_try(stmt, scope)
        elif isinstance(stmt, ast.Raise):
            error = self.eval(stmt.exc, scope) if stmt.exc is not None else RuntimeError("re-raise")
            if isinstance(error, type) and issubclass(error, BaseException):
                error = error()
            raise Raised(error if isinstance(error, BaseException) else RuntimeError("raise"), stmt.lineno)
        else:
            kind = type(stmt).__name__.lower()
            self.make_opaque(assigned_names([stmt], scope), f"the {kind} statement of line {stmt.lineno} is not "
                             "evaluated", stmt, scope)
            if isinstance(stmt, (ast.ClassDef, ast.AsyncFunctionDef)):
                self.not_keys.add(stmt.name)

    def exec_if(self, stmt: ast.If, scope: Scope) -> None:
        test = self.eval(stmt.test, scope)
        if isinstance(test, Opaque):
            self.opaque_branch(stmt.body + stmt.orelse, f"assigned under `if` on an opaque condition (line "
                               f"{stmt.lineno}: {test.reason})", stmt, scope)
        elif self.truth(test):
            self.exec_block(stmt.body, scope)
        else:
            self.exec_block(stmt.orelse, scope)

    def opaque_branch(self, body: list[ast.stmt], reason: str, node: ast.AST, scope: Scope) -> None:
        """Code that may or may not run: what it assigns is opaque; a jump out of it makes the rest opaque."""
        self.make_opaque(assigned_names(body, scope), reason, node, scope)
        jump = has_jump(body)
        if jump:
            raise OpaqueControl(reason, jump == "return")

    def exec_for(self, stmt: ast.For, scope: Scope) -> None:
        iterable = self.eval(stmt.iter, scope)
        if isinstance(iterable, Opaque):
            self.opaque_branch([stmt], f"assigned in a loop over an opaque value (line {stmt.lineno}: "
                               f"{iterable.reason})", stmt, scope)
            return
        for item in self.items(iterable, stmt.iter):
            self.assign(stmt.target, item, scope, stmt)
            try:
                self.exec_block(stmt.body, scope)
            except Break:
                return
            except Continue:
                continue
            except OpaqueControl as e:
                self.make_opaque(assigned_names([stmt], scope), e.reason, stmt, scope)
                if e.returns:
                    raise
                return
        self.exec_block(stmt.orelse, scope)

    def exec_while(self, stmt: ast.While, scope: Scope) -> None:
        while True:
            test = self.eval(stmt.test, scope)
            if isinstance(test, Opaque):
                self.opaque_branch([stmt], f"assigned in a `while` on an opaque condition (line {stmt.lineno}: "
                                   f"{test.reason})", stmt, scope)
                return
            if not self.truth(test):
                break
            try:
                self.exec_block(stmt.body, scope)
            except Break:
                return
            except Continue:
                continue
            except OpaqueControl as e:
                self.make_opaque(assigned_names([stmt], scope), e.reason, stmt, scope)
                if e.returns:
                    raise
                return
        self.exec_block(stmt.orelse, scope)

    def exec_try(self, stmt: ast.Try, scope: Scope) -> None:
        try:
            try:
                self.exec_block(stmt.body, scope)
            except Raised as e:
                handler = self.matching_handler(stmt, e, scope)
                if handler is None:
                    raise
                if handler.name:
                    self.assign(ast.Name(handler.name, ast.Store(), lineno=handler.lineno,
                                         col_offset=handler.col_offset), e.error, scope, handler)
                try:
                    self.exec_block(handler.body, scope)
                finally:
                    if handler.name:  # Python unbinds the name at the end of the handler
                        scope.target(handler.name).vars.pop(handler.name, None)
            else:
                self.exec_block(stmt.orelse, scope)
        finally:
            self.exec_block(stmt.finalbody, scope)

    def matching_handler(self, stmt: ast.Try, raised: Raised, scope: Scope) -> ast.ExceptHandler | None:
        for handler in stmt.handlers:
            if handler.type is None:
                return handler
            kinds = self.eval(handler.type, scope)
            kinds = kinds if isinstance(kinds, tuple) else (kinds,)
            if any(isinstance(k, type) and isinstance(raised.error, k) for k in kinds):
                return handler
        return None

    def define(self, stmt: ast.FunctionDef, scope: Scope) -> None:
        if stmt.decorator_list:
            self.make_opaque({stmt.name}, f"function {stmt.name!r} has decorators, which netc does not run",
                             stmt, scope)
            self.not_keys.add(stmt.name)
            return
        function = self.make_function(stmt.name, stmt.args, stmt.body, stmt, scope)
        self.bind(stmt.name, function, scope, stmt)
        if scope.target(stmt.name) is self.module:
            self.not_keys.add(stmt.name)

    def make_function(self, name: str, args: ast.arguments, body: list[ast.stmt] | ast.expr, node: ast.AST,
                      scope: Scope) -> Function:
        defaults = [self.eval(d, scope) for d in args.defaults]
        kw_defaults = [MISSING if d is None else self.eval(d, scope) for d in args.kw_defaults]
        return Function(name, args, body, defaults, kw_defaults, scope, self, node, declared(body, ast.Global),
                        declared(body, ast.Nonlocal), bool(declared(body, (ast.Yield, ast.YieldFrom))))

    def exec_import(self, stmt: ast.Import | ast.ImportFrom, scope: Scope) -> None:
        line, col = pos(stmt)
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                module = alias.name if alias.asname else alias.name.split(".")[0]
                value = STAND_INS.get(module) or Imported(line, col, f"{bound} is imported from {alias.name}", bound,
                                                          alias.name)
                self.bind(bound, value, scope, stmt)
                self.not_keys.add(bound)
            return
        module = "." * stmt.level + (stmt.module or "")
        for alias in stmt.names:
            if alias.name == "*":
                self.star_imports.append(module)
                continue
            bound = alias.asname or alias.name
            stand_in = STAND_INS.get(module)
            value = stand_in.attrs.get(alias.name) if stand_in and not stmt.level else None
            if value is None:
                value = Imported(line, col, f"{alias.name} imported from {module}", alias.name, module)
            elif isinstance(value, Opaque):
                value = Opaque(line, col, value.reason)
            self.bind(bound, value, scope, stmt)
            self.not_keys.add(bound)

    # ------------------------------------------------------------ assignment

    def bind(self, name: str, value: Any, scope: Scope, node: ast.AST) -> None:
        target = scope.target(name)
        target.vars[name] = value
        if target is self.module:
            self.name_at[name] = pos(node)
            self.not_keys.discard(name)

    def assign(self, target: ast.expr, value: Any, scope: Scope, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value, scope, node)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.unpack(target, value, scope, node)
        elif isinstance(target, ast.Subscript):
            self.assign_item(target, value, scope)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, scope, node)
        else:  # attribute: `obj.x = ...` changes an object netc does not model
            root = root_name(target)
            if root:
                self.make_opaque({root}, f"line {target.lineno} sets an attribute, which netc does not evaluate",
                                 target, scope)

    def unpack(self, target: ast.Tuple | ast.List, value: Any, scope: Scope, node: ast.AST) -> None:
        if isinstance(value, Opaque):
            for sub in target.elts:
                self.assign(sub, value, scope, node)
            return
        items = self.items(value, target)
        starred = [i for i, t in enumerate(target.elts) if isinstance(t, ast.Starred)]
        n = len(target.elts)
        if starred:
            i = starred[0]
            if len(items) < n - 1:
                raise Raised(ValueError(f"not enough values to unpack (expected at least {n - 1})"), target.lineno)
            parts = [*items[:i], list(items[i:len(items) - (n - 1 - i)]), *items[len(items) - (n - 1 - i):]]
        else:
            if len(items) != n:
                raise Raised(ValueError(f"cannot unpack {len(items)} values into {n} names"), target.lineno)
            parts = items
        for sub, item in zip(target.elts, parts):
            self.assign(sub, item, scope, node)

    def assign_item(self, target: ast.Subscript, value: Any, scope: Scope) -> None:
        container = self.eval(target.value, scope)
        key = self.eval(target.slice, scope)
        if isinstance(container, Opaque):
            return
        blocker = find_opaque(key, self.tick)
        if blocker is not None:
            root = root_name(target)
            if root:
                self.make_opaque({root}, f"line {target.lineno} stores under an opaque key ({blocker.reason})",
                                 target, scope)
            return
        if not isinstance(container, (dict, list)):
            raise Raised(TypeError(f"{type(container).__name__} does not support item assignment"), target.lineno)
        try:
            container[key] = value
        except Exception as e:  # noqa: BLE001 - the config's own error (IndexError, unhashable key)
            raise Raised(e, target.lineno) from None
        if isinstance(container, Located):
            container.key_at[key] = pos(target.slice)
        self.check_size(container, target)

    def aug_assign(self, stmt: ast.AugAssign, scope: Scope) -> None:
        target = stmt.target
        load: ast.expr
        if isinstance(target, ast.Name):
            load = ast.Name(target.id, ast.Load(), lineno=target.lineno, col_offset=target.col_offset)
        elif isinstance(target, ast.Subscript):
            load = ast.Subscript(target.value, target.slice, ast.Load(), lineno=target.lineno,
                                 col_offset=target.col_offset)
        else:
            self.assign(target, None, scope, stmt)
            return
        current = self.eval(load, scope)
        value = self.eval(stmt.value, scope)
        if isinstance(current, list) and isinstance(stmt.op, ast.Add) and not isinstance(value, Opaque):
            current.extend(self.items(value, stmt.value))  # `l += x` extends in place, as Python
            self.check_size(current, stmt)
            return
        self.assign(target, self.binop(stmt.op, current, value, stmt), scope, stmt)

    def delete(self, target: ast.expr, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            scope.target(target.id).vars.pop(target.id, None)
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value, scope)
            key = self.eval(target.slice, scope)
            if isinstance(container, Opaque) or find_opaque(key, self.tick):
                root = root_name(target)
                if root and not isinstance(container, Opaque):
                    self.make_opaque({root}, f"line {target.lineno} deletes an opaque key", target, scope)
                return
            try:
                del container[key]
            except Exception as e:  # noqa: BLE001
                raise Raised(e, target.lineno) from None
        elif isinstance(target, (ast.Tuple, ast.List)):
            for sub in target.elts:
                self.delete(sub, scope)

    # ------------------------------------------------------------ expressions

    def eval(self, node: ast.expr, scope: Scope) -> Any:  # noqa: C901 - one dispatch
        self.tick()
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node, scope)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.eval(node.left, scope), self.eval(node.right, scope), node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, self.eval(node.operand, scope))
        if isinstance(node, ast.BoolOp):
            return self.boolop(node, scope)
        if isinstance(node, ast.Compare):
            return self.compare(node, scope)
        if isinstance(node, ast.IfExp):
            test = self.eval(node.test, scope)
            if isinstance(test, Opaque):
                return self.opaque(node, test.reason)
            return self.eval(node.body if self.truth(test) else node.orelse, scope)
        if isinstance(node, ast.Dict):
            return self.dict_display(node, scope)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return self.sequence_display(node, scope)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node, scope)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, scope)
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self.eval(p, scope) for p in (node.lower, node.upper, node.step)]
            blocker = next((p for p in parts if isinstance(p, Opaque)), None)
            return blocker if blocker is not None else slice(*parts)
        if isinstance(node, ast.Attribute):
            return self.attribute(self.eval(node.value, scope), node.attr, node)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.JoinedStr):
            return self.fstring(node, scope)
        if isinstance(node, ast.FormattedValue):
            return self.formatted(node, scope)
        if isinstance(node, ast.Lambda):
            return self.make_function("<lambda>", node.args, node.body, node, scope)
        if isinstance(node, ast.NamedExpr):
            value = self.eval(node.value, scope)
            self.assign(node.target, value, scope, node)
            return value
        return self.opaque(node, f"{type(node).__name__} expressions are not evaluated")

    def opaque(self, node: ast.AST, reason: str) -> Opaque:
        line, col = pos(node)
        return Opaque(line, col, reason)

    def lookup(self, node: ast.Name, scope: Scope) -> Any:
        name = node.id
        owner = scope.find(name)
        if owner is not None:
            return owner.vars[name]
        if name.startswith("__") and name.endswith("__"):
            return self.opaque(node, f"the dunder name {name} is not evaluated")
        if name in self.builtins:
            return self.builtins[name]
        if name in EXCEPTIONS:
            return EXCEPTIONS[name]
        if name == "config":
            return self.opaque(node, "uses RETURNN's `config` object, which exists only when RETURNN runs the "
                               "config")
        if name in NEVER_RUN:
            return self.opaque(node, f"uses {name}(), which netc never runs")
        if name in vars(builtins):
            return self.opaque(node, f"uses the builtin {name}(), which netc does not evaluate")
        if self.star_imports:
            return self.opaque(node, f"{name} may come from `from {self.star_imports[0]} import *`")
        raise Raised(NameError(f"name {name!r} is not defined"), node.lineno)

    def truth(self, value: Any) -> bool:
        if isinstance(value, (range, *PLAIN_SCALARS, dict, list, tuple, set, frozenset)):
            return bool(value)
        return True

    def unary(self, node: ast.UnaryOp, value: Any) -> Any:
        if isinstance(value, Opaque):
            return self.opaque(node, value.reason)
        if isinstance(node.op, ast.Not):
            return not self.truth(value)
        return self.real(node, {ast.USub: lambda v: -v, ast.UAdd: lambda v: +v,
                                ast.Invert: lambda v: ~v}[type(node.op)], value)

    def real(self, node: ast.AST, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Apply a Python operation to plain values; what it raises is the config's exception."""
        if any(isinstance(a, (Function, StandIn, Builtin, Method)) for a in args):
            raise Raised(TypeError("operation on a function or module"), getattr(node, "lineno", 0))
        try:
            result = run(*args, **kwargs)
        except (NetcError, Signal, Raised, Refused):
            raise
        except RecursionError:
            raise self.budget_error("Python's recursion limit", node) from None
        except MemoryError:
            raise self.budget_error("memory", node) from None
        except Exception as e:  # noqa: BLE001 - ZeroDivisionError, KeyError, TypeError... of the config
            raise Raised(e, getattr(node, "lineno", 0)) from None
        return self.check_size(result, node)

    def binop(self, op: ast.operator, left: Any, right: Any, node: ast.AST) -> Any:
        for value in (left, right):
            if isinstance(value, Opaque):
                return self.opaque(node, value.reason)
        if isinstance(op, ast.Mod) and isinstance(left, str):
            return self.percent_format(left, right, node)
        self.precheck(op, left, right, node)
        return self.real(node, BINOPS[type(op)], left, right)

    def precheck(self, op: ast.operator, left: Any, right: Any, node: ast.AST) -> None:
        """Refuse results over the budget before computing them (`2**10**9`, `"x" * 10**12`)."""
        def is_int(v: Any) -> bool:
            return isinstance(v, int)

        bits = self.budgets.int_bits
        if isinstance(op, ast.Pow) and is_int(left) and is_int(right) and right > 0 and abs(left) > 1:
            if abs(left).bit_length() * right > bits + abs(left).bit_length():
                raise self.budget_error(f"{bits:,}-bit integers", node)
        elif isinstance(op, ast.LShift) and is_int(left) and is_int(right) and left and right > bits:
            raise self.budget_error(f"{bits:,}-bit integers", node)
        elif isinstance(op, ast.Mult):
            if is_int(left) and is_int(right):
                if abs(left).bit_length() + abs(right).bit_length() > bits + 1:
                    raise self.budget_error(f"{bits:,}-bit integers", node)
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and is_int(n):
                    self.check_count(len(seq) * max(n, 0), node)

    def boolop(self, node: ast.BoolOp, scope: Scope) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand, scope)
            if isinstance(value, Opaque):
                return self.opaque(node, value.reason)
            if self.truth(value) == isinstance(node.op, ast.Or):
                return value
        return value

    def compare(self, node: ast.Compare, scope: Scope) -> Any:
        left = self.eval(node.left, scope)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node, scope)
            for value in (left, right):
                blocker = find_opaque(value, self.tick)
                if blocker is not None:
                    return self.opaque(node, blocker.reason)
            if isinstance(op, (ast.Is, ast.IsNot)):
                result = (left is right) == isinstance(op, ast.Is)
            else:
                result = self.real(node, COMPARES[type(op)], left, right)
            if not result:
                return False
            left = right
        return True

    def dict_display(self, node: ast.Dict, scope: Scope) -> Any:
        result = Located(pos(node))
        for key_node, value_node in zip(node.keys, node.values):
            if key_node is None:  # {**other}
                other = self.eval(value_node, scope)
                if isinstance(other, Opaque):
                    return self.opaque(node, other.reason)
                if not isinstance(other, dict):
                    raise Raised(TypeError("'**' needs a mapping"), node.lineno)
                result.update(other)
                for key in other:
                    result.key_at[key] = other.key_at.get(key, other.at) if isinstance(other, Located) \
                        else pos(value_node)
                continue
            key = self.eval(key_node, scope)
            value = self.eval(value_node, scope)
            blocker = find_opaque(key, self.tick)
            if blocker is not None:
                return self.opaque(node, blocker.reason)
            self.real(node, result.__setitem__, key, value)
            result.key_at[key] = pos(key_node)
        return self.check_size(result, node)

    def sequence_display(self, node: ast.List | ast.Tuple | ast.Set, scope: Scope) -> Any:
        items: list[Any] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                value = self.eval(element.value, scope)
                if isinstance(value, Opaque):
                    return self.opaque(node, value.reason)
                items.extend(self.items(value, element))
            else:
                items.append(self.eval(element, scope))
            self.check_count(len(items), node)
        if isinstance(node, ast.List):
            return items
        if isinstance(node, ast.Tuple):
            return tuple(items)
        return self.make_set(items, node)

    def make_set(self, items: list[Any], node: ast.AST) -> Any:
        blocker = find_opaque(items, self.tick)
        if blocker is not None:
            return self.opaque(node, blocker.reason)
        return self.real(node, set, items)

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                      scope: Scope) -> Any:
        inner = Scope(scope)
        results: list[Any] = []
        keys: list[Any] = []
        blocker = self.generate(node, node.generators, inner, results, keys)
        if blocker is not None:
            return self.opaque(node, blocker.reason)
        if isinstance(node, ast.DictComp):
            result = Located(pos(node))
            for key, value in zip(keys, results):
                if find_opaque(key, self.tick) is not None:
                    return self.opaque(node, "a dict comprehension with an opaque key")
                self.real(node, result.__setitem__, key, value)
                result.key_at[key] = pos(node.key)
            return result
        if isinstance(node, ast.SetComp):
            return self.make_set(results, node)
        return results

    def generate(self, node: Any, generators: list[ast.comprehension], scope: Scope, results: list[Any],
                 keys: list[Any]) -> Opaque | None:
        if not generators:
            if isinstance(node, ast.DictComp):
                keys.append(self.eval(node.key, scope))
                results.append(self.eval(node.value, scope))
            else:
                results.append(self.eval(node.elt, scope))
            self.check_count(len(results), node)
            return None
        first = generators[0]
        iterable = self.eval(first.iter, scope)
        if isinstance(iterable, Opaque):
            return iterable
        for item in self.items(iterable, first.iter):
            self.assign(first.target, item, scope, first.target)
            conditions = [self.eval(c, scope) for c in first.ifs]
            blocker = next((c for c in conditions if isinstance(c, Opaque)), None)
            if blocker is not None:
                return blocker
            if all(self.truth(c) for c in conditions):
                blocker = self.generate(node, generators[1:], scope, results, keys)
                if blocker is not None:
                    return blocker
        return None

    def subscript(self, node: ast.Subscript, scope: Scope) -> Any:
        container = self.eval(node.value, scope)
        key = self.eval(node.slice, scope)
        if isinstance(container, Opaque):
            return self.opaque(node, container.reason)
        blocker = find_opaque(key, self.tick)
        if blocker is not None:
            return self.opaque(node, blocker.reason)
        if not isinstance(container, (dict, list, tuple, str, bytes, range)):
            if isinstance(container, type):  # `list[int]` in an annotation-like expression
                return self.opaque(node, "a subscripted type is not evaluated")
            raise Raised(TypeError(f"{type(container).__name__} is not subscriptable"), node.lineno)
        return self.real(node, lambda c, k: c[k], container, key)

    def items(self, iterable: Any, node: ast.AST) -> list[Any]:
        """The items of an iterable, within the size budget (a `range` is checked before it is expanded)."""
        if isinstance(iterable, (range, str, bytes, list, tuple, dict, set, frozenset)) or isinstance(
                iterable, (type({}.keys()), type({}.values()), type({}.items()))):
            self.check_count(len(iterable), node)
            self.steps += len(iterable) // 16
            self.tick()
            return list(iterable)
        if isinstance(iterable, Opaque):
            raise Refused(iterable.reason)
        raise Raised(TypeError(f"{type(iterable).__name__} is not iterable"), getattr(node, "lineno", 0))

    # ------------------------------------------------------------ attributes and calls

    def attribute(self, value: Any, name: str, node: ast.AST) -> Any:
        if isinstance(value, Imported):
            dotted = f"{value.name}.{name}"
            return Imported(*pos(node), f"{dotted} imported from {value.module}", dotted, value.module)
        if isinstance(value, Opaque):
            return self.opaque(node, value.reason)
        if name.startswith("_"):
            return self.opaque(node, f"the attribute .{name} is not evaluated")
        if isinstance(value, StandIn):
            if name in value.attrs:
                attr = value.attrs[name]
                return self.opaque(node, attr.reason) if isinstance(attr, Opaque) else attr
            return self.opaque(node, f"{value.name}.{name} is not evaluated (netc knows only "
                               f"{', '.join(sorted(value.attrs))} of {value.name})")
        allowed = (STR_METHODS if isinstance(value, str) else LIST_METHODS if isinstance(value, list)
                   else DICT_METHODS if isinstance(value, dict) else SET_METHODS if isinstance(value, set)
                   else frozenset())
        if name in allowed:
            return Method(value, name)
        if isinstance(value, (*PLAIN_SCALARS, list, dict, tuple, set, frozenset, range)) and \
                not hasattr(type(value), name):  # Python raises; reading a builtin type's attribute runs nothing
            raise Raised(AttributeError(f"{type(value).__name__!r} object has no attribute {name!r}"),
                         getattr(node, "lineno", 0))
        what = value.name if isinstance(value, (Builtin, Function)) else f"a {type(value).__name__}"
        return self.opaque(node, f"the attribute .{name} of {what} is not evaluated")

    def call(self, node: ast.Call, scope: Scope) -> Any:
        function = self.eval(node.func, scope)
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value = self.eval(arg.value, scope)
                if isinstance(value, Opaque):
                    return self.opaque(node, value.reason)
                args.extend(self.items(value, arg))
            else:
                args.append(self.eval(arg, scope))
        kwargs: dict[str, Any] = {}
        keyword_at: dict[str, Pos] = {}
        for keyword in node.keywords:
            value = self.eval(keyword.value, scope)
            if keyword.arg is None:
                if isinstance(value, Opaque):
                    return self.opaque(node, value.reason)
                if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                    raise Raised(TypeError("'**' needs a dict with string keys"), node.lineno)
                kwargs.update(value)
                keyword_at.update({k: pos(keyword) for k in value})
            else:
                kwargs[keyword.arg] = value
                keyword_at[keyword.arg] = pos(keyword)
        if isinstance(function, Imported):
            return self.opaque(node, f"calls {function.name}() imported from {function.module}")
        if isinstance(function, Opaque):
            return self.opaque(node, function.reason)
        if isinstance(function, Function):
            return self.call_function(function, args, kwargs, node)
        if isinstance(function, Builtin):
            return function.run(self, node, args, kwargs, keyword_at)
        if isinstance(function, Method):
            return self.call_method(function, args, kwargs, node, scope)
        if isinstance(function, type) and issubclass(function, BaseException):
            return self.real(node, function, *args)
        raise Raised(TypeError(f"{type(function).__name__} object is not callable"), node.lineno)

    def call_function(self, function: Function, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if self.calls >= self.budgets.depth:
            raise self.budget_error(f"{self.budgets.depth} nested calls", node)
        if function.is_generator:
            return self.opaque(node, f"{function.name}() is a generator function, which netc does not evaluate")
        scope = Scope(function.closure, function.global_names, function.nonlocal_names)
        self.bind_arguments(function, args, kwargs, scope, node)
        self.calls += 1
        try:
            if isinstance(function.body, ast.expr):
                return self.eval(function.body, scope)
            self.exec_block(function.body, scope)
        except Return as r:
            return r.value
        except OpaqueControl as e:
            return self.opaque(node, e.reason)
        except (Break, Continue):
            return None
        finally:
            self.calls -= 1
        return None

    def bind_arguments(self, function: Function, args: list[Any], kwargs: dict[str, Any], scope: Scope,
                       node: ast.AST) -> None:
        spec = function.args
        positional = [a.arg for a in (*spec.posonlyargs, *spec.args)]
        line = getattr(node, "lineno", 0)
        if len(args) > len(positional) and spec.vararg is None:
            raise Raised(TypeError(f"{function.name}() takes {len(positional)} positional arguments but "
                                   f"{len(args)} were given"), line)
        values: dict[str, Any] = dict(zip(positional, args))
        if spec.vararg is not None:
            values[spec.vararg.arg] = tuple(args[len(positional):])
        extra: dict[str, Any] = {}
        keyword_only = {a.arg for a in spec.kwonlyargs}
        for key, value in kwargs.items():
            if key in values:
                raise Raised(TypeError(f"{function.name}() got multiple values for {key!r}"), line)
            if key in positional or key in keyword_only:
                values[key] = value
            elif spec.kwarg is not None:
                extra[key] = value
            else:
                raise Raised(TypeError(f"{function.name}() got an unexpected argument {key!r}"), line)
        defaults = dict(zip(positional[len(positional) - len(function.defaults):], function.defaults))
        defaults.update({a.arg: d for a, d in zip(spec.kwonlyargs, function.kw_defaults) if d is not MISSING})
        for name in [*positional, *(a.arg for a in spec.kwonlyargs)]:
            if name not in values:
                if name not in defaults:
                    raise Raised(TypeError(f"{function.name}() is missing the argument {name!r}"), line)
                values[name] = defaults[name]
        if spec.kwarg is not None:
            values[spec.kwarg.arg] = Located(pos(node), extra)
        scope.vars.update(values)

    def call_method(self, method: Method, args: list[Any], kwargs: dict[str, Any], node: ast.Call,
                    scope: Scope) -> Any:
        """An accepted method. Opaque values may be stored (`append`, `update` values, `get` defaults); an
        opaque key, index or comparison makes the result opaque, or the changed variable when it mutates."""
        receiver, name = method.receiver, method.name
        if isinstance(receiver, str):
            blocker = find_opaque([args, kwargs], self.tick)
            return self.opaque(node, blocker.reason) if blocker else self.str_method(receiver, name, args,
                                                                                     kwargs, node)
        if name in ("update", "extend"):
            first = args[0] if args else None
            blocker = first if isinstance(first, Opaque) else find_opaque(list(first) if isinstance(first, dict)
                                                                          else [], self.tick)
        else:
            keys = {"append": 0, "insert": 1, "setdefault": 1, "get": 1, "pop": 1}.get(name, len(args))
            blocker = find_opaque([args[:keys], kwargs], self.tick)
            if blocker is None and name in ("index", "count", "remove", "sort") and isinstance(receiver, list):
                blocker = find_opaque(receiver, self.tick)
        if blocker is not None:
            root = root_name(node.func) if isinstance(node.func, ast.Attribute) else None
            if name in MUTATING:
                if root:
                    self.make_opaque({root}, f"line {node.lineno} changes {root} with an opaque value "
                                     f"({blocker.reason})", node, scope)
                return self.opaque(node, blocker.reason)
            return self.opaque(node, blocker.reason)
        if isinstance(receiver, Located) and name in ("copy", "update", "setdefault"):
            return self.located_method(receiver, name, args, kwargs, node)
        if name in ("extend", "update") and args:
            args = [args[0] if isinstance(args[0], dict) else self.items(args[0], node), *args[1:]]
        result = self.real(node, getattr(receiver, name), *args, **kwargs)
        self.check_size(receiver, node)
        return result

    def apply(self, function: Any, args: list[Any], node: ast.AST) -> Any:
        """Call a config function or an accepted builtin from a builtin (`map`, `filter`)."""
        if isinstance(function, Function):
            return self.call_function(function, args, {}, node)
        if isinstance(function, Builtin) and isinstance(node, ast.Call):
            return function.run(self, node, args, {}, {})
        if isinstance(function, Opaque):
            return self.opaque(node, function.reason)
        raise Raised(TypeError("not a function"), getattr(node, "lineno", 0))

    def located_method(self, receiver: Located, name: str, args: list[Any], kwargs: dict[str, Any],
                       node: ast.Call) -> Any:
        if name == "copy":
            if args or kwargs:
                raise Raised(TypeError("copy() takes no arguments"), node.lineno)
            copy = Located(receiver.at, receiver)
            copy.key_at.update(receiver.key_at)
            return copy
        if name == "setdefault":
            new = bool(args) and not isinstance(args[0], (dict, list, set)) and args[0] not in receiver
            result = self.real(node, receiver.setdefault, *args, **kwargs)
            if new:
                receiver.key_at[args[0]] = pos(node)
            return result
        other = self.real(node, lambda *a, **k: Located(pos(node), *a, **k), *args, **kwargs)
        if args and isinstance(args[0], Located):
            other.key_at.update(args[0].key_at)
        receiver.update(other)
        for key in other:
            receiver.key_at[key] = other.key_at.get(key, pos(node))
        self.check_size(receiver, node)
        return None

    def str_method(self, text: str, name: str, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool):
                self.check_count(abs(value), node)
        if name == "format":
            return self.str_format(text, args, kwargs, node)
        if name == "join" and args:
            parts = self.items(args[0], node)
            self.check_count(sum(len(p) if isinstance(p, str) else 0 for p in parts) + len(text) * len(parts), node)
            args = [parts]
        if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            self.check_count(len(text) + (len(text) + 1) * len(args[1]), node)
        return self.real(node, getattr(text, name), *args, **kwargs)

    # ------------------------------------------------------------ strings

    def check_spec(self, spec: str, node: ast.AST) -> None:
        """Widths and precisions in a format spec stay within the size budget."""
        for digits in DIGITS.findall(spec):
            self.check_count(int(digits) if len(digits) < 12 else self.budgets.size + 1, node)

    def rendered(self, value: Any, node: ast.AST) -> None:
        """Refuse `str()` of a value whose text would exceed the size budget."""
        total = 0
        stack = [value]
        while stack:
            item = stack.pop()
            self.tick()
            if isinstance(item, str):
                total += len(item) + 2
            elif isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
                total += 2 * len(item)
            elif isinstance(item, (list, tuple, set, frozenset)):
                stack.extend(item)
                total += 2 * len(item)
            else:
                total += 24
            self.check_count(total, node)

    def percent_format(self, text: str, values: Any, node: ast.AST) -> Any:
        blocker = find_opaque(values, self.tick)
        if blocker is not None:
            return self.opaque(node, blocker.reason)
        self.rendered(values, node)
        star_args = [v for v in (values if isinstance(values, tuple) else (values,)) if isinstance(v, int)]
        for match in PERCENT_SPEC.finditer(text):
            for part in match.groups():
                if part == "*":
                    for v in star_args:
                        self.check_count(abs(v), node)
                elif part:
                    self.check_spec(part, node)
        return self.real(node, lambda t, v: t % v, text, values)

    def str_format(self, text: str, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        self.rendered([args, kwargs], node)
        formatter = SafeFormatter(self, node)
        try:
            return self.check_size(formatter.vformat(text, args, kwargs), node)
        except Refused as e:
            return self.opaque(node, e.reason)
        except (NetcError, Raised):
            raise
        except Exception as e:  # noqa: BLE001 - the config's own format error
            raise Raised(e, getattr(node, "lineno", 0)) from None

    def fstring(self, node: ast.JoinedStr, scope: Scope) -> Any:
        parts = []
        for value in node.values:
            part = self.eval(value, scope)
            if isinstance(part, Opaque):
                return self.opaque(node, part.reason)
            parts.append(part)
            self.check_count(sum(len(p) for p in parts), node)
        return "".join(parts)

    def formatted(self, node: ast.FormattedValue, scope: Scope) -> Any:
        value = self.eval(node.value, scope)
        blocker = find_opaque(value, self.tick)
        if blocker is not None:
            return self.opaque(node, blocker.reason)
        spec = "" if node.format_spec is None else self.eval(node.format_spec, scope)
        if isinstance(spec, Opaque):
            return spec
        self.rendered(value, node)
        self.check_spec(spec, node)
        if node.conversion != -1:
            value = self.real(node, {ord("s"): str, ord("r"): repr, ord("a"): ascii}[node.conversion], value)
        return self.real(node, format, value, spec)

    # ------------------------------------------------------------ results

    def export(self) -> Evaluated:
        """The config keys: top-level names, not `_private`, not functions, modules or imports."""
        values: dict[str, Any] = {}
        positions: dict[Path_, Pos] = {}
        opaque: list[str] = []
        for name, value in self.module.vars.items():
            if name.startswith("_") or name in self.not_keys or name == "config" or \
                    isinstance(value, (Function, Builtin, StandIn, Method, type)):
                continue
            at = self.name_at.get(name, (1, 1))
            positions[(name,)] = at
            values[name] = export_value(value, (name,), at, positions, self.tick)
            if isinstance(values[name], Opaque):
                opaque.append(f"{name} (line {values[name].line}: {values[name].reason})")
        notes = (f"not computed (netc does not run config code): {'; '.join(opaque)}",) if opaque else ()
        if self.raised:
            notes += (f"Python errors in the config (RETURNN would stop there): {'; '.join(self.raised)}",)
        return Evaluated(values, positions, notes)


def export_value(value: Any, path: Path_, at: Pos, positions: dict[Path_, Pos], tick: Callable[[], None],
                 active: frozenset[int] = frozenset()) -> Any:
    """A plain copy of a computed value (dicts, lists, tuples, scalars, Opaque) and its key positions."""
    tick()
    if isinstance(value, Opaque):
        return Opaque(value.line, value.col, value.reason)
    if isinstance(value, PLAIN_SCALARS):
        return value
    if id(value) in active:
        return Opaque(*at, "the value contains itself")
    if len(path) > MAX_DEPTH:
        return Opaque(*at, f"nested deeper than {MAX_DEPTH} levels")
    inner = active | {id(value)}
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            key_at = value.key_at.get(key, value.at) if isinstance(value, Located) else at
            sub = (*path, str(key))
            if isinstance(value, Located):
                positions[sub] = key_at
            result[key] = export_value(item, sub, key_at, positions, tick, inner)
        return result
    if isinstance(value, (list, tuple, range)) or isinstance(value, (type({}.keys()), type({}.values()),
                                                                     type({}.items()))):
        items = [export_value(item, (*path, str(i)), at, positions, tick, inner) for i, item in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, (set, frozenset)):
        return {export_value(item, path, at, positions, tick, inner) for item in value}
    if isinstance(value, (Function, Builtin, Method)):
        return Opaque(*at, f"a function ({value!r}), not data")
    if isinstance(value, StandIn):
        return Opaque(*at, f"a module ({value.name}), not data")
    if isinstance(value, BaseException):
        return Opaque(*at, f"an exception object ({type(value).__name__})")
    return Opaque(*at, f"a {type(value).__name__} value")


class SafeFormatter(string.Formatter):
    """`str.format` without attribute access in fields (`{0.__class__}`), widths within the budget."""

    def __init__(self, evaluator: Evaluator, node: ast.AST):
        self.evaluator = evaluator
        self.node = node

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if "." in field_name:
            raise Refused("a format field with attribute access is not evaluated")
        return super().get_field(field_name, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        blocker = find_opaque(value, self.evaluator.tick)
        if blocker is not None:
            raise Refused(blocker.reason)
        self.evaluator.check_spec(format_spec, self.node)
        return format(value, format_spec)


# ---------------------------------------------------------------- static helpers


def root_name(node: ast.expr) -> str | None:
    """`network` of `network["a"]["b"]` or `network.update`."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def assigned_names(stmts: list[ast.stmt], scope: Scope | None = None) -> set[str]:
    """Names a block may bind or change: assignment targets, defs, imports, receivers of mutating methods.

    Calls of functions defined in the config add what those functions change outside themselves.
    """
    names: set[str] = set()
    seen_functions: set[int] = set()

    def visit(node: ast.AST, local: frozenset[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and node.id not in local:
            names.add(node.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = root_name(node)
            if root and root not in local:
                names.add(root)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING:
                root = root_name(node.func.value)
                if root and root not in local:
                    names.add(root)
            if isinstance(node.func, ast.Name) and scope is not None:
                owner = scope.find(node.func.id)
                function = owner.vars[node.func.id] if owner else None
                if isinstance(function, Function) and id(function) not in seen_functions and \
                        isinstance(function.body, list):
                    seen_functions.add(id(function))
                    own = local_names(function)
                    for stmt in function.body:
                        visit(stmt, own)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    for stmt in stmts:
        visit(stmt, frozenset())
    return names


def local_names(function: Function) -> frozenset[str]:
    """Names a function binds for itself: its parameters and assignments not declared global."""
    spec = function.args
    params = {a.arg for a in (*spec.posonlyargs, *spec.args, *spec.kwonlyargs)}
    params.update(a.arg for a in (spec.vararg, spec.kwarg) if a is not None)
    body = function.body if isinstance(function.body, list) else []
    stored = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return frozenset((params | stored) - function.global_names - function.nonlocal_names)


def declared(body: list[ast.stmt] | ast.expr, kind: type | tuple[type, ...]) -> frozenset[str]:
    """The names a function body declares `global` (or `nonlocal`); for `yield` nodes, a marker name."""
    stack: list[ast.AST] = list(body) if isinstance(body, list) else [body]
    names: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, kind):
            names.update(getattr(node, "names", ["yield"]))
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def has_jump(stmts: list[ast.stmt]) -> str:
    """"return" or "loop" when a block contains a return, or a break/continue that leaves it (not inside a
    nested loop or def); "" otherwise."""
    def visit(node: ast.AST, in_loop: bool) -> str:
        if isinstance(node, ast.Return):
            return "return"
        if isinstance(node, (ast.Break, ast.Continue)):
            return "" if in_loop else "loop"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return ""
        loop = in_loop or isinstance(node, (ast.For, ast.While))
        found = [visit(child, loop if isinstance(child, ast.stmt) else in_loop)
                 for child in ast.iter_child_nodes(node)]
        return "return" if "return" in found else "loop" if "loop" in found else ""

    found = [visit(stmt, False) for stmt in stmts]
    return "return" if "return" in found else "loop" if "loop" in found else ""


# ---------------------------------------------------------------- operators and builtins

BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a ** b, ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b,
    ast.BitOr: lambda a, b: a | b, ast.BitXor: lambda a, b: a ^ b, ast.BitAnd: lambda a, b: a & b,
    ast.MatMult: lambda a, b: a @ b,
}
COMPARES: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


def builtin(name: str, kind: type | None = None, opaque_args: str = "deep", iterate: tuple[int, ...] = ()
            ) -> Callable[[Callable[..., Any]], Builtin]:
    """Declare an accepted builtin. `opaque_args`: "deep" (an opaque value anywhere inside an argument makes
    the result opaque), "shallow" (only an argument that is itself opaque) or "none"; `iterate`: positions
    of arguments expanded to lists (within the size budget) first."""
    def wrap(run: Callable[..., Any]) -> Builtin:
        def checked(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any],
                    keyword_at: dict[str, Pos]) -> Any:
            if opaque_args == "deep":
                blocker = find_opaque([args, kwargs], ev.tick)
            else:
                blocker = next((a for a in args if isinstance(a, Opaque)), None)
                if blocker is None and opaque_args == "shallow":
                    blocker = next((a for a in kwargs.values() if isinstance(a, Opaque)), None)
            if blocker is not None:
                return ev.opaque(node, blocker.reason)
            args = [ev.items(a, node) if i in iterate else a for i, a in enumerate(args)]
            return run(ev, node, args, kwargs, keyword_at)
        return Builtin(name, checked, kind)
    return wrap


def simple(name: str, function: Callable[..., Any], kind: type | None = None, iterate: tuple[int, ...] = (),
           opaque_args: str = "deep", render: bool = False) -> Builtin:
    """A builtin that is the Python function applied to checked plain values."""
    @builtin(name, kind, opaque_args, iterate)
    def run(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
        if render:
            ev.rendered(args, node)
        return ev.real(node, function, *args, **builtin_key(ev, node, kwargs))
    return run


def builtin_key(ev: Evaluator, node: ast.Call, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`key=len` (an accepted builtin) as a Python callable for sorted/min/max."""
    key = kwargs.get("key")
    if isinstance(key, Builtin):
        return {**kwargs, "key": lambda value: ev.apply(key, [value], node)}
    return kwargs


@builtin("range", range)
def run_range(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    return ev.real(node, range, *args, **kwargs)


@builtin("dict", dict, opaque_args="none")
def run_dict(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any],
             keyword_at: dict[str, Pos]) -> Any:
    source = args[0] if args else {}
    if not isinstance(source, dict):
        source = ev.items(source, node)
        blocker = find_opaque([p[0] for p in source if isinstance(p, (tuple, list)) and p], ev.tick)
        if blocker is not None:
            return ev.opaque(node, blocker.reason)
    result = ev.real(node, lambda *a, **k: Located(pos(node), *a, **k), source, *args[1:], **kwargs)
    if isinstance(source, Located):
        result.key_at.update(source.key_at)
    result.key_at.update(keyword_at)
    return result


@builtin("format")
def run_format(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    if len(args) > 1 and isinstance(args[1], str):
        ev.check_spec(args[1], node)
    ev.rendered(args[:1], node)
    return ev.real(node, format, *args, **kwargs)


@builtin("isinstance", opaque_args="shallow")
def run_isinstance(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    if len(args) != 2 or kwargs:
        raise Raised(TypeError("isinstance() takes 2 arguments"), node.lineno)
    kinds = args[1] if isinstance(args[1], tuple) else (args[1],)
    real = []
    for kind in kinds:
        if isinstance(kind, Opaque):
            return ev.opaque(node, kind.reason)
        if isinstance(kind, Builtin) and kind.kind is not None:
            real.append(kind.kind)
        elif isinstance(kind, type) and issubclass(kind, BaseException):
            real.append(kind)
        else:
            raise Raised(TypeError("isinstance() arg 2 must be a type"), node.lineno)
    return isinstance(args[0], tuple(real))


@builtin("print", opaque_args="none")
def run_print(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    return None  # RETURNN prints to stdout when it runs the config; netc reads it silently


@builtin("map", opaque_args="shallow")
def run_map(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    if len(args) < 2 or kwargs:
        raise Raised(TypeError("map() needs a function and an iterable"), node.lineno)
    function, columns = args[0], [ev.items(a, node) for a in args[1:]]
    return [ev.apply(function, list(items), node) for items in zip(*columns)]


@builtin("filter", opaque_args="shallow")
def run_filter(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    if len(args) != 2 or kwargs:
        raise Raised(TypeError("filter() needs a function and an iterable"), node.lineno)
    result = []
    for item in ev.items(args[1], node):
        keep = item if args[0] is None else ev.apply(args[0], [item], node)
        if isinstance(keep, Opaque):
            return ev.opaque(node, keep.reason)
        if ev.truth(keep):
            result.append(item)
    return result


def min_max(name: str, function: Callable[..., Any]) -> Builtin:
    """`min(iterable)` or `min(a, b, ...)`, with `key=` a config function."""
    @builtin(name)
    def run(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
        values = ev.items(args[0], node) if len(args) == 1 else args
        return ev.real(node, function, values, **builtin_key(ev, node, kwargs))
    return run


BUILTINS: dict[str, Builtin] = {entry.name: entry for entry in [
    simple("len", len, opaque_args="shallow"), run_range, run_dict,
    simple("list", list, list, iterate=(0,), opaque_args="shallow"),
    simple("tuple", tuple, tuple, iterate=(0,), opaque_args="shallow"),
    simple("set", set, set, iterate=(0,)), simple("frozenset", frozenset, frozenset, iterate=(0,)),
    simple("int", int, int), simple("float", float, float), simple("str", str, str, render=True),
    simple("bool", bool, bool), simple("repr", repr, render=True),
    min_max("min", min), min_max("max", max),
    simple("sum", sum, iterate=(0,)), simple("abs", abs), simple("round", round),
    simple("sorted", sorted, iterate=(0,)), simple("any", any, iterate=(0,)), simple("all", all, iterate=(0,)),
    simple("enumerate", lambda it, start=0: list(enumerate(it, start)), iterate=(0,), opaque_args="shallow"),
    simple("zip", lambda *its: list(zip(*its)), iterate=tuple(range(32)), opaque_args="shallow"),
    simple("reversed", lambda it: list(reversed(it)), iterate=(0,), opaque_args="shallow"),
    simple("divmod", divmod), simple("chr", chr), simple("ord", ord),
    run_isinstance, run_format, run_print, run_map, run_filter,
]}


# ---------------------------------------------------------------- modules netc knows without importing them

def os_path_function(name: str, function: Callable[..., Any]) -> Builtin:
    @builtin(f"os.path.{name}")
    def run(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
        if not all(isinstance(a, str) for a in args) or kwargs:
            raise Raised(TypeError(f"os.path.{name}() takes strings"), node.lineno)
        return ev.real(node, function, *args)
    return run


def opaque_function(name: str, reason: str) -> Builtin:
    def run(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
        return ev.opaque(node, reason)
    return Builtin(name, run)


def run_deepcopy(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    if len(args) != 1:
        raise Raised(TypeError("deepcopy() takes one value"), node.lineno)
    return deep_copy(args[0], ev, {})


def run_copy(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
    if len(args) != 1:
        raise Raised(TypeError("copy() takes one value"), node.lineno)
    value = args[0]
    if isinstance(value, Located):
        copy = Located(value.at, value)
        copy.key_at.update(value.key_at)
        return copy
    return ev.real(node, lambda v: v.copy() if isinstance(v, (dict, list, set)) else v, value)


def deep_copy(value: Any, ev: Evaluator, memo: dict[int, Any]) -> Any:
    """`copy.deepcopy` of config data, keeping the positions of dicts; shared parts stay shared."""
    ev.tick()
    if id(value) in memo:
        return memo[id(value)]
    if isinstance(value, Located):
        copy = Located(value.at)
        memo[id(value)] = copy
        copy.key_at.update(value.key_at)
        copy.update({k: deep_copy(v, ev, memo) for k, v in value.items()})
        return copy
    if isinstance(value, dict):
        result: dict = {}
        memo[id(value)] = result
        result.update({k: deep_copy(v, ev, memo) for k, v in value.items()})
        return result
    if isinstance(value, list):
        items: list = []
        memo[id(value)] = items
        items.extend(deep_copy(v, ev, memo) for v in value)
        return items
    if isinstance(value, tuple):
        return tuple(deep_copy(v, ev, memo) for v in value)
    if isinstance(value, set):
        return set(value)
    return value


OS_PATH = StandIn("os.path", {
    "join": os_path_function("join", posixpath.join),
    "basename": os_path_function("basename", posixpath.basename),
    "dirname": os_path_function("dirname", posixpath.dirname),
    "splitext": os_path_function("splitext", posixpath.splitext),
    "normpath": os_path_function("normpath", posixpath.normpath),
    "exists": opaque_function("os.path.exists", "calls os.path.exists(), which looks at the file system"),
    "isfile": opaque_function("os.path.isfile", "calls os.path.isfile(), which looks at the file system"),
    "isdir": opaque_function("os.path.isdir", "calls os.path.isdir(), which looks at the file system"),
    "abspath": opaque_function("os.path.abspath", "calls os.path.abspath(), which depends on the working "
                               "directory"),
    "realpath": opaque_function("os.path.realpath", "calls os.path.realpath(), which looks at the file system"),
    "expanduser": opaque_function("os.path.expanduser", "calls os.path.expanduser(), which reads the "
                                  "environment"),
    "sep": "/",
})
STAND_INS: dict[str, StandIn] = {
    "os.path": OS_PATH,
    "os": StandIn("os", {
        "path": OS_PATH,
        "sep": "/",
        "environ": Opaque(0, 0, "reads os.environ (the environment)"),
        "getenv": opaque_function("os.getenv", "calls os.getenv() (reads the environment)"),
        "getcwd": opaque_function("os.getcwd", "calls os.getcwd() (the working directory)"),
        "listdir": opaque_function("os.listdir", "calls os.listdir() (reads the file system)"),
        "cpu_count": opaque_function("os.cpu_count", "calls os.cpu_count() (depends on the machine)"),
    }),
    "sys": StandIn("sys", {
        "argv": Opaque(0, 0, "reads sys.argv (the command line)"),
        "path": Opaque(0, 0, "uses sys.path"),
        "version_info": Opaque(0, 0, "reads sys.version_info"),
        "setrecursionlimit": opaque_function("sys.setrecursionlimit", "calls sys.setrecursionlimit()"),
    }),
    "copy": StandIn("copy", {
        "deepcopy": Builtin("copy.deepcopy", run_deepcopy),
        "copy": Builtin("copy.copy", run_copy),
    }),
}


def evaluate(file: str, tree: ast.Module, budgets: Budgets = Budgets()) -> Evaluated:
    """Evaluate a parsed config safely: its config keys (plain values or Opaque), positions and notes.

    Raises a located NetcError when a budget is exceeded; a statement that raises in Python makes what it
    assigns opaque instead.
    """
    check_jumps(file, tree)
    return Evaluator(file, budgets).run(tree)


def check_jumps(file: str, tree: ast.Module) -> None:
    """`break`/`continue` outside a loop and `return` outside a function: Python's compiler refuses them
    (`ast.parse` does not), so RETURNN cannot run such a config either."""
    stack: list[tuple[ast.AST, bool, bool]] = [(tree, False, False)]
    while stack:
        node, in_loop, in_function = stack.pop()
        problem = ("'return' outside function" if isinstance(node, ast.Return) and not in_function else
                   f"'{type(node).__name__.lower()}' outside loop"
                   if isinstance(node, (ast.Break, ast.Continue)) and not in_loop else None)
        if problem:
            raise NetcError(f"Python syntax error: {problem}", Where(file, *pos(node)), "fix the Python syntax")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_loop, in_function = False, True
        elif isinstance(node, ast.ClassDef):
            in_loop, in_function = False, False
        for child in ast.iter_child_nodes(node):
            loop = in_loop or (isinstance(node, (ast.For, ast.While, ast.AsyncFor)) and child not in node.orelse)
            stack.append((child, loop, in_function))
