"""A briefing the schedule says is due, with no record at all an hour after its time, is overdue
and raises its alert (a scheduler that is down, or whose attempts are refused before they reach
the database, leaves no failed record); its pass clears it."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.kpi.orchestrator import briefing_conditions
from ioc.kpi.snapshot_briefings import OVERDUE_AFTER, briefings_section

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAILY = {"daily": time(7, 0), "weekly": None}


def _record(engine, day: date, status: str) -> None:
    at = datetime(2026, 12, 2, 0, 0, tzinfo=TZ)
    with Session(engine) as s, s.begin():
        s.add(m.Briefing(kind="daily", last_day=day, period_start=at, period_end=at, status=status, created_at=at,
                         finished_at=at, reason="write" if status == "failed" else None))


def _first_poll(engine, at: datetime) -> None:
    with Session(engine) as s, s.begin():
        s.add(m.SourceRun(source="hotline", started_at=at, finished_at=at, ok=True))


def _by_day(items):
    return {i["last_day"]: i["status"] for i in items if i["kind"] == "daily"}


def test_overdue_an_hour_after_its_time_and_cleared_by_its_pass(engine):
    _first_poll(engine, datetime(2026, 11, 1, tzinfo=TZ))
    # 07:30: the briefing of 01/12 has been due for 30 min: not yet overdue; the two before it are
    early = briefings_section(engine, TZ, datetime(2026, 12, 2, 7, 30, tzinfo=TZ), DAILY)["items"]
    assert _by_day(early) == {"2026-11-29": "overdue", "2026-11-30": "overdue"}
    assert datetime(2026, 12, 2, 7, 0, tzinfo=TZ) + OVERDUE_AFTER > datetime(2026, 12, 2, 7, 30, tzinfo=TZ)

    now = datetime(2026, 12, 2, 8, 30, tzinfo=TZ)
    _record(engine, date(2026, 11, 29), "done")
    _record(engine, date(2026, 11, 30), "failed")  # a recorded failure: the failure's item, not "overdue"
    items = briefings_section(engine, TZ, now, DAILY)["items"]
    assert _by_day(items) == {"2026-11-29": "passed", "2026-11-30": "failed", "2026-12-01": "overdue"}
    assert [i["last_day"] for i in items].count("2026-11-30") == 1

    conds = {c.key: c for c in briefing_conditions({"briefings": {"available": True, "items": items}})}
    overdue = conds["briefing:daily:2026-12-01"]
    assert overdue.raising is True and "overdue" in overdue.message
    assert conds["briefing:daily:2026-11-29"].clearing is True

    _record(engine, date(2026, 12, 1), "done")
    assert _by_day(briefings_section(engine, TZ, now, DAILY)["items"])["2026-12-01"] == "passed"


def test_nothing_overdue_before_an_hour_of_polling_or_when_the_schedule_is_off(engine):
    now = datetime(2026, 12, 2, 8, 30, tzinfo=TZ)
    assert briefings_section(engine, TZ, now, DAILY)["items"] == []  # never polled: not started
    _first_poll(engine, datetime(2026, 12, 2, 7, 45, tzinfo=TZ))  # a fresh start: catching up
    assert briefings_section(engine, TZ, now, DAILY)["items"] == []
    assert _by_day(briefings_section(engine, TZ, now + OVERDUE_AFTER, DAILY)["items"]) == {
        "2026-11-29": "overdue", "2026-11-30": "overdue", "2026-12-01": "overdue"}
    assert briefings_section(engine, TZ, now, {"daily": None, "weekly": None})["items"] == []
    assert briefings_section(engine, TZ, now)["items"] == []


def test_the_alert_sentence_says_what_to_check():
    from ioc.views import text

    item = {"key": "briefing:daily:2026-12-01", "rule": "briefing",
            "details": {"kind": "daily", "last_day": "2026-12-01", "reason": "overdue"}}
    vi = text.alert_sentence(item, "vi", {})
    en = text.alert_sentence(item, "en", {})
    assert vi.startswith("Bản tin ngày 01/12/2026 chưa được lập") and "thư mục" in vi
    assert en.startswith("Daily briefing 01/12/2026 not made: past its time") and "scheduler" in en
