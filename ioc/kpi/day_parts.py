"""The additive raw parts of a time range ``[s, e)`` — what a daily rollup stores and what
a period query adds up (cameras: online time; environment: daily AQI and exceedances;
procedures: QĐ 766 counts). Used by :mod:`ioc.kpi.periods` and :mod:`ioc.kpi.rollups`.

Each takes ``(conn, s, e, as_of, zone)``: ``as_of`` may lie past ``e`` for the environment
(the 8-hour windows of the last evening end after midnight)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from ioc.db import models as m
from ioc.kpi import cameras_sql, environment, environment_sql, qd766_sql
from ioc.kpi.air_grid import AirGrid
from ioc.kpi.dates import local_day


def cameras_part(conn, s, e, as_of, zone) -> dict:
    """Online / known seconds per camera in [s, min(e, as_of)) and offline events."""
    c = m.CameraStatusChange.__table__
    hi = min(e, as_of)
    av = cameras_sql.camera_availability(conn, s.to_pydatetime(), hi.to_pydatetime())
    events = conn.execute(select(func.count()).where(c.c.at >= s.to_pydatetime(), c.c.at < hi.to_pydatetime(),
                                                     c.c.status == "offline")).scalar()
    return {"av": av, "events": int(events)}


def environment_part(conn, s, e, as_of, zone) -> dict:
    """Daily VN_AQI and air exceedances per station for the local days of [s, e), from
    hourly data in [s − 7 h, as_of) (``as_of`` may lie past ``e``: the 8-hour windows of
    the last evening); water exceedance counts for [s, min(e, as_of))."""
    stations = environment_sql.load_stations(conn)
    ds = environment_sql.load_datastreams(conn)
    hi = as_of
    air_st = stations.loc[stations["kind"] == "air", "id"].astype(str)
    air_ids = ds.loc[ds["code"].isin(environment.AIR_PARAMETERS) & ds["station_id"].astype(str).isin(air_st),
                     "id"].tolist()
    # 7 hours before the start feed the first day's 8-hour ozone means
    t0 = s - pd.Timedelta(hours=7)
    last_us = (hi - pd.Timedelta(microseconds=1)).to_pydatetime()
    obs = environment_sql.load_observations(conn, air_ids, t0.to_pydatetime(), last_us)
    grid = AirGrid(obs, ds, t0, hi - pd.Timedelta(microseconds=1))
    first, last = local_day(s, zone), local_day(e - pd.Timedelta(seconds=1), zone)
    daily = {sid: {d: v for d, v in grid.daily_aqi(sid, zone).items() if first <= d <= last} for sid in sorted(air_st)}
    air_ex = grid.exceedances(first, last, zone)
    water = environment_sql.water_exceedance_counts(conn, s.to_pydatetime(), min(e, as_of).to_pydatetime())
    names = dict(zip(stations["id"].astype(str), stations["name"]))
    return {"daily": daily, "air_ex": air_ex, "water": water, "names": names, "air_stations": list(air_st),
            "has_grid": bool(grid.values)}


def procedures_part(conn, s, e, as_of, zone) -> pd.DataFrame:
    """Received / finished counts (additive); the overdue count is taken at the end."""
    sp, ep, ap = s.to_pydatetime(), e.to_pydatetime(), min(e, as_of).to_pydatetime()
    return qd766_sql.combine_counts([qd766_sql.qd766_received(conn, sp, ep), qd766_sql.qd766_finished(conn, sp, ep, ap)])


RAW = {"cameras": cameras_part, "environment": environment_part, "procedures": procedures_part}
