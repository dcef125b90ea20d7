"""The sector map's filters and the SQL conditions they turn into (docs/views.md § The sector
map /map — data endpoints). Shared by the layers, the lists, the exports and the commune panel.

``MapFilters`` is what the page holds in its URL: a time range of local dates (inclusive),
1022 categories, a sector, a ticket status, a camera status and a commune; and, on the layers'
URLs only, the scope of a sector user (``sectors``, ``communes``: ioc/auth/scope.py
``layer_params``), which narrows every read like the other filters. ``from_query``
reads a query string (one line in ``ValueError`` on bad input); ``to_query`` writes only what
differs from the defaults.

A ticket's status is judged with the hotline rule (ioc/kpi/hotline.py): answered = an answer
time at or before the moment, or closed without an answer time; overdue = not answered and
its deadline (``expected_at``, else requested + 15 working days) passed. Here the rule is
written as SQL so that lists can be filtered, sorted and paged in the database; the 15 working
days become one cut-off time computed with the KPI engine's own deadline function
(``kpi_tickets.ticket_deadlines``, monotone in the request time), and a test checks the SQL against
``hotline.metrics`` on random tickets.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, PrivateAttr
from sqlalchemy import and_, case, func, not_, or_, select

from ioc.db import models as m
from ioc.formatting import format_datetime
from ioc.i18n import t
from ioc.kpi import tickets as kpi_tickets

MAX_DAYS = 366
DEFAULT_DAYS = 30
SECTORS = ("all", "hotline", "security", "environment", "procedures")
STATUSES = ("all", "open", "overdue", "closed")
# A ticket's state (``status_sql``) and the states each ``status`` filter keeps (None: every one).
# The page filters its ticket points in the browser with this table; the test holds it to
# ``ticket_conditions`` (tests/views/test_mapdata.py).
TICKET_STATES = ("open", "overdue", "closed")
STATUS_STATES: dict[str, tuple[str, ...] | None] = {
    "all": None, "open": ("open", "overdue"), "overdue": ("overdue",), "closed": ("closed",)}
CAM_STATUSES = ("all", "offline")
# The 1022 categories (Open311 service_code) each sector follows. "all" and "hotline": every
# category. Codes as the provincial hotline uses them (simulator/vocab.py mirrors them);
# a deployment whose hotline codes differ changes them here.
SECTOR_SERVICES: dict[str, tuple[str, ...]] = {
    "security": ("ANTT", "TTDT", "GIAOTHONG"),
    "environment": ("MOITRUONG",),
    "procedures": ("TTHC",),
}
# What each sector looks at first (the page's default metric and layers).
SECTOR_DEFAULTS: dict[str, dict] = {
    "all": {"metric": "tickets_per_km2", "layers": ["tickets", "cameras", "stations"]},
    "hotline": {"metric": "tickets_overdue", "layers": ["tickets", "density"]},
    "security": {"metric": "cameras_online", "layers": ["cameras", "tickets"]},
    "environment": {"metric": "worst_index", "layers": ["stations"]},
    "procedures": {"metric": "qd766_on_time", "layers": []},
}
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_COMMUNE = re.compile(r"^\d{5}$")
_MAX_SERVICES = 50
DEADLINE_WORKING_DAYS = 15  # the hotline rule's default (ioc.kpi.hotline.DEFAULT_DEADLINE_WORKING_DAYS)


class MapFilters(BaseModel):
    """The sector map's filters. ``start``/``end`` are local dates, both inclusive."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    service: tuple[str, ...] = ()
    sector: Literal["all", "hotline", "security", "environment", "procedures"] = "all"
    status: Literal["all", "open", "overdue", "closed"] = "all"
    cam_status: Literal["all", "offline"] = "all"
    commune: str = ""
    # the layers' scope (ioc.auth.scope.layer_params): the map sectors whose categories and the
    # communes whose records a layer holds; empty: no narrowing
    sectors: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    _today: date = PrivateAttr()

    @classmethod
    def default(cls, today: date | None = None, tz: ZoneInfo | None = None) -> MapFilters:
        return cls.from_query({}, today=today, tz=tz)

    @classmethod
    def from_query(cls, mapping: Mapping | None, *, today: date | None = None,
                   tz: ZoneInfo | None = None) -> MapFilters:
        """Filters from a query mapping (a dict or Flask's ``request.args``); unknown keys are
        ignored. Raises ``ValueError`` with one line on bad input."""
        q = mapping or {}
        today = today or local_today(tz)

        def get(key: str) -> str:
            v = q.get(key) if hasattr(q, "get") else None
            if isinstance(v, (list, tuple)):
                v = ",".join(str(x) for x in v)
            return "" if v is None else str(v).strip()

        start, end = _date(get("start"), "start"), _date(get("end"), "end")
        if start is None and end is None:
            end = today
            start = today - timedelta(days=DEFAULT_DAYS - 1)
        elif start is None:
            start = end - timedelta(days=DEFAULT_DAYS - 1)
        elif end is None:
            end = min(today, start + timedelta(days=DEFAULT_DAYS - 1))
        if end < start:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        if start > today:
            raise ValueError(f"start {start.isoformat()} is after today ({today.isoformat()})")
        if end > today:
            raise ValueError(f"end {end.isoformat()} is after today ({today.isoformat()})")
        days = (end - start).days + 1
        if days > MAX_DAYS:
            raise ValueError(f"the time range spans {days} days; at most {MAX_DAYS}")
        services = tuple(dict.fromkeys(s.strip() for s in get("service").split(",") if s.strip()))
        if len(services) > _MAX_SERVICES:
            raise ValueError(f"too many categories ({len(services)}); at most {_MAX_SERVICES}")
        for s in services:
            if not _CODE.match(s):
                raise ValueError(f"bad category code {s[:40]!r}: letters, digits, _ . - only")
        sector = _choice(get("sector") or "all", SECTORS, "sector")
        status = _choice(get("status") or "all", STATUSES, "status")
        cam_status = _choice(get("cam_status") or "all", CAM_STATUSES, "cam_status")
        commune = get("commune")
        if commune and not _COMMUNE.match(commune):
            raise ValueError(f"bad commune {commune[:20]!r}: expected a 5-digit commune code")
        sectors = tuple(dict.fromkeys(_choice(x, SECTORS[1:], "sectors")
                                      for x in (x.strip() for x in get("sectors").split(",")) if x))
        communes = tuple(dict.fromkeys(x.strip() for x in get("communes").split(",") if x.strip()))
        if len(communes) > _MAX_SERVICES:
            raise ValueError(f"too many communes ({len(communes)}); at most {_MAX_SERVICES}")
        for c in communes:
            if not _COMMUNE.match(c):
                raise ValueError(f"bad communes {c[:20]!r}: 5-digit commune codes, separated by commas")
        f = cls(start=start, end=end, service=services, sector=sector, status=status, cam_status=cam_status,
                commune=commune, sectors=sectors, communes=communes)
        f._today = today
        return f

    def to_query(self) -> dict[str, str]:
        """The filters as query parameters, only those that differ from the defaults."""
        today = getattr(self, "_today", None) or local_today()
        out: dict[str, str] = {}
        if not (self.end == today and self.start == today - timedelta(days=DEFAULT_DAYS - 1)):
            out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        if self.service:
            out["service"] = ",".join(self.service)
        for key, default in (("sector", "all"), ("status", "all"), ("cam_status", "all"), ("commune", "")):
            if getattr(self, key) != default:
                out[key] = getattr(self, key)
        for key in ("sectors", "communes"):
            if getattr(self, key):
                out[key] = ",".join(getattr(self, key))
        return out

    # --- derived -------------------------------------------------------------------------

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as aware UTC datetimes (local midnights)."""
        return local_midnight(self.start, tz), local_midnight(self.end + timedelta(days=1), tz)

    def window(self) -> MapFilters:
        """The widest range with the same end (``MAX_DAYS``), no other filter: the ticket points
        the page downloads once and narrows to any start in the browser (``local_day_numbers``).
        Its end is this range's: ticket states are judged at the end (``as_of``)."""
        w = MapFilters(start=self.end - timedelta(days=MAX_DAYS - 1), end=self.end)
        w._today = getattr(self, "_today", None) or local_today()
        return w

    def as_of(self, tz: ZoneInfo, now: datetime) -> datetime:
        """The moment ticket and dossier states are judged: the end of the range, or now
        while the range is not over (as the period queries do)."""
        return min(self.bounds(tz)[1], now)

    def end_instants(self, tz: ZoneInfo, now: datetime) -> np.ndarray:
        """``as_of`` of each range [start, start + k] (k = 0 … days − 1) as µs since 1970 UTC: the
        moments at which the page judges the tickets of any end this range holds
        (``hotline.flag_steps``, the ticket points' steps)."""
        return np.array([int(pd.Timestamp(MapFilters(start=self.start, end=self.start + timedelta(days=k))
                                          .as_of(tz, now)).value // 1000) for k in range(self.days)], dtype=np.int64)

    def service_codes(self) -> tuple[str, ...] | None:
        """The 1022 categories to keep: None = every category; () = none (a category outside
        the chosen sector, or outside the scope's sectors)."""
        keep = None
        for allowed in (self.service or None, SECTOR_SERVICES.get(self.sector), sectors_services(self.sectors)):
            if allowed is not None:
                keep = tuple(allowed) if keep is None else tuple(c for c in keep if c in allowed)
        return keep

    def period_text(self, lang: str) -> str:
        return t("sm.period", lang).format(start=self.start.strftime("%d/%m/%Y"), end=self.end.strftime("%d/%m/%Y"),
                                           days=self.days)


def sectors_services(sectors: tuple[str, ...]) -> tuple[str, ...] | None:
    """The 1022 categories of a set of map sectors: their ``SECTOR_SERVICES`` together; None
    (every category) for no sector, or when one of them follows every category (the hotline)."""
    if not sectors or any(s not in SECTOR_SERVICES for s in sectors):
        return None
    return tuple(dict.fromkeys(c for s in sectors for c in SECTOR_SERVICES[s]))


def _date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"bad {name} {value[:30]!r}: expected a date as YYYY-MM-DD") from None


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise ValueError(f"bad {name} {value[:30]!r}: one of {', '.join(allowed)}")
    return value


def local_today(tz: ZoneInfo | None = None, now: datetime | None = None) -> date:
    if tz is None:
        from ioc.settings import get_settings

        tz = get_settings().tz
    return (now or datetime.now(timezone.utc)).astimezone(tz).date()


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(timezone.utc)


def local_day_numbers(utc_us: np.ndarray, first: date, days: int, tz: ZoneInfo) -> np.ndarray:
    """The local day of each time (µs since 1970, UTC) as a number of days after ``first``:
    how many of the local midnights ``first + 1`` … ``first + days`` it is at or after — the
    midnights ``MapFilters.bounds`` turns a range into, so ``first + k`` ≤ day ≤ ``first + l``
    holds exactly when ``bounds`` of [first + k, first + l] keeps the time. Times before
    ``first`` get −1 or less (never sent: the points are those of the range)."""
    midnights = np.array([int(pd.Timestamp(local_midnight(first + timedelta(days=k), tz)).value // 1000)
                          for k in range(days + 1)], dtype=np.int64)
    return np.searchsorted(midnights, np.asarray(utc_us, dtype=np.int64), side="right") - 1


def today_of(views) -> date:
    return views.clock().astimezone(views.tz).date()


def filters_for(views, mapping: Mapping | None) -> MapFilters:
    """``MapFilters.from_query`` with the read model's clock and time zone."""
    return MapFilters.from_query(mapping, today=today_of(views), tz=views.tz)


# --- sectors and categories -------------------------------------------------------------------


def sector_options(lang: str) -> list[dict]:
    """[{code, name}] for the sector dropdown."""
    return [{"code": s, "name": t(f"sm.sector.{s}", lang)} for s in SECTORS]


_services_cache: dict[str, tuple[float, list[tuple[str, str]]]] = {}
_cache_lock = threading.Lock()
CATALOGUE_TTL = 300.0


def services(views, lang: str) -> list[dict]:
    """[{code, name}] of the 1022 categories seen in the tickets, by name (upstream names are
    shown as the hotline spells them, in both languages). Cached for 5 minutes."""
    key = _db_key(views)
    hit = _services_cache.get(key)
    if hit is None or time.monotonic() - hit[0] > CATALOGUE_TTL:
        tk = m.Ticket.__table__
        with views.engine().connect() as conn:
            rows = conn.execute(select(tk.c.service_code, func.max(tk.c.service_name))
                                .where(tk.c.service_code.is_not(None)).group_by(tk.c.service_code)).all()
        pairs = sorted(((str(c), str(n or c)) for c, n in rows), key=lambda p: p[1].lower())
        with _cache_lock:
            _services_cache[key] = hit = (time.monotonic(), pairs)
    return [{"code": c, "name": n} for c, n in hit[1]]


PERIOD_TTL = 60.0  # period figures are shared for a minute per range; texts are composed per call
_period_cache: dict[tuple, tuple[float, dict]] = {}


def cached_period_figures(views, start: date, end: date, domains: tuple[str, ...]) -> dict:
    """``period_figures(engine, "custom", start=…, end=…)`` at the read model's clock, kept
    for ``PERIOD_TTL`` seconds in the process (closed windows are cached further down, in the
    process and in Redis, by the period queries themselves)."""
    from ioc.kpi.periods import period_figures

    key = (_db_key(views), start, end, tuple(domains), views.clock().astimezone(views.tz).date())
    hit = _period_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] <= PERIOD_TTL:
        return hit[1]
    res = period_figures(views.engine(), "custom", start=start, end=end, tz=views.tz, now=views.clock(),
                         store=views.store, domains=tuple(domains))
    with _cache_lock:
        if len(_period_cache) > 64:
            _period_cache.clear()
        _period_cache[key] = (time.monotonic(), res)
    return res


def _db_key(views) -> str:
    return views.engine().url.render_as_string(hide_password=True)


_areas_cache: dict[str, tuple[float, dict[str, float]]] = {}


def commune_areas(views) -> dict[str, float]:
    """commune code → area in km² (the boundary file's ``area_km2`` property). Boundaries
    change only on import: read once per 10 minutes."""
    key = _db_key(views)
    hit = _areas_cache.get(key)
    if hit is None or time.monotonic() - hit[0] > 600:
        b = m.Boundary.__table__
        with views.engine().connect() as conn:
            rows = conn.execute(select(b.c.unit_code, b.c.properties)
                                .where(b.c.level == "commune", b.c.unit_code.is_not(None))).all()
        areas: dict[str, float] = {}
        for code, props in rows:
            if isinstance(props, str):
                try:
                    props = json.loads(props)
                except ValueError:
                    props = {}
            try:
                a = float((props or {}).get("area_km2"))
            except (TypeError, ValueError):
                continue
            if a > 0 and code not in areas:
                areas[str(code)] = a
        with _cache_lock:
            _areas_cache[key] = hit = (time.monotonic(), areas)
    return hit[1]


# --- tickets: the hotline rule as SQL --------------------------------------------------------


def _tk():
    return m.Ticket.__table__


def closed_sql():
    """Status "closed", trimmed and in any case (``hotline.closed_status``)."""
    return func.lower(func.trim(_tk().c.status)) == "closed"


def answered_sql(at: datetime):
    """Answered at ``at``: an answer time at or before it, or closed without an answer time."""
    tk = _tk()
    return or_(and_(tk.c.answered_at.is_not(None), tk.c.answered_at <= at),
               and_(closed_sql(), tk.c.answered_at.is_(None)))


def overdue_sql(at: datetime, tz: ZoneInfo):
    """Not answered at ``at`` and past its deadline (``expected_at``, else requested + 15
    working days, i.e. requested before :func:`overdue_cutoff`)."""
    tk = _tk()
    cutoff = overdue_cutoff(at, tz)
    return and_(not_(answered_sql(at)),
                or_(and_(tk.c.expected_at.is_not(None), tk.c.expected_at < at),
                    and_(tk.c.expected_at.is_(None), tk.c.requested_at < cutoff)))


def status_sql(at: datetime, tz: ZoneInfo):
    """'closed' | 'overdue' | 'open' per ticket at ``at``, as one SQL expression."""
    return case((answered_sql(at), "closed"), (overdue_sql(at, tz), "overdue"), else_="open")


_cutoffs: dict[tuple[int, str], datetime] = {}


def overdue_cutoff(at: datetime, tz: ZoneInfo) -> datetime:
    """The earliest request time whose 15-working-day deadline is not before ``at``: a
    ticket without ``expected_at`` requested before it is overdue at ``at`` (if unanswered).

    Computed with the KPI engine's deadline function (``kpi_tickets.ticket_deadlines``), which is
    monotone in the request time; a refining grid search to the microsecond."""
    now_us = int(pd.Timestamp(at).value // 1000)
    key = (now_us, tz.key)
    hit = _cutoffs.get(key)
    if hit is not None:
        return hit
    day = 86_400_000_000
    lo, hi = now_us - 60 * day, now_us - 14 * day  # deadlines are 18–30 days after the request
    while _deadline_us(np.array([lo]), tz)[0] >= now_us:  # a long holiday: look further back
        lo -= 30 * day
    while _deadline_us(np.array([hi]), tz)[0] < now_us:  # cannot happen with the VN calendar
        hi += 7 * day
    while hi - lo > 1:
        pts = np.unique(np.linspace(lo, hi, 1025).astype(np.int64))
        dl = _deadline_us(pts, tz)
        i = int(np.argmax(dl >= now_us))  # dl[-1] >= now_us: hi is a point
        lo, hi = int(pts[i - 1]) if i > 0 else lo, int(pts[i])
        if i == 0:
            break
    out = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=hi)
    if len(_cutoffs) > 256:
        _cutoffs.clear()
    _cutoffs[key] = out
    return out


def _deadline_us(req_us: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    req = pd.Series(pd.DatetimeIndex(req_us.astype("datetime64[us]")).tz_localize("UTC"))
    df = pd.DataFrame({"requested_at": req, "expected_at": pd.Series(pd.NaT, index=req.index,
                                                                       dtype="datetime64[us, UTC]")})
    dl = kpi_tickets.ticket_deadlines(df, tz, DEADLINE_WORKING_DAYS)
    return dl.to_numpy(dtype="datetime64[us]").astype(np.int64)


def ticket_conditions(f: MapFilters, tz: ZoneInfo, at: datetime, *, commune: str | None = None,
                      status: str | None = None) -> list:
    """SQL conditions of the filters on ``tickets``: requested in the range, the categories,
    the commune, the status at ``at``. ``status``/``commune`` override the filters'."""
    tk = _tk()
    s, e = f.bounds(tz)
    cond = [tk.c.requested_at >= s, tk.c.requested_at < e, tk.c.requested_at <= at]
    codes = f.service_codes()
    if codes is not None:
        cond.append(tk.c.service_code.in_(list(codes)) if codes else tk.c.id.is_(None))
    code = f.commune if commune is None else commune
    if code:
        cond.append(tk.c.commune_code == code)
    if f.communes:
        cond.append(tk.c.commune_code.in_(list(f.communes)))
    st = f.status if status is None else status
    if st == "closed":
        cond.append(answered_sql(at))
    elif st == "open":
        cond.append(not_(answered_sql(at)))
    elif st == "overdue":
        cond.append(overdue_sql(at, tz))
    return cond


def ticket_has_data(conn) -> bool:
    return conn.execute(select(_tk().c.id).limit(1)).first() is not None


# --- texts ------------------------------------------------------------------------------------


def when(value: datetime | None, tz: ZoneInfo) -> str:
    """dd/mm/yyyy HH:mm local, or "—"."""
    return format_datetime(value, tz) if value is not None else "—"


def iso_local(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds")


def duration(seconds: float | None, lang: str) -> str:
    """"3 ngày 4 giờ", "5 giờ", "< 1 giờ"; "—" for None."""
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    hours = int(seconds // 3600)
    if hours < 1:
        return t("sm.dur.under_hour", lang)
    d, h = divmod(hours, 24)
    if d == 0:
        return t("sm.dur.hours", lang).format(h=h)
    if h == 0 or d >= 10:
        return t("sm.dur.days", lang).format(d=d)
    return t("sm.dur.days_hours", lang).format(d=d, h=h)


def aware(value) -> datetime | None:
    """A UTC datetime from what SQL hands back (aware from the ORM type, naive text on raw reads)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
