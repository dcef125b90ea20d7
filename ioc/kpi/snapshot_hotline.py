"""The snapshot's hotline part: today, the last 7 days and this month against the
previous period, breakdowns, the backlog and the most overdue open tickets.

The figures are :func:`ioc.kpi.hotline.ticket_flags` and :func:`ioc.kpi.hotline.figures`
summed set-wise by :class:`ioc.kpi.tickets.TicketFrame`. The tickets are kept in memory
and followed on the ``hotline`` change stream; closed previous periods are cached.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import exists, func, or_, select
from sqlalchemy.engine import Engine

from ioc.db import models as m
from ioc.kpi import hotline, sql, stream, tickets
from ioc.kpi.dates import NAT_US, add_months, local_day, local_midnight, month_start, ts
from ioc.kpi.jsonable import iso, plain

FIGURES = ("received", "answered", "answered_time_unknown", "in_progress", "overdue", "answered_late", "late",
           "on_time", "on_time_pct", "answered_pct", "median_hours_to_answer", "mean_hours_to_answer",
           "reopened_tickets", "reopen_events")


def periods_at(now: datetime, zone: ZoneInfo) -> dict[str, tuple]:
    """``{name: (start, previous start, previous end)}`` of the snapshot's periods."""
    today = local_day(now, zone)
    t0 = local_midnight(today, zone)
    m0 = month_start(today)
    return {
        "today": (t0, local_midnight(today - timedelta(days=1), zone), t0),
        "last_7_days": (local_midnight(today - timedelta(days=6), zone), local_midnight(today - timedelta(days=13), zone),
                        local_midnight(today - timedelta(days=6), zone)),
        "this_month": (local_midnight(m0, zone), local_midnight(add_months(m0, -1), zone), local_midnight(m0, zone)),
    }


def overdue_baseline(tf: tickets.TicketFrame, now: datetime, zone: ZoneInfo, days: int = 7) -> float | None:
    """Mean count of overdue open tickets at the last ``days`` local midnights (the usual
    backlog, for the overdue-surge alert): the ``overdue`` of
    :func:`ioc.kpi.hotline.ticket_flags` at each midnight, over tickets requested by then."""
    today = local_day(now, zone)
    c = tf.cols
    counts = []
    for k in range(days):
        t = local_midnight(today - timedelta(days=k), zone).value // 1000
        fl = hotline.ticket_flags(c["requested_at"], c["answered_at"], c["deadline"], c["closed"],
                                  c["reopened_count"], t)
        requested = (c["requested_at"] != NAT_US) & (c["requested_at"] <= t)
        counts.append(int((fl["overdue"] & requested).sum()))
    return round(float(np.mean(counts)), 2)


def empty(now: datetime, zone: ZoneInfo) -> dict:
    """The part with every figure null (no tickets, or the first computation failed)."""
    n = ts(now)
    nulls = {k: None for k in FIGURES}
    return {
        "has_data": False,
        "periods": {name: {"start": iso(s), "end": iso(n), "as_of": iso(n), "elapsed_pct": None,
                           "figures": dict(nulls),
                           "previous": {"start": iso(ps), "end": iso(pe), "as_of": iso(pe), "figures": dict(nulls)},
                           "delta": hotline.compare(nulls, nulls), "by": {}}
                    for name, (s, ps, pe) in periods_at(now, zone).items()},
        "backlog": {"open": None, "open_overdue": None, "overdue_baseline_7d": None},
        "open_overdue": [],
    }


class HotlinePart:
    """Computes the hotline part; keeps the ticket working set and closed periods."""

    def __init__(self, engine: Engine, store, zone: ZoneInfo, opts) -> None:
        self.engine = engine
        self.zone = zone
        self.opts = opts  # the builder's options (top_n, closed_ttl), read at each build
        self.follow = stream.StreamFollower(store, "hotline")
        self._closed: dict[tuple, tuple[float, dict]] = {}  # (name, start, end) → (computed at, figures)
        self._working: dict | None = None  # {"from", "loaded", "tf"}

    def _working_set(self, conn, now: datetime, load_from: pd.Timestamp, moved: bool) -> tickets.TicketFrame | None:
        """Tickets the part needs, kept in memory: requested since ``load_from``, plus older
        ones not answered or answered in the last 8 days (backlog, overdue list, baseline).
        Refreshed from the change stream (changed tickets re-read by id); reloaded from SQL
        every ``closed_ttl`` seconds, when the stream cannot be followed, or when the
        source's version ``moved`` without a change event."""
        t = m.Ticket.__table__
        mono = time.monotonic()
        w = self._working
        ids = None
        if w is not None and w["from"] <= load_from and mono - w["loaded"] <= self.opts.closed_ttl:
            ids = self.follow.changes()
            if ids == [] and moved:
                ids = None  # the version moved, but no event says what changed
        if ids is None:
            if not conn.execute(select(exists().where(t.c.id.is_not(None)))).scalar():
                self._working = None
                return None
            self.follow.mark()
            week_ago = (ts(now) - pd.Timedelta(days=8)).to_pydatetime()
            rows = tickets.load_tickets(conn, t.c.requested_at >= load_from.to_pydatetime())
            older = tickets.load_tickets(
                conn, t.c.requested_at < load_from.to_pydatetime(),
                or_(t.c.answered_at > week_ago,
                    (t.c.answered_at.is_(None)) & (func.lower(func.trim(t.c.status)) != "closed")))
            loaded = pd.concat([rows, older], ignore_index=True) if len(older) else rows
            loaded["deadline"] = tickets.ticket_deadlines(loaded, self.zone)
            self._working = {"from": load_from, "loaded": mono, "tf": tickets.TicketFrame(loaded)}
            return self._working["tf"]
        if ids:
            uniq = sorted(set(ids))
            dn = conn.dialect.name
            parts = [tickets.load_tickets(conn, sql.in_list(t.c.external_id, uniq[i:i + 500], dn))
                     for i in range(0, len(uniq), 500)]
            changed = pd.concat(parts, ignore_index=True)
            changed["deadline"] = tickets.ticket_deadlines(changed, self.zone)
            w["tf"].update(changed)
        return w["tf"]

    def compute(self, now: datetime, *, moved: bool) -> dict:
        """The part at ``now``; ``moved``: the source's version changed since the last call."""
        t = m.Ticket.__table__
        n = ts(now)
        periods = periods_at(now, self.zone)
        mono = time.monotonic()
        prev_cached = {}
        for name, (_s, ps, pe) in periods.items():
            hit = self._closed.get((name, ps, pe))
            if hit and mono - hit[0] <= self.opts.closed_ttl:
                prev_cached[name] = hit[1]
        load_from = min(s for s, _ps, _pe in periods.values())
        with sql.connect(self.engine) as conn:
            tf = self._working_set(conn, now, load_from, moved)
            if tf is None:
                return empty(now, self.zone)
            misses = [name for name in periods if name not in prev_cached]
            prev_tf = tf
            if misses:
                lo = min(periods[name][1] for name in misses)
                wfrom = self._working["from"]
                if lo < wfrom:  # closed periods before the working set: read once, cached
                    extra = tickets.load_tickets(conn, t.c.requested_at >= lo.to_pydatetime(),
                                                 t.c.requested_at < wfrom.to_pydatetime())
                    extra["deadline"] = tickets.ticket_deadlines(extra, self.zone)
                    inside = tf.subset(tf.cols["requested_at"] >= wfrom.value // 1000)
                    prev_tf = tf.like(extra).concat(inside)
        out_periods = {}
        for name, (s, ps, pe) in periods.items():
            cur = tf.period(s, n, n)
            prev = prev_cached.get(name)
            if prev is None:
                prev = prev_tf.period(ps, pe, pe, breakdowns=False)
                self._closed[(name, ps, pe)] = (mono, prev)
            elapsed = 100.0 * (n - s).total_seconds() / max((pe - ps).total_seconds(), 1.0)
            out_periods[name] = {
                "start": iso(s), "end": iso(n), "as_of": iso(n), "elapsed_pct": round(elapsed, 2),
                "figures": cur["figures"],
                # a copy: the cached closed period is not shared with the snapshot
                "previous": {"start": iso(ps), "end": iso(pe), "as_of": iso(pe), "figures": dict(prev["figures"])},
                "delta": hotline.compare(cur["figures"], prev["figures"]),
                "by": cur["by"],
            }
        current_keys = {(nm, ps, pe) for nm, (_s, ps, pe) in periods.items()}
        for key in [k for k in self._closed if k not in current_keys]:
            self._closed.pop(key, None)
        cols = tf.cols
        flags = tf.flags(n)
        req_ok = (cols["requested_at"] <= n.value // 1000) & (cols["requested_at"] != NAT_US)
        open_mask = ~flags["answered"] & req_ok
        overdue_mask = flags["overdue"] & req_ok
        idx = np.flatnonzero(overdue_mask)
        idx = idx[np.lexsort((cols["requested_at"][idx], cols["deadline"][idx]))][: self.opts.top_n]
        return {
            "has_data": True,
            "periods": out_periods,
            "backlog": {"open": int(open_mask.sum()), "open_overdue": int(overdue_mask.sum()),
                        "overdue_baseline_7d": overdue_baseline(tf, now, self.zone)},
            "open_overdue": [_overdue_row(cols, i, n) for i in idx],
        }


def _overdue_row(cols: dict, i: int, n: pd.Timestamp) -> dict:
    dl = pd.Timestamp(int(cols["deadline"][i]), unit="us", tz="UTC")
    return {
        "external_id": str(cols["external_id"][i]), "service_name": plain(cols["service_name"][i]),
        "channel": plain(cols["channel"][i]), "agency": plain(cols["agency"][i]),
        "commune_code": plain(cols["commune_code"][i]),
        "requested_at": iso(pd.Timestamp(int(cols["requested_at"][i]), unit="us", tz="UTC")),
        "deadline": iso(dl),
        "overdue_hours": round((n - dl).total_seconds() / 3600.0, 1),
        "overdue_days": round((n - dl).total_seconds() / 86400.0, 1),
    }
