"""No SQL is built from strings: every statement is SQLAlchemy's, with bound parameters.

The open-source panels that exist build queries by concatenating request values; here a
statement given as text must be a constant. This walks the package's syntax trees and refuses
``text(...)``, ``execute(...)`` and ``exec_driver_sql(...)`` whose SQL is an f-string, a
``+``/``%`` expression or a ``.format()`` call (two PRAGMAs built from module constants are
the listed exceptions).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "opensmm"
SQL_CALLS = {"text", "execute", "exec_driver_sql", "executescript"}
ALLOWED = {"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _built(node: ast.expr) -> str | None:
    """The source of a string-building expression, or None for anything else."""
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        )
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Add | ast.Mod)
        and any(
            isinstance(side, ast.Constant) and isinstance(side.value, str)
            for side in (node.left, node.right)
        )
    ):
        return ast.unparse(node)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return ast.unparse(node)
    return None


def test_no_statement_is_built_from_strings() -> None:
    found = []
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50  # the walk really sees the package
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in SQL_CALLS and node.args:
                built = _built(node.args[0])
                if built is not None and built not in ALLOWED:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {built}")
    assert found == []


def test_the_check_sees_what_it_forbids() -> None:
    sample = "session.execute(text(f\"SELECT * FROM orders WHERE link = '{link}'\"))"
    call = ast.parse(sample).body[0].value  # type: ignore[attr-defined]
    inner = call.args[0]
    assert _name(inner.func) == "text" and _built(inner.args[0]) is not None
    assert _built(ast.parse('"a" + link').body[0].value) is not None  # type: ignore[attr-defined]
    assert _built(ast.parse('"SELECT 1"').body[0].value) is None  # type: ignore[attr-defined]
