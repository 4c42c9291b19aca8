"""RETURNN `eval` strings, parsed (never executed) into a small expression tree over the layer's sources.

The safe subset: `source(i)` (keyword options `auto_convert`, `enforce_batch_major` accepted and without
effect: netc aligns sources by their dims), numbers, `+ - * / **`, unary `-`, comparisons (`< <= > >= ==
!=`, giving 1.0 or 0.0 as `tf.cast(..., tf.float32)` of them does), and the element-wise functions in
`FUNCTIONS` (`tf.nn.relu`, `tf.tanh`, `tf.sigmoid`, `tf.exp`, `tf.math.log`, `tf.sqrt`, `tf.abs`,
`tf.minimum`/`tf.maximum` with constants, ...). Anything else is a ValueError naming the construct.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# dotted name -> canonical function; each backend maps the canonical names to its ops
FUNCTIONS: dict[str, str] = {
    **{f"{p}{n}": n for p in ("tf.", "tf.nn.", "tf.math.") for n in ("relu", "tanh", "sigmoid", "exp", "sqrt", "abs",
                                                                        "square", "softplus", "elu")},
    "tf.log": "log", "tf.math.log": "log", "tf.minimum": "minimum", "tf.maximum": "maximum",
    "tf.math.minimum": "minimum", "tf.math.maximum": "maximum", "tf.cast": "cast", "tf.to_float": "cast",
    "tf.math.squared_difference": "squared_difference", "tf.squared_difference": "squared_difference",
}
ARITY = {"minimum": 2, "maximum": 2, "squared_difference": 2}
BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.Pow: "pow"}
COMPARE = {ast.Lt: "less", ast.LtE: "less_equal", ast.Gt: "greater", ast.GtE: "greater_equal", ast.Eq: "equal",
           ast.NotEq: "not_equal"}
FLOAT_NAMES = ("tf.float32", "float32", "'float32'")


@dataclass(frozen=True)
class Source:
    """`source(i)`: the i-th source layer's value."""

    index: int


@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class Call:
    """A function or operator (canonical name from FUNCTIONS, BINARY, COMPARE, or "neg") on its arguments."""

    fn: str
    args: tuple[Expr, ...]


Expr = Source | Const | Call


def parse_eval(text: str, num_sources: int) -> Expr:
    """Parse an eval string; ValueError naming the first unsupported construct."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"not a Python expression: {e.msg}") from None
    return convert(tree.body, num_sources)


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    raise ValueError(f"unsupported call target {ast.unparse(node)!r}")


def convert(node: ast.expr, n: int) -> Expr:
    """One AST node -> Expr."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Const(float(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = convert(node.operand, n)
        return inner if isinstance(node.op, ast.UAdd) else Call("neg", (inner,))
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        return Call(BINARY[type(node.op)], (convert(node.left, n), convert(node.right, n)))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE:
        return Call(COMPARE[type(node.ops[0])], (convert(node.left, n), convert(node.comparators[0], n)))
    if isinstance(node, ast.Call):
        return convert_call(node, n)
    raise ValueError(f"unsupported expression {ast.unparse(node)!r}")


def convert_call(node: ast.Call, n: int) -> Expr:
    name = dotted(node.func)
    if name == "source":
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) or \
                not isinstance(node.args[0].value, int) or not 0 <= node.args[0].value < n:
            raise ValueError(f"{ast.unparse(node)!r}: source(i) needs a constant i in 0..{n - 1}")
        if any(k.arg not in ("auto_convert", "enforce_batch_major") for k in node.keywords):
            raise ValueError(f"{ast.unparse(node)!r}: unsupported option of source()")
        return Source(node.args[0].value)
    if name not in FUNCTIONS:
        raise ValueError(f"unsupported call {name!r}; supported: source(i), " + ", ".join(sorted(FUNCTIONS)))
    fn = FUNCTIONS[name]
    if fn == "cast":
        dtype = [a for a in node.args[1:]] + [k.value for k in node.keywords if k.arg == "dtype"]
        if name == "tf.cast" and (len(dtype) != 1 or ast.unparse(dtype[0]) not in FLOAT_NAMES):
            raise ValueError(f"{ast.unparse(node)!r}: only casts to tf.float32 are supported")
        return Call("cast", (convert(node.args[0], n),))  # int32 (length) -> float32; comparisons are 1.0/0.0
    if node.keywords or len(node.args) != ARITY.get(fn, 1):
        raise ValueError(f"{ast.unparse(node)!r}: {name} takes {ARITY.get(fn, 1)} positional argument(s)")
    return Call(fn, tuple(convert(a, n) for a in node.args))


def sources_used(expr: Expr) -> set[int]:
    if isinstance(expr, Source):
        return {expr.index}
    if isinstance(expr, Call):
        return set().union(*(sources_used(a) for a in expr.args))
    return set()
