"""Expressions: names, operators with their budgets, displays, comprehensions, subscripts."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any

from netc.ir.errors import NetcError
from netc.ir.pyconfig.library import config_object
from netc.ir.pyconfig.values import (
    EXCEPTIONS,
    NEVER_RUN,
    PLAIN_SCALARS,
    Builtin,
    Function,
    Located,
    Method,
    Opaque,
    Raised,
    Refused,
    Scope,
    Signal,
    StandIn,
    find_opaque,
    pos,
)

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



class Expressions:
    """The expression half of the evaluator (mixed into `Evaluator`)."""

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
            return config_object(self)
        if name in NEVER_RUN:
            return self.opaque(node, f"uses {name}(), which netc never runs")
        if name in vars(builtins):
            return self.opaque(node, f"uses the builtin {name}(), which netc does not evaluate")
        if self.star_imports:
            return self.opaque(node, f"{name} may come from `from {self.star_imports[0]} import *`")
        python = {"true": "True", "false": "False", "null": "None"}.get(name)
        fix = f" (JSON's {name} is {python} in a Python config)" if python else ""
        raise Raised(NameError(f"name {name!r} is not defined{fix}"), node.lineno)

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
            identity = isinstance(op, (ast.Is, ast.IsNot))  # needs no content, only the objects
            for value in (left, right):
                blocker = value if isinstance(value, Opaque) or identity else find_opaque(value, self.tick)
                if isinstance(blocker, Opaque):
                    return self.opaque(node, blocker.reason)
            if identity:
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
            self.real(node, lambda k, v=value: result.__setitem__(k, v), key)  # a function may be a value
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

