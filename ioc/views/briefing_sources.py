"""What a briefing needs beyond the period figures, read from SQL for one period: the alert
episodes that were open during it, cameras offline for long at its end, each source's polls
during it (the data-coverage statement), and the names behind station and camera ids.

Part of the read model (docs/views.md): the briefing code reads these through
``ioc.views.briefing``, never the tables. No personal data: no ticket, reporter or address.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.live_store import SOURCES

# A camera offline at least this long at the period's end is "long offline" (a working day).
LONG_OFFLINE = timedelta(hours=24)
# A gap between two successful polls longer than this counts as a coverage gap in the statement.
COVERAGE_GAP = timedelta(minutes=30)


def _aware(at: datetime | None) -> datetime | None:
    from datetime import timezone

    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def period_alerts(engine, start: datetime, end: datetime) -> list[dict]:
    """Alert episodes open at any moment of [start, end): raised before the end and not resolved
    before the start. Most severe first, then oldest."""
    a = m.Alert
    with Session(engine) as s:
        rows = s.execute(select(a.key, a.rule, a.severity, a.state, a.message, a.details, a.first_at, a.resolved_at)
                         .where(a.first_at < end, or_(a.resolved_at.is_(None), a.resolved_at >= start))).all()
    rank = {"critical": 0, "warning": 1, "info": 2}
    out = []
    for key, rule, severity, state, message, details, first_at, resolved_at in rows:
        d = dict(details or {})
        out.append({"key": key, "rule": rule, "subject": key.split(":", 1)[1] if ":" in key else key,
                    "severity": severity, "state": state, "message": message, "details": d,
                    "value": d.get("value"), "first_at": _aware(first_at), "resolved_at": _aware(resolved_at)})
    out.sort(key=lambda r: (rank.get(r["severity"], 3), r["first_at"]))
    return out


def long_offline_cameras(engine, at: datetime) -> list[dict]:
    """Cameras offline since before ``at − LONG_OFFLINE`` (their registry status), grouped by
    commune and owner agency: count and the longest outage in hours, longest first."""
    c = m.Camera
    with Session(engine) as s:
        rows = s.execute(select(c.commune_code, c.agency, c.status_since)
                         .where(func.lower(func.trim(c.status)) == "offline", c.status_since.is_not(None),
                                c.status_since <= at - LONG_OFFLINE)).all()
    groups: dict[tuple, dict] = {}
    for commune, agency, since in rows:
        g = groups.setdefault((commune, agency), {"commune": commune, "agency": agency, "count": 0, "hours": 0.0})
        g["count"] += 1
        g["hours"] = max(g["hours"], (at - _aware(since)).total_seconds() / 3600)
    return sorted(groups.values(), key=lambda g: (-g["hours"], -g["count"]))


def camera_total(engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(m.Camera)).scalar_one()


def source_coverage(engine, start: datetime, end: datetime) -> dict[str, dict]:
    """Per source, its polls during [start, end): how many, how many failed, the first and last
    failure, and gaps longer than COVERAGE_GAP between successful polls (also before the first
    and after the last one)."""
    r = m.SourceRun
    with Session(engine) as s:
        rows = s.execute(select(r.source, r.started_at, r.ok, r.error)
                         .where(r.started_at >= start - COVERAGE_GAP, r.started_at < end)
                         .order_by(r.source, r.started_at)).all()
        before = dict(s.execute(select(r.source, func.max(r.started_at))
                                .where(r.started_at < start, r.ok.is_(True)).group_by(r.source)).all())
    per: dict[str, list] = defaultdict(list)
    for source, at, ok, error in rows:
        per[source].append((_aware(at), bool(ok), error))
    out = {}
    for source in SOURCES:
        runs = [x for x in per.get(source, []) if x[0] >= start]
        fails = [x for x in runs if not x[1]]
        oks = [x[0] for x in per.get(source, []) if x[1]]
        last = _aware(before.get(source))
        gaps = []
        prev = last if last is not None else None
        for at in oks + [end]:
            lo = max(prev, start) if prev is not None else start
            if at - lo > COVERAGE_GAP and at > start:
                gaps.append((lo, at))
            prev = at
        out[source] = {"runs": len(runs), "failed": len(fails),
                       "first_failure": fails[0][0] if fails else None,
                       "last_failure": fails[-1][0] if fails else None,
                       "last_error": (fails[-1][2] or "")[:160] if fails else None,
                       "gaps": gaps}
    return out


def station_names(engine) -> dict[str, str]:
    with Session(engine) as s:
        return dict(s.execute(select(m.Station.id, m.Station.name)).all())


def camera_names(engine, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    with Session(engine) as s:
        return dict(s.execute(select(m.Camera.id, m.Camera.name).where(m.Camera.id.in_(ids))).all())


__all__ = ["period_alerts", "long_offline_cameras", "camera_total", "source_coverage", "station_names",
           "camera_names", "LONG_OFFLINE", "COVERAGE_GAP"]
