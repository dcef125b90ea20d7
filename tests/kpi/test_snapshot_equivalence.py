"""The set-based fast paths in ioc/kpi/frames.py give the same figures as the plain
functions they stand in for (hotline, cameras, aqi, qd766, environment), on random data.

If a definition changes in a plain module, these tests fail until frames.py follows."""

from __future__ import annotations

import math
from datetime import timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.kpi import aqi, cameras, frames, hotline, qd766

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


def _same_figures(fast: dict, pure: dict):
    for k, v in pure.items():
        if k in ("period", "by"):
            continue
        _close(fast[k], v, k)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hotline_deadlines_match(seed):
    df = _tickets(seed)
    fast = frames.ticket_deadlines(df, TZ)
    pure = hotline.deadlines(df, TZ)
    assert (fast.reset_index(drop=True) == pure.reset_index(drop=True)).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("days,as_of_shift", [(1, 0), (7, 0), (30, 0), (30, -10)])
def test_hotline_period_matches_summary(seed, days, as_of_shift):
    df = _tickets(seed)
    df["deadline"] = frames.ticket_deadlines(df, TZ)
    start, end = NOW - pd.Timedelta(days=days), NOW
    as_of = NOW + pd.Timedelta(days=as_of_shift)
    fast = frames.hotline_period(df, start, end, as_of)
    pure = hotline.summary(df.drop(columns="deadline"), start, end, as_of=as_of, tz=TZ)
    _same_figures(fast["figures"], pure)
    names = {v: k for k, v in frames.HOTLINE_BREAKDOWNS.items()}
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
    fast = frames.camera_summary(df, NOW)
    pure = cameras.summary(df, NOW)
    for k in ("total", "online", "offline", "degraded", "unknown", "online_pct", "online_pct_known"):
        assert fast[k] == pure[k], k
    assert fast["by_commune"] == pure["by_commune"]
    assert fast["by_agency"] == pure["by_agency"]
    assert [r["id"] for r in fast["offline_cameras"]] == [r["id"] for r in pure["offline_cameras"]]
    assert [r["offline_hours"] for r in fast["offline_cameras"]] == [r["offline_hours"] for r in pure["offline_cameras"]]


def _air(seed: int, hours: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-05-01 00:00", periods=hours, freq="h", tz="UTC")
    df = pd.DataFrame({p: rng.gamma(2.0, 30.0, hours) for p in ("pm25", "pm10", "no2", "so2", "o3")}, index=idx)
    df["co"] = rng.gamma(2.0, 3000.0, hours)
    df = df.mask(rng.random(df.shape) < 0.15)  # missing hours
    df.iloc[3, 0] = -5.0  # invalid
    df.iloc[5, 4] = 450.0  # high ozone
    return df.drop(index=idx[rng.random(hours) < 0.05])  # absent rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hourly_aqi_at_matches(seed):
    df = _air(seed, 60)
    pure = aqi.hourly_aqi(df)
    hours = list(pure.index[-24:])
    fast = frames.hourly_aqi_at(df, hours)
    for row in fast:
        ref = pure.loc[row["hour"]].to_dict()
        for k in ("pm25", "pm10", "no2", "so2", "co", "o3", "aqi", "dominant"):
            assert row[k] == ref[k], (row["hour"], k)
        for k in ("nowcast_pm25", "nowcast_pm10"):
            _close(row[k], ref[k], k)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_daily_aqi_fast_matches(seed):
    df = _air(seed, 24 * 10)
    pure = aqi.daily_aqi(df, TZ)
    fast = frames.daily_aqi_fast(df, TZ)
    assert list(fast) == list(pure.index)
    for day, row in fast.items():
        assert row == {k: pure.loc[day, k] for k in row}, day


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


def test_qd766_sql_counts_match_report(engine):
    rows = _dossiers(7)
    now = pd.Timestamp("2026-05-25", tz="UTC").to_pydatetime()
    with Session(engine) as s, s.begin():
        s.add_all([m.Procedure(**p, updated_at=now) for p in PROCS])
        s.add_all([m.Dossier(**r) for r in rows])
    df = pd.DataFrame(rows)
    for col in ("received_at", "due_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    procs = pd.DataFrame(PROCS)
    for start, end, as_of in [
        (pd.Timestamp("2026-04-01", tz="UTC"), pd.Timestamp("2026-05-01", tz="UTC"), None),
        (pd.Timestamp("2026-04-01", tz="UTC"), pd.Timestamp("2026-05-01", tz="UTC"), pd.Timestamp("2026-04-20", tz="UTC")),
        (pd.Timestamp("2026-03-01", tz="UTC"), pd.Timestamp("2026-05-25", tz="UTC"), None),
    ]:
        as_of = as_of or end
        pure = qd766.report(df, procs, start, end, as_of=as_of)
        with engine.connect() as conn:
            counts = frames.combine_counts([
                frames.qd766_received(conn, start, end),
                frames.qd766_finished(conn, start, end, as_of),
                frames.qd766_overdue(conn, end, as_of),
            ])
        fast = frames.qd766_report_from_counts(counts)
        for unit in ("province",):
            _same_qd766(fast[unit], pure[unit])
        for col in ("agency", "commune_code"):
            assert set(fast[col]) == set(pure[col])
            for k in pure[col]:
                _same_qd766(fast[col][k], pure[col][k])


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
        av = frames.camera_availability(conn, t0, t0 + timedelta(days=1)).set_index("camera_id")
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
    grid = frames.AirGrid(obs, ds, start - pd.Timedelta(hours=3), end)
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
    for day in sorted({r["date"] for r in pure_ex}):
        got = grid.exceedances_day("A", day, TZ) + grid.exceedances_day("B", day, TZ)
        assert grid.exceedances_day_all(day, TZ) == got  # all stations in one pass: the same rows
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
    got = frames.water_exceedances_latest(df)
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
        got = frames.rolling_mean(col, window, min_periods)
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
    assert frames.stations_offline_latest(stations, ds, latest, NOW) == ref


def test_count_space_matches_dataframe_path(engine):
    rows = _dossiers(11, 300)
    with Session(engine) as s, s.begin():
        s.add_all([m.Procedure(**p, updated_at=NOW.to_pydatetime()) for p in PROCS])
        s.add_all([m.Dossier(**r) for r in rows])
    start, end = pd.Timestamp("2026-03-01", tz="UTC"), pd.Timestamp("2026-05-01", tz="UTC")
    with engine.connect() as conn:
        parts = [frames.qd766_received(conn, start, end), frames.qd766_finished(conn, start, end, end),
                 frames.qd766_overdue(conn, end, end)]
    ref = frames.qd766_report_from_counts(frames.combine_counts(parts), compact_units=True)
    space = frames.CountSpace()
    half = space.encode(parts[0])
    got = space.report(space.add(half, space.encode(parts[1], parts[2])))
    assert got["province"] == ref["province"]
    assert got["agency"] == ref["agency"] and got["commune_code"] == ref["commune_code"]


def test_qd766_row_counts_match_sql(engine):
    """Today's counts kept in memory (rows of the change feed) equal the SQL statements."""
    rows = _dossiers(5, 500)
    rows[0]["supplement_wait_hours"] = -3.0  # negative wait counts as none
    rows[1]["supplement_wait_hours"] = None
    with Session(engine) as s, s.begin():
        s.add_all([m.Procedure(**p, updated_at=NOW.to_pydatetime()) for p in PROCS])
        s.add_all([m.Dossier(**r) for r in rows])
    with engine.connect() as conn:
        fees = frames.procedure_fees(conn)
        for start, end, as_of in [
            ("2026-04-01", "2026-04-02", "2026-04-02"),  # a day
            ("2026-04-10", "2026-04-10 15:00", "2026-04-10 15:00"),  # today so far
            ("2026-03-01", "2026-05-01", "2026-04-20"),  # finished after as_of left out
        ]:
            start, end, as_of = (pd.Timestamp(x, tz="UTC").to_pydatetime() for x in (start, end, as_of))
            df = frames.load_dossiers_since(conn, start)
            assert df["id"].is_unique
            space = frames.CountSpace()
            ref = space.report(space.encode(frames.qd766_received(conn, start, end),
                                            frames.qd766_finished(conn, start, end, as_of)))
            got = space.report(space.encode_rows(space.pair_ids(df["agency"], df["commune_code"]),
                                                 frames.qd766_row_counts(df, fees, start, end, as_of)))
            assert ref["province"]["counts"]["received"] > 0 and ref["province"]["counts"]["finished"] > 0
            assert got["province"]["counts"] == ref["province"]["counts"]
            for code, ind in ref["province"]["indicators"].items():
                for k, v in ind.items():
                    _close(got["province"]["indicators"][code][k], v, f"{code}.{k}")
            assert got["agency"] == ref["agency"] and got["commune_code"] == ref["commune_code"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_air_grid_daily_and_period_exceedances(seed):
    from ioc.kpi import environment

    obs, ds, start, end = _air_long(seed, hours=24 * 5)
    grid = frames.AirGrid(obs, ds, start - pd.Timedelta(hours=2), end + pd.Timedelta(hours=5))
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
        ref = [r for r in pure_ex if r["station_id"] == sid and first <= r["date"] <= last]
        mine = grid.exceedances_days(sid, first, last, TZ)
        key = lambda r: (r["parameter"], r["averaging"], r["date"])  # noqa: E731
        assert sorted(map(key, mine)) == sorted(map(key, ref))
        for a, b in zip(sorted(mine, key=key), sorted(ref, key=key)):
            assert a["exceed_count"] == b["exceed_count"] and a["first_at"] == b["first_at"]
            _close(a["max_value"], b["max_value"], "max_value")
