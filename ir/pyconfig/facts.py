"""What the syntax tree says without evaluating it: assigned names, jumps, declarations."""

from __future__ import annotations

import ast

from netc.ir.errors import NetcError, Where
from netc.ir.pyconfig.values import MUTATING, ConfigClass, Function, Instance, Scope, pos


def root_name(node: ast.expr) -> str | None:
    """`network` of `network["a"]["b"]` or `network.update`."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def names_of(stmts: list[ast.stmt], scope: Scope | None) -> tuple[set[str], set[str], set[str]]:
    """(names a block may bind or change, names whose value it may change in place, names it reads).

    Bound or changed: assignment targets, defs, imports, receivers of mutating methods, variables passed to a
    function of the config; the bodies of the config functions it calls or defines count too. Changed in
    place: `x[k] = v`, `x.update(...)`, `x += [...]`, passing `x` to a config function.
    """
    names: set[str] = set()
    in_place: set[str] = set()
    read: set[str] = set()
    seen_functions: set[int] = set()

    def changed(node: ast.expr, local: frozenset[str]) -> None:
        root = root_name(node)
        if root and root not in local:
            names.add(root)
            in_place.add(root)

    def visit(node: ast.AST, local: frozenset[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                names.add(node.name)
            own = static_locals(node)  # a function made here may be called here: what it changes counts
            for child in (node.body if isinstance(node.body, list) else [node.body]):
                visit(child, own)
            return
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            read.add(node.id)
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and node.id not in local:
            names.add(node.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            changed(node, local)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            changed(node.target, local)  # `l += [x]` extends a list in place
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING:
                changed(node.func.value, local)
            root = root_name(node.func) if scope is not None else None
            owner = scope.find(root) if scope is not None and root else None
            callee = owner.vars[root] if owner else None
            if isinstance(node.func, ast.Attribute) and not isinstance(callee, (Instance, ConfigClass)):
                callee = None  # `x.method()` of a value: only the MUTATING methods above change it
            functions = [callee] if isinstance(callee, Function) else []
            if isinstance(callee, (Instance, ConfigClass)):  # a class or an object's method: any of its methods
                cls = callee.cls if isinstance(callee, Instance) else callee  # may run, and change the object
                functions = [f for f in cls.namespace.values() if isinstance(f, Function)]
                if isinstance(node.func, ast.Attribute):
                    changed(node.func.value, local)
            if functions:  # it may change any value passed to it
                for arg in (*node.args, *(k.value for k in node.keywords)):
                    changed(arg.value if isinstance(arg, ast.Starred) else arg, local)
            for function in functions:
                if id(function) not in seen_functions and isinstance(function.body, list):
                    seen_functions.add(id(function))
                    own = local_names(function)
                    for stmt in function.body:
                        visit(stmt, own)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    for stmt in stmts:
        visit(stmt, frozenset())
    return names, in_place, read


def static_locals(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset[str]:
    """The names a function's own code binds for itself (parameters, assignments not declared global)."""
    spec = node.args
    params = {a.arg for a in (*spec.posonlyargs, *spec.args, *spec.kwonlyargs)}
    params.update(a.arg for a in (spec.vararg, spec.kwarg) if a is not None)
    body = node.body if isinstance(node.body, list) else [node.body]
    stored = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return frozenset((params | stored) - declared(body, ast.Global) - declared(body, ast.Nonlocal))


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

