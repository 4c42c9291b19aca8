"""Both branches of an `if` on an opaque condition: run each on a copy of the variables, keep what agrees.

Used at module level for branches that call no function of the config, while no function holds values of
its own (so no other scope can hold a value the branches change): a value both branches leave equal stays
known, a dict keeps the keys whose values agree, and only what differs becomes opaque
(`network["output"]["dropout"]` set under an environment check leaves the rest of the network known).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from netc.ir.pyconfig.values import Function, Located, Opaque, Pos, Scope


def calls_config_functions(stmts: list[ast.stmt], scope: Scope) -> bool:
    """Whether a block calls a function defined in the config (which may change values elsewhere)."""
    for node in (n for stmt in stmts for n in ast.walk(stmt)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return True  # a new function made under the condition
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            owner = scope.find(node.func.id)
            if owner is not None and isinstance(owner.vars[node.func.id], Function):
                return True
    return False


def values_held_elsewhere(scope: Scope) -> bool:
    """Whether a function of the module holds values outside the module's variables (a closure of a call's
    scope, a mutable default argument), which copying the variables would not copy."""
    for value in scope.vars.values():
        if isinstance(value, Function) and (value.closure is not scope or any(
                isinstance(d, (dict, list, set)) for d in (*value.defaults, *value.kw_defaults))):
            return True
    return False


def merge_values(a: Any, b: Any, at: Pos, reason: str, tick: Callable[[], None],
                 memo: dict[tuple[int, int], Any]) -> Any:
    """One value from the two branches' values: equal parts kept, differing parts Opaque(at, reason).

    `memo` maps pairs of objects to their merged object, so values shared between variables stay shared.
    """
    tick()
    if a is b:
        return a
    pair = (id(a), id(b))
    if pair in memo:
        return memo[pair]
    if isinstance(a, dict) and isinstance(b, dict):
        result = Located(a.at if isinstance(a, Located) else at)
        memo[pair] = result
        for key in [*a, *(k for k in b if k not in a)]:
            result[key] = (merge_values(a[key], b[key], at, reason, tick, memo) if key in a and key in b
                           else Opaque(*at, reason))
            source = a if key in a else b
            if isinstance(source, Located) and key in source.key_at:
                result.key_at[key] = source.key_at[key]
        return result
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        items: list[Any] = []
        memo[pair] = items
        items.extend(merge_values(x, y, at, reason, tick, memo) for x, y in zip(a, b))
        return items
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(merge_values(x, y, at, reason, tick, memo) for x, y in zip(a, b))
    if type(a) is type(b) and isinstance(a, (str, int, float, bool, type(None), bytes, frozenset, set)) and a == b:
        return a
    return Opaque(*at, reason)
