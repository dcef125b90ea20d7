"""The hotline's figures set-wise: tickets as numpy columns, many periods and breakdowns
per build. The rules themselves are :func:`ioc.kpi.hotline.ticket_flags` and
:func:`ioc.kpi.hotline.figures`; :class:`TicketFrame` only selects and sums (checked
against :func:`ioc.kpi.hotline.summary` on random data, tests/kpi/test_fast_paths.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ioc.db import models as m
from ioc.kpi import hotline
from ioc.kpi.values import UNKNOWN
from ioc.kpi.calendar import WorkCalendar, default_calendar
from ioc.kpi.dates import NAT_US, micros, ts
from ioc.kpi.sql import dialect_name, fetch, group_keys, tcol

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


def ticket_flags(tickets: pd.DataFrame, now) -> pd.DataFrame:
    """:func:`ioc.kpi.hotline.ticket_flags` of a ticket frame (with ``deadline``, from
    :func:`ticket_deadlines`), judged at ``now``."""
    rc = (pd.to_numeric(tickets["reopened_count"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
          if "reopened_count" in tickets.columns else np.zeros(len(tickets)))
    f = hotline.ticket_flags(micros(tickets["requested_at"]), micros(tickets["answered_at"]),
                             micros(tickets["deadline"]), hotline.closed_status(tickets["status"]), rc,
                             ts(now).value // 1000)
    return pd.DataFrame(f, index=tickets.index)


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
            "requested_at": micros(t["requested_at"]), "answered_at": micros(t["answered_at"]),
            "deadline": micros(t["deadline"]), "closed": hotline.closed_status(t["status"]) if len(t) else np.zeros(0, bool),
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
            hit = self._flags[key] = hotline.ticket_flags(c["requested_at"], c["answered_at"], c["deadline"], c["closed"],
                                                   c["reopened_count"], key)
        return hit

    def period(self, start, end, as_of, *, breakdowns: bool = True) -> dict:
        s, e, now = ts(start), ts(end), ts(as_of)
        r = self.cols["requested_at"]
        sel = (r >= s.value // 1000) & (r < e.value // 1000) & (r <= now.value // 1000) & (r != NAT_US)
        fl = self.flags(now)
        sub = {c: v[sel] for c, v in fl.items()}
        out: dict = {"period": {"start": s.isoformat(), "end": e.isoformat(), "as_of": now.isoformat()}}
        out["figures"] = hotline.figures_of_flags(sub)
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
    sums = {c: np.bincount(codes, weights=np.asarray(flags[c], dtype=float), minlength=k) for c in hotline.FLAG_COUNTS}
    med, mean = _group_median_mean(codes, np.asarray(flags["hours"], dtype=float), k)
    present = sorted(np.flatnonzero(n), key=lambda i: names[i])
    return {str(names[i]): hotline.figures(int(n[i]), {c: sums[c][i] for c in hotline.FLAG_COUNTS},
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
