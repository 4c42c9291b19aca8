"""Python 2 `print` statements of old RETURNN configs, read as no-ops.

RETURNN's demos from its Theano days (`demos/demo-theano-*.config`) greet with `print "Hello, experiment: %s" %
demo_name`. RETURNN runs configs under Python 3 today (`Config.load_file` -> `custom_exec`), where that line
is a syntax error. The statement only prints: it sets no config key, so netc reads such a file as if the
statement were `pass`, and says so in a located warning with the Python 3 spelling.
The form `print >>sys.stderr, "x"` parses under Python 3 (a tuple whose first item shifts the print function)
and fails only when run (TypeError), so it is found in the syntax tree instead and read the same way, with or
without `--exec-config`. Any other Python 2 syntax (`exec code`, `except E, e`) stays a located syntax error.
"""

from __future__ import annotations

import ast
import io
import tokenize

__all__ = ["PRINT_STATEMENT", "without_print_chevrons", "without_print_statement"]

PRINT_STATEMENT = "Missing parentheses in call to 'print'"  # CPython's message for a Python 2 print statement


def without_print_statement(text: str, error: SyntaxError) -> str | None:
    """`text` with the print statement `error` points at replaced by `pass`, or None when it is not one.

    The replacement keeps every line and column of the rest of the file (the statement's first line becomes
    `pass` padded with spaces, its continuation lines blank), so positions and tracebacks stay true. The
    statement ends where Python's tokenizer ends it: at its logical line's end or at a `;`.
    """
    if not (error.msg or "").startswith(PRINT_STATEMENT) or not error.lineno or not error.offset:
        return None
    lines = text.splitlines(keepends=True)
    row, col = error.lineno - 1, error.offset - 1
    if row >= len(lines) or not lines[row][col:].startswith("print"):
        return None
    rest = "".join([lines[row][col:], *lines[row + 1:]])
    end = statement_end(rest)
    if end is None:
        return None
    end_row, end_col = row + end[0] - 1, end[1] + (col if end[0] == 1 else 0)
    start = sum(len(line) for line in lines[:row]) + col
    stop = sum(len(line) for line in lines[:end_row]) + end_col
    first, *others = text[start:stop].split("\n")
    blanked = ["pass".ljust(len(first))] + [" " * len(part.rstrip("\r")) + "\r" * part.endswith("\r")
                                             for part in others]
    return text[:start] + "\n".join(blanked) + text[stop:]


def statement_end(source: str) -> tuple[int, int] | None:
    """(row, col) of the end of the simple statement `source` starts with (1-based row as `tokenize` counts);
    None when the tokenizer cannot read it (an unterminated bracket or string)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or token.string == ";":
                return token.start
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def without_print_chevrons(tree: ast.Module) -> list[int]:
    """Replace, in place, each statement `print >>f` / `print >>f, x, ...` (Python 2's print to a file) by
    `pass`; the lines of the replaced statements."""
    lines: list[int] = []

    class Chevrons(ast.NodeTransformer):
        def visit_Expr(self, node: ast.Expr) -> ast.AST:  # noqa: N802 - ast.NodeTransformer's naming
            value = node.value
            first = value.elts[0] if isinstance(value, ast.Tuple) and value.elts else value
            if (isinstance(first, ast.BinOp) and isinstance(first.op, ast.RShift)
                    and isinstance(first.left, ast.Name) and first.left.id == "print"):
                lines.append(node.lineno)
                return ast.copy_location(ast.Pass(), node)
            return node

    Chevrons().visit(tree)
    return lines
