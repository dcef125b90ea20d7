"""Period queries: a day, a week (7 days), a month or a custom range, each against the
previous period of equal length, computed from the SQL history.

``period_figures(engine, period, *, date=None, start=None, end=None, tz)``:

* ``day`` — the local calendar day ``date``; previous: the day before.
* ``week`` — the 7 local days ending with ``date`` (inclusive); previous: the 7 days before.
* ``month`` — the calendar month containing ``date``; previous: the calendar month before.
* ``custom`` — local dates ``start`` … ``end`` inclusive; previous: the same number of
  days immediately before.

A period that has not ended yet is judged at ``now`` (its figures are "so far"); the
previous period is judged at its own end. Filtering and counting happen in SQL (QĐ 766
counts, water exceedances, camera online time) or on the period's rows only (hotline,
hourly air values); see docs/kpis.md § "Period queries".
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ioc.db import models as m
from ioc.kpi import aqi, cache_codec, environment_sql, hotline, qd766, qd766_sql, rollups, sql, tickets
from ioc.kpi.values import pct
from ioc.kpi.dates import add_months, local_day, local_midnight, month_start, ts
from ioc.kpi.day_parts import RAW
from ioc.kpi.jsonable import iso, plain

log = logging.getLogger("ioc.kpi")

PERIODS = ("day", "week", "month", "custom")
MAX_CUSTOM_DAYS = 366


class PeriodError(ValueError):
    """Bad period input (unknown period, bad or missing date): one clear line."""


def parse_date(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise PeriodError(f"bad {name} {value!r}: expected a date as YYYY-MM-DD") from None


def period_bounds(period: str, *, date_: date | None = None, start: date | None = None, end: date | None = None,
                  tz: str | ZoneInfo = "Asia/Ho_Chi_Minh", today: date | None = None) -> dict:
    """Local-day bounds of a period and of the previous one (aware UTC timestamps)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    kind = (period or "").strip().lower()
    if kind not in PERIODS:
        raise PeriodError(f"unknown period {period!r}: choose one of {', '.join(PERIODS)}")
    today = today or datetime.now(zone).date()
    if kind == "custom":
        if start is None or end is None:
            raise PeriodError("a custom period needs --start and --end (YYYY-MM-DD, end inclusive)")
        if end < start:
            raise PeriodError(f"period end {end} is before its start {start}")
        days = (end - start).days + 1
        if days > MAX_CUSTOM_DAYS:
            raise PeriodError(f"a custom period spans at most {MAX_CUSTOM_DAYS} days, got {days}")
        s, e = start, end + timedelta(days=1)
        ps, pe = s - timedelta(days=days), s
    else:
        if start is not None or end is not None:
            raise PeriodError(f"--start/--end apply to the custom period only (got period {kind!r}); use --date")
        d = date_ or today
        if kind == "day":
            s, e = d, d + timedelta(days=1)
            ps, pe = d - timedelta(days=1), d
        elif kind == "week":
            s, e = d - timedelta(days=6), d + timedelta(days=1)
            ps, pe = s - timedelta(days=7), s
        else:
            s, e = month_start(d), add_months(month_start(d), 1)
            ps, pe = add_months(s, -1), s
    return {"kind": kind, "start": local_midnight(s, zone), "end": local_midnight(e, zone),
            "previous_start": local_midnight(ps, zone), "previous_end": local_midnight(pe, zone),
            "first_day": s, "last_day": e - timedelta(days=1), "days": (e - s).days}


def period_figures(engine: Engine, period: str, *, date: date | str | None = None, start: date | str | None = None,
                   end: date | str | None = None, tz: str | ZoneInfo = "Asia/Ho_Chi_Minh",
                   now: datetime | None = None, domains: tuple[str, ...] = ("hotline", "cameras", "environment",
                                                                            "procedures"),
                   store=None, refresh: bool = False, split_open: bool = True, use_rollups: bool = True) -> dict:
    """Figures of one period and the previous period of equal length (see module doc).

    ``store`` (a LiveStore): closed windows are shared through Redis between processes;
    ``refresh``: recompute closed windows and overwrite the caches (the KPI scheduler's job).
    ``split_open`` composes a period not yet over from its closed days (cached) and a live
    part; ``use_rollups`` reads closed days from the daily rollups. Both change only the
    cost: with either off, the same figures are counted from the raw history (tests)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    n = ts(now or datetime.now(timezone.utc))
    b = period_bounds(period, date_=parse_date(date, "date"), start=parse_date(start, "start date"),
                      end=parse_date(end, "end date"), tz=zone, today=local_day(n, zone))
    s, e, ps, pe = b["start"], b["end"], b["previous_start"], b["previous_end"]
    if s > n:
        raise PeriodError(f"the period starting {b['first_day']} has not begun yet")
    as_of = min(e, n)
    out: dict = {
        "period": {"kind": b["kind"], "start": iso(s), "end": iso(e), "as_of": iso(as_of), "complete": e <= n,
                   "first_day": b["first_day"].isoformat(), "last_day": b["last_day"].isoformat(),
                   "days": b["days"], "timezone": zone.key,
                   "previous": {"start": iso(ps), "end": iso(pe), "as_of": iso(pe)}},
        "generated_at": iso(datetime.now(timezone.utc)),
    }
    timings = {}
    cache = _Cache(engine.url.render_as_string(hide_password=True), store, refresh)
    how = _How(split_open, use_rollups)
    with sql.connect(engine) as conn:
        for d in domains:
            t0 = time.perf_counter()
            cur = _window(cache, how, conn, d, s, e, as_of, zone, n, current=True)
            prev = _window(cache, how, conn, d, ps, pe, pe, zone, n, current=False)
            out[d] = _combine(d, cur, prev)
            timings[d] = round((time.perf_counter() - t0) * 1000, 1)
    timings["total"] = round(sum(timings.values()), 1)
    out["compute_ms"] = timings
    out["shared_cache_hits"] = cache.shared_hits  # closed windows read from Redis, not computed
    return out


# --- caching -----------------------------------------------------------------------------------------
# A window that has ended (as_of == end <= now) does not change except by late corrections,
# so its figures are kept: pages asking again for last month, or for the previous period of
# this month, do not re-read it. The additive domains (QĐ 766 counts, camera online time,
# daily AQI and exceedances, water exceedance counts) add up closed days — stored daily
# rollups where they exist (ioc.kpi.rollups), else computed — plus, for a period not yet
# over, a live part (today; also yesterday for the environment until 07:00, when the 8-hour
# windows labelled yesterday evening end).
#
# Two levels: this process (CLOSED_TTL seconds) and, given a LiveStore, Redis (SHARED_TTL
# seconds), so the web workers read what the KPI scheduler computed
# (`Orchestrator.warm_periods`, every few minutes with refresh=True, which also bounds how
# long a late correction of a closed day stays unseen).

CLOSED_TTL = 900.0
SHARED_TTL = 3600
CACHE_VERSION = 3  # bump when the cached structures change: old Redis entries are then ignored
_CACHE_MAX = 128
_cache: dict[tuple, tuple[float, object]] = {}


def clear_cache() -> None:
    _cache.clear()


class _Cache:
    def __init__(self, db: str, store, refresh: bool) -> None:
        self.db, self.store, self.refresh = db, store, refresh
        self.shared_hits = 0

    def get(self, key: tuple, make):
        key = (self.db, *key)
        if not self.refresh:
            hit = _cache.get(key)
            if hit is not None and time.monotonic() - hit[0] <= CLOSED_TTL:
                return hit[1]
        digest = hashlib.sha1(repr((CACHE_VERSION, *key)).encode()).hexdigest()
        res = None
        if self.store is not None and not self.refresh:
            try:
                blob = self.store.period_cache_get(digest)
                # typed JSON, never pickle: a Redis writer must not run code here (cache_codec.py)
                res = cache_codec.loads(blob) if blob else None
            except ValueError as err:  # not our JSON (an old pickle, a forged entry): computed again
                log.warning("period cache entry %s refused: %s", digest[:12], err)
                res = None
            except Exception as err:  # Redis down: compute instead
                log.debug("period cache read failed: %s", err)
                res = None
            if res is not None:
                self.shared_hits += 1
        if res is None:
            res = make()
            if isinstance(res, dict) and res.get("has_data") is False:
                return res  # "no data" ends with the first backfilled rows: never kept
            if self.store is not None:
                try:
                    self.store.period_cache_set(digest, cache_codec.dumps(res), SHARED_TTL)
                except TypeError as err:  # a type the codec does not know: computed by each process
                    log.warning("period cache: window %s not shared: %s", key[1:3], err)
                except Exception as err:
                    log.debug("period cache write failed: %s", err)
        if len(_cache) >= _CACHE_MAX:
            _cache.pop(min(_cache, key=lambda k: _cache[k][0]))
        _cache[key] = (time.monotonic(), res)
        return res


@dataclass(frozen=True)
class _How:
    split_open: bool  # an open period = cached closed days + a live part
    use_rollups: bool  # closed days from kpi_day_parts where stored


def _window(cache: _Cache, how: _How, conn, domain, s, e, as_of, zone, now, *, current: bool) -> dict:
    if domain == "hotline":  # not additive over time: the window is counted whole
        if as_of >= e and e <= now:
            return cache.get(("hotline", zone.key, s.value, e.value, current),
                             lambda: _hotline(conn, s, e, as_of, zone, current))
        return _hotline(conn, s, e, as_of, zone, current)
    if not _has_data(conn, domain):
        return _NO_DATA[domain]()
    sp = rollups.spill(domain)
    # the environment's last day is closed once its 8-hour windows are (7 h after midnight)
    closed = as_of >= e and e + sp <= now
    if closed:
        raws = cache.get((domain, "raw", zone.key, s.value, e.value),
                         lambda: _closed_raws(conn, domain, s, e, zone, now, how.use_rollups))
    elif not how.split_open:
        raws = _closed_raws(conn, domain, s, e, zone, now, how.use_rollups)
    else:
        split = min(max(local_midnight(rollups.last_closed_day(domain, now, zone) + timedelta(days=1), zone), s), e)
        raws = []
        if s < split:
            raws += cache.get((domain, "raw", zone.key, s.value, split.value),
                              lambda: _closed_raws(conn, domain, s, split, zone, now, how.use_rollups))
        if split < e:
            raws.append(RAW[domain](conn, split, e, min(e + sp, now) if sp.value else as_of, zone))
    key = (domain, "final", zone.key, s.value, e.value, current)
    if closed:
        return cache.get(key, lambda: _FINAL[domain](conn, raws, s, e, as_of, zone, current))
    return _FINAL[domain](conn, raws, s, e, as_of, zone, current)


def _closed_raws(conn, domain, s, e, zone, now, use_rollups: bool) -> list:
    """Raw parts of [s, e): each day with a stored rollup from ``kpi_day_parts``, each run
    of days without one computed from the history in one go (as the rollup would be)."""
    sp = rollups.spill(domain)

    def compute(a, b):
        return RAW[domain](conn, a, b, min(b + sp, now) if sp.value else min(b, now), zone)

    if not use_rollups:
        return [compute(s, e)]
    days = rollups.days_of(s, e, zone)
    parts = rollups.load_parts(conn, domain, zone, days[0], days[-1])
    out, run = [], []
    for d in days + [None]:
        if d is not None and d not in parts:
            run.append(d)
            continue
        if run:
            out.append(compute(local_midnight(run[0], zone), local_midnight(run[-1] + timedelta(days=1), zone)))
            run = []
    if parts:
        out.append(rollups.merge(domain, list(parts.values())))
    return out


def _combine(domain, cur: dict, prev: dict) -> dict:
    if not cur.get("has_data"):
        return {**cur, "previous": prev.get("figures"), "delta": {}}
    out = {**cur, "previous": prev["figures"], "delta": hotline.compare(cur["figures"], prev["figures"])}
    if domain == "procedures":
        out["previous"] = {"province": prev["province"]}
        cv = {c: v.get("value") for c, v in cur["province"]["indicators"].items()}
        pv = {c: v.get("value") for c, v in prev["province"]["indicators"].items()}
        cv["score"], pv["score"] = cur["province"]["score"], prev["province"]["score"]
        out["delta"] = hotline.compare(cv, pv)
        out.pop("figures", None)
    return out


def _has_data(conn, domain: str) -> bool:
    t = {"cameras": m.Camera, "environment": m.Station, "procedures": m.Dossier}[domain].__table__
    return conn.execute(select(list(t.primary_key.columns)[0]).limit(1)).first() is not None


# --- hotline: one window, counted whole -----------------------------------------------------------------


_HOTLINE_KEYS = ("received", "answered", "answered_time_unknown", "in_progress", "overdue", "answered_late", "late",
                 "on_time", "on_time_pct", "answered_pct", "median_hours_to_answer", "mean_hours_to_answer",
                 "reopened_tickets", "reopen_events")


def _hotline(conn, s, e, as_of, zone, current) -> dict:
    t = m.Ticket.__table__
    if conn.execute(select(t.c.id).limit(1)).first() is None:
        return {"has_data": False, "figures": {k: None for k in _HOTLINE_KEYS}, "by": {}}
    cols = (tuple(dict.fromkeys(tickets.TICKET_FIGURE_COLUMNS + tuple(tickets.HOTLINE_BREAKDOWNS.values()))) if current
            else tickets.TICKET_FIGURE_COLUMNS)
    rows = tickets.load_tickets(conn, t.c.requested_at >= s.to_pydatetime(), t.c.requested_at < e.to_pydatetime(),
                               columns=cols)
    rows["deadline"] = tickets.ticket_deadlines(rows, zone)
    res = tickets.hotline_period(rows, s, e, as_of, breakdowns=tickets.HOTLINE_BREAKDOWNS if current else None)
    out = {"has_data": True, "figures": res["figures"]}
    if current:
        out["by"] = res["by"]
    return out


# --- additive domains: raw parts of a time range, then the figures ------------------------------------


def _cameras_final(conn, raws, s, e, as_of, zone, current) -> dict:
    # per camera (computed) or per commune (a stored day part): summed per commune either way
    av = pd.concat([r["av"][["commune_code", "online_s", "known_s"]] for r in raws], ignore_index=True)
    known = float(av["known_s"].sum()) if len(av) else 0.0
    online = float(av["online_s"].sum()) if len(av) else 0.0
    by = {}
    if len(av):
        keys = sql.group_keys(av["commune_code"])
        g = av.groupby(keys.to_numpy(), sort=True)[["online_s", "known_s"]].sum()
        by = {str(k): pct(r["online_s"], r["known_s"]) for k, r in g.iterrows()}
    return {"has_data": True,
            "figures": {"availability_pct": pct(online, known), "offline_events": sum(r["events"] for r in raws)},
            "online_hours": round(online / 3600, 1), "known_hours": round(known / 3600, 1),
            "by_commune": by, "method": "online time ÷ time with a known status, from camera_status_changes"}


def _environment_final(conn, raws, s, e, as_of, zone, current) -> dict:
    daily: dict[str, dict] = {}
    for r in raws:
        for sid, days in r["daily"].items():
            daily.setdefault(sid, {}).update(days)
    meta = next((r for r in reversed(raws) if "names" in r), None)  # stored day parts carry no names
    if meta is None:
        stations = environment_sql.load_stations(conn)
        meta = {"names": dict(zip(stations["id"].astype(str), stations["name"])),
                "air_stations": stations.loc[stations["kind"] == "air", "id"].astype(str).tolist()}
    names = meta["names"]
    air_ex: dict[str, int] = {}
    for r in raws:
        for x in r["air_ex"]:
            k = f"{x['parameter']}_{x['averaging']}"
            air_ex[k] = air_ex.get(k, 0) + 1
    water = pd.concat([r["water"] for r in raws if len(r["water"])], ignore_index=True) if any(
        len(r["water"]) for r in raws) else None
    all_aqi, over, out_daily = [], 0, {}
    for sid in sorted(set(meta["air_stations"])):
        days = daily.get(sid, {})
        vals = [v["aqi"] for v in days.values() if v["aqi"] is not None]
        all_aqi += vals
        over += sum(1 for v in vals if v > 100)
        out_daily[sid] = {
            "name": plain(names.get(sid)),
            "days": {d.isoformat(): {"aqi": v["aqi"], "dominant": v["dominant"], "hours": v["hours"],
                                     "category": (aqi.category(v["aqi"]).key if v["aqi"] is not None else None)}
                     for d, v in sorted(days.items())},
            "mean_aqi": round(float(np.mean(vals)), 1) if vals else None,
            "max_aqi": max(vals) if vals else None,
            "days_with_aqi": len(vals),
        }
    water_ex = {}
    if water is not None:
        g = water.groupby("parameter")[["observations", "exceedances"]].sum()
        water_ex = {str(p): {"observations": int(r["observations"]), "exceedances": int(r["exceedances"]),
                             "exceedance_pct": pct(r["exceedances"], r["observations"])} for p, r in g.iterrows()}
    figures = {
        "mean_daily_aqi": round(float(np.mean(all_aqi)), 1) if all_aqi else None,
        "max_daily_aqi": max(all_aqi) if all_aqi else None,
        "station_days_aqi_over_100": over if all_aqi else None,
        "air_exceedance_station_days": sum(air_ex.values()) if any(r["has_grid"] for r in raws) else None,
        "water_exceedances": int(water["exceedances"].sum()) if water is not None else None,
        "water_observations_judged": int(water["observations"].sum()) if water is not None else None,
    }
    out = {"has_data": True, "figures": figures}
    if current:
        out.update(daily_aqi=out_daily, air_exceedances=dict(sorted(air_ex.items())), water_exceedances=water_ex)
    return out


def _procedures_final(conn, raws, s, e, as_of, zone, current) -> dict:
    # computed parts are (agency, commune) pair counts, stored day parts their marginals
    e_, a_ = e.to_pydatetime(), as_of.to_pydatetime()
    if not current:  # a previous period shows its province figures only
        cols = list(qd766_sql.ALL_COUNTS)
        total = pd.Series(0.0, index=cols)
        for r in raws:
            f = r["agency"] if isinstance(r, dict) else r
            if len(f):
                total = total.add(f.reindex(columns=cols).fillna(0.0).sum(), fill_value=0.0)
        for k, v in qd766_sql.qd766_in_progress_totals(conn, e_, a_).items():
            total[k] += v
        return {"has_data": True, "province": qd766.from_counts(total), "figures": {}}
    in_progress = qd766_sql.combine_counts([qd766_sql.qd766_in_progress(conn, e_, a_)])
    marg = qd766_sql.add_marginals([r if isinstance(r, dict) else qd766_sql.counts_marginals(r) for r in raws]
                                   + [qd766_sql.counts_marginals(in_progress)])
    rep = qd766_sql.report_from_marginals(marg)
    return {"has_data": True, "province": rep["province"], "figures": {}, "agency": rep["agency"],
            "commune": rep["commune_code"]}


_ENV_KEYS = ("mean_daily_aqi", "max_daily_aqi", "station_days_aqi_over_100", "air_exceedance_station_days",
             "water_exceedances", "water_observations_judged")


def _no_procedures() -> dict:
    return {"has_data": False, "province": qd766.nulls(), "agency": {}, "commune": {}, "figures": {}}


_FINAL = {"cameras": _cameras_final, "environment": _environment_final, "procedures": _procedures_final}
_NO_DATA = {
    "cameras": lambda: {"has_data": False, "figures": {"availability_pct": None, "offline_events": None},
                        "by_commune": {}},
    "environment": lambda: {"has_data": False, "figures": {k: None for k in _ENV_KEYS}, "daily_aqi": {},
                            "air_exceedances": {}, "water_exceedances": {}},
    "procedures": _no_procedures,
}


__all__ = ["CLOSED_TTL", "MAX_CUSTOM_DAYS", "PERIODS", "PeriodError", "clear_cache", "parse_date", "period_bounds",
           "period_figures"]
