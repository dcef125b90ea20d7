"""The stored briefings as the /briefings page and `ioc briefing list` show them: newest first,
status in words, a download only for a briefing that passed its checks and whose file exists.
Part of the read model (docs/views.md, docs/briefings.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.i18n import t
from ioc.formatting import format_datetime, format_number

KIND_LABEL = {"daily": "Ngày", "weekly": "Tuần"}


@dataclass
class BriefingRow:
    id: int
    kind: str
    status: str
    status_label: str
    period_label: str
    made_at: str
    pages_text: str
    size_text: str
    path: str | None
    downloadable: bool
    reason: str | None
    checks: list[dict]

    def as_dict(self) -> dict:
        return asdict(self)


def _period_label(row: m.Briefing, tz) -> str:
    last = row.last_day
    if last is None:
        return format_datetime(row.period_start, tz)[:10]
    if row.kind == "weekly":
        return f"Tuần {(last - timedelta(days=6)).strftime('%d/%m/%Y')} – {last.strftime('%d/%m/%Y')}"
    return f"Ngày {last.strftime('%d/%m/%Y')}"


def _to_row(r: m.Briefing, tz) -> BriefingRow:
    ok_file = r.status == "done" and bool(r.path) and Path(r.path).is_file()
    return BriefingRow(
        id=r.id, kind=r.kind, status=r.status, status_label=t(f"briefings.status.{r.status}", "vi"),
        period_label=_period_label(r, tz), made_at=format_datetime(r.created_at, tz),
        pages_text=format_number(r.pages) if r.pages else "—",
        size_text="—" if not r.size_bytes else f"{format_number(r.size_bytes / 1024, 0)} KB",
        path=r.path, downloadable=ok_file,
        reason=r.error if r.status != "done" else (None if ok_file else "Tệp không còn trên máy chủ"),
        checks=list(r.checks or []))


def briefings(views, *, limit: int = 50) -> list[BriefingRow]:
    """Newest first."""
    with Session(views.engine()) as s:
        rows = s.execute(select(m.Briefing).order_by(m.Briefing.created_at.desc(), m.Briefing.id.desc())
                         .limit(limit)).scalars().all()
    return [_to_row(r, views.tz) for r in rows]


def briefing_file(views, briefing_id: int) -> Path | None:
    """The PDF of a briefing that passed its checks, or None (failed, pending, gone)."""
    with Session(views.engine()) as s:
        r = s.get(m.Briefing, briefing_id)
    if r is None or r.status != "done" or not r.path:
        return None
    p = Path(r.path)
    return p if p.is_file() else None
