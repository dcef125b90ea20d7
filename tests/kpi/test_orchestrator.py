"""The KPI scheduler: recompute on a version bump (real Redis), debounce, periodic
recompute, alerts with hysteresis end to end (raise → ack → clear), and outages."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.kpi.orchestrator import AckError, Orchestrator, ack_alert
from ioc.live_store import Change, LiveStore

UTC = timezone.utc


def _health(store, now):
    for src in ("hotline", "cameras", "environment", "procedures"):
        store.set_health(src, {"last_success": now.isoformat(), "consecutive_failures": 0, "interval_seconds": 60})


def _cameras(engine, statuses):
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        for i, st in enumerate(statuses):
            cam = s.get(m.Camera, f"C{i}")
            if cam is None:
                s.add(m.Camera(id=f"C{i}", name=f"Cam {i}", status=st, commune_code="29251", updated_at=now,
                               status_since=now - timedelta(hours=1)))
            else:
                cam.status = st


def _ticket(engine, ext):
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        s.add(m.Ticket(source="hotline", external_id=ext, status="open", requested_at=now - timedelta(minutes=1),
                       updated_at=now - timedelta(minutes=1)))


@pytest.fixture
def sqlite_engine(sqlite_url):
    from ioc.db.session import make_engine

    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


def test_recomputes_after_version_bump(sqlite_engine, live_store):
    _health(live_store, datetime.now(UTC))
    _ticket(sqlite_engine, "T1")
    orch = Orchestrator(sqlite_engine, live_store, poll=0.05, quiet=0.2, max_delay=1.0, periodic=60.0)
    stop = threading.Event()
    th = threading.Thread(target=orch.run, args=(stop,), daemon=True)
    th.start()
    try:
        deadline = time.monotonic() + 10
        while live_store.snapshot() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        snap = live_store.snapshot()
        assert snap["hotline"]["periods"]["today"]["figures"]["received"] == 1
        _ticket(sqlite_engine, "T2")
        live_store.apply_changes("hotline", [Change("T2", {"id": "T2"}, "new", datetime.now(UTC).isoformat())])
        version = live_store.version()
        deadline = time.monotonic() + 10
        while live_store.snapshot_version() != version and time.monotonic() < deadline:
            time.sleep(0.05)
        snap = live_store.snapshot()
        assert live_store.snapshot_version() == version
        assert snap["hotline"]["periods"]["today"]["figures"]["received"] == 2
        assert snap["recomputed"] == ["hotline"]  # incremental: only the changed source
    finally:
        stop.set()
        th.join(timeout=10)
    assert not th.is_alive()


def test_debounce_quiet_and_max_delay(sqlite_engine, live_store):
    orch = Orchestrator(sqlite_engine, live_store, quiet=1.0, max_delay=5.0, periodic=1000.0)
    assert orch.step(0.0) is True  # first snapshot at once
    live_store.bump_version("cameras")
    assert orch.step(0.5) is False  # change seen, waiting for quiet
    live_store.bump_version("cameras")
    assert orch.step(1.2) is False  # another change at 1.2: quiet restarts
    assert orch.step(2.0) is False
    assert orch.step(2.3) is True  # 1.1 s without a change
    builds = orch.builds
    t = 10.0
    for i in range(12):  # a change every 0.5 s never lets it rest: built at ≤ 5 s anyway
        live_store.bump_version("hotline")
        orch.step(t + 0.5 * i)
        if orch.builds > builds:
            break
    assert orch.builds == builds + 1 and 0.5 * i <= 5.0 + 1e-9


def test_periodic_recompute_without_changes(sqlite_engine, live_store):
    orch = Orchestrator(sqlite_engine, live_store, periodic=60.0)
    assert orch.step(0.0) is True
    assert orch.step(30.0) is False
    assert orch.step(60.5) is True  # time alone: overdue/stale states advance


def test_alert_hysteresis_ack_and_clear(engine, live_store):
    now = datetime.now(UTC)
    _health(live_store, now)
    _cameras(engine, ["online", "offline", "offline", "offline"])  # 25 % online: below 90 %
    orch = Orchestrator(engine, live_store, alert_interval=0.0, raise_after=2, clear_after=2)
    key = "cameras_online:province"

    orch.recompute()  # 1st evaluation: pending — not published, not in SQL
    assert key not in live_store.alerts()
    with Session(engine) as s:
        assert s.scalars(select(m.Alert).where(m.Alert.key == key)).first() is None
    orch.recompute()  # 2nd: raised
    active = live_store.alerts()
    assert active[key]["state"] == "active" and active[key]["severity"] == "warning"
    assert live_store.snapshot()["alerts"]["total"] >= 1
    with Session(engine) as s:
        row = s.scalars(select(m.Alert).where(m.Alert.key == key)).one()
        assert row.state == "active" and row.first_at is not None

    res = ack_alert(engine, live_store, key, "operator1")
    assert res["acked_by"] == "operator1"
    assert live_store.alerts()[key]["acked_by"] == "operator1"
    with Session(engine) as s:
        audit = s.scalars(select(m.AuditLog).where(m.AuditLog.action == "alert.ack")).one()
        assert audit.actor == "operator1" and audit.target == key
    with pytest.raises(AckError):
        ack_alert(engine, live_store, key, "operator2")  # already acknowledged
    with pytest.raises(AckError):
        ack_alert(engine, live_store, "no_such:alert", "operator1")
    orch.recompute()  # the acknowledgement survives the next evaluation
    assert live_store.alerts()[key]["acked_by"] == "operator1"

    _cameras(engine, ["online"] * 4)  # back to 100 %
    live_store.bump_version("cameras")
    orch.recompute()  # 1st clearing evaluation: still active
    assert key in live_store.alerts()
    orch.recompute()  # 2nd: cleared
    assert key not in live_store.alerts()
    with Session(engine) as s:
        row = s.scalars(select(m.Alert).where(m.Alert.key == key)).one()
        assert row.state == "resolved" and row.resolved_at is not None and row.acked_by == "operator1"


def test_restart_keeps_active_alerts(engine, live_store):
    _health(live_store, datetime.now(UTC))
    _cameras(engine, ["offline"] * 3)
    a = Orchestrator(engine, live_store, alert_interval=0.0)
    a.recompute()
    a.recompute()
    assert "cameras_online:province" in live_store.alerts()
    live_store.set_alerts({})  # Redis lost its state
    b = Orchestrator(engine, live_store, alert_interval=0.0)  # a new process: active episodes from SQL
    b.recompute()
    assert "cameras_online:province" in live_store.alerts()
    with Session(engine) as s:  # no duplicate episode
        assert len(s.scalars(select(m.Alert).where(m.Alert.key == "cameras_online:province")).all()) == 1


def test_survives_redis_outage(sqlite_engine, caplog):
    dead = LiveStore.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    orch = Orchestrator(sqlite_engine, dead, periodic=60.0)
    with caplog.at_level("WARNING", logger="ioc.kpi.orchestrator"):
        for t in (0.0, 0.5, 1.0, 61.0, 200.0):
            orch.step(t)  # never raises
    assert orch.builds >= 2  # the snapshot is still computed from SQL
    assert orch.last_snapshot["redis_ok"] is False
    assert sum("redis unavailable" in r.message for r in caplog.records) == 1  # logged once


def test_survives_database_outage(tmp_path, live_store, caplog):
    from ioc.db.session import make_engine

    broken = make_engine(f"sqlite:///{tmp_path / 'missing' / 'nothing-here.db'}")  # no schema
    orch = Orchestrator(broken, live_store, periodic=60.0)
    with caplog.at_level("WARNING", logger="ioc.kpi.orchestrator"):
        for t in (0.0, 70.0, 140.0):
            orch.step(t)
    snap = live_store.snapshot()
    assert snap is not None and snap["hotline"]["stale"] is True and snap["hotline"]["error"]
    assert sum("database unavailable" in r.message for r in caplog.records) == 1


def test_scheduler_thread_builds_the_daily_rollups(sqlite_engine, live_store):
    """`run` starts the background thread that keeps the rollups: closed days get a part."""
    old = datetime.now(UTC) - timedelta(days=3)
    with Session(sqlite_engine) as s, s.begin():
        s.add(m.Camera(id="R1", name="R1", status="online", commune_code="29251", updated_at=old, status_since=old))
        s.add(m.CameraStatusChange(camera_id="R1", at=old, status="online", previous="offline"))
    orch = Orchestrator(sqlite_engine, live_store, periodic=60.0, period_refresh=0, rollup_refresh=0.2)
    stop = threading.Event()
    th = threading.Thread(target=orch.run, args=(stop,), daemon=True)
    th.start()
    try:
        deadline = time.monotonic() + 30
        days = []
        while time.monotonic() < deadline and len(days) < 3:
            with Session(sqlite_engine) as s:
                days = s.scalars(select(m.KpiDayPart.day).where(m.KpiDayPart.domain == "cameras")).all()
            time.sleep(0.2)
    finally:
        stop.set()
        th.join(10)
    assert len(days) >= 3  # the change's day up to yesterday
    assert max(days) < datetime.now(UTC).date() + timedelta(days=1)


def test_a_rollup_failure_is_logged_once_and_never_raises(tmp_path, live_store, caplog):
    from ioc.db.session import make_engine

    broken = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables
    orch = Orchestrator(broken, live_store)
    with caplog.at_level("WARNING", logger="ioc.kpi.orchestrator"):
        assert orch.refresh_rollups() == {}
        assert orch.refresh_rollups() == {}
    assert sum("rollups" in r.message for r in caplog.records) == 1


def _briefing(engine, kind, day, status, *, reason=None, checks=None, error=None):
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        s.add(m.Briefing(kind=kind, last_day=day, period_start=now, period_end=now, status=status, created_at=now,
                         finished_at=now, reason=reason, checks=checks, error=error))


def test_a_failed_briefing_raises_an_alert_until_a_rerun_passes(engine, live_store):
    from zoneinfo import ZoneInfo

    from ioc.views import facts, text

    now = datetime.now(UTC)
    _health(live_store, now)
    day = now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date() - timedelta(days=1)
    key = f"briefing:daily:{day.isoformat()}"
    orch = Orchestrator(engine, live_store, alert_interval=0.0)
    _briefing(engine, "daily", date(2024, 1, 1), "failed", reason="no_data", error="no data for the day …")
    _briefing(engine, "daily", day, "failed", reason="checks", error="figure:fig-map: 0.0% …",
              checks=[{"name": "pages", "ok": True, "detail": "8 pages"},
                      {"name": "figure:fig-map", "ok": False, "detail": "0.0% of the map's box filled"}])
    orch.recompute()  # raised at the first evaluation: a failed attempt is an event
    active = live_store.alerts()
    assert key in active and active[key]["severity"] == "warning"
    assert not [k for k in active if k.startswith("briefing:") and k != key]  # 2024 typed by hand: not on the wall

    def sentence(lang):
        item = next(a for a in facts.alerts(live_store.snapshot())["items"] if a["key"] == key)
        return text.alert_sentence(item, lang, {})

    dm = day.strftime("%d/%m/%Y")
    assert sentence("vi") == f"Bản tin ngày {dm} không đạt kiểm tra: bản đồ trống"
    assert sentence("en") == f"Daily briefing {dm} failed its checks: the map is empty"

    _briefing(engine, "daily", day, "failed", reason="no_data")  # the retry fails otherwise: one episode, updated
    orch.recompute()
    assert sentence("vi") == f"Bản tin ngày {dm} không lập được: chưa nguồn nào có số liệu của kỳ"
    with Session(engine) as s:
        rows = s.scalars(select(m.Alert).where(m.Alert.key == key)).all()
    assert [r.state for r in rows] == ["active"]

    _briefing(engine, "daily", day, "done")  # a later run of the same briefing passes
    orch.recompute()
    assert key not in live_store.alerts()
    with Session(engine) as s:
        assert s.scalars(select(m.Alert.state).where(m.Alert.key == key)).all() == ["resolved"]


def test_a_briefing_alert_is_held_while_the_database_cannot_say():
    from ioc.kpi.orchestrator import briefing_conditions

    snap = {"briefings": {"available": False, "items": []},
            "alerts": {"active": [{"key": "briefing:weekly:2026-11-22", "rule": "briefing"}]}}
    (cond,) = briefing_conditions(snap)
    assert cond.key == "briefing:weekly:2026-11-22" and cond.raising is None and cond.clearing is None
