"""Fuzzing the safe evaluator of Python configs: generated programs and mutated configs.

Every input gives a Document or a located NetcError naming the file: never a traceback, an internal error or a
hang (small budgets bound each example). Generated programs that the evaluator computes completely (nothing
opaque, no budget hit) must give exactly what Python gives.
"""

from __future__ import annotations

import ast
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netc.ir import NetcError, graph_from_document, read_file
from netc.ir.exec_config import TooLong, time_limit
from netc.ir.pyconfig import Budgets, Opaque, evaluate, find_opaque

from tests.hardening.frontend_fuzz import mutate_text
from tests.helpers import EXAMPLES
from tests.ir.test_pyconfig import FILE, NEVER_RUN, SUBSET

SMALL = Budgets(steps=20_000, size=20_000, depth=16, int_bits=4096)
NAMES = ["a", "b", "net", "xs"]
ATOMS = ["0", "1", "2", "-3", "7", "300", "0.5", "'x'", "'lstm%d'", "'a,b'", "''", "None", "True", "False", "[]",
         "{}", "(1, 2)", "range(4)", "__file__", "[1, 2, 3]", "{'k': 1, 'n_out': 5}", "i", *NAMES]
BINARY = ["+", "-", "*", "/", "//", "%", "**", "<<", "==", "<", "!=", "in", "and", "or", "&", "|"]
FUNCTIONS = ["len", "str", "int", "float", "list", "sorted", "min", "max", "sum", "abs", "range", "dict", "tuple",
             "enumerate", "zip", "reversed", "isinstance", "bool", "round", "set", "os.path.join",
             "os.path.basename", "g"]
FORBIDDEN = ["eval", "open", "getattr", "vars", "os.getenv", "__import__"]
METHODS = ["append", "get", "items", "keys", "update", "split", "join", "format", "upper", "replace", "pop",
           "copy", "setdefault", "extend", "count"]


def expressions() -> st.SearchStrategy[str]:
    return st.recursive(st.sampled_from(ATOMS), lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"(not {e})") | inner.map(lambda e: f"(-{e})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}:]"),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(inner, inner).map(lambda t: "{" + f"{t[0]}: {t[1]}" + "}"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=2)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(inner, st.sampled_from(METHODS), st.lists(inner, max_size=2)).map(
            lambda t: f"({t[0]}).{t[1]}({', '.join(t[2])})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"[{t[0]} for i in {t[1]}]"),
        st.tuples(inner, inner).map(lambda t: "{" + f"str(i): {t[0]} for i in {t[1]}" + "}"),
        inner.map(lambda e: f"'<{{}}>'.format({e})") | inner.map(lambda e: f"'%s' % ({e},)"),
        inner.map(lambda e: f"(lambda i: {e})(2)"),
    ), max_leaves=6)


def statements(depth: int = 0) -> st.SearchStrategy[list[str]]:
    expr = expressions()
    name = st.sampled_from(NAMES)
    simple = st.one_of(
        st.tuples(name, expr).map(lambda t: [f"{t[0]} = {t[1]}"]),
        st.tuples(name, st.sampled_from(["+=", "*=", "-="]), expr).map(lambda t: [f"{t[0]} {t[1]} {t[2]}"]),
        st.tuples(name, expr, expr).map(lambda t: [f"{t[0]}[{t[1]}] = {t[2]}"]),
        st.tuples(name, expr).map(lambda t: [f"{t[0]}.append({t[1]})"]),
        st.tuples(name, name, expr).map(lambda t: [f"{t[0]}, {t[1]} = {t[2]}"]),
        st.just(["pass"]),
        st.tuples(name, st.sampled_from(FORBIDDEN), expr).map(lambda t: [f"{t[0]} = {t[1]}({t[2]})"]),
        st.tuples(name, expr).map(lambda t: [f"{t[0]} = f\"<{{{t[1]}}}>\""]),
    )
    if depth:
        simple = simple | st.just(["break"]) | st.just(["continue"])
    if depth >= 2:
        return simple

    def indent(lines: list[str]) -> list[str]:
        return ["    " + line for line in lines]

    body = st.lists(statements(depth + 1), min_size=1, max_size=3).map(lambda blocks: sum(blocks, []))
    return st.one_of(
        simple, simple,
        st.tuples(expr, body, body).map(lambda t: [f"if {t[0]}:", *indent(t[1]), "else:", *indent(t[2])]),
        st.tuples(expr, body).map(lambda t: [f"for i in {t[0]}:", *indent(t[1])]),
        st.tuples(expr, body).map(lambda t: [f"while {t[0]}:", *indent(t[1])]),
        st.tuples(expr, body).map(lambda t: ["try:", *indent(t[1]), "except (KeyError, TypeError):",
                                             f"    b = {t[0]}"]),
    )


PREAMBLE = "import os\ni, a, b, net, xs = 0, 1, 'x', {}, [1, 2]\ndef g(p, q=1):\n    return [p, q]\n"
programs = st.lists(statements(), min_size=1, max_size=6).map(
    lambda blocks: PREAMBLE + "\n".join(sum(blocks, [])) + "\n")


def plain(value: Any) -> Any:
    """Python's values as the evaluator exports them: ranges and views as lists, NaN comparable."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, range, type({}.keys()), type({}.values()), type({}.items()))):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def python_values(text: str) -> dict[str, Any]:
    scope: dict[str, Any] = {"__file__": FILE, "__name__": "__returnn_config__"}
    exec(compile(text, FILE, "exec"), scope)  # noqa: S102 - generated subset programs, the reference semantics
    return {k: plain(v) for k, v in scope.items()
            if not k.startswith("_") and not callable(v) and type(v).__name__ != "module"}


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=programs)
def test_generated_programs_evaluate_as_python_or_fail_located(text: str) -> None:
    try:
        tree = ast.parse(text)
    except SyntaxError:  # `break` outside a loop: Python refuses it too
        return
    try:
        result = evaluate(FILE, tree, SMALL)
    except NetcError as e:
        assert e.where.file == FILE and e.where.line is not None, e
        if "syntax" in e.message:
            with pytest.raises(SyntaxError):
                compile(tree, FILE, "exec")
        else:
            assert "budget" in e.message
        return
    values = {k: plain(v) for k, v in result.values.items()}
    if find_opaque(list(values.values()), lambda: None) is not None or "raises" in " ".join(result.notes) or \
            any(name in text for name in FORBIDDEN):  # a forbidden call is opaque even where Python would fail
        return
    assert values == python_values(text), text


SEEDS = [p.read_text() for p in sorted((EXAMPLES / "real").glob("*.config")) if p.read_text().startswith("#!")]
SEEDS += ["#!rnn.py\n" + text for text in SUBSET.values()]
INSERTS = [*NEVER_RUN.values(), "while True:\n    pass", "x = 2 ** 10 ** 9", "x = [0] * 10**9", "def f():\n"
           "    return f()\nf()", "network = {}", "network = None", "network['x'] = network", "del network",
           "for k in network:\n    network[k] = k", "x = '%*d' % (10**9, 1)", "import Util", "x = config.value('a')"]


def mutate_config(rng: random.Random, text: str) -> str:
    """Line-level mutations (drop, duplicate, swap, insert a dangerous statement), then character noise."""
    lines = text.splitlines()
    for _ in range(rng.randrange(1, 4)):
        kind = rng.randrange(4)
        i = rng.randrange(1, len(lines) + 1)
        if kind == 0 and len(lines) > 2:
            del lines[rng.randrange(1, len(lines))]
        elif kind == 1:
            lines.insert(i, lines[rng.randrange(1, len(lines))] if len(lines) > 1 else "")
        elif kind == 2:
            lines[1:] = rng.sample(lines[1:], len(lines) - 1)
        else:
            indent = " " * (len(lines[i - 1]) - len(lines[i - 1].lstrip())) if lines[i - 1].rstrip().endswith(":") \
                else ""
            lines[i:i] = [indent + "    " * bool(indent) + line for line in rng.choice(INSERTS).splitlines()]
    text = "\n".join(lines) + "\n"
    return mutate_text(rng, text) if rng.random() < 0.4 else text


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_configs_read_or_fail_located(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "case.config"
    path.write_text(mutate_config(rng, rng.choice(SEEDS)), encoding="utf-8", errors="surrogatepass")
    try:
        doc = read_file(path, budgets=SMALL)
        assert doc.kind in ("python", "json", "line")
        graph_from_document(doc)  # the network and dims, as `netc check` builds them
    except NetcError as e:
        message = str(e)
        assert str(path) in message and "Traceback" not in message and "internal error" not in message, message


def known_parts_agree(ours: Any, theirs: Any) -> bool:
    """Every part of our value that is not opaque equals Python's."""
    if isinstance(ours, Opaque):
        return True
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and set(ours) == set(theirs) and all(
            known_parts_agree(v, theirs[k]) for k, v in ours.items())
    if isinstance(ours, (list, tuple)):
        return type(ours) is type(theirs) and len(ours) == len(theirs) and all(map(known_parts_agree, ours, theirs))
    return type(ours) is type(theirs) and ours == theirs


def indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def safe_statements(depth: int = 0) -> st.SearchStrategy[list[str]]:
    """Statements that do not raise: ints and dicts of ints changed in place, under known and opaque ifs."""
    number = st.sampled_from(["0", "1", "2", "a", "a + 1", "a * 2", "len(xs)", "len(net)"])
    key = st.sampled_from(["'p'", "'q'", "'r'"])
    simple = st.one_of(
        number.map(lambda e: [f"a = {e}"]), number.map(lambda e: [f"a += {e}"]),
        st.tuples(key, number).map(lambda t: [f"net[{t[0]}] = {t[1]}"]),
        st.tuples(key, number).map(lambda t: [f"net[{t[0]}] = {{'n': {t[1]}}}"]),
        number.map(lambda e: [f"xs.append({e})"]), number.map(lambda e: [f"c = {e}"]),
        st.just(["alias = net"]), st.just(["net = dict(net)"]), st.just(["alias['s'] = 5"]),
        st.just(["pair = (net, xs)"]), st.just(["pair[0]['t'] = 1"]), st.just(["xs = [net]"]),
        st.just(["xs[0]['u'] = 2"]), st.just(["put(net)"]), st.just(["put(alias)"]), st.just(["put(xs[0])"]),
        number.map(lambda e: [f"net[os.getenv('X')] = {e}"]),
    )
    if depth >= 2:
        return simple
    body = st.lists(safe_statements(depth + 1), min_size=1, max_size=3).map(lambda blocks: sum(blocks, []))
    return st.one_of(
        simple, simple,
        st.tuples(body, body).map(lambda t: ["if os.getenv('X'):", *indent(t[0]), "else:", *indent(t[1])]),
        st.tuples(number, body).map(lambda t: [f"if {t[0]} > 1:", *indent(t[1])]),
        body.map(lambda lines: ["for i in range(2):", *indent(lines)]),
        body.map(lambda lines: ["for i in range(os.getenv('X') + 0):", *indent(lines)]),
        body.map(lambda lines: ["def f():", *indent(lines), "    return 0", "f()"]),
    )


SAFE_PREAMBLE = ("import os\na, net, xs, alias, pair = 1, {}, [{}], {}, ({}, [])\n"
                 "def put(d):\n    d['w'] = 1\n")
programs_with_opaque_ifs = st.lists(safe_statements(), min_size=2, max_size=6).map(
    lambda blocks: SAFE_PREAMBLE + "\n".join(sum(blocks, [])) + "\n")


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=programs_with_opaque_ifs)
def test_opaque_conditions_keep_only_what_holds_either_way(text: str) -> None:
    """Run by Python with the condition true and with it false, every value netc calls known is the same."""
    try:
        result = evaluate(FILE, ast.parse(text), SMALL)
    except (SyntaxError, NetcError):
        return
    if "raises" in " ".join(result.notes):
        return
    for condition in ("True", "False"):
        try:
            with time_limit(10):  # a branch netc did not run may loop forever in Python
                theirs = python_values(text.replace("os.getenv('X')", condition))
        except (Exception, TooLong):  # noqa: BLE001 - that variant fails in Python: nothing to compare
            continue
        for key, value in result.values.items():
            assert key in theirs or isinstance(value, Opaque), (key, condition, text)
            assert key not in theirs or known_parts_agree(plain(value), theirs[key]), (key, condition, text)
