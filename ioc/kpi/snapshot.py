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

import orjson
from sqlalchemy.engine import Engine

from ioc.kpi import (cameras, snapshot_briefings, snapshot_cameras, snapshot_environment, snapshot_hotline,
                     snapshot_procedures)
from ioc.kpi.dates import local_day, ts
from ioc.kpi.jsonable import iso, plain
from ioc.live_store import SOURCES
from ioc.source_health import derive_state

log = logging.getLogger("ioc.kpi.snapshot")

SCHEMA_VERSION = 1
DOMAINS = ("hotline", "cameras", "environment", "procedures")  # domain name = its source
STALE_STATES = frozenset({"stale", "failing", "unknown"})
DEFAULT_TZ = "Asia/Ho_Chi_Minh"


# --- small helpers ------------------------------------------------------------------------


def dumps(snapshot: Mapping) -> bytes:
    return orjson.dumps(snapshot, option=orjson.OPT_NON_STR_KEYS)


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
        self.hotline = snapshot_hotline.HotlinePart(engine, store, self.zone, self.opts)
        self.cameras = snapshot_cameras.CamerasPart(engine, store, self.opts)
        self.environment = snapshot_environment.EnvironmentPart(engine, store, self.zone, self.opts)
        self.procedures = snapshot_procedures.ProceduresPart(engine, self.zone, self.opts)
        self.last_timings: dict[str, float] = {}
        self.last_errors: dict[str, str] = {}
        # the briefing schedule (IOC_BRIEFING_DAILY/WEEKLY), to find briefings that are overdue
        self.briefing_schedule = None
        if settings is not None:
            from ioc.briefings.slots import from_settings

            daily, weekly, _catch_up = from_settings(settings)
            self.briefing_schedule = {"daily": daily, "weekly": weekly}

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
            pipe = r.pipeline(transaction=False)  # keys of several slots (Redis Cluster)
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
            moved = part is None or version is None or part.version != version
            t0 = time.perf_counter()
            try:
                data = self._compute(d, now, moved=moved, full=force)
            except Exception as err:  # database down, bad row …: keep the last good part, say so
                self.last_errors[d] = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
                log.debug("%s part failed", d, exc_info=True)
                if part is not None:
                    part.error = self.last_errors[d]
                else:
                    self._parts[d] = _Part(None, mono, now, today, _empty(d, self.zone, now), 0.0,
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
        t0 = time.perf_counter()
        try:  # a few rows: read every build (a failed briefing is an alert within a minute)
            snap["briefings"] = snapshot_briefings.briefings_section(self.engine, self.zone, now,
                                                                       self.briefing_schedule)
        except Exception as err:  # the database down: unknown, the alerts it raised are held
            log.debug("briefings part failed: %s", err)
            snap["briefings"] = snapshot_briefings.unavailable()
        timings["briefings"] = round((time.perf_counter() - t0) * 1000, 1)
        timings["total"] = round((time.perf_counter() - t_start) * 1000, 1)
        snap["compute_ms"] = timings
        self.last_timings = timings
        return snap


    def _compute(self, domain: str, now: datetime, *, moved: bool, full: bool) -> dict:
        if domain == "procedures":
            return self.procedures.compute(now, full=full)
        return getattr(self, domain).compute(now, moved=moved)


def _empty(domain: str, zone: ZoneInfo, now: datetime) -> dict:
    """A domain's part with every figure null (its first computation failed)."""
    if domain == "hotline":
        return snapshot_hotline.empty(now, zone)
    if domain == "cameras":
        return snapshot_cameras.empty()
    if domain == "environment":
        return snapshot_environment.empty()
    return snapshot_procedures.empty(zone, now)


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
