"""The KPI scheduler (`ioc kpi run`): keeps the snapshot and the active alerts current.

Loop (``run(stop_event)``):

* poll ``ioc:version`` every ``poll`` seconds (0.2 s); when it moves, recompute after
  ``quiet`` seconds without further change (0.3 s), but never later than ``max_delay``
  after the first change (5 s) — a busy connector cannot starve the wall;
* recompute everything at least every ``periodic`` seconds (60 s) so time-based states
  advance without new data (tickets fall overdue, cameras stay offline longer, sources
  go stale);
* an incremental recompute redoes only the domains whose source version changed
  (:class:`ioc.kpi.snapshot.SnapshotBuilder`);
* after each recompute: evaluate the alert rules (:func:`conditions`) with hysteresis
  (:func:`ioc.kpi.alerts.evaluate`, at most every ``alert_interval`` seconds), write
  alert episodes to the SQL ``alerts`` table (raised → a row ``active``; cleared → the
  row ``resolved``; severity changes update it; pending alerts are not written), the
  active set to Redis (``LiveStore.set_alerts``) and the snapshot
  (``LiveStore.set_snapshot``, which also publishes the ``ioc:refresh`` hint), then the
  read model's per-panel views (:func:`ioc.views.publish.publish`).

One scheduler at a time: several ``ioc kpi run`` (on several hosts) share a Redis lease
(``ioc:{kpi}:lock``, ``LEASE_TTL``). The holder computes and publishes; the others stand by
and check the lease every second, and one takes over within ``LEASE_TTL`` when the holder
dies. Not idempotent without it: each scheduler keeps its alert hysteresis in memory and
would write its own ``raised`` rows. A standby that takes over reloads the active alerts
from SQL. With Redis unreachable each keeps its role (nothing can be published anyway).

Outages: a Redis or database failure is logged once (and once when it recovers), the loop
retries with a capped backoff and never exits on an error. Without Redis the periodic
recompute still runs (the snapshot cannot be published until Redis is back); without the
database the last good figures are kept and marked stale (snapshot ``error``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.kpi import alerts as al
from ioc.kpi.snapshot import BuilderOptions, SnapshotBuilder, alerts_section, plain
from ioc.views.publish import publish as publish_views

log = logging.getLogger("ioc.kpi.orchestrator")

# Alert rule defaults (ours; docs/kpis.md § Alerts lifecycle)
CAMERAS_ONLINE_RAISE = 90.0  # % online at or below → warning
CAMERAS_ONLINE_CLEAR = 92.0
AQI_RAISE = 151  # "Xấu" and worse
AQI_CLEAR = 141
AQI_CRITICAL = 201  # "Rất xấu" and worse
QD766_ON_TIME_RAISE = 80.0  # indicator 2.1 (this month, province) at or below → warning
QD766_ON_TIME_CLEAR = 85.0

# KPI scheduler lease: renewed every LEASE_RENEW while held; a standby takes over at most this
# long after the holder died. Far above a snapshot build (≈ 0.1–3 s) so a slow one keeps it.
LEASE_TTL = 30.0
LEASE_RENEW = 5.0
STANDBY_CHECK = 1.0


def conditions(snapshot: Mapping, now: datetime) -> list[al.Condition]:
    """Alert conditions from a snapshot. Keys are ``rule:subject``; a subject that no
    longer appears (camera stopped flapping, station back) is cleared by ``absent="clear"``."""
    out: list[al.Condition] = []
    sources = snapshot.get("sources") or {}
    out += al.stale_source_conditions({s: v.get("state") for s, v in sources.items()})

    h = snapshot.get("hotline") or {}
    if h.get("has_data"):
        b = h.get("backlog") or {}
        out.append(al.overdue_surge_condition("hotline", b.get("open_overdue"), b.get("overdue_baseline_7d")))

    c = snapshot.get("cameras") or {}
    if c.get("has_data"):
        pct = c.get("online_pct")
        out.append(al.threshold_condition(
            "cameras_online:province", "cameras_online", pct, CAMERAS_ONLINE_RAISE, CAMERAS_ONLINE_CLEAR, above=False,
            message=None if pct is None else f"cameras online {pct:.1f}% (≤ {CAMERAS_ONLINE_RAISE:g}%)",
            details={"online": c.get("online"), "total": c.get("total")}))
        for f in c.get("flapping") or []:
            out.append(al.flag_condition(f"camera_flapping:{f['camera_id']}", "camera_flapping", True, severity="info",
                                         value=f.get("changes"),
                                         message=f"camera {f.get('name') or f['camera_id']} flapping: "
                                                 f"{f.get('changes')} changes in the last hour",
                                         details={"commune_code": f.get("commune_code"), "name": f.get("name")}))

    e = snapshot.get("environment") or {}
    if e.get("has_data"):
        for a in e.get("air") or []:
            v = a.get("aqi")
            sev = "critical" if v is not None and v >= AQI_CRITICAL else "warning"
            name = a.get("name") or a["station_id"]
            out.append(al.threshold_condition(
                f"aqi:{a['station_id']}", "aqi", v, AQI_RAISE, AQI_CLEAR, severity=sev,
                message=None if v is None else f"VN_AQI {v} at {name} ({(a.get('category') or {}).get('name_vi')})",
                details={"dominant": a.get("dominant"), "hour": a.get("hour"), "name": a.get("name"),
                         "category": (a.get("category") or {}).get("key")}))
        for rule, rows in (("salinity", e.get("salinity")), ("water_level", e.get("water_level")),
                           ("insects", e.get("insects"))):
            for r in rows or []:
                key = f"{rule}:{r['station_id']}"
                if r.get("stale") or r.get("no_levels") or r.get("value") is None:
                    out.append(al.Condition(key, rule, "warning", None, f"{key}: no current value", None, None))
                    continue
                name = r.get("station_name") or r["station_id"]
                out.append(al.flag_condition(
                    key, rule, r.get("level") is not None, severity=r.get("severity") or "warning", value=r["value"],
                    message=f"{rule} {r['value']:g} at {name}" + (f" ≥ {r['threshold']:g} ({r['level']})"
                                                                  if r.get("level") else ""),
                    details={"level": r.get("level"), "threshold": r.get("threshold"), "at": r.get("at"),
                             "name": r.get("station_name")}))
        for o in e.get("offline") or []:
            out.append(al.flag_condition(f"station_offline:{o['station_id']}", "station_offline", True, severity="info",
                                         value=o.get("hours_since"),
                                         message=f"station {o.get('name') or o['station_id']} silent"
                                                 + (f" for {o['hours_since']:.1f} h" if o.get("hours_since") else
                                                    " (never reported)"),
                                         details={"last_at": o.get("last_at"), "kind": o.get("kind"), "name": o.get("name")}))

    p = snapshot.get("procedures") or {}
    if p.get("has_data"):
        v = (((p.get("this_month") or {}).get("province") or {}).get("indicators") or {}).get("2.1", {}).get("value")
        out.append(al.threshold_condition(
            "qd766_on_time:province", "qd766_on_time", v, QD766_ON_TIME_RAISE, QD766_ON_TIME_CLEAR, above=False,
            message=None if v is None else f"QĐ 766 indicator 2.1 this month: {v:.1f}% on time"))

    out += briefing_conditions(snapshot)
    return out


def briefing_conditions(snapshot: Mapping) -> list[al.Condition]:
    """A briefing that failed its checks or its build, or is overdue without any attempt
    recorded (and was not made since), raises ``briefing:{kind}:{day}`` at once; a later run of
    it that passes clears it at once (no hysteresis: an attempt is an event, not a reading). Unknown (the database down, or an
    old failure outside the raise window): held as it is."""
    b = snapshot.get("briefings") or {}
    out = []
    held = {a.get("key") for a in (snapshot.get("alerts") or {}).get("active") or []
            if (a.get("rule") or "") == "briefing"}
    for item in b.get("items") or []:
        key = f"briefing:{item['kind']}:{item['last_day']}"
        held.discard(key)
        details = {"kind": item["kind"], "last_day": item["last_day"]}
        if item["status"] == "passed":
            out.append(al.Condition(key, "briefing", "warning", None, f"{key}: made again and passed", False, True,
                                    details, raise_after=1, clear_after=1))
            continue
        details |= {"reason": item.get("reason"), "failed_checks": item.get("failed_checks") or [],
                    "error": item.get("error")}
        if item["status"] == "overdue":  # no attempt recorded (snapshot_briefings.OVERDUE_AFTER)
            message = f"{item['kind']} briefing of {item['last_day']} is overdue: due {item.get('due')}, no attempt recorded"
        else:
            message = f"{item['kind']} briefing of {item['last_day']} failed: {item.get('error') or item.get('reason')}"
        raising = True if item.get("recent") else None
        out.append(al.Condition(key, "briefing", "warning", float(item["attempts"]), message, raising,
                                False if raising else None, details, raise_after=1, clear_after=1))
    for key in held:  # active, but not listed (unknown now): hold it
        out.append(al.Condition(key, "briefing", "warning", None, f"{key}: unknown", None, None))
    return out


# --- persistence of alert episodes --------------------------------------------------------------------


def load_active(engine, raise_after: int = 2) -> dict[str, al.AlertState]:
    """Active alerts from SQL (after a restart the hysteresis starts from them)."""
    out: dict[str, al.AlertState] = {}
    with Session(engine) as s:
        rows = s.scalars(select(m.Alert).where(m.Alert.state == "active").order_by(m.Alert.id)).all()
    for r in rows:
        out[r.key] = al.AlertState(r.key, r.rule, r.severity if r.severity in al.SEVERITIES else "warning", "active",
                                   None, r.message, hits=raise_after, misses=0, first_at=r.first_at,
                                   last_at=r.last_at, acked_by=r.acked_by, acked_at=r.acked_at,
                                   details=dict(r.details or {}))
    return out


def persist_events(engine, events: list[al.AlertEvent], now: datetime) -> None:
    """raised → insert an ``active`` row; cleared → resolve it; escalated/deescalated → update."""
    if not events:
        return
    with Session(engine) as s, s.begin():
        for ev in events:
            st = ev.state
            if ev.kind == "raised":
                s.add(m.Alert(key=st.key, rule=st.rule, severity=st.severity, state="active", message=st.message,
                              details=plain(dict(st.details) | {"value": st.value}), first_at=st.first_at or now,
                              last_at=now))
            elif ev.kind == "cleared":
                s.execute(update(m.Alert).where(m.Alert.key == st.key, m.Alert.state == "active")
                          .values(state="resolved", resolved_at=st.resolved_at or now, last_at=now, message=st.message))
            else:  # escalated / deescalated
                s.execute(update(m.Alert).where(m.Alert.key == st.key, m.Alert.state == "active")
                          .values(severity=st.severity, message=st.message, last_at=now))


def acks_from_sql(engine) -> dict[str, tuple[str, datetime]]:
    with Session(engine) as s:
        rows = s.execute(select(m.Alert.key, m.Alert.acked_by, m.Alert.acked_at)
                         .where(m.Alert.state == "active", m.Alert.acked_by.is_not(None))).all()
    return {k: (by, at) for k, by, at in rows}


def alert_record(st: al.AlertState) -> dict:
    return plain(st.to_dict())


# --- the loop -----------------------------------------------------------------------------------------


class _Once:
    """Log a failure once per kind, and its recovery once."""

    def __init__(self) -> None:
        self.failing: dict[str, str] = {}

    def fail(self, kind: str, err: BaseException) -> None:
        msg = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
        if kind not in self.failing:
            log.warning("%s unavailable: %s (retrying)", kind, msg)
        self.failing[kind] = msg

    def ok(self, kind: str) -> None:
        if self.failing.pop(kind, None) is not None:
            log.warning("%s recovered", kind)


class Orchestrator:
    def __init__(self, engine, store, settings=None, *, poll: float = 0.2, quiet: float = 0.3, max_delay: float = 5.0,
                 periodic: float = 60.0, period_refresh: float = 600.0, rollup_refresh: float = 60.0,
                 alert_interval: float = 15.0,
                 raise_after: int = 2, clear_after: int = 2, options: BuilderOptions | None = None,
                 clock: Callable[[], datetime] | None = None, metrics=None) -> None:
        self.engine = engine
        self.metrics = metrics  # an ioc.kpi.metrics.KpiMetrics when the process serves /metrics
        self.store = store
        self.poll, self.quiet, self.max_delay, self.periodic = poll, quiet, max_delay, periodic
        self.alert_interval = alert_interval
        self.period_refresh = period_refresh
        self.rollup_refresh = rollup_refresh
        self.settings = settings
        self.raise_after, self.clear_after = raise_after, clear_after
        opts = options or BuilderOptions(max_age=periodic)
        self.builder = SnapshotBuilder(engine, settings, store, options=opts)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.states: dict[str, al.AlertState] | None = None
        self._pending_events: list[tuple[al.AlertEvent, datetime]] = []
        self._seen_version: int | None = None
        self._first_change: float | None = None
        self._last_change: float | None = None
        self._last_build: float | None = None
        self._last_alerts: float | None = None
        self._retry_at = 0.0
        self._failures = 0
        self.once = _Once()
        self.builds = 0
        self.last_snapshot: dict | None = None
        self.leading = False
        self._lease_renewed = 0.0

    # -- one loop step (tests drive it directly) ------------------------------------------------------

    def step(self, mono: float | None = None) -> bool:
        """Poll once; recompute if due. Returns True when a snapshot was built."""
        mono = time.monotonic() if mono is None else mono
        version = None
        try:
            version = self.store.version() if self.store is not None else None
            self.once.ok("redis")
        except Exception as err:
            self.once.fail("redis", err)
        if version is not None and version != self._seen_version:
            if self._seen_version is not None or self._last_build is not None:
                self._first_change = self._first_change if self._first_change is not None else mono
                self._last_change = mono
            self._seen_version = version
        if mono < self._retry_at:
            return False
        force = self._last_build is None or mono - self._last_build >= self.periodic
        changed = self._first_change is not None and (
            mono - (self._last_change or mono) >= self.quiet or mono - self._first_change >= self.max_delay)
        if not (force or changed):
            return False
        ok = self.recompute(force=force, mono=mono)
        if ok:
            self._failures = 0
            self._retry_at = 0.0
        else:
            self._failures += 1
            self._retry_at = mono + min(2.0 ** self._failures, 30.0)
        # a failed build still counts for the periodic clock: retries follow the backoff
        self._last_build = mono
        self._first_change = self._last_change = None
        return ok

    def recompute(self, *, force: bool = False, mono: float | None = None) -> bool:
        t0 = time.perf_counter()
        ok = self._recompute(force=force, mono=mono)
        if self.metrics is not None:
            self.metrics.build_done(ok, time.perf_counter() - t0)
        return ok

    def _recompute(self, *, force: bool, mono: float | None) -> bool:
        mono = time.monotonic() if mono is None else mono
        now = self.clock()
        try:
            snap = self.builder.build(now, force=force)
        except Exception as err:  # should not happen (parts catch their errors), but never die
            self.once.fail("snapshot", err)
            log.debug("snapshot failed", exc_info=True)
            return False
        if self.builder.last_errors:
            errors = "; ".join(f"{d}: {e}" for d, e in self.builder.last_errors.items())
            self.once.fail("database", RuntimeError(errors))
        else:
            self.once.ok("database")
        self.builds += 1
        # alerts: evaluated at most every alert_interval seconds (hysteresis counts evaluations)
        if self._last_alerts is None or mono - self._last_alerts >= self.alert_interval or force:
            self._evaluate_alerts(snap, now)
            self._last_alerts = mono
        active = {k: alert_record(s) for k, s in (self.states or {}).items() if s.state == "active"}
        snap["alerts"] = alerts_section(active)
        self.last_snapshot = snap
        if self.store is None:
            return not self.builder.last_errors
        try:
            self.store.set_alerts(active)
            self.store.set_snapshot(snap, snap["data_version"] if snap["data_version"] is not None else 0)
            publish_views(self.store, snap, now)
            self.once.ok("redis")
        except Exception as err:
            self.once.fail("redis", err)
            return False
        return not self.builder.last_errors

    def _evaluate_alerts(self, snap: Mapping, now: datetime) -> None:
        if self.states is None:
            try:
                self.states = load_active(self.engine, self.raise_after)
            except Exception as err:
                self.once.fail("database", err)
                self.states = {}
        # acknowledgements made by `ioc kpi ack` (SQL is their durable record)
        try:
            for key, (by, at) in acks_from_sql(self.engine).items():
                st = self.states.get(key)
                if st is not None and st.state == "active" and not st.acked_by:
                    self.states = al.acknowledge(self.states, key, by, at)
        except Exception as err:
            self.once.fail("database", err)
        if not snap.get("redis_ok"):
            # without Redis the source states are unknown, not stale: do not count this round
            return
        conds = conditions(snap, now)
        self.states, events = al.evaluate(self.states, conds, now, raise_after=self.raise_after,
                                          clear_after=self.clear_after, absent="clear")
        self._pending_events += [(ev, now) for ev in events]
        if self._pending_events:
            try:
                for ev, at in list(self._pending_events):
                    persist_events(self.engine, [ev], at)
                    self._pending_events.pop(0)
            except Exception as err:
                self.once.fail("database", err)

    # -- forever ---------------------------------------------------------------------------------------

    def warm_periods(self, now: datetime | None = None) -> dict[str, float]:
        """Recompute the closed windows of today's day, week and month queries (and of their
        previous periods) into the shared Redis cache, so a page's period query reads them
        instead of scanning a month of history. Returns milliseconds per period."""
        from ioc.kpi.periods import period_figures

        tz = getattr(self.settings, "tz", None) or "Asia/Ho_Chi_Minh"
        took = {}
        for period in ("day", "week", "month"):
            t0 = time.perf_counter()
            try:
                period_figures(self.engine, period, tz=tz, now=now, store=self.store, refresh=True)
                self.once.ok("periods")
            except Exception as err:  # a failed warm-up only means pages compute it themselves
                self.once.fail("periods", err)
            took[period] = round((time.perf_counter() - t0) * 1000, 1)
        return took

    def refresh_rollups(self, now: datetime | None = None, stop: threading.Event | None = None) -> dict:
        """Rebuild the daily rollups of days the connectors touched, and build missing ones
        (the first run after an install builds the whole history: seconds per month)."""
        from ioc.kpi import rollups

        tz = getattr(self.settings, "tz", None) or "Asia/Ho_Chi_Minh"
        try:
            res = rollups.refresh(self.engine, tz, now, stop=stop)
            self.once.ok("rollups")
            return res
        except Exception as err:  # a missing part only means a query reads the raw history
            self.once.fail("rollups", err)
            return {}

    def _warm_loop(self, stop: threading.Event) -> None:
        next_warm = 0.0
        while not stop.is_set():
            if not self.leading:  # the lease holder's job
                next_warm = 0.0
                stop.wait(STANDBY_CHECK)
                continue
            if self.rollup_refresh > 0:
                self.refresh_rollups(stop=stop)
            if time.monotonic() >= next_warm and self.store is not None and self.period_refresh > 0:
                self.warm_periods()
                next_warm = time.monotonic() + self.period_refresh
            stop.wait(min(x for x in (self.rollup_refresh, self.period_refresh) if x > 0))

    def hold_lease(self, holder: str, mono: float | None = None) -> bool:
        """Take or renew the scheduler lease (renewed every LEASE_RENEW while held); returns
        whether this scheduler leads. Redis unreachable: the role stays as it was."""
        mono = time.monotonic() if mono is None else mono
        if self.store is None:
            self.leading = True
            return True
        if self.leading and mono - self._lease_renewed < LEASE_RENEW:
            return True
        try:
            have = self.store.acquire_lease("kpi", holder, int(LEASE_TTL * 1000))
        except Exception as err:
            self.once.fail("redis", err)
            return self.leading
        if have:
            self._lease_renewed = mono
        if have and not self.leading:
            log.info("KPI scheduler %s leads (lease %s)", holder, self.store.lease_key("kpi"))
            # start from SQL's active alerts and build at once, whatever an earlier turn left
            self.states, self._pending_events = None, []
            self._seen_version = self._first_change = self._last_change = self._last_build = None
            self._retry_at, self._failures = 0.0, 0
        elif self.leading and not have:
            log.warning("KPI scheduler %s lost the lease to %s; standing by", holder,
                        self.store.lease_holder("kpi"))
        self.leading = have
        return have

    def run(self, stop: threading.Event) -> None:
        from ioc.live_store import new_holder_id

        holder = new_holder_id()
        log.info("KPI scheduler running (poll %.1f s, quiet %.1f s, max delay %.1f s, every %.0f s)",
                 self.poll, self.quiet, self.max_delay, self.periodic)
        if self.rollup_refresh > 0 or (self.store is not None and self.period_refresh > 0):
            # its own thread: a month of history takes seconds, the snapshot must not wait for it
            threading.Thread(target=self._warm_loop, args=(stop,), name="kpi-periods", daemon=True).start()
        try:
            while not stop.is_set():
                try:
                    if self.hold_lease(holder):
                        self.step()
                except Exception as err:  # never exit on an error
                    self.once.fail("scheduler", err)
                    log.debug("scheduler step failed", exc_info=True)
                stop.wait(self.poll if self.leading else STANDBY_CHECK)
        finally:
            if self.leading and self.store is not None:
                try:
                    self.store.release_lease("kpi", holder)  # a standby takes over at once
                except Exception:
                    pass
        log.info("KPI scheduler stopped")


def run(stop_event: threading.Event, settings=None, **kwargs) -> None:
    """Run the scheduler until ``stop_event`` is set (what `ioc kpi run` calls)."""
    from ioc.db.session import make_engine
    from ioc.live_store import LiveStore
    from ioc.settings import load_settings

    from ioc import metrics_server
    from ioc.kpi.metrics import KpiMetrics

    settings = settings or load_settings()
    engine = kwargs.pop("engine", None) or make_engine(settings.effective_database_url)
    store = kwargs.pop("store", None) or LiveStore.for_settings(settings, socket_timeout=5, socket_connect_timeout=2)
    registry = metrics_server.new_registry()
    kwargs.setdefault("metrics", KpiMetrics(registry))
    http = metrics_server.serve("kpi", settings, registry)  # IOC_KPI_METRICS_PORT
    try:
        Orchestrator(engine, store, settings, **kwargs).run(stop_event)
    finally:
        if http is not None:
            http.shutdown()


class AckError(ValueError):
    """No active alert with that key (one clear line for the CLI)."""


def stored_alerts(store) -> dict | None:
    """The active alerts as published in Redis, or None (no store, or Redis unreachable)."""
    if store is None:
        return None
    try:
        return store.alerts()
    except Exception:
        return None


def ack_alert(engine, store, key: str, by: str, now: datetime | None = None) -> dict:
    """Acknowledge an active alert: the SQL row (``acked_by``, ``acked_at``) and an
    ``audit_log`` entry in one transaction, then the Redis record (when Redis is up; the
    scheduler also re-applies SQL acknowledgements on its next evaluation)."""
    now = now or datetime.now(timezone.utc)
    by = (by or "").strip()
    if not by:
        raise AckError("say who acknowledges: --by NAME")
    live = stored_alerts(store)
    with Session(engine) as s, s.begin():
        row = s.scalars(select(m.Alert).where(m.Alert.key == key, m.Alert.state == "active")
                        .order_by(m.Alert.id.desc())).first()
        if row is None:
            raise AckError(f"no active alert with key {key!r} (see `ioc kpi alerts`)")
        if row.acked_by:
            raise AckError(f"alert {key!r} was already acknowledged by {row.acked_by} at {row.acked_at.isoformat()}")
        row.acked_by, row.acked_at = by[:100], now
        s.add(m.AuditLog(at=now, actor=by[:100], action="alert.ack", target=key[:300],
                         details={"alert_id": row.id, "severity": row.severity, "message": row.message}))
        result = {"key": key, "acked_by": row.acked_by, "acked_at": now.isoformat(), "severity": row.severity,
                  "message": row.message}
    if live is not None and key in live:
        try:
            rec = dict(live[key]) | {"acked_by": result["acked_by"], "acked_at": result["acked_at"]}
            store.r.hset(store.key("alerts"), key, orjson.dumps(rec))
        except Exception:
            pass  # the scheduler applies the SQL acknowledgement on its next round
    return result


__all__ = ["AckError", "Orchestrator", "ack_alert", "acks_from_sql", "conditions", "load_active", "persist_events",
           "run"]
