"""Calls: attributes, config functions, accepted methods."""

from __future__ import annotations

import ast
from typing import Any

from netc.ir.pyconfig.facts import root_name
from netc.ir.pyconfig.values import (
    DICT_METHODS,
    LIST_METHODS,
    MISSING,
    MUTATING,
    PLAIN_SCALARS,
    SET_METHODS,
    STR_METHODS,
    BoundMethod,
    Break,
    Builtin,
    ConfigClass,
    Continue,
    Function,
    Imported,
    Instance,
    Located,
    Method,
    Opaque,
    OpaqueControl,
    Pos,
    Raised,
    Return,
    Scope,
    StandIn,
    find_opaque,
    pos,
)


class Calls:
    """Attribute access and calls (mixed into `Evaluator`)."""

    def attribute(self, value: Any, name: str, node: ast.AST) -> Any:
        if isinstance(value, (Instance, ConfigClass)):
            return self.member(value, name, node)
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
                keyword_at.update({k: value.key_at.get(k, pos(keyword)) if isinstance(value, Located) else pos(keyword)
                                   for k in value})
            else:
                kwargs[keyword.arg] = value
                keyword_at[keyword.arg] = pos(keyword)
        if isinstance(function, Opaque):
            reason = (f"calls {function.name}() imported from {function.module}" if isinstance(function, Imported)
                      else function.reason)
            # NOTE: code netc does not run may change the containers passed to it (or keep them)
            self.escape(self.containers([*args, *kwargs.values()]), f"passed to code netc does not run ({reason})",
                        node, scope)
            return self.opaque(node, reason)
        if isinstance(function, Function):
            return self.call_function(function, args, kwargs, node, keyword_at)
        if isinstance(function, BoundMethod):
            return self.call_function(function.function, [function.instance, *args], kwargs, node, keyword_at)
        if isinstance(function, ConfigClass):
            return self.instantiate(function, args, kwargs, node, keyword_at)
        if isinstance(function, Builtin):
            return function.run(self, node, args, kwargs, keyword_at)
        if isinstance(function, Method):
            return self.call_method(function, args, kwargs, node, scope)
        if isinstance(function, type) and issubclass(function, BaseException):
            return self.real(node, function, *args)
        raise Raised(TypeError(f"{type(function).__name__} object is not callable"), node.lineno)

    def call_function(self, function: Function, args: list[Any], kwargs: dict[str, Any], node: ast.AST,
                      keyword_at: dict[str, Pos] | None = None) -> Any:
        """Run a config function; `keyword_at` (the positions of the call's keyword arguments) locates the
        values a `**kwargs` parameter collects, so an error in one points at the call that wrote it."""
        if self.calls >= self.budgets.depth:
            raise self.budget_error(f"{self.budgets.depth} nested calls", node)
        if function.is_generator:
            return self.opaque(node, f"{function.name}() is a generator function, which netc does not evaluate")
        scope = Scope(function.closure, function.global_names, function.nonlocal_names)
        self.bind_arguments(function, args, kwargs, scope, node, keyword_at or {})
        self.calls += 1
        self.frames.append(scope)
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
            self.frames.pop()
        return None

    def bind_arguments(self, function: Function, args: list[Any], kwargs: dict[str, Any], scope: Scope,
                       node: ast.AST, keyword_at: dict[str, Pos]) -> None:
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
            collected = values[spec.kwarg.arg] = Located(pos(node), extra)
            collected.key_at.update({key: keyword_at[key] for key in extra if key in keyword_at})
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
                                     f"({blocker.reason})", node, scope, {root})
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

