"""Daily KPI rollups: built for closed days only, read by period queries with the same
figures as counting the raw history whole, and rebuilt after connectors touch a day."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from test_periods import NOW, TZ, _random_history, _strip

from connectors.writer import record_touches
from ioc.db import models as m
from ioc.kpi import periods, rollups
from ioc.kpi.periods import period_figures

UTC = timezone.utc
QUERIES = (("month", {"date": "2026-05-20"}), ("week", {"date": "2026-05-20"}), ("day", {"date": "2026-05-19"}),
           ("custom", {"start": "2026-05-16", "end": "2026-05-19"}))


def _whole(engine, period, kw):
    periods.clear_cache()
    try:
        return _strip(period_figures(engine, period, tz=TZ, now=NOW, split_open=False, use_rollups=False, **kw))
    finally:
        periods.clear_cache()


def _parts(engine) -> dict[str, list[date]]:
    t = m.KpiDayPart.__table__
    with engine.connect() as conn:
        out: dict[str, list[date]] = {}
        for d, day in conn.execute(select(t.c.domain, t.c.day).order_by(t.c.domain, t.c.day)):
            out.setdefault(d, []).append(day)
    return out


def test_closed_days_only_and_periods_equal_the_whole_count(engine):
    _random_history(engine)
    res = rollups.refresh(engine, TZ, now=NOW)
    assert {d: r["built"] for d, r in res.items()} == {"cameras": 4, "environment": 5, "procedures": 4}
    parts = _parts(engine)
    # 20 May (today) is never stored; the environment's first day holds the 8-hour windows
    # reaching back 7 h before the first observation
    assert parts["procedures"] == [date(2026, 5, d) for d in (16, 17, 18, 19)]
    assert parts["environment"] == [date(2026, 5, d) for d in (15, 16, 17, 18, 19)]
    assert rollups.refresh(engine, TZ, now=NOW)["procedures"]["built"] == 0  # nothing missing any more
    for period, kw in QUERIES:
        periods.clear_cache()
        got = _strip(period_figures(engine, period, tz=TZ, now=NOW, **kw))
        assert got == _whole(engine, period, kw), period
    assert got["procedures"]["province"]["indicators"]["2.1"]["value"] is not None
    assert got["environment"]["figures"]["mean_daily_aqi"] is not None


def test_queries_read_the_stored_parts(engine):
    """Proof that the parts are what a query adds up: a doctored part shows in the figures."""
    _random_history(engine)
    rollups.refresh(engine, TZ, now=NOW)
    kw = {"start": "2026-05-16", "end": "2026-05-19"}
    periods.clear_cache()
    before = period_figures(engine, "custom", tz=TZ, now=NOW, **kw)["cameras"]["figures"]["offline_events"]
    t = m.KpiDayPart.__table__
    with engine.begin() as conn:
        payload = json.loads(conn.execute(select(t.c.payload).where(
            t.c.domain == "cameras", t.c.day == date(2026, 5, 17))).scalar())
        payload["events"] += 100
        conn.execute(update(t).where(t.c.domain == "cameras", t.c.day == date(2026, 5, 17))
                     .values(payload=json.dumps(payload)))
    periods.clear_cache()
    after = period_figures(engine, "custom", tz=TZ, now=NOW, **kw)["cameras"]["figures"]["offline_events"]
    assert after == before + 100


def test_a_late_correction_rebuilds_the_days_it_touched(engine):
    _random_history(engine)
    rollups.refresh(engine, TZ, now=NOW)
    kw = {"start": "2026-05-16", "end": "2026-05-19"}
    d = m.Dossier.__table__
    with Session(engine) as s, s.begin():
        row = s.execute(select(d.c.id, d.c.received_at, d.c.finished_at).where(
            d.c.finished_at.is_not(None), d.c.finished_at < datetime(2026, 5, 18, 17, tzinfo=UTC)).limit(1)).one()
        new_fin = row.finished_at + timedelta(days=1)  # the upstream corrects the finishing time
        s.execute(update(d).where(d.c.id == row.id).values(finished_at=new_fin))
        assert record_touches(s, "procedures", [row.received_at, row.finished_at, new_fin]) >= 1
    periods.clear_cache()
    stale = _strip(period_figures(engine, "custom", tz=TZ, now=NOW, **kw))
    truth = _whole(engine, "custom", kw)
    # the stored parts still hold the old finishing day until the scheduler's next refresh
    assert stale["procedures"] != truth["procedures"]
    res = rollups.refresh(engine, TZ, now=NOW)
    assert res["procedures"]["invalidated"] >= 1 and res["procedures"]["built"] == res["procedures"]["invalidated"]
    assert res["cameras"]["invalidated"] == 0  # a dossier touches only the procedures' days
    periods.clear_cache()
    assert _strip(period_figures(engine, "custom", tz=TZ, now=NOW, **kw)) == truth


def test_unsettled_touches_are_read_again(engine):
    _random_history(engine)
    rollups.refresh(engine, TZ, now=NOW)
    with Session(engine) as s, s.begin():
        record_touches(s, "environment", [datetime(2026, 5, 16, 20, tzinfo=UTC)])  # 03:00 on 17 May local
    t = m.SourceCursor.__table__
    zone = rollups.ZoneInfo(TZ)
    real_now = datetime.now(UTC)
    # just recorded: its days are rebuilt, and the mark stays before it (a transaction with a
    # lower id may still commit on PostgreSQL)
    first = rollups.invalidate(engine, "environment", zone, real_now)
    assert first == 2  # 17 May, and 16 May: its last 8-hour windows end at 07:00 on the 17th
    with engine.connect() as conn:
        assert conn.execute(select(t.c.cursor).where(t.c.source == f"kpi-rollup:environment:{TZ}")).scalar() is None
    assert rollups.invalidate(engine, "environment", zone, real_now) == 2
    later = real_now + rollups.SETTLE + timedelta(seconds=1)
    assert rollups.invalidate(engine, "environment", zone, later) == 2
    assert rollups.invalidate(engine, "environment", zone, later) == 0  # settled: the mark moved past it


def test_codec_round_trip_keeps_missing_communes_and_zero_days(engine):
    _random_history(engine)
    zone = rollups.ZoneInfo(TZ)
    with engine.connect() as conn:
        for domain in rollups.DOMAINS:
            raw = rollups.compute_day(conn, domain, date(2026, 5, 17), zone)
            back = rollups.decode(domain, rollups.encode(domain, raw))
            assert rollups.encode(domain, back) == rollups.encode(domain, raw), domain
        # a day with no dossiers at all is a part with empty counts, not an error
        empty = rollups.compute_day(conn, "procedures", date(2026, 4, 1), zone)
        assert all(f.empty for f in rollups.decode("procedures", rollups.encode("procedures", empty)).values())
    with pytest.raises(ValueError, match="no daily rollup"):
        rollups.encode("hotline", {})
