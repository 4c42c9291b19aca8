"""Classes of a config (`class TransformerNetwork: ...`, whose `build()` returns the network), evaluated.

A `class` statement without bases, decorators or keywords binds a `ConfigClass`: its body runs as Python runs
it (assignments and `def`s, in a namespace of their own; the methods' enclosing scope is the class statement's,
not the class body, as in Python). Calling the class makes an `Instance` and runs `__init__`; reading a
method from an instance binds it (`BoundMethod`); `self.x = value` sets the instance's attribute. Anything
else of Python's object model (bases, `super()`, properties, decorators, class attributes set from outside)
is not evaluated: such a class statement makes its name opaque, as before.
"""

from __future__ import annotations

import ast
from typing import Any

from netc.ir.pyconfig.values import BoundMethod, ConfigClass, Function, Instance, Opaque, Pos, Raised, Scope


class Classes:
    """Class statements, objects and their attributes (mixed into `Evaluator`)."""

    def define_class(self, stmt: ast.ClassDef, scope: Scope) -> None:
        plain_bases = all(isinstance(b, ast.Name) and b.id == "object" for b in stmt.bases)
        if stmt.decorator_list or stmt.keywords or not plain_bases:
            what = "decorators" if stmt.decorator_list else "base classes" if stmt.bases else "keywords"
            self.make_opaque({stmt.name}, f"class {stmt.name!r} has {what}, which netc does not evaluate", stmt,
                             scope)
            self.not_keys.add(stmt.name)
            return
        body = Scope(scope)
        self.exec_block(stmt.body, body)
        for value in body.vars.values():
            if isinstance(value, Function):
                value.closure = scope  # NOTE: methods see the enclosing scope, not the class body (Python's rule)
        self.bind(stmt.name, ConfigClass(stmt.name, dict(body.vars)), scope, stmt)
        if scope.target(stmt.name) is self.module:
            self.not_keys.add(stmt.name)

    def instantiate(self, cls: ConfigClass, args: list[Any], kwargs: dict[str, Any], node: ast.AST,
                    keyword_at: dict[str, Pos] | None = None) -> Any:
        """`cls(*args, **kwargs)`: a new object, initialised by the class's `__init__` (`keyword_at`: where the
        call writes each keyword argument)."""
        instance = Instance(cls, {})
        init = cls.namespace.get("__init__")
        if isinstance(init, Function):
            result = self.call_function(init, [instance, *args], kwargs, node, keyword_at)
            if isinstance(result, Opaque):
                return self.opaque(node, result.reason)
        elif init is not None:
            return self.opaque(node, f"{cls.name}.__init__ is not a function netc evaluates")
        elif args or kwargs:
            raise Raised(TypeError(f"{cls.name}() takes no arguments"), getattr(node, "lineno", 0))
        return instance

    def member(self, value: Instance | ConfigClass, name: str, node: ast.AST) -> Any:
        """`obj.name` (the object's attribute, else its class's, a method bound to the object) or `Cls.name`."""
        if isinstance(value, Instance) and name in value.attrs:
            return value.attrs[name]
        cls = value.cls if isinstance(value, Instance) else value
        if name in cls.namespace:
            found = cls.namespace[name]
            return BoundMethod(found, value) if isinstance(value, Instance) and isinstance(found, Function) \
                else found
        if name.startswith("__"):
            return self.opaque(node, f"the attribute .{name} of {value!r} is not evaluated")
        raise Raised(AttributeError(f"{cls.name!r} object has no attribute {name!r}"), getattr(node, "lineno", 0))

    def set_member(self, target: ast.Attribute, value: Any, scope: Scope) -> bool:
        """`obj.name = value` on an object of a config class; False when the target is not one."""
        owner = self.eval(target.value, scope)
        if not isinstance(owner, Instance):
            return False
        owner.attrs[target.attr] = value
        return True
