"""Period queries: bounds, bad input, figures by hand, and an open period composed from
cached closed days + a live part equal to the same period counted whole."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.kpi import periods
from ioc.kpi.periods import PeriodError, period_bounds, period_figures

UTC = timezone.utc
TZ = "Asia/Ho_Chi_Minh"
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)  # 10:00 local


def test_bounds_day_week_month_custom():
    b = period_bounds("day", date_=date(2026, 5, 20), tz=TZ)
    assert b["start"].isoformat() == "2026-05-19T17:00:00+00:00" and b["days"] == 1
    assert b["previous_start"].isoformat() == "2026-05-18T17:00:00+00:00"
    b = period_bounds("week", date_=date(2026, 5, 20), tz=TZ)
    assert (b["first_day"], b["last_day"]) == (date(2026, 5, 14), date(2026, 5, 20))
    assert b["previous_end"] == b["start"] and b["days"] == 7
    b = period_bounds("month", date_=date(2026, 3, 15), tz=TZ)
    assert (b["first_day"], b["last_day"], b["days"]) == (date(2026, 3, 1), date(2026, 3, 31), 31)
    assert b["previous_start"].isoformat() == "2026-01-31T17:00:00+00:00"  # 1 Feb local
    b = period_bounds("custom", start=date(2026, 5, 1), end=date(2026, 5, 10), tz=TZ)
    assert b["days"] == 10 and b["previous_start"].isoformat() == "2026-04-20T17:00:00+00:00"


@pytest.mark.parametrize("kwargs,msg", [
    ({"period": "fortnight"}, "unknown period"),
    ({"period": "custom", "start": date(2026, 5, 1)}, "needs --start and --end"),
    ({"period": "custom", "start": date(2026, 5, 2), "end": date(2026, 5, 1)}, "before its start"),
    ({"period": "custom", "start": date(2025, 1, 1), "end": date(2026, 5, 1)}, "at most 366 days"),
    ({"period": "day", "start": date(2026, 5, 1)}, "custom period only"),
])
def test_bad_bounds(kwargs, msg):
    period = kwargs.pop("period")
    with pytest.raises(PeriodError, match=msg):
        period_bounds(period, tz=TZ, **kwargs)


def test_bad_date_and_future(sqlite_url):
    from ioc.db.session import make_engine

    eng = make_engine(sqlite_url)
    with pytest.raises(PeriodError, match="bad date"):
        period_figures(eng, "day", date="20-05-2026", tz=TZ, now=NOW)
    with pytest.raises(PeriodError, match="not begun"):
        period_figures(eng, "day", date="2026-06-01", tz=TZ, now=NOW)
    empty = period_figures(eng, "month", date="2026-05-01", tz=TZ, now=NOW)  # no data: null, not 0
    assert empty["hotline"]["has_data"] is False and empty["hotline"]["figures"]["received"] is None
    assert empty["cameras"]["figures"]["availability_pct"] is None
    assert empty["procedures"]["province"]["indicators"]["2.1"]["value"] is None
    eng.dispose()


def test_day_figures_by_hand(engine):
    from test_snapshot import fill

    fill(engine)
    periods.clear_cache()
    res = period_figures(engine, "day", date="2026-05-20", tz=TZ, now=NOW)
    assert res["period"]["complete"] is False and res["period"]["as_of"] == NOW.isoformat()
    h = res["hotline"]
    assert h["figures"]["received"] == 4 and h["figures"]["overdue"] == 1 and h["figures"]["on_time_pct"] == 50.0
    assert h["previous"]["received"] == 1 and h["delta"]["received"]["delta"] == 3
    assert h["by"]["category"]["Giao thông"]["received"] == 1
    a1 = res["environment"]["daily_aqi"]["A1"]["days"]
    # 10 hours of today so far (local 00:00–09:00): no 24-hour PM2.5 mean (needs 18 hours),
    # NO2's highest hour 150 µg/m³ → 75: the day's VN_AQI so far is 75, NO2 dominant
    assert a1 == {"2026-05-20": {"aqi": 75, "dominant": "no2", "hours": 10, "category": "moderate"}}
    month = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW)
    p = month["procedures"]["province"]
    assert p["counts"] == {"received": 3, "finished": 2, "overdue_unfinished": 1}
    assert p["indicators"]["2.1"]["value"] == 33.33
    assert month["procedures"]["previous"]["province"]["indicators"]["2.1"]["value"] == 100.0
    cams = month["cameras"]
    assert cams["has_data"] is True and cams["figures"]["offline_events"] == 3  # C2's flapping today


def _random_history(engine, seed=3):
    """Five days of hourly air data, water samples, dossiers and camera changes."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 5, 15, 17, tzinfo=UTC)  # 16 May 00:00 local
    with Session(engine) as s, s.begin():
        s.add(m.Station(id="A", name="Air A", kind="air", updated_at=NOW))
        s.add(m.Station(id="W", name="Water W", kind="water", updated_at=NOW))
        s.add(m.Camera(id="K1", name="K1", status="online", commune_code="1", updated_at=NOW,
                       status_since=t0 - timedelta(days=2)))
        s.add(m.Camera(id="K2", name="K2", status="offline", commune_code="2", updated_at=NOW,
                       status_since=NOW - timedelta(hours=30)))
        s.add(m.Procedure(code="P", name="P", has_fee=True, updated_at=NOW))
        s.flush()
        for p in ("pm25", "no2", "o3", "co"):
            s.add(m.Datastream(id=f"A-{p}", station_id="A", name=p, parameter=p, unit="µg/m³", updated_at=NOW))
        for p in ("ph", "bod5", "cod"):
            s.add(m.Datastream(id=f"W-{p}", station_id="W", name=p, parameter=p, unit="mg/L", updated_at=NOW))
        s.flush()
        scale = {"pm25": 40.0, "no2": 120.0, "o3": 90.0, "co": 6000.0}
        for h in range(int((NOW - t0).total_seconds() // 3600)):
            at = t0 + timedelta(hours=h)
            for p, sc in scale.items():
                if rng.random() > 0.1:
                    s.add(m.Observation(datastream_id=f"A-{p}", phenomenon_time=at, result=float(rng.gamma(2, sc / 2))))
            if h % 6 == 0:
                for p, sc in (("ph", 7.5), ("bod5", 6.0), ("cod", 14.0)):
                    s.add(m.Observation(datastream_id=f"W-{p}", phenomenon_time=at, result=float(rng.gamma(8, sc / 8))))
        for i in range(120):
            recv = t0 + timedelta(hours=float(rng.uniform(0, 100)))
            fin = recv + timedelta(hours=float(rng.uniform(1, 60)))
            s.add(m.Dossier(id=f"D{i}", procedure_code="P", agency=str(rng.choice(["X", "Y"])),
                            commune_code=str(rng.choice(["1", "2"])), channel=int(rng.choice([1, 2])),
                            received_at=recv, due_at=recv + timedelta(hours=float(rng.uniform(5, 50))),
                            finished_at=fin if fin < NOW else None, paid_online=bool(rng.random() < 0.5),
                            digitised=bool(rng.random() < 0.7), updated_at=recv))
        status = "online"
        for i in range(20):
            at = t0 + timedelta(hours=4.5 * i + 1)
            new = "offline" if status == "online" else "online"
            s.add(m.CameraStatusChange(camera_id="K1", at=at, status=new, previous=status))
            status = new
        # as the connector keeps it: the registry status holds since the latest change
        s.get(m.Camera, "K1").status, s.get(m.Camera, "K1").status_since = status, at


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in ("compute_ms", "generated_at", "shared_cache_hits")}
    return x


def test_open_period_split_equals_whole(engine):
    _random_history(engine)
    for period, day in (("month", "2026-05-20"), ("week", "2026-05-20"), ("day", "2026-05-20")):
        periods.clear_cache()
        whole = period_figures(engine, period, date=day, tz=TZ, now=NOW, split_open=False)
        periods.clear_cache()
        split = period_figures(engine, period, date=day, tz=TZ, now=NOW)
        again = period_figures(engine, period, date=day, tz=TZ, now=NOW)  # closed part from the cache
        assert _strip(split) == _strip(whole), period
        assert _strip(again) == _strip(whole), period
    assert split["environment"]["has_data"] is True
    month = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW)
    assert month["environment"]["figures"]["mean_daily_aqi"] is not None
    assert month["environment"]["air_exceedances"]  # NO2/O3 levels of the random data exceed QCVN 05
    assert month["cameras"]["figures"]["availability_pct"] is not None


def test_closed_windows_are_shared_through_redis(engine, live_store):
    """What the KPI scheduler computes (refresh=True) a process without its own cache reads
    from Redis (real server) with equal figures; a refresh picks up a late correction."""
    from ioc.kpi.orchestrator import Orchestrator

    _random_history(engine)
    periods.clear_cache()
    alone = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW)  # no Redis at all
    assert alone["shared_cache_hits"] == 0

    orch = Orchestrator(engine, live_store, None)
    took = orch.warm_periods(now=NOW)
    assert set(took) == {"day", "week", "month"}
    assert list(live_store.r.scan_iter(f"{live_store.key('kpi_period')}:*"))

    periods.clear_cache()  # a web worker: nothing in its own memory
    shared = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW, store=live_store)
    assert shared["shared_cache_hits"] > 0
    assert _strip(shared) == _strip(alone)

    # a late correction of a closed day: invisible to the cached figures until the next refresh
    with Session(engine) as s, s.begin():
        s.add(m.Dossier(id="LATE", procedure_code="P", agency="X", commune_code="1", channel=2,
                        received_at=datetime(2026, 5, 17, 3, tzinfo=UTC), supplement_requests=0,
                        supplement_wait_hours=0.0, updated_at=NOW))
    periods.clear_cache()
    before = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW, store=live_store)
    assert before["procedures"]["province"]["counts"]["received"] == alone["procedures"]["province"]["counts"]["received"]
    orch.warm_periods(now=NOW)
    periods.clear_cache()
    after = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW, store=live_store)
    assert after["procedures"]["province"]["counts"]["received"] == before["procedures"]["province"]["counts"]["received"] + 1


def test_a_dead_redis_only_means_computing(engine):
    """Redis unreachable: the period query computes, as without a store."""
    from ioc.live_store import LiveStore

    _random_history(engine)
    periods.clear_cache()
    dead = LiveStore.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    res = period_figures(engine, "week", date="2026-05-20", tz=TZ, now=NOW, store=dead)
    assert res["shared_cache_hits"] == 0 and res["procedures"]["has_data"] is True


def test_no_data_is_never_cached(engine, live_store):
    """A refresh before the first backfill must not keep "no data" for closed windows."""
    from ioc.kpi.orchestrator import Orchestrator

    periods.clear_cache()
    Orchestrator(engine, live_store, None).warm_periods(now=NOW)  # empty database
    _random_history(engine)
    with Session(engine) as s, s.begin():  # a ticket last month: the previous window of May
        s.add(m.Ticket(source="hotline", external_id="OLD", status="closed", requested_at=datetime(2026, 4, 20, 3, tzinfo=UTC),
                       updated_at=NOW, reopened_count=0))
    res = period_figures(engine, "month", date="2026-05-20", tz=TZ, now=NOW, store=live_store)
    assert res["hotline"]["previous"]["received"] == 1
    assert res["procedures"]["has_data"] is True and res["cameras"]["has_data"] is True
