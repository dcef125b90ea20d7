"""QĐ 766 counted in SQL, and the dossier rows the snapshot keeps in memory.

:func:`ioc.kpi.qd766.row_counts` defines every count; the statements here compute the
same sums with ``GROUP BY`` per (agency, commune_code), so only aggregates leave the
database (a year is ~500,000 dossiers). They are checked against the definition on random
data (tests/kpi/test_fast_paths.py). Received and finished counts add up over days and
months, so closed periods are cached; the in-progress counts are taken at one instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from ioc.db import models as m
from ioc.kpi import qd766
from ioc.kpi.dates import ts
from ioc.kpi.qd766 import COUNTS as ALL_COUNTS
from ioc.kpi.sql import dialect_name, epoch_expr, fetch, group_keys, tcol

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
    """Supplement wait in hours, NULL/negative → 0 (as :func:`ioc.kpi.qd766.row_counts`)."""
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


def _in_progress_where(conn: Connection, end: datetime, as_of: datetime) -> list[tuple]:
    """Dossiers in progress at ``as_of`` with a due time, received before ``end`` (and by
    ``as_of``), as two
    condition sets (finished_at NULL; finished later than as_of): two index searches
    rather than an OR, which SQLite answers with a scan."""
    d = dialect_name(conn)
    t = m.Dossier.__table__
    # SQLite: coalesce(x, x) is the same value but not an index key, so the planner searches
    # the (finished_at, received_at, due_at) index rather than received_at's; PostgreSQL
    # uses the plain column as a condition inside that index
    received = func.coalesce(t.c.received_at, t.c.received_at) if d == "sqlite" else t.c.received_at
    return [(unfinished, received < end, received <= as_of, t.c.due_at.is_not(None))
            for unfinished in (t.c.finished_at.is_(None), t.c.finished_at > as_of)]


def _past_due(conn: Connection, as_of: datetime):
    """Effective due time (due_at + supplement wait) before ``as_of``."""
    d = dialect_name(conn)
    t = m.Dossier.__table__
    w = _wait_h()
    now_ep = ts(as_of).timestamp()
    return case((w > 0, case((epoch_expr(t.c.due_at, d) + w * 3600.0 < now_ep, 1), else_=0)),
                else_=case((t.c.due_at < as_of, 1), else_=0)) == 1


def overdue_where(conn: Connection, end: datetime, as_of: datetime) -> list[tuple]:
    """Conditions of the ``overdue_unfinished`` rule (:func:`ioc.kpi.qd766.open_counts`):
    a list of condition tuples, OR them (``or_(*(and_(*s) for s in sets))``)."""
    t = m.Dossier.__table__
    past = _past_due(conn, as_of)
    # due_at < as_of is implied by past_due; stated so the index on due_at narrows the search
    return [(*where, t.c.due_at < as_of, past) for where in _in_progress_where(conn, end, as_of)]


def qd766_in_progress(conn: Connection, end: datetime, as_of: datetime) -> pd.DataFrame:
    """The :data:`~ioc.kpi.qd766.OPEN_COUNTS` per (agency, commune): dossiers in progress
    at ``as_of``, received before ``end``, past their effective due time or not."""
    past = _past_due(conn, as_of)
    parts = []
    for where in _in_progress_where(conn, end, as_of):
        ka, kc = _keys()
        stmt = (select(ka.label("agency"), kc.label("commune_code"), _n(past).label("overdue_unfinished"),
                       _n(~past).label("open_on_time"))
                .where(*where).group_by(ka, kc))
        parts.append(fetch(conn, stmt))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({"agency": [], "commune_code": [], "overdue_unfinished": [], "open_on_time": []})
    return pd.concat(parts, ignore_index=True)


def qd766_in_progress_totals(conn: Connection, end: datetime, as_of: datetime) -> dict[str, int]:
    """:func:`qd766_in_progress` summed: the province's counts (a previous period needs no more)."""
    past = _past_due(conn, as_of)
    out = {"overdue_unfinished": 0, "open_on_time": 0}
    for where in _in_progress_where(conn, end, as_of):
        row = conn.execute(select(_n(past), _n(~past)).select_from(m.Dossier.__table__).where(*where)).one()
        out["overdue_unfinished"] += int(row[0] or 0)
        out["open_on_time"] += int(row[1] or 0)
    return out


def combine_counts(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Sum count frames (any mix of received/finished/overdue, raw SQL rows or earlier
    results) per (agency, commune_code), keys normalised as :func:`ioc.kpi.qd766.report` groups
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


def report_from_marginals(marg: Mapping[str, pd.DataFrame]) -> dict:
    """``{"province": full entry, "agency": {name: unit summary}, "commune_code": {…}}``
    (:func:`ioc.kpi.qd766.from_counts`, per unit :func:`ioc.kpi.qd766.unit_summary`) from
    :func:`counts_marginals` output."""
    cols = list(ALL_COUNTS)
    a = marg["agency"]
    total = a[cols].sum() if len(a) else pd.Series(0.0, index=cols)
    out: dict = {"province": qd766.from_counts(total)}
    for col in GROUP_COLS:
        g = marg[col][cols].sort_index()
        out[col] = {str(k): qd766.unit_summary(qd766.from_counts(dict(zip(cols, row))))
                    for k, row in zip(g.index, g.to_numpy().tolist())}
    return out


class CountSpace:
    """QĐ 766 additive counts as numpy rows, one per (agency, commune) pair, keyed by a
    growing integer code: summing cached periods is an array addition, not a join on
    text keys. Same results as :func:`combine_counts` + :func:`report_from_marginals`
    (checked in tests)."""

    K = len(ALL_COUNTS)

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}
        self._agency: list[str] = []
        self._commune: list[str] = []
        # per unit column: name → unit code, and the unit code of every pair
        self._unit_ids: dict[str, dict[str, int]] = {"agency": {}, "commune_code": {}}
        self._unit_of: dict[str, list[int]] = {"agency": [], "commune_code": []}
        self._summaries: dict[tuple, tuple] = {}  # a unit's counts → its scored summary (see _unit)

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
        """Per-row counts (:func:`ioc.kpi.qd766.row_counts`) summed per pair code."""
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
        """``{"province": full entry, "agency": {…: unit summary}, "commune_code": {…}}``
        (:func:`ioc.kpi.qd766.from_counts`, per unit :func:`ioc.kpi.qd766.unit_summary`)."""
        out: dict = {"province": qd766.from_counts(self.total(arr))}
        for col in ("agency", "commune_code"):
            out[col] = {k: self._unit(tuple(v.tolist())) for k, v in
                        sorted(self._units(arr, col).items())} if len(arr) else {}
        return out

    def _unit(self, values: tuple) -> dict:
        """``unit_summary(from_counts(…))`` of one unit's counts. Between two snapshots most
        units' counts do not change, so each distinct set is scored once and kept as an
        immutable tuple; every call returns new dicts (nothing kept is shared with a snapshot)."""
        hit = self._summaries.get(values)
        if hit is None:
            if len(self._summaries) > 50_000:
                self._summaries.clear()
            u = qd766.unit_summary(qd766.from_counts(dict(zip(ALL_COUNTS, values))))
            hit = self._summaries[values] = (tuple(u["counts"].items()), u["score"], u["max_score"],
                                             tuple((k, v["value"], v["score"]) for k, v in u["indicators"].items()))
        counts, score, max_score, indicators = hit
        return {"counts": dict(counts), "score": score, "max_score": max_score,
                "indicators": {k: {"value": v, "score": sc} for k, v, sc in indicators}}

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
    """``procedures.code`` → ``has_fee`` (the join of :func:`qd766_received`, in memory;
    the ``fees`` of :func:`ioc.kpi.qd766.row_counts`)."""
    p = m.Procedure.__table__
    return {str(c): f is True or f == 1 for c, f in conn.execute(select(p.c.code, p.c.has_fee)).all()}


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
