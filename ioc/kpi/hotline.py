"""Hotline 1022 (PAKN) KPIs from Ticket rows (and optionally TicketStatusChange rows).

Definitions (docs/kpis.md § Hotline):

* received — tickets whose ``requested_at`` lies in the period.
* answered — ``answered_at`` set, or ``status == "closed"`` (closed without an answer
  time counts as answered but is left out of on-time and time-to-answer figures;
  ``answered_time_unknown`` counts them).
* in_progress — received and not answered.
* deadline — ``expected_at`` when set, otherwise ``requested_at`` + 15 working days
  (national PAKN rule; Vietnamese working days, :mod:`ioc.kpi.calendar`).
* overdue — not answered and the deadline has passed at ``as_of``.
* answered_late — answered after the deadline. ``late = overdue + answered_late``.
* on_time_pct — answered on or before the deadline ÷ answered with a known answer time.
* median_hours_to_answer — median of ``answered_at − requested_at`` (wall-clock hours).
* reopened — tickets with ``reopened_count > 0`` (or, with status changes, tickets with a
  non-closed state following a closed one), and the number of such reopen events.

Every ratio/median is ``None`` when its denominator is empty: no data is never 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from numbers import Real
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioc.kpi.values import as_utc, key_of, pct, py, require_columns, utc_series
from ioc.kpi.calendar import DEFAULT_TZ, WorkCalendar, default_calendar
from ioc.kpi.dates import NAT_US, micros

__all__ = [
    "BREAKDOWNS",
    "CLOSED_STATES",
    "DEFAULT_DEADLINE_WORKING_DAYS",
    "FLAG_COUNTS",
    "closed_status",
    "compare",
    "deadlines",
    "figures",
    "figures_of_flags",
    "flag_steps",
    "flags_at_step",
    "metrics",
    "summary",
    "ticket_flags",
]

DEFAULT_DEADLINE_WORKING_DAYS = 15
BREAKDOWNS = ("service_name", "channel", "commune_code", "agency")
# Ticket status-change states taken as "closed" when counting reopenings (lower-case).
CLOSED_STATES = frozenset({"closed", "answered", "resolved", "done", "completed", "finished"})

REQUIRED = ("external_id", "status", "requested_at", "expected_at", "answered_at")


def deadlines(
    tickets: pd.DataFrame,
    tz: str | ZoneInfo = DEFAULT_TZ,
    working_days: int = DEFAULT_DEADLINE_WORKING_DAYS,
    calendar: WorkCalendar | None = None,
) -> pd.Series:
    """Deadline per ticket (UTC): expected_at, else requested_at + ``working_days``."""
    require_columns(tickets, ("requested_at", "expected_at"), "tickets")
    cal = calendar or default_calendar()
    requested = utc_series(tickets["requested_at"], "requested_at")
    expected = utc_series(tickets["expected_at"], "expected_at")
    out = []
    for req, exp in zip(requested, expected, strict=True):
        if not pd.isna(exp):
            out.append(exp)
        elif pd.isna(req):
            out.append(pd.NaT)
        else:
            out.append(pd.Timestamp(cal.add_working_days(req.to_pydatetime(), working_days, tz)))
    return pd.Series(pd.to_datetime(out, utc=True), index=tickets.index, name="deadline")


def _reopen_counts(changes: pd.DataFrame, ids: Iterable[str]) -> dict[str, int]:
    require_columns(changes, ("ticket_external_id", "at", "state"), "status_changes")
    wanted = {str(i) for i in ids}
    ch = changes[changes["ticket_external_id"].astype(str).isin(wanted)].copy()
    counts: dict[str, int] = {}
    if ch.empty:
        return counts
    ch["at"] = utc_series(ch["at"], "at")
    ch = ch.sort_values(["ticket_external_id", "at"], kind="stable")
    for tid, grp in ch.groupby("ticket_external_id", sort=False):
        n = 0
        was_closed = False
        for state in grp["state"]:
            closed = str(state).strip().lower() in CLOSED_STATES
            if was_closed and not closed:
                n += 1
            was_closed = closed
        counts[str(tid)] = n
    return counts


def _prepare(tickets, tz, working_days, calendar) -> pd.DataFrame:
    require_columns(tickets, REQUIRED, "tickets")
    df = tickets.copy()
    df["requested_at"] = utc_series(df["requested_at"], "requested_at")
    df["answered_at"] = utc_series(df["answered_at"], "answered_at")
    df["expected_at"] = utc_series(df["expected_at"], "expected_at")
    df["deadline"] = deadlines(df, tz, working_days, calendar)
    return df


def metrics(
    tickets: pd.DataFrame,
    as_of: datetime,
    *,
    tz: str | ZoneInfo = DEFAULT_TZ,
    status_changes: pd.DataFrame | None = None,
    working_days: int = DEFAULT_DEADLINE_WORKING_DAYS,
    calendar: WorkCalendar | None = None,
) -> dict:
    """KPIs of a set of tickets (no period filter), judged at ``as_of``.

    Returns ``{received, answered, answered_time_unknown, in_progress, overdue,
    answered_late, late, on_time, on_time_pct, answered_pct, median_hours_to_answer,
    mean_hours_to_answer, reopened_tickets, reopen_events}`` — ints, floats or None.
    """
    now = as_utc(as_of, "as_of")
    df = _prepare(tickets, tz, working_days, calendar)
    return _metrics(df, now, status_changes)


# The per-ticket rules of docs/kpis.md § 4, judged at one instant. This is the one place
# they are written: metrics() below, the snapshot's ticket frame, the overdue baseline and
# the map's ticket detail all call it.
FLAG_COUNTS = ("answered", "answered_time_unknown", "overdue", "answered_late", "on_time", "reopened",
               "reopen_events")


def ticket_flags(requested_us: np.ndarray, answered_us: np.ndarray, deadline_us: np.ndarray, closed: np.ndarray,
                 reopened_count: np.ndarray, as_of_us: int) -> dict[str, np.ndarray]:
    """Per ticket at ``as_of``: answered (an answer time ≤ as_of, or status closed without
    an answer time), answered_time_unknown, overdue (not answered, deadline passed),
    answered_late, on_time, reopened / reopen_events (from ``reopened_count``) and hours
    to answer (NaN when unknown or negative). Times are int64 µs since 1970 UTC with
    :data:`NAT_US` for missing; ``closed`` is the status test (:func:`closed_status`)."""
    ans_ok, dl_ok = answered_us != NAT_US, deadline_us != NAT_US
    has_time = ans_ok & (answered_us <= as_of_us)
    # closed without an answer time: answered, time unknown (a later answer time than
    # as_of means "not yet answered at as_of" even if the ticket is closed today)
    answered = has_time | (closed & ~ans_ok)
    hours = np.where(has_time & (requested_us != NAT_US), (answered_us - requested_us) / 3.6e9, np.nan)
    rc = np.nan_to_num(np.asarray(reopened_count, dtype=float), nan=0.0)
    return {
        "answered": answered,
        "answered_time_unknown": answered & ~has_time,
        "overdue": ~answered & dl_ok & (deadline_us < as_of_us),
        "answered_late": has_time & dl_ok & (answered_us > deadline_us),
        "on_time": has_time & dl_ok & (answered_us <= deadline_us),
        "reopened": rc > 0,
        "reopen_events": np.clip(rc, 0, None),
        "hours": np.where(hours >= 0, hours, np.nan),
    }


def flag_steps(answered_us: np.ndarray, deadline_us: np.ndarray, closed: np.ndarray,
               instants_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ticket_flags`' ``answered`` and ``overdue`` at each of increasing instants, as two
    indexes per ticket (``len(instants_us)``: never): at ``instants_us[k]`` a ticket is answered
    when ``k >= answered_from``, and overdue when ``due_from <= k < answered_from``
    (:func:`flags_at_step`). Answered only turns on as time passes and a deadline passes once,
    so two indexes hold the state at every instant. The sector map sends them per point so that
    the page judges its tickets at any end of the range it holds (assets/sector_map.js
    ``ioc.ticketState`` mirrors :func:`flags_at_step`); tests/kpi/test_kpi_hotline.py holds both
    to :func:`ticket_flags` at every instant."""
    inst = np.asarray(instants_us, dtype=np.int64)
    never = len(inst)
    ans_ok, dl_ok = answered_us != NAT_US, deadline_us != NAT_US
    # an answer time counts from the first instant at or after it; closed without one: always
    answered_from = np.where(ans_ok, np.searchsorted(inst, answered_us, side="left"),
                             np.where(closed, 0, never))
    # a deadline has passed from the first instant after it
    due_from = np.where(dl_ok, np.searchsorted(inst, deadline_us, side="right"), never)
    return answered_from.astype(np.int64), due_from.astype(np.int64)


def flags_at_step(answered_from: np.ndarray, due_from: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(answered, overdue) at the ``k``-th instant of :func:`flag_steps`."""
    answered = k >= np.asarray(answered_from)
    return answered, ~answered & (k >= np.asarray(due_from))


def closed_status(status: pd.Series) -> np.ndarray:
    return status.astype("string").str.strip().str.lower().eq("closed").fillna(False).to_numpy(dtype=bool)


def _r2(v) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), 2)


def figures(n: int, sums: Mapping, median, mean) -> dict:
    """The § 4 figures of ``n`` tickets from the sums of their :func:`ticket_flags`
    (:data:`FLAG_COUNTS`) and the median / mean hours to answer."""
    answered, overdue, late, on_time = (int(sums[k]) for k in ("answered", "overdue", "answered_late", "on_time"))
    return {
        "received": int(n),
        "answered": answered,
        "answered_time_unknown": int(sums["answered_time_unknown"]),
        "in_progress": int(n) - answered,
        "overdue": overdue,
        "answered_late": late,
        "late": overdue + late,
        "on_time": on_time,
        "on_time_pct": pct(on_time, on_time + late),  # answered with a known time and a deadline
        "answered_pct": pct(answered, n),
        "median_hours_to_answer": _r2(median),
        "mean_hours_to_answer": _r2(mean),
        "reopened_tickets": int(sums["reopened"]),
        "reopen_events": int(sums["reopen_events"]),
    }


def figures_of_flags(flags: Mapping[str, np.ndarray]) -> dict:
    h = np.asarray(flags["hours"], dtype=float)
    h = h[~np.isnan(h)]
    return figures(len(flags["hours"]), {c: np.asarray(flags[c]).sum() for c in FLAG_COUNTS},
                   float(np.median(h)) if len(h) else None, float(h.mean()) if len(h) else None)


def _metrics(df: pd.DataFrame, now: pd.Timestamp, status_changes: pd.DataFrame | None) -> dict:
    rc = (pd.to_numeric(df["reopened_count"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
          if "reopened_count" in df.columns else np.zeros(len(df)))
    flags = ticket_flags(micros(df["requested_at"]), micros(df["answered_at"]), micros(df["deadline"]),
                         closed_status(df["status"]), rc, now.value // 1000)
    out = figures_of_flags(flags)
    if status_changes is not None:
        counts = _reopen_counts(status_changes, df["external_id"])
        out["reopened_tickets"] = sum(1 for v in counts.values() if v > 0)
        out["reopen_events"] = sum(counts.values())
    elif "reopened_count" not in df.columns:
        out["reopened_tickets"] = out["reopen_events"] = None
    return out


def summary(
    tickets: pd.DataFrame,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
    tz: str | ZoneInfo = DEFAULT_TZ,
    status_changes: pd.DataFrame | None = None,
    by: Iterable[str] = BREAKDOWNS,
    working_days: int = DEFAULT_DEADLINE_WORKING_DAYS,
    calendar: WorkCalendar | None = None,
) -> dict:
    """KPIs of tickets received in ``[start, end)`` (and not after ``as_of``), judged at
    ``as_of`` (default ``end``).

    Returns ``{"period": {"start", "end", "as_of"} (ISO strings), <metrics keys>,
    "by": {column: {value: <metrics>}}}``. Breakdown keys are strings; a missing value
    is grouped under ``"unknown"``. Columns listed in ``by`` but absent are skipped.
    """
    s, e = as_utc(start, "start"), as_utc(end, "end")
    if e < s:
        raise ValueError(f"period end {e} is before start {s}")
    now = as_utc(as_of, "as_of") if as_of is not None else e
    df = _prepare(tickets, tz, working_days, calendar)
    # tickets requested after as_of do not exist yet at as_of
    df = df[(df["requested_at"] >= s) & (df["requested_at"] < e) & (df["requested_at"] <= now)]
    out: dict = {"period": {"start": s.isoformat(), "end": e.isoformat(), "as_of": now.isoformat()}}
    out.update(_metrics(df, now, status_changes))
    breakdowns: dict[str, dict[str, dict]] = {}
    for col in by:
        if col not in df.columns:
            continue
        keys = df[col].map(key_of)
        breakdowns[col] = {
            str(k): _metrics(grp, now, status_changes)
            for k, grp in df.groupby(keys, sort=True)
        }
    out["by"] = breakdowns
    return out


def _is_number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def compare(current: Mapping, previous: Mapping) -> dict:
    """Deltas between two :func:`summary` (or :func:`metrics`) results.

    For every numeric key: ``{"current", "previous", "delta", "delta_pct"}``; ``delta``
    is None when either side is None; ``delta_pct`` is None when previous is 0/None.
    Nested dicts (e.g. ``"by"``) are compared recursively; keys present on one side
    only appear with the other side None. Non-numeric keys (``period``) are skipped.
    """
    out: dict = {}
    for key in list(current.keys()) + [k for k in previous.keys() if k not in current]:
        if key == "period":
            continue
        cur, prev = current.get(key), previous.get(key)
        if isinstance(cur, Mapping) or isinstance(prev, Mapping):
            out[key] = compare(cur if isinstance(cur, Mapping) else {}, prev if isinstance(prev, Mapping) else {})
            continue
        cur, prev = py(cur), py(prev)
        if not (cur is None or _is_number(cur)) or not (prev is None or _is_number(prev)):
            continue  # text, datetimes, lists: not comparable
        delta = None if cur is None or prev is None else round(cur - prev, 4)
        delta_pct = None
        if delta is not None and prev not in (0, None):
            delta_pct = round(100.0 * delta / abs(prev), 2)
        out[key] = {"current": cur, "previous": prev, "delta": delta, "delta_pct": delta_pct}
    return out
