"""Small shared pieces: seeded random streams, hashing noise, time formatting, working days.

Times inside the simulator are integer UTC epoch seconds (numpy int64). ``NEVER`` marks an
event that does not happen. Vietnamese systems show local time (+07:00, no DST); the
SensorThings source shows UTC with ``Z``.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import numpy as np

VN_TZ = timezone(timedelta(hours=7))
VN_OFFSET_S = 7 * 3600
DAY_S = 86400
HOUR_S = 3600
NEVER = np.int64(2**62)


# --------------------------------------------------------------------------- random streams


def _key(part) -> int:
    if isinstance(part, (int, np.integer)):
        return int(part) & 0xFFFFFFFF
    return zlib.crc32(str(part).encode("utf-8"))


def rng_for(seed: int, *parts) -> np.random.Generator:
    """An independent, reproducible stream for (seed, parts...), e.g. (seed, "hotline", day)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *map(_key, parts)])))


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def hash_u64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (wrapping arithmetic)."""
    z = np.asarray(x, dtype=np.uint64) + _GOLD
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hash_uniform(*keys: np.ndarray | int) -> np.ndarray:
    """Uniform [0, 1) per element from integer keys (broadcast), stateless and reproducible."""
    with np.errstate(over="ignore"):
        acc = np.uint64(0x12345678)
        for k in keys:
            acc = hash_u64(np.asarray(k).astype(np.int64).astype(np.uint64) ^ (acc * np.uint64(31)))
    return (acc >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def hash_normal(*keys) -> np.ndarray:
    """Standard normal per element (Box-Muller on two hashed uniforms)."""
    u1 = hash_uniform(*keys, 1)
    u2 = hash_uniform(*keys, 2)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)


# --------------------------------------------------------------------------- time formatting


def iso_local(ts) -> str | None:
    """One epoch second → '2025-03-14T08:15:00+07:00' (None for NEVER/None)."""
    if ts is None or ts >= NEVER:
        return None
    return datetime.fromtimestamp(int(ts), VN_TZ).isoformat()


def iso_utc(ts) -> str | None:
    if ts is None or ts >= NEVER:
        return None
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local_many(ts: np.ndarray) -> list:
    """Vectorised iso_local; NEVER → None."""
    ts = np.asarray(ts, dtype=np.int64)
    never = ts >= NEVER
    safe = np.where(never, 0, ts) + VN_OFFSET_S
    strs = np.datetime_as_string(safe.astype("datetime64[s]"), unit="s").tolist()
    if never.any():
        nv = never.tolist()
        return [None if n else s + "+07:00" for s, n in zip(strs, nv)]
    return [s + "+07:00" for s in strs]


def iso_utc_many(ts: np.ndarray) -> list:
    ts = np.asarray(ts, dtype=np.int64)
    strs = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").tolist()
    return [s + "Z" for s in strs]


class BadTime(ValueError):
    pass


def parse_time(text: str, default_tz=VN_TZ) -> int:
    """ISO-8601 date or datetime → epoch seconds. A naive value is read in ``default_tz``."""
    t = text.strip()
    if not t:
        raise BadTime("empty datetime")
    try:
        if len(t) == 10:
            d = date.fromisoformat(t)
            dt = datetime(d.year, d.month, d.day, tzinfo=default_tz)
        else:
            if t.endswith("z"):
                t = t[:-1] + "Z"
            dt = datetime.fromisoformat(t)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=default_tz)
    except ValueError as err:
        raise BadTime(f"not an ISO-8601 datetime: {text!r}") from err
    return int(dt.timestamp())


def local_day(ts) -> np.ndarray | int:
    """Local (UTC+7) day number since 1970-01-01 for epoch seconds."""
    return (np.asarray(ts, dtype=np.int64) + VN_OFFSET_S) // DAY_S


def day_start(day: int) -> int:
    """Epoch seconds of local midnight of day number ``day``."""
    return int(day) * DAY_S - VN_OFFSET_S


# --------------------------------------------------------------------------- working days


class WorkCalendar:
    """Vietnamese working days: Monday–Friday minus public holidays (package ``holidays``, VN).

    ``add(ts, n)`` moves a timestamp forward by n whole working days, keeping the local time
    of day: the result is the n-th working day after the local date of ``ts``.
    """

    def __init__(self, first_year: int = 2015, last_year: int = 2040):
        import holidays

        self.first_day = (date(first_year, 1, 1) - date(1970, 1, 1)).days
        n = (date(last_year, 12, 31) - date(first_year, 1, 1)).days + 1
        days = np.arange(self.first_day, self.first_day + n)
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
        work = weekday < 5
        vn = holidays.country_holidays("VN", years=range(first_year, last_year + 1))
        for d in vn:
            i = (d - date(1970, 1, 1)).days - self.first_day
            if 0 <= i < n:
                work[i] = False
        self.work = work
        self.cum = np.cumsum(work)  # working days up to and including index i

    def is_workday(self, day) -> np.ndarray:
        i = np.clip(np.asarray(day) - self.first_day, 0, len(self.work) - 1)
        return self.work[i]

    def add(self, ts: np.ndarray, n: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts, dtype=np.int64)
        n = np.asarray(n, dtype=np.int64)
        day = local_day(ts)
        tod = (ts + VN_OFFSET_S) - day * DAY_S
        i = np.clip(day - self.first_day, 0, len(self.work) - 1)
        target = self.cum[i] + n
        j = np.searchsorted(self.cum, target, side="left")
        j = np.clip(j, 0, len(self.work) - 1)
        out = (j + self.first_day) * DAY_S - VN_OFFSET_S + tod
        out = np.where(n <= 0, ts, out)
        return np.where(ts >= NEVER, NEVER, out)

    def add_float(self, ts: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Whole working days, then the fraction as office hours (8 h a day), capped at 17:00."""
        days = np.asarray(days, dtype=np.float64)
        whole = np.floor(days).astype(np.int64)
        frac_s = ((days - whole) * 8 * HOUR_S).astype(np.int64)
        out = self.add(ts, whole) + frac_s
        return out

    def working_days_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ia = np.clip(local_day(a) - self.first_day, 0, len(self.work) - 1)
        ib = np.clip(local_day(b) - self.first_day, 0, len(self.work) - 1)
        return self.cum[ib] - self.cum[ia]


@lru_cache(maxsize=1)
def work_calendar() -> WorkCalendar:
    return WorkCalendar()
