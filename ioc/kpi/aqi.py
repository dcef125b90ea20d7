"""Vietnam AQI (VN_AQI) per QĐ 1459/QĐ-TCMT (2019) of the Vietnam Environment Administration.

* Breakpoints: the decision's Table (reproduced in docs/kpis.md and below), µg/m³.
* Sub-index: linear interpolation
  ``AQIx = (I[i+1] − I[i]) / (BP[i+1] − BP[i]) × (Cx − BP[i]) + I[i]``.
* Rounding: to an integer, **half up** (``floor(x + 0.5)``), e.g. 50.5 → 51. Python's
  ``round`` would give banker's rounding (50.5 → 50) and is not used.
* Above the top breakpoint the sub-index is **500** (the scale ends at 500; we know of no
  extrapolation prescribed by QĐ 1459, so none is made). ``sub_index_detail`` reports
  ``capped=True`` for those values so the UI can show "500+".
* O₃ 8-hour above 400 µg/m³: the 8-hour column has no breakpoints above 400 (AQI 300).
  QĐ 1459's daily rule says to skip such 8-hour values and use the 1-hour O₃ instead,
  so :func:`sub_index` raises :class:`NotApplicable` (a ``ValueError``) and
  :func:`daily_aqi` leaves that 8-hour mean out.
* Hourly AQI: SO₂, NO₂, CO, O₃ from the hour's 1-hour mean; PM10 and PM2.5 from the
  NowCast of the last 12 hourly means. Daily AQI: PM 24-hour mean; SO₂, NO₂, CO the
  day's highest 1-hour mean; O₃ the larger of the AQI of the highest 1-hour mean and of
  the highest 8-hour rolling mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from numbers import Real
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioc.kpi.values import measured_number

__all__ = [
    "AQI_LEVELS",
    "BREAKPOINTS",
    "CATEGORIES",
    "DAILY_PM_MIN_HOURS",
    "O3_8H_MIN_HOURS",
    "PLAUSIBLE_MAX",
    "POLLUTANTS",
    "Category",
    "NotApplicable",
    "SubIndex",
    "category",
    "daily_aqi",
    "hourly_aqi",
    "nowcast",
    "round_half_up",
    "sub_index",
    "sub_index_detail",
]

# Index levels I and breakpoints BP (µg/m³) — QĐ 1459/QĐ-TCMT, Bảng 1.
AQI_LEVELS: tuple[int, ...] = (0, 50, 100, 150, 200, 300, 400, 500)
BREAKPOINTS: dict[str, tuple[float, ...]] = {
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 120, 170, 210, 400),  # no values for I = 400, 500
    "co": (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
}
POLLUTANTS: tuple[str, ...] = tuple(BREAKPOINTS)

# Hourly-frame columns (what the station measures) and the table each uses hourly.
FRAME_COLUMNS: tuple[str, ...] = ("pm25", "pm10", "no2", "so2", "co", "o3")

# Sensor plausibility ceilings (µg/m³) for hourly_aqi/daily_aqi: a value above is taken
# as a sensor/transmission fault and dropped (reported in the ``invalid`` column), not
# reported as AQI 500. These are OUR data-quality choices, not from QĐ 1459; they sit
# well above anything recorded in Vietnamese monitoring (e.g. PM2.5 > 1,000 µg/m³ 1-h).
PLAUSIBLE_MAX: dict[str, float] = {
    "pm25": 2000.0,
    "pm10": 5000.0,
    "no2": 10000.0,
    "so2": 10000.0,
    "co": 500000.0,
    "o3": 5000.0,
}

# Completeness rules for daily values: OUR choices (75 % of the averaging period, the
# usual convention, e.g. US EPA, QCVN data-validity practice); QĐ 1459 text should be
# checked for an explicit figure.
DAILY_PM_MIN_HOURS = 18  # of 24
O3_8H_MIN_HOURS = 6  # of 8


class NotApplicable(ValueError):
    """The concentration is outside what the table covers and the rule says skip it."""


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves upwards (50.5 → 51). x must be finite, ≥ 0."""
    return int(math.floor(x + 0.5))


def _check_concentration(pollutant: str, concentration) -> float:
    return measured_number(f"concentration for {pollutant} (µg/m³)", concentration)


@dataclass(frozen=True)
class SubIndex:
    pollutant: str
    concentration: float
    raw: float  # before rounding
    value: int
    capped: bool  # True when the concentration is above the top breakpoint (value 500)


def sub_index_detail(pollutant: str, concentration: float) -> SubIndex:
    """Like :func:`sub_index` but also returns the unrounded value and the cap flag."""
    if pollutant not in BREAKPOINTS:
        raise ValueError(
            f"unknown pollutant {pollutant!r}; expected one of {', '.join(POLLUTANTS)}"
        )
    c = _check_concentration(pollutant, concentration)
    bps = BREAKPOINTS[pollutant]
    levels = AQI_LEVELS[: len(bps)]
    if c > bps[-1]:
        if pollutant == "o3_8h":
            raise NotApplicable(
                f"o3_8h concentration {c:g} µg/m³ is above 400: QĐ 1459 skips the 8-hour "
                "O3 value above 400 µg/m³ (use the 1-hour O3 AQI)"
            )
        return SubIndex(pollutant, c, 500.0, 500, True)
    for i in range(len(bps) - 1):
        lo, hi = bps[i], bps[i + 1]
        if c <= hi:
            raw = (levels[i + 1] - levels[i]) / (hi - lo) * (c - lo) + levels[i]
            return SubIndex(pollutant, c, raw, round_half_up(raw), False)
    raise AssertionError("unreachable")  # pragma: no cover


def sub_index(pollutant: str, concentration: float) -> int:
    """VN_AQI sub-index of one pollutant (µg/m³), rounded half up to an int.

    Raises ``ValueError`` for an unknown pollutant or a negative/NaN/infinite/non-numeric
    concentration, and :class:`NotApplicable` (a ``ValueError``) for ``o3_8h`` above
    400 µg/m³. Above the top breakpoint of the other pollutants the result is 500.
    """
    return sub_index_detail(pollutant, concentration).value


# --- NowCast ----------------------------------------------------------------------------


def nowcast_value(values: Sequence[float | None]) -> float | None:
    """NowCast over already-validated values (None = missing)."""
    window = list(values[:12])
    if sum(v is not None for v in window[:3]) < 2:
        return None
    present = [(i, v) for i, v in enumerate(window) if v is not None]
    cmax = max(v for _, v in present)
    cmin = min(v for _, v in present)
    if cmax == 0:
        return 0.0
    w = max(cmin / cmax, 0.5)
    num = sum((w**i) * v for i, v in present)  # i is 0-based: w^(i-1) with 1-based i
    den = sum(w**i for i, _ in present)
    return num / den


def _is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, float | np.floating) and math.isnan(v))
    except TypeError:  # pragma: no cover
        return False


def nowcast(hourly: Sequence[float | None]) -> float | None:
    """NowCast (QĐ 1459) of hourly means given **latest first** (c1 = the latest hour).

    Up to 12 values are used (extra ones are ignored). ``None``/NaN marks a missing hour;
    it drops out of both sums but keeps its position ``i``.

    * w* = Cmin/Cmax over the available values of c1..c12; w = max(w*, 1/2);
    * NowCast = Σ w^(i−1)·ci / Σ w^(i−1) over available hours;
    * at least 2 of c1, c2, c3 are required, otherwise ``None``;
    * all available values 0 → 0.0;
    * a negative or infinite value → ``ValueError`` naming its position.

    QĐ 1459 writes the w = 1/2 case as Σ (1/2)^i·ci, which is the same formula with
    the denominator Σ (1/2)^(i−1) ≈ 2 for 12 complete hours (exact general form used
    here; difference < 0.03 %).
    """
    if isinstance(hourly, str | bytes) or not isinstance(hourly, Sequence | np.ndarray | pd.Series):
        raise TypeError(f"hourly must be a sequence of hourly means, got {type(hourly).__name__}")
    values: list[float | None] = []
    for pos, v in enumerate(list(hourly)[:12], start=1):
        if _is_missing(v):
            values.append(None)
            continue
        if isinstance(v, bool) or not isinstance(v, Real):
            raise ValueError(f"hourly value c{pos} is not a number: {v!r}")
        fv = float(v)
        if math.isinf(fv):
            raise ValueError(f"hourly value c{pos} is infinite: {v!r}")
        if fv < 0:
            raise ValueError(f"hourly value c{pos} is negative: {v!r}")
        values.append(fv)
    return nowcast_value(values)


# --- categories -------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    key: str
    name_vi: str
    name_en: str
    rgb: tuple[int, int, int]
    hex: str
    low: int
    high: int


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


# QĐ 1459/QĐ-TCMT, Bảng 3 (ranges, names and RGB colours).
CATEGORIES: tuple[Category, ...] = tuple(
    Category(key, vi, en, rgb, _hex(rgb), lo, hi)
    for key, vi, en, rgb, lo, hi in (
        ("good", "Tốt", "Good", (0, 228, 0), 0, 50),
        ("moderate", "Trung bình", "Moderate", (255, 255, 0), 51, 100),
        ("poor", "Kém", "Poor", (255, 126, 0), 101, 150),
        ("bad", "Xấu", "Bad", (255, 0, 0), 151, 200),
        ("very_bad", "Rất xấu", "Very bad", (143, 63, 151), 201, 300),
        ("hazardous", "Nguy hại", "Hazardous", (126, 0, 35), 301, 500),
    )
)


def category(aqi: float | None) -> Category | None:
    """Category of an AQI value; ``None`` for no data. Values > 500 are Nguy hại.

    A non-integer value is rounded half up first. Negative/NaN → ValueError.
    """
    if aqi is None or _is_missing(aqi):
        return None
    if isinstance(aqi, bool) or not isinstance(aqi, Real):
        raise ValueError(f"AQI must be a number, got {aqi!r}")
    if aqi < 0 or math.isinf(aqi):
        raise ValueError(f"AQI must be finite and >= 0, got {aqi!r}")
    value = round_half_up(float(aqi))
    for cat in CATEGORIES:
        if value <= cat.high:
            return cat
    return CATEGORIES[-1]


# --- frames -----------------------------------------------------------------------------


def _prepare_frame(df: pd.DataFrame, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate the hourly frame; return (clean values with NaN for missing/invalid,
    boolean frame of invalid cells). Index reindexed to a complete hourly UTC range."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    unknown = [c for c in df.columns if c not in FRAME_COLUMNS]
    if unknown:
        raise ValueError(
            f"{name} has unknown pollutant column(s) {unknown}; expected a subset of "
            f"{list(FRAME_COLUMNS)} (µg/m³)"
        )
    frame = df.reindex(columns=list(FRAME_COLUMNS))
    if len(frame) == 0:
        empty_idx = pd.DatetimeIndex([], tz="UTC", name="hour")
        cols = list(FRAME_COLUMNS)
        return pd.DataFrame(index=empty_idx, columns=cols, dtype=float), pd.DataFrame(
            index=empty_idx, columns=cols, dtype=bool
        )
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError(f"{name} must be indexed by hour (DatetimeIndex, tz-aware UTC)")
    if frame.index.tz is None:
        raise ValueError(f"{name} index is timezone-naive; pass tz-aware UTC hours")
    idx = frame.index.tz_convert("UTC")
    if (idx != idx.floor("h")).any():
        bad = idx[idx != idx.floor("h")][0]
        raise ValueError(f"{name} index must be whole hours (hour-start), got {bad}")
    if idx.has_duplicates:
        raise ValueError(f"{name} index has duplicate hours, e.g. {idx[idx.duplicated()][0]}")
    frame.index = idx
    frame = frame.sort_index()
    values = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    # a non-numeric cell that was not empty counts as invalid
    nonnumeric = values.isna() & frame.notna()
    ceilings = pd.Series(PLAUSIBLE_MAX)[list(FRAME_COLUMNS)]
    bad = (values < 0) | np.isinf(values) | values.gt(ceilings, axis=1) | nonnumeric
    values = values.mask(bad)
    full = pd.date_range(values.index[0], values.index[-1], freq="h", tz="UTC", name="hour")
    values = values.reindex(full)
    bad = bad.reindex(full, fill_value=False)
    return values, bad


def _invalid_labels(bad: pd.DataFrame) -> list[str | None]:
    out: list[str | None] = []
    for _, row in bad.iterrows():
        names = [c for c in FRAME_COLUMNS if bool(row[c])]
        out.append(",".join(names) if names else None)
    return out


def sub_or_none(pollutant: str, c: float | None) -> int | None:
    if c is None or math.isnan(c):
        return None
    try:
        return sub_index(pollutant, c)
    except NotApplicable:
        return None


def station_max(subs: dict[str, int | None]) -> tuple[int | None, str | None]:
    present = {k: v for k, v in subs.items() if v is not None}
    if not present:
        return None, None
    best = max(present.values())
    # ties: the first in FRAME_COLUMNS order (PM2.5 first)
    dominant = next(k for k in FRAME_COLUMNS if present.get(k) == best)
    return best, dominant


def _object_frame(records: list[dict], index: pd.Index, columns: list[str]) -> pd.DataFrame:
    """DataFrame of object columns keeping Python ints/floats/str and None (no NaN)."""
    data = {
        col: pd.Series([_clean(r.get(col)) for r in records], index=index, dtype=object)
        for col in columns
    }
    return pd.DataFrame(data, index=index, columns=columns)


def _clean(v):
    if v is None or _is_missing(v):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def hourly_aqi(station_hourly: pd.DataFrame) -> pd.DataFrame:
    """Hourly VN_AQI of one station.

    Input: hourly means in µg/m³, columns a subset of ``pm25, pm10, no2, so2, co, o3``,
    index = hour start, tz-aware (converted to UTC). Missing hours may be absent rows or
    NaN. Negative, infinite, non-numeric or implausible values (> ``PLAUSIBLE_MAX``) are
    treated as missing and named in the ``invalid`` column.

    Output: one row per hour of the complete hourly range (first..last input hour),
    index ``hour`` (UTC), object columns holding ``int`` or ``None``:
    ``pm25, pm10, no2, so2, co, o3`` (sub-indices; PM from NowCast, O₃ from the 1-hour
    table), ``aqi`` (max of the sub-indices), ``dominant`` (pollutant giving the max; ties
    → first in that column order), ``nowcast_pm25``, ``nowcast_pm10`` (µg/m³ float or None),
    ``invalid`` (comma-separated pollutants dropped that hour, or None).
    An empty input gives an empty frame with those columns.
    """
    values, bad = _prepare_frame(station_hourly, "station_hourly")
    out_cols = [*FRAME_COLUMNS, "aqi", "dominant", "nowcast_pm25", "nowcast_pm10", "invalid"]
    if len(values) == 0:
        return pd.DataFrame(index=values.index, columns=out_cols, dtype=object)
    n = len(values)
    records: list[dict] = []
    pm_arrays = {p: values[p].to_numpy() for p in ("pm25", "pm10")}
    for pos in range(n):
        row = values.iloc[pos]
        subs: dict[str, int | None] = {}
        nowcasts: dict[str, float | None] = {}
        for p in ("pm25", "pm10"):
            arr = pm_arrays[p]
            window = arr[max(0, pos - 11) : pos + 1][::-1]  # latest first
            hours = [None if math.isnan(x) else float(x) for x in window]
            nc = nowcast_value(hours)
            nowcasts[p] = nc
            subs[p] = sub_or_none(p, nc) if nc is not None else None
        subs["no2"] = sub_or_none("no2", row["no2"])
        subs["so2"] = sub_or_none("so2", row["so2"])
        subs["co"] = sub_or_none("co", row["co"])
        subs["o3"] = sub_or_none("o3_1h", row["o3"])
        aqi, dominant = station_max(subs)
        records.append(
            {
                **subs,
                "aqi": aqi,
                "dominant": dominant,
                "nowcast_pm25": nowcasts["pm25"],
                "nowcast_pm10": nowcasts["pm10"],
            }
        )
    invalid = _invalid_labels(bad)
    for rec, inv in zip(records, invalid, strict=True):
        rec["invalid"] = inv
    return _object_frame(records, values.index, out_cols)


def daily_aqi(
    station_hourly: pd.DataFrame,
    tz: str | ZoneInfo = "Asia/Ho_Chi_Minh",
    min_pm_hours: int = DAILY_PM_MIN_HOURS,
    min_o3_8h_hours: int = O3_8H_MIN_HOURS,
) -> pd.DataFrame:
    """Daily VN_AQI of one station, per local calendar day in ``tz``.

    Same input as :func:`hourly_aqi`. Per day:

    * PM2.5, PM10: 24-hour mean of the day's hourly means, only if ≥ ``min_pm_hours``
      hours are valid (our completeness choice, 75 %), else None;
    * SO₂, NO₂, CO: the highest 1-hour mean of the day;
    * O₃: the larger of the AQI of the highest 1-hour mean (o3_1h table) and of the
      highest 8-hour rolling mean (o3_8h table). 8-hour means are rolling means of
      hours [h−7, h] for every hour h of the day (earlier hours may come from the
      previous day if present in the input), each needing ≥ ``min_o3_8h_hours`` valid
      hours; an 8-hour mean above 400 µg/m³ is skipped (QĐ 1459).

    Output: index ``date`` (local date), object columns ``pm25, pm10, no2, so2, co, o3,
    aqi, dominant, hours`` (``hours`` = number of hours with at least one valid value),
    ints or None. Days with no valid data at all are omitted.
    """
    values, _bad = _prepare_frame(station_hourly, "station_hourly")
    out_cols = [*FRAME_COLUMNS, "aqi", "dominant", "hours"]
    if len(values) == 0:
        return pd.DataFrame(index=pd.Index([], name="date"), columns=out_cols, dtype=object)
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    o3_8h = values["o3"].rolling(8, min_periods=min_o3_8h_hours).mean()
    local_days = values.index.tz_convert(zone).date
    records: dict[date, dict] = {}
    for day in sorted(set(local_days)):
        mask = local_days == day
        day_vals = values[mask]
        hours_with_data = int(day_vals.notna().any(axis=1).sum())
        if hours_with_data == 0:
            continue
        subs: dict[str, int | None] = {}
        for p in ("pm25", "pm10"):
            col = day_vals[p].dropna()
            subs[p] = sub_or_none(p, float(col.mean())) if len(col) >= min_pm_hours else None
        for p in ("no2", "so2", "co"):
            col = day_vals[p].dropna()
            subs[p] = sub_or_none(p, float(col.max())) if len(col) else None
        o3_1h = day_vals["o3"].dropna()
        a1 = sub_or_none("o3_1h", float(o3_1h.max())) if len(o3_1h) else None
        eight = o3_8h[mask].dropna()
        eight = eight[eight <= BREAKPOINTS["o3_8h"][-1]]
        a8 = sub_or_none("o3_8h", float(eight.max())) if len(eight) else None
        o3_candidates = [a for a in (a1, a8) if a is not None]
        subs["o3"] = max(o3_candidates) if o3_candidates else None
        aqi, dominant = station_max(subs)
        records[day] = {**subs, "aqi": aqi, "dominant": dominant, "hours": hours_with_data}
    return _object_frame(
        list(records.values()), pd.Index(list(records), name="date", dtype=object), out_cols
    )
