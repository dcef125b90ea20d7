"""SQL → DataFrame loaders and set-based fast paths for the KPI engine.

The plain functions in ``ioc/kpi/`` (hotline, cameras, qd766, aqi, environment …) are the
definitions. They are written for clarity — one group or one hour at a time — and are too
slow for a 300 ms snapshot at provincial scale (a month of hotline tickets with four
breakdowns takes ~0.7 s in :func:`ioc.kpi.hotline.summary`; QĐ 766 over a year of
dossiers would have to load 500,000 rows). This module computes **the same figures**
set-wise:

* filtering and counting in SQL (``GROUP BY`` with conditional sums) for QĐ 766 and for
  water-quality exceedance counts, so only aggregates leave the database;
* vectorised pandas for hotline figures and breakdowns (one ``groupby`` per breakdown
  instead of one :func:`hotline._metrics` call per group), camera counts, and the
  latest-hour / daily VN_AQI (the per-hour/per-day arithmetic reuses ``aqi``'s own
  helpers: ``_prepare_frame``, ``_nowcast_value``, ``_sub_or_none``, ``_station_max``).

Every fast path here has an equivalence test against the plain function on random data
(``tests/kpi/test_snapshot_equivalence.py``): when a definition changes in the plain
module, that test fails until the fast path follows.

Times: SQL stores UTC (naive text on SQLite, ``timestamptz`` on PostgreSQL). Loaders read
them as text (SQLite) or epoch seconds (PostgreSQL) and convert vectorised to
``datetime64[us, UTC]`` — going through SQLAlchemy's per-value type processing would cost
more than the KPI maths.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Float, Text, and_, case, cast, func, literal, or_, select, true
from sqlalchemy.engine import Connection

from ioc.db import models as m
from ioc.kpi import aqi as aqi_mod
from ioc.kpi import qd766
from ioc.kpi._util import UNKNOWN, pct, py
from ioc.kpi.calendar import WorkCalendar, default_calendar
from ioc.kpi.environment import (
    AIR_PARAMETERS,
    DEFAULT_MAX_AGE_BY_KIND,
    DEFAULT_OFFLINE_MAX_AGE,
    WATER_LIMITS_QCVN08_2023_B,
    to_ugm3,
)

# --- parameter codes --------------------------------------------------------------------
# Connectors normalise Datastream.parameter to short codes (nh4, no3, po4, insects …);
# the KPI modules use the QĐ 1460 / QCVN names (n_nh4, n_no3, p_po4, insect_count …).
# Both spellings are accepted; this is the one place that maps them.
PARAMETER_ALIASES: dict[str, str] = {
    "nh4": "n_nh4", "n-nh4": "n_nh4", "nh4_n": "n_nh4", "ammonium": "n_nh4",
    "no3": "n_no3", "n-no3": "n_no3", "no3_n": "n_no3", "nitrate": "n_no3",
    "no2_water": "n_no2", "n-no2": "n_no2", "nitrite": "n_no2",
    "po4": "p_po4", "p-po4": "p_po4", "po4_p": "p_po4", "phosphate": "p_po4",
    "ecoli": "e_coli", "e.coli": "e_coli",
    "insects": "insect_count", "insect": "insect_count", "bph": "insect_count",
    "temp": "temperature", "water_temperature": "temperature",
    "level": "water_level",
    "pm2.5": "pm25", "pm2_5": "pm25",
}


def kpi_parameter(code: str | None) -> str | None:
    """The KPI modules' name for a stored parameter code (lower-case, aliases mapped)."""
    if code is None:
        return None
    c = str(code).strip().lower()
    return PARAMETER_ALIASES.get(c, c)


def water_level_metres(value: float | None, unit: str | None) -> float | None:
    """Water levels are stored in cm (normalised unit); alarm levels are in metres."""
    if value is None:
        return None
    u = (unit or "").strip().lower()
    if u == "cm":
        return value / 100.0
    if u == "mm":
        return value / 1000.0
    return value


# --- time columns -----------------------------------------------------------------------


def dialect_name(conn) -> str:
    return conn.dialect.name


SQLITE_MMAP_BYTES = 1 << 30


def connect(engine):
    """``engine.connect()`` with SQLite reads memory-mapped (``PRAGMA mmap_size``): the
    KPI queries read scattered rows of large tables, and the default 2 MB page cache
    turns each into a read() call. Set once per pooled DBAPI connection."""
    conn = engine.connect()
    if conn.dialect.name == "sqlite":
        info = conn.connection.info
        if not info.get("ioc_kpi_mmap"):
            conn.exec_driver_sql(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            info["ioc_kpi_mmap"] = True
    return conn


def in_list(col, values: Sequence, dialect: str):
    """``col IN (values)``; on PostgreSQL ``col = ANY(:array)`` — one parameter whatever
    the length, so the statement is prepared once (a long IN list costs more to render
    and plan than the query)."""
    if dialect == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return col == any_(bindparam(None, list(values), type_=ARRAY(Text)))
    return col.in_(list(values))


def tcol(col, dialect: str, name: str | None = None):
    """A UTC datetime column as cheap-to-convert raw values (see module docstring)."""
    label = name or col.key
    if dialect == "sqlite":
        return cast(col, Text).label(label)
    return func.date_part("epoch", col).label(label)


def epoch_expr(col, dialect: str):
    """Seconds since 1970 as a float SQL expression (for arithmetic inside SQL)."""
    if dialect == "sqlite":
        return (func.julianday(col) - 2440587.5) * 86400.0
    return cast(func.date_part("epoch", col), Float)


def to_utc(values, dialect: str) -> pd.Series:
    """Raw time values from :func:`tcol` → ``datetime64[us, UTC]`` (NaT for NULL)."""
    s = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    if len(s) == 0:
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=s.index, dtype="datetime64[us, UTC]")
    if dialect == "sqlite":
        try:  # the stored text is ISO: numpy parses it without pandas' format inference
            arr = np.array([None if v is None else v for v in s.to_numpy(dtype=object)], dtype="datetime64[us]")
            out = pd.Series(pd.DatetimeIndex(arr).tz_localize("UTC"), index=s.index)
        except (ValueError, TypeError):
            out = pd.to_datetime(s.astype(object), format="ISO8601", utc=True)
    else:  # epoch seconds (float or Decimal; None for NULL) → µs, in numpy
        try:
            num = s.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        nat = np.isnan(num)
        us = np.round(np.where(nat, 0.0, num) * 1e6).astype(np.int64).astype("datetime64[us]")
        us[nat] = np.datetime64("NaT")
        return pd.Series(pd.DatetimeIndex(us).tz_localize("UTC"), index=s.index)
    return out.astype("datetime64[us, UTC]")


def fetch(conn: Connection, stmt, time_columns: Iterable[str] = (), *, raw: bool = True) -> pd.DataFrame:
    """Run ``stmt``; DataFrame with its labels as columns, time columns converted.

    ``raw`` reads the DBAPI cursor's tuples directly (no SQLAlchemy result processing —
    fine for text, numbers and the raw time values of :func:`tcol`; not for JSON or
    booleans, which need ``raw=False``). Rows are transposed into columns:
    ``DataFrame.from_records`` on SQLAlchemy ``Row`` objects probes attributes per row."""
    res = conn.execute(stmt)
    cols = list(res.keys())
    rows = res.cursor.fetchall() if raw and res.cursor is not None else res.fetchall()
    if rows:
        data = list(zip(*rows))
        df = pd.DataFrame({c: pd.Series(v, dtype=object) if _mixed(v) else list(v) for c, v in zip(cols, data)})
    else:
        df = pd.DataFrame({c: [] for c in cols})
    d = dialect_name(conn)
    for c in time_columns:
        df[c] = to_utc(df[c], d)
    return df


def _mixed(values: tuple) -> bool:
    """Keep None-bearing text/bool columns as objects (pandas would guess otherwise)."""
    return None in values  # C-level scan


def ts(value) -> pd.Timestamp:
    t = pd.Timestamp(value)
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
    return t.tz_convert("UTC")


def _group_key(v) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return UNKNOWN
    if isinstance(v, str):
        return v if v.strip() else UNKNOWN
    v = v.item() if isinstance(v, np.generic) else v
    return str(v)


def group_keys(s: pd.Series) -> pd.Series:
    """Vectorised :func:`ioc.kpi._util.key_of`: missing or blank → ``"unknown"`` (the rule
    runs once per distinct value)."""
    codes, uniq = pd.factorize(s.to_numpy(dtype=object))  # missing → -1
    mapped = np.array([_group_key(v) for v in uniq] + [UNKNOWN], dtype=object)
    return pd.Series(mapped[codes], index=s.index, dtype=object)


# --- hotline ----------------------------------------------------------------------------

TICKET_COLUMNS = ("external_id", "service_name", "channel", "status", "agency", "commune_code",
                  "requested_at", "expected_at", "answered_at", "reopened_count")
TICKET_TIMES = ("requested_at", "expected_at", "answered_at")
# snapshot / period breakdown name → Ticket column
HOTLINE_BREAKDOWNS = {"category": "service_name", "channel": "channel", "commune": "commune_code",
                      "agency": "agency"}


# what the figures need without breakdowns or ticket lists (a previous period's totals)
TICKET_FIGURE_COLUMNS = ("status", "requested_at", "expected_at", "answered_at", "reopened_count")


def ticket_select(dialect: str, columns: Sequence[str] = TICKET_COLUMNS):
    t = m.Ticket.__table__
    cols = [t.c[c] if c not in TICKET_TIMES else tcol(t.c[c], dialect) for c in columns]
    return select(*cols)


def load_tickets(conn: Connection, *conditions, columns: Sequence[str] = TICKET_COLUMNS) -> pd.DataFrame:
    d = dialect_name(conn)
    stmt = ticket_select(d, columns).where(*conditions) if conditions else ticket_select(d, columns)
    return fetch(conn, stmt, [c for c in TICKET_TIMES if c in columns])


def ticket_deadlines(
    tickets: pd.DataFrame,
    tz: str | ZoneInfo,
    working_days: int = 15,
    calendar: WorkCalendar | None = None,
) -> pd.Series:
    """Vectorised :func:`ioc.kpi.hotline.deadlines`: ``expected_at``, else ``requested_at``
    + ``working_days`` Vietnamese working days (same local clock time; a request on a day
    off starts at 00:00 of the next working day). The calendar is asked once per distinct
    local date, not once per ticket."""
    cal = calendar or default_calendar()
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    req = tickets["requested_at"]
    exp = tickets["expected_at"]
    out = exp.copy()
    need = exp.isna() & req.notna()
    if not need.any():
        return out.rename("deadline")
    local = req[need].dt.tz_convert(zone).dt.tz_localize(None)
    day = local.dt.normalize()
    uniq = pd.DatetimeIndex(pd.unique(day.to_numpy()))
    working = np.array([cal.is_working_day(d.date()) for d in uniq])
    target = pd.DatetimeIndex([pd.Timestamp(cal.add_working_days(d.date(), working_days)) for d in uniq])
    pos = uniq.get_indexer(day)
    clock = (local - day).to_numpy()
    clock = np.where(working[pos], clock, np.timedelta64(0, "us"))
    naive = pd.DatetimeIndex(target[pos]) + pd.to_timedelta(clock)
    aware = naive.tz_localize(zone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
    out.loc[need] = pd.Series(aware.tz_convert("UTC"), index=local.index).astype(out.dtype)
    return out.rename("deadline")


_FLAG_COLS = ("answered", "answered_time_unknown", "overdue", "answered_late", "on_time",
              "reopened", "reopen_events")
_NAT = np.iinfo(np.int64).min  # NaT as int64 microseconds


def _i8(s) -> np.ndarray:
    """UTC times → int64 microseconds (NaT → min int64)."""
    return pd.Series(s).to_numpy(dtype="datetime64[us]").astype(np.int64)


def _flags_arrays(req: np.ndarray, ans: np.ndarray, dl: np.ndarray, closed: np.ndarray, rc: np.ndarray,
                  now_us: int) -> dict[str, np.ndarray]:
    """The per-ticket booleans of :func:`ioc.kpi.hotline.metrics` at ``now`` (µs)."""
    ans_ok, dl_ok = ans != _NAT, dl != _NAT
    has_time = ans_ok & (ans <= now_us)
    answered = has_time | (closed & ~ans_ok)
    hours = np.where(has_time & (req != _NAT), (ans - req) / 3.6e9, np.nan)
    hours = np.where(hours >= 0, hours, np.nan)
    rc0 = np.nan_to_num(rc, nan=0.0)
    return {
        "answered": answered,
        "answered_time_unknown": answered & ~has_time,
        "overdue": ~answered & dl_ok & (dl < now_us),
        "answered_late": has_time & dl_ok & (ans > dl),
        "on_time": has_time & dl_ok & (ans <= dl),
        "reopened": rc0 > 0,
        "reopen_events": np.clip(rc0, 0, None),
        "hours": hours,
    }


def _closed_of(status: pd.Series) -> np.ndarray:
    return status.astype("string").str.strip().str.lower().eq("closed").fillna(False).to_numpy(dtype=bool)


def ticket_flags(tickets: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """Per-ticket booleans of :func:`ioc.kpi.hotline.metrics`, judged at ``now``.
    ``tickets`` must carry a ``deadline`` column (:func:`ticket_deadlines`)."""
    f = _flags_arrays(_i8(tickets["requested_at"]), _i8(tickets["answered_at"]), _i8(tickets["deadline"]),
                      _closed_of(tickets["status"]),
                      pd.to_numeric(tickets["reopened_count"], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
                      ts(now).value // 1000)
    return pd.DataFrame(f, index=tickets.index)


def _r2(v) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), 2)


def _hotline_figures(n: int, s: Mapping, median, mean) -> dict:
    answered = int(s["answered"])
    overdue = int(s["overdue"])
    late = int(s["answered_late"])
    on_time = int(s["on_time"])
    return {
        "received": int(n),
        "answered": answered,
        "answered_time_unknown": int(s["answered_time_unknown"]),
        "in_progress": int(n) - answered,
        "overdue": overdue,
        "answered_late": late,
        "late": overdue + late,
        "on_time": on_time,
        "on_time_pct": pct(on_time, on_time + late),
        "answered_pct": pct(answered, n),
        "median_hours_to_answer": _r2(median),
        "mean_hours_to_answer": _r2(mean),
        "reopened_tickets": int(s["reopened"]),
        "reopen_events": int(s["reopen_events"]),
    }


def hotline_figures(flags) -> dict:
    """Same dict as :func:`ioc.kpi.hotline.metrics` (reopened from ``reopened_count``);
    ``flags`` is :func:`ticket_flags` output (a DataFrame or a dict of arrays)."""
    n = len(flags["hours"])
    sums = {c: np.asarray(flags[c]).sum() for c in _FLAG_COLS}
    h = np.asarray(flags["hours"], dtype=float)
    h = h[~np.isnan(h)]
    return _hotline_figures(n, sums, float(np.median(h)) if len(h) else None, float(h.mean()) if len(h) else None)


class TicketFrame:
    """Tickets (with ``deadline``) in columnar numpy form for repeated period figures:
    breakdown keys normalised and coded once per ticket, flags computed once per
    ``as_of``, periods selected on int64 times. ``update`` replaces changed tickets
    without re-deriving the others. ``period`` gives what
    :func:`ioc.kpi.hotline.summary` gives, set-wise (equivalence-tested)."""

    SHOW = ("external_id", "service_name", "channel", "agency", "commune_code")

    def __init__(self, tickets: pd.DataFrame | None = None, breakdowns: Mapping[str, str] = HOTLINE_BREAKDOWNS) -> None:
        self.breakdowns = dict(breakdowns)
        self.key_ids: dict[str, dict[str, int]] = {name: {} for name in self.breakdowns}
        self.key_names: dict[str, list[str]] = {name: [] for name in self.breakdowns}
        self.cols: dict[str, np.ndarray] = {}
        self._flags: dict = {}
        self._set(self._columns(tickets if tickets is not None else pd.DataFrame(
            {c: [] for c in TICKET_COLUMNS + ("deadline",)})))

    def _columns(self, t: pd.DataFrame) -> dict[str, np.ndarray]:
        out = {
            "requested_at": _i8(t["requested_at"]), "answered_at": _i8(t["answered_at"]),
            "deadline": _i8(t["deadline"]), "closed": _closed_of(t["status"]) if len(t) else np.zeros(0, bool),
            "reopened_count": pd.to_numeric(t["reopened_count"], errors="coerce").to_numpy(dtype=float,
                                                                                            na_value=np.nan),
        }
        for c in self.SHOW:
            out[c] = t[c].to_numpy(dtype=object) if c in t.columns else np.full(len(t), None, dtype=object)
        for name, col in self.breakdowns.items():
            ids, names = self.key_ids[name], self.key_names[name]
            src = group_keys(t[col]).to_numpy() if col in t.columns and len(t) else np.full(len(t), UNKNOWN,
                                                                                              dtype=object)
            local, uniq = pd.factorize(src)  # the key → id lookup once per distinct key
            ids_of = np.empty(len(uniq), dtype=np.int64)
            for j, k in enumerate(uniq):
                c = ids.get(k)
                if c is None:
                    c = ids[k] = len(names)
                    names.append(k)
                ids_of[j] = c
            out[f"code_{name}"] = ids_of[local] if len(t) else np.empty(0, dtype=np.int64)
        return out

    def _set(self, cols: dict[str, np.ndarray]) -> None:
        self.cols = cols
        self._flags = {}

    def __len__(self) -> int:
        return len(self.cols["requested_at"])

    def update(self, changed: pd.DataFrame) -> "TicketFrame":
        """Replace tickets by ``external_id`` with the given rows (new ones are added)."""
        if changed is None or not len(changed):
            return self
        drop = np.isin(self.cols["external_id"], changed["external_id"].to_numpy(dtype=object))
        new = self._columns(changed)
        self._set({k: np.concatenate([v[~drop], new[k]]) for k, v in self.cols.items()})
        return self

    def like(self, tickets: pd.DataFrame) -> "TicketFrame":
        """A frame of other tickets sharing this one's breakdown codes (for ``concat``)."""
        out = TicketFrame.__new__(TicketFrame)
        out.breakdowns, out.key_ids, out.key_names = self.breakdowns, self.key_ids, self.key_names
        out._set(out._columns(tickets))
        return out

    def subset(self, mask: np.ndarray) -> "TicketFrame":
        out = TicketFrame.__new__(TicketFrame)
        out.breakdowns, out.key_ids, out.key_names = self.breakdowns, self.key_ids, self.key_names
        out._set({k: v[mask] for k, v in self.cols.items()})
        return out

    def concat(self, other: "TicketFrame") -> "TicketFrame":
        """Rows of both (``other`` must share this frame's breakdown key codes or have none)."""
        out = TicketFrame.__new__(TicketFrame)
        out.breakdowns, out.key_ids, out.key_names = self.breakdowns, self.key_ids, self.key_names
        out._set({k: np.concatenate([v, other.cols[k]]) for k, v in self.cols.items()})
        return out

    def flags(self, as_of) -> dict[str, np.ndarray]:
        key = ts(as_of).value // 1000
        hit = self._flags.get(key)
        if hit is None:
            if len(self._flags) > 8:
                self._flags.clear()
            c = self.cols
            hit = self._flags[key] = _flags_arrays(c["requested_at"], c["answered_at"], c["deadline"], c["closed"],
                                                   c["reopened_count"], key)
        return hit

    def period(self, start, end, as_of, *, breakdowns: bool = True) -> dict:
        s, e, now = ts(start), ts(end), ts(as_of)
        r = self.cols["requested_at"]
        sel = (r >= s.value // 1000) & (r < e.value // 1000) & (r <= now.value // 1000) & (r != _NAT)
        fl = self.flags(now)
        sub = {c: v[sel] for c, v in fl.items()}
        out: dict = {"period": {"start": s.isoformat(), "end": e.isoformat(), "as_of": now.isoformat()}}
        out["figures"] = hotline_figures(sub)
        if breakdowns:
            out["by"] = {name: _breakdown_codes(sub, self.cols[f"code_{name}"][sel], self.key_names[name])
                         for name in self.breakdowns}
        return out


def _group_median_mean(codes: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group median and mean of ``values`` (NaN skipped; NaN for empty groups)."""
    ok = ~np.isnan(values)
    c, v = codes[ok], values[ok]
    med = np.full(k, np.nan)
    mean = np.full(k, np.nan)
    if not len(v):
        return med, mean
    cnt = np.bincount(c, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(c, weights=v, minlength=k) / cnt
    order = np.lexsort((v, c))
    vs = v[order]
    starts = np.concatenate(([0], np.cumsum(cnt)[:-1]))
    has = cnt > 0
    lo = starts + (cnt - 1) // 2
    hi = starts + cnt // 2
    med[has] = (vs[lo[has]] + vs[hi[has]]) / 2.0
    mean[~has] = np.nan
    return med, mean


def _breakdown_codes(flags, codes: np.ndarray, names) -> dict[str, dict]:
    """``{key: figures}`` per group, keys sorted (as :func:`hotline.summary` groups them)."""
    if len(codes) == 0:
        return {}
    k = len(names)
    n = np.bincount(codes, minlength=k)
    sums = {c: np.bincount(codes, weights=np.asarray(flags[c], dtype=float), minlength=k) for c in _FLAG_COLS}
    med, mean = _group_median_mean(codes, np.asarray(flags["hours"], dtype=float), k)
    present = sorted(np.flatnonzero(n), key=lambda i: names[i])
    return {str(names[i]): _hotline_figures(int(n[i]), {c: sums[c][i] for c in _FLAG_COLS},
                                            None if np.isnan(med[i]) else med[i],
                                            None if np.isnan(mean[i]) else mean[i]) for i in present}


def hotline_period(
    tickets: pd.DataFrame,
    start: datetime,
    end: datetime,
    as_of: datetime,
    *,
    breakdowns: Mapping[str, str] | None = HOTLINE_BREAKDOWNS,
) -> dict:
    """Figures of tickets requested in ``[start, end)`` (and ≤ ``as_of``), judged at
    ``as_of`` — :func:`ioc.kpi.hotline.summary` set-wise. ``tickets`` needs ``deadline``.
    Returns ``{"period": {start, end, as_of}, "figures": {...}, "by": {name: {key: figures}}}``."""
    tf = TicketFrame(tickets, breakdowns or {})
    return tf.period(start, end, as_of, breakdowns=bool(breakdowns))


class StreamFollower:
    """Entity ids changed since the last read of a source's ``events`` stream (the
    connectors' change feed, at-least-once). ``changes()`` returns None when the caller
    must reload from SQL instead: never marked, Redis unavailable, the stream trimmed
    past the last id read, or more than ``max_batch`` changes waiting."""

    def __init__(self, store, source: str, max_batch: int = 5_000) -> None:
        self.store = store
        self.source = source
        self.max_batch = max_batch
        self.last: str | None = None

    def _key(self) -> str:
        return self.store.key("events", self.source)

    def mark(self) -> None:
        """Remember the stream's newest id; call just before a full load from SQL."""
        self.last = None
        if self.store is None:
            return
        try:
            top = self.store.r.xrevrange(self._key(), count=1)
        except Exception:
            return
        self.last = top[0][0].decode() if top else "0-0"

    @staticmethod
    def _id(v: str) -> tuple[int, int]:
        a, _, b = v.partition("-")
        return int(a), int(b or 0)

    def changes(self) -> list[str] | None:
        if self.store is None or self.last is None:
            return None
        try:
            r = self.store.r
            first = r.xrange(self._key(), count=1)
            if first and self.last != "0-0" and self._id(first[0][0].decode()) > self._id(self.last):
                self.last = None
                return None  # trimmed past us: entries were lost
            entries = r.xrange(self._key(), min=f"({self.last}", count=self.max_batch + 1)
        except Exception:
            self.last = None
            return None
        if len(entries) > self.max_batch:
            self.last = None
            return None
        if entries:
            self.last = entries[-1][0].decode()
        return [f[b"id"].decode() for _, f in entries if b"id" in f]


# --- cameras ----------------------------------------------------------------------------

CAMERA_COLUMNS = ("id", "name", "commune_code", "agency", "status", "status_since", "status_reason",
                  "last_seen", "lat", "lon")
CAMERA_TIMES = ("status_since", "last_seen")
CAMERA_STATUSES = ("online", "offline", "degraded", "unknown")


def load_cameras(conn: Connection, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """All cameras, or those with the given ids."""
    d = dialect_name(conn)
    t = m.Camera.__table__
    cols = [t.c[c] if c not in CAMERA_TIMES else tcol(t.c[c], d) for c in CAMERA_COLUMNS]
    if ids is None:
        return fetch(conn, select(*cols), CAMERA_TIMES)
    ids = list(ids)
    parts = [fetch(conn, select(*cols).where(in_list(t.c.id, ids[i:i + 500], d)), CAMERA_TIMES)
             for i in range(0, len(ids), 500)]
    return pd.concat(parts, ignore_index=True) if parts else fetch(conn, select(*cols).where(t.c.id.is_(None)),
                                                                   CAMERA_TIMES)


def load_camera_changes(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    d = dialect_name(conn)
    t = m.CameraStatusChange.__table__
    stmt = select(t.c.camera_id, tcol(t.c.at, d), t.c.status, t.c.previous).where(t.c.at > start, t.c.at <= end)
    return fetch(conn, stmt, ("at",))


def _norm_status(s: pd.Series) -> pd.Series:
    st = s.astype("string").str.strip().str.lower()
    return st.where(st.isin(CAMERA_STATUSES), "unknown").fillna("unknown").astype(object)


def _camera_counts(total: int, c: Mapping[str, int]) -> dict:
    counts = {s: int(c.get(s, 0)) for s in CAMERA_STATUSES}
    return {"total": int(total), **counts, "online_pct": pct(counts["online"], total),
            "online_pct_known": pct(counts["online"], total - counts["unknown"])}


def camera_summary(cameras: pd.DataFrame, as_of: datetime, *, offline_limit: int | None = None) -> dict:
    """:func:`ioc.kpi.cameras.summary` set-wise (same keys). ``offline_limit`` cuts the
    offline list (longest offline first); ``offline_cameras_total`` gives its full length."""
    now = ts(as_of)
    n = len(cameras)
    st = _norm_status(cameras["status"]).to_numpy(dtype=object) if n else np.zeros(0, dtype=object)
    scode = np.array([CAMERA_STATUSES.index(x) for x in st], dtype=np.int64) if n else np.zeros(0, np.int64)
    counts = np.bincount(scode, minlength=4)
    out = _camera_counts(n, dict(zip(CAMERA_STATUSES, counts.tolist())))
    off_idx = np.flatnonzero(scode == 1)
    total_off = len(off_idx)
    rows = []
    if total_off:
        since = _i8(cameras["status_since"])[off_idx]
        order = np.argsort(np.where(since == _NAT, np.iinfo(np.int64).max, since), kind="stable")
        off_idx = off_idx[order]
        if offline_limit is not None:
            off_idx = off_idx[:offline_limit]
        now_us = now.value // 1000
        cols = {c: cameras[c].to_numpy(dtype=object) for c in ("id", "name", "commune_code", "agency", "status_reason")}
        since_all = _i8(cameras["status_since"])
        seen_all = _i8(cameras["last_seen"])
        for i in off_idx:
            s_ = since_all[i]
            rows.append({"id": str(cols["id"][i]), "name": _none(cols["name"][i]),
                         "commune_code": _none(cols["commune_code"][i]), "agency": _none(cols["agency"][i]),
                         "status_since": None if s_ == _NAT else
                         pd.Timestamp(int(s_), unit="us", tz="UTC").to_pydatetime(),
                         "offline_hours": None if s_ == _NAT else
                         round(max(int(now_us - s_) / 1e6, 0.0) / 3600.0, 2),  # as timedelta.total_seconds()
                         "status_reason": _none(cols["status_reason"][i]),
                         "last_seen": None if seen_all[i] == _NAT else
                         pd.Timestamp(int(seen_all[i]), unit="us", tz="UTC").to_pydatetime()})
    out["offline_cameras"] = rows
    out["offline_cameras_total"] = total_off
    for col, name in (("commune_code", "by_commune"), ("agency", "by_agency")):
        if n:
            codes, uniq = pd.factorize(group_keys(cameras[col]).to_numpy(dtype=object), sort=True)
            ct = np.bincount(codes * 4 + scode, minlength=len(uniq) * 4).reshape(len(uniq), 4)
            out[name] = {str(k): _camera_counts(int(ct[j].sum()), dict(zip(CAMERA_STATUSES, ct[j].tolist())))
                         for j, k in enumerate(uniq)}
        else:
            out[name] = {}
    return out


def _none(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def camera_availability(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Online time per camera in ``[start, end)`` from ``camera_status_changes``.

    The status at ``start`` is the last change before it; a camera without any change
    before ``start`` is taken to have its registry status since ``status_since`` (time
    before that is unknown). Returns ``camera_id, commune_code, agency, online_s,
    known_s`` (seconds); availability = online ÷ known (time with a known status)."""
    d = dialect_name(conn)
    s_ep, e_ep = ts(start).timestamp(), ts(end).timestamp()
    c = m.CameraStatusChange.__table__
    cam = m.Camera.__table__
    # status at start: last change before it (uses the (camera_id, at) unique index). The
    # connector keeps status_since = the time of the latest change, so a camera unchanged
    # since before start needs no lookup (most of them, for today's window).
    last_change = (select(c.c.status).where(c.c.camera_id == cam.c.id, c.c.at < start)
                   .order_by(c.c.at.desc()).limit(1).scalar_subquery())
    prev_status = case((cam.c.status_since <= start, cam.c.status), else_=last_change)
    base = fetch(conn, select(cam.c.id.label("camera_id"), cam.c.commune_code, cam.c.agency, cam.c.status,
                              tcol(cam.c.status_since, d, "status_since"), prev_status.label("status_at_start")),
                 ("status_since",))
    nxt = func.lead(c.c.at).over(partition_by=c.c.camera_id, order_by=c.c.at)
    inner = select(c.c.camera_id, c.c.status, epoch_expr(c.c.at, d).label("t0"),
                   epoch_expr(nxt, d).label("t1")).where(c.c.at >= start, c.c.at < end).subquery()
    dur = func.coalesce(inner.c.t1, literal(e_ep)) - inner.c.t0
    agg = select(inner.c.camera_id,
                 func.sum(case((inner.c.status == "online", dur), else_=0.0)).label("online_s"),
                 func.sum(case((inner.c.status.in_(("online", "offline", "degraded")), dur),
                               else_=0.0)).label("known_s"),
                 func.min(inner.c.t0).label("first_t")).group_by(inner.c.camera_id)
    ch = fetch(conn, agg)
    df = base.merge(ch, on="camera_id", how="left")
    first_t = df["first_t"].astype(float).fillna(e_ep)
    # the segment before the first change in the window
    st0 = df["status_at_start"].astype(object)
    since = df["status_since"]
    since_ep = (since - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
    # no change before start: registry status holds since status_since (if that is before)
    no_prev = st0.isna()
    has_changes = df["online_s"].notna()
    reg_status = df["status"].astype(object).where(~has_changes, None)
    head_start = np.where(no_prev, np.maximum(np.where(np.isnan(since_ep), np.inf, since_ep), s_ep), s_ep)
    head_status = st0.where(~no_prev, reg_status)
    head_len = np.clip(first_t.to_numpy() - head_start, 0, None)
    head_len = np.where(np.isfinite(head_len), head_len, 0.0)
    head_known = head_status.isin(["online", "offline", "degraded"]).to_numpy()
    head_online = (head_status == "online").to_numpy()
    df["online_s"] = df["online_s"].astype(float).fillna(0.0) + np.where(head_online, head_len, 0.0)
    df["known_s"] = df["known_s"].astype(float).fillna(0.0) + np.where(head_known, head_len, 0.0)
    return df[["camera_id", "commune_code", "agency", "online_s", "known_s"]]


# --- environment ------------------------------------------------------------------------

STATION_COLUMNS = ("id", "name", "kind", "lat", "lon", "commune_code", "properties")


def load_stations(conn: Connection) -> pd.DataFrame:
    t = m.Station.__table__
    return fetch(conn, select(*[t.c[c] for c in STATION_COLUMNS]), raw=False)  # properties: JSON


def load_datastreams(conn: Connection) -> pd.DataFrame:
    t = m.Datastream.__table__
    df = fetch(conn, select(t.c.id, t.c.station_id, t.c.parameter, t.c.unit))
    df["code"] = [kpi_parameter(p) for p in df["parameter"]] if len(df) else pd.Series([], dtype=object)
    return df


def environment_signature(conn: Connection) -> tuple:
    """Cheap fingerprint of the station / datastream catalogue (count, newest update)."""
    st, ds = m.Station.__table__, m.Datastream.__table__
    row = conn.execute(select(*[select(f).select_from(t).scalar_subquery()  # one round trip, not two
                                for t in (st, ds) for f in (func.count(), func.max(t.c.updated_at))])).one()
    return ((row[0], row[1]), (row[2], row[3]))


def load_latest_observations(conn: Connection, as_of: datetime, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Newest observation per datastream (all, or ``ids``) at or before ``as_of``:
    ``datastream_id, phenomenon_time, result`` — one index probe per datastream."""
    if ids is not None:
        ids = list(ids)
        parts = [_latest(conn, as_of, ids[i:i + 500]) for i in range(0, len(ids), 500)]
        return pd.concat(parts, ignore_index=True) if parts else _latest(conn, as_of, [])
    return _latest(conn, as_of, None)


def _latest(conn: Connection, as_of: datetime, ids: list[str] | None) -> pd.DataFrame:
    d = dialect_name(conn)
    o = m.Observation.__table__
    ds = m.Datastream.__table__
    if d == "postgresql":  # one backward index probe per datastream
        last = (select(o.c.phenomenon_time, o.c.result)
                .where(o.c.datastream_id == ds.c.id, o.c.phenomenon_time <= as_of)
                .order_by(o.c.phenomenon_time.desc()).limit(1).lateral("last"))
        stmt = select(ds.c.id.label("datastream_id"), tcol(last.c.phenomenon_time, d, "phenomenon_time"),
                      last.c.result).select_from(ds.join(last, true()))
        if ids is not None:
            stmt = stmt.where(in_list(ds.c.id, ids, d))
        return fetch(conn, stmt, ("phenomenon_time",))
    o2 = o.alias("o2")
    newest = (select(func.max(o2.c.phenomenon_time)).where(o2.c.datastream_id == ds.c.id,
                                                           o2.c.phenomenon_time <= as_of).scalar_subquery())
    stmt = (select(o.c.datastream_id, tcol(o.c.phenomenon_time, d, "phenomenon_time"), o.c.result)
            .select_from(ds.join(o, and_(o.c.datastream_id == ds.c.id, o.c.phenomenon_time == newest))))
    if ids is not None:
        stmt = stmt.where(in_list(ds.c.id, ids, d))
    return fetch(conn, stmt, ("phenomenon_time",))


def load_observations(conn: Connection, datastream_ids: Sequence[str], start: datetime, end: datetime,
                      *, after_id: int | None = None) -> pd.DataFrame:
    """Observations of some datastreams with ``start <= phenomenon_time <= end`` (and
    ``id > after_id``: rows written since an earlier read); with their ``id``."""
    d = dialect_name(conn)
    o = m.Observation.__table__
    if not len(datastream_ids):
        return pd.DataFrame({"id": [], "datastream_id": [],
                             "phenomenon_time": pd.Series([], dtype="datetime64[us, UTC]"), "result": []})
    parts = []
    ids = list(datastream_ids)
    for i in range(0, len(ids), 500):
        stmt = select(o.c.id, o.c.datastream_id, tcol(o.c.phenomenon_time, d, "phenomenon_time"), o.c.result).where(
            in_list(o.c.datastream_id, ids[i:i + 500], d), o.c.phenomenon_time >= start,
            o.c.phenomenon_time <= end)
        if after_id is not None:
            stmt = stmt.where(o.c.id > after_id)
        parts.append(fetch(conn, stmt, ("phenomenon_time",)))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _hour_row(h: pd.Timestamp, arr: np.ndarray, lo: int, pos: int) -> dict:
    """One hour's VN_AQI row from the station's hourly array (columns pm25 pm10 no2 so2 co
    o3): NowCast over rows lo..pos for PM, the hour's own value for the gases."""
    subs: dict[str, int | None] = {}
    nowcasts: dict[str, float | None] = {}
    for j, p in ((0, "pm25"), (1, "pm10")):
        window = arr[lo:pos + 1, j][::-1]
        nc = aqi_mod._nowcast_value([None if x != x else float(x) for x in window])
        nowcasts[p] = nc
        subs[p] = aqi_mod._sub_or_none(p, nc) if nc is not None else None
    for j, p, key in ((2, "no2", "no2"), (3, "so2", "so2"), (4, "co", "co"), (5, "o3", "o3_1h")):
        subs[p] = aqi_mod._sub_or_none(key, arr[pos, j])
    value, dominant = aqi_mod._station_max(subs)
    return {"hour": h, **subs, "aqi": value, "dominant": dominant,
            "nowcast_pm25": nowcasts["pm25"], "nowcast_pm10": nowcasts["pm10"]}


def hourly_aqi_at(station_hourly: pd.DataFrame, hours: Sequence[pd.Timestamp] | None = None,
                  memo: dict | None = None, memo_key: str = "") -> list[dict]:
    """Rows of :func:`ioc.kpi.aqi.hourly_aqi` for some hours only (default: the last
    one), each ``{hour, pm25 … o3, aqi, dominant, nowcast_pm25, nowcast_pm10}``.
    ``memo`` (a dict kept by the caller) reuses an hour whose inputs — the 12-hour PM
    windows and the hour's gases — are unchanged."""
    values, _bad = aqi_mod._prepare_frame(station_hourly, "station_hourly")
    if len(values) == 0:
        return []
    idx = values.index
    i8 = idx.asi8
    wanted = [idx[-1]] if hours is None else [ts(h) for h in hours]
    arr = values[list(aqi_mod.FRAME_COLUMNS)].to_numpy(dtype=float)  # pm25 pm10 no2 so2 co o3
    out = []
    for h in wanted:
        pos = int(np.searchsorted(i8, h.value))
        if pos >= len(i8) or i8[pos] != h.value:
            continue
        lo = max(0, pos - 11)
        key = None
        if memo is not None:
            key = (memo_key, h.value, arr[lo:pos + 1, :2].tobytes(), arr[pos, 2:].tobytes(), pos - lo)
            hit = memo.get(key)
            if hit is not None:
                out.append(hit)
                continue
        row = _hour_row(h, arr, lo, pos)
        if key is not None:
            memo[key] = row
        out.append(row)
    return out


class AirGrid:
    """Hourly means (µg/m³) of every air station on one UTC hourly grid, as numpy:
    ``values[sid]`` is an (hours × 6) array in :data:`aqi.FRAME_COLUMNS` order with NaN
    for missing, invalid (negative, infinite, above :data:`aqi.PLAUSIBLE_MAX`) or
    unconvertible values. ``first``/``last`` are each station's first and last hour with
    data — the range the per-station functions reindex to, so results match them."""

    COLS = aqi_mod.FRAME_COLUMNS

    def __init__(self, observations: pd.DataFrame, datastreams: pd.DataFrame, start: pd.Timestamp,
                 end: pd.Timestamp) -> None:
        self.start = ts(start).floor("h")
        self.hours = int((ts(end).floor("h") - self.start) / pd.Timedelta(hours=1)) + 1
        self.grid = pd.date_range(self.start, periods=self.hours, freq="h", tz="UTC")
        self.values: dict[str, np.ndarray] = {}
        self.raw: dict[str, np.ndarray] = {}  # negatives masked only (what air_exceedances judges)
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        if len(observations) == 0:
            return
        ds = datastreams[datastreams["code"].isin(AIR_PARAMETERS)]
        if ds.empty:
            return
        # integer code per (station, parameter, unit); unconvertible units dropped
        triples: dict[tuple, int] = {}
        ds_code: dict[str, int] = {}
        factor: list[float] = []
        for i, st, c, u in zip(*(ds[k].to_numpy(dtype=object).tolist() for k in ("id", "station_id", "code", "unit"))):
            u = u or ""
            try:
                f = float(to_ugm3(1.0, u if u else "µg/m³", c))
            except ValueError:
                continue
            key = (str(st), c, u)
            if key not in triples:
                triples[key] = len(triples)
                factor.append(f)
            ds_code[str(i)] = triples[key]
        # hash lookup of each row's datastream (Series.map with a dict goes row by row)
        pos = pd.Index(list(ds_code)).get_indexer(observations["datastream_id"].astype(str))
        codes = np.where(pos >= 0, np.asarray(list(ds_code.values()) + [0], dtype=float)[pos], np.nan)
        res = observations["result"].to_numpy(dtype=float)
        t = observations["phenomenon_time"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        hour = (t - self.start.value // 1000) // 3_600_000_000
        keep = ~np.isnan(codes) & np.isfinite(res) & (hour >= 0) & (hour < self.hours)
        if not keep.any():
            return
        codes = codes[keep].astype(np.int64)
        hour = hour[keep]
        res = res[keep] * np.asarray(factor)[codes]
        # hourly mean per (station, parameter, unit), then across units (as air_station_hourly)
        n_t = len(triples)
        flat = codes * self.hours + hour
        sums = np.bincount(flat, weights=res, minlength=n_t * self.hours)
        cnts = np.bincount(flat, minlength=n_t * self.hours)
        with np.errstate(invalid="ignore", divide="ignore"):
            unit_means = (sums / cnts).reshape(n_t, self.hours)
        has = (cnts > 0).reshape(n_t, self.hours)
        by_sp: dict[tuple[str, int], list[int]] = {}
        for (st, c, _u), k in triples.items():
            by_sp.setdefault((st, self.COLS.index(c)), []).append(k)
        stations: dict[str, np.ndarray] = {}
        for (st, j), ks in by_sp.items():
            if not has[ks].any():
                continue
            arr = stations.setdefault(st, np.full((self.hours, len(self.COLS)), np.nan))
            if len(ks) == 1:
                arr[:, j] = unit_means[ks[0]]
            else:
                with np.errstate(invalid="ignore"):
                    arr[:, j] = np.nanmean(np.where(has[ks], unit_means[ks], np.nan), axis=0)
        ceil = np.array([aqi_mod.PLAUSIBLE_MAX[c] for c in self.COLS])
        for st in sorted(stations):
            arr = stations[st]
            present = np.flatnonzero(~np.isnan(arr).all(axis=1))
            if not len(present):
                continue
            self.raw[st] = np.where(arr < 0, np.nan, arr)
            self.values[st] = np.where((arr < 0) | np.isinf(arr) | (arr > ceil), np.nan, arr)
            self.first[st] = int(present[0])
            self.last[st] = int(present[-1])

    def _local_days(self, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray, list[date]]:
        """Per grid hour: local day code (and the day code of the hour − 7 h, the label
        of an 8-hour window ending there); codes index the returned list of dates."""
        hit = getattr(self, "_days_cache", None)
        if hit is not None and hit[0] == zone.key:
            return hit[1], hit[2], hit[3]
        d1 = pd.Index(self.grid.tz_convert(zone).date)
        d8 = pd.Index((self.grid - pd.Timedelta(hours=7)).tz_convert(zone).date)
        uniq = sorted(set(d1) | set(d8))
        pos = {d: i for i, d in enumerate(uniq)}
        c1 = np.array([pos[d] for d in d1], dtype=np.int64)
        c8 = np.array([pos[d] for d in d8], dtype=np.int64)
        self._days_cache = (zone.key, c1, c8, uniq)
        return c1, c8, uniq

    def frame(self, sid: str) -> pd.DataFrame | None:
        """The station's wide frame over its own first..last range (for the plain functions)."""
        if sid not in self.values:
            return None
        a, b = self.first[sid], self.last[sid]
        return pd.DataFrame(self.values[sid][a:b + 1], index=self.grid[a:b + 1].rename("hour"), columns=list(self.COLS))

    def hourly_aqi(self, sid: str, last_n: int, memo: dict | None = None) -> list[dict]:
        """:func:`hourly_aqi_at` for the station's last ``last_n`` hours (of its range)."""
        if sid not in self.values:
            return []
        arr = self.values[sid]
        a, b = self.first[sid], self.last[sid]
        out = []
        hours = getattr(self, "_hours_list", None)
        if hours is None:
            hours = self._hours_list = list(self.grid)  # Timestamps once, not one index lookup per row
        for pos in range(max(a, b - last_n + 1), b + 1):
            lo = max(a, pos - 11)
            key = None
            h = hours[pos]
            if memo is not None:
                key = (sid, h.value, arr[lo:pos + 1, :2].tobytes(), arr[pos, 2:].tobytes())
                hit = memo.get(key)
                if hit is not None:
                    out.append(hit)
                    continue
            row = _hour_row(h, arr, lo, pos)
            if key is not None:
                memo[key] = row
            out.append(row)
        return out

    def exceedances_days(self, sid: str, first_day: date, last_day: date, tz: str | ZoneInfo,
                         min_hours_24h: int = 18, min_hours_8h: int = 6) -> list[dict]:
        """:func:`environment.air_exceedances` (default limits) for one station, local days
        ``first_day`` … ``last_day`` (same rows, same order), in one pass per pollutant."""
        from ioc.kpi.environment import AIR_LIMITS_QCVN05_2023 as limits

        if sid not in self.raw:
            return []
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
        c1, c8, uniq = self._local_days(zone)
        a, b = self.first[sid], self.last[sid]
        arr = self.raw[sid][a:b + 1]
        d1, d8 = c1[a:b + 1], c8[a:b + 1]
        inday = np.array([first_day <= d <= last_day for d in uniq])
        in1, in8 = inday[d1], inday[d8]
        grid = self.grid[a:b + 1]
        at8 = grid - pd.Timedelta(hours=7)
        out: list[dict] = []
        for param, per in limits.items():
            if param not in self.COLS:
                continue
            col = arr[:, self.COLS.index(param)]
            if np.isnan(col).all():
                continue
            for averaging, lim in per.items():
                if averaging == "24h":
                    ok = ~np.isnan(col) & in1
                    cnt = np.bincount(d1[ok], minlength=len(uniq))
                    for k in np.flatnonzero(cnt >= min_hours_24h):
                        mean = float(pd.Series(col[ok & (d1 == k)]).mean())
                        if mean > lim.value:
                            out.append({"station_id": sid, "parameter": param, "averaging": "24h", "date": uniq[k],
                                        "max_value": round(mean, 3), "limit": lim.value, "exceed_count": 1,
                                        "first_at": None})
                    continue
                if averaging == "1h":
                    vals, sel, at, dd = col, in1, grid, d1
                else:
                    vals = pd.Series(col).rolling(8, min_periods=min_hours_8h).mean().to_numpy()
                    sel, at, dd = in8, at8, d8
                ex = np.flatnonzero(sel & (vals > lim.value))
                if not len(ex):
                    continue
                for k in np.unique(dd[ex]):
                    w = ex[dd[ex] == k]
                    out.append({"station_id": sid, "parameter": param, "averaging": averaging, "date": uniq[k],
                                "max_value": round(float(np.max(vals[w])), 3), "limit": lim.value,
                                "exceed_count": int(len(w)), "first_at": at[w[0]].to_pydatetime()})
        return out

    def daily_aqi(self, sid: str, tz: str | ZoneInfo, min_pm_hours: int = aqi_mod.DAILY_PM_MIN_HOURS,
                  min_o3_8h_hours: int = aqi_mod.O3_8H_MIN_HOURS) -> dict[date, dict]:
        """:func:`aqi.daily_aqi` of one station: ``{local date: {pm25 … o3, aqi,
        dominant, hours}}`` — day reductions with bincount over the grid."""
        if sid not in self.values:
            return {}
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
        c1, _c8, uniq = self._local_days(zone)
        a, b = self.first[sid], self.last[sid]
        v = self.values[sid][a:b + 1]
        d = c1[a:b + 1]
        nd = len(uniq)
        ok = ~np.isnan(v)
        hours = np.bincount(d, weights=ok.any(axis=1).astype(float), minlength=nd)
        o3_8h = pd.Series(v[:, 5]).rolling(8, min_periods=min_o3_8h_hours).mean().to_numpy()
        o3_8h = np.where(o3_8h <= aqi_mod.BREAKPOINTS["o3_8h"][-1], o3_8h, np.nan)

        def day_max(x):
            m_ = np.full(nd, -np.inf)
            good = ~np.isnan(x)
            np.maximum.at(m_, d[good], x[good])
            return np.where(np.isinf(m_), np.nan, m_)

        cnt = {j: np.bincount(d[ok[:, j]], minlength=nd) for j in range(6)}
        out: dict[date, dict] = {}
        for k in np.flatnonzero(hours > 0):
            out[uniq[k]] = {}
        if not out:
            return {}
        pm_mean = {}
        for j, p in ((0, "pm25"), (1, "pm10")):
            pm_mean[p] = {k: float(pd.Series(v[(d == k) & ok[:, j], j]).mean())
                          for k in np.flatnonzero(cnt[j] >= min_pm_hours)}
        maxes = {j: day_max(v[:, j]) for j in (2, 3, 4, 5)}
        m8 = day_max(o3_8h)
        for k in np.flatnonzero(hours > 0):
            subs: dict[str, int | None] = {}
            for p in ("pm25", "pm10"):
                subs[p] = aqi_mod._sub_or_none(p, pm_mean[p][k]) if k in pm_mean[p] else None
            for j, p in ((2, "no2"), (3, "so2"), (4, "co")):
                subs[p] = aqi_mod._sub_or_none(p, float(maxes[j][k])) if cnt[j][k] else None
            a1 = aqi_mod._sub_or_none("o3_1h", float(maxes[5][k])) if cnt[5][k] else None
            a8 = aqi_mod._sub_or_none("o3_8h", float(m8[k])) if not np.isnan(m8[k]) else None
            cands = [x for x in (a1, a8) if x is not None]
            subs["o3"] = max(cands) if cands else None
            value, dominant = aqi_mod._station_max(subs)
            out[uniq[k]] = {**subs, "aqi": value, "dominant": dominant, "hours": int(hours[k])}
        return out

    def exceedances_day_all(self, day: date, tz: str | ZoneInfo, min_hours_24h: int = 18,
                            min_hours_8h: int = 6) -> list[dict]:
        """:meth:`exceedances_day` of every station (in sorted order), concatenated: one
        numpy pass per limit over all stations instead of one per station."""
        from ioc.kpi.environment import AIR_LIMITS_QCVN05_2023 as limits

        sids = sorted(self.raw)
        if not sids:
            return []
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
        key = (zone.key, day)
        if getattr(self, "_days_key", None) != key:
            self._days_key = key
            self._today = np.asarray(self.grid.tz_convert(zone).date) == day
            self._label8 = np.asarray((self.grid - pd.Timedelta(hours=7)).tz_convert(zone).date) == day
        today, label8 = self._today, self._label8
        pos = np.arange(self.hours)
        first = np.array([self.first[s] for s in sids])[:, None]
        last = np.array([self.last[s] for s in sids])[:, None]
        inrange = (pos[None, :] >= first) & (pos[None, :] <= last)  # each station's own first..last
        raw = np.stack([self.raw[s] for s in sids])
        rows: list[list[dict]] = [[] for _ in sids]
        at8 = self.grid - pd.Timedelta(hours=7)
        for param, per in limits.items():
            if param not in self.COLS:
                continue
            v = np.where(inrange, raw[:, :, self.COLS.index(param)], np.nan)
            has = ~np.isnan(v).all(axis=1)
            for averaging, lim in per.items():
                if averaging == "24h":
                    t = v[:, today]
                    enough = has & ((~np.isnan(t)).sum(axis=1) >= min_hours_24h)
                    for i in np.flatnonzero(enough):
                        mean = float(np.mean(t[i][~np.isnan(t[i])]))
                        if mean > lim.value:
                            rows[i].append({"station_id": sids[i], "parameter": param, "averaging": "24h",
                                            "date": day, "max_value": round(mean, 3), "limit": lim.value,
                                            "exceed_count": 1, "first_at": None})
                    continue
                if averaging == "1h":
                    vals, sel, at = v, today, self.grid
                else:
                    vals = np.where(inrange, rolling_mean(v, 8, min_hours_8h), np.nan)
                    sel, at = label8, at8
                with np.errstate(invalid="ignore"):
                    ex = sel[None, :] & (vals > lim.value)
                for i in np.flatnonzero(has & ex.any(axis=1)):
                    where = np.flatnonzero(ex[i])
                    rows[i].append({"station_id": sids[i], "parameter": param, "averaging": averaging, "date": day,
                                    "max_value": round(float(np.max(vals[i, where])), 3), "limit": lim.value,
                                    "exceed_count": int(len(where)), "first_at": at[where[0]].to_pydatetime()})
        return [r for per_station in rows for r in per_station]

    def exceedances_day(self, sid: str, day: date, tz: str | ZoneInfo, min_hours_24h: int = 18,
                        min_hours_8h: int = 6) -> list[dict]:
        """:func:`environment.air_exceedances` (default limits) for one station and local day.
        Note: like the plain function, negative values count as missing here while
        implausibly high ones are kept (it does not apply PLAUSIBLE_MAX)."""
        from ioc.kpi.environment import AIR_LIMITS_QCVN05_2023 as limits

        if sid not in self.raw:
            return []
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
        a, b = self.first[sid], self.last[sid]
        arr = self.raw[sid][a:b + 1]
        grid = self.grid[a:b + 1]
        key = (zone.key, day)
        if getattr(self, "_days_key", None) != key:
            self._days_key = key
            self._today = np.asarray(self.grid.tz_convert(zone).date) == day
            self._label8 = np.asarray((self.grid - pd.Timedelta(hours=7)).tz_convert(zone).date) == day
        today = self._today[a:b + 1]
        label8 = self._label8[a:b + 1]
        at8 = grid - pd.Timedelta(hours=7)
        out: list[dict] = []
        for param, per in limits.items():
            if param not in self.COLS:
                continue
            col = arr[:, self.COLS.index(param)]
            if np.isnan(col).all():
                continue
            for averaging, lim in per.items():
                if averaging == "24h":
                    ok = col[today]
                    ok = ok[~np.isnan(ok)]
                    if len(ok) >= min_hours_24h:
                        mean = float(np.mean(ok))  # what Series.mean computes (a pairwise sum / n)
                        if mean > lim.value:
                            out.append({"station_id": sid, "parameter": param, "averaging": "24h", "date": day,
                                        "max_value": round(mean, 3), "limit": lim.value, "exceed_count": 1,
                                        "first_at": None})
                    continue
                if averaging == "1h":
                    vals, sel, at = col, today, grid
                else:
                    vals = rolling_mean(col, 8, min_hours_8h)
                    sel, at = label8, at8
                ex = sel & (vals > lim.value)
                if ex.any():
                    where = np.flatnonzero(ex)
                    out.append({"station_id": sid, "parameter": param, "averaging": averaging, "date": day,
                                "max_value": round(float(np.max(vals[where])), 3), "limit": lim.value,
                                "exceed_count": int(len(where)), "first_at": at[where[0]].to_pydatetime()})
        return out


def rolling_mean(col: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """``Series(col).rolling(window, min_periods).mean()`` in numpy (NaN = missing): the
    mean of the present values of each trailing window, NaN with fewer than
    ``min_periods`` of them (equal to pandas' up to float rounding in the last bits)."""
    col = np.asarray(col, dtype=float)  # 1-d, or 2-d with one series per row
    pad = np.concatenate([np.full(col.shape[:-1] + (window - 1,), np.nan), col], axis=-1)
    win = np.lib.stride_tricks.sliding_window_view(pad, window, axis=-1)
    present = (~np.isnan(win)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(win, axis=-1) / present
    return np.where(present >= min_periods, mean, np.nan)


def daily_aqi_fast(
    station_hourly: pd.DataFrame,
    tz: str | ZoneInfo,
    min_pm_hours: int = aqi_mod.DAILY_PM_MIN_HOURS,
    min_o3_8h_hours: int = aqi_mod.O3_8H_MIN_HOURS,
) -> dict[date, dict]:
    """:func:`ioc.kpi.aqi.daily_aqi` with one groupby instead of a loop over days:
    ``{local date: {pm25 … o3, aqi, dominant, hours}}`` (days without data omitted)."""
    values, _bad = aqi_mod._prepare_frame(station_hourly, "station_hourly")
    if len(values) == 0:
        return {}
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    o3_8h = values["o3"].rolling(8, min_periods=min_o3_8h_hours).mean()
    o3_8h = o3_8h.where(o3_8h <= aqi_mod.BREAKPOINTS["o3_8h"][-1])
    days = pd.Index(values.index.tz_convert(zone).date)
    g = values.groupby(days)
    hours = values.notna().any(axis=1).groupby(days).sum()
    counts = g.count()
    means = g.mean()
    maxes = g.max()
    o3_8h_max = o3_8h.groupby(days).max()
    out: dict[date, dict] = {}
    for day in hours.index:
        if int(hours.loc[day]) == 0:
            continue
        subs: dict[str, int | None] = {}
        for p in ("pm25", "pm10"):
            subs[p] = aqi_mod._sub_or_none(p, float(means.at[day, p])) if counts.at[day, p] >= min_pm_hours else None
        for p in ("no2", "so2", "co"):
            subs[p] = aqi_mod._sub_or_none(p, float(maxes.at[day, p])) if counts.at[day, p] else None
        a1 = aqi_mod._sub_or_none("o3_1h", float(maxes.at[day, "o3"])) if counts.at[day, "o3"] else None
        e8 = o3_8h_max.get(day)
        a8 = aqi_mod._sub_or_none("o3_8h", float(e8)) if e8 is not None and not math.isnan(e8) else None
        cands = [a for a in (a1, a8) if a is not None]
        subs["o3"] = max(cands) if cands else None
        value, dominant = aqi_mod._station_max(subs)
        out[day] = {**subs, "aqi": value, "dominant": dominant, "hours": int(hours.loc[day])}
    return out


def stations_offline_latest(stations: pd.DataFrame, datastreams: pd.DataFrame, latest: Mapping[str, tuple],
                            as_of: datetime) -> list[dict]:
    """:func:`environment.stations_offline` (default max ages) from the newest-value map
    ``{datastream id: (phenomenon time in µs since 1970 UTC, value)}``: same rows, same
    order, without a groupby over a frame each snapshot."""
    now = ts(as_of)
    now_us = now.value // 1000
    last: dict[str, int] = {}
    # plain lists: iterating pandas' string arrays goes element by element through __getitem__
    for ds_id, sid in zip(datastreams["id"].astype(str).tolist(), datastreams["station_id"].astype(str).tolist()):
        v = latest.get(ds_id)
        if v is not None and v[0] <= now_us and v[0] > last.get(sid, -(2 ** 62)):
            last[sid] = v[0]
    out = []

    def col(c):
        return stations[c].to_numpy(dtype=object).tolist() if c in stations.columns else [None] * len(stations)

    for sid, name, kind, commune in zip(stations["id"].astype(str).tolist(), col("name"), col("kind"),
                                        col("commune_code")):
        max_age = DEFAULT_OFFLINE_MAX_AGE if kind is None else DEFAULT_MAX_AGE_BY_KIND.get(kind, DEFAULT_OFFLINE_MAX_AGE)
        if max_age is None:
            continue
        t = last.get(sid)
        if t is not None and now_us - t <= max_age // timedelta(microseconds=1):
            continue
        at = None if t is None else pd.Timestamp(t * 1000, tz="UTC")
        out.append({"station_id": sid, "name": py(name), "kind": kind, "commune_code": py(commune),
                    "last_at": at.to_pydatetime() if at is not None else None,
                    "hours_since": round((now - at).total_seconds() / 3600.0, 2) if at is not None else None,
                    "max_age_hours": round(max_age.total_seconds() / 3600.0, 2)})
    out.sort(key=lambda r: (r["last_at"] is None, r["last_at"] or now))
    return out



def water_exceedances_latest(latest: pd.DataFrame,
                             limits: Mapping[str, Mapping] = WATER_LIMITS_QCVN08_2023_B) -> list[dict]:
    """:func:`environment.water_exceedances` vectorised, for latest values
    (``station_id, code, at, value``); same rows, same order (station, time)."""
    if latest is None or not len(latest):
        return []
    codes = latest["code"].to_numpy(dtype=object)
    vals = latest["value"].to_numpy(dtype=float)
    judged = np.isfinite(vals) & (vals >= 0)  # negatives are not judged
    bad = np.zeros(len(latest), dtype=bool)
    for code, spec in limits.items():
        sel = judged & (codes == code)
        if not sel.any():
            continue
        x = vals[sel]
        if spec["kind"] == "max":
            b = x > spec["value"]
        elif spec["kind"] == "min":
            b = x < spec["value"]
        elif spec["kind"] == "range":
            b = ~((spec["low"] <= x) & (x <= spec["high"]))
        else:
            raise ValueError(f"unknown limit kind {spec['kind']!r} for {code}")
        bad[sel] = b
    idx = np.flatnonzero(bad)
    if not len(idx):
        return []
    sids = latest["station_id"].to_numpy(dtype=object)[idx].tolist()
    at_us = _i8(latest["at"])[idx].tolist()
    order = sorted(range(len(idx)), key=lambda i: (sids[i], at_us[i]))  # stable, as sort_values
    out = []
    for i in order:
        code = codes[idx[i]]
        spec = limits[code]
        lim = [spec["low"], spec["high"]] if spec["kind"] == "range" else spec["value"]
        out.append({"station_id": str(sids[i]), "parameter": code, "at": _EPOCH + timedelta(microseconds=at_us[i]),
                    "value": float(vals[idx[i]]), "limit": lim, "kind": spec["kind"], "unit": spec.get("unit")})
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def water_exceedance_counts(conn: Connection, start: datetime, end: datetime,
                            limits: Mapping[str, Mapping] = WATER_LIMITS_QCVN08_2023_B) -> pd.DataFrame:
    """Observations in ``[start, end)`` outside the surface-water limits, counted in SQL
    per station and parameter (same rule as :func:`environment.water_exceedances`:
    negative values are not judged). Returns ``station_id, parameter, observations,
    exceedances``."""
    o = m.Observation.__table__
    ds = m.Datastream.__table__
    st = m.Station.__table__
    stored = [r[0] for r in conn.execute(select(ds.c.parameter).distinct()).all()]
    by_code: dict[str, list[str]] = {}
    for p in stored:
        code = kpi_parameter(p)
        if code in limits:
            by_code.setdefault(code, []).append(p)
    if not by_code:
        return pd.DataFrame({"station_id": [], "parameter": [], "observations": [], "exceedances": []})
    whens = []
    for code, raws in by_code.items():
        spec = limits[code]
        r = o.c.result
        if spec["kind"] == "max":
            bad = r > spec["value"]
        elif spec["kind"] == "min":
            bad = r < spec["value"]
        else:
            bad = or_(r < spec["low"], r > spec["high"])
        whens.append((and_(ds.c.parameter.in_(raws), bad), 1))
    stmt = (select(ds.c.station_id, ds.c.parameter, func.count().label("observations"),
                   func.sum(case(*whens, else_=0)).label("exceedances"))
            .select_from(o.join(ds, ds.c.id == o.c.datastream_id).join(st, st.c.id == ds.c.station_id))
            .where(o.c.phenomenon_time >= start, o.c.phenomenon_time < end, o.c.result >= 0,
                   ds.c.parameter.in_([p for ps in by_code.values() for p in ps]),
                   st.c.kind.in_(("water", "iot_water")))
            .group_by(ds.c.station_id, ds.c.parameter))
    df = fetch(conn, stmt)
    if len(df):
        df["parameter"] = df["parameter"].map(kpi_parameter)
        df["exceedances"] = df["exceedances"].fillna(0).astype(int)
        df["observations"] = df["observations"].astype(int)
    return df


# --- QĐ 766 -----------------------------------------------------------------------------
#
# Additive counts per (agency, commune_code): a period's received/finished populations
# are sums over its days or months, so closed months can be cached and only the current
# part recomputed. The one non-additive figure — unfinished dossiers past their effective
# due time at as_of — is counted live (:func:`qd766_overdue`).

RECEIVED_COUNTS = ("received", "online", "post", "in_person", "fee_bearing", "fee_paid", "fee_paid_unknown",
                   "unknown_procedure", "digitised", "digitised_unknown", "reused", "reused_unknown")
FINISHED_COUNTS = ("finished", "judged", "on_time", "days_sum", "electronic", "electronic_unknown", "unhappy")
ALL_COUNTS = RECEIVED_COUNTS + FINISHED_COUNTS + ("overdue_unfinished",)
GROUP_COLS = ("agency", "commune_code")


def _keys():
    """(agency, commune_code) as grouping expressions. ``coalesce(x, x)`` is x, but not an
    index key: otherwise SQLite walks the whole table in agency-index order to avoid
    sorting the groups, instead of searching the time range (a full scan)."""
    t = m.Dossier.__table__
    a = func.coalesce(t.c.agency, t.c.agency)
    c = func.coalesce(t.c.commune_code, t.c.commune_code)
    return a, c


def _n(cond):
    return func.sum(case((cond, 1), else_=0))


def _wait_h():
    """Supplement wait in hours, NULL/negative → 0 (as qd766._prepare)."""
    w = func.coalesce(m.Dossier.__table__.c.supplement_wait_hours, 0.0)
    return case((w > 0, w), else_=0.0)


def _on_time_expr(dialect: str):
    t = m.Dossier.__table__
    w = _wait_h()
    plain = t.c.finished_at <= t.c.due_at
    shifted = epoch_expr(t.c.finished_at, dialect) <= epoch_expr(t.c.due_at, dialect) + w * 3600.0
    within = case((w > 0, case((shifted, 1), else_=0)), else_=case((plain, 1), else_=0)) == 1
    return and_(t.c.due_at.is_not(None), within, func.coalesce(t.c.supplement_requests, 0) <= 1)


def qd766_received(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Received-population counts of dossiers with ``start <= received_at < end``."""
    t = m.Dossier.__table__
    p = m.Procedure.__table__
    ch = t.c.channel
    fee = p.c.has_fee.is_(True)
    ka, kc = _keys()
    stmt = (select(ka.label("agency"), kc.label("commune_code"),
                   func.count().label("received"),
                   _n(ch == 2).label("online"),
                   _n(ch == 3).label("post"),
                   _n(or_(ch == 1, ch.is_(None))).label("in_person"),
                   _n(fee).label("fee_bearing"),
                   _n(and_(fee, t.c.paid_online.is_(True))).label("fee_paid"),
                   _n(and_(fee, t.c.paid_online.is_(None))).label("fee_paid_unknown"),
                   _n(p.c.code.is_(None)).label("unknown_procedure"),
                   _n(t.c.digitised.is_(True)).label("digitised"),
                   _n(t.c.digitised.is_(None)).label("digitised_unknown"),
                   _n(t.c.data_reused.is_(True)).label("reused"),
                   _n(t.c.data_reused.is_(None)).label("reused_unknown"))
            .select_from(t.outerjoin(p, p.c.code == t.c.procedure_code))
            .where(t.c.received_at >= start, t.c.received_at < end)
            .group_by(ka, kc))
    return fetch(conn, stmt)


def qd766_finished(conn: Connection, start: datetime, end: datetime, as_of: datetime) -> pd.DataFrame:
    """Finished-population counts: ``start <= finished_at < end`` and ``finished_at <= as_of``."""
    d = dialect_name(conn)
    t = m.Dossier.__table__
    w = _wait_h()
    if d == "sqlite":  # julianday() parses text: once per column and row
        days = func.max((func.julianday(t.c.finished_at) - func.julianday(t.c.received_at)) - w / 24.0, 0.0)
    else:
        days = func.greatest((epoch_expr(t.c.finished_at, d) - epoch_expr(t.c.received_at, d)) / 86400.0 - w / 24.0,
                             0.0)
    unhappy = or_(t.c.complaint.is_(True), t.c.satisfaction <= 2)
    ka, kc = _keys()
    stmt = (select(ka.label("agency"), kc.label("commune_code"),
                   func.count().label("finished"),
                   _n(t.c.due_at.is_not(None)).label("judged"),
                   _n(_on_time_expr(d)).label("on_time"),
                   func.sum(days).label("days_sum"),
                   _n(t.c.electronic_result.is_(True)).label("electronic"),
                   _n(t.c.electronic_result.is_(None)).label("electronic_unknown"),
                   _n(unhappy).label("unhappy"))
            .where(t.c.finished_at.is_not(None), t.c.finished_at >= start, t.c.finished_at < end,
                   t.c.finished_at <= as_of)
            .group_by(ka, kc))
    return fetch(conn, stmt)


def _overdue_where(conn: Connection, end: datetime, as_of: datetime) -> list:
    """Two condition sets (finished_at NULL; finished later than as_of): two index searches
    rather than an OR, which SQLite answers with a scan."""
    d = dialect_name(conn)
    t = m.Dossier.__table__
    w = _wait_h()
    now_ep = ts(as_of).timestamp()
    passed = case((w > 0, case((epoch_expr(t.c.due_at, d) + w * 3600.0 < now_ep, 1), else_=0)),
                  else_=case((t.c.due_at < as_of, 1), else_=0)) == 1
    # SQLite: coalesce(x, x) is the same value but not an index key, so the planner searches
    # the (finished_at, received_at, due_at) index rather than received_at's; PostgreSQL
    # uses the plain column as a condition inside that index
    received = func.coalesce(t.c.received_at, t.c.received_at) if d == "sqlite" else t.c.received_at
    return [(unfinished, received < end, t.c.due_at.is_not(None), t.c.due_at < as_of, passed)
            for unfinished in (t.c.finished_at.is_(None), t.c.finished_at > as_of)]


def qd766_overdue(conn: Connection, end: datetime, as_of: datetime) -> pd.DataFrame:
    """Unfinished at ``as_of`` (finished_at NULL or later), received before ``end``, past
    the effective due time (due_at + supplement wait) at ``as_of``, per (agency, commune)."""
    parts = []
    for where in _overdue_where(conn, end, as_of):
        ka, kc = _keys()
        stmt = (select(ka.label("agency"), kc.label("commune_code"), func.count().label("overdue_unfinished"))
                .where(*where).group_by(ka, kc))
        parts.append(fetch(conn, stmt))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({"agency": [], "commune_code": [], "overdue_unfinished": []})
    return pd.concat(parts, ignore_index=True)


def qd766_overdue_total(conn: Connection, end: datetime, as_of: datetime) -> int:
    """:func:`qd766_overdue` summed: the province's count (a previous period needs no more)."""
    return sum(int(conn.execute(select(func.count()).select_from(m.Dossier.__table__).where(*where)).scalar() or 0)
               for where in _overdue_where(conn, end, as_of))


def combine_counts(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Sum count frames (any mix of received/finished/overdue, raw SQL rows or earlier
    results) per (agency, commune_code), keys normalised as :func:`qd766.report` groups
    them (missing/blank → "unknown"). Result: indexed by (agency, commune_code), one
    float column per count in :data:`ALL_COUNTS`."""
    parts = []
    for f in frames:
        if f is None or not len(f):
            continue
        if isinstance(f.index, pd.MultiIndex):
            parts.append(f)
            continue
        f = f.assign(agency=group_keys(f["agency"]), commune_code=group_keys(f["commune_code"]))
        cols = [c for c in ALL_COUNTS if c in f.columns]
        num = {c: (pd.to_numeric(f[c], errors="coerce") if f[c].dtype == object else f[c]).astype(float) for c in cols}
        g = pd.DataFrame(num, index=f.index).groupby([f["agency"], f["commune_code"]], sort=False).sum()
        parts.append(g)
    if not parts:
        idx = pd.MultiIndex.from_tuples([], names=list(GROUP_COLS))
        return pd.DataFrame({c: pd.Series([], dtype=float) for c in ALL_COUNTS}, index=idx)
    if len(parts) == 1:
        return parts[0].reindex(columns=list(ALL_COUNTS)).fillna(0.0)
    both = pd.concat([p.reindex(columns=list(ALL_COUNTS)) for p in parts])
    return both.groupby(level=[0, 1], sort=False).sum().fillna(0.0)


def qd766_from_counts(c: Mapping[str, float]) -> dict:
    """The :func:`ioc.kpi.qd766.indicators` dict from additive counts (2.2 without its
    median: a median does not add up over months)."""
    g = {k: int(round(float(c.get(k, 0) or 0))) for k in ALL_COUNTS if k != "days_sum"}
    days_sum = float(c.get("days_sum", 0) or 0)
    e = qd766._entry
    judged, on_time, overdue = g["judged"], g["on_time"], g["overdue_unfinished"]
    den21 = judged + overdue
    v21 = pct(on_time, den21)
    ind: dict[str, dict] = {}
    ind["2.1"] = e("2.1", v21, on_time, den21, late_finished=judged - on_time, overdue_unfinished=overdue,
                   no_due=g["finished"] - judged)
    fin = g["finished"]
    ind["2.2"] = {"value": round(days_sum / fin, 2) if fin else None, "unit": "days", "denominator": fin}
    ind["3.3"] = e("3.3", pct(g["online"], g["received"]), g["online"], g["received"], post=g["post"],
                   in_person=g["in_person"])
    ind["3.6"] = e("3.6", pct(g["fee_paid"], g["fee_bearing"]), g["fee_paid"], g["fee_bearing"],
                   unknown=g["fee_paid_unknown"])
    ind["3.6"]["unknown_procedure"] = g["unknown_procedure"]
    ind["4.1"] = e("4.1", pct(g["electronic"], fin), g["electronic"], fin, unknown=g["electronic_unknown"])
    ind["4.2"] = e("4.2", pct(g["digitised"], g["received"]), g["digitised"], g["received"],
                   unknown=g["digitised_unknown"])
    ind["4.3"] = e("4.3", pct(g["reused"], g["received"]), g["reused"], g["received"], unknown=g["reused_unknown"])
    unhappy_share = pct(g["unhappy"], fin)
    v54 = None if v21 is None or unhappy_share is None else round(max(0.0, 100.0 - ((100.0 - v21) + unhappy_share)), 2)
    ind["5.4"] = e("5.4", v54, None, fin, overdue_rate=None if v21 is None else round(100 - v21, 2),
                   complaint_or_low_satisfaction_pct=unhappy_share)
    scored = [v["score"] for v in ind.values() if v.get("score") is not None]
    return {
        "counts": {"received": g["received"], "finished": fin, "overdue_unfinished": overdue},
        "indicators": ind,
        "score": round(sum(scored), 3) if scored else None,
        "max_score": sum(qd766.INDICATORS[k].max_points for k, v in ind.items()
                         if v.get("score") is not None and qd766.INDICATORS[k].max_points is not None) or None,
    }


def qd766_report_from_counts(counts: pd.DataFrame, *, compact_units: bool = False) -> dict:
    """``{"province": …, "agency": {name: …}, "commune_code": {code: …}}`` like
    :func:`ioc.kpi.qd766.report` from :func:`combine_counts` output. ``compact_units``
    keeps per-unit entries small: counts, score, max_score and value/score per indicator
    (the same values as the full entry, :func:`compact_from_counts`)."""
    cols = list(ALL_COUNTS)
    total = counts[cols].sum() if len(counts) else pd.Series(0.0, index=cols)
    out: dict = {"province": qd766_from_counts(total)}
    unit = compact_from_counts if compact_units else qd766_from_counts
    for col in GROUP_COLS:
        units = {}
        if len(counts):
            g = counts[cols].groupby(level=col, sort=True).sum()
            for k, row in zip(g.index, g.to_dict("records")):
                units[str(k)] = unit(row)
        out[col] = units
    return out


def counts_marginals(counts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per-agency and per-commune sums of :func:`combine_counts` output: all that a report
    needs (the province is the sum of either), and ~100 rows a day instead of every pair."""
    cols = list(ALL_COUNTS)
    out = {}
    for col in GROUP_COLS:
        if len(counts):
            out[col] = counts.reindex(columns=cols).fillna(0.0).groupby(level=col, sort=False).sum()
        else:
            out[col] = pd.DataFrame({c: pd.Series([], dtype=float) for c in cols}, index=pd.Index([], name=col))
    return out


def add_marginals(parts: Iterable[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    parts = list(parts)
    out = {}
    for col in GROUP_COLS:
        fs = [p[col] for p in parts if len(p[col])]
        if not fs:
            out[col] = counts_marginals(pd.DataFrame())[col]
        elif len(fs) == 1:
            out[col] = fs[0]
        else:
            out[col] = pd.concat(fs).groupby(level=0, sort=False).sum()
    return out


def qd766_report_from_marginals(marg: Mapping[str, pd.DataFrame], *, compact_units: bool = False) -> dict:
    """:func:`qd766_report_from_counts` from :func:`counts_marginals` output."""
    cols = list(ALL_COUNTS)
    a = marg["agency"]
    total = a[cols].sum() if len(a) else pd.Series(0.0, index=cols)
    out: dict = {"province": qd766_from_counts(total)}
    unit = compact_from_counts if compact_units else qd766_from_counts
    for col in GROUP_COLS:
        g = marg[col][cols].sort_index()
        if compact_units:
            out[col] = {str(k): compact_from_values(tuple(row)) for k, row in zip(g.index, g.to_numpy().tolist())}
        else:
            out[col] = {str(k): unit(row) for k, row in zip(g.index, g.to_dict("records"))}
    return out


def compact(ind: Mapping) -> dict:
    return {"counts": ind["counts"], "score": ind["score"], "max_score": ind["max_score"],
            "indicators": {k: {"value": v.get("value"), "score": v.get("score")} for k, v in ind["indicators"].items()}}


_MAXP = {c: i.max_points for c, i in qd766.INDICATORS.items()}
_THR = {c: i.threshold_pct for c, i in qd766.INDICATORS.items()}


_COMPACT_MEMO: dict[tuple, dict] = {}


def compact_from_counts(c: Mapping[str, float]) -> dict:
    """``compact(qd766_from_counts(c))`` without building the full entries. Memoised on the
    counts: between two snapshots most units' counts do not change (the result is shared,
    callers must not modify it)."""
    return compact_from_values(tuple(float(c.get(k, 0) or 0) for k in ALL_COUNTS))


def compact_from_values(values: tuple) -> dict:
    """:func:`compact_from_counts` of the counts in :data:`ALL_COUNTS` order."""
    hit = _COMPACT_MEMO.get(values)
    if hit is not None:
        return hit
    if len(_COMPACT_MEMO) > 50_000:
        _COMPACT_MEMO.clear()
    out = _COMPACT_MEMO[values] = _compact_from_counts(dict(zip(ALL_COUNTS, values)))
    return out


def _compact_from_counts(c: Mapping[str, float]) -> dict:
    g = {k: int(round(float(c.get(k, 0) or 0))) for k in ALL_COUNTS if k != "days_sum"}
    fin, recv = g["finished"], g["received"]
    den21 = g["judged"] + g["overdue_unfinished"]
    v21 = pct(g["on_time"], den21)
    unhappy = pct(g["unhappy"], fin)
    vals = {
        "2.1": v21,
        "2.2": round(float(c.get("days_sum", 0) or 0) / fin, 2) if fin else None,
        "3.3": pct(g["online"], recv),
        "3.6": pct(g["fee_paid"], g["fee_bearing"]),
        "4.1": pct(g["electronic"], fin),
        "4.2": pct(g["digitised"], recv),
        "4.3": pct(g["reused"], recv),
        "5.4": None if v21 is None or unhappy is None else round(max(0.0, 100.0 - ((100.0 - v21) + unhappy)), 2),
    }
    ind = {}
    total, max_total = 0.0, 0.0
    any_score = False
    for code, v in vals.items():
        sc = qd766.score(v, _MAXP.get(code), _THR.get(code)) if code in _MAXP else None
        ind[code] = {"value": v, "score": sc}
        if sc is not None:
            any_score = True
            total += sc
            max_total += _MAXP[code] or 0
    return {"counts": {"received": recv, "finished": fin, "overdue_unfinished": g["overdue_unfinished"]},
            "score": round(total, 3) if any_score else None, "max_score": max_total or None, "indicators": ind}


class CountSpace:
    """QĐ 766 additive counts as numpy rows, one per (agency, commune) pair, keyed by a
    growing integer code: summing cached periods is an array addition, not a join on
    text keys. Same results as :func:`combine_counts` + :func:`qd766_report_from_counts`
    (checked in tests)."""

    K = len(ALL_COUNTS)

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}
        self._agency: list[str] = []
        self._commune: list[str] = []
        # per unit column: name → unit code, and the unit code of every pair
        self._unit_ids: dict[str, dict[str, int]] = {"agency": {}, "commune_code": {}}
        self._unit_of: dict[str, list[int]] = {"agency": [], "commune_code": []}

    def __len__(self) -> int:
        return len(self._ids)

    def encode(self, *frames_: pd.DataFrame) -> np.ndarray:
        """Raw count frames (SQL rows with agency, commune_code, count columns) → array."""
        rows: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for f in frames_:
            if f is None or not len(f):
                continue
            block = np.zeros((len(f), self.K))
            for j, c in enumerate(ALL_COUNTS):
                if c in f.columns:
                    block[:, j] = pd.to_numeric(f[c], errors="coerce").fillna(0.0).to_numpy(dtype=float)
            rows.append(self.pair_ids(f["agency"], f["commune_code"]))
            vals.append(block)
        out = np.zeros((len(self._ids), self.K))
        if rows:
            np.add.at(out, np.concatenate(rows), np.vstack(vals))
        return out

    def pair_ids(self, agency: pd.Series, commune: pd.Series) -> np.ndarray:
        """Integer pair code per row (keys normalised like :func:`group_keys`)."""
        ag = group_keys(agency).to_numpy()
        co = group_keys(commune).to_numpy()
        out = np.empty(len(ag), dtype=np.int64)
        ids = self._ids
        for n, (a, c) in enumerate(zip(ag, co)):
            i = ids.get((a, c))
            if i is None:
                i = ids[(a, c)] = len(self._agency)
                self._agency.append(a)
                self._commune.append(c)
                for col, name in (("agency", a), ("commune_code", c)):
                    u = self._unit_ids[col]
                    self._unit_of[col].append(u.setdefault(name, len(u)))
            out[n] = i
        return out

    def encode_rows(self, pairs: np.ndarray, block: np.ndarray) -> np.ndarray:
        """Per-row counts (:func:`qd766_row_counts`) summed per pair code."""
        out = np.zeros((len(self._ids), self.K))
        if len(pairs):
            np.add.at(out, pairs, block)
        return out

    def column(self, column: str, pairs: np.ndarray) -> np.ndarray:
        """Counts of one column from pair codes (one row per counted dossier)."""
        out = np.zeros((len(self._ids), self.K))
        if len(pairs):
            out[:, ALL_COUNTS.index(column)] = np.bincount(pairs, minlength=len(self._ids))
        return out

    def add(self, *arrays: np.ndarray) -> np.ndarray:
        out = np.zeros((len(self._ids), self.K))
        for a in arrays:
            out[: len(a)] += a
        return out

    def _units(self, arr: np.ndarray, col: str) -> dict[str, np.ndarray]:
        codes = np.asarray(self._unit_of[col][: len(arr)], dtype=np.int64)
        names = self._unit_ids[col]
        acc = np.column_stack([np.bincount(codes, weights=arr[:, j], minlength=len(names))
                               for j in range(self.K)]) if len(arr) else np.zeros((0, self.K))
        present = np.bincount(codes, minlength=len(names)) > 0
        return {name: acc[i] for name, i in names.items() if present[i]}

    def report(self, arr: np.ndarray) -> dict:
        """``{"province": full entry, "agency": {…: compact}, "commune_code": {…: compact}}``."""
        total = dict(zip(ALL_COUNTS, arr.sum(axis=0) if len(arr) else np.zeros(self.K)))
        out: dict = {"province": qd766_from_counts(total)}
        for col in ("agency", "commune_code"):
            out[col] = {k: compact_from_values(tuple(v.tolist())) for k, v in
                        sorted(self._units(arr, col).items())} if len(arr) else {}
        return out

    def total(self, arr: np.ndarray) -> dict:
        return dict(zip(ALL_COUNTS, arr.sum(axis=0) if len(arr) else np.zeros(self.K)))


OPEN_DOSSIER_COLUMNS = ("id", "agency", "commune_code", "received_at", "due_at", "finished_at",
                        "supplement_wait_hours", "updated_at")


def _open_select(dialect: str):
    t = m.Dossier.__table__
    times = ("received_at", "due_at", "finished_at", "updated_at")
    return select(*[tcol(t.c[c], dialect) if c in times else t.c[c] for c in OPEN_DOSSIER_COLUMNS])


# The change feed and today's in-memory populations read every column the QĐ 766 counts
# need, so one query serves the unfinished set and today's counts.
DOSSIER_FEED_COLUMNS = OPEN_DOSSIER_COLUMNS + ("procedure_code", "channel", "supplement_requests", "paid_online",
                                              "electronic_result", "digitised", "data_reused", "satisfaction",
                                              "complaint")
_DOSSIER_TIMES = ("received_at", "due_at", "finished_at", "updated_at")


def _feed_select(dialect: str):
    t = m.Dossier.__table__
    return select(*[tcol(t.c[c], dialect) if c in _DOSSIER_TIMES else t.c[c] for c in DOSSIER_FEED_COLUMNS])


def load_dossiers_since(conn: Connection, since: datetime) -> pd.DataFrame:
    """Dossiers received or finished at or after ``since`` (today's QĐ 766 populations),
    with :data:`DOSSIER_FEED_COLUMNS`; two index searches, one row per dossier."""
    d = dialect_name(conn)
    t = m.Dossier.__table__
    parts = [fetch(conn, _feed_select(d).where(cond), _DOSSIER_TIMES)
             for cond in (t.c.received_at >= since, and_(t.c.finished_at.is_not(None), t.c.finished_at >= since))]
    return pd.concat(parts, ignore_index=True).drop_duplicates("id", keep="last")


def procedure_fees(conn: Connection) -> dict[str, bool]:
    """``procedures.code`` → ``has_fee`` (the join of :func:`qd766_received`, in memory)."""
    p = m.Procedure.__table__
    return {str(c): f is True or f == 1 for c, f in conn.execute(select(p.c.code, p.c.has_fee)).all()}


def _flags(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(IS TRUE, IS NULL) of a nullable boolean column as SQL returns it (bools, 0/1 or
    None) — :func:`ioc.kpi._util.bool_series` also parses strings, value by value, too
    slowly for every snapshot."""
    a = s.to_numpy(dtype=object)
    null = pd.isna(a)
    true = np.zeros(len(a), dtype=bool)
    true[~null] = a[~null].astype(bool)
    return true, null


def qd766_row_counts(df: pd.DataFrame, fees: Mapping[str, bool], start: datetime, end: datetime,
                     as_of: datetime) -> np.ndarray:
    """Per dossier (rows of :func:`load_dossiers_since`), its contribution to the counts
    of :func:`qd766_received` + :func:`qd766_finished` over ``[start, end)`` at ``as_of``:
    an (n × len(ALL_COUNTS)) array, the same rules as those SQL statements, evaluated in
    memory (today's part of a live snapshot, kept current from the change feed)."""
    out = np.zeros((len(df), len(ALL_COUNTS)))
    if not len(df):
        return out
    col = {c: i for i, c in enumerate(ALL_COUNTS)}
    s, e, now = ts(start), ts(end), ts(as_of)
    rec = df["received_at"]
    r = ((rec >= s) & (rec < e)).to_numpy(dtype=bool)
    ch = pd.to_numeric(df["channel"], errors="coerce").to_numpy(dtype=float)
    code = df["procedure_code"]
    known = code.isin(list(fees)).to_numpy(dtype=bool)
    fee = code.map(fees).eq(True).to_numpy(dtype=bool)
    paid, paid_null = _flags(df["paid_online"])
    dig, dig_null = _flags(df["digitised"])
    reu, reu_null = _flags(df["data_reused"])
    for name, v in (("received", True), ("online", ch == 2), ("post", ch == 3),
                    ("in_person", (ch == 1) | np.isnan(ch)), ("fee_bearing", fee), ("fee_paid", fee & paid),
                    ("fee_paid_unknown", fee & paid_null), ("unknown_procedure", ~known), ("digitised", dig),
                    ("digitised_unknown", dig_null), ("reused", reu), ("reused_unknown", reu_null)):
        out[:, col[name]] = r & v
    fin = df["finished_at"]
    f = (fin.notna() & (fin >= s) & (fin < e) & (fin <= now)).to_numpy(dtype=bool)
    if not f.any():
        return out
    wait = pd.to_numeric(df["supplement_wait_hours"], errors="coerce").to_numpy(dtype=float)
    w = np.where(wait > 0, wait, 0.0)  # NULL/negative → 0 (as _wait_h)
    due = df["due_at"]
    judged = due.notna().to_numpy(dtype=bool)
    fin_s, due_s, rec_s = (_i8(x) / 1e6 for x in (fin, due, rec))
    with np.errstate(invalid="ignore"):
        within = np.where(w > 0, fin_s <= due_s + w * 3600.0, fin_s <= due_s)
    supp = pd.to_numeric(df["supplement_requests"], errors="coerce").fillna(0).to_numpy(dtype=float)
    on_time = judged & within & (supp <= 1)
    days = np.maximum((fin_s - rec_s) / 86400.0 - w / 24.0, 0.0)
    ele, ele_null = _flags(df["electronic_result"])
    comp, _ = _flags(df["complaint"])
    sat = pd.to_numeric(df["satisfaction"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        unhappy = comp | (sat <= 2)
    for name, v in (("finished", True), ("judged", judged), ("on_time", on_time), ("electronic", ele),
                    ("electronic_unknown", ele_null), ("unhappy", unhappy)):
        out[:, col[name]] = f & v
    out[:, col["days_sum"]] = np.where(f, np.nan_to_num(days), 0.0)
    return out


def load_unfinished(conn: Connection, as_of: datetime) -> pd.DataFrame:
    """Dossiers unfinished at ``as_of`` (finished_at NULL or later) with what the overdue
    count needs; two index searches on finished_at."""
    d = dialect_name(conn)
    t = m.Dossier.__table__
    parts = [fetch(conn, _open_select(d).where(cond),
                   ("received_at", "due_at", "finished_at", "updated_at"))
             for cond in (t.c.finished_at.is_(None), t.c.finished_at > as_of)]
    return pd.concat(parts, ignore_index=True)


def dossier_changes_since(conn: Connection, since: datetime) -> pd.DataFrame:
    """Dossiers updated after ``since`` (``dossiers.updated_at`` is indexed): the change
    feed that keeps the unfinished set and the closed-period caches current."""
    d = dialect_name(conn)
    t = m.Dossier.__table__
    return fetch(conn, _feed_select(d).where(t.c.updated_at > since), _DOSSIER_TIMES)


def overdue_mask(unfinished: pd.DataFrame, end: datetime, as_of: datetime) -> np.ndarray:
    """The rule of :func:`qd766_overdue` on an in-memory unfinished set."""
    if unfinished.empty:
        return np.zeros(0, dtype=bool)
    now = ts(as_of)
    wait = pd.to_numeric(unfinished["supplement_wait_hours"], errors="coerce").fillna(0.0).clip(lower=0.0)
    due_eff = unfinished["due_at"] + pd.to_timedelta(wait.to_numpy(), unit="h")
    fin = unfinished["finished_at"]
    return ((fin.isna() | (fin > now)) & (unfinished["received_at"] < ts(end)) & unfinished["due_at"].notna()
            & (due_eff < now)).to_numpy(dtype=bool)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, n: int) -> date:
    y, mth = divmod(day.month - 1 + n, 12)
    return date(day.year + y, mth + 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> pd.Timestamp:
    return pd.Timestamp(datetime(day.year, day.month, day.day), tz=zone).tz_convert("UTC")


def local_day(t: pd.Timestamp | datetime, zone: ZoneInfo) -> date:
    return ts(t).tz_convert(zone).date()

