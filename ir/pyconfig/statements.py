"""Statements: assignment, control flow, functions, imports."""

from __future__ import annotations

import ast
from typing import Any

from netc.ir.pyconfig.branches import calls_config_functions, merge_branches, values_held_elsewhere
from netc.ir.pyconfig.facts import declared, has_jump, root_name
from netc.ir.pyconfig.library import STAND_INS, deep_copy
from netc.ir.pyconfig.values import (
    MISSING,
    Break,
    Continue,
    Function,
    Imported,
    Located,
    Opaque,
    OpaqueControl,
    Raised,
    Refused,
    Return,
    Scope,
    find_opaque,
    pos,
)


class Statements:
    """The statement half of the evaluator (mixed into `Evaluator`)."""

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
        elif isinstance(stmt, ast.ClassDef):
            self.define_class(stmt, scope)
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
            self.opaque_effects([stmt], f"the {kind} statement of line {stmt.lineno} is not evaluated", stmt,
                                scope)
            if isinstance(stmt, ast.AsyncFunctionDef):
                self.not_keys.add(stmt.name)

    def exec_if(self, stmt: ast.If, scope: Scope) -> None:
        test = self.eval(stmt.test, scope)
        if isinstance(test, Opaque):
            reason = f"assigned under `if` on an opaque condition (line {stmt.lineno}: {test.reason})"
            body = stmt.body + stmt.orelse
            if scope is not self.module or has_jump(body) or calls_config_functions(body, scope) or \
                    values_held_elsewhere(scope) or not self.both_branches(stmt, reason):
                self.opaque_branch(body, reason, stmt, scope)
        elif self.truth(test):
            self.exec_block(stmt.body, scope)
        else:
            self.exec_block(stmt.orelse, scope)

    def both_branches(self, stmt: ast.If, reason: str) -> bool:
        """Run both branches of a module-level `if` on copies of the variables and keep what they agree on
        (`branches.merge_values`). False, with the variables as before, when a branch raises."""
        before = self.module.vars
        results = []
        for branch in (stmt.body, stmt.orelse):
            self.module.vars = deep_copy(before, self, {})
            try:
                self.exec_block(branch, self.module)
            except (Raised, Refused, OpaqueControl):
                self.module.vars = before
                return False
            results.append(self.module.vars)
        self.module.vars = merge_branches(*results, pos(stmt), reason, self.tick)
        for name in self.module.vars:
            self.name_at.setdefault(name, pos(stmt))
        return True

    def opaque_branch(self, body: list[ast.stmt], reason: str, node: ast.AST, scope: Scope) -> None:
        """Code that may or may not run: what it assigns is opaque; a jump out of it makes the rest opaque."""
        self.opaque_effects(body, reason, node, scope)
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
            if self.loop_body(stmt, scope):
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
            if self.loop_body(stmt, scope):
                return
        self.exec_block(stmt.orelse, scope)

    def loop_body(self, stmt: ast.For | ast.While, scope: Scope) -> bool:
        """One pass of a loop's body; True when the loop ends without its `else` (break, opaque control flow)."""
        try:
            self.exec_block(stmt.body, scope)
        except Break:
            return True
        except Continue:
            return False
        except OpaqueControl as e:
            self.opaque_effects([stmt], e.reason, stmt, scope)
            if e.returns:
                raise
            return True
        return False

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
        elif isinstance(target, ast.Attribute) and self.set_member(target, value, scope):
            pass  # `self.x = ...` on an object of a config class (classes.py)
        else:  # attribute: `obj.x = ...` changes an object netc does not model
            root = root_name(target)
            if root:
                self.make_opaque({root}, f"line {target.lineno} sets an attribute, which netc does not evaluate",
                                 target, scope, {root})

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
                                 target, scope, {root})
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
        elif isinstance(target, ast.Attribute):
            load = ast.Attribute(target.value, target.attr, ast.Load(), lineno=target.lineno,
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
                    self.make_opaque({root}, f"line {target.lineno} deletes an opaque key", target, scope, {root})
                return
            try:
                del container[key]
            except Exception as e:  # noqa: BLE001
                raise Raised(e, target.lineno) from None
        elif isinstance(target, (ast.Tuple, ast.List)):
            for sub in target.elts:
                self.delete(sub, scope)

