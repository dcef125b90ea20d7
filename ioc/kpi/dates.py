"""Dates and instants of the KPI engine: aware UTC timestamps, local days and months."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

NAT_US = np.iinfo(np.int64).min  # NaT as int64 microseconds


def ts(value) -> pd.Timestamp:
    t = pd.Timestamp(value)
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
    return t.tz_convert("UTC")


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, n: int) -> date:
    y, mth = divmod(day.month - 1 + n, 12)
    return date(day.year + y, mth + 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> pd.Timestamp:
    return pd.Timestamp(datetime(day.year, day.month, day.day), tz=zone).tz_convert("UTC")


def local_day(t: pd.Timestamp | datetime, zone: ZoneInfo) -> date:
    return ts(t).tz_convert(zone).date()


def micros(s) -> np.ndarray:
    """UTC times → int64 microseconds since 1970 (NaT → :data:`NAT_US`)."""
    return pd.Series(s).to_numpy(dtype="datetime64[us]").astype(np.int64)
