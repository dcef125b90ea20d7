"""Camera network KPIs from Camera rows and CameraStatusChange rows.

* total — cameras in the registry; counts per status ``online | offline | degraded |
  unknown`` (any other status string is counted as ``unknown``).
* online_pct — online ÷ total × 100 (None with no cameras). ``online_pct_known`` uses
  total − unknown as denominator (None when every status is unknown).
* offline list — offline cameras with ``status_since`` and hours offline at ``as_of``,
  longest-offline first (unknown since last).
* by commune / agency — the same counts per ``commune_code`` / ``agency``.
* flapping — cameras with ≥ ``min_changes`` status changes in the window
  ``(as_of − window, as_of]`` (defaults: 4 changes in 1 hour, i.e. two offline/online
  cycles — our operational choice, not from any standard).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from ioc.kpi.values import as_utc, key_of, pct, py, require_columns, utc_series

__all__ = ["FLAP_MIN_CHANGES", "FLAP_WINDOW", "STATUSES", "flapping", "offline_list", "summary"]

STATUSES = ("online", "offline", "degraded", "unknown")
FLAP_WINDOW = timedelta(hours=1)
FLAP_MIN_CHANGES = 4


def _norm_status(s: pd.Series) -> pd.Series:
    st = s.astype("string").str.strip().str.lower()
    return st.where(st.isin(STATUSES), "unknown").fillna("unknown").astype(str)


def _counts(df: pd.DataFrame) -> dict:
    total = int(len(df))
    vc = df["_status"].value_counts()
    counts = {s: int(vc.get(s, 0)) for s in STATUSES}
    known = total - counts["unknown"]
    return {
        "total": total,
        **counts,
        "online_pct": pct(counts["online"], total),
        "online_pct_known": pct(counts["online"], known),
    }


def offline_list(cameras: pd.DataFrame, as_of: datetime) -> list[dict]:
    """Offline cameras: ``[{id, name, commune_code, agency, status_since, offline_hours,
    status_reason, last_seen}]`` (datetimes as aware ``datetime`` or None), longest first."""
    require_columns(cameras, ("id", "status"), "cameras")
    now = as_utc(as_of, "as_of")
    df = cameras.copy()
    df["_status"] = _norm_status(df["status"])
    off = df[df["_status"] == "offline"].copy()
    since = utc_series(off["status_since"], "status_since") if "status_since" in off else pd.Series(
        pd.NaT, index=off.index, dtype="datetime64[us, UTC]"
    )
    last_seen = utc_series(off["last_seen"], "last_seen") if "last_seen" in off else None
    off["_since"] = since
    off = off.sort_values("_since", na_position="last", kind="stable")
    out = []
    for idx, row in off.iterrows():
        s = row["_since"]
        hours = None if pd.isna(s) else round(max((now - s).total_seconds(), 0.0) / 3600.0, 2)
        out.append(
            {
                "id": str(row["id"]),
                "name": py(row.get("name")),
                "commune_code": py(row.get("commune_code")),
                "agency": py(row.get("agency")),
                "status_since": None if pd.isna(s) else s.to_pydatetime(),
                "offline_hours": hours,
                "status_reason": py(row.get("status_reason")),
                "last_seen": None
                if last_seen is None or pd.isna(last_seen.loc[idx])
                else last_seen.loc[idx].to_pydatetime(),
            }
        )
    return out


def summary(cameras: pd.DataFrame, as_of: datetime) -> dict:
    """Network summary: ``{total, online, offline, degraded, unknown, online_pct,
    online_pct_known, offline_cameras: [offline_list rows], by_commune: {code: counts},
    by_agency: {agency: counts}}``."""
    require_columns(cameras, ("id", "status"), "cameras")
    df = cameras.copy()
    df["_status"] = _norm_status(df["status"])
    out = _counts(df)
    out["offline_cameras"] = offline_list(cameras, as_of)
    for col, name in (("commune_code", "by_commune"), ("agency", "by_agency")):
        if col in df.columns and len(df):
            keys = df[col].map(key_of)
            out[name] = {str(k): _counts(g) for k, g in df.groupby(keys, sort=True)}
        else:
            out[name] = {}
    return out


def flapping(
    changes: pd.DataFrame,
    as_of: datetime,
    window: timedelta = FLAP_WINDOW,
    min_changes: int = FLAP_MIN_CHANGES,
) -> list[dict]:
    """Cameras whose status changed ≥ ``min_changes`` times in ``(as_of − window, as_of]``.

    ``changes``: CameraStatusChange rows (camera_id, at, status, previous). Rows whose
    status equals previous are not changes and are ignored. Returns
    ``[{camera_id, changes, first_at, last_at, last_status}]``, most changes first.
    """
    require_columns(changes, ("camera_id", "at", "status"), "camera_status_changes")
    if min_changes < 1:
        raise ValueError(f"min_changes must be >= 1, got {min_changes}")
    if window <= timedelta(0):
        raise ValueError(f"window must be positive, got {window}")
    now = as_utc(as_of, "as_of")
    df = changes.copy()
    df["at"] = utc_series(df["at"], "at")
    df = df[(df["at"] > now - window) & (df["at"] <= now)]
    if "previous" in df.columns:
        same = df["previous"].astype("string").str.lower() == df["status"].astype("string").str.lower()
        df = df[~same.fillna(False).astype(bool)]
    out = []
    for cam, grp in df.sort_values("at", kind="stable").groupby("camera_id", sort=True):
        if len(grp) >= min_changes:
            out.append(
                {
                    "camera_id": str(cam),
                    "changes": int(len(grp)),
                    "first_at": grp["at"].iloc[0].to_pydatetime(),
                    "last_at": grp["at"].iloc[-1].to_pydatetime(),
                    "last_status": py(grp["status"].iloc[-1]),
                }
            )
    out.sort(key=lambda r: (-r["changes"], r["camera_id"]))
    return out
