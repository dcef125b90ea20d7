"""QĐ 766/QĐ-TTg (2022) real-time service-quality indicators, scored as the national
public-service portal scores provinces.

Source of the method (docs/kpis.md § 7, ../shared/reference/DOMAIN.md § "QĐ 766 as the
national portal scores provinces"): the decision's appendix could not be read here; the
portal's method is taken from its transcription in a public dashboard that reads the
portal's API (GitHub ChippedTopaz/qd766, sheets "Mô tả công thức tính chỉ số 766" and
"Công thức 766"; its scores match the portal's live province scores within 0.015
points). Best available evidence, not the signed text.

This module is **the** definition of every QĐ 766 rule in the product, in two layers:

* counting — :func:`row_counts`: per dossier, which of the additive counts in
  :data:`COUNTS` it adds to for a period ``[start, end)`` judged at ``as_of``;
* formulas and scoring — :func:`from_counts`: the indicators, their points and the total
  from those counts (:func:`score`: linear, or against a threshold).

:func:`indicators` and :func:`report` are the two applied to DataFrames. The snapshot and
the period queries count in SQL (``ioc.kpi.qd766_sql``), a fast path checked against
:func:`row_counts` on random data (tests/kpi/test_fast_paths.py).

Indicators (codes of the decision's indicator set):

* 2.1 on-time share (20 points, linear) — (dossiers finished in the period on or before
  their effective due time + dossiers still in progress at ``as_of`` and not yet past it)
  ÷ (dossiers finished in the period with a due time + dossiers in progress at ``as_of``
  with a due time). Effective due time = ``due_at`` + ``supplement_wait_hours`` (time
  waiting for the citizen's supplements does not count); more than one supplement request
  = late. In progress = received before ``end`` and by ``as_of``, not finished at
  ``as_of``; one past its effective due time is late (``overdue_unfinished``). A dossier
  without ``due_at`` cannot be judged (``no_due`` for finished ones).
* 2.2 mean processing time (shown, 0 points) — mean of (finished − received − supplement
  wait), calendar days, over dossiers finished in the period.
* 3.3 online submission (6 points, threshold 50 %) — ``channel == 2`` ÷ received (1 or
  null = in person, 3 = post). The portal multiplies by the share of dossiers synced to
  it; a dossier feed read from the portal is synced by definition (factor 1).
* 3.6 online payment (6, linear) — ``paid_online`` ÷ received dossiers of fee-bearing
  procedures (procedure not in the catalogue → left out, ``unknown_procedure``).
* 4.1 electronic result (6, linear) — ``electronic_result`` ÷ finished.
* 4.2 digitised (4, linear; one sheet of the source says threshold 80 %) — ``digitised``
  ÷ received.
* 4.3 re-use of digitised data (2, threshold 80 %) — ``data_reused`` ÷ received.
* 5.4 satisfaction with procedure handling (6, threshold 90 %) — 100 % − (overdue rate +
  share of finished dossiers with a complaint or satisfaction ≤ 2), ≥ 0; overdue rate =
  100 − indicator 2.1.

Null flags count as "not done" (the dossier gives no evidence) and are reported as
``unknown``. A share with an empty denominator is None, and so is its score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from ioc.kpi.values import as_utc, bool_series, key_of, pct, require_columns, utc_series
from ioc.kpi.dates import NAT_US, micros

__all__ = ["COUNTS", "INDICATORS", "Indicator", "from_counts", "indicators", "nulls", "open_counts", "report", "row_counts",
           "score", "unit_summary"]


@dataclass(frozen=True)
class Indicator:
    code: str
    name_vi: str
    name_en: str
    group: int
    max_points: float | None  # None: shown, not scored
    threshold_pct: float | None  # None: linear (points = max × rate)
    confidence: str
    note: str = ""


_PORTAL = "portal method as transcribed (ChippedTopaz/qd766)"
INDICATORS: dict[str, Indicator] = {
    i.code: i
    for i in (
        Indicator("2.1", "Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn", "Dossiers finished early/on time",
                  2, 20.0, None, "medium", _PORTAL),
        Indicator("2.2", "Thời gian giải quyết trung bình", "Mean processing time (days)",
                  2, None, None, "medium", f"{_PORTAL}: shown, 0 points"),
        Indicator("3.3", "Tỷ lệ hồ sơ nộp trực tuyến", "Dossiers submitted online",
                  3, 6.0, 50.0, "medium", f"{_PORTAL}; × share synced to the portal, taken as 1"),
        Indicator("3.6", "Tỷ lệ hồ sơ thanh toán trực tuyến", "Dossiers paid online",
                  3, 6.0, None, "medium", _PORTAL),
        Indicator("4.1", "Tỷ lệ hồ sơ cấp kết quả điện tử", "Dossiers with an electronic result",
                  4, 6.0, None, "medium", _PORTAL),
        Indicator("4.2", "Tỷ lệ số hóa hồ sơ", "Dossiers digitised",
                  4, 4.0, None, "low", f"{_PORTAL}; one sheet of the source says threshold 80 %"),
        Indicator("4.3", "Tỷ lệ khai thác, sử dụng lại dữ liệu số hóa", "Re-use of digitised data",
                  4, 2.0, 80.0, "medium", _PORTAL),
        Indicator("5.4", "Mức độ hài lòng trong giải quyết TTHC", "Satisfaction with procedure handling",
                  5, 6.0, 90.0, "medium", _PORTAL),
    )
}

# Additive counts of one period, per dossier (row_counts) or summed (from_counts). Received
# and finished counts add up over days and months; the two in-progress counts are taken at
# as_of over every dossier received before the period's end.
RECEIVED_COUNTS = ("received", "online", "post", "in_person", "fee_bearing", "fee_paid", "fee_paid_unknown",
                   "unknown_procedure", "digitised", "digitised_unknown", "reused", "reused_unknown")
FINISHED_COUNTS = ("finished", "judged", "on_time", "days_sum", "electronic", "electronic_unknown", "unhappy")
OPEN_COUNTS = ("overdue_unfinished", "open_on_time")
COUNTS = RECEIVED_COUNTS + FINISHED_COUNTS + OPEN_COUNTS

REQUIRED = ("id", "procedure_code", "channel", "received_at", "due_at", "finished_at",
            "supplement_requests", "supplement_wait_hours")


def score(rate_pct: float | None, max_points: float | None, threshold_pct: float | None) -> float | None:
    """Points of an indicator (the portal's rule): with a threshold T, max × min(1, rate ÷ T);
    without one (linear), max × rate ÷ 100. None when the rate or the points are None."""
    if rate_pct is None or max_points is None:
        return None
    t = 100.0 if threshold_pct is None else float(threshold_pct)
    if t <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold_pct}")
    return round(max_points * min(1.0, max(float(rate_pct), 0.0) / t), 3)


# --- counting ---------------------------------------------------------------------------------------------


def _flags(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(true, null) of a nullable boolean column (bools, 0/1, pandas NA or None)."""
    a = s.to_numpy(dtype=object)
    null = pd.isna(a)
    true = np.zeros(len(a), dtype=bool)
    true[~null] = a[~null].astype(bool)
    return true, null


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(None, index=df.index, dtype=object)


def _wait_hours(df: pd.DataFrame) -> np.ndarray:
    """Supplement wait in hours; NULL or negative → 0."""
    w = pd.to_numeric(df["supplement_wait_hours"], errors="coerce").to_numpy(dtype=float)
    return np.where(w > 0, w, 0.0)


def _us(t) -> int:
    return as_utc(t, "time").value // 1000


# Times below are int64 microseconds since 1970 UTC (NAT_US = missing): one conversion per
# column, then plain array comparisons — the snapshot runs these rules on every build.


def open_counts(df: pd.DataFrame, end: datetime, as_of: datetime) -> np.ndarray:
    """Per dossier, its :data:`OPEN_COUNTS` (columns in that order): in progress at
    ``as_of`` (received by then, not finished) and received before ``end``, with a due
    time — late (``overdue_unfinished``) when past its effective due time at ``as_of``,
    else on time (``open_on_time``). ``df`` needs received_at, due_at, finished_at (UTC)
    and supplement_wait_hours."""
    out = np.zeros((len(df), len(OPEN_COUNTS)))
    if not len(df):
        return out
    now, e = _us(as_of), _us(end)
    rec, due, fin = (micros(df[c]) for c in ("received_at", "due_at", "finished_at"))
    in_progress = (((fin == NAT_US) | (fin > now)) & (rec != NAT_US) & (rec < e) & (rec <= now)
                   & (due != NAT_US))
    effective_due = due + np.round(_wait_hours(df) * 3.6e9).astype(np.int64)  # due_at + supplement wait
    out[:, 0] = in_progress & (effective_due < now)
    out[:, 1] = in_progress & (effective_due >= now)
    return out


def row_counts(df: pd.DataFrame, fees: Mapping[str, bool | None], start: datetime, end: datetime,
               as_of: datetime, *, in_progress: bool = True) -> np.ndarray:
    """Per dossier, its contribution to each count of :data:`COUNTS` for ``[start, end)``
    judged at ``as_of``: an (n × len(COUNTS)) array of 0/1 (``days_sum``: days).

    ``fees`` maps a catalogued procedure's code to ``has_fee``; a dossier whose procedure
    is not in it counts as ``unknown_procedure`` and is left out of 3.6.
    ``in_progress=False`` leaves the two in-progress counts at 0 (a caller that counts them
    over another set of rows, e.g. the snapshot's in-memory unfinished dossiers)."""
    col = {c: i for i, c in enumerate(COUNTS)}
    out = np.zeros((len(df), len(COUNTS)))
    if not len(df):
        return out
    s, e, now = _us(start), _us(end), _us(as_of)
    rec, due, fin = (micros(df[c]) for c in ("received_at", "due_at", "finished_at"))
    received = (rec >= s) & (rec < e)  # NAT_US is below any start
    ch = pd.to_numeric(df["channel"], errors="coerce").to_numpy(dtype=float)
    code = df["procedure_code"]
    pos = pd.Index(list(fees), dtype=object).get_indexer(code.astype(object).where(code.notna(), "").astype(str))
    known = pos >= 0  # the procedure is in the catalogue
    fee = known & np.append(np.array([f is True for f in fees.values()], dtype=bool), False)[pos]
    paid, paid_null = _flags(_col(df, "paid_online"))
    dig, dig_null = _flags(_col(df, "digitised"))
    reu, reu_null = _flags(_col(df, "data_reused"))
    for name, v in (("received", True), ("online", ch == 2), ("post", ch == 3),
                    ("in_person", (ch == 1) | np.isnan(ch)), ("fee_bearing", fee), ("fee_paid", fee & paid),
                    ("fee_paid_unknown", fee & paid_null), ("unknown_procedure", ~known), ("digitised", dig),
                    ("digitised_unknown", dig_null), ("reused", reu), ("reused_unknown", reu_null)):
        out[:, col[name]] = received & v
    finished = (fin >= s) & (fin < e) & (fin <= now)
    if finished.any():
        wait = _wait_hours(df)
        judged = due != NAT_US
        supplements = pd.to_numeric(df["supplement_requests"], errors="coerce").fillna(0).to_numpy(dtype=float)
        within = fin <= due + np.round(wait * 3.6e9).astype(np.int64)  # by the effective due time
        on_time = judged & within & (supplements <= 1)
        days = np.where(rec != NAT_US, (fin - rec) / 8.64e10 - wait / 24.0, 0.0)
        ele, ele_null = _flags(_col(df, "electronic_result"))
        comp, _ = _flags(_col(df, "complaint"))
        sat = pd.to_numeric(_col(df, "satisfaction"), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            unhappy = comp | (sat <= 2)
        for name, v in (("finished", True), ("judged", judged), ("on_time", on_time), ("electronic", ele),
                        ("electronic_unknown", ele_null), ("unhappy", unhappy)):
            out[:, col[name]] = finished & v
        out[:, col["days_sum"]] = np.where(finished, np.maximum(days, 0.0), 0.0)
    if in_progress:
        out[:, col["overdue_unfinished"]:col["open_on_time"] + 1] = open_counts(df, end, as_of)
    return out


# --- formulas and scoring ---------------------------------------------------------------------------------


def _entry(code: str, value, numerator, denominator, **extra) -> dict:
    ind = INDICATORS[code]
    out = {"value": value, "numerator": numerator, "denominator": denominator, "max_points": ind.max_points,
           "threshold_pct": ind.threshold_pct, "score": score(value, ind.max_points, ind.threshold_pct)}
    out.update(extra)
    return out


def from_counts(c: Mapping[str, float]) -> dict:
    """The indicators, their points and the total from summed :data:`COUNTS`:
    ``{"counts": {received, finished, overdue_unfinished}, "indicators": {code: {value,
    numerator, denominator, max_points, threshold_pct, score, …}}, "score", "max_score"}``
    (``max_score``: the points of the indicators that could be scored)."""
    g = {k: int(round(float(c.get(k, 0) or 0))) for k in COUNTS if k != "days_sum"}
    days_sum = float(c.get("days_sum", 0) or 0)
    fin, recv = g["finished"], g["received"]
    judged, overdue, open_ok = g["judged"], g["overdue_unfinished"], g["open_on_time"]
    on_time = g["on_time"] + open_ok
    den21 = judged + overdue + open_ok
    v21 = pct(on_time, den21)
    unhappy = pct(g["unhappy"], fin)
    v54 = None if v21 is None or unhappy is None else round(max(0.0, 100.0 - ((100.0 - v21) + unhappy)), 2)
    ind = {
        "2.1": _entry("2.1", v21, on_time, den21, late_finished=judged - g["on_time"], overdue_unfinished=overdue,
                      in_progress_on_time=open_ok, no_due=fin - judged),
        "2.2": {"value": round(days_sum / fin, 2) if fin else None, "unit": "days", "denominator": fin},
        "3.3": _entry("3.3", pct(g["online"], recv), g["online"], recv, post=g["post"], in_person=g["in_person"]),
        "3.6": _entry("3.6", pct(g["fee_paid"], g["fee_bearing"]), g["fee_paid"], g["fee_bearing"],
                      unknown=g["fee_paid_unknown"], unknown_procedure=g["unknown_procedure"]),
        "4.1": _entry("4.1", pct(g["electronic"], fin), g["electronic"], fin, unknown=g["electronic_unknown"]),
        "4.2": _entry("4.2", pct(g["digitised"], recv), g["digitised"], recv, unknown=g["digitised_unknown"]),
        "4.3": _entry("4.3", pct(g["reused"], recv), g["reused"], recv, unknown=g["reused_unknown"]),
        "5.4": _entry("5.4", v54, None, fin, overdue_rate=None if v21 is None else round(100 - v21, 2),
                      complaint_or_low_satisfaction_pct=unhappy),
    }
    scored = [k for k, v in ind.items() if v.get("score") is not None]
    return {
        "counts": {"received": recv, "finished": fin, "overdue_unfinished": overdue},
        "indicators": ind,
        "score": round(sum(ind[k]["score"] for k in scored), 3) if scored else None,
        "max_score": sum(INDICATORS[k].max_points for k in scored) or None,
    }


def nulls() -> dict:
    """The :func:`from_counts` shape with every figure None (constants kept): no data."""
    base = from_counts({})
    keep = ("max_points", "threshold_pct", "unit")
    return {"counts": {k: None for k in base["counts"]},
            "indicators": {c: {k: (v if k in keep else None) for k, v in ind.items()}
                           for c, ind in base["indicators"].items()},
            "score": None, "max_score": None}


def unit_summary(entry: Mapping) -> dict:
    """The compact form of a :func:`from_counts` entry kept per agency / commune in the
    snapshot: counts, score, max_score and each indicator's value and score."""
    return {"counts": entry["counts"], "score": entry["score"], "max_score": entry["max_score"],
            "indicators": {k: {"value": v.get("value"), "score": v.get("score")}
                           for k, v in entry["indicators"].items()}}


# --- on DataFrames ------------------------------------------------------------------------------------------


def _prepare(dossiers: pd.DataFrame, procedures: pd.DataFrame | None) -> tuple[pd.DataFrame, dict]:
    require_columns(dossiers, REQUIRED, "dossiers")
    df = dossiers.copy()
    for col in ("received_at", "due_at", "finished_at"):
        df[col] = utc_series(df[col], col)
    for col in ("paid_online", "electronic_result", "digitised", "data_reused", "complaint"):
        df[col] = bool_series(df[col]) if col in df.columns else pd.Series(pd.NA, index=df.index, dtype="boolean")
    fees: dict[str, bool | None] = {}
    if procedures is not None and len(procedures):
        require_columns(procedures, ("code", "has_fee"), "procedures")
        # a catalogued procedure without a fee flag bears no fee (as procedures.has_fee's default)
        fees = {str(c): (False if pd.isna(f) else bool(f))
                for c, f in zip(procedures["code"], bool_series(procedures["has_fee"]), strict=True)}
    return df, fees


def _compute(df: pd.DataFrame, fees: Mapping, s, e, now) -> dict:
    rows = row_counts(df, fees, s, e, now)
    out = from_counts(dict(zip(COUNTS, rows.sum(axis=0) if len(rows) else np.zeros(len(COUNTS)))))
    # the median of 2.2 (the mean comes from the additive days_sum)
    fin = rows[:, COUNTS.index("finished")] > 0
    days = rows[fin, COUNTS.index("days_sum")]
    out["indicators"]["2.2"]["median"] = round(float(np.median(days)), 2) if len(days) else None
    return out


def _bounds(start, end, as_of):
    s, e = as_utc(start, "start"), as_utc(end, "end")
    if e < s:
        raise ValueError(f"period end {e} is before start {s}")
    return s, e, (as_utc(as_of, "as_of") if as_of is not None else e)


def indicators(
    dossiers: pd.DataFrame,
    procedures: pd.DataFrame | None,
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
) -> dict:
    """Indicators for one unit (all rows given) over ``[start, end)`` judged at ``as_of``
    (default ``end``): :func:`from_counts` of the rows' :func:`row_counts`, with the median
    processing time added to 2.2. ``value`` is a percentage (2.2: days) or None."""
    s, e, now = _bounds(start, end, as_of)
    df, fees = _prepare(dossiers, procedures)
    return _compute(df, fees, s, e, now)


def report(
    dossiers: pd.DataFrame,
    procedures: pd.DataFrame | None,
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
    by: Iterable[str] = ("agency", "commune_code"),
) -> dict:
    """``{"province": indicators(...), "agency": {name: indicators}, "commune_code":
    {code: indicators}}``; missing grouping values are grouped under ``"unknown"``."""
    s, e, now = _bounds(start, end, as_of)
    df, fees = _prepare(dossiers, procedures)
    out: dict = {"province": _compute(df, fees, s, e, now)}
    for col in by:
        if col not in df.columns:
            continue
        keys = df[col].map(key_of)
        out[col] = {str(k): _compute(g, fees, s, e, now) for k, g in df.groupby(keys, sort=True)}
    return out
