"""The evaluator: a module body run statement by statement, its config keys exported with positions."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from netc.ir.errors import NetcError, Where
from netc.ir.pyconfig.calls import Calls
from netc.ir.pyconfig.classes import Classes
from netc.ir.pyconfig.expressions import Expressions
from netc.ir.pyconfig.facts import check_jumps, names_of
from netc.ir.pyconfig.library import BUILTINS
from netc.ir.pyconfig.statements import Statements
from netc.ir.pyconfig.strings import Strings
from netc.ir.pyconfig.values import (
    CONFIG_MODULE_NAME,
    MAX_DEPTH,
    PLAIN_SCALARS,
    BoundMethod,
    Budgets,
    Builtin,
    ConfigClass,
    Evaluated,
    Function,
    Instance,
    Located,
    Method,
    Opaque,
    OpaqueControl,
    Path_,
    Pos,
    Raised,
    Refused,
    Scope,
    Signal,
    StandIn,
    pos,
)


class Evaluator(Statements, Expressions, Calls, Classes, Strings):
    """Interprets one config's module body; `run` returns the config keys it assigns."""

    def __init__(self, file: str, budgets: Budgets = Budgets()):
        self.file = file
        self.budgets = budgets
        self.steps = 0
        self.calls = 0
        self.frames: list[Scope] = []  # scopes of the calls in progress
        self.module = Scope()
        self.name_at: dict[str, Pos] = {}
        self.not_keys: set[str] = set()  # names bound by import, def, class
        self.star_imports: list[str] = []
        self.raised: list[str] = []  # reasons of module statements that raised
        self.node: ast.AST | None = None
        self.builtins = BUILTINS
        self.module.vars.update({"__file__": file, "__name__": CONFIG_MODULE_NAME})

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

    def run(self, tree: ast.Module) -> Evaluated:
        for stmt in tree.body:
            self.module_statement(stmt)
        return self.export()

    def module_statement(self, stmt: ast.stmt) -> None:
        try:
            self.exec_stmt(stmt, self.module)
        except Raised as e:
            self.opaque_effects([stmt], e.reason(), stmt, self.module)
            self.raised.append(e.reason())
        except (OpaqueControl, Refused) as e:
            self.opaque_effects([stmt], e.reason, stmt, self.module)
        except Signal:
            pass  # `return`/`break` outside a function or loop: Python refuses to compile it
        except RecursionError:
            raise self.budget_error("Python's recursion limit (nesting of the config's code)", stmt) from None
        except MemoryError:
            raise self.budget_error("memory", stmt) from None

    def opaque_effects(self, stmts: list[ast.stmt], reason: str, node: ast.AST, scope: Scope) -> None:
        """Code that may or may not have run: what it may assign becomes opaque, and so does every variable
        (of any running scope) that shares a value it may change in place, or, when it binds names, a value
        it reads (a new binding may share it, and a later change through that name would not be seen)."""
        names, in_place, read = names_of(stmts, scope)
        self.make_opaque(names, reason, node, scope, in_place | (read if names - in_place else set()))

    def make_opaque(self, names: set[str], reason: str, node: ast.AST, scope: Scope,
                    in_place: set[str] = frozenset()) -> None:
        """Bind each name to Opaque(node, reason); for the names in `in_place` (whose value may have been
        changed in place), also every variable of a running scope that shares a part of that value."""
        shared = self.containers([owner.vars[n] for n in in_place if (owner := scope.find(n)) is not None])
        line, col = pos(node)
        for name in names:
            target = scope.find(name) or scope.target(name)  # a global changed in place is the global's
            target.vars[name] = Opaque(line, col, reason)
            if target is self.module:
                self.name_at.setdefault(name, (line, col))
                self.not_keys.discard(name)
        self.escape(shared, reason, node, scope)

    def escape(self, shared: set[int], reason: str, node: ast.AST, scope: Scope) -> None:
        """Make opaque every variable of a running scope whose value reaches one of the `shared` containers
        (which code netc did not follow may have changed)."""
        if not shared:
            return
        for live in self.live_scopes(scope):
            for name, value in list(live.vars.items()):
                if not isinstance(value, Opaque) and self.containers([value]) & shared:
                    live.vars[name] = Opaque(*pos(node), reason)

    def containers(self, values: list[Any]) -> set[int]:
        """The ids of the mutable containers reachable from `values`."""
        found: set[int] = set()
        stack = list(values)
        while stack:
            item = stack.pop()
            self.tick()
            if isinstance(item, Instance) and id(item) not in found:
                found.add(id(item))  # an object's attributes may be changed as a container's items
                stack.extend(item.attrs.values())
            elif isinstance(item, (dict, list, set, tuple)) and id(item) not in found:
                if not isinstance(item, tuple):
                    found.add(id(item))
                stack.extend(item.values() if isinstance(item, dict) else item)
        return found

    def live_scopes(self, scope: Scope) -> list[Scope]:
        """The scopes of the running code: the module, each call in progress, and their defining scopes."""
        result: list[Scope] = []
        for start in (scope, *self.frames):
            current: Scope | None = start
            while current is not None:
                if all(current is not s for s in result):
                    result.append(current)
                current = current.parent
        return result

    def export(self) -> Evaluated:
        """The config keys: top-level names, not `_private`, not functions, modules or imports."""
        values: dict[str, Any] = {}
        positions: dict[Path_, Pos] = {}
        for name, value in self.module.vars.items():
            if name.startswith("_") or name in self.not_keys or name == "config" or \
                    isinstance(value, (Function, Builtin, StandIn, Method, ConfigClass, BoundMethod, type)):
                continue
            at = self.name_at.get(name, (1, 1))
            positions[(name,)] = at
            values[name] = export_value(value, (name,), at, positions, self.tick)
        notes = (f"Python errors in the config (RETURNN would stop there): {'; '.join(self.raised)}",) \
            if self.raised else ()
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
    if isinstance(value, (Function, Builtin, Method, BoundMethod)):
        return Opaque(*at, f"a function ({value!r}), not data")
    if isinstance(value, (Instance, ConfigClass)):
        return Opaque(*at, f"{value!r} of the config, not data")
    if isinstance(value, StandIn):
        return Opaque(*at, f"a module ({value.name}), not data")
    if isinstance(value, BaseException):
        return Opaque(*at, f"an exception object ({type(value).__name__})")
    return Opaque(*at, f"a {type(value).__name__} value")


def evaluate(file: str, tree: ast.Module, budgets: Budgets = Budgets()) -> Evaluated:
    """Evaluate a parsed config safely: its config keys (plain values or Opaque), positions and notes.

    Raises a located NetcError when a budget is exceeded; a statement that raises in Python makes what it
    assigns opaque instead.
    """
    check_jumps(file, tree)
    return Evaluator(file, budgets).run(tree)

