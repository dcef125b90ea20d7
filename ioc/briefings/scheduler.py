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
  counted in SQL, so every replica sees the same count.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.errors import UserError

log = logging.getLogger("ioc.briefings.scheduler")

DOW = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_CAP = timedelta(hours=1)
LOCK_TTL = timedelta(minutes=15)  # far above a build (≈ 5–20 s); a holder that dies frees the slot
KIND = {"day": "daily", "week": "weekly"}


@dataclass(frozen=True)
class Slot:
    period: str  # day | week
    due: datetime  # aware, local
    last_day: date  # the --date of the briefing

    @property
    def key(self) -> str:
        return f"{self.period}:{self.last_day.isoformat()}"


def parse_daily(value: str | None) -> time | None:
    if value is None or value.strip().lower() == "off":
        return None
    try:
        return datetime.strptime(value.strip(), "%H:%M").time()
    except ValueError:
        raise UserError(f"bad daily time {value!r}: use HH:MM (e.g. 07:00) or off") from None


def parse_weekly(value: str | None) -> tuple[int, time] | None:
    if value is None or value.strip().lower() == "off":
        return None
    day, _, hhmm = value.strip().lower().partition("@")
    if day not in DOW or not hhmm:
        raise UserError(f"bad weekly time {value!r}: use DAY@HH:MM (e.g. mon@07:30) or off")
    try:
        return DOW[day], datetime.strptime(hhmm, "%H:%M").time()
    except ValueError:
        raise UserError(f"bad weekly time {value!r}: use DAY@HH:MM (e.g. mon@07:30) or off") from None


def due_slots(now: datetime, tz, *, daily: time | None, weekly: tuple[int, time] | None,
              catch_up_days: int) -> list[Slot]:
    """Slots due at or before ``now`` on today's date or the ``catch_up_days`` dates before it,
    oldest first."""
    local = now.astimezone(tz)
    out: list[Slot] = []
    for back in range(catch_up_days, -1, -1):
        d = local.date() - timedelta(days=back)
        if daily is not None:
            due = datetime.combine(d, daily, tzinfo=tz)
            if due <= local:
                out.append(Slot("day", due, d - timedelta(days=1)))
        if weekly is not None and d.weekday() == weekly[0]:
            due = datetime.combine(d, weekly[1], tzinfo=tz)
            if due <= local:
                out.append(Slot("week", due, d - timedelta(days=1)))
    return sorted(out, key=lambda s: s.due)


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
                 build: Callable | None = None, on_done: Callable | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        from ioc.briefings.build import build as real_build

        self.views = views
        self.daily, self.weekly, self.catch_up_days = daily, weekly, catch_up_days
        self.build = build or real_build
        self.on_done = on_done or (lambda result, slot: None)
        self.clock = clock
        self.holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    def _lock_key(self, slot: Slot) -> str:
        return f"{self.views.settings.redis_prefix}:briefing:lock:{slot.key}"

    def _acquire(self, slot: Slot) -> bool:
        return bool(self.views.store.r.set(self._lock_key(slot), self.holder, nx=True,
                                           px=int(LOCK_TTL.total_seconds() * 1000)))

    def _release(self, slot: Slot) -> None:
        # only our own lock: compare and delete in one step
        self.views.store.r.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
                                "end return 0", 1, self._lock_key(slot), self.holder)

    def tick(self) -> list[tuple[Slot, str]]:
        """Make every due slot that needs it; returns (slot, outcome) for each slot looked at:
        done-before, made, failed, backing-off, gave-up, locked (another replica has it)."""
        now = self.clock()
        engine = self.views.engine()
        out = []
        for slot in due_slots(now, self.views.tz, daily=self.daily, weekly=self.weekly,
                              catch_up_days=self.catch_up_days):
            done, failed, last = attempts(engine, slot)
            if done:
                out.append((slot, "done-before"))
                continue
            if failed >= MAX_ATTEMPTS:
                out.append((slot, "gave-up"))
                continue
            # backoff in wall time: the records' finish times are (``now`` may be a --now look-back)
            if failed and last is not None and datetime.now(timezone.utc) - last < backoff(failed):
                out.append((slot, "backing-off"))
                continue
            if not self._acquire(slot):
                out.append((slot, "locked"))
                continue
            try:
                done, failed, last = attempts(engine, slot)  # another replica may have finished it meanwhile
                if done:
                    out.append((slot, "done-before"))
                    continue
                try:
                    result = self.build(self.views, slot.period, slot.last_day)
                except UserError as e:
                    log.error("briefing %s failed (attempt %d of %d): %s", slot.key, failed + 1, MAX_ATTEMPTS, e)
                    out.append((slot, "failed"))
                    continue
                log.info("briefing %s made: %s", slot.key, getattr(result, "path", ""))
                out.append((slot, "made"))
                try:
                    self.on_done(result, slot)
                except Exception:  # noqa: BLE001 - a mail that fails does not unmake the briefing
                    log.exception("briefing %s: after-build step failed", slot.key)
            finally:
                self._release(slot)
        return out

    def run(self, stop: threading.Event, every: float = 30.0) -> None:
        """Tick until ``stop`` is set; a database or Redis outage is logged and retried."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception as e:  # noqa: BLE001 - keep the process; the next tick retries
                log.error("briefing scheduler tick failed: %s", " ".join(str(e).split())[:300])
            stop.wait(every)
