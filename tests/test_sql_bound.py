"""SQL only through bound parameters: no SQL text is built from values at run time.

A lint over the product's code (not tests or benchmarks): the SQL-taking calls (``text``,
``exec_driver_sql``, ``execute``, ``op.execute``, ``literal_column``) must get a constant
string or SQLAlchemy constructs, never an f-string, ``%`` or ``+`` with a value, or
``.format()``. The few exceptions format module constants only and are listed with why; a
new one fails here until it is reviewed and listed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ioc", "connectors", "geo", "layouts", "simulator")
CALLS = {"text", "exec_driver_sql", "execute", "literal_column", "executescript"}
# (file, a piece of the call's source) → why it is safe
REVIEWED = {
    ("ioc/kpi/sql.py", "PRAGMA mmap_size"): "a module constant (an int)",
    ("connectors/writer.py", "_OBS_UPSERT.format"): "only the driver's placeholder style (? or %s); values bound",
    ("ioc/db/migrations/versions/0007_pii_access_log.py", "pii_access_log_append_only()"): "a module constant message",
    ("ioc/db/migrations/versions/0007_pii_access_log.py", "pii_access_log_no_"): "UPDATE/DELETE from a literal tuple",
}


def _built(node: ast.AST) -> bool:
    """Is this expression SQL text built at run time?"""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return not (isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return True
    return False


def _name(func: ast.AST) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def findings() -> list[tuple[str, int, str]]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Call) and _name(node.func) in CALLS and node.args and _built(node.args[0]):
                    snippet = ast.get_source_segment(source, node) or ""
                    if not any(f == rel and piece in snippet for f, piece in REVIEWED):
                        out.append((rel, node.lineno, snippet[:100]))
    return out


def test_sql_text_is_never_built_from_values():
    assert findings() == []


def test_the_lint_catches_what_it_is_for(tmp_path):
    bad = ast.parse('conn.execute(text(f"SELECT * FROM t WHERE id = {x}"))\n'
                    'conn.exec_driver_sql("DELETE FROM t WHERE id = %s" % x)\nsession.execute(q.format(x))')
    calls = [n for n in ast.walk(bad) if isinstance(n, ast.Call) and _name(n.func) in CALLS and n.args]
    assert sum(_built(c.args[0]) for c in calls) == 3
    ok = ast.parse('conn.execute(text("SELECT * FROM t WHERE id = :id"), {"id": x})')
    assert not any(_built(n.args[0]) for n in ast.walk(ok) if isinstance(n, ast.Call) and n.args)
