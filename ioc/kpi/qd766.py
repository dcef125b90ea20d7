"""QĐ 766/QĐ-TTg (2022) real-time service-quality indicators from Dossier/Procedure rows.

Indicators computed (codes as in the decision's indicator set; see docs/kpis.md § QĐ 766):

* 2.1 on-time share — dossiers finished on or before the effective due time
  (``due_at`` + ``supplement_wait_hours``: the time the dossier waited for the citizen's
  supplements does not count) ÷ (dossiers finished in the period with a due time +
  unfinished dossiers already past their effective due time at ``as_of``).
  A dossier with more than one supplement request counts as late. A finished dossier
  without ``due_at`` cannot be judged: it is left out and counted in ``no_due``.
* 2.2 mean processing time — mean of (finished_at − received_at − supplement wait) in
  calendar days, over dossiers finished in the period.
* 3.3 online submission share — ``channel == 2`` ÷ dossiers received in the period
  (1 or null = in person, 3 = post).
* 3.6 online payment share — ``paid_online`` true ÷ dossiers received in the period
  whose procedure ``has_fee`` (procedure not in the catalogue → left out).
* 4.1 electronic result share — ``electronic_result`` true ÷ dossiers finished.
* 4.2 digitisation share — ``digitised`` true ÷ dossiers received.
* 4.3 re-use share — ``data_reused`` true ÷ dossiers received.
* 5.4 satisfaction with procedure handling — 100 % − (overdue rate + share of finished
  dossiers with a complaint or satisfaction ≤ 2), clamped at 0; overdue rate = 100 −
  indicator 2.1.

Boolean flags that are null count as "not done" (the dossier gives no evidence); the
number of nulls is reported as ``unknown``. A share with an empty denominator is None.

Scoring: below its threshold an indicator scores rate × max points ÷ threshold; at or
above it, max points (QĐ 766 rule). Thresholds and max points are in :data:`INDICATORS`
with their confidence; most could not be checked against the decision text here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from ioc.kpi._util import as_utc, bool_series, key_of, pct, require_columns, utc_series

__all__ = ["INDICATORS", "Indicator", "indicators", "report", "score"]


@dataclass(frozen=True)
class Indicator:
    code: str
    name_vi: str
    name_en: str
    group: int
    max_points: float | None  # None: reported, not scored here
    threshold_pct: float | None
    confidence: str
    note: str = ""


INDICATORS: dict[str, Indicator] = {
    i.code: i
    for i in (
        Indicator("2.1", "Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn", "Dossiers finished early/on time",
                  2, 10.0, 100.0, "low", "max points and threshold not verified"),
        Indicator("2.2", "Thời gian giải quyết trung bình", "Mean processing time (days)",
                  2, None, None, "n/a", "a duration; its scoring is not implemented"),
        Indicator("3.3", "Tỷ lệ hồ sơ nộp trực tuyến", "Dossiers submitted online",
                  3, 4.0, 50.0, "medium", "threshold 50 % per DOMAIN.md; max points not verified"),
        Indicator("3.6", "Tỷ lệ hồ sơ thanh toán trực tuyến", "Dossiers paid online",
                  3, 4.0, 50.0, "low", "threshold and max points not verified"),
        Indicator("4.1", "Tỷ lệ hồ sơ cấp kết quả điện tử", "Dossiers with an electronic result",
                  4, 4.0, 100.0, "low", "threshold and max points not verified"),
        Indicator("4.2", "Tỷ lệ số hóa hồ sơ", "Dossiers digitised",
                  4, 4.0, 100.0, "low", "threshold and max points not verified"),
        Indicator("4.3", "Tỷ lệ khai thác, sử dụng lại dữ liệu số hóa", "Re-use of digitised data",
                  4, 4.0, 100.0, "low", "threshold and max points not verified"),
        Indicator("5.4", "Mức độ hài lòng trong giải quyết TTHC", "Satisfaction with procedure handling",
                  5, 4.0, 90.0, "medium", "threshold 90 % per DOMAIN.md; max points not verified"),
    )
}

REQUIRED = ("id", "procedure_code", "channel", "received_at", "due_at", "finished_at",
            "supplement_requests", "supplement_wait_hours")


def score(rate_pct: float | None, max_points: float | None, threshold_pct: float | None) -> float | None:
    """QĐ 766 threshold scoring: rate ≥ threshold → max points; else rate × max ÷ threshold."""
    if rate_pct is None or max_points is None or threshold_pct is None:
        return None
    if threshold_pct <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold_pct}")
    rate = max(float(rate_pct), 0.0)
    if rate >= threshold_pct:
        return float(max_points)
    return round(rate * max_points / threshold_pct, 3)


def _prepare(dossiers: pd.DataFrame, procedures: pd.DataFrame | None) -> pd.DataFrame:
    require_columns(dossiers, REQUIRED, "dossiers")
    df = dossiers.copy()
    for col in ("received_at", "due_at", "finished_at"):
        df[col] = utc_series(df[col], col)
    df["supplement_requests"] = pd.to_numeric(df["supplement_requests"], errors="coerce").fillna(0)
    wait = pd.to_numeric(df["supplement_wait_hours"], errors="coerce").fillna(0.0)
    df["_wait"] = pd.to_timedelta(wait.clip(lower=0.0), unit="h")
    df["_due_eff"] = df["due_at"] + df["_wait"]
    df["_channel"] = pd.to_numeric(df["channel"], errors="coerce")
    for col in ("paid_online", "electronic_result", "digitised", "data_reused", "complaint"):
        df[col] = bool_series(df[col]) if col in df.columns else pd.Series(pd.NA, index=df.index, dtype="boolean")
    sat = df["satisfaction"] if "satisfaction" in df.columns else pd.Series(np.nan, index=df.index)
    df["_sat"] = pd.to_numeric(sat, errors="coerce")
    fee = pd.Series(pd.NA, index=df.index, dtype="boolean")
    if procedures is not None and len(procedures):
        require_columns(procedures, ("code", "has_fee"), "procedures")
        fees = dict(zip(procedures["code"].astype(str), bool_series(procedures["has_fee"]), strict=True))
        fee = pd.Series([fees.get(str(c), pd.NA) if not pd.isna(c) else pd.NA for c in df["procedure_code"]],
                        index=df.index, dtype="boolean")
    df["_fee"] = fee
    return df


def _share(flags: pd.Series, code: str) -> dict:
    true = int(flags.fillna(False).astype(bool).sum())
    den = int(len(flags))
    return _entry(code, pct(true, den), true, den, unknown=int(flags.isna().sum()))


def _entry(code: str, value, numerator, denominator, **extra) -> dict:
    ind = INDICATORS.get(code)
    out = {"value": value, "numerator": numerator, "denominator": denominator}
    if ind is not None:
        out.update(
            max_points=ind.max_points,
            threshold_pct=ind.threshold_pct,
            score=score(value, ind.max_points, ind.threshold_pct),
        )
    out.update(extra)
    return out


def _compute(df: pd.DataFrame, s: pd.Timestamp, e: pd.Timestamp, now: pd.Timestamp) -> dict:
    received = df[(df["received_at"] >= s) & (df["received_at"] < e)]
    fin_mask = df["finished_at"].notna() & (df["finished_at"] >= s) & (df["finished_at"] < e) & (df["finished_at"] <= now)
    finished = df[fin_mask]
    not_finished = df["finished_at"].isna() | (df["finished_at"] > now)
    overdue_open = df[not_finished & (df["received_at"] < e) & df["_due_eff"].notna() & (df["_due_eff"] < now)]

    judged = finished[finished["due_at"].notna()]
    on_time_mask = (judged["finished_at"] <= judged["_due_eff"]) & (judged["supplement_requests"] <= 1)
    on_time = int(on_time_mask.sum())
    late_finished = int(len(judged) - on_time)
    den21 = int(len(judged) + len(overdue_open))
    v21 = pct(on_time, den21)
    ind: dict[str, dict] = {}
    ind["2.1"] = _entry("2.1", v21, on_time, den21, late_finished=late_finished,
                        overdue_unfinished=int(len(overdue_open)),
                        no_due=int(len(finished) - len(judged)))

    days = (finished["finished_at"] - finished["received_at"] - finished["_wait"]).dt.total_seconds() / 86400.0
    days = days.clip(lower=0.0)
    ind["2.2"] = {"value": round(float(days.mean()), 2) if len(days) else None, "unit": "days",
                  "denominator": int(len(days)), "median": round(float(days.median()), 2) if len(days) else None}

    online = int((received["_channel"] == 2).sum())
    ind["3.3"] = _entry("3.3", pct(online, len(received)), online, int(len(received)),
                        post=int((received["_channel"] == 3).sum()),
                        in_person=int(((received["_channel"] == 1) | received["_channel"].isna()).sum()))
    fee_bearing = received[received["_fee"].fillna(False).astype(bool)]
    ind["3.6"] = _share(fee_bearing["paid_online"], "3.6")
    ind["3.6"]["unknown_procedure"] = int(received["_fee"].isna().sum())
    ind["4.1"] = _share(finished["electronic_result"], "4.1")
    ind["4.2"] = _share(received["digitised"], "4.2")
    ind["4.3"] = _share(received["data_reused"], "4.3")

    unhappy = finished["complaint"].fillna(False).astype(bool) | (finished["_sat"] <= 2).fillna(False)
    unhappy_share = pct(int(unhappy.sum()), len(finished))
    if v21 is None or unhappy_share is None:
        v54 = None
    else:
        v54 = round(max(0.0, 100.0 - ((100.0 - v21) + unhappy_share)), 2)
    ind["5.4"] = _entry("5.4", v54, None, int(len(finished)), overdue_rate=None if v21 is None else round(100 - v21, 2),
                        complaint_or_low_satisfaction_pct=unhappy_share)
    scored = [v["score"] for v in ind.values() if v.get("score") is not None]
    return {
        "counts": {"received": int(len(received)), "finished": int(len(finished)),
                   "overdue_unfinished": int(len(overdue_open))},
        "indicators": ind,
        "score": round(sum(scored), 3) if scored else None,
        "max_score": sum(INDICATORS[c].max_points for c, v in ind.items()
                         if v.get("score") is not None and INDICATORS[c].max_points is not None) or None,
    }


def indicators(
    dossiers: pd.DataFrame,
    procedures: pd.DataFrame | None,
    start: datetime,
    end: datetime,
    as_of: datetime | None = None,
) -> dict:
    """Indicators for one unit (all rows given) over ``[start, end)`` judged at ``as_of``
    (default ``end``). Returns ``{"counts": {...}, "indicators": {code: {value, numerator,
    denominator, max_points, threshold_pct, score, …}}, "score", "max_score"}``; ``value``
    is a percentage (2.2: days) or None."""
    s, e = as_utc(start, "start"), as_utc(end, "end")
    if e < s:
        raise ValueError(f"period end {e} is before start {s}")
    now = as_utc(as_of, "as_of") if as_of is not None else e
    return _compute(_prepare(dossiers, procedures), s, e, now)


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
    s, e = as_utc(start, "start"), as_utc(end, "end")
    if e < s:
        raise ValueError(f"period end {e} is before start {s}")
    now = as_utc(as_of, "as_of") if as_of is not None else e
    df = _prepare(dossiers, procedures)
    out: dict = {"province": _compute(df, s, e, now)}
    for col in by:
        if col not in df.columns:
            continue
        keys = df[col].map(key_of)
        out[col] = {str(k): _compute(g, s, e, now) for k, g in df.groupby(keys, sort=True)}
    return out
