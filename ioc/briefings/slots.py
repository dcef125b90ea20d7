"""The briefing schedule's slots, cron-like in the product's time zone: the daily briefing of
day D−1 is due at HH:MM on day D, the weekly one of the 7 days ending on the day before DAY is
due on DAY at HH:MM (settings ``IOC_BRIEFING_DAILY``, ``IOC_BRIEFING_WEEKLY``; ``off`` disables).
Small and import-light: the settings validate their values with these parsers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ioc.errors import UserError

KIND = {"day": "daily", "week": "weekly"}  # a slot's period → the kind its SQL record has
DOW = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


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


def from_settings(settings) -> tuple[time | None, tuple[int, time] | None, int]:
    """(daily, weekly, catch-up days) as the settings give them."""
    return (parse_daily(settings.briefing_daily), parse_weekly(settings.briefing_weekly),
            settings.briefing_catch_up_days)
