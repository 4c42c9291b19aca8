"""Both branches of an `if` on an opaque condition: run each on a copy of the variables, keep what agrees.

Used at module level for branches that call no function of the config, while no function holds values of
its own (so no other scope can hold a value the branches change): a value both branches leave equal stays
known, a dict with the same keys in both keeps the values that agree, and only what differs becomes opaque
(`network["output"]["dropout"] = 0.1` under an environment check makes the layer `output` opaque, not the
network).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from netc.ir.pyconfig.facts import root_name
from netc.ir.pyconfig.values import ConfigClass, Function, Instance, Located, Opaque, Pos, Scope


def calls_config_functions(stmts: list[ast.stmt], scope: Scope) -> bool:
    """Whether a block calls a function defined in the config (which may change values elsewhere)."""
    for node in (n for stmt in stmts for n in ast.walk(stmt)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return True  # a new function made under the condition
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            name = root_name(node.func) if isinstance(node.func, ast.Attribute) else node.func.id
            owner = scope.find(name) if name else None
            if owner is not None and isinstance(owner.vars[name], (Function, ConfigClass, Instance)):
                return True  # a config function, a class (its __init__) or an object's method
    return False


def values_held_elsewhere(scope: Scope) -> bool:
    """Whether a function of the module holds values outside the module's variables (a closure of a call's
    scope, a mutable default argument), which copying the variables would not copy."""
    for value in scope.vars.values():
        if isinstance(value, Function) and (value.closure is not scope or any(
                isinstance(d, (dict, list, set)) for d in (*value.defaults, *value.kw_defaults))):
            return True
    return False


class Merger:
    """Merges the two branches' variables: equal parts kept, differing parts Opaque(at, reason).

    A container shared differently in the two branches (`alias = net` in one branch only), or reachable from
    a value that merges to opaque, is opaque: a later change through one name may or may not show through
    the other. Pairs of objects are merged once, so
    what both branches share stays shared.
    """

    def __init__(self, at: Pos, reason: str, tick: Callable[[], None]):
        self.at = at
        self.reason = reason
        self.tick = tick
        self.memo: dict[tuple[int, int], Any] = {}
        self.shared_differently: set[int] = set()

    def pair_up(self, a_vars: dict[str, Any], b_vars: dict[str, Any]) -> None:
        """Find the containers a merged known value must not stand for: one that a branch pairs with two
        containers of the other branch, and one reachable from a value that merges to opaque (a later change
        through the opaque value may reach it)."""
        partners: dict[int, set[int]] = {}
        seen: set[tuple[int, int]] = set()
        pairs = [(a_vars[n], b_vars[n]) for n in a_vars if n in b_vars]
        for name in a_vars.keys() - b_vars.keys():
            self.escape(a_vars[name], 0)
        for name in b_vars.keys() - a_vars.keys():
            self.escape(b_vars[name], 1)
        while pairs:
            a, b = pairs.pop()
            self.tick()
            if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
                pairs.extend(zip(a, b))
                continue
            mutable = (dict, list, set)
            if isinstance(a, mutable) and isinstance(b, mutable):
                if (id(a), id(b)) in seen:
                    continue
                seen.add((id(a), id(b)))
                partners.setdefault(id(a), set()).add(id(b))
                partners.setdefault(-1 - id(b), set()).add(id(a))
                if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
                    pairs.extend((a[k], b[k]) for k in a)
                    continue
                if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
                    pairs.extend(zip(a, b))
                    continue
                if isinstance(a, set) and isinstance(b, set) and a == b:
                    continue
            self.escape(a, 0)
            self.escape(b, 1)
        self.shared_differently |= {key for key, found in partners.items() if len(found) > 1}

    def escape(self, value: Any, side: int) -> None:
        """Mark every container reachable from `value` (of branch `side`, 0 or 1) as not to be merged."""
        stack = [value]
        while stack:
            item = stack.pop()
            self.tick()
            if isinstance(item, (dict, list, set, tuple)):
                key = id(item) if side == 0 else -1 - id(item)
                if key in self.shared_differently:
                    continue
                self.shared_differently.add(key)
                stack.extend(item.values() if isinstance(item, dict) else item)

    def merge(self, a: Any, b: Any) -> Any:
        """One value from the two branches' values."""
        self.tick()
        if a is b:
            return a
        pair = (id(a), id(b))
        if pair in self.memo:
            return self.memo[pair]
        if id(a) in self.shared_differently or -1 - id(b) in self.shared_differently:
            return Opaque(*self.at, self.reason)
        if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():  # else its keys are unknown
            result = Located(a.at if isinstance(a, Located) else self.at)
            self.memo[pair] = result
            for key in a:
                result[key] = self.merge(a[key], b[key])
                if isinstance(a, Located) and key in a.key_at:
                    result.key_at[key] = a.key_at[key]
            return result
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            items: list[Any] = []
            self.memo[pair] = items
            items.extend(self.merge(x, y) for x, y in zip(a, b))
            return items
        if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
            return tuple(self.merge(x, y) for x, y in zip(a, b))
        if type(a) is type(b) and isinstance(a, (str, int, float, bool, type(None), bytes, frozenset, set)) and \
                a == b:
            return a
        return Opaque(*self.at, self.reason)


def merge_branches(a_vars: dict[str, Any], b_vars: dict[str, Any], at: Pos, reason: str,
                   tick: Callable[[], None]) -> dict[str, Any]:
    """The variables after an `if` whose branches left `a_vars` and `b_vars`; a name only one branch binds
    is opaque."""
    merger = Merger(at, reason, tick)
    merger.pair_up(a_vars, b_vars)
    return {name: merger.merge(a_vars[name], b_vars[name]) if name in a_vars and name in b_vars
            else Opaque(*at, reason)
            for name in [*a_vars, *(n for n in b_vars if n not in a_vars)]}
