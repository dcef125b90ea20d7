"""Security events in the append-only ``audit_log`` table (the app has no way to edit it)."""

from __future__ import annotations

from datetime import datetime, timezone

from ioc.db import models as m


def record(conn, actor: str, action: str, target: str | None = None, **details) -> None:
    """One row in the caller's transaction (``conn``: a SQLAlchemy Connection or Session)."""
    row = {"at": datetime.now(timezone.utc), "actor": (actor or "?")[:100], "action": action[:100],
           "target": (target or None) and target[:300], "details": details}
    conn.execute(m.AuditLog.__table__.insert().values(**row))
