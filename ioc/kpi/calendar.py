"""Vietnam working days for deadlines (hotline 15 working days, dossier due dates).

A working day is a day that is

* not a weekend day (Saturday, Sunday), unless the government swapped it into a
  working day (``holidays`` records these as ``weekend_workdays``, e.g. Saturday
  2025-04-26 worked in exchange for Friday 2025-05-02 off), and
* not a public holiday of the ``holidays`` package, country ``"VN"`` (Tết days,
  Hùng Kings, 30/4, 1/5, National Day and the "Day off (substituted from …)"
  compensatory days that the package carries).

Limitations (documented in docs/kpis.md): the package follows the Labour Code and the
yearly notices of the Ministry of Home Affairs as far as its maintainers entered them;
a swap announced after the installed package version is not known. Pass
``extra_holidays`` / ``extra_working_days`` to :class:`WorkCalendar` for those.

Day boundaries are local (default ``Asia/Ho_Chi_Minh``): an aware datetime is first
converted to the local zone, then its local date is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as _holidays

DEFAULT_TZ = "Asia/Ho_Chi_Minh"

__all__ = [
    "DEFAULT_TZ",
    "WorkCalendar",
    "add_working_days",
    "default_calendar",
    "is_working_day",
    "local_date",
    "working_days_between",
]


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def local_date(value: date | datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> date:
    """Local calendar date of ``value``; aware datetimes are converted to ``tz`` first.

    A naive datetime is rejected (all product datetimes are aware UTC): guessing its
    zone would shift day boundaries by 7 hours silently.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        return value.astimezone(_zone(tz)).date()
    if isinstance(value, date):
        return value
    # pandas Timestamp is a datetime subclass; anything else is an error
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}: {value!r}")


class WorkCalendar:
    """Working-day calendar for Vietnam with optional local corrections."""

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        country: str = "VN",
    ) -> None:
        self.country = country
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_working_days = frozenset(extra_working_days)
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        self._add_cache: dict[tuple[date, int], date] = {}

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        cached = self._years.get(year)
        if cached is None:
            cal = _holidays.country_holidays(self.country, years=[year])
            days_off = frozenset(d for d in cal if d.year == year)
            swapped = frozenset(d for d in getattr(cal, "weekend_workdays", ()) if d.year == year)
            cached = (days_off, swapped)
            self._years[year] = cached
        return cached

    def is_working_day(self, d: date | datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> bool:
        day = local_date(d, tz)
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        days_off, swapped = self._year(day.year)
        if day in days_off:
            return False
        if day.weekday() >= 5:  # Saturday, Sunday
            return day in swapped
        return True

    def holiday_name(self, d: date) -> str | None:
        cal = _holidays.country_holidays(self.country, years=[d.year])
        return cal.get(d)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        day = d + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(
        self, start: date | datetime, n: int, tz: str | ZoneInfo = DEFAULT_TZ
    ) -> date | datetime:
        """The moment ``n`` working days after ``start``.

        * ``start`` a date → a date: the ``n``-th working day after ``start``
          (``n == 0`` returns ``start`` rolled forward to a working day).
        * ``start`` an aware datetime → an aware datetime in the same zone as ``start``,
          the same local clock time on the ``n``-th working day after the start day.
          If ``start`` falls on a non-working day, the clock starts at 00:00 local of
          the next working day (a request received on Saturday gets whole working days,
          as a request received first thing on Monday would). Example: Friday 10:00
          + 1 → Monday 10:00; Saturday 10:00 + 1 → Tuesday 00:00 (end of Monday).
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int number of working days, got {n!r}")
        if n < 0:
            raise ValueError(f"n must be >= 0 working days, got {n}")
        zone = _zone(tz)
        if isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError(f"naive datetime {start!r}: pass a timezone-aware datetime")
            local = start.astimezone(zone)
            day = local.date()
            clock = local.time().replace(tzinfo=None)
            if not self.is_working_day(day):
                day = self.next_working_day(day)
                clock = time(0, 0)
            day = self._add_days(day, n)
            result = datetime.combine(day, clock, tzinfo=zone)
            return result.astimezone(start.tzinfo)
        day = local_date(start, zone)
        if not self.is_working_day(day):
            day = self.next_working_day(day)
        return self._add_days(day, n)

    def _add_days(self, day: date, n: int) -> date:
        """n-th working day after the working day ``day`` (memoised: deadlines for
        thousands of tickets hit the same few dates)."""
        key = (day, n)
        hit = self._add_cache.get(key)
        if hit is None:
            hit = day
            for _ in range(n):
                hit = self.next_working_day(hit)
            if len(self._add_cache) > 100_000:
                self._add_cache.clear()
            self._add_cache[key] = hit
        return hit

    def working_days_between(
        self, a: date | datetime, b: date | datetime, tz: str | ZoneInfo = DEFAULT_TZ
    ) -> int:
        """Number of working days ``d`` with local ``date(a) < d <= date(b)``.

        Negative when ``b`` is before ``a``. For ``a`` on a working day,
        ``working_days_between(a, add_working_days(a, n)) == n``.
        """
        da, db = local_date(a, tz), local_date(b, tz)
        sign = 1
        if db < da:
            da, db, sign = db, da, -1
        count = 0
        day = da + timedelta(days=1)
        while day <= db:
            if self.is_working_day(day):
                count += 1
            day += timedelta(days=1)
        return sign * count


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    return WorkCalendar()


def is_working_day(d: date | datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> bool:
    """True if the local date of ``d`` is a Vietnamese working day."""
    return default_calendar().is_working_day(d, tz)


def add_working_days(start: date | datetime, n: int, tz: str | ZoneInfo = DEFAULT_TZ) -> date | datetime:
    """See :meth:`WorkCalendar.add_working_days`."""
    return default_calendar().add_working_days(start, n, tz)


def working_days_between(a: date | datetime, b: date | datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> int:
    """See :meth:`WorkCalendar.working_days_between`."""
    return default_calendar().working_days_between(a, b, tz)
