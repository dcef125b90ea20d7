"""The snapshot's QĐ 766 part: this month and the year so far (province, agencies,
communes) and the previous month, as :func:`ioc.kpi.qd766.from_counts` scores them.

Counts come from three places, all by the rules of :func:`ioc.kpi.qd766.row_counts`:
closed days and months counted in SQL (:mod:`ioc.kpi.qd766_sql`) and cached; today's
dossiers and the unfinished ones kept in memory from the ``dossiers.updated_at`` change
feed and counted by the definition itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import exists, func, select
from sqlalchemy.engine import Engine

from ioc.db import models as m
from ioc.kpi import hotline, qd766, qd766_sql, sql
from ioc.kpi.dates import add_months, local_day, local_midnight, month_start, ts
from ioc.kpi.jsonable import iso


@dataclass
class _Bucket:
    counts: np.ndarray  # CountSpace rows
    computed_at: float
    dirty_since: float | None = None


@dataclass
class RefreshBudget:
    """Dirty closed buckets one build may recount: days, and months (costly)."""

    buckets: int
    months: int

    def take(self, kind: str) -> bool:
        if self.buckets <= 0 or (kind == "m" and self.months <= 0):
            return False
        self.buckets -= 1
        self.months -= kind == "m"
        return True


def empty(zone, now) -> dict:
    nulls = qd766.nulls()
    today = local_day(now, zone)
    m0 = month_start(today)

    def rep(start):
        return {"period": {"start": iso(local_midnight(start, zone)), "end": iso(now), "as_of": iso(now)},
                "province": nulls, "agency": {}, "commune": {}}

    pm0 = add_months(m0, -1)
    return {"has_data": False, "this_month": rep(m0), "year_to_date": rep(date(today.year, 1, 1)),
            "previous_month": {"period": {"start": iso(local_midnight(pm0, zone)), "end": iso(local_midnight(m0, zone)),
                                          "as_of": iso(local_midnight(m0, zone))}, "province": nulls},
            "delta_vs_previous_month": {}}


class ProceduresPart:
    """Computes the QĐ 766 part; keeps closed buckets, today's and the unfinished dossiers."""

    def __init__(self, engine: Engine, zone, opts) -> None:
        self.engine = engine
        self.zone = zone
        self.opts = opts  # the builder's options (closed_ttl, closed_refresh_after, max_bucket_refresh)
        self._space = qd766_sql.CountSpace()
        self._buckets: dict[tuple, _Bucket] = {}
        self._sums: dict[str, tuple] = {}
        self._dossier_watermark: datetime | None = None
        self._unfinished: pd.DataFrame | None = None
        self._today: pd.DataFrame | None = None  # dossiers received or finished today (local)
        self._today_t0: datetime | None = None
        self._fees: dict[str, bool] = {}
        self._unfinished_loaded = 0.0

    def _bucket(self, conn, kind: str, start_day: date, end_day: date, budget: RefreshBudget) -> np.ndarray:
        """Counts of a closed period (day or month) of QĐ 766 populations, cached. A bucket a
        late correction touched is recounted once it has been dirty ``closed_refresh_after``
        seconds, as the build's ``budget`` allows."""
        key = (kind, start_day)
        b = self._buckets.get(key)
        mono = time.monotonic()
        if b is not None and b.dirty_since is None:
            return b.counts
        if b is not None:
            if mono - b.dirty_since < self.opts.closed_refresh_after or not budget.take(kind):
                return b.counts
        return self.recount(conn, kind, start_day, end_day)

    def recount(self, conn, kind: str, start_day: date, end_day: date) -> np.ndarray:
        """Count a closed day (``kind`` "d") or month ("m") from SQL and cache it."""
        s, e = local_midnight(start_day, self.zone).to_pydatetime(), local_midnight(end_day, self.zone).to_pydatetime()
        counts = self._space.encode(qd766_sql.qd766_received(conn, s, e), qd766_sql.qd766_finished(conn, s, e, e))
        self._buckets[(kind, start_day)] = _Bucket(counts, time.monotonic())
        return counts

    def _sync_dossiers(self, conn, now: datetime, t0: datetime) -> None:
        """Follow the dossier change feed (``updated_at`` > watermark): keep the in-memory
        set of unfinished dossiers and today's dossiers (received or finished since local
        midnight ``t0``) current, and mark closed buckets a change touches. Both sets are
        reloaded from SQL every ``closed_ttl`` seconds and today's at each new day (a change
        whose upstream ``updated_at`` lies behind the watermark is caught then)."""
        t = m.Dossier.__table__
        mono = time.monotonic()
        if (self._unfinished is None or mono - self._unfinished_loaded > self.opts.closed_ttl
                or self._today_t0 != t0):
            newest = conn.execute(select(func.max(t.c.updated_at))).scalar()
            self._unfinished = self._with_pairs(qd766_sql.load_unfinished(conn, now).drop_duplicates("id").set_index("id"))
            self._today = self._with_pairs(qd766_sql.load_dossiers_since(conn, t0).set_index("id"))
            self._today_t0 = t0
            self._fees = qd766_sql.procedure_fees(conn)
            self._unfinished_loaded = mono
            if self._dossier_watermark is None:
                self._dossier_watermark = newest or now
            else:
                self._dossier_watermark = min(self._dossier_watermark, newest or now)
                self._apply_changes(conn, now, mono)
            return
        self._apply_changes(conn, now, mono)

    def _with_pairs(self, df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(pair=self._space.pair_ids(df["agency"], df["commune_code"]))

    def _apply_changes(self, conn, now: datetime, mono: float) -> None:
        ch = qd766_sql.dossier_changes_since(conn, self._dossier_watermark)
        if ch.empty:
            return
        self._dossier_watermark = ch["updated_at"].max().to_pydatetime()
        days = set()
        for col in ("received_at", "finished_at"):
            v = ch[col].dropna()
            if len(v):
                days.update(pd.Index(v.dt.tz_convert(self.zone).dt.date).unique())
        for day in days:
            for key in (("d", day), ("m", month_start(day))):
                b = self._buckets.get(key)
                if b is not None and b.dirty_since is None:
                    b.dirty_since = mono
        ch = self._with_pairs(ch.drop_duplicates("id", keep="last").set_index("id"))
        fin = ch["finished_at"]
        still_open = ch.loc[(fin.isna() | (fin > ts(now))).to_numpy(dtype=bool), self._unfinished.columns]
        kept = self._unfinished.drop(index=ch.index, errors="ignore")
        self._unfinished = pd.concat([kept, still_open]) if len(still_open) else kept
        t0 = ts(self._today_t0)
        today = ch[((ch["received_at"] >= t0) | (fin.notna() & (fin >= t0))).to_numpy(dtype=bool)]
        kept = self._today.drop(index=ch.index, errors="ignore")
        self._today = pd.concat([kept, today[kept.columns]]) if len(today) else kept

    def _closed_sum(self, name: str, keys: list[tuple]) -> np.ndarray:
        """Sum of cached buckets, itself cached until one of them is recomputed."""
        sig = tuple((k, self._buckets[k].computed_at) for k in keys)
        hit = self._sums.get(name)
        if hit is not None and hit[0] == sig:
            return hit[1]
        total = self._space.add(*[self._buckets[k].counts for k in keys])
        self._sums[name] = (sig, total)
        return total

    def compute(self, now: datetime, *, full: bool) -> dict:
        """The part at ``now``. ``full``: the periodic full build, which may also recount
        one dirty closed month (costly); any build recounts up to ``max_bucket_refresh``
        dirty buckets."""
        z = self.zone
        n = ts(now)
        today = local_day(now, z)
        m0 = month_start(today)
        y0 = date(today.year, 1, 1)
        pm0 = add_months(m0, -1)
        t0 = local_midnight(today, z).to_pydatetime()
        budget = RefreshBudget(self.opts.max_bucket_refresh, 1 if full else 0)
        d = m.Dossier.__table__
        with sql.connect(self.engine) as conn:
            has_data = conn.execute(select(exists().where(d.c.id.is_not(None)))).scalar()
            if not has_data:
                return empty(z, now)
            self._sync_dossiers(conn, now, t0)
            month_keys, day_keys = [], []
            mm = y0
            while mm < m0:
                self._bucket(conn, "m", mm, add_months(mm, 1), budget)
                month_keys.append(("m", mm))
                mm = add_months(mm, 1)
            if pm0 < y0:
                self._bucket(conn, "m", pm0, m0, budget)
            dd = m0
            while dd < today:
                self._bucket(conn, "d", dd, dd + timedelta(days=1), budget)
                day_keys.append(("d", dd))
                dd += timedelta(days=1)
            u, td = self._unfinished, self._today
            # in progress: over the unfinished set; received / finished today: over today's dossiers
            open_block = np.zeros((len(u), len(qd766.COUNTS)))
            open_block[:, [qd766.COUNTS.index(c) for c in qd766.OPEN_COUNTS]] = qd766.open_counts(u, now, now)
            today_counts = qd766.row_counts(td, self._fees, t0, now, now, in_progress=False)
            live = self._space.add(self._space.encode_rows(td["pair"].to_numpy(), today_counts),
                                   self._space.encode_rows(u["pair"].to_numpy(), open_block))
            key = ("overdue_at", pm0)
            pm_end = local_midnight(m0, z).to_pydatetime()
            hit = self._buckets.get(key)
            if hit is None or time.monotonic() - hit.computed_at > self.opts.closed_ttl:
                self._buckets[key] = _Bucket(self._space.encode(qd766_sql.qd766_in_progress(conn, pm_end, pm_end)),
                                             time.monotonic())
        # forget buckets of past years and of days of past months
        for k in [k for k in self._buckets if (k[0] == "d" and k[1] < m0) or (k[0] == "m" and k[1] < min(y0, pm0))
                  or (k[0] == "overdue_at" and k[1] != pm0)]:
            self._buckets.pop(k, None)
        closed_days = self._closed_sum("days", day_keys)
        closed_months = self._closed_sum("months", month_keys)
        sp = self._space
        month_counts = sp.add(closed_days, live)
        ytd_counts = sp.add(closed_months, month_counts)
        prev_counts = sp.add(self._buckets[("m", pm0)].counts, self._buckets[("overdue_at", pm0)].counts)
        this_month = _report(sp, month_counts, local_midnight(m0, z), n)
        ytd = _report(sp, ytd_counts, local_midnight(y0, z), n)
        prev = qd766.from_counts(sp.total(prev_counts))
        cur_vals = {c: v.get("value") for c, v in this_month["province"]["indicators"].items()}
        cur_vals["score"] = this_month["province"]["score"]
        prev_vals = {c: v.get("value") for c, v in prev["indicators"].items()}
        prev_vals["score"] = prev["score"]
        return {
            "has_data": True,
            "this_month": this_month,
            "year_to_date": ytd,
            "previous_month": {"period": {"start": iso(local_midnight(pm0, z)), "end": iso(local_midnight(m0, z)),
                                          "as_of": iso(local_midnight(m0, z))}, "province": prev},
            "delta_vs_previous_month": hotline.compare(cur_vals, prev_vals),
        }


def _report(space: qd766_sql.CountSpace, counts: np.ndarray, start, now) -> dict:
    rep = space.report(counts)
    return {"period": {"start": iso(start), "end": iso(now), "as_of": iso(now)}, "province": rep["province"],
            "agency": rep["agency"], "commune": rep["commune_code"]}
