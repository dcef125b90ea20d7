"""The base poller every source connector builds on (after Home Assistant's
DataUpdateCoordinator): runs never overlap, the next one is scheduled when the last ends,
with jitter; failures keep the last good data, back off exponentially, and are logged once
on the change and once on recovery; health is what the dashboard's freshness badges read.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from connectors import quarantine
from connectors.http import JsonClient, UpstreamError, backoff_delay
from connectors.quarantine import Quarantined
from connectors.writer import Counts, Written, load_cursor, save_cursor
from ioc.db import models as m
from ioc.live_store import Change, LiveStore
from ioc.records import Record
from ioc.settings import Settings
from ioc.source_health import derive_state

log = logging.getLogger("ioc.connectors")

@dataclass
class Batch:
    """One committed unit: records by kind, quarantined ones, and the cursor after it."""

    records: dict[str, list[Record]] = field(default_factory=dict)
    quarantined: list[Quarantined] = field(default_factory=list)
    cursor: str | None = None
    newest_upstream: datetime | None = None
    fetched: int = 0  # main records read from upstream, quarantined ones included
    authoritative: bool = False  # read by a reconciliation: the upstream's copy wins even if not newer


@dataclass
class RunResult:
    source: str
    ok: bool = True
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0  # distinct records quarantined by this poll
    error: str | None = None
    redis_ok: bool = True
    retry_after: float | None = None

    def summary(self) -> dict:
        return {"source": self.source, "fetched": self.fetched, "new": self.new, "updated": self.updated,
                "unchanged": self.unchanged, "quarantined": self.quarantined}


def reason_of(err: Exception) -> tuple[str, str]:
    """(reason_code, readable reason) of a parse/validation failure."""
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        msg = first["msg"]
        if "future" in msg:
            code = "future_timestamp"
        elif first["type"] == "missing" or (first["type"].endswith("too_short") and "id" in where):
            code = f"missing_{where}"
        else:
            code = f"invalid_{where}"
        return code[:64], f"{where}: {msg}"[:500]
    if isinstance(err, QuarantineError):
        return err.code, err.reason
    return "unparseable", f"{type(err).__name__}: {err}"[:500]


class QuarantineError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parser(fn):
    """Make a parse function raise only the documented errors: QuarantineError (with a reason
    code) or pydantic's ValidationError. Anything else a hostile payload provokes (TypeError,
    AttributeError, OverflowError, ValueError from a date …) becomes QuarantineError("unparseable")."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (QuarantineError, ValidationError):
            raise
        except Exception as err:
            raise QuarantineError("unparseable", f"{type(err).__name__}: {err}"[:500]) from err

    return wrapper


class Connector:
    """Subclasses set the class attributes and implement fetch, write and live_changes."""

    source: ClassVar[str]
    main_kind: ClassVar[str]  # the records counted in the JSON summary
    interval_setting: ClassVar[str]
    url_setting: ClassVar[str]
    # Reconciliation: every `reconcile_every` seconds (IOC_RECONCILE_INTERVAL) run_forever re-reads the last
    # `reconcile_window` (None: everything) with poll_once(since=…), writing authoritatively,
    # so records quarantined from a broken copy, skipped by shifting pages or written under a
    # skewed upstream clock are repaired once the upstream is healthy again.
    reconcile_every: ClassVar[float] = 3600.0
    reconcile_window: ClassVar[timedelta | None] = timedelta(days=1)

    def __init__(self, settings: Settings, engine: Engine, store: LiveStore | None, *,
                 client: JsonClient | None = None, locator=None) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.client = client or self.make_client()
        self.locator = locator
        self.interval = float(getattr(settings, self.interval_setting))
        self.reconcile_every = float(getattr(settings, "reconcile_interval", type(self).reconcile_every))
        self._failures = 0
        self._redis_down = False
        # Redis `latest` is whole only while every mirror write landed on the same server: a
        # failed write (Redis down) or a new run id (a restart, which loses up to the AOF's last
        # second) leaves a gap that the next poll's end fills from SQL (_heal_live_state).
        self._live_gap = False
        self._redis_run_id: str | None = None
        self._last_success: datetime | None = None
        self._was_failing = False
        self.metrics = None  # a connectors.metrics.ConnectorMetrics when the process serves /metrics

    # --- per source ------------------------------------------------------------------

    def make_client(self) -> JsonClient:
        url = getattr(self.settings, self.url_setting)
        if not url:
            from ioc.errors import UserError

            raise UserError(f"IOC_{self.url_setting.upper()} is not set: the {self.source} source has no upstream")
        return JsonClient(url, **self.client_options())

    def client_options(self) -> dict:
        return {}

    def fetch(self, cursor: str | None, *, since: datetime | None = None) -> Iterator[Batch]:
        raise NotImplementedError

    def write(self, session: Session, batch: Batch) -> dict[str, Written]:
        raise NotImplementedError

    def live_changes(self, written: dict[str, Written]) -> list[Change]:
        raise NotImplementedError

    # A source whose records a reconciliation may change implements both (see confirm_changes).
    def differing(self, session: Session, records: list) -> list:
        """The main records whose stored row differs from them (writer.differing)."""
        raise NotImplementedError

    def read_one(self, record):
        """The upstream's copy of ``record`` read by itself, parsed (raises when it cannot)."""
        raise NotImplementedError

    def confirm_changes(self, batch: Batch) -> None:
        """A reconciliation's copy replaces a stored record only when a second read of that
        record by itself returns the same copy; otherwise the stored one stays and a warning
        is logged. A reconciliation writes authoritatively, so one damaged response (a clock
        skewed by 30 minutes) would overwrite a good row — and in the oldest stretch of its
        window, which no later reconciliation reads, nothing would mend it (fault drill 3,
        docs/operations-drills.md). Costs one request per record a reconciliation would
        change: none while polls keep SQL current."""
        recs = batch.records.get(self.main_kind)
        if not batch.authoritative or not recs or type(self).read_one is Connector.read_one:
            return
        with Session(self.engine) as s:
            changing = self.differing(s, recs)
        refused: set[int] = set()
        for rec in changing:
            try:
                again = self.read_one(rec)
            except Exception as err:  # an upstream or parse failure confirms nothing
                log.info("%s: second read failed: %s", self.source, err)
                again = None
            if again != rec:
                refused.add(id(rec))
        if refused:
            log.warning("%s: a reconciliation read %d changed record(s) that a second read did not confirm; "
                        "the stored copies stay", self.source, len(refused))
            batch.records[self.main_kind] = [r for r in recs if id(r) not in refused]

    # --- one poll --------------------------------------------------------------------

    def poll_once(self, *, since: datetime | None = None, progress=None, lease_holder: str | None = None) -> RunResult:
        result = RunResult(self.source)
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        newest: datetime | None = None
        quarantined: set[str] = set()  # keys of the records this poll quarantined
        by_reason: dict[str, set[str]] = {}  # the same keys by reason code, for the metrics
        try:
            with Session(self.engine) as s:
                cursor = load_cursor(s, self.source)
            for batch in self.fetch(cursor, since=since):
                batch.authoritative = since is not None
                self.confirm_changes(batch)
                written = self._commit(batch, quarantined)
                if self.metrics is not None:
                    for q in batch.quarantined:
                        by_reason.setdefault(q.reason_code, set()).add(quarantine.record_key(q))
                main = written.get(self.main_kind, Written()).counts
                result.fetched += batch.fetched
                result.new += main.new
                result.updated += main.updated
                result.unchanged += main.unchanged
                result.quarantined = len(quarantined)
                if batch.newest_upstream and (newest is None or batch.newest_upstream > newest):
                    newest = batch.newest_upstream
                result.redis_ok &= self._mirror(written, batch)
                if progress:
                    progress(batch)
                if lease_holder and self.store:
                    self._safe_redis(lambda: self.store.acquire_lease(self.source, lease_holder, self.lease_ttl_ms))
        except UpstreamError as err:
            result.ok, result.error, result.retry_after = False, str(err), err.retry_after
        except Exception as err:  # a bug or a database failure: report, never crash the process
            log.exception("%s: poll failed", self.source)
            result.ok, result.error = False, f"{type(err).__name__}: {err}"[:500]
        self._record_run(result, started, newest)
        if self.metrics is not None:
            self.metrics.poll_done(self.source, result, time.perf_counter() - t0,
                                   {r: len(keys) for r, keys in by_reason.items()}, newest)
        return result

    def reconcile_since(self, now: datetime | None = None) -> datetime:
        now = now or datetime.now(timezone.utc)
        if self.reconcile_window is None:
            return datetime(1970, 1, 1, tzinfo=timezone.utc)
        return now - self.reconcile_window

    @property
    def lease_ttl_ms(self) -> int:
        """1.5 intervals: a holder that dies is replaced within two intervals. The lease is
        renewed every third of it while held (during polls and between them)."""
        return int(max(0.3, 1.5 * self.interval) * 1000)

    def _commit(self, batch: Batch, quarantined: set[str]) -> dict[str, Written]:
        now = datetime.now(timezone.utc)
        with Session(self.engine) as s, s.begin():
            written = self.write(s, batch)
            quarantine.store(s, self.source, batch.quarantined, now, quarantined)
            if batch.cursor is not None:
                save_cursor(s, self.source, batch.cursor)  # same transaction: never ahead of the data
        return written

    def _mirror(self, written: dict[str, Written], batch: Batch) -> bool:
        if self.store is None:
            return False

        def do():
            before = self.store.written_versions.get(self.source)
            wrote = self.store.apply_changes(self.source, self.live_changes(written))
            after = self.store.written_versions.get(self.source)
            if wrote and before is not None and after is not None and after <= before and not self._redis_down:
                # our last writes are gone: a Sentinel failover to a replica that had not got them
                log.warning("%s: the live store lost recent writes (Redis failover?); refilling it from SQL",
                            self.source)
                self.resync_live()
            if batch.cursor is not None:
                self.store.set_cursor(self.source, batch.cursor)

        return self._safe_redis(do)

    def resync_live(self) -> int:
        """Replace this source's live state in Redis by what SQL holds (``ioc store rebuild``
        for one source); returns the number of live records."""
        import importlib

        module = importlib.import_module(f"connectors.{self.source}")
        with Session(self.engine) as s:
            records = module.live_from_sql(s)
            cursor = load_cursor(s, self.source)
        self.store.replace_latest(self.source, records)
        if cursor:
            self.store.set_cursor(self.source, cursor)
        return len(records)

    def _safe_redis(self, fn) -> bool:
        try:
            fn()
        except Exception as err:  # Redis down: SQL has the data; the live state is refilled from it
            if not self._redis_down:  # one line when Redis goes away, one when it is back
                log.warning("%s: Redis write failed (%s); history is in SQL", self.source, err)
            self._redis_down = True
            self._live_gap = True
            return False
        if self._redis_down:
            log.warning("%s: Redis writes work again (the live state is refilled from SQL at the end of this poll)",
                        self.source)
        self._redis_down = False
        return True

    def _heal_live_state(self) -> None:
        """Refill this source's Redis `latest` (and cursor mirror) from SQL when it may miss
        writes: after failed writes (Redis was down), under a new run id (a restart, which loses
        up to the AOF's last second, or a failover to another server) or when Redis's version of
        the source is below our own last write (a failover to a replica that had not got them).
        Called with Redis reachable, at a poll's end."""
        run_id = self.store.run_id()
        restarted = self._redis_run_id is not None and run_id != self._redis_run_id
        lost = self.store.lost_writes(self.source)
        if self._live_gap or restarted or lost:
            n = self.resync_live()
            why = "failed Redis writes" if self._live_gap else "a Redis restart or failover" if restarted else \
                "lost writes (Redis failover?)"
            log.warning("%s: live state rebuilt from SQL (%d records) after %s", self.source, n, why)
        self._live_gap = False
        self._redis_run_id = run_id

    def _record_run(self, result: RunResult, started: datetime, newest: datetime | None) -> None:
        now = datetime.now(timezone.utc)
        if result.ok:
            self._failures = 0
            self._last_success = now
            if self._was_failing:
                log.warning("%s: recovered", self.source)
            self._was_failing = False
        else:
            self._failures += 1
            if not self._was_failing:
                log.warning("%s: failing: %s", self.source, result.error)
            self._was_failing = True
        held: dict[str, int] | None = None
        try:
            with Session(self.engine) as s, s.begin():
                held = quarantine.counts(s, self.source)
                s.add(m.SourceRun(source=self.source, started_at=started, finished_at=now, ok=result.ok,
                                  fetched=result.fetched, new=result.new, updated=result.updated,
                                  unchanged=result.unchanged, quarantined=result.quarantined, error=result.error))
        except Exception as err:
            log.warning("%s: could not record the run in SQL: %s", self.source, err)
        if self.store is None:
            return
        health = {
            "last_attempt": now.isoformat(),
            "consecutive_failures": self._failures,
            "records_last_run": result.fetched,
            "interval_seconds": self.interval,
            "last_error": result.error or "",
            "redis_ok": int(result.redis_ok),
        }
        if result.ok:
            health["last_success"] = now.isoformat()
        if newest:
            health["newest_upstream"] = newest.isoformat()
            health["lag_seconds"] = round((now - newest).total_seconds(), 1)

        def do():
            self._heal_live_state()
            current = self.store.health(self.source) | {k: str(v) for k, v in health.items()}
            current["state"] = derive_state(current, now)
            self.store.set_health(self.source, current)
            if held is not None:  # Redis counts what SQL holds (it heals after a Redis restart)
                shown = {k.split(":", 1)[1]: n for k, n in self.store.quarantine_counts().items()
                         if k.startswith(f"{self.source}:")}
                self.store.count_quarantined({(self.source, r): held.get(r, 0) - shown.get(r, 0)
                                              for r in set(held) | set(shown) if held.get(r, 0) != shown.get(r, 0)})

        self._safe_redis(do)

    # --- forever ---------------------------------------------------------------------

    def next_delay(self, result: RunResult) -> float:
        jitter = random.uniform(0.9, 1.1)
        if result.ok:
            return self.interval * jitter
        cap = max(self.interval, 300.0)
        delay = max(backoff_delay(self._failures, self.interval, cap, result.retry_after), self.interval / 4) * jitter
        return max(delay, min(result.retry_after or 0.0, cap))  # jitter never brings it under Retry-After

    def run_forever(self, stop: threading.Event, holder: str) -> None:
        """Poll while holding the source's lease; stand by while another host holds it.

        While held, a keeper thread renews the lease every third of its TTL, so a long poll
        or a long back-off never lets it lapse, and a holder that dies (no renewals) is
        replaced by a standby within 1.5 intervals + a quarter interval. Every
        `reconcile_every` seconds the poll is a reconciliation (`poll_once(since=…)`)."""
        keeper: _LeaseKeeper | None = None
        resync_at: float | None = None
        next_reconcile = time.monotonic() + self.reconcile_every
        try:
            while not stop.is_set():
                if self.store is not None:
                    try:
                        have = self.store.acquire_lease(self.source, holder, self.lease_ttl_ms)
                    except Exception:
                        have = True  # Redis down: keep the history flowing into SQL
                    if self.metrics is not None:
                        self.metrics.lease(self.source, have)
                    if not have:
                        if keeper is not None:
                            keeper.stop()
                            keeper = None
                        stop.wait(self.interval / 4)
                        continue
                    if keeper is None or not keeper.alive:
                        keeper = _LeaseKeeper(self, holder)
                        # taking the source over: the last holder's final writes may be gone
                        # (it died, or a failover dropped them), so start from what SQL holds —
                        # and once more a lease TTL later, when a former holder that had not yet
                        # seen it lost the lease has finished the poll it was in
                        self._safe_redis(self.resync_live)
                        resync_at = time.monotonic() + self.lease_ttl_ms / 1000
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + self.reconcile_every
                    result = self.poll_once(since=self.reconcile_since(), lease_holder=holder)
                else:
                    result = self.poll_once(lease_holder=holder)
                if resync_at is not None and time.monotonic() >= resync_at:
                    resync_at = None
                    self._safe_redis(self.resync_live)
                stop.wait(self.next_delay(result))
        finally:
            if keeper is not None:
                keeper.stop()
            if self.metrics is not None:
                self.metrics.lease(self.source, False)
            if self.store is not None:
                self._safe_redis(lambda: self.store.release_lease(self.source, holder))


class _LeaseKeeper:
    """Renews a held lease every third of its TTL until stopped (daemon thread)."""

    def __init__(self, conn: Connector, holder: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(conn, holder), daemon=True,
                                        name=f"lease:{conn.source}")
        self._thread.start()

    def _run(self, conn: Connector, holder: str) -> None:
        every = conn.lease_ttl_ms / 3000
        while not self._stop.wait(every):
            try:
                if not conn.store.acquire_lease(conn.source, holder, conn.lease_ttl_ms):
                    log.warning("%s: lease lost to another holder", conn.source)
                    if conn.metrics is not None:
                        conn.metrics.lease(conn.source, False)
                    return
            except Exception:
                pass  # Redis down: the main loop carries on without it

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()


def parse_time(value) -> datetime | None:
    """ISO-8601 → aware datetime; None for empty; ValueError for garbage."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def time_cursor(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


__all__ = ["Batch", "Connector", "Counts", "Quarantined", "QuarantineError", "RunResult", "parse_time",
           "parser", "time_cursor"]
