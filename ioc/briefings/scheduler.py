"""The briefing scheduler (`ioc briefing schedule`, a Procfile process): cron-like in the
product's time zone (Asia/Ho_Chi_Minh).

* **Slots.** The daily briefing of day D−1 is due at 07:00 on day D; the weekly briefing of the
  7 days ending on Sunday is due on Monday at 07:30 (both configurable: ``--daily HH:MM``,
  ``--weekly DOW@HH:MM``, ``off`` to disable).
* **Caught up once.** Each tick looks at the slots due today and on the ``catch_up_days`` days
  before (so a
  scheduler that was down at 07:00 makes the briefing when it comes back) and makes those
  without a ``done`` record in SQL. The SQL record is the truth, so a restarted or second
  scheduler never makes a briefing again.
* **One run across replicas.** A slot is made only by the holder of its Redis lock
  (``SET NX`` with a TTL longer than a build); the holder re-reads SQL after taking the lock,
  so two schedulers ticking at once make it once.
* **Retries with backoff.** A failed attempt (its record says why) is retried after 2, 4, 8,
  16 … minutes (capped at an hour), at most ``MAX_ATTEMPTS`` times per slot; the attempts are
  counted in SQL, so every replica sees the same count. An attempt refused before it reached
  the database (no font, an unwritable folder, the database down) is not in SQL: it backs off
  the same way, counted in this process.
* **First data first.** Until every configured source has had a successful poll (a fresh
  start: the connectors' first poll is still reading the history), due slots wait
  (``waiting``) instead of making a briefing of a half-filled database; after
  ``FIRST_DATA_WAIT`` they are made anyway, saying which sources are missing.
* **Mail.** With SMTP configured, a briefing that passed is mailed in the tick that made it;
  a failed delivery is retried with backoff on later ticks (ioc.briefings.mail), one replica
  at a time (a Redis lock per briefing).
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ioc.briefings.slots import KIND, Slot, due_slots, parse_daily, parse_weekly  # noqa: F401 - the schedule's terms
from ioc.db import models as m
from ioc.errors import UserError
from ioc.live_store import SOURCES

log = logging.getLogger("ioc.briefings.scheduler")

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_CAP = timedelta(hours=1)
LOCK_TTL = timedelta(minutes=15)  # far above a build (≈ 5–20 s); a holder that dies frees the slot
MAIL_LOCK_TTL = timedelta(minutes=5)  # far above one SMTP exchange (30 s timeout)
# A fresh start waits this long at most for the sources' first successful poll (the demo's
# first poll of 16 days of history takes well under a minute; a real backfill may be slower).
FIRST_DATA_WAIT = timedelta(minutes=30)


def attempts(engine, slot: Slot) -> tuple[bool, int, datetime | None]:
    """(done, failed attempts, when the last one finished) for a slot, from SQL."""
    b = m.Briefing
    with Session(engine) as s:
        rows = s.execute(select(b.status, func.count(), func.max(b.finished_at))
                         .where(b.kind == KIND[slot.period], b.last_day == slot.last_day)
                         .group_by(b.status)).all()
    by = {status: (count, last) for status, count, last in rows}
    failed, last = by.get("failed", (0, None))
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return "done" in by, failed, last


def backoff(failed: int) -> timedelta:
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, failed - 1)))


class Scheduler:
    def __init__(self, views, *, daily: time | None, weekly: tuple[int, time] | None, catch_up_days: int = 2,
                 mail=None, build: Callable | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc), metrics=None) -> None:
        """``clock``: the time whose slots are due (``--now`` looks back); ``wall``: the real
        time the backoffs and the first-data wait are measured in (the records' times are)."""
        from ioc.briefings.build import build as real_build

        self.views = views
        self.daily, self.weekly, self.catch_up_days = daily, weekly, catch_up_days
        self.mail = mail  # a MailConfig, or None: nothing is mailed
        self.build = build or real_build
        self.clock, self.wall = clock, wall
        self.started = wall()
        self.holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.refused: dict[str, tuple[int, datetime]] = {}  # slot key → (attempts refused before SQL, last)
        self.mailed: list[tuple[int, str]] = []  # the last tick's mail attempts: (briefing id, outcome)
        self._waiting_logged: tuple[str, ...] = ()
        self.metrics = metrics  # an ioc.briefings.metrics.BriefingMetrics when the process serves /metrics

    def _lock(self, name: str) -> str:
        return f"{self.views.settings.redis_prefix}:briefing:lock:{name}"

    def _acquire(self, name: str, ttl: timedelta) -> bool:
        return bool(self.views.store.r.set(self._lock(name), self.holder, nx=True, px=int(ttl.total_seconds() * 1000)))

    def _release(self, name: str) -> None:
        # only our own lock: compare and delete in one step
        self.views.store.r.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
                                "end return 0", 1, self._lock(name), self.holder)

    def waiting_for(self) -> list[str]:
        """Configured sources without a successful poll yet, while the first-data wait lasts."""
        if self.wall() - self.started >= FIRST_DATA_WAIT:
            return []
        settings = self.views.settings
        return [src for src in SOURCES if getattr(settings, f"{src}_url", None)
                and not self.views.store.health(src).get("last_success")]

    def tick(self) -> list[tuple[Slot, str]]:
        """Make every due slot that needs it, then mail what is due; returns (slot, outcome)
        for each slot looked at: done-before, made, failed, backing-off, gave-up, locked
        (another replica has it), waiting (for the sources' first data)."""
        now = self.clock()
        engine = self.views.engine()
        out = []
        waiting = None
        for slot in due_slots(now, self.views.tz, daily=self.daily, weekly=self.weekly,
                              catch_up_days=self.catch_up_days):
            done, failed, last = attempts(engine, slot)
            if done:
                out.append((slot, "done-before"))
                continue
            if failed >= MAX_ATTEMPTS:
                out.append((slot, "gave-up"))
                continue
            if waiting is None:
                waiting = self.waiting_for()
                if waiting and tuple(waiting) != self._waiting_logged:
                    log.info("briefings wait for the first data of: %s", ", ".join(waiting))
                self._waiting_logged = tuple(waiting)
            if waiting:
                out.append((slot, "waiting"))
                continue
            refused, refused_at = self.refused.get(slot.key, (0, None))
            if (failed and last is not None and self.wall() - last < backoff(failed)) or (
                    refused and self.wall() - refused_at < backoff(refused)):
                out.append((slot, "backing-off"))
                continue
            if not self._acquire(slot.key, LOCK_TTL):
                out.append((slot, "locked"))
                continue
            try:
                out.append((slot, self._make(engine, slot)))
            finally:
                self._release(slot.key)
        self.mailed = self._mail_due(engine) if self.mail is not None else []
        if self.metrics is not None:
            self.metrics.tick_done([(KIND[slot.period], outcome) for slot, outcome in out], self.mailed)
        return out

    def _make(self, engine, slot: Slot) -> str:
        from ioc.briefings.build import NotRecorded

        done, failed, _last = attempts(engine, slot)  # another replica may have finished it meanwhile
        if done:
            return "done-before"
        try:
            result = self.build(self.views, slot.period, slot.last_day, mail=self.mail is not None)
        except NotRecorded as e:
            n = self.refused.get(slot.key, (0, None))[0] + 1
            self.refused[slot.key] = (n, self.wall())
            log.error("briefing %s refused (not recorded; next try in %d min): %s", slot.key,
                      backoff(n).total_seconds() // 60, e)
            return "failed"
        except UserError as e:
            self.refused.pop(slot.key, None)
            log.error("briefing %s failed (attempt %d of %d): %s", slot.key, failed + 1, MAX_ATTEMPTS, e)
            return "failed"
        self.refused.pop(slot.key, None)
        log.info("briefing %s made: %s", slot.key, getattr(result, "path", ""))
        return "made"

    def _mail_due(self, engine) -> list[tuple[int, str]]:
        from ioc.briefings import mail

        out = []
        for rid in mail.due(engine, self.wall()):
            name = f"mail:{rid}"
            if not self._acquire(name, MAIL_LOCK_TTL):
                continue  # another replica is sending it
            try:
                if not mail.still_due(engine, rid):
                    continue
                try:
                    mail.send_briefing(self.views, rid, self.mail, now=self.wall())
                    log.info("briefing %d mailed to %d recipient(s)", rid, len(self.mail.recipients))
                    out.append((rid, "sent"))
                except UserError as e:
                    log.error("%s", e)
                    out.append((rid, "failed"))
            finally:
                self._release(name)
        return out

    def run(self, stop: threading.Event, every: float = 30.0) -> None:
        """Tick until ``stop`` is set; a database or Redis outage is logged and retried."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception as e:  # noqa: BLE001 - keep the process; the next tick retries
                log.error("briefing scheduler tick failed: %s", " ".join(str(e).split())[:300])
            stop.wait(every)
