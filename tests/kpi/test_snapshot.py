"""The KPI snapshot on a small hand-made dataset (SQLite and PostgreSQL), figures checked
by hand; "no data" is null; a stale source marks its domain stale; JSON-serialisable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.kpi import cameras_sql, environment_sql
from ioc.kpi.snapshot import SnapshotBuilder, build_snapshot, dumps

UTC = timezone.utc
# Wednesday 20 May 2026, 10:00 in Đồng Tháp (UTC+7)
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)


def L(day: int, hour: int, month: int = 5, minute: int = 0) -> datetime:
    """Local (UTC+7) wall time → aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def _ticket(ext, requested, *, answered=None, expected=None, status=None, **kw):
    return m.Ticket(source="hotline", external_id=ext, status=status or ("closed" if answered else "open"),
                    requested_at=requested, updated_at=answered or requested, expected_at=expected,
                    answered_at=answered, service_name=kw.pop("service_name", "Đất đai"),
                    channel=kw.pop("channel", "phone"), agency=kw.pop("agency", "Sở TNMT"),
                    commune_code=kw.pop("commune_code", "29251"), reopened_count=kw.pop("reopened_count", 0), **kw)


def fill(engine):
    with Session(engine) as s, s.begin():
        s.add_all([
            # today: 4 received
            _ticket("H1", L(20, 8), answered=L(20, 9)),  # on time, 1 h
            _ticket("H2", L(20, 7), expected=L(20, 9), channel="zalo"),  # open, past its expected time: overdue
            _ticket("H3", L(20, 6), commune_code=None),  # open, 15 working days: in progress
            _ticket("H6", L(20, 1), expected=L(20, 2), answered=L(20, 3), service_name="Giao thông",
                    reopened_count=1),  # answered late, 2 h
            # yesterday: 1 received, answered after 4 h
            _ticket("H4", L(19, 10), answered=L(19, 14)),
            # April: open, default deadline long past → the most overdue
            _ticket("H5", L(10, 9, month=4), agency="Sở GTVT"),
        ])
        s.add_all([
            m.Camera(id="C1", name="Cam 1", status="online", commune_code="29251", agency="CA", updated_at=NOW,
                     status_since=NOW - timedelta(days=3)),
            m.Camera(id="C2", name="Cam 2", status="offline", commune_code="29251", agency="CA", updated_at=NOW,
                     status_since=NOW - timedelta(hours=2)),
            m.Camera(id="C3", name="Cam 3", status="offline", commune_code="29254", agency="UBND", updated_at=NOW,
                     status_since=NOW - timedelta(hours=30)),
            m.Camera(id="C4", name="Cam 4", status="degraded", commune_code=None, agency="CA", updated_at=NOW,
                     status_since=NOW - timedelta(hours=1)),
        ])
        for i in range(5):  # C2 flapping: 5 changes in the last hour
            s.add(m.CameraStatusChange(camera_id="C2", at=NOW - timedelta(minutes=50 - 10 * i),
                                       status="offline" if i % 2 == 0 else "online",
                                       previous="online" if i % 2 == 0 else "offline"))
        stations = [("A1", "air"), ("A2", "air"), ("W1", "water"), ("S1", "iot_water"), ("I1", "insect")]
        for sid, kind in stations:
            s.add(m.Station(id=sid, name=f"Trạm {sid}", kind=kind, commune_code="29251", updated_at=NOW,
                            properties={"alarm_levels": [1.5, 2.0, 2.5]} if sid == "S1" else {}))
        s.flush()
        streams = [("A1-pm25", "A1", "pm25", "µg/m³"), ("A1-no2", "A1", "no2", "µg/m³"),
                   ("A2-pm25", "A2", "pm25", "µg/m³"),
                   *[(f"W1-{p}", "W1", p, u) for p, u in (("ph", "pH"), ("do", "mg/L"), ("temperature", "°C"),
                                                          ("bod5", "mg/L"), ("cod", "mg/L"), ("nh4", "mg/L"),
                                                          ("po4", "mg/L"), ("coliform", "MPN/100mL"))],
                   ("S1-salinity", "S1", "salinity", "‰"), ("S1-level", "S1", "water_level", "cm"),
                   ("I1-insects", "I1", "insects", "count")]
        for dsid, sid, p, u in streams:
            s.add(m.Datastream(id=dsid, station_id=sid, name=dsid, parameter=p, unit=u, updated_at=NOW))
        s.flush()
        top = NOW.replace(minute=0) - timedelta(hours=1)  # newest complete hour: 02:00 UTC
        for h in range(12):
            at = top - timedelta(hours=h)
            s.add(m.Observation(datastream_id="A1-pm25", phenomenon_time=at, result=30.0))
            s.add(m.Observation(datastream_id="A1-no2", phenomenon_time=at, result=150.0))
        sample = NOW - timedelta(days=3)
        for p, v in (("ph", 7.0), ("do", 6.0), ("temperature", 25.0), ("bod5", 5.0), ("cod", 12.0),
                     ("nh4", 0.2), ("po4", 0.15), ("coliform", 3000.0)):
            s.add(m.Observation(datastream_id=f"W1-{p}", phenomenon_time=sample, result=v))
        s.add(m.Observation(datastream_id="S1-salinity", phenomenon_time=NOW - timedelta(hours=1), result=2.5))
        s.add(m.Observation(datastream_id="S1-level", phenomenon_time=NOW - timedelta(hours=1), result=210.0))
        s.add(m.Observation(datastream_id="I1-insects", phenomenon_time=NOW - timedelta(hours=8), result=1200.0))
        # procedures: QĐ 766
        s.add(m.Procedure(code="P1", name="Cấp phép", has_fee=True, updated_at=NOW))
        D = lambda **kw: m.Dossier(**({"updated_at": NOW, "procedure_code": "P1", "agency": "Sở Tư pháp",  # noqa: E731
                                       "commune_code": "29251"} | kw))
        s.add_all([
            D(id="D1", channel=2, received_at=L(5, 9), due_at=L(10, 17), finished_at=L(8, 10), paid_online=True,
              digitised=True, electronic_result=True, satisfaction=5),
            D(id="D2", channel=1, received_at=L(6, 9), due_at=L(9, 17), finished_at=L(12, 10), paid_online=False,
              digitised=False, electronic_result=False, complaint=True),
            D(id="D3", channel=2, received_at=L(2, 9), due_at=L(7, 17), agency="UBND xã A", commune_code="29254"),
            D(id="D4", channel=2, received_at=L(10, 9, month=4), due_at=L(15, 17, month=4),
              finished_at=L(12, 9, month=4), digitised=True, electronic_result=True),
        ])


def set_health(store, now=NOW, stale=("environment",)):
    for src in ("hotline", "cameras", "environment", "procedures"):
        age = timedelta(hours=1) if src in stale else timedelta(seconds=20)
        store.set_health(src, {"last_success": (now - age).isoformat(), "last_attempt": now.isoformat(),
                               "consecutive_failures": 0, "interval_seconds": 60, "lag_seconds": 12.5})
        store.bump_version(src)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def snap(request, redis_server, tmp_path_factory):
    """The hand-made dataset's snapshot, built once per database for this module."""
    from pgtools import PG_URL, create_pg_database, drop_pg_database

    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.live_store import LiveStore

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('snap') / 'ioc.db'}"
    elif not PG_URL:
        pytest.skip("IOC_TEST_DATABASE_URL not set: no PostgreSQL for this run")
    else:
        url = create_pg_database()
    engine = make_engine(url)
    upgrade(engine)
    store = LiveStore.from_url(redis_server.url, prefix=f"snapmod{request.param}")
    try:
        fill(engine)
        set_health(store)
        yield build_snapshot(engine, store, None, now=NOW)
    finally:
        for k in store.r.scan_iter(f"snapmod{request.param}*"):
            store.r.delete(k)
        store.r.close()
        engine.dispose()
        if request.param != "sqlite":
            drop_pg_database(url)


def test_hotline_today_by_hand(snap):
    today = snap["hotline"]["periods"]["today"]
    f = today["figures"]
    assert f["received"] == 4
    assert f["answered"] == 2  # H1, H6
    assert f["in_progress"] == 2  # H2, H3
    assert f["overdue"] == 1  # H2
    assert f["answered_late"] == 1 and f["late"] == 2
    assert f["on_time_pct"] == 50.0  # 1 of 2 answered with a known time
    assert f["answered_pct"] == 50.0
    assert f["median_hours_to_answer"] == 1.5  # median(1 h, 2 h)
    assert f["reopened_tickets"] == 1
    prev = today["previous"]
    assert prev["start"] == L(19, 0).isoformat() and prev["end"] == L(20, 0).isoformat()
    assert prev["figures"]["received"] == 1 and prev["figures"]["median_hours_to_answer"] == 4.0
    assert today["delta"]["received"] == {"current": 4, "previous": 1, "delta": 3, "delta_pct": 300.0}
    assert today["by"]["category"]["Giao thông"]["received"] == 1
    assert today["by"]["channel"]["zalo"]["overdue"] == 1
    assert today["by"]["commune"]["unknown"]["received"] == 1  # H3 has no commune
    month = snap["hotline"]["periods"]["this_month"]["figures"]
    assert month["received"] == 5  # + H4
    assert snap["hotline"]["periods"]["this_month"]["previous"]["figures"]["received"] == 1  # H5 in April


def test_hotline_backlog_and_overdue_list(snap):
    h = snap["hotline"]
    assert h["backlog"]["open"] == 3  # H2, H3, H5
    assert h["backlog"]["open_overdue"] == 2  # H2, H5
    assert [t["external_id"] for t in h["open_overdue"]] == ["H5", "H2"]  # most overdue first
    assert h["open_overdue"][1]["overdue_hours"] == 1.0  # H2 expected at 09:00, now 10:00
    assert "reporter_phone" not in h["open_overdue"][0]


def test_cameras_by_hand(snap):
    c = snap["cameras"]
    assert (c["total"], c["online"], c["offline"], c["degraded"]) == (4, 1, 2, 1)
    assert c["online_pct"] == 25.0
    assert [x["id"] for x in c["offline_cameras"]] == ["C3", "C2"]  # longest offline first
    assert c["offline_cameras"][0]["offline_hours"] == 30.0
    assert c["offline_cameras"][0]["status_since"] == (NOW - timedelta(hours=30)).isoformat()
    assert c["by_commune"]["29251"]["total"] == 2 and c["by_commune"]["unknown"]["degraded"] == 1
    assert [f["camera_id"] for f in c["flapping"]] == ["C2"] and c["flapping"][0]["changes"] == 5


def test_environment_by_hand(snap):
    e = snap["environment"]
    a1 = next(a for a in e["air"] if a["station_id"] == "A1")
    # PM2.5 NowCast of a constant 30 = 30 → 60; NO2 150 → 75: station AQI 75, NO2 dominant
    assert a1["aqi"] == 75 and a1["dominant"] == "no2"
    assert a1["sub_indices"]["pm25"] == 60 and a1["nowcast_pm25"] == 30.0
    assert a1["category"]["key"] == "moderate" and a1["category"]["name_vi"] == "Trung bình"
    assert a1["category"]["hex"] == "#FFFF00"
    a2 = next(a for a in e["air"] if a["station_id"] == "A2")
    assert a2["aqi"] is None and a2["category"] is None  # no data: null, not 0
    w1 = next(w for w in e["water"] if w["station_id"] == "W1")
    assert w1["wqi"] == 91 and w1["category"]["key"] == "very_good"  # docs/kpis.md worked example
    assert set(w1["groups_used"]) == {"I", "IV", "V"} and "n_nh4" in w1["parameters"]
    sal = next(x for x in e["salinity"] if x["station_id"] == "S1")
    assert sal["level"] == "warning" and sal["severity"] == "warning"
    lvl = next(x for x in e["water_level"] if x["station_id"] == "S1")
    assert lvl["value"] == 2.1 and lvl["level"] == "bao_dong_2"  # 210 cm = 2.1 m ≥ alarm II (2.0 m)
    ins = next(x for x in e["insects"] if x["station_id"] == "I1")
    assert ins["level"] == "warning"
    assert {o["station_id"] for o in e["offline"]} == {"A2"}  # never reported
    assert any(x["parameter"] == "n_nh4" for x in e["exceedances"]["water_latest"]) is False
    assert any(x["parameter"] == "do" for x in e["exceedances"]["water_latest"]) is False


def test_procedures_by_hand(snap):
    p = snap["procedures"]
    prov = p["this_month"]["province"]
    assert prov["counts"] == {"received": 3, "finished": 2, "overdue_unfinished": 1}
    ind = prov["indicators"]
    assert ind["2.1"]["value"] == 33.33  # D1 on time of D1, D2 finished + D3 overdue
    assert ind["3.3"]["value"] == 66.67  # D1, D3 online of 3
    assert ind["3.6"]["value"] == 33.33  # fee-bearing: D1 paid of 3
    assert ind["4.1"]["value"] == 50.0
    assert ind["5.4"]["value"] == 0.0  # 100 − (66.67 overdue rate + 50.0 complaint share) < 0 → 0
    ytd = p["year_to_date"]["province"]
    assert ytd["counts"] == {"received": 4, "finished": 3, "overdue_unfinished": 1}
    assert ytd["indicators"]["2.1"]["value"] == 50.0
    assert p["previous_month"]["province"]["indicators"]["2.1"]["value"] == 100.0
    assert p["this_month"]["agency"]["UBND xã A"]["counts"]["overdue_unfinished"] == 1
    assert p["this_month"]["commune"]["29251"]["counts"]["received"] == 2
    assert p["delta_vs_previous_month"]["2.1"]["delta"] == pytest.approx(-66.67)


def test_stale_source_marks_domain_and_json(snap):
    assert snap["environment"]["stale"] is True and snap["environment"]["state"] == "stale"
    assert snap["hotline"]["stale"] is False and snap["sources"]["hotline"]["state"] == "fresh"
    assert snap["sources"]["hotline"]["lag_seconds"] == 12.5
    assert snap["quarantine"]["total"] == 0 and snap["alerts"]["total"] == 0
    text = dumps(snap)
    assert orjson.loads(text)["as_of"] == NOW.isoformat()


def test_no_data_is_null_not_zero(engine, live_store):
    snap = build_snapshot(engine, live_store, None, now=NOW)
    for d in ("hotline", "cameras", "environment", "procedures"):
        assert snap[d]["has_data"] is False and snap[d]["stale"] is True  # never polled: unknown
    f = snap["hotline"]["periods"]["today"]["figures"]
    assert f["received"] is None and f["on_time_pct"] is None
    assert snap["hotline"]["backlog"]["open_overdue"] is None
    assert snap["cameras"]["total"] is None and snap["cameras"]["online_pct"] is None
    assert snap["procedures"]["this_month"]["province"]["indicators"]["2.1"]["value"] is None
    assert snap["procedures"]["this_month"]["province"]["indicators"]["2.1"]["max_points"] == 20.0
    assert snap["environment"]["stations"]["total"] is None
    dumps(snap)


def test_empty_period_ratios_are_null(engine, live_store):
    with Session(engine) as s, s.begin():
        s.add(_ticket("X1", L(10, 9, month=3)))  # data exists, but nothing today
    snap = build_snapshot(engine, live_store, None, now=NOW)
    f = snap["hotline"]["periods"]["today"]["figures"]
    assert f["received"] == 0  # a real zero: the source has data, nothing came today
    assert f["on_time_pct"] is None and f["median_hours_to_answer"] is None and f["answered_pct"] is None


def test_redis_down_still_computes(engine):
    fill(engine)
    snap = build_snapshot(engine, None, None, now=NOW)
    assert snap["redis_ok"] is False and snap["hotline"]["stale"] is True
    assert snap["hotline"]["periods"]["today"]["figures"]["received"] == 4
    assert snap["alerts"]["available"] is False and snap["quarantine"]["total"] is None


def test_incremental_recomputes_only_changed_source(engine, live_store):
    fill(engine)
    set_health(live_store)
    b = SnapshotBuilder(engine, None, live_store)
    first = b.build(NOW)
    assert set(first["recomputed"]) == {"hotline", "cameras", "environment", "procedures"}
    assert b.build(NOW + timedelta(seconds=1))["recomputed"] == []
    with Session(engine) as s, s.begin():
        s.get(m.Camera, "C1").status = "offline"
    live_store.bump_version("cameras")
    snap = b.build(NOW + timedelta(seconds=2))
    assert snap["recomputed"] == ["cameras"]
    assert snap["cameras"]["offline"] == 3
    # time alone advances: a part older than max_age is recomputed
    b.opts.max_age = 0.0
    assert set(b.build(NOW + timedelta(seconds=3))["recomputed"]) == {"hotline", "cameras", "environment", "procedures"}


def test_procedures_closed_days_cached_and_refreshed(engine, live_store):
    fill(engine)
    set_health(live_store)
    b = SnapshotBuilder(engine, None, live_store)
    b.build(NOW)
    # a late correction of a dossier of a closed day: satisfaction added to D1 (not unhappy → D2 only)
    with Session(engine) as s, s.begin():
        d = s.get(m.Dossier, "D1")
        d.complaint = True
        d.updated_at = NOW + timedelta(minutes=1)
    live_store.bump_version("procedures")
    b.opts.closed_refresh_after = 0.0
    snap = b.build(NOW + timedelta(minutes=2))
    ind = snap["procedures"]["this_month"]["province"]["indicators"]
    assert ind["5.4"]["complaint_or_low_satisfaction_pct"] == 100.0


def test_follows_change_streams(engine, live_store):
    from ioc.live_store import Change

    fill(engine)
    set_health(live_store)
    b = SnapshotBuilder(engine, None, live_store)
    b.build(NOW)
    with Session(engine) as s, s.begin():
        s.get(m.Camera, "C1").status = "offline"
        s.add(_ticket("H7", L(20, 9, minute=30)))
    live_store.apply_changes("cameras", [Change("C1", {"id": "C1"}, "updated", NOW.isoformat())])
    live_store.apply_changes("hotline", [Change("H7", {"id": "H7"}, "new", NOW.isoformat())])
    reloads = []
    real = cameras_sql.load_cameras
    calls = lambda conn, ids=None: (reloads.append(ids), real(conn, ids))[1]  # noqa: E731
    cameras_sql.load_cameras = calls
    try:
        snap = b.build(NOW + timedelta(seconds=1))
    finally:
        cameras_sql.load_cameras = real
    assert reloads == [["C1"]]  # only the changed camera was read again
    assert snap["cameras"]["offline"] == 3
    assert snap["hotline"]["periods"]["today"]["figures"]["received"] == 5
    # a follower whose last id was trimmed away reloads everything
    b.cameras.follow.last = "1-0"
    assert b.cameras.follow.changes() is None




def test_closed_month_correction_waits_for_full_build(engine, live_store):
    fill(engine)
    set_health(live_store)
    b = SnapshotBuilder(engine, None, live_store)
    b.opts.closed_refresh_after = 0.0
    b.build(NOW)
    with Session(engine) as s, s.begin():  # D4 (April, a closed month) gets a complaint
        d = s.get(m.Dossier, "D4")
        d.complaint = True
        d.updated_at = NOW + timedelta(minutes=1)
    live_store.bump_version("procedures")
    inc = b.build(NOW + timedelta(minutes=2))
    assert inc["procedures"]["previous_month"]["province"]["indicators"]["5.4"]["complaint_or_low_satisfaction_pct"] \
        == 0.0  # an incremental build does not recount a month
    full = b.build(NOW + timedelta(minutes=3), force=True)
    assert full["procedures"]["previous_month"]["province"]["indicators"]["5.4"][
        "complaint_or_low_satisfaction_pct"] == 100.0


def test_environment_incremental_latest_equals_a_full_reload(engine, live_store):
    """The incremental newest-value-per-stream (new rows by id, other changed streams probed)
    equals what a full reload reads: a newer hour replaces, a late older hour does not, a
    value corrected in place is picked up."""
    from sqlalchemy import update

    from ioc.live_store import Change

    fill(engine)
    set_health(live_store)
    b = SnapshotBuilder(engine, None, live_store)
    b.build(NOW)
    later = NOW + timedelta(minutes=30)
    o = m.Observation.__table__
    with Session(engine) as s, s.begin():
        s.add(m.Observation(datastream_id="S1-salinity", phenomenon_time=NOW - timedelta(minutes=10), result=4.5))
        s.add(m.Observation(datastream_id="S1-level", phenomenon_time=NOW - timedelta(hours=5), result=99.0))  # late
        s.execute(update(o).where(o.c.datastream_id == "I1-insects").values(result=1500.0))  # corrected in place
    live_store.apply_changes("environment", [Change(d, {"id": d}, "updated", later.isoformat())
                                             for d in ("S1-salinity", "S1-level", "I1-insects")])
    live_store.bump_version("environment")
    snap = b.build(later)
    assert snap["recomputed"] == ["environment"]
    with engine.connect() as conn:
        full = environment_sql.load_latest_observations(conn, later)
    want = {str(d): (int(t.value // 1000), float(r))
            for d, t, r in zip(full["datastream_id"], full["phenomenon_time"], full["result"])}
    assert b.environment.latest_map == want
    latest = {d: v for d, (_t, v) in b.environment.latest_map.items()}
    assert latest["S1-salinity"] == 4.5 and latest["S1-level"] == 210.0 and latest["I1-insects"] == 1500.0


def test_procedures_today_follows_the_change_feed(engine, live_store):
    """Today's QĐ 766 part is kept in memory from the change feed: after new, finished and
    edited dossiers, an incremental build reports what a new builder reads from SQL."""
    fill(engine)
    set_health(live_store)
    b = SnapshotBuilder(engine, None, live_store)
    before = b.build(NOW)["procedures"]["this_month"]["province"]["counts"]
    later = NOW + timedelta(minutes=1)
    with Session(engine) as s, s.begin():
        s.add(m.Dossier(id="D5", procedure_code="P1", agency="Sở Tư pháp", commune_code="29251", channel=3,
                        received_at=L(20, 8), due_at=L(25, 17), updated_at=later))
        s.add(m.Dossier(id="D6", procedure_code="P9", agency="UBND xã A", commune_code="29254", channel=1,
                        received_at=L(20, 7), due_at=L(22, 17), finished_at=L(20, 9), satisfaction=1,
                        updated_at=later))
        d3 = s.get(m.Dossier, "D3")  # received on the 2nd, finished today, late
        d3.finished_at, d3.updated_at = L(20, 9, minute=30), later
    live_store.bump_version("procedures")
    inc = b.build(NOW + timedelta(minutes=2))
    assert inc["recomputed"] == ["procedures"]
    with Session(engine) as s, s.begin():  # D5 edited: now online
        s.get(m.Dossier, "D5").channel, s.get(m.Dossier, "D5").updated_at = 2, NOW + timedelta(minutes=3)
    live_store.bump_version("procedures")
    inc = b.build(NOW + timedelta(minutes=4))
    fresh = SnapshotBuilder(engine, None, live_store).build(NOW + timedelta(minutes=4))
    counts = inc["procedures"]["this_month"]["province"]["counts"]
    assert counts["received"] == before["received"] + 2 and counts["finished"] == before["finished"] + 2
    for part in ("this_month", "year_to_date"):
        assert inc["procedures"][part] == fresh["procedures"][part]
    ind = inc["procedures"]["this_month"]["province"]["indicators"]
    assert ind["3.3"]["numerator"] == 3  # D1, D3, D5 (edited) online; D2, D6 in person
    assert ind["3.6"]["unknown_procedure"] == 1  # D6: P9 is not in the catalogue


def test_air_window_follows_new_and_replaced_rows(engine, live_store):
    """The in-memory air window takes the rows the newest-value read fetched: a new hour and
    a row deleted and written again for the same hour (a new id) both reach the AQI, as a
    new builder reads them."""
    from sqlalchemy import delete

    from ioc.live_store import Change

    fill(engine)
    set_health(live_store)
    b = SnapshotBuilder(engine, None, live_store)
    b.build(NOW)
    top = NOW.replace(minute=0) - timedelta(hours=1)
    o = m.Observation.__table__
    with Session(engine) as s, s.begin():
        s.execute(delete(o).where(o.c.datastream_id == "A1-pm25", o.c.phenomenon_time == top))
        s.add(m.Observation(datastream_id="A1-pm25", phenomenon_time=top, result=180.0))  # same hour, new id
        s.add(m.Observation(datastream_id="A1-no2", phenomenon_time=NOW, result=40.0))  # a new hour
    later = NOW + timedelta(minutes=5)
    live_store.apply_changes("environment", [Change(d, {"id": d}, "updated", later.isoformat())
                                             for d in ("A1-pm25", "A1-no2")])
    live_store.bump_version("environment")
    inc = b.build(later)
    assert inc["recomputed"] == ["environment"]
    fresh = SnapshotBuilder(engine, None, live_store).build(later)
    a1 = next(a for a in inc["environment"]["air"] if a["station_id"] == "A1")
    assert a1["trend"][-2]["hour"] == top.isoformat() and a1["nowcast_pm25"] > 30.0  # the replaced hour counts
    assert a1["trend"][-1]["hour"] == NOW.isoformat()
    for key in ("air", "exceedances"):
        assert inc["environment"][key] == fresh["environment"][key]
