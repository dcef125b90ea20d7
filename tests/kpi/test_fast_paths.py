"""Every fast path of the KPI engine gives the same figures as the definition it stands in
for, on random data: hotline (tickets.py ← hotline.py), cameras (cameras_sql.py ←
cameras.py), VN_AQI and air exceedances (air_grid.py ← aqi.py, environment.py), water
exceedances and stations offline (environment_sql.py ← environment.py), QĐ 766 counted in
SQL (qd766_sql.py ← qd766.py). Change a definition and these fail until the fast path
follows. docs/kpis.md § 9 lists the pairs."""

from __future__ import annotations

import math
from datetime import timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.kpi import aqi, cameras, cameras_sql, environment_sql, hotline, qd766, qd766_sql, tickets
from ioc.kpi.air_grid import AirGrid, rolling_mean

UTC = timezone.utc
TZ = "Asia/Ho_Chi_Minh"
NOW = pd.Timestamp("2026-05-20 05:30", tz="UTC")


def _tickets(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    req = NOW - pd.to_timedelta(rng.integers(0, 60 * 86400, n), unit="s")
    ans = req + pd.to_timedelta(rng.integers(-3600, 30 * 86400, n), unit="s")  # some negative durations
    ans = pd.Series(ans).where(rng.random(n) < 0.8, pd.NaT)
    status = np.where(ans.notna(), "closed", "open")
    status = np.where(rng.random(n) < 0.05, " Closed ", status)  # closed without answer time / odd spelling
    exp = pd.Series(req + pd.to_timedelta(rng.integers(86400, 20 * 86400, n), unit="s")).where(rng.random(n) < 0.3, pd.NaT)
    return pd.DataFrame({
        "external_id": [f"T{i}" for i in range(n)],
        "service_name": rng.choice(["Đất đai", "Giao thông", None, "  ", "Môi trường"], n),
        "channel": rng.choice(["phone", "web", "zalo", None], n),
        "status": status,
        "agency": rng.choice(["Sở A", "Sở B", None], n),
        "commune_code": rng.choice(["29251", "29254", "29257", None], n),
        "requested_at": pd.Series(req).astype("datetime64[us, UTC]"),
        "expected_at": exp.astype("datetime64[us, UTC]"),
        "answered_at": ans.astype("datetime64[us, UTC]"),
        "reopened_count": rng.choice([0, 0, 0, 1, 2], n),
    })


def _close(a, b, key):
    if a is None or b is None:
        assert a is None and b is None, key
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, abs_tol=0.011), (key, a, b)
    else:
        assert a == b, (key, a, b)


def _same_tree(fast, pure, key=""):
    """Equal, floats to 0.011 (sums in another order, rounded to 2 decimals)."""
    if isinstance(pure, dict):
        assert set(fast) == set(pure), key
        for k in pure:
            _same_tree(fast[k], pure[k], f"{key}.{k}")
    else:
        _close(fast, pure, key)


def _same_figures(fast: dict, pure: dict):
    for k, v in pure.items():
        if k in ("period", "by"):
            continue
        _close(fast[k], v, k)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hotline_deadlines_match(seed):
    df = _tickets(seed)
    fast = tickets.ticket_deadlines(df, TZ)
    pure = hotline.deadlines(df, TZ)
    assert (fast.reset_index(drop=True) == pure.reset_index(drop=True)).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("days,as_of_shift", [(1, 0), (7, 0), (30, 0), (30, -10)])
def test_hotline_period_matches_summary(seed, days, as_of_shift):
    df = _tickets(seed)
    df["deadline"] = tickets.ticket_deadlines(df, TZ)
    start, end = NOW - pd.Timedelta(days=days), NOW
    as_of = NOW + pd.Timedelta(days=as_of_shift)
    fast = tickets.hotline_period(df, start, end, as_of)
    pure = hotline.summary(df.drop(columns="deadline"), start, end, as_of=as_of, tz=TZ)
    _same_figures(fast["figures"], pure)
    names = {v: k for k, v in tickets.HOTLINE_BREAKDOWNS.items()}
    for col, groups in pure["by"].items():
        got = fast["by"][names[col]]
        assert set(got) == set(groups), col
        for key, figs in groups.items():
            _same_figures(got[key], figs)


def _cameras(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    since = pd.Series(NOW - pd.to_timedelta(rng.integers(0, 10 * 86400, n), unit="s")).where(rng.random(n) < 0.9, pd.NaT)
    return pd.DataFrame({
        "id": [f"C{i}" for i in range(n)], "name": [f"Cam {i}" for i in range(n)],
        "commune_code": rng.choice(["29251", "29254", None, ""], n), "agency": rng.choice(["CA", "UBND", None], n),
        "status": rng.choice(["online"] * 6 + ["offline", "degraded", "unknown", "weird", None], n),
        "status_since": since.astype("datetime64[us, UTC]"), "status_reason": None,
        "last_seen": pd.Series([NOW] * n).astype("datetime64[us, UTC]"),
    })


@pytest.mark.parametrize("seed", [1, 2])
def test_camera_summary_matches(seed):
    df = _cameras(seed)
    fast = cameras_sql.camera_summary(df, NOW)
    pure = cameras.summary(df, NOW)
    for k in ("total", "online", "offline", "degraded", "unknown", "online_pct", "online_pct_known"):
        assert fast[k] == pure[k], k
    assert fast["by_commune"] == pure["by_commune"]
    assert fast["by_agency"] == pure["by_agency"]
    assert [r["id"] for r in fast["offline_cameras"]] == [r["id"] for r in pure["offline_cameras"]]
    assert [r["offline_hours"] for r in fast["offline_cameras"]] == [r["offline_hours"] for r in pure["offline_cameras"]]


# --- QĐ 766: SQL counts against qd766.report -------------------------------------------------------


def _dossiers(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-03-01", tz="UTC")
    recv = base + pd.to_timedelta(rng.integers(0, 80 * 86400, n), unit="s")
    due = recv + pd.to_timedelta(rng.integers(2 * 86400, 15 * 86400, n), unit="s")
    fin = recv + pd.to_timedelta(rng.integers(3600, 20 * 86400, n), unit="s")
    rows = []
    for i in range(n):
        fin_i = fin[i] if rng.random() < 0.8 else None
        if fin_i is not None and rng.random() < 0.05:
            fin_i = due[i]  # exactly on the due time
        rows.append(dict(
            id=f"D{i}", procedure_code=rng.choice(["P1", "P2", "P3", None]),
            agency=rng.choice(["Sở Tư pháp", "UBND xã A", None]), commune_code=rng.choice(["29251", "29254", None]),
            channel=rng.choice([1, 2, 2, 3, None]), received_at=recv[i].to_pydatetime(),
            due_at=due[i].to_pydatetime() if rng.random() < 0.9 else None,
            finished_at=None if fin_i is None else fin_i.to_pydatetime(),
            supplement_requests=int(rng.choice([0, 0, 1, 2])),
            supplement_wait_hours=float(rng.choice([0.0, 0.0, 12.0, 48.0])),
            paid_online=rng.choice([True, False, None]), electronic_result=rng.choice([True, False, None]),
            digitised=rng.choice([True, False, None]), data_reused=rng.choice([True, False, None]),
            satisfaction=rng.choice([1, 2, 3, 4, 5, None]), complaint=rng.choice([True, False, None]),
            updated_at=recv[i].to_pydatetime(), status=None,
        ))
    for r in rows:
        for k, v in list(r.items()):
            if isinstance(v, np.generic):
                r[k] = v.item()
    return rows


PROCS = [dict(code="P1", name="A", has_fee=True), dict(code="P2", name="B", has_fee=False),
         dict(code="P9", name="C", has_fee=True)]


def _load(engine, rows):
    with Session(engine) as s, s.begin():
        s.add_all([m.Procedure(**p, updated_at=NOW.to_pydatetime()) for p in PROCS])
        s.add_all([m.Dossier(**r) for r in rows])
    df = pd.DataFrame(rows)
    for col in ("received_at", "due_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


WINDOWS = [  # (start, end, as_of): a closed month, the same month judged mid-way, a long range, one day
    ("2026-04-01", "2026-05-01", "2026-05-01"),
    ("2026-04-01", "2026-05-01", "2026-04-20"),
    ("2026-03-01", "2026-05-25", "2026-05-25"),
    ("2026-04-10", "2026-04-11", "2026-04-10 15:00"),
]


def _sql_report(conn, start, end, as_of) -> dict:
    counts = qd766_sql.combine_counts([qd766_sql.qd766_received(conn, start, end),
                                       qd766_sql.qd766_finished(conn, start, end, as_of),
                                       qd766_sql.qd766_in_progress(conn, end, as_of)])
    return qd766_sql.report_from_marginals(qd766_sql.counts_marginals(counts))


@pytest.mark.parametrize("seed", [7, 8])
def test_qd766_sql_counts_match_the_definition(engine, seed):
    rows = _dossiers(seed)
    rows[0]["supplement_wait_hours"] = -3.0  # negative wait counts as none
    rows[1]["supplement_wait_hours"] = None
    df = _load(engine, rows)
    procs = pd.DataFrame(PROCS)
    for start, end, as_of in WINDOWS:
        start, end, as_of = (pd.Timestamp(x, tz="UTC") for x in (start, end, as_of))
        pure = qd766.report(df, procs, start, end, as_of=as_of)
        with engine.connect() as conn:
            fast = _sql_report(conn, start.to_pydatetime(), end.to_pydatetime(), as_of.to_pydatetime())
            totals = qd766_sql.qd766_in_progress_totals(conn, end.to_pydatetime(), as_of.to_pydatetime())
        assert pure["province"]["counts"]["received"] > 0
        _same_qd766(fast["province"], pure["province"])
        ind = pure["province"]["indicators"]["2.1"]
        assert totals == {"overdue_unfinished": ind["overdue_unfinished"], "open_on_time": ind["in_progress_on_time"]}
        for col in ("agency", "commune_code"):
            assert set(fast[col]) == set(pure[col])
            for k in pure[col]:
                _same_tree(fast[col][k], qd766.unit_summary(pure[col][k]), f"{col}.{k}")


def test_qd766_overdue_conditions_match_the_definition(engine):
    """``qd766_sql.overdue_where`` (the map's overdue-dossier list) selects exactly the
    dossiers :func:`qd766.open_counts` calls overdue."""
    from sqlalchemy import and_, or_, select

    df = _load(engine, _dossiers(9))
    d = m.Dossier.__table__
    for end, as_of in (("2026-05-01", "2026-04-20"), ("2026-05-25", "2026-05-25")):
        end, as_of = pd.Timestamp(end, tz="UTC"), pd.Timestamp(as_of, tz="UTC")
        with engine.connect() as conn:
            sets = qd766_sql.overdue_where(conn, end.to_pydatetime(), as_of.to_pydatetime())
            got = {r[0] for r in conn.execute(select(d.c.id).where(or_(*(and_(*x) for x in sets))))}
        want = set(df["id"][qd766.open_counts(df, end, as_of)[:, 0] > 0])
        assert want and got == want


def _same_qd766(fast, pure):
    assert fast["counts"] == pure["counts"]
    for code, ref in pure["indicators"].items():
        got = fast["indicators"][code]
        for k, v in ref.items():
            if k == "median":
                continue
            _close(got[k], v, f"{code}.{k}")
    _close(fast["score"], pure["score"], "score")
    assert fast["max_score"] == pure["max_score"]


def test_camera_availability_from_changes(engine):
    t0 = pd.Timestamp("2026-05-01", tz="UTC")
    with Session(engine) as s, s.begin():
        for cid, status, since in [("A", "online", t0 - timedelta(days=3)), ("B", "offline", t0 + timedelta(hours=6)),
                                   ("C", "online", t0 + timedelta(hours=30))]:
            s.add(m.Camera(id=cid, name=cid, status=status, status_since=since.to_pydatetime(),
                           updated_at=t0.to_pydatetime(), commune_code="29251"))
        # B: online before the window, offline from +6 h
        s.add(m.CameraStatusChange(camera_id="B", at=(t0 - timedelta(days=2)).to_pydatetime(), status="online", previous=None))
        s.add(m.CameraStatusChange(camera_id="B", at=(t0 + timedelta(hours=6)).to_pydatetime(), status="offline", previous="online"))
    with engine.connect() as conn:
        av = cameras_sql.camera_availability(conn, t0, t0 + timedelta(days=1)).set_index("camera_id")
    assert av.loc["A", "online_s"] == pytest.approx(86400) and av.loc["A", "known_s"] == pytest.approx(86400)
    assert av.loc["B", "online_s"] == pytest.approx(6 * 3600) and av.loc["B", "known_s"] == pytest.approx(86400)
    # C: its status since +30 h is after the window: unknown for the whole day
    assert av.loc["C", "known_s"] == pytest.approx(0)


# --- air grid (all stations on one numpy grid) -----------------------------------------------------


def _air_long(seed: int, hours: int = 40):
    """Observations of two air stations (one with mg/m³ CO, one with gaps and bad values)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-05-19 00:00", tz="UTC")
    rows, ds = [], []
    for sid in ("A", "B"):
        for p in ("pm25", "pm10", "no2", "so2", "co", "o3"):
            unit = "mg/m³" if (sid == "B" and p == "co") else "µg/m³"
            ds.append({"id": f"{sid}-{p}", "station_id": sid, "parameter": p, "unit": unit, "code": p})
            scale = {"co": 3000.0, "o3": 90.0, "no2": 120.0, "so2": 150.0}.get(p, 45.0)
            for h in range(hours):
                if rng.random() < 0.12:
                    continue
                v = rng.gamma(2.0, scale / 2)
                if unit == "mg/m³":
                    v /= 1000.0
                if rng.random() < 0.02:
                    v = -1.0
                rows.append({"datastream_id": f"{sid}-{p}", "result": v,
                             "phenomenon_time": start + pd.Timedelta(hours=h, minutes=int(rng.integers(0, 60)))})
    obs = pd.DataFrame(rows)
    obs["phenomenon_time"] = obs["phenomenon_time"].astype("datetime64[us, UTC]")
    return obs, pd.DataFrame(ds), start, start + pd.Timedelta(hours=hours)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_air_grid_matches_hourly_aqi_and_exceedances(seed):
    from ioc.kpi import environment

    obs, ds, start, end = _air_long(seed)
    grid = AirGrid(obs, ds, start - pd.Timedelta(hours=3), end)
    hourly = environment.hourly_means(obs, ds.drop(columns="code"))
    for sid in ("A", "B"):
        wide = environment.air_station_hourly(hourly, sid)
        pure = aqi.hourly_aqi(wide)
        got = grid.hourly_aqi(sid, 24, memo={})
        assert [r["hour"] for r in got] == list(pure.index[-24:])
        for row in got:
            ref = pure.loc[row["hour"]]
            for k in ("pm25", "pm10", "no2", "so2", "co", "o3", "aqi", "dominant"):
                assert row[k] == ref[k], (sid, row["hour"], k)
    pure_ex = environment.air_exceedances(hourly, tz=TZ)
    assert pure_ex
    for day in sorted({r["date"] for r in pure_ex}):  # one day: the snapshot's "today"
        got = grid.exceedances(day, day, TZ)
        ref = [r for r in pure_ex if r["date"] == day]
        assert len(got) == len(ref), day
        for a, b in zip(got, ref):
            for k in ("station_id", "parameter", "averaging", "date", "limit", "exceed_count", "first_at"):
                assert a[k] == b[k], (day, k, a, b)
            _close(a["max_value"], b["max_value"], "max_value")


def test_water_exceedances_latest_matches():
    from ioc.kpi import environment

    rng = np.random.default_rng(5)
    params = ["ph", "bod5", "cod", "do", "tss", "coliform", "n_nh4", "n_no3", "salinity", "as"]
    rows = [{"datastream_id": f"{s}-{p}", "station_id": s, "code": p, "parameter": p,
             "at": pd.Timestamp("2026-05-01", tz="UTC") + pd.Timedelta(hours=int(rng.integers(0, 48))),
             "value": float(rng.choice([-1.0, 0.001, 0.2, 5.5, 7.0, 9.2, 20.0, 6000.0]))}
            for s in ("W1", "W2", "W3") for p in params]
    df = pd.DataFrame(rows)
    df["at"] = df["at"].astype("datetime64[us, UTC]")
    got = environment_sql.water_exceedances_latest(df)
    ref = environment.water_exceedances(df.rename(columns={"at": "phenomenon_time", "value": "result"}),
                                        df[["datastream_id", "station_id", "parameter"]].rename(
                                            columns={"datastream_id": "id"}))
    assert sorted(got, key=lambda r: (r["station_id"], r["at"], r["parameter"])) == \
        sorted(ref, key=lambda r: (r["station_id"], r["at"], r["parameter"]))


def test_rolling_mean_matches_pandas():
    rng = np.random.default_rng(3)
    col = rng.uniform(0, 300, 200)
    col[rng.random(200) < 0.3] = np.nan
    col[50:60] = np.nan  # a gap longer than the window
    for window, min_periods in ((8, 6), (8, 1), (3, 3)):
        want = pd.Series(col).rolling(window, min_periods=min_periods).mean().to_numpy()
        got = rolling_mean(col, window, min_periods)
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_stations_offline_latest_matches(seed):
    from ioc.kpi import environment

    rng = np.random.default_rng(seed)
    kinds = ["air", "water", "iot_water", "insect", "camera_trap", None]
    stations = pd.DataFrame({"id": [f"S{i}" for i in range(40)], "name": [f"Trạm {i}" for i in range(40)],
                             "kind": rng.choice(kinds, 40), "commune_code": rng.choice(["29251", None], 40)})
    ds = pd.DataFrame({"id": [f"D{i}" for i in range(120)], "station_id": rng.choice(stations["id"], 120)})
    obs = pd.DataFrame({"datastream_id": rng.choice(ds["id"], 100, replace=False),
                        "phenomenon_time": NOW - pd.to_timedelta(rng.integers(-7200, 60 * 3600, 100), unit="s"),
                        "result": 1.0}).astype({"phenomenon_time": "datetime64[us, UTC]"})
    latest = {i: (int(t.value // 1000), 1.0) for i, t in zip(obs["datastream_id"], obs["phenomenon_time"])}
    ref = environment.stations_offline(stations, ds, obs, NOW)
    assert 0 < len(ref) < 40
    assert environment_sql.stations_offline_latest(stations, ds, latest, NOW) == ref


def test_count_space_report_matches_the_definition(engine):
    """The snapshot's path: closed periods counted in SQL into a CountSpace, today's rows and
    the in-progress set counted in memory by the definition, summed as arrays."""
    rows = _dossiers(11, 400)
    df = _load(engine, rows)
    procs = pd.DataFrame(PROCS)
    start, split, end = (pd.Timestamp(x, tz="UTC") for x in ("2026-03-01", "2026-04-20", "2026-05-01"))
    with engine.connect() as conn:
        closed = [qd766_sql.qd766_received(conn, start, split), qd766_sql.qd766_finished(conn, start, split, split)]
        fees = qd766_sql.procedure_fees(conn)
        recent = qd766_sql.load_dossiers_since(conn, split.to_pydatetime())
        unfinished = qd766_sql.load_unfinished(conn, end.to_pydatetime()).drop_duplicates("id")
    space = qd766_sql.CountSpace()
    pairs = space.pair_ids(recent["agency"], recent["commune_code"])
    live = space.encode_rows(pairs, qd766.row_counts(recent, fees, split, end, end, in_progress=False))
    open_block = np.zeros((len(unfinished), len(qd766.COUNTS)))
    open_block[:, [qd766.COUNTS.index(c) for c in qd766.OPEN_COUNTS]] = qd766.open_counts(unfinished, end, end)
    in_progress = space.encode_rows(space.pair_ids(unfinished["agency"], unfinished["commune_code"]), open_block)
    total = space.add(space.encode(*closed), live, in_progress)
    got = space.report(total)
    assert space.report(total) == got  # the second time from the summaries kept per unit
    pure = qd766.report(df, procs, start, end, as_of=end)
    _same_qd766(got["province"], pure["province"])
    for col in ("agency", "commune_code"):
        assert set(got[col]) == set(pure[col])
        for k, v in pure[col].items():
            _same_tree(got[col][k], qd766.unit_summary(v), f"{col}.{k}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_air_grid_daily_and_period_exceedances(seed):
    from ioc.kpi import environment

    obs, ds, start, end = _air_long(seed, hours=24 * 5)
    grid = AirGrid(obs, ds, start - pd.Timedelta(hours=2), end + pd.Timedelta(hours=5))
    hourly = environment.hourly_means(obs, ds.drop(columns="code"))
    pure_ex = environment.air_exceedances(hourly, tz=TZ)
    days = sorted({r["date"] for r in pure_ex})
    first, last = days[1], days[-2]
    for sid in ("A", "B"):
        wide = environment.air_station_hourly(hourly, sid)
        pure = aqi.daily_aqi(wide, TZ)
        got = grid.daily_aqi(sid, TZ)
        assert list(got) == list(pure.index)
        for day, row in got.items():
            assert row == {k: pure.loc[day, k] for k in row}, (sid, day)
    # a range of days (a period's raw part): same rows, same order (station, pollutant, averaging, day)
    ref = [r for r in pure_ex if first <= r["date"] <= last]
    mine = grid.exceedances(first, last, TZ)
    assert len(mine) == len(ref) > 0
    for a, b in zip(mine, ref):
        for k in ("station_id", "parameter", "averaging", "date", "limit", "exceed_count", "first_at"):
            assert a[k] == b[k], (k, a, b)
        _close(a["max_value"], b["max_value"], "max_value")


def test_overdue_baseline_matches_the_definition():
    """The snapshot's 7-day overdue baseline = the mean of ``hotline.metrics(...)["overdue"]``
    over the tickets requested by each of the last 7 local midnights."""
    from zoneinfo import ZoneInfo

    from ioc.kpi.dates import local_day, local_midnight
    from ioc.kpi.snapshot_hotline import overdue_baseline

    zone = ZoneInfo(TZ)
    df = _tickets(4, 600)
    df["deadline"] = tickets.ticket_deadlines(df, TZ)
    tf = tickets.TicketFrame(df)
    today = local_day(NOW, zone)
    counts = []
    for k in range(7):
        t = local_midnight(today - timedelta(days=k), zone)
        seen = df[df["requested_at"] <= t].drop(columns="deadline")
        counts.append(hotline.metrics(seen, t, tz=TZ)["overdue"])
    assert sum(counts) > 0
    assert overdue_baseline(tf, NOW, zone) == round(sum(counts) / 7, 2)


def test_water_exceedance_counts_match_the_definition(engine):
    """Observations outside the QCVN 08 limits counted in SQL over a period = the rows of
    :func:`environment.water_exceedances` (negatives not judged), per station and parameter."""
    from ioc.kpi import environment

    rng = np.random.default_rng(12)
    stored = {"ph": "ph", "do": "do", "bod5": "bod5", "nh4": "n_nh4", "coliform": "coliform", "salinity": "salinity"}
    t0 = pd.Timestamp("2026-05-01", tz="UTC")
    obs = []
    with Session(engine) as s, s.begin():
        for sid in ("W1", "W2"):
            s.add(m.Station(id=sid, name=sid, kind="water", updated_at=NOW.to_pydatetime()))
        s.flush()
        for sid in ("W1", "W2"):
            for raw in stored:
                s.add(m.Datastream(id=f"{sid}-{raw}", station_id=sid, name=raw, parameter=raw, unit="",
                                   updated_at=NOW.to_pydatetime()))
        s.flush()
        seen = set()
        for _ in range(400):
            ds_id = f"{rng.choice(['W1', 'W2'])}-{rng.choice(list(stored))}"
            at = t0 + pd.Timedelta(hours=int(rng.integers(0, 24 * 10)), minutes=int(rng.integers(0, 60)))
            if (ds_id, at) in seen:  # one value per stream and time
                continue
            seen.add((ds_id, at))
            v = float(rng.choice([-1.0, 0.1, 0.3, 0.31, 4.0, 5.0, 6.0, 7.5, 8.5, 9.0, 20.0, 6000.0]))
            s.add(m.Observation(datastream_id=ds_id, phenomenon_time=at.to_pydatetime(), result=v))
            obs.append({"datastream_id": ds_id, "phenomenon_time": at, "result": v})
    obs = pd.DataFrame(obs)
    ds = pd.DataFrame([{"id": f"{sid}-{raw}", "station_id": sid, "parameter": code}
                       for sid in ("W1", "W2") for raw, code in stored.items()])
    start, end = t0 + pd.Timedelta(days=2), t0 + pd.Timedelta(days=7)
    with engine.connect() as conn:
        got = environment_sql.water_exceedance_counts(conn, start.to_pydatetime(), end.to_pydatetime())
    got = {(r.station_id, r.parameter): (r.observations, r.exceedances) for r in got.itertuples()}
    rows = environment.water_exceedances(obs, ds, start=start, end=end)
    inside = obs[(obs["phenomenon_time"] >= start) & (obs["phenomenon_time"] < end) & (obs["result"] >= 0)]
    inside = inside.merge(ds.rename(columns={"id": "datastream_id"}), on="datastream_id")
    inside = inside[inside["parameter"].isin(list(environment.WATER_LIMITS_QCVN08_2023_B))]
    want = {}
    for (sid, p), n in inside.groupby(["station_id", "parameter"]).size().items():
        want[(sid, p)] = (int(n), sum(1 for r in rows if (r["station_id"], r["parameter"]) == (sid, p)))
    assert sum(x[1] for x in want.values()) > 0
    assert got == want
