"""Daily KPI rollups: the additive figures of each closed local day, kept in SQL.

A month's period query adds up ~30 small day parts instead of re-reading a month of raw
history (docs/kpis.md § "Daily rollups"). For each additive domain a day part is exactly
what the period code computes for that day (``periods._RAW``), stored as JSON in
``kpi_day_parts``:

* cameras — online and known seconds per commune, and the day's offline events;
* environment — daily VN_AQI per air station, air exceedances, water exceedance counts;
* procedures — the QĐ 766 received/finished counts per agency and per commune (what the
  report groups by; the province is their sum).

The hotline is not additive (medians, deadlines judged at the period's end) and keeps
being counted whole.

Freshness: the connectors note in ``history_touches`` (in the same transaction as the
data) which times each batch changed. :func:`refresh` — the KPI scheduler's job, also
``ioc kpi rollups`` — first deletes the parts of every day those touches reach, then
builds every closed day that has no part. A period query computes a day without a part
from the raw history, so a deleted or missing part costs time, never correctness.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from ioc.db import models as m
from ioc.kpi import qd766, qd766_sql, sql
from ioc.kpi.dates import local_day, local_midnight, ts
from ioc.kpi.day_parts import RAW

log = logging.getLogger("ioc.kpi")

VERSION = 1  # bump when a part's content changes: older parts are then rebuilt
DOMAINS = ("cameras", "environment", "procedures")
# A day's 8-hour air windows end up to 7 h after its midnight and start 7 h before it, and
# its 24-hour means use only its own hours: observations at t reach the days whose
# [start − 7 h, end + 7 h) holds t.
ENV_SPILL = pd.Timedelta(hours=7)
# Touches younger than this are read again at the next refresh: on PostgreSQL a transaction
# can commit after one holding a higher id, so the mark never passes fresh rows.
SETTLE = timedelta(minutes=2)
KEEP_TOUCHES = timedelta(days=1)
_COUNT_COLS = qd766.RECEIVED_COUNTS + qd766.FINISHED_COUNTS  # a day part holds no in-progress counts


def spill(domain: str) -> pd.Timedelta:
    return ENV_SPILL if domain == "environment" else pd.Timedelta(0)


def last_closed_day(domain: str, now, zone: ZoneInfo) -> date:
    """The newest local day whose part no longer changes except by late data."""
    return local_day(ts(now) - spill(domain), zone) - timedelta(days=1)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[pd.Timestamp, pd.Timestamp]:
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def days_of(s: pd.Timestamp, e: pd.Timestamp, zone: ZoneInfo) -> list[date]:
    """The local days of [s, e) (both local midnights)."""
    first, last = local_day(s, zone), local_day(e - pd.Timedelta(seconds=1), zone)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- JSON codecs ---------------------------------------------------------------------------------------


def _num(v):
    v = float(v)
    return int(v) if v.is_integer() else v


def encode(domain: str, raw: dict | pd.DataFrame) -> str:
    if domain == "cameras":
        av = raw["av"]
        g = (av.groupby(av["commune_code"].astype(object).where(av["commune_code"].notna(), None), dropna=False,
                        sort=True)[["online_s", "known_s"]].sum() if len(av) else None)
        out = {"events": int(raw["events"]),
               "commune_code": [None if k is None or (isinstance(k, float) and np.isnan(k)) else str(k)
                                for k in g.index] if g is not None else [],
               "online_s": [float(x) for x in g["online_s"]] if g is not None else [],
               "known_s": [float(x) for x in g["known_s"]] if g is not None else []}
    elif domain == "environment":
        w = raw["water"]
        out = {"daily": {sid: {d.isoformat(): {"aqi": v["aqi"], "dominant": v["dominant"], "hours": v["hours"]}
                               for d, v in days.items()} for sid, days in raw["daily"].items()},
               "air_ex": [[x["station_id"], x["parameter"], x["averaging"], x["date"].isoformat()]
                          for x in raw["air_ex"]],
               "water": {c: [(_num(v) if c in ("observations", "exceedances") else str(v)) for v in w[c]]
                         for c in ("station_id", "parameter", "observations", "exceedances")} if len(w) else {},
               "has_grid": bool(raw["has_grid"])}
    elif domain == "procedures":
        marg = raw if isinstance(raw, dict) else qd766_sql.counts_marginals(raw)
        out = {}
        for col, df in marg.items():
            cols = [c for c in _COUNT_COLS if c in df.columns and bool((df[c] != 0).any())]
            out[col] = {"keys": [str(k) for k in df.index], "counts": {c: [_num(v) for v in df[c]] for c in cols}}
    else:
        raise ValueError(f"no daily rollup for domain {domain!r}")
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def decode(domain: str, payload: str):
    """One stored part as the period code's raw part (see :func:`merge`)."""
    return merge(domain, [json.loads(payload)])


def merge(domain: str, parts: list[dict]):
    """Stored parts (parsed JSON) added up into one raw part of the period code: a month of
    days becomes one small frame per domain, built once."""
    if domain == "cameras":
        av = pd.DataFrame({
            "commune_code": pd.Series([c for p in parts for c in p["commune_code"]], dtype=object),
            "online_s": np.asarray([x for p in parts for x in p["online_s"]], dtype=float),
            "known_s": np.asarray([x for p in parts for x in p["known_s"]], dtype=float)})
        return {"av": av, "events": sum(int(p["events"]) for p in parts)}
    if domain == "environment":
        daily: dict[str, dict] = {}
        for p in parts:
            for sid, days in p["daily"].items():
                daily.setdefault(sid, {}).update({date.fromisoformat(d): v for d, v in days.items()})
        cols = ("station_id", "parameter", "observations", "exceedances")
        water = pd.DataFrame({c: [v for p in parts if p["water"] for v in p["water"][c]] for c in cols})
        return {"daily": daily,
                "air_ex": [{"station_id": x[0], "parameter": x[1], "averaging": x[2], "date": date.fromisoformat(x[3])}
                           for p in parts for x in p["air_ex"]],
                "water": water, "has_grid": any(bool(p["has_grid"]) for p in parts)}
    if domain == "procedures":  # {"agency": frame, "commune_code": frame} (qd766_sql.counts_marginals)
        out = {}
        for col in qd766_sql.GROUP_COLS:
            keys = np.asarray([k for p in parts for k in p[col]["keys"]], dtype=object)
            codes, uniq = pd.factorize(keys)
            data = {}
            for c in qd766_sql.ALL_COUNTS:
                vals = np.concatenate([np.asarray(p[col]["counts"].get(c) or np.zeros(len(p[col]["keys"])), dtype=float)
                                       for p in parts]) if parts else np.zeros(0)
                data[c] = np.bincount(codes, weights=vals, minlength=len(uniq)).astype(float)
            out[col] = pd.DataFrame(data, index=pd.Index(list(uniq), name=col, dtype=object))
        return out
    raise ValueError(f"no daily rollup for domain {domain!r}")


# --- reading -------------------------------------------------------------------------------------------


def load_parts(conn, domain: str, zone: ZoneInfo, first: date, last: date) -> dict[date, dict]:
    """The stored parts of ``first`` … ``last``, parsed JSON (missing days are simply absent;
    :func:`merge` adds them up)."""
    t = m.KpiDayPart.__table__
    rows = conn.execute(select(t.c.day, t.c.payload).where(
        t.c.domain == domain, t.c.tz == zone.key, t.c.version == VERSION, t.c.day >= first, t.c.day <= last)).all()
    return {_as_date(r[0]): json.loads(r[1]) for r in rows}


def _as_date(v) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


def compute_day(conn, domain: str, day: date, zone: ZoneInfo):
    """One day's part from the raw history (what a stored part holds, decoded)."""
    s, e = day_bounds(day, zone)
    return RAW[domain](conn, s, e, e + spill(domain), zone)


# --- keeping them ----------------------------------------------------------------------------------------


def _mark_key(domain: str, zone: ZoneInfo) -> str:
    return f"kpi-rollup:{domain}:{zone.key}"


def _first_day(conn, domain: str, zone: ZoneInfo) -> date | None:
    col = {"cameras": m.CameraStatusChange.__table__.c.at,
           "environment": m.Observation.__table__.c.phenomenon_time,
           "procedures": m.Dossier.__table__.c.received_at}[domain]
    first = conn.execute(select(func.min(col))).scalar()  # min() keeps the column's UTCDateTime type
    if first is None:
        return None
    return local_day(ts(first) - spill(domain), zone)


def _dirty_days(domain: str, lo, hi, zone: ZoneInfo, last: date) -> Iterable[date]:
    if domain == "environment":  # observations at t feed the days whose midnight is in (t − 31 h, t + 7 h]
        a = local_day(ts(lo) - pd.Timedelta(hours=31), zone) + timedelta(days=1)
        b = local_day(ts(hi) + ENV_SPILL, zone)
    elif domain == "cameras":  # a late status change holds until the camera's next change
        a, b = local_day(ts(lo), zone), last
    else:
        a, b = local_day(ts(lo), zone), local_day(ts(hi), zone)
    b = min(b, last)
    return (a + timedelta(days=i) for i in range((b - a).days + 1))


def invalidate(engine: Engine, domain: str, zone: ZoneInfo, now) -> int:
    """Delete the parts of the days that connectors changed since the last call."""
    h = m.HistoryTouch.__table__
    p = m.KpiDayPart.__table__
    c = m.SourceCursor.__table__
    key = _mark_key(domain, zone)
    settled = ts(now).to_pydatetime() - SETTLE
    last = last_closed_day(domain, now, zone)
    with engine.begin() as conn:
        mark = int(conn.execute(select(c.c.cursor).where(c.c.source == key)).scalar() or 0)
        rows = conn.execute(select(h.c.id, h.c.lo, h.c.hi, h.c.recorded_at)
                            .where(h.c.domain == domain, h.c.id > mark).order_by(h.c.id)).all()
        if not rows:
            return 0
        dirty: set[date] = set()
        for r in rows:
            dirty.update(_dirty_days(domain, r.lo, r.hi, zone, last))
        days = sorted(dirty)
        for i in range(0, len(days), 500):
            conn.execute(delete(p).where(p.c.domain == domain, p.c.tz == zone.key, p.c.day.in_(days[i:i + 500])))
        # the mark stops before the first unsettled touch: those are read again next time
        new_mark = mark
        for r in rows:
            if ts(r.recorded_at) > ts(settled):
                break
            new_mark = r.id
        if new_mark != mark:
            conn.execute(delete(c).where(c.c.source == key))
            conn.execute(c.insert(), [{"source": key, "cursor": str(new_mark), "updated_at": ts(now).to_pydatetime()}])
            oldest = ts(now).to_pydatetime() - KEEP_TOUCHES
            conn.execute(delete(h).where(h.c.domain == domain, h.c.id <= new_mark, h.c.recorded_at < oldest))
    return len(days)


def missing_days(engine: Engine, domain: str, zone: ZoneInfo, now) -> list[date]:
    """Closed days with history but no current part, newest first (recent months matter most)."""
    p = m.KpiDayPart.__table__
    with engine.connect() as conn:
        first = _first_day(conn, domain, zone)
        if first is None:
            return []
        last = last_closed_day(domain, now, zone)
        have = {r[0] for r in conn.execute(select(p.c.day).where(
            p.c.domain == domain, p.c.tz == zone.key, p.c.version == VERSION, p.c.day >= first, p.c.day <= last))}
    n = (last - first).days + 1
    return [d for d in (last - timedelta(days=i) for i in range(max(n, 0))) if d not in have]


def build_day(engine: Engine, domain: str, day: date, zone: ZoneInfo, now=None) -> None:
    t = m.KpiDayPart.__table__
    with sql.connect(engine) as conn:
        payload = encode(domain, compute_day(conn, domain, day, zone))
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.domain == domain, t.c.tz == zone.key, t.c.day == day))
        conn.execute(t.insert(), [{"domain": domain, "tz": zone.key, "day": day, "version": VERSION,
                                   "payload": payload, "computed_at": ts(now or datetime.now(timezone.utc))}])


def refresh(engine: Engine, tz: str | ZoneInfo = "Asia/Ho_Chi_Minh", now=None, *,
            domains: Iterable[str] = DOMAINS, progress: Callable[[str, int, int], None] | None = None,
            stop=None, rebuild: bool = False) -> dict:
    """Invalidate touched days, then build every closed day without a part. ``progress``
    is called as (domain, done, total) after each day; ``stop`` (an Event) ends early."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    n = ts(now or datetime.now(timezone.utc))
    out = {}
    for domain in domains:
        t0 = time.perf_counter()
        if rebuild:
            t = m.KpiDayPart.__table__
            with engine.begin() as conn:
                conn.execute(delete(t).where(t.c.domain == domain, t.c.tz == zone.key))
        dirty = invalidate(engine, domain, zone, n)
        todo = missing_days(engine, domain, zone, n)
        built = 0
        for day in todo:
            if stop is not None and stop.is_set():
                break
            build_day(engine, domain, day, zone, n)
            built += 1
            if progress:
                progress(domain, built, len(todo))
        out[domain] = {"invalidated": dirty, "built": built, "missing": len(todo) - built,
                       "seconds": round(time.perf_counter() - t0, 2)}
        if built:
            log.info("KPI rollups: %s: %d day(s) built in %.1f s (%d invalidated)", domain, built,
                     out[domain]["seconds"], dirty)
    return out


__all__ = ["DOMAINS", "VERSION", "build_day", "compute_day", "days_of", "decode", "encode", "invalidate",
           "last_closed_day", "load_parts", "merge", "missing_days", "refresh"]
