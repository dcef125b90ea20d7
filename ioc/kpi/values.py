"""Checks and conversions of input values, shared by the KPI modules."""

from __future__ import annotations

import math
from numbers import Real
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd

UNKNOWN = "unknown"  # breakdown key for a missing grouping value


def require_columns(df: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")


def utc_series(s: pd.Series, name: str) -> pd.Series:
    """Coerce a column of datetimes to tz-aware UTC (NaT for missing).

    Naive values are rejected: the product stores aware UTC everywhere.
    """
    if len(s) == 0:
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=s.index, dtype="datetime64[ns, UTC]")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC")
    if s.isna().all():
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(s.dtype):
        raise ValueError(f"column {name} holds naive datetimes; expected tz-aware UTC")
    # object column of datetimes / strings
    sample = s.dropna().iloc[0]
    if isinstance(sample, datetime) and sample.tzinfo is None:
        raise ValueError(f"column {name} holds naive datetimes; expected tz-aware UTC")
    try:
        return pd.to_datetime(s, utc=True)
    except (ValueError, TypeError) as err:
        raise ValueError(f"column {name}: cannot read datetimes ({err})") from None


def as_utc(ts, name: str) -> pd.Timestamp:
    if ts is None:
        raise ValueError(f"{name} is required")
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        raise ValueError(f"{name} is a naive datetime; pass a tz-aware one")
    return t.tz_convert("UTC")


def pct(num: float, den: float, digits: int = 2) -> float | None:
    """num/den as a percentage; None when den is 0 (no data is not 0 %)."""
    if den is None or den == 0:
        return None
    return round(100.0 * float(num) / float(den), digits)


def py(v):
    """Plain Python scalar (JSON/Redis friendly): None for NaN/NaT/NA."""
    if v is None:
        return None
    if v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def key_of(v) -> str:
    v = py(v)
    if v is None or (isinstance(v, str) and not v.strip()):
        return UNKNOWN
    return str(v)


def bool_series(s: pd.Series) -> pd.Series:
    """Nullable booleans: True/False/NA (strings 'true'/'1' accepted)."""
    def conv(v):
        v = py(v)
        if v is None:
            return pd.NA
        if isinstance(v, str):
            low = v.strip().lower()
            if low in ("true", "1", "yes", "t", "y"):
                return True
            if low in ("false", "0", "no", "f", "n", ""):
                return False
            return pd.NA
        return bool(v)

    return pd.Series([conv(v) for v in s], index=s.index, dtype="boolean")


def measured_number(name: str, value) -> float:
    """A measured value as the indices take it: a real, finite, non-negative number
    (NaN is "no data", never a value; a bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name}: NaN (no data is not a value)")
    if math.isinf(v):
        raise ValueError(f"{name}: infinite value {value!r}")
    if v < 0:
        raise ValueError(f"{name}: negative value {value!r}")
    return v
