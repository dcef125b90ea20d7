"""Make one briefing: figures → view → PDF → checks → file + SQL record.

A briefing that fails its checks is marked failed with the reasons and kept only as
``*.failed.pdf`` (never offered for download); bad input (no data, a date not yet begun, no
font, an unwritable folder, a full disk) is one line, recorded as failed when the database
can be reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ioc.briefings import checks, render, store
from ioc.briefings.fonts import find_font
from ioc.errors import UserError
from ioc.views.briefing import PERIODS, BriefingInputError, briefing_view

# The steps a build reports to its progress callback, in order.
STEPS = ("font", "figures", "trend", "tables", "map", "render", "checks", "store")


class BriefingFailed(UserError):
    """The briefing was made but failed its checks: exit status 1."""

    exit_code = 1


class NotRecorded(UserError):
    """Refused before the database was reached (bad arguments, no font, an unwritable folder,
    the database down): nothing in SQL counts it, so the scheduler backs off in memory."""


@dataclass
class BuildResult:
    record_id: int | None
    status: str
    path: Path | None
    pages: int | None = None
    size: int | None = None
    seconds: float = 0.0
    checks: list[checks.CheckResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    title: str = ""
    period_label: str = ""
    narrative: str = ""


def parse_day(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"bad date {value!r}: use YYYY-MM-DD") from None


def build(views, period: str, day: str | date, *, out: str | None = None, progress: Callable[[str], None] = lambda s: None,
          blank_figures: tuple[str, ...] = (), personal: tuple[str, ...] = (), mail: bool = False) -> BuildResult:
    """Build, check and store one briefing; raises UserError (one line) on bad input —
    NotRecorded when the database was not reached — and BriefingFailed when the PDF fails its
    checks (after recording it). ``mail``: a briefing that passes is marked to be mailed
    (``mail_status`` pending: ioc.briefings.mail delivers it, retrying with backoff)."""
    t0 = time.monotonic()
    try:
        if period not in PERIODS:
            raise UserError(f"unknown period {period!r}: choose day or week")
        last = parse_day(day)
        path = store.output_path(views.settings, period, last, out)
        progress("font")
        font = find_font(views.settings.briefing_font_dir)
    except UserError as e:
        raise NotRecorded(str(e)) from None
    engine = views.engine()
    try:
        record = store.start_record(engine, period, last, None, None)
    except Exception as e:  # noqa: BLE001 - the database is down: one line
        raise NotRecorded(f"cannot record the briefing in the database: {' '.join(str(e).split())[:200]}") from None
    try:
        view = briefing_view(views, period, last, progress=progress)
    except BriefingInputError as e:
        store.finish_record(engine, record, status="failed", error=str(e), reason=e.code)
        raise UserError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - recorded, then one line
        store.finish_record(engine, record, status="failed", error=f"could not read the figures: {e}"[:500],
                            reason="figures")
        raise UserError(f"could not read the figures for the briefing: {' '.join(str(e).split())[:200]}") from None
    progress("render")
    data = render.pdf(view, font, blank_figures=blank_figures)
    progress("checks")
    results = checks.check_pdf(data, expected_values=view.expected, personal=personal,
                               figures=view.drawn_figures())
    failures = checks.failures(results)
    pages = next((int(r.detail.split()[0]) for r in results if r.name == "pages"), None)
    progress("store")
    target = path if not failures else store.failed_path(path)
    status = "done" if not failures else "failed"
    try:
        store.write_file(target, data)
    except UserError as e:
        store.finish_record(engine, record, status="failed", error=str(e), checks=[r.as_dict() for r in results],
                            start=view.period_start, end=view.period_end, reason="write")
        raise
    store.finish_record(engine, record, status=status, path=target, error="; ".join(failures) or None,
                        checks=[r.as_dict() for r in results], pages=pages, size=len(data),
                        start=view.period_start, end=view.period_end, reason="checks" if failures else None,
                        summary=view.narrative, mail=mail)
    res = BuildResult(record, status, target, pages, len(data), time.monotonic() - t0, results, failures,
                      view.title, view.period_label, view.narrative)
    if failures:
        raise BriefingFailed(f"briefing {record} failed its checks ({'; '.join(failures)}); kept as {target}")
    return res
