"""The builtins a config may call, and the modules netc knows without importing them (os.path, copy)."""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netc.ir.pyconfig.values import Builtin, Located, Opaque, Pos, Raised, StandIn, find_opaque, pos

if TYPE_CHECKING:
    from netc.ir.pyconfig.evaluator import Evaluator


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


CONFIG_METHODS = ("has", "is_typed", "typed_value", "opt_typed_value", "value", "int", "float", "bool", "is_true",
                  "list", "int_list", "float_list")


def config_object(ev: Evaluator) -> StandIn:
    """RETURNN's `config` as a config sees it while it loads: its reading API over the values assigned so far
    (the module namespace is RETURNN's `typed_dict`); a value with an opaque part reads as opaque."""
    def method(name: str) -> Builtin:
        def run(ev: Evaluator, node: ast.Call, args: list[Any], kwargs: dict[str, Any], _: dict) -> Any:
            from netc.ir.exec_config import ConfigView  # NOTE: here: exec_config imports the reader

            key = args[0] if args else kwargs.get("key")
            blocker = find_opaque([args, kwargs], ev.tick)
            if blocker is None and name not in ("has", "is_typed") and isinstance(key, str):
                blocker = find_opaque(ev.module.vars.get(key), ev.tick)
            if blocker is not None:
                return ev.opaque(node, blocker.reason)
            return ev.real(node, getattr(ConfigView(ev.module.vars), name), *args, **kwargs)
        return Builtin(f"config.{name}", run)
    return StandIn("config", {name: method(name) for name in CONFIG_METHODS})
