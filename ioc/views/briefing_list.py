"""The stored briefings as the /briefings page and `ioc briefing list` show them: newest first,
status and reason in words (Vietnamese, English on the switch), a download only for a briefing
that passed its checks and whose file exists. A failed attempt whose briefing (same kind, same
day) was made again and passed is *superseded*: the page folds it into the passing row ("sau 1
lần không đạt"); `ioc briefing list` shows it with that status. Part of the read model
(docs/views.md, docs/briefings.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.formatting import format_datetime, format_number
from ioc.i18n import t
from ioc.views import briefing_text as bt


@dataclass
class BriefingRow:
    id: int
    kind: str
    status: str  # done | failed | pending | superseded (failed, then made again and passed)
    status_label: str
    period_label: str
    made_at: str
    pages_text: str
    size_text: str
    path: str | None
    downloadable: bool
    reason: str | None
    checks: list[dict]
    earlier_failures: int = 0  # superseded attempts folded into this (passing) row
    mail: str | None = None  # the mail's outcome in words, when it was to be mailed

    def as_dict(self) -> dict:
        return asdict(self)


def _period_label(row: m.Briefing, tz, lang: str) -> str:
    if row.last_day is None:
        return format_datetime(row.period_start, tz)[:10]
    return bt.period_label(row.kind, row.last_day, lang)


def _to_row(r: m.Briefing, tz, lang: str, superseded: bool, earlier: int) -> BriefingRow:
    ok_file = r.status == "done" and bool(r.path) and Path(r.path).is_file()
    status = "superseded" if superseded else r.status
    label = t(f"briefings.status.{status}", lang)
    if earlier:
        label += f" ({t('briefings.retried', lang).format(n=format_number(earlier, lang=lang))})"
    if r.status == "done":
        reason = None if ok_file else t("briefings.file_gone", lang)
    else:
        reason = bt.capitalised(bt.reason(r.reason, bt.failed_check_names(r.checks), r.error, lang))
    return BriefingRow(
        id=r.id, kind=r.kind, status=status, status_label=label,
        period_label=_period_label(r, tz, lang), made_at=format_datetime(r.created_at, tz),
        pages_text=format_number(r.pages, lang=lang) if r.pages else "—",
        size_text="—" if not r.size_bytes else f"{format_number(r.size_bytes / 1024, 0, lang=lang)} KB",
        path=r.path, downloadable=ok_file, reason=reason, checks=list(r.checks or []), earlier_failures=earlier,
        mail=t(f"briefings.mail.{r.mail_status}", lang) if r.status == "done" and r.mail_status else None)


def briefings(views, *, limit: int = 50, lang: str = "vi", fold_superseded: bool = False) -> list[BriefingRow]:
    """Newest first. ``fold_superseded``: leave out failed attempts whose briefing was made again
    and passed, counting them on the passing row instead (what /briefings shows)."""
    with Session(views.engine()) as s:
        rows = s.execute(select(m.Briefing).order_by(m.Briefing.created_at.desc(), m.Briefing.id.desc())
                         .limit(limit)).scalars().all()
        slots = {(r.kind, r.last_day) for r in rows if r.last_day is not None}
        passed = {}  # (kind, day) → id of the first passing run
        if slots:
            days = {d for _k, d in slots}
            for rid, kind, day in s.execute(select(m.Briefing.id, m.Briefing.kind, m.Briefing.last_day)
                                            .where(m.Briefing.status == "done", m.Briefing.last_day.in_(days))
                                            .order_by(m.Briefing.id)):
                passed.setdefault((kind, day), rid)
    superseded = {r.id for r in rows if r.status == "failed" and passed.get((r.kind, r.last_day), 0) > r.id}
    earlier: dict[int, int] = {}
    if fold_superseded:
        for r in rows:
            if r.id in superseded:
                first_pass = passed[(r.kind, r.last_day)]
                earlier[first_pass] = earlier.get(first_pass, 0) + 1
    return [_to_row(r, views.tz, lang, r.id in superseded, earlier.get(r.id, 0)) for r in rows
            if not (fold_superseded and r.id in superseded)]


def briefing_file(views, briefing_id: int) -> Path | None:
    """The PDF of a briefing that passed its checks, or None (failed, pending, gone)."""
    with Session(views.engine()) as s:
        r = s.get(m.Briefing, briefing_id)
    if r is None or r.status != "done" or not r.path:
        return None
    p = Path(r.path)
    return p if p.is_file() else None
