"""Values made plain JSON for the snapshot and the period figures: ISO-8601 UTC times,
Python scalars, None for NaN."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd


def iso(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        if pd.isna(v):
            return None
        return v.tz_convert("UTC").isoformat() if v.tzinfo else v.isoformat()
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).isoformat() if v.tzinfo else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if v is pd.NaT:
        return None
    return str(v)


def plain(v):
    """numpy / pandas scalars → Python (NaN → None); datetimes → ISO strings."""
    t = type(v)  # the common exact types first: this runs for every value of a snapshot
    if t is str or t is int or t is bool or v is None:
        return v
    if t is dict:
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, (datetime, date, pd.Timestamp)):
        return iso(v)
    if v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, Mapping):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [plain(x) for x in v]
    return v
