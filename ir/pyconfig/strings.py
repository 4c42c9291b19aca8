"""Strings: `%` formatting, `str.format`, f-strings, with widths and rendered sizes within the budget."""

from __future__ import annotations

import ast
import string
from typing import TYPE_CHECKING, Any

from netc.ir.errors import NetcError
from netc.ir.pyconfig.values import DIGITS, PERCENT_SPEC, Opaque, Raised, Refused, Scope, find_opaque

if TYPE_CHECKING:
    from netc.ir.pyconfig.evaluator import Evaluator


class Strings:
    """String formatting (mixed into `Evaluator`)."""

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

