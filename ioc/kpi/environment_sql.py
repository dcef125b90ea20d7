"""Environment data from SQL: stations, datastreams, newest and windowed observations, and
the set-wise forms of two environment rules — stations offline from the newest-value map,
water exceedances of latest values (and counted in SQL over a period). Each is checked
against its definition in :mod:`ioc.kpi.environment` on random data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, select, true
from sqlalchemy.engine import Connection

from ioc.db import models as m
from ioc.kpi.values import py
from ioc.kpi.dates import micros, ts
from ioc.kpi.environment import (DEFAULT_MAX_AGE_BY_KIND, DEFAULT_OFFLINE_MAX_AGE, WATER_LIMITS_QCVN08_2023_B,
                                 limit_value, outside_limit)
from ioc.kpi.parameters import kpi_parameter
from ioc.kpi.sql import dialect_name, fetch, in_list, tcol

STATION_COLUMNS = ("id", "name", "kind", "lat", "lon", "commune_code", "properties")


def load_stations(conn: Connection) -> pd.DataFrame:
    t = m.Station.__table__
    return fetch(conn, select(*[t.c[c] for c in STATION_COLUMNS]), raw=False)  # properties: JSON


def load_datastreams(conn: Connection) -> pd.DataFrame:
    t = m.Datastream.__table__
    df = fetch(conn, select(t.c.id, t.c.station_id, t.c.parameter, t.c.unit))
    df["code"] = [kpi_parameter(p) for p in df["parameter"]] if len(df) else pd.Series([], dtype=object)
    return df


def environment_signature(conn: Connection) -> tuple:
    """Cheap fingerprint of the station / datastream catalogue (count, newest update)."""
    st, ds = m.Station.__table__, m.Datastream.__table__
    row = conn.execute(select(*[select(f).select_from(t).scalar_subquery()  # one round trip, not two
                                for t in (st, ds) for f in (func.count(), func.max(t.c.updated_at))])).one()
    return ((row[0], row[1]), (row[2], row[3]))


def load_latest_observations(conn: Connection, as_of: datetime, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Newest observation per datastream (all, or ``ids``) at or before ``as_of``:
    ``datastream_id, phenomenon_time, result`` — one index probe per datastream."""
    if ids is not None:
        ids = list(ids)
        parts = [_latest(conn, as_of, ids[i:i + 500]) for i in range(0, len(ids), 500)]
        return pd.concat(parts, ignore_index=True) if parts else _latest(conn, as_of, [])
    return _latest(conn, as_of, None)


def _latest(conn: Connection, as_of: datetime, ids: list[str] | None) -> pd.DataFrame:
    d = dialect_name(conn)
    o = m.Observation.__table__
    ds = m.Datastream.__table__
    if d == "postgresql":  # one backward index probe per datastream
        last = (select(o.c.phenomenon_time, o.c.result)
                .where(o.c.datastream_id == ds.c.id, o.c.phenomenon_time <= as_of)
                .order_by(o.c.phenomenon_time.desc()).limit(1).lateral("last"))
        stmt = select(ds.c.id.label("datastream_id"), tcol(last.c.phenomenon_time, d, "phenomenon_time"),
                      last.c.result).select_from(ds.join(last, true()))
        if ids is not None:
            stmt = stmt.where(in_list(ds.c.id, ids, d))
        return fetch(conn, stmt, ("phenomenon_time",))
    o2 = o.alias("o2")
    newest = (select(func.max(o2.c.phenomenon_time)).where(o2.c.datastream_id == ds.c.id,
                                                           o2.c.phenomenon_time <= as_of).scalar_subquery())
    stmt = (select(o.c.datastream_id, tcol(o.c.phenomenon_time, d, "phenomenon_time"), o.c.result)
            .select_from(ds.join(o, and_(o.c.datastream_id == ds.c.id, o.c.phenomenon_time == newest))))
    if ids is not None:
        stmt = stmt.where(in_list(ds.c.id, ids, d))
    return fetch(conn, stmt, ("phenomenon_time",))


def load_observations(conn: Connection, datastream_ids: Sequence[str], start: datetime, end: datetime,
                      *, after_id: int | None = None) -> pd.DataFrame:
    """Observations of some datastreams with ``start <= phenomenon_time <= end`` (and
    ``id > after_id``: rows written since an earlier read); with their ``id``."""
    d = dialect_name(conn)
    o = m.Observation.__table__
    if not len(datastream_ids):
        return pd.DataFrame({"id": [], "datastream_id": [],
                             "phenomenon_time": pd.Series([], dtype="datetime64[us, UTC]"), "result": []})
    parts = []
    ids = list(datastream_ids)
    for i in range(0, len(ids), 500):
        stmt = select(o.c.id, o.c.datastream_id, tcol(o.c.phenomenon_time, d, "phenomenon_time"), o.c.result).where(
            in_list(o.c.datastream_id, ids[i:i + 500], d), o.c.phenomenon_time >= start,
            o.c.phenomenon_time <= end)
        if after_id is not None:
            stmt = stmt.where(o.c.id > after_id)
        parts.append(fetch(conn, stmt, ("phenomenon_time",)))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def stations_offline_latest(stations: pd.DataFrame, datastreams: pd.DataFrame, latest: Mapping[str, tuple],
                            as_of: datetime) -> list[dict]:
    """:func:`environment.stations_offline` (default max ages) from the newest-value map
    ``{datastream id: (phenomenon time in µs since 1970 UTC, value)}``: same rows, same
    order, without a groupby over a frame each snapshot."""
    now = ts(as_of)
    now_us = now.value // 1000
    last: dict[str, int] = {}
    # plain lists: iterating pandas' string arrays goes element by element through __getitem__
    for ds_id, sid in zip(datastreams["id"].astype(str).tolist(), datastreams["station_id"].astype(str).tolist()):
        v = latest.get(ds_id)
        if v is not None and v[0] <= now_us and v[0] > last.get(sid, -(2 ** 62)):
            last[sid] = v[0]
    out = []

    def col(c):
        return stations[c].to_numpy(dtype=object).tolist() if c in stations.columns else [None] * len(stations)

    for sid, name, kind, commune in zip(stations["id"].astype(str).tolist(), col("name"), col("kind"),
                                        col("commune_code")):
        max_age = DEFAULT_OFFLINE_MAX_AGE if kind is None else DEFAULT_MAX_AGE_BY_KIND.get(kind, DEFAULT_OFFLINE_MAX_AGE)
        if max_age is None:
            continue
        t = last.get(sid)
        if t is not None and now_us - t <= max_age // timedelta(microseconds=1):
            continue
        at = None if t is None else pd.Timestamp(t * 1000, tz="UTC")
        out.append({"station_id": sid, "name": py(name), "kind": kind, "commune_code": py(commune),
                    "last_at": at.to_pydatetime() if at is not None else None,
                    "hours_since": round((now - at).total_seconds() / 3600.0, 2) if at is not None else None,
                    "max_age_hours": round(max_age.total_seconds() / 3600.0, 2)})
    out.sort(key=lambda r: (r["last_at"] is None, r["last_at"] or now))
    return out



def water_exceedances_latest(latest: pd.DataFrame,
                             limits: Mapping[str, Mapping] = WATER_LIMITS_QCVN08_2023_B) -> list[dict]:
    """:func:`environment.water_exceedances` vectorised, for latest values
    (``station_id, code, at, value``); same rows, same order (station, time)."""
    if latest is None or not len(latest):
        return []
    codes = latest["code"].to_numpy(dtype=object)
    vals = latest["value"].to_numpy(dtype=float)
    judged = np.isfinite(vals) & (vals >= 0)  # negatives are not judged
    bad = np.zeros(len(latest), dtype=bool)
    for code, spec in limits.items():
        sel = judged & (codes == code)
        if sel.any():
            bad[sel] = outside_limit(spec, vals[sel])
    idx = np.flatnonzero(bad)
    if not len(idx):
        return []
    sids = latest["station_id"].to_numpy(dtype=object)[idx].tolist()
    at_us = micros(latest["at"])[idx].tolist()
    order = sorted(range(len(idx)), key=lambda i: (sids[i], at_us[i]))  # stable, as sort_values
    out = []
    for i in order:
        code = codes[idx[i]]
        spec = limits[code]
        lim = limit_value(spec)
        out.append({"station_id": str(sids[i]), "parameter": code, "at": _EPOCH + timedelta(microseconds=at_us[i]),
                    "value": float(vals[idx[i]]), "limit": lim, "kind": spec["kind"], "unit": spec.get("unit")})
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def water_exceedance_counts(conn: Connection, start: datetime, end: datetime,
                            limits: Mapping[str, Mapping] = WATER_LIMITS_QCVN08_2023_B) -> pd.DataFrame:
    """Observations in ``[start, end)`` outside the surface-water limits, counted in SQL
    per station and parameter (same rule as :func:`environment.water_exceedances`:
    negative values are not judged). Returns ``station_id, parameter, observations,
    exceedances``."""
    o = m.Observation.__table__
    ds = m.Datastream.__table__
    st = m.Station.__table__
    stored = [r[0] for r in conn.execute(select(ds.c.parameter).distinct()).all()]
    by_code: dict[str, list[str]] = {}
    for p in stored:
        code = kpi_parameter(p)
        if code in limits:
            by_code.setdefault(code, []).append(p)
    if not by_code:
        return pd.DataFrame({"station_id": [], "parameter": [], "observations": [], "exceedances": []})
    whens = []
    for code, raws in by_code.items():
        # the definition's own test, applied to the column: it builds the SQL condition
        whens.append((and_(ds.c.parameter.in_(raws), outside_limit(limits[code], o.c.result)), 1))
    stmt = (select(ds.c.station_id, ds.c.parameter, func.count().label("observations"),
                   func.sum(case(*whens, else_=0)).label("exceedances"))
            .select_from(o.join(ds, ds.c.id == o.c.datastream_id).join(st, st.c.id == ds.c.station_id))
            .where(o.c.phenomenon_time >= start, o.c.phenomenon_time < end, o.c.result >= 0,
                   ds.c.parameter.in_([p for ps in by_code.values() for p in ps]),
                   st.c.kind.in_(("water", "iot_water")))
            .group_by(ds.c.station_id, ds.c.parameter))
    df = fetch(conn, stmt)
    if len(df):
        df["parameter"] = df["parameter"].map(kpi_parameter)
        df["exceedances"] = df["exceedances"].fillna(0).astype(int)
        df["observations"] = df["observations"].astype(int)
    return df
