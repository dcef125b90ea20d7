"""The KPI snapshot: one JSON document the wall, mobile and map pages render.

``build_snapshot(engine, store, settings, now=None)`` computes it from scratch (SQL
history + Redis live state). The orchestrator keeps a :class:`SnapshotBuilder`, which
caches each domain's part with the source version it was computed from and recomputes
only the domains whose source changed (``LiveStore.key("source_version", source)``) or
whose part is older than ``max_age`` (time alone moves overdue tickets, offline hours,
stale sources). Closed periods (previous day/week/month of the hotline, closed days and
months of QĐ 766) are cached separately and refreshed lazily.

Schema: docs/kpis.md § "Snapshot". Rules: every figure without data is ``null`` (never
0); a domain whose source is stale, failing or unknown carries ``"stale": true``; times
are ISO-8601 strings in UTC; the document is plain JSON (orjson-serialisable).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import exists, func, or_, select
from sqlalchemy.engine import Engine

from ioc.db import models as m
from ioc.kpi import (air_grid, aqi, cameras, cameras_sql, environment, environment_sql, hotline, parameters, qd766,
                     qd766_sql, sql, stream, tickets, wqi)
from ioc.kpi.jsonable import iso, plain
from ioc.kpi.dates import NAT_US, add_months, local_day, local_midnight, micros, month_start, ts
from ioc.live_store import SOURCES
from ioc.source_health import derive_state

log = logging.getLogger("ioc.kpi.snapshot")

SCHEMA_VERSION = 1
DOMAINS = ("hotline", "cameras", "environment", "procedures")  # domain name = its source
LATEST_NEW_ROWS_MAX = 20_000  # more new observations than this since the last build: reload instead
STALE_STATES = frozenset({"stale", "failing", "unknown"})
DEFAULT_TZ = "Asia/Ho_Chi_Minh"


# --- small helpers ------------------------------------------------------------------------


def dumps(snapshot: Mapping) -> bytes:
    return orjson.dumps(snapshot, option=orjson.OPT_NON_STR_KEYS)


def _round(v, n=2):
    return None if v is None else round(float(v), n)


# --- source health --------------------------------------------------------------------------


def sources_section(health: Mapping[str, Mapping[str, str]] | None, now: datetime) -> dict:
    out = {}
    for src in SOURCES:
        h = dict((health or {}).get(src) or {})
        try:
            state = derive_state(h, now)
        except (ValueError, TypeError):
            state = "unknown"
        last = h.get("last_success") or None
        age = None
        if last:
            try:
                age = round((now - datetime.fromisoformat(last)).total_seconds(), 1)
            except (ValueError, TypeError):
                age = None

        def num(key, kind=float, h=h):
            raw = h.get(key)
            if raw in (None, ""):
                return None
            try:
                return kind(float(raw))
            except (TypeError, ValueError):
                return None

        out[src] = {
            "state": state,
            "last_success": last,
            "last_attempt": h.get("last_attempt") or None,
            "age_seconds": age,
            "lag_seconds": num("lag_seconds"),
            "newest_upstream": h.get("newest_upstream") or None,
            "consecutive_failures": num("consecutive_failures", int),
            "records_last_run": num("records_last_run", int),
            "interval_seconds": num("interval_seconds"),
            "last_error": h.get("last_error") or None,
        }
    return out


# --- domain computations ----------------------------------------------------------------------


@dataclass
class _Part:
    version: int | None
    computed_at: float  # time.monotonic()
    as_of: datetime
    local_day: date
    data: dict
    ms: float
    error: str | None = None  # the last attempt failed: data is older than computed_at says


@dataclass
class _Bucket:
    counts: np.ndarray  # CountSpace rows
    computed_at: float
    dirty_since: float | None = None


@dataclass
class BuilderOptions:
    top_n: int = 20  # open overdue tickets listed
    offline_limit: int = 200  # offline cameras listed (longest first); the count is always complete
    max_age: float = 60.0  # seconds: a domain part older than this is recomputed even without new data
    closed_ttl: float = 900.0  # seconds: closed hotline periods are recomputed at most this often
    closed_refresh_after: float = 300.0  # seconds a closed QĐ 766 bucket may lag a late correction
    max_bucket_refresh: int = 3  # dirty closed buckets refreshed per build (amortised)
    air_hours: int = 24  # hours of hourly AQI kept per station (trend)
    flap_window: timedelta = cameras.FLAP_WINDOW
    flap_min_changes: int = cameras.FLAP_MIN_CHANGES


class SnapshotBuilder:
    """Builds snapshots, reusing parts whose source did not change."""

    def __init__(self, engine: Engine, settings=None, store=None, *, tz: str | ZoneInfo | None = None,
                 options: BuilderOptions | None = None) -> None:
        self.engine = engine
        self.store = store
        zone = tz or (settings.timezone if settings is not None else DEFAULT_TZ)
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))
        self.opts = options or BuilderOptions()
        self._parts: dict[str, _Part] = {}
        self._closed_hotline: dict[tuple, tuple[float, dict]] = {}
        self._buckets: dict[tuple, _Bucket] = {}
        self._dossier_watermark: datetime | None = None
        self._refreshes = 0
        self._month_refreshes = 0
        self._force = False
        self._sums: dict[str, tuple] = {}
        self._space = qd766_sql.CountSpace()
        self._hot: dict | None = None
        self._env_catalogue: tuple | None = None
        self._cams: pd.DataFrame | None = None
        self._cams_loaded = 0.0
        self._cams_follow = stream.StreamFollower(store, "cameras")
        self._moved: dict[str, bool] = {}
        self._latest_map: dict[str, tuple[int, float]] | None = None  # datastream → (µs, value)
        self._new_obs: tuple[int, pd.DataFrame] | None = None  # (rows after this id, the rows)
        self._air: dict | None = None
        self._moved_no_events: dict[str, bool] = {}
        self._latest_loaded = 0.0
        self._latest_max_id = 0
        self._env_follow = stream.StreamFollower(store, "environment")
        self._aqi_memo: dict = {}
        self._iso_memo: dict[int, str] = {}
        self._wqi_memo: dict = {}
        self._hot_follow = stream.StreamFollower(store, "hotline")
        self._unfinished: pd.DataFrame | None = None
        self._today: pd.DataFrame | None = None  # dossiers received or finished today (local)
        self._today_t0: datetime | None = None
        self._fees: dict[str, bool] = {}
        self._unfinished_loaded = 0.0
        self.last_timings: dict[str, float] = {}
        self.last_errors: dict[str, str] = {}

    # -- public --------------------------------------------------------------------------------

    def invalidate(self, domain: str | None = None) -> None:
        if domain is None:
            self._parts.clear()
        else:
            self._parts.pop(domain, None)

    def read_live(self) -> dict:
        """Versions, health, alerts, quarantine from Redis; ``redis_ok`` False if unreachable."""
        live: dict = {"redis_ok": False, "data_version": None, "versions": {}, "health": {}, "alerts": None,
                      "quarantine": None}
        if self.store is None:
            return live
        try:
            r = self.store.r
            pipe = r.pipeline()
            pipe.get(self.store.key("version"))
            for s in SOURCES:
                pipe.get(self.store.key("source_version", s))
            for s in SOURCES:
                pipe.hgetall(self.store.key("health", s))
            pipe.hgetall(self.store.key("alerts"))
            pipe.hgetall(self.store.key("quarantine"))
            res = pipe.execute()
        except Exception as err:  # Redis down: compute from SQL alone
            log.debug("redis unavailable for the snapshot: %s", err)
            return live
        n = len(SOURCES)
        live["redis_ok"] = True
        live["data_version"] = int(res[0] or 0)
        live["versions"] = {s: int(v or 0) for s, v in zip(SOURCES, res[1:1 + n])}  # never bumped: 0
        live["health"] = {s: {k.decode(): v.decode() for k, v in h.items()}
                          for s, h in zip(SOURCES, res[1 + n:1 + 2 * n])}
        live["alerts"] = {k.decode(): orjson.loads(v) for k, v in res[1 + 2 * n].items()}
        live["quarantine"] = {k.decode(): int(v) for k, v in res[2 + 2 * n].items()}
        return live

    def build(self, now: datetime | None = None, *, force: bool = False, live: Mapping | None = None,
              domains: set[str] | None = None) -> dict:
        """A snapshot at ``now`` (default: the clock). ``force`` recomputes every domain;
        ``domains`` forces these ones. Otherwise a domain is recomputed when its source
        version changed, its part is older than ``max_age`` or the local day changed."""
        t_start = time.perf_counter()
        now = ts(now or datetime.now(timezone.utc)).to_pydatetime()
        live = dict(live) if live is not None else self.read_live()
        today = local_day(now, self.zone)
        mono = time.monotonic()
        timings: dict[str, float] = {}
        recomputed = []
        self._force = force
        for d in DOMAINS:
            part = self._parts.get(d)
            version = live["versions"].get(d)
            due = (force or part is None or part.error is not None or (domains is not None and d in domains)
                   or version is None
                   or part.version != version or mono - part.computed_at > self.opts.max_age
                   or part.local_day != today or now < part.as_of)
            if not due:
                continue
            # a version that moved without change events (store rebuild, bump_version): reload
            self._moved[d] = part is None or version is None or part.version != version
            t0 = time.perf_counter()
            try:
                data = getattr(self, f"_compute_{d}")(now)
            except Exception as err:  # database down, bad row …: keep the last good part, say so
                self.last_errors[d] = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
                log.debug("%s part failed", d, exc_info=True)
                if part is not None:
                    part.error = self.last_errors[d]
                else:
                    self._parts[d] = _Part(None, mono, now, today, _EMPTY[d](self.zone, now), 0.0,
                                           self.last_errors[d])
                continue
            self.last_errors.pop(d, None)
            ms = (time.perf_counter() - t0) * 1000
            self._parts[d] = _Part(version, mono, now, today, data, round(ms, 1))
            timings[d] = round(ms, 1)
            recomputed.append(d)
        sources = sources_section(live["health"], now)
        snap: dict = {
            "schema_version": SCHEMA_VERSION,
            "generated_at": iso(datetime.now(timezone.utc)),
            "as_of": iso(now),
            "timezone": self.zone.key,
            "local_date": today.isoformat(),
            "data_version": live["data_version"],
            "source_versions": {s: live["versions"].get(s) for s in SOURCES},
            "redis_ok": live["redis_ok"],
            "recomputed": recomputed,
            "sources": sources,
        }
        for d in DOMAINS:
            p = self._parts[d]
            state = sources[d]["state"]
            snap[d] = {"state": state, "stale": state in STALE_STATES or p.error is not None,
                       "computed_at": iso(p.as_of), "compute_ms": p.ms, "error": p.error, **p.data}
        snap["alerts"] = alerts_section(live["alerts"])
        snap["quarantine"] = quarantine_section(live["quarantine"])
        timings["total"] = round((time.perf_counter() - t_start) * 1000, 1)
        snap["compute_ms"] = timings
        self.last_timings = timings
        return snap

    # -- hotline --------------------------------------------------------------------------------

    def _hotline_periods(self, now: datetime) -> dict[str, tuple]:
        z = self.zone
        today = local_day(now, z)
        t0 = local_midnight(today, z)
        m0 = month_start(today)
        return {
            "today": (t0, local_midnight(today - timedelta(days=1), z), t0),
            "last_7_days": (local_midnight(today - timedelta(days=6), z), local_midnight(today - timedelta(days=13), z),
                            local_midnight(today - timedelta(days=6), z)),
            "this_month": (local_midnight(m0, z), local_midnight(add_months(m0, -1), z), local_midnight(m0, z)),
        }

    def _hotline_working_set(self, conn, now: datetime, load_from: pd.Timestamp) -> tickets.TicketFrame | None:
        """Tickets the hotline part needs, kept in memory: requested since ``load_from``,
        plus older ones not answered or answered in the last 8 days (backlog, overdue
        list, baseline). Refreshed from the ``hotline`` change stream (changed tickets
        re-read by id); reloaded from SQL every ``closed_ttl`` seconds or when the
        stream cannot be followed."""
        t = m.Ticket.__table__
        mono = time.monotonic()
        hot = self._hot
        ids = None
        if hot is not None and hot["from"] <= load_from and mono - hot["loaded"] <= self.opts.closed_ttl:
            ids = self._hot_follow.changes()
            if ids == [] and self._moved.get("hotline"):
                ids = None  # the version moved, but no event says what changed
        if ids is None:
            if not conn.execute(select(exists().where(t.c.id.is_not(None)))).scalar():
                self._hot = None
                return None
            self._hot_follow.mark()
            week_ago = (ts(now) - pd.Timedelta(days=8)).to_pydatetime()
            rows = tickets.load_tickets(conn, t.c.requested_at >= load_from.to_pydatetime())
            older = tickets.load_tickets(
                conn, t.c.requested_at < load_from.to_pydatetime(),
                or_(t.c.answered_at > week_ago,
                    (t.c.answered_at.is_(None)) & (func.lower(func.trim(t.c.status)) != "closed")))
            loaded = pd.concat([rows, older], ignore_index=True) if len(older) else rows
            loaded["deadline"] = tickets.ticket_deadlines(loaded, self.zone)
            self._hot = {"from": load_from, "loaded": mono, "tf": tickets.TicketFrame(loaded)}
            return self._hot["tf"]
        if ids:
            uniq = sorted(set(ids))
            dn = conn.dialect.name
            parts = [tickets.load_tickets(conn, sql.in_list(t.c.external_id, uniq[i:i + 500], dn))
                     for i in range(0, len(uniq), 500)]
            changed = pd.concat(parts, ignore_index=True)
            changed["deadline"] = tickets.ticket_deadlines(changed, self.zone)
            hot["tf"].update(changed)
        return hot["tf"]

    def _compute_hotline(self, now: datetime) -> dict:
        t = m.Ticket.__table__
        n = ts(now)
        periods = self._hotline_periods(now)
        mono = time.monotonic()
        prev_cached = {}
        for name, (_s, ps, pe) in periods.items():
            hit = self._closed_hotline.get((name, ps, pe))
            if hit and mono - hit[0] <= self.opts.closed_ttl:
                prev_cached[name] = hit[1]
        load_from = min(s for s, _ps, _pe in periods.values())
        with sql.connect(self.engine) as conn:
            tf = self._hotline_working_set(conn, now, load_from)
            if tf is None:
                return _hotline_empty(periods, now)
            misses = [name for name in periods if name not in prev_cached]
            prev_tf = tf
            if misses:
                lo = min(periods[name][1] for name in misses)
                wfrom = self._hot["from"]
                if lo < wfrom:  # closed periods before the working set: read once, cached
                    extra = tickets.load_tickets(conn, t.c.requested_at >= lo.to_pydatetime(),
                                                t.c.requested_at < wfrom.to_pydatetime())
                    extra["deadline"] = tickets.ticket_deadlines(extra, self.zone)
                    inside = tf.subset(tf.cols["requested_at"] >= wfrom.value // 1000)
                    prev_tf = tf.like(extra).concat(inside)
        out_periods = {}
        for name, (s, ps, pe) in periods.items():
            cur = tf.period(s, n, n)
            prev = prev_cached.get(name)
            if prev is None:
                prev = prev_tf.period(ps, pe, pe, breakdowns=False)
                self._closed_hotline[(name, ps, pe)] = (mono, prev)
            out_periods[name] = {
                "start": iso(s), "end": iso(n), "as_of": iso(n),
                "elapsed_pct": _round(100.0 * (n - s).total_seconds() / max((pe - ps).total_seconds(), 1.0)),
                "figures": cur["figures"],
                "previous": {"start": iso(ps), "end": iso(pe), "as_of": iso(pe), "figures": prev["figures"]},
                "delta": hotline.compare(cur["figures"], prev["figures"]),
                "by": cur["by"],
            }
        current_keys = {(nm, ps, pe) for nm, (_s, ps, pe) in periods.items()}
        for key in [k for k in self._closed_hotline if k not in current_keys]:
            self._closed_hotline.pop(key, None)
        cols = tf.cols
        flags = tf.flags(n)
        req_ok = (cols["requested_at"] <= n.value // 1000) & (cols["requested_at"] != NAT_US)
        open_mask = ~flags["answered"] & req_ok
        overdue_mask = flags["overdue"] & req_ok
        idx = np.flatnonzero(overdue_mask)
        idx = idx[np.lexsort((cols["requested_at"][idx], cols["deadline"][idx]))][: self.opts.top_n]
        top = []
        for i in idx:
            dl = pd.Timestamp(int(cols["deadline"][i]), unit="us", tz="UTC")
            top.append({
                "external_id": str(cols["external_id"][i]), "service_name": plain(cols["service_name"][i]),
                "channel": plain(cols["channel"][i]), "agency": plain(cols["agency"][i]),
                "commune_code": plain(cols["commune_code"][i]),
                "requested_at": iso(pd.Timestamp(int(cols["requested_at"][i]), unit="us", tz="UTC")),
                "deadline": iso(dl),
                "overdue_hours": round((n - dl).total_seconds() / 3600.0, 1),
                "overdue_days": round((n - dl).total_seconds() / 86400.0, 1),
            })
        baseline = self._overdue_baseline(tf, now)
        return {
            "has_data": True,
            "periods": out_periods,
            "backlog": {"open": int(open_mask.sum()), "open_overdue": int(overdue_mask.sum()),
                        "overdue_baseline_7d": baseline},
            "open_overdue": top,
        }

    def _overdue_baseline(self, tf: tickets.TicketFrame, now: datetime) -> float | None:
        """Mean count of overdue open tickets at the last 7 local midnights (the usual
        backlog, for the overdue-surge alert)."""
        today = local_day(now, self.zone)
        t = np.array([local_midnight(today - timedelta(days=k), self.zone).value // 1000 for k in range(7)])[:, None]
        c = tf.cols
        nat = NAT_US
        req, ans, dl = c["requested_at"][None, :], c["answered_at"][None, :], c["deadline"][None, :]
        ans_na = ans == nat
        closed_unknown = c["closed"][None, :] & ans_na
        unanswered = ~closed_unknown & (ans_na | (ans > t))
        counts = ((req != nat) & (req <= t) & unanswered & (dl != nat) & (dl < t)).sum(axis=1)
        return round(float(counts.mean()), 2)

    # -- cameras --------------------------------------------------------------------------------

    def _camera_set(self, conn) -> pd.DataFrame:
        """All cameras, kept in memory and refreshed from the ``cameras`` change stream
        (changed cameras re-read by id); reloaded every ``closed_ttl`` seconds or when the
        stream cannot be followed."""
        mono = time.monotonic()
        ids = None
        if self._cams is not None and mono - self._cams_loaded <= self.opts.closed_ttl:
            ids = self._cams_follow.changes()
            if ids == [] and self._moved.get("cameras"):
                ids = None  # the version moved, but no event says what changed
        if ids is None:
            self._cams_follow.mark()
            self._cams = cameras_sql.load_cameras(conn)
            self._cams_loaded = mono
        elif ids:
            uniq = sorted(set(ids))
            changed = cameras_sql.load_cameras(conn, uniq)
            kept = self._cams[~self._cams["id"].isin(uniq).to_numpy(dtype=bool)]
            self._cams = pd.concat([kept, changed], ignore_index=True) if len(changed) else kept.reset_index(drop=True)
        return self._cams

    def _compute_cameras(self, now: datetime) -> dict:
        n = ts(now)
        with sql.connect(self.engine) as conn:
            cams = self._camera_set(conn)
            if len(cams) == 0:
                return _cameras_empty()
            changes = cameras_sql.load_camera_changes(conn, (n - self.opts.flap_window).to_pydatetime(), now)
        summary = cameras_sql.camera_summary(cams, n, offline_limit=self.opts.offline_limit)
        flaps = []
        if len(changes):
            # only a camera with ≥ min_changes rows in the window can flap
            vc = changes["camera_id"].value_counts()
            cand = changes[changes["camera_id"].isin(vc.index[vc >= self.opts.flap_min_changes]).to_numpy(dtype=bool)]
            if len(cand):
                flaps = cameras.flapping(cand, n, self.opts.flap_window, self.opts.flap_min_changes)
        if flaps:
            info = cams.set_index(cams["id"].astype(str))
        flapping = []
        for f in flaps:
            known = f["camera_id"] in info.index
            flapping.append({**plain(f), "name": plain(info.at[f["camera_id"], "name"]) if known else None,
                             "commune_code": plain(info.at[f["camera_id"], "commune_code"]) if known else None})
        offline = [{k: (iso(v) if isinstance(v, datetime) else v) for k, v in r.items()}
                   for r in summary.pop("offline_cameras")]
        return {"has_data": True, **summary, "offline_cameras": offline, "flapping": flapping,
                "changes_last_hour": int(len(changes))}

    # -- environment ----------------------------------------------------------------------------

    def _catalogue(self, conn) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
        """Stations and datastreams, re-read only when their signature changes, with what
        every build derives from them (station kinds, air streams, water-station streams)."""
        sig = environment_sql.environment_signature(conn)
        hit = self._env_catalogue
        if hit is not None and hit[0] == sig:
            return hit[1], hit[2], hit[3], hit[4]
        stations = environment_sql.load_stations(conn)
        stations["id"] = stations["id"].astype(str)
        ds = environment_sql.load_datastreams(conn)
        ds["station_id"] = ds["station_id"].astype(str)
        info = {r["id"]: {"name": plain(r["name"]), "kind": plain(r["kind"]), "commune_code": plain(r["commune_code"]),
                          "lat": plain(r["lat"]), "lon": plain(r["lon"])} for r in stations.to_dict("records")}
        kinds = dict(zip(stations["id"].tolist(), stations["kind"].tolist()))
        ds_kind = ds["station_id"].map(kinds)
        ds["water_station"] = ds_kind.isin(["water", "iot_water"]).to_numpy(dtype=bool)
        derived = {
            "kinds": kinds,
            "air_ids": ds.loc[(ds["code"].isin(environment.AIR_PARAMETERS) & (ds_kind == "air")).to_numpy(dtype=bool),
                              "id"].tolist(),
            "by_kind": {str(k): int(v) for k, v in stations["kind"].value_counts().sort_index().items()},
        }
        self._env_catalogue = (sig, stations, ds, info, derived)
        return stations, ds, info, derived

    def _latest_values(self, conn, now: datetime) -> dict[str, tuple[int, float]]:
        """Newest observation per datastream (``{id: (µs since 1970 UTC, value)}``), kept in
        memory and refreshed from the ``environment`` change stream (event id = datastream id)."""
        mono = time.monotonic()
        ids = None
        self._moved_no_events["environment"] = False
        self._new_obs = None
        if self._latest_map is not None and mono - self._latest_loaded <= self.opts.closed_ttl:
            ids = self._env_follow.changes()
            if ids == [] and self._moved.get("environment"):
                ids = None
                self._moved_no_events["environment"] = True
        o = m.Observation.__table__
        if ids:
            # Rows written since the last read (ids above the highest seen): one primary-key
            # range instead of a newest-per-stream probe for every changed stream (800 of
            # them each hour). Streams that changed without a new row (a value corrected in
            # place, rows removed by a reconciliation) are probed as before.
            d = sql.dialect_name(conn)
            new = sql.fetch(conn, select(o.c.id, o.c.datastream_id, sql.tcol(o.c.phenomenon_time, d,
                                                                                    "phenomenon_time"), o.c.result)
                               .where(o.c.id > self._latest_max_id, o.c.phenomenon_time <= now)
                               .order_by(o.c.id).limit(LATEST_NEW_ROWS_MAX + 1), ("phenomenon_time",))
            if len(new) > LATEST_NEW_ROWS_MAX:
                ids = None  # a backfill: reload
            else:
                self._new_obs = (self._latest_max_id, new)  # the air window reads the same rows
                self._merge_latest(conn, now, sorted(set(ids)), new)
        if ids is None:
            self._env_follow.mark()
            self._latest_max_id = int(conn.execute(select(func.max(o.c.id))).scalar() or 0)  # before the read
            self._latest_map = {}
            self._put_latest(environment_sql.load_latest_observations(conn, now))
            self._latest_loaded = mono
        return self._latest_map

    def _put_latest(self, df: pd.DataFrame, *, only_newer: bool = False) -> None:
        """Rows (datastream_id, phenomenon_time, result) into the newest-value map; with
        ``only_newer`` a row older than the value held does not replace it (a late hour)."""
        if not len(df):
            return
        t = micros(df["phenomenon_time"])
        order = np.argsort(t, kind="stable")  # equal times: the later row wins, as before
        mp = self._latest_map
        for ds_id, at, value in zip(df["datastream_id"].to_numpy(dtype=object)[order], t[order].tolist(),
                                    df["result"].to_numpy(dtype=float)[order].tolist()):
            key = str(ds_id)
            held = mp.get(key) if only_newer else None
            if held is None or at >= held[0]:
                mp[key] = (at, value)

    def _latest_joined(self, ds: pd.DataFrame) -> pd.DataFrame:
        """The catalogue's datastreams that have a newest value, with ``at`` and ``value``
        (in catalogue order)."""
        mp = self._latest_map or {}
        held = [mp.get(i) for i in ds["id"].to_numpy(dtype=object).tolist()]
        has = np.fromiter((h is not None for h in held), dtype=bool, count=len(held))
        got = [h for h in held if h is not None]
        at = np.fromiter((h[0] for h in got), dtype=np.int64, count=len(got)).astype("datetime64[us]")
        out = ds.rename(columns={"id": "datastream_id"})[has].reset_index(drop=True)
        out["at"] = pd.DatetimeIndex(at).tz_localize("UTC")
        out["value"] = np.fromiter((h[1] for h in got), dtype=float, count=len(got))
        return out

    def _merge_latest(self, conn, now: datetime, changed: list[str], new: pd.DataFrame) -> None:
        if len(new):
            self._latest_max_id = max(self._latest_max_id, int(new["id"].max()))
        with_rows = set(new["datastream_id"].astype(str).tolist())
        self._put_latest(new, only_newer=True)
        rest = sorted(set(changed) - with_rows)
        if rest:  # changed without a new row: the stream's newest row as SQL has it now (or none)
            for key in rest:
                self._latest_map.pop(key, None)
            self._put_latest(environment_sql.load_latest_observations(conn, now, rest))

    def _air_window(self, conn, air_ids: list, since: pd.Timestamp, now: datetime) -> pd.DataFrame:
        """Air observations since ``since``, kept in memory: each build appends the rows
        written since the last read (``observations.id`` above the highest seen — new
        and late-arriving hours alike); a value corrected in place keeps its id and is
        picked up by the full reload every ``closed_ttl`` seconds."""
        o = m.Observation.__table__
        mono = time.monotonic()
        w = self._air
        if (w is None or mono - w["loaded"] > self.opts.closed_ttl or w["ids"] != tuple(air_ids)
                or since < w["since"] or self._moved_without_events("environment")):
            top = conn.execute(select(func.max(o.c.id))).scalar() or 0
            obs = environment_sql.load_observations(conn, air_ids, since.to_pydatetime(), now)
            self._air = {"since": since, "loaded": mono, "ids": tuple(air_ids), "obs": obs,
                         "max_id": max(int(top), int(obs["id"].max()) if len(obs) else 0)}
            return obs
        shared = self._new_obs
        if shared is not None and shared[0] == w["max_id"]:  # the rows the latest values just read
            new = shared[1]
            pt = new["phenomenon_time"]
            new = new[(new["datastream_id"].isin(air_ids) & (pt >= since) & (pt <= ts(now))).to_numpy(dtype=bool)]
            w["max_id"] = max(w["max_id"], int(shared[1]["id"].max()) if len(shared[1]) else 0)
        else:
            new = environment_sql.load_observations(conn, air_ids, since.to_pydatetime(), now, after_id=w["max_id"])
        obs = w["obs"]
        if len(new):
            w["max_id"] = max(w["max_id"], int(new["id"].max()))
            # a row for a (stream, time) already held replaces it; checked against a key set
            # rather than a drop_duplicates over the whole window each build
            keys = w.get("keys")
            if keys is None:
                keys = w["keys"] = set(zip(obs["datastream_id"].tolist(), micros(obs["phenomenon_time"]).tolist()))
            nk = list(zip(new["datastream_id"].tolist(), micros(new["phenomenon_time"]).tolist()))
            obs = pd.concat([obs, new], ignore_index=True)
            if len(set(nk)) < len(nk) or not keys.isdisjoint(nk):
                obs = obs.drop_duplicates(["datastream_id", "phenomenon_time"], keep="last")
            keys.update(nk)
        t = micros(obs["phenomenon_time"])
        keep = (t >= since.value // 1000) & (t <= ts(now).value // 1000)
        if not keep.all():
            obs = obs[keep].reset_index(drop=True)
            w.pop("keys", None)  # rebuilt from what is kept
        w["obs"] = obs
        w["since"] = since
        return w["obs"]

    def _moved_without_events(self, domain: str) -> bool:
        return bool(self._moved.get(domain)) and self._moved_no_events.get(domain, False)

    def _compute_environment(self, now: datetime) -> dict:
        n = ts(now)
        with sql.connect(self.engine) as conn:
            stations, ds, info, derived = self._catalogue(conn)
            if len(stations) == 0:
                return _environment_empty()
            self._latest_values(conn, now)
            air_ids = derived["air_ids"]
            hours = self.opts.air_hours + 11  # NowCast needs 11 hours of history
            air_obs = self._air_window(conn, air_ids, n.floor("h") - pd.Timedelta(hours=hours), now)
        lv = self._latest_joined(ds)
        latest_kpi = lv.assign(parameter=lv["code"])[["station_id", "parameter", "unit", "at", "value"]]
        kinds = derived["kinds"]

        grid = air_grid.AirGrid(air_obs, ds, n - pd.Timedelta(hours=hours + 1), n)
        air = self._air_section(grid, n, info, kinds)
        water = self._water_section(lv, info, kinds)
        today = local_day(n, self.zone)
        air_ex = grid.exceedances(today, today, self.zone)
        wq = lv[lv["water_station"].to_numpy(dtype=bool)]
        water_ex = environment_sql.water_exceedances_latest(wq)
        sal = environment.salinity_alerts(latest_kpi[latest_kpi["parameter"] == "salinity"], as_of=n)
        level_rows = latest_kpi[latest_kpi["parameter"] == "water_level"].copy()
        if len(level_rows):
            level_rows["value"] = [parameters.water_level_metres(v, u)
                                   for v, u in zip(level_rows["value"].tolist(), level_rows["unit"].tolist(),
                                                   strict=True)]
            level_rows["unit"] = "m"
        levels = environment.water_level_alerts(level_rows, stations, as_of=n)
        insects = environment.insect_alerts(latest_kpi[latest_kpi["parameter"].isin(list(environment.INSECT_LEVELS))],
                                            as_of=n)
        offline = environment_sql.stations_offline_latest(stations, ds, self._latest_map, n)

        def named(rows):
            out = []
            for r in rows:
                r = {k: plain(v) for k, v in r.items()}
                r["station_name"] = info.get(str(r.get("station_id")), {}).get("name")
                out.append(r)
            return out

        by_kind = derived["by_kind"]
        return {
            "has_data": True,
            "stations": {"total": int(len(stations)), "by_kind": by_kind, "offline": len(offline),
                         "datastreams": int(len(ds))},
            "air": air,
            "water": water,
            "exceedances": {"air_today": named(air_ex), "water_latest": named(water_ex)},
            "salinity": named(sal),
            "water_level": named(levels),
            "insects": named(insects),
            "offline": named(offline),
        }

    def _air_section(self, grid: air_grid.AirGrid, n: pd.Timestamp, info: dict, kinds: dict) -> list[dict]:
        max_age = environment.DEFAULT_MAX_AGE_BY_KIND["air"]
        out = []
        memo = self._aqi_memo
        if len(memo) > 20_000:
            memo.clear()
        for sid in sorted(k for k, v in kinds.items() if v == "air"):
            base = {"station_id": sid, **info[sid], "hour": None, "aqi": None, "category": None, "dominant": None,
                    "nowcast_pm25": None, "nowcast_pm10": None, "sub_indices": None, "current": False,
                    "last": None, "trend": []}
            if sid not in grid.values:
                out.append(base)
                continue
            rows = grid.hourly_aqi(sid, self.opts.air_hours, memo=memo)
            base["trend"] = [{"hour": self._hour_iso(r["hour"]), "aqi": r["aqi"]} for r in rows]
            with_value = [r for r in rows if r["aqi"] is not None]
            if not with_value:
                out.append(base)
                continue
            r = with_value[-1]
            cat = _category(aqi.category(r["aqi"]))
            base["last"] = {"hour": iso(r["hour"]), "aqi": r["aqi"], "dominant": r["dominant"], "category": cat}
            current = n - r["hour"] <= max_age
            base["current"] = bool(current)
            if current:
                base.update(hour=iso(r["hour"]), aqi=r["aqi"], category=cat, dominant=r["dominant"],
                            nowcast_pm25=_round(r["nowcast_pm25"]), nowcast_pm10=_round(r["nowcast_pm10"]),
                            sub_indices={p: r[p] for p in ("pm25", "pm10", "no2", "so2", "co", "o3")})
            out.append(base)
        return out

    def _hour_iso(self, h: pd.Timestamp) -> str:
        memo = self._iso_memo
        hit = memo.get(h.value)
        if hit is None:
            if len(memo) > 10_000:
                memo.clear()
            hit = memo[h.value] = iso(h)
        return hit

    def _water_section(self, lv: pd.DataFrame, info: dict, kinds: dict) -> list[dict]:
        """VN_WQI per water station from its newest values: one sample = the newest value
        of each parameter measured within 24 h of the station's newest one."""
        wq_params = set(wqi.PARAMETER_GROUP) | {"temperature", "do_pct"}
        sel = lv[lv["code"].isin(wq_params).to_numpy(dtype=bool)]
        by_station: dict[str, list] = {}
        ats = micros(sel["at"])
        for sid, code, unit, at, value in zip(sel["station_id"].tolist(), sel["code"].tolist(), sel["unit"].tolist(),
                                              ats.tolist(), sel["value"].tolist()):
            by_station.setdefault(sid, []).append((code, unit, int(at), float(value)))
        out = []
        day_us = 24 * 3600 * 1_000_000
        memo = self._wqi_memo
        for sid in sorted(k for k, v in kinds.items() if v in ("water", "iot_water")):
            rows = by_station.get(sid)
            if not rows:
                if kinds[sid] != "iot_water":  # level/salinity gauges: no WQI expected
                    out.append({"station_id": sid, **info[sid], "sampled_at": None, "oldest_value_at": None,
                                "wqi": None, "category": None, "reason": "no water-quality parameters measured",
                                "groups": {}, "parameters": {}, "groups_used": [], "rejected": {}, "do_pct": None,
                                "values": {}})
                continue
            key = tuple(sorted(rows))
            hit = memo.get(sid)
            if hit is not None and hit[0] == key:
                out.append({**hit[1], **info[sid]})
                continue
            newest = max(r[2] for r in rows)
            sample, times = {}, []
            for code, unit, at, value in rows:
                if at < newest - day_us:
                    continue
                if code == "do" and str(unit or "").strip() == "%":
                    code = "do_pct"
                sample[code] = value
                times.append(at)
            res = wqi.compute(sample)
            rec = {"station_id": sid, **info[sid], "sampled_at": iso(pd.Timestamp(newest, unit="us", tz="UTC")),
                   "oldest_value_at": iso(pd.Timestamp(min(times), unit="us", tz="UTC")), "wqi": res.value,
                   "category": _category(res.category), "reason": res.reason,
                   "groups": {k: _round(v) for k, v in res.groups.items()},
                   "parameters": {k: _round(v) for k, v in res.parameters.items()},
                   "groups_used": list(res.groups_used), "rejected": dict(res.rejected), "do_pct": _round(res.do_pct),
                   "values": {k: _round(v, 4) for k, v in sample.items()}}
            memo[sid] = (key, rec)
            out.append(rec)
        return out

    # -- procedures (QĐ 766) --------------------------------------------------------------------

    def _bucket(self, conn, kind: str, start_day: date, end_day: date) -> np.ndarray:
        """Counts of a closed period (day or month) of QĐ 766 populations, cached."""
        key = (kind, start_day)
        b = self._buckets.get(key)
        mono = time.monotonic()
        if b is not None and b.dirty_since is None:
            return b.counts
        if b is not None:
            # a late correction: refreshed lazily — a few days per build; a month (costly)
            # only in the periodic full build, one per build
            month_ok = kind != "m" or (self._force and self._month_refreshes < 1)
            if (mono - b.dirty_since < self.opts.closed_refresh_after or not month_ok
                    or self._refreshes >= self.opts.max_bucket_refresh):
                return b.counts
            self._refreshes += 1
            self._month_refreshes += kind == "m"
        s, e = local_midnight(start_day, self.zone).to_pydatetime(), local_midnight(end_day, self.zone).to_pydatetime()
        counts = self._space.encode(qd766_sql.qd766_received(conn, s, e), qd766_sql.qd766_finished(conn, s, e, e))
        self._buckets[key] = _Bucket(counts, time.monotonic())
        return counts

    def _sync_dossiers(self, conn, now: datetime, t0: datetime) -> None:
        """Follow the dossier change feed (``updated_at`` > watermark): keep the in-memory
        set of unfinished dossiers and today's dossiers (received or finished since local
        midnight ``t0``) current, and mark closed buckets a change touches. Both sets are
        reloaded from SQL every ``closed_ttl`` seconds and today's at each new day (a change
        whose upstream ``updated_at`` lies behind the watermark is caught then)."""
        t = m.Dossier.__table__
        mono = time.monotonic()
        if (self._unfinished is None or mono - self._unfinished_loaded > self.opts.closed_ttl
                or self._today_t0 != t0):
            newest = conn.execute(select(func.max(t.c.updated_at))).scalar()
            self._unfinished = self._with_pairs(qd766_sql.load_unfinished(conn, now).drop_duplicates("id").set_index("id"))
            self._today = self._with_pairs(qd766_sql.load_dossiers_since(conn, t0).set_index("id"))
            self._today_t0 = t0
            self._fees = qd766_sql.procedure_fees(conn)
            self._unfinished_loaded = mono
            if self._dossier_watermark is None:
                self._dossier_watermark = newest or now
            else:
                self._dossier_watermark = min(self._dossier_watermark, newest or now)
                self._apply_changes(conn, now, mono)
            return
        self._apply_changes(conn, now, mono)

    def _with_pairs(self, df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(pair=self._space.pair_ids(df["agency"], df["commune_code"]))

    def _apply_changes(self, conn, now: datetime, mono: float) -> None:
        ch = qd766_sql.dossier_changes_since(conn, self._dossier_watermark)
        if ch.empty:
            return
        self._dossier_watermark = ch["updated_at"].max().to_pydatetime()
        days = set()
        for col in ("received_at", "finished_at"):
            v = ch[col].dropna()
            if len(v):
                days.update(pd.Index(v.dt.tz_convert(self.zone).dt.date).unique())
        for day in days:
            for key in (("d", day), ("m", month_start(day))):
                b = self._buckets.get(key)
                if b is not None and b.dirty_since is None:
                    b.dirty_since = mono
        ch = self._with_pairs(ch.drop_duplicates("id", keep="last").set_index("id"))
        fin = ch["finished_at"]
        still_open = ch.loc[(fin.isna() | (fin > ts(now))).to_numpy(dtype=bool), self._unfinished.columns]
        kept = self._unfinished.drop(index=ch.index, errors="ignore")
        self._unfinished = pd.concat([kept, still_open]) if len(still_open) else kept
        t0 = ts(self._today_t0)
        today = ch[((ch["received_at"] >= t0) | (fin.notna() & (fin >= t0))).to_numpy(dtype=bool)]
        kept = self._today.drop(index=ch.index, errors="ignore")
        self._today = pd.concat([kept, today[kept.columns]]) if len(today) else kept

    def _closed_sum(self, name: str, keys: list[tuple]) -> np.ndarray:
        """Sum of cached buckets, itself cached until one of them is recomputed."""
        sig = tuple((k, self._buckets[k].computed_at) for k in keys)
        hit = self._sums.get(name)
        if hit is not None and hit[0] == sig:
            return hit[1]
        total = self._space.add(*[self._buckets[k].counts for k in keys])
        self._sums[name] = (sig, total)
        return total

    def _compute_procedures(self, now: datetime) -> dict:
        z = self.zone
        n = ts(now)
        today = local_day(now, z)
        m0 = month_start(today)
        y0 = date(today.year, 1, 1)
        pm0 = add_months(m0, -1)
        t0 = local_midnight(today, z).to_pydatetime()
        self._refreshes = 0
        self._month_refreshes = 0
        d = m.Dossier.__table__
        with sql.connect(self.engine) as conn:
            has_data = conn.execute(select(exists().where(d.c.id.is_not(None)))).scalar()
            if not has_data:
                return _procedures_empty(z, now)
            self._sync_dossiers(conn, now, t0)
            month_keys, day_keys = [], []
            mm = y0
            while mm < m0:
                self._bucket(conn, "m", mm, add_months(mm, 1))
                month_keys.append(("m", mm))
                mm = add_months(mm, 1)
            if pm0 < y0:
                self._bucket(conn, "m", pm0, m0)
            dd = m0
            while dd < today:
                self._bucket(conn, "d", dd, dd + timedelta(days=1))
                day_keys.append(("d", dd))
                dd += timedelta(days=1)
            u, td = self._unfinished, self._today
            # in progress: over the unfinished set; received / finished today: over today's dossiers
            open_block = np.zeros((len(u), len(qd766.COUNTS)))
            open_block[:, [qd766.COUNTS.index(c) for c in qd766.OPEN_COUNTS]] = qd766.open_counts(u, now, now)
            today_counts = qd766.row_counts(td, self._fees, t0, now, now, in_progress=False)
            live = self._space.add(self._space.encode_rows(td["pair"].to_numpy(), today_counts),
                                   self._space.encode_rows(u["pair"].to_numpy(), open_block))
            key = ("overdue_at", pm0)
            pm_end = local_midnight(m0, z).to_pydatetime()
            hit = self._buckets.get(key)
            if hit is None or time.monotonic() - hit.computed_at > self.opts.closed_ttl:
                self._buckets[key] = _Bucket(self._space.encode(qd766_sql.qd766_in_progress(conn, pm_end, pm_end)),
                                             time.monotonic())
        # forget buckets of past years and of days of past months
        for k in [k for k in self._buckets if (k[0] == "d" and k[1] < m0) or (k[0] == "m" and k[1] < min(y0, pm0))
                  or (k[0] == "overdue_at" and k[1] != pm0)]:
            self._buckets.pop(k, None)
        closed_days = self._closed_sum("days", day_keys)
        closed_months = self._closed_sum("months", month_keys)
        sp = self._space
        month_counts = sp.add(closed_days, live)
        ytd_counts = sp.add(closed_months, month_counts)
        prev_counts = sp.add(self._buckets[("m", pm0)].counts, self._buckets[("overdue_at", pm0)].counts)
        this_month = _procedures_report(sp, month_counts, local_midnight(m0, z), n)
        ytd = _procedures_report(sp, ytd_counts, local_midnight(y0, z), n)
        prev = qd766.from_counts(sp.total(prev_counts))
        cur_vals = {c: v.get("value") for c, v in this_month["province"]["indicators"].items()}
        cur_vals["score"] = this_month["province"]["score"]
        prev_vals = {c: v.get("value") for c, v in prev["indicators"].items()}
        prev_vals["score"] = prev["score"]
        return {
            "has_data": True,
            "this_month": this_month,
            "year_to_date": ytd,
            "previous_month": {"period": {"start": iso(local_midnight(pm0, z)), "end": iso(local_midnight(m0, z)),
                                          "as_of": iso(local_midnight(m0, z))}, "province": prev},
            "delta_vs_previous_month": hotline.compare(cur_vals, prev_vals),
        }


def _procedures_report(space: qd766_sql.CountSpace, counts: np.ndarray, start, now) -> dict:
    rep = space.report(counts)
    return {"period": {"start": iso(start), "end": iso(now), "as_of": iso(now)}, "province": rep["province"],
            "agency": rep["agency"], "commune": rep["commune_code"]}


def _category(cat) -> dict | None:
    if cat is None:
        return None
    out = {"key": cat.key, "name_vi": cat.name_vi, "name_en": cat.name_en, "hex": cat.hex, "rgb": list(cat.rgb)}
    return out


# --- empty domains: every figure null --------------------------------------------------------


_HOTLINE_FIGURES = ("received", "answered", "answered_time_unknown", "in_progress", "overdue", "answered_late",
                    "late", "on_time", "on_time_pct", "answered_pct", "median_hours_to_answer",
                    "mean_hours_to_answer", "reopened_tickets", "reopen_events")


def _hotline_empty(periods, now) -> dict:
    n = ts(now)
    nulls = {k: None for k in _HOTLINE_FIGURES}
    return {
        "has_data": False,
        "periods": {name: {"start": iso(s), "end": iso(n), "as_of": iso(n), "elapsed_pct": None,
                           "figures": dict(nulls),
                           "previous": {"start": iso(ps), "end": iso(pe), "as_of": iso(pe), "figures": dict(nulls)},
                           "delta": hotline.compare(nulls, nulls), "by": {}}
                    for name, (s, ps, pe) in periods.items()},
        "backlog": {"open": None, "open_overdue": None, "overdue_baseline_7d": None},
        "open_overdue": [],
    }


def _cameras_empty() -> dict:
    return {"has_data": False, "total": None, **{s: None for s in cameras_sql.CAMERA_STATUSES}, "online_pct": None,
            "online_pct_known": None, "offline_cameras_total": None, "by_commune": {}, "by_agency": {},
            "offline_cameras": [], "flapping": [], "changes_last_hour": None}


def _environment_empty() -> dict:
    return {"has_data": False, "stations": {"total": None, "by_kind": {}, "offline": None, "datastreams": None},
            "air": [], "water": [], "exceedances": {"air_today": [], "water_latest": []}, "salinity": [],
            "water_level": [], "insects": [], "offline": []}


def _procedures_empty(zone, now) -> dict:
    nulls = qd766.nulls()
    today = local_day(now, zone)
    m0 = month_start(today)

    def rep(start):
        return {"period": {"start": iso(local_midnight(start, zone)), "end": iso(now), "as_of": iso(now)},
                "province": nulls, "agency": {}, "commune": {}}

    pm0 = add_months(m0, -1)
    return {"has_data": False, "this_month": rep(m0), "year_to_date": rep(date(today.year, 1, 1)),
            "previous_month": {"period": {"start": iso(local_midnight(pm0, zone)), "end": iso(local_midnight(m0, zone)),
                                          "as_of": iso(local_midnight(m0, zone))}, "province": nulls},
            "delta_vs_previous_month": {}}


_EMPTY = {
    "hotline": lambda zone, now: _hotline_empty(_periods_for(zone, now), now),
    "cameras": lambda zone, now: _cameras_empty(),
    "environment": lambda zone, now: _environment_empty(),
    "procedures": lambda zone, now: _procedures_empty(zone, now),
}


def _periods_for(zone, now):
    b = SnapshotBuilder.__new__(SnapshotBuilder)
    b.zone = zone
    return b._hotline_periods(now)


# --- alerts and quarantine -----------------------------------------------------------------------

_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def alerts_section(active: Mapping[str, Mapping] | None) -> dict:
    """Active alerts (from Redis ``alerts:active``), most severe and oldest first."""
    if active is None:
        return {"available": False, "total": None, "by_severity": {}, "unacknowledged": None, "active": []}
    rows = [dict(v) for v in active.values() if (v or {}).get("state", "active") == "active"]
    rows.sort(key=lambda a: (_SEVERITY_RANK.get(a.get("severity"), 3), a.get("first_at") or "", a.get("key") or ""))
    by = {s: sum(1 for a in rows if a.get("severity") == s) for s in ("critical", "warning", "info")}
    return {"available": True, "total": len(rows), "by_severity": by,
            "unacknowledged": sum(1 for a in rows if not a.get("acked_by")), "active": rows}


def quarantine_section(counts: Mapping[str, int] | None) -> dict:
    if counts is None:
        return {"available": False, "total": None, "by_source": {}}
    by: dict[str, dict[str, int]] = {}
    for k, v in counts.items():
        src, _, reason = k.partition(":")
        by.setdefault(src, {})[reason or "unknown"] = int(v)
    return {"available": True, "total": int(sum(counts.values())),
            "by_source": {s: dict(sorted(r.items())) for s, r in sorted(by.items())}}


# --- entry point ----------------------------------------------------------------------------------


def build_snapshot(engine: Engine, store, settings=None, now: datetime | None = None, *,
                   builder: SnapshotBuilder | None = None) -> dict:
    """The KPI snapshot at ``now`` (default: the clock), computed from scratch unless a
    warm ``builder`` is passed. ``store`` may be None (Redis unavailable): sources are
    then ``unknown`` and every domain is marked stale."""
    b = builder or SnapshotBuilder(engine, settings, store)
    return b.build(now, force=builder is None)


__all__ = ["SCHEMA_VERSION", "BuilderOptions", "SnapshotBuilder", "alerts_section", "build_snapshot", "dumps",
           "iso", "plain", "quarantine_section", "sources_section"]
