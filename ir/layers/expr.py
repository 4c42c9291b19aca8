"""RETURNN `eval` strings, parsed (never executed) into a small expression tree over the layer's sources.

The safe subset: `source(i)` (keyword options `auto_convert`, `enforce_batch_major` accepted and without
effect: netc aligns sources by their dims), numbers, `+ - * / **`, unary `-`, comparisons (`< <= > >= ==
!=`, giving 1.0 or 0.0 as `tf.cast(..., tf.float32)` of them does), and the element-wise functions in
`FUNCTIONS` (`tf.nn.relu`, `tf.tanh`, `tf.sigmoid`, `tf.exp`, `tf.math.log`, `tf.sqrt`, `tf.abs`,
`tf.minimum`/`tf.maximum` of numbers and expressions, `tf.clip_by_value` with constant bounds, `tf.sin`/`tf.cos`,
`tf.negative`, `tf.nn.relu6`/`leaky_relu`/`softsign`/`selu`/`gelu`/`swish`/`silu`, `tf.identity`,
`tf.stop_gradient` (training: no gradient), and RETURNN's `safe_log`/
`safe_exp` from `returnn.tf.util.basic`, which EvalLayer puts in the eval namespace). Anything else is a
ValueError naming the construct.

One reduction is read too, the local attention's window position (returnn-experiments 2019-asr-local-attention):
`tf.squeeze(tf.argmax(source(i), axis=1, output_type=tf.int32), axis=1)` on attention weights `[B, T, 1]` (the
layout RETURNN of 2019 gave `softmax_over_spatial`) is `Position(i)`: per sequence the first frame of the
largest weight, int32 `[B]`. It stands alone or as the argument of a cast (`tf.to_float`); see `Position`.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

# dotted name -> canonical function; each backend maps the canonical names to its ops
FUNCTIONS: dict[str, str] = {
    **{f"{p}{n}": n for p in ("tf.", "tf.nn.", "tf.math.") for n in ("relu", "tanh", "sigmoid", "exp", "sqrt", "abs",
                                                                        "square", "softplus", "elu")},
    "tf.log": "log", "tf.math.log": "log", "tf.minimum": "minimum", "tf.maximum": "maximum",
    "tf.math.minimum": "minimum", "tf.math.maximum": "maximum", "tf.cast": "cast", "tf.to_float": "cast",
    "tf.math.squared_difference": "squared_difference", "tf.squared_difference": "squared_difference",
    "tf.clip_by_value": "clip_by_value", "tf.math.clip_by_value": "clip_by_value",
    "safe_log": "safe_log", "safe_exp": "safe_exp",
    # activations netc has under the same name (ir/types.py Act), as TF 2 defines them (leaky_relu: alpha 0.2)
    **{f"{p}{n}": n for p in ("tf.", "tf.math.") for n in ("sin", "cos")},
    **{f"tf.nn.{n}": n for n in ("relu6", "leaky_relu", "softsign", "selu", "gelu", "swish")},
    "tf.nn.silu": "swish", "tf.math.softsign": "softsign", "tf.negative": "neg", "tf.math.negative": "neg",
    "tf.math.log_sigmoid": "log_sigmoid", "tf.log_sigmoid": "log_sigmoid",
    "tf.identity": "identity", "tf.stop_gradient": "stop_gradient",  # training: no gradient through it
}
ARITY = {"minimum": 2, "maximum": 2, "squared_difference": 2, "clip_by_value": 3}
# safe_log/safe_exp of these functions are computed as RETURNN rewrites them: f(g(y)) -> h(y) (None: y)
INVERSES: dict[tuple[str, str], str | None] = {("safe_log", "exp"): None, ("safe_log", "sigmoid"): "log_sigmoid",
                                               ("safe_exp", "log"): None}
# NOTE: every walk of an expression (sources_used, the ONNX and torch lowerings) recurses per operation
MAX_DEPTH = 300
SAFE_EPS = 1e-20  # the default `eps` of RETURNN's safe_log and safe_exp
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


@dataclass(frozen=True)
class Position:
    """A frame number per sequence read from source(i) `[B, T, 1]` (RETURNN's batch-major attention weights
    `[B, T, H]` of H = 1 heads: axis 1 is time, axis 2 the size-1 heads axis), int32 `[B]`:

    - `level` None: `tf.squeeze(tf.argmax(source(i), axis=1, output_type=tf.int32), axis=1)`, the frame of the
      largest value (the first one on ties, as tf.argmax);
    - `level` a number: what the Switchboard configs' `get_median` returns, `tf.argmin(tf.where(c > 0, c,
      tf.ones_like(c)), axis=1, output_type=tf.int32)` with `c = tf.cumsum(tf.squeeze(source(i), axis=2),
      axis=1) - level`: the first frame of the smallest positive `c`, or of a 1 where no `c` is smaller (for
      weights summing to 1 and level 0.5: the median frame)."""

    index: int
    level: float | None = None


Expr = Source | Const | Call | Position


@functools.lru_cache(maxsize=512)  # `Eval.expression` is read at each step of the trainer's rec units
def parse_eval(text: str, num_sources: int) -> Expr:
    """Parse an eval string; ValueError naming the first unsupported construct. The tree is immutable (frozen
    dataclasses), so one parse serves every caller."""
    try:
        expr = convert(ast.parse(text.strip(), mode="eval").body, num_sources)
    except SyntaxError as e:
        raise ValueError(f"not a Python expression: {e.msg}") from None
    except RecursionError:  # Python's parser and `convert` recurse once per operator
        expr = None
    if expr is None or depth(expr) > MAX_DEPTH:
        raise ValueError(f"the expression nests more than {MAX_DEPTH} operations (a + b + ... nests one per +)")
    check_positions(expr)
    return expr


def depth(expr: Expr) -> int:
    """The number of nested operations, counted without recursion."""
    deepest, todo = 0, [(expr, 0)]
    while todo:
        e, d = todo.pop()
        deepest = max(deepest, d)
        if isinstance(e, Call):
            todo.extend((a, d + 1) for a in e.args)
    return deepest


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
    if name in ("tf.squeeze", "tf.argmax", "tf.math.argmax"):
        return convert_position(node, n)
    if name in ("tf.argmin", "tf.math.argmin"):
        return convert_median(node, n)
    if name not in FUNCTIONS:
        raise ValueError(f"unsupported call {name!r}; supported: source(i), " + ", ".join(sorted(FUNCTIONS)))
    fn = FUNCTIONS[name]
    if fn == "cast":
        dtype = [a for a in node.args[1:]] + [k.value for k in node.keywords if k.arg == "dtype"]
        if name == "tf.cast" and (len(dtype) != 1 or ast.unparse(dtype[0]) not in FLOAT_NAMES):
            raise ValueError(f"{ast.unparse(node)!r}: only casts to tf.float32 are supported")
        if not node.args:
            raise ValueError(f"{ast.unparse(node)!r}: {name} takes the value to cast")
        return Call("cast", (convert(node.args[0], n),))  # int32 (length) -> float32; comparisons are 1.0/0.0
    if fn in ("safe_log", "safe_exp"):
        return convert_safe(node, fn, n)
    if node.keywords or len(node.args) != ARITY.get(fn, 1):
        raise ValueError(f"{ast.unparse(node)!r}: {name} takes {ARITY.get(fn, 1)} positional argument(s)")
    args = tuple(convert(a, n) for a in node.args)
    if fn != "clip_by_value":
        return Call(fn, args)  # tf.maximum(0.0, source(0) - 1.0): any operand may be a number or an expression
    if not all(isinstance(constant(a), float) for a in args[1:]):
        raise ValueError(f"{ast.unparse(node)!r}: the bounds of {name} must be numbers")
    return Call(fn, args[:1] + tuple(Const(constant(a)) for a in args[1:]))  # type: ignore[arg-type]


def keyword_axis(node: ast.Call, position: int) -> str | None:
    """The `axis` argument of a call, positional (at `position`) or keyword, as source text."""
    found = [k.value for k in node.keywords if k.arg == "axis"] + node.args[position:position + 1]
    return ast.unparse(found[0]) if len(found) == 1 else None


def convert_position(node: ast.Call, n: int) -> Position:
    """`tf.squeeze(tf.argmax(source(i), axis=1[, output_type=tf.int32]), axis=1)` -> Position(i) (see Position);
    any other squeeze or argmax is a ValueError saying the one form netc reads."""
    form = "tf.squeeze(tf.argmax(source(i), axis=1, output_type=tf.int32), axis=1)"
    inner = node.args[0] if dotted(node.func) == "tf.squeeze" and node.args else None
    argmax = isinstance(inner, ast.Call) and dotted(inner.func) in ("tf.argmax", "tf.math.argmax") and inner.args
    if not (argmax and keyword_axis(node, 1) == "1" and keyword_axis(inner, 1) == "1"  # type: ignore[arg-type]
            and {k.arg for k in node.keywords} <= {"axis"}
            and {k.arg for k in inner.keywords} <= {"axis", "output_type"}  # type: ignore[union-attr]
            and all(ast.unparse(k.value) in ("tf.int32", "tf.int64")
                    for k in inner.keywords if k.arg == "output_type")):  # type: ignore[union-attr]
        raise ValueError(f"{ast.unparse(node)!r}: netc reads argmax and squeeze only as the local attention's "
                         f"window position {form}")
    assert isinstance(inner, ast.Call)
    source = convert(inner.args[0], n)
    if not isinstance(source, Source):
        raise ValueError(f"{ast.unparse(node)!r}: the argmax of {form} reads source(i) itself")
    return Position(source.index)


def convert_median(node: ast.Call, n: int) -> Position:
    """`tf.argmin(tf.where(c > 0.0, c, tf.ones_like(c)), axis=1, output_type=tf.int32)` with
    `c = tf.cumsum(tf.squeeze(source(i), axis=2), axis=1) - level` -> Position(i, level) (see Position): what
    `get_median` of returnn-experiments 2019-asr-local-attention's Switchboard configs returns, compared as text."""
    form = ("tf.argmin(tf.where(c > 0.0, c, tf.ones_like(c)), axis=1, output_type=tf.int32) with c = "
            "tf.cumsum(tf.squeeze(source(i), axis=2), axis=1) - level")
    where = node.args[0] if node.args else None
    c = where.args[1] if isinstance(where, ast.Call) and len(where.args) == 3 else None
    inner = c.left.args[0] if isinstance(c, ast.BinOp) and isinstance(c.left, ast.Call) and c.left.args else None
    x = inner.args[0] if isinstance(inner, ast.Call) and inner.args else None
    if x is not None and isinstance(c, ast.BinOp):
        cs = f"tf.cumsum(tf.squeeze({ast.unparse(x)}, axis=2), axis=1) - {ast.unparse(c.right)}"
        known = {f"tf.argmin(tf.where({cs} > {zero}, {cs}, tf.ones_like({cs})), axis=1{out})"
                 for zero in ("0", "0.0") for out in ("", ", output_type=tf.int32", ", output_type=tf.int64")}
        source, level = convert(x, n), constant(convert(c.right, n))
        if ast.unparse(node) in known and isinstance(source, Source) and level is not None:
            return Position(source.index, level)
    raise ValueError(f"{ast.unparse(node)!r}: netc reads argmin only as the local attention's median {form}")


def positions(expr: Expr) -> set[int]:
    """The sources whose Position the expression reads."""
    if isinstance(expr, Position):
        return {expr.index}
    if isinstance(expr, Call):
        return set().union(*(positions(a) for a in expr.args))
    return set()


def position_nodes(expr: Expr) -> list[Position]:
    """The Position nodes of the expression."""
    if isinstance(expr, Position):
        return [expr]
    return [p for a in expr.args for p in position_nodes(a)] if isinstance(expr, Call) else []


def check_positions(expr: Expr) -> None:
    """A Position is the whole expression or the argument of a cast, and an expression with one reads no source
    directly (the Position reduced the time axis the source keeps); ValueError naming what is wrong."""
    if not positions(expr):
        return
    todo: list[tuple[Expr, Expr | None]] = [(expr, None)]
    while todo:
        e, parent = todo.pop()
        if isinstance(e, Source):
            raise ValueError("an expression with the argmax position [B] reads no source other than through it")
        if isinstance(e, Position) and parent is not None and not (isinstance(parent, Call) and parent.fn == "cast"):
            raise ValueError("the argmax position (int32) enters arithmetic only through tf.to_float/tf.cast")
        if isinstance(e, Call):
            todo.extend((a, e) for a in e.args)


def constant(expr: Expr) -> float | None:
    """The number an expression is (a literal, or a negated one), else None."""
    if isinstance(expr, Const):
        return expr.value
    inner = constant(expr.args[0]) if isinstance(expr, Call) and expr.fn == "neg" else None
    return None if inner is None else -inner


def convert_safe(node: ast.Call, fn: str, n: int) -> Expr:
    """`safe_log(x, eps=1e-20)` -> Call(fn, (x, Const(eps))); `use_fake_grad` (safe_log) changes only which
    gradient the clipped frames get, and is accepted as RETURNN's default True only."""
    keywords = {k.arg: k.value for k in node.keywords}
    extra = set(keywords) - {"eps", "use_fake_grad"} if fn == "safe_log" else set(keywords) - {"eps"}
    if extra or not 1 <= len(node.args) <= 2 or (len(node.args) == 2 and "eps" in keywords):
        raise ValueError(f"{ast.unparse(node)!r}: {fn} takes x and an optional eps")
    if "use_fake_grad" in keywords and ast.unparse(keywords["use_fake_grad"]) != "True":
        raise ValueError(f"{ast.unparse(node)!r}: only use_fake_grad=True (RETURNN's default) is supported")
    eps_node = node.args[1] if len(node.args) == 2 else keywords.get("eps")
    eps = SAFE_EPS if eps_node is None else constant(convert(eps_node, n))
    if eps is None or not eps > 0:
        raise ValueError(f"{ast.unparse(node)!r}: eps must be a positive number")
    x = convert(node.args[0], n)
    if isinstance(x, Call) and (fn, x.fn) in INVERSES:  # RETURNN's check_base_op_type_and_replace
        inner = INVERSES[fn, x.fn]
        return x.args[0] if inner is None else Call(inner, x.args)
    return Call(fn, (x, Const(eps)))


def sources_used(expr: Expr) -> set[int]:
    if isinstance(expr, (Source, Position)):
        return {expr.index}
    if isinstance(expr, Call):
        return set().union(*(sources_used(a) for a in expr.args))
    return set()
