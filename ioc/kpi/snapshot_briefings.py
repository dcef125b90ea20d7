"""The snapshot's ``briefings`` part: the briefings whose last attempt failed and that have not
been made since (each one raises an alert, ``briefing:{kind}:{day}``), and those made again
and passed lately (each one clears its alert). Read from the SQL table ``briefings`` the
briefing builds write (docs/briefings.md § Alert).

* Only a briefing of the last ``RAISE_DAYS`` days raises: a date typed by hand years back
  that has no data is said on its own terminal and on /briefings, not on the wall.
* An older failure still unresolved neither raises nor clears (an alert it raised stays
  active until a run of that briefing passes).
* A pass clears: failures resolved by a pass finished in the last ``CLEARED_DAYS`` days are
  listed, ample for the KPI scheduler's next evaluation to see them.
* A briefing the schedule says is due but that has no record at all ``OVERDUE_AFTER`` past its
  time is ``overdue`` and raises too: a scheduler that is not running, or whose attempts are
  refused before they reach the database (an unwritable folder, no font), leaves no failed
  record, and the centre must still learn that the morning briefing is missing. Its pass clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ioc.briefings.slots import KIND, due_slots
from ioc.db import models as m
from ioc.kpi.dates import local_day
from ioc.kpi.jsonable import iso

RAISE_DAYS = 31
CLEARED_DAYS = 7
# the scheduler waits up to 30 min for the sources' first data (FIRST_DATA_WAIT), then a build
# takes seconds and a failed one is recorded: an hour without any record is not a slow start
OVERDUE_AFTER = timedelta(hours=1)
OVERDUE_DAYS = 2  # due dates looked at: today and the days before (as far as the scheduler catches up)


def briefings_section(engine, zone: ZoneInfo, now: datetime, schedule: Mapping | None = None) -> dict:
    """``schedule``: the scheduler's ``daily``/``weekly`` times (ioc.briefings.slots), to find the
    overdue briefings; None: not looked for."""
    b = m.Briefing
    done = func.sum(case((b.status == "done", 1), else_=0))
    failed = func.sum(case((b.status == "failed", 1), else_=0))
    passed_at = func.max(case((b.status == "done", b.finished_at), else_=None))
    with Session(engine) as s:
        slots = s.execute(select(b.kind, b.last_day, done, failed, passed_at)
                          .where(b.last_day.is_not(None)).group_by(b.kind, b.last_day)
                          .having(failed > 0)).all()
        unresolved = [(k, d) for k, d, n_done, _n_failed, _at in slots if not n_done]
        last_failed = {}
        if unresolved:
            days = {d for _k, d in unresolved}
            for r in s.execute(select(b).where(b.status == "failed", b.last_day.in_(days))
                               .order_by(b.id)).scalars():
                last_failed[(r.kind, r.last_day)] = r  # the newest attempt wins
    today = local_day(now, zone)
    items = []
    for kind, day, n_done, n_failed, at in slots:
        if n_done:
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=now.tzinfo)
            if at is not None and now - at <= timedelta(days=CLEARED_DAYS):
                items.append({"kind": kind, "last_day": day.isoformat(), "status": "passed", "attempts": int(n_failed)})
            continue
        r = last_failed.get((kind, day))
        if r is None:
            continue
        items.append({
            "kind": kind, "last_day": day.isoformat(), "status": "failed", "attempts": int(n_failed),
            "recent": today - timedelta(days=RAISE_DAYS) <= day <= today, "id": r.id, "reason": r.reason,
            "failed_checks": [c.get("name") for c in (r.checks or []) if not c.get("ok")],
            "error": (r.error or "")[:300] or None, "finished_at": iso(r.finished_at)})
    if schedule is not None:
        listed = {(i["kind"], i["last_day"]) for i in items}
        items += [i for i in overdue_items(engine, zone, now, schedule) if (i["kind"], i["last_day"]) not in listed]
    items.sort(key=lambda x: (x["last_day"], x["kind"]))
    return {"available": True, "items": items}


def overdue_items(engine, zone: ZoneInfo, now: datetime, schedule: Mapping) -> list[dict]:
    """The schedule's slots of the last ``OVERDUE_DAYS`` days due, and the product polling, for
    more than ``OVERDUE_AFTER``: ``overdue`` without any record, ``passed`` once made (which clears an overdue alert;
    one that never raised is not changed by it)."""
    b = m.Briefing
    with Session(engine) as s:
        # counted from the product's first poll at the latest: a fresh start (the demo, a new
        # install) makes its catch-up briefings before anything is late
        first = s.execute(select(m.SourceRun.started_at).order_by(m.SourceRun.id).limit(1)).scalar()
        if first is None:
            return []
        first = first if first.tzinfo else first.replace(tzinfo=now.tzinfo)
        slots = [sl for sl in due_slots(now, zone, daily=schedule.get("daily"), weekly=schedule.get("weekly"),
                                         catch_up_days=OVERDUE_DAYS) if max(sl.due, first) <= now - OVERDUE_AFTER]
        if not slots:
            return []
        rows = s.execute(select(b.kind, b.last_day, b.status)
                         .where(b.last_day.in_({sl.last_day for sl in slots}))).all()
    recorded = {(k, d): set() for k, d, _st in rows}
    for k, d, st in rows:
        recorded[(k, d)].add(st)
    out = []
    for sl in slots:
        kind, statuses = KIND[sl.period], recorded.get((KIND[sl.period], sl.last_day))
        if statuses is None:
            out.append({"kind": kind, "last_day": sl.last_day.isoformat(), "status": "overdue", "attempts": 0,
                        "recent": True, "reason": "overdue", "failed_checks": [], "error": None,
                        "due": iso(sl.due)})
        elif "done" in statuses:
            out.append({"kind": kind, "last_day": sl.last_day.isoformat(), "status": "passed", "attempts": 0})
    return out


def unavailable() -> dict:
    return {"available": False, "items": []}
