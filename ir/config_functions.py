"""`eval` layers that call a function of the config, read (never run) as what the function gives outside training.

RETURNN configs from 2019 on start the encoder with SpecAugment written as a config function:

    def transform(data, network):
        x = data.placeholder
        def get_masked(): ...                                   # random time and feature masks
        x = network.cond_on_train(get_masked, lambda: x)
        return x

    network = {"source": {"class": "eval", "from": "data",
                          "eval": "self.network.get_config().typed_value('transform')(source(0, as_data=True), "
                                  "network=self.network)"}, ...}

RETURNN's `TFNetwork.cond_on_train(fn_train, fn_eval)` is `tf.cond(train_flag, fn_train, fn_eval)`: outside
training (search, forward, evaluation, an exported model) the layer is `fn_eval()`, here the input itself.
`inference_call` reads the function's syntax tree and returns the eval expression of that value, in the forms
`ir/layers/expr.py` parses (`source(0)`, `tf.clip_by_value(source(0), -3.0, 3.0)`, ...). It follows the value
through straight-line code only: assignments, imports, nested `def`s and expression statements (TF values
cannot change in place, so a call statement such as `summary("features", x)` leaves them as they are). Any
other statement (if, for, with, ...), a value built from anything but the function's first argument, or a
`cond_on_train` whose second argument is not a `lambda:` make it None, and the eval stays the error it was.

netc computes that value in training too; RETURNN computes `fn_train()` there (SpecAugment's random masks),
which netc does not run: `training_note` says so as a warning.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Mapping
from dataclasses import dataclass

from .layers.expr import parse_eval, sources_used

SOURCE = "source(0)"


@dataclass(frozen=True)
class ConfigCall:
    """An eval string that calls a config function: the function's name, the eval expression of what it gives
    outside training, and the name of the function RETURNN calls in training instead (None: the same value)."""

    function: str
    inference: str
    train_only: str | None


def top_level_functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """The config's module-level `def`s by name (a later `def` of a name replaces an earlier one, as in Python)."""
    return {stmt.name: stmt for stmt in tree.body if isinstance(stmt, ast.FunctionDef)}


def parsed(text: str) -> ast.expr | None:
    """The eval string's syntax tree when it may call a config function (None: it does not, or it is no
    expression Python parses: the eval's own parse in ir/layers/expr.py says what is wrong)."""
    if "typed_value" not in text and "typed_dict" not in text:
        return None
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, RecursionError):
        return None


def getter_name(node: ast.expr) -> str | None:
    """The name in RETURNN's ways to get a config value from an eval: `self.network.get_config().typed_value('f')`,
    `self.network.get_config().typed_dict['f']`, `self.network._config.typed_dict['f']`; else None."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "self.network.get_config().typed_value":
        key = node.args[0] if len(node.args) == 1 and not node.keywords else None
    elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("self.network.get_config().typed_dict",
                                                                          "self.network._config.typed_dict"):
        key = node.slice
    else:
        return None
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def config_function_name(text: str) -> str | None:
    """The name of the config function an eval string calls anywhere in it, else None."""
    node = parsed(text)
    names = [] if node is None else [n for c in ast.walk(node) if isinstance(c, ast.Call)
                                     if (n := getter_name(c.func)) is not None]
    return names[0] if names else None


def called_function(text: str) -> tuple[str, bool, bool] | None:
    """(name, as_data, with_network) of `<getter>(source(0[, as_data=True]), network=self.network)` (getter:
    `getter_name`), the form of RETURNN's SpecAugment evals, or of `<getter>(source(0))` (the local attention's
    `get_median`); else None."""
    node = parsed(text)
    if not (isinstance(node, ast.Call) and len(node.args) == 1
            and [ast.unparse(k) for k in node.keywords] in (["network=self.network"], [])):
        return None
    name, source = getter_name(node.func), ast.unparse(node.args[0])
    if name is None or source not in (SOURCE, "source(0, as_data=True)"):
        return None
    return name, source != SOURCE, bool(node.keywords)


def inference_call(text: str, functions: Mapping[str, ast.FunctionDef]) -> ConfigCall | None:
    """The ConfigCall of an eval string, when it calls a config function netc can read (module docstring)."""
    called = called_function(text)
    if called is None or called[0] not in functions:
        return None
    name, as_data, with_network = called
    found = function_value(functions[name], as_data, with_network)
    if found is None:
        return None
    value, train_only = found
    inference = ast.unparse(value)
    try:
        if not sources_used(parse_eval(inference, 1)):
            return None
    except ValueError:
        return None
    return ConfigCall(name, inference, train_only)


def unreadable_reason(text: str, functions: Mapping[str, ast.FunctionDef]) -> str | None:
    """Why netc cannot read the config function an eval string calls (None: it calls none, or netc reads it)."""
    name = config_function_name(text)
    if name is None or inference_call(text, functions) is not None:
        return None
    if name not in functions:
        return f"eval calls the config's function {name!r}, and the config has no top-level def of that name"
    if called_function(text) is None:
        return (f"eval calls the config's function {name!r} with other arguments than source(0) (or source(0, "
                "as_data=True)) and network=self.network, RETURNN's SpecAugment form, the one netc reads")
    return (f"eval calls the config's function {name!r}, which netc does not run: it reads only straight-line code "
            "(assignments, imports, nested defs) returning an element-wise expression of the input, or "
            "network.cond_on_train(fn_train, lambda: x) of one")


def function_value(function: ast.FunctionDef, as_data: bool, with_network: bool = True
                   ) -> tuple[ast.expr, str | None] | None:
    """What `function(source(0), network=...)` (without `with_network`: `function(source(0))`) returns outside
    training, as an expression over `source(0)`, and the training branch's name; None for code that is not
    straight-line or a value from elsewhere."""
    args = function.args
    params = [a.arg for a in args.posonlyargs + args.args]
    passed = 2 if with_network else 1
    if len(params) < passed or with_network and params[1] != "network" or len(args.defaults) < len(params) - passed \
            or None in args.kw_defaults:
        return None  # the eval passes one tensor (and network=): other parameters need defaults
    data = "\0data"  # the RETURNN Data object of `source(0, as_data=True)`; its `.placeholder` is the tensor
    values: dict[str, ast.expr] = {params[0]: ast.Name(data if as_data else "\0source", ast.Load())}
    train_only: str | None = None
    for stmt in function.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Pass)) or \
                isinstance(stmt, ast.Expr) and not assigns_to(stmt, values):
            continue
        if isinstance(stmt, ast.FunctionDef):
            values.pop(stmt.name, None)
            continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            if not reads(stmt.value, values):
                values.pop(target, None)  # a value of its own (`step = network.global_train_step`)
                continue
            value, branch = substituted(stmt.value, values, data)
            if value is None:
                return None
            train_only = branch or train_only
            values[target] = value
            continue
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            value, branch = substituted(stmt.value, values, data)
            if value is None:
                return None
            return as_source(value), branch or train_only
        return None
    return None


def reads(node: ast.AST, values: Mapping[str, ast.expr]) -> bool:
    """Whether the expression reads a name that carries the input's value."""
    return any(isinstance(n, ast.Name) and n.id in values for n in ast.walk(node))


def assigns_to(stmt: ast.Expr, values: Mapping[str, ast.expr]) -> bool:
    """Whether an expression statement rebinds a name (`:=`) that carries the input's value."""
    return any(isinstance(n, ast.NamedExpr) and n.target.id in values for n in ast.walk(stmt))


def substituted(node: ast.expr, values: Mapping[str, ast.expr], data: str) -> tuple[ast.expr | None, str | None]:
    """The expression with each name replaced by its value, `data.placeholder` by the tensor, and
    `network.cond_on_train(fn_train, lambda: v)` by v; also the name of fn_train (None without one)."""
    branch: list[str] = []

    class Substitute(ast.NodeTransformer):
        def visit_Name(self, n: ast.Name) -> ast.expr:
            return values.get(n.id, n)

        def visit_Attribute(self, n: ast.Attribute) -> ast.expr:
            inner = self.visit(n.value)
            if n.attr == "placeholder" and isinstance(inner, ast.Name) and inner.id == data:
                return ast.Name("\0source", ast.Load())
            return ast.Attribute(inner, n.attr, n.ctx)

        def visit_Call(self, n: ast.Call) -> ast.expr:
            if ast.unparse(n.func) == "network.cond_on_train" and len(n.args) == 2 and not n.keywords:
                fn_train, fn_eval = n.args
                if not isinstance(fn_eval, ast.Lambda) or fn_eval.args.args or fn_eval.args.vararg:
                    return ast.Name("\0unknown", ast.Load())
                branch.append(ast.unparse(fn_train))
                return self.visit(fn_eval.body)
            return self.generic_visit(n)

    result = Substitute().visit(copy.deepcopy(node))
    if any(isinstance(n, ast.Name) and n.id in ("\0unknown", data) for n in ast.walk(result)):
        return None, None
    return result, branch[-1] if branch else None


def as_source(node: ast.expr) -> ast.expr:
    """The expression with the input tensor written `source(0)`, as an eval string reads it."""

    class Rename(ast.NodeTransformer):
        def visit_Name(self, n: ast.Name) -> ast.expr:
            return ast.parse(SOURCE, mode="eval").body if n.id == "\0source" else n

    return Rename().visit(node)


def training_note(layer: str, call: ConfigCall) -> str | None:
    """The warning for an eval whose config function does something else in training (None: it does not)."""
    if call.train_only is None:
        return None
    return (f"layer {layer!r}: its eval calls the config's function {call.function!r}, which netc reads as "
            f"{call.inference!r} (RETURNN's value outside training, network.cond_on_train's second branch) and "
            f"computes so in training too; RETURNN trains with {call.train_only!r} there (e.g. SpecAugment's random "
            "masks), which netc does not run: training will differ")


def training_notes(network: Mapping, functions: Mapping[str, ast.FunctionDef], scope: str = "") -> tuple[str, ...]:
    """`training_note` of every eval layer of a net dict, its rec units and subnetworks included."""
    notes: list[str] = []
    for name, layer in network.items():
        if not isinstance(layer, Mapping):
            continue
        text = layer.get("eval")
        call = inference_call(text, functions) if layer.get("class") == "eval" and isinstance(text, str) else None
        note = training_note(f"{scope}{name}", call) if call is not None else None
        notes += [note] if note else []
        for inner in ("unit", "subnetwork"):
            if isinstance(layer.get(inner), Mapping):
                notes += training_notes(layer[inner], functions, f"{scope}{name}/")
    return tuple(notes)
