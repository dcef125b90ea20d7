"""Cameras from SQL, counted set-wise: the registry (all cameras or some by id), status
changes, :func:`camera_summary` (:func:`ioc.kpi.cameras.summary` in numpy, checked on random
data) and online time per camera from the status changes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import case, func, literal, select
from sqlalchemy.engine import Connection

from ioc.db import models as m
from ioc.kpi.values import pct
from ioc.kpi.cameras import STATUSES as CAMERA_STATUSES
from ioc.kpi.dates import NAT_US, micros, ts
from ioc.kpi.sql import dialect_name, epoch_expr, fetch, group_keys, in_list, tcol

CAMERA_COLUMNS = ("id", "name", "commune_code", "agency", "status", "status_since", "status_reason",
                  "last_seen", "lat", "lon")
CAMERA_TIMES = ("status_since", "last_seen")


def load_cameras(conn: Connection, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """All cameras, or those with the given ids."""
    d = dialect_name(conn)
    t = m.Camera.__table__
    cols = [t.c[c] if c not in CAMERA_TIMES else tcol(t.c[c], d) for c in CAMERA_COLUMNS]
    if ids is None:
        return fetch(conn, select(*cols), CAMERA_TIMES)
    ids = list(ids)
    parts = [fetch(conn, select(*cols).where(in_list(t.c.id, ids[i:i + 500], d)), CAMERA_TIMES)
             for i in range(0, len(ids), 500)]
    return pd.concat(parts, ignore_index=True) if parts else fetch(conn, select(*cols).where(t.c.id.is_(None)),
                                                                   CAMERA_TIMES)


def load_camera_changes(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    d = dialect_name(conn)
    t = m.CameraStatusChange.__table__
    stmt = select(t.c.camera_id, tcol(t.c.at, d), t.c.status, t.c.previous).where(t.c.at > start, t.c.at <= end)
    return fetch(conn, stmt, ("at",))


def _norm_status(s: pd.Series) -> pd.Series:
    st = s.astype("string").str.strip().str.lower()
    return st.where(st.isin(CAMERA_STATUSES), "unknown").fillna("unknown").astype(object)


def _camera_counts(total: int, c: Mapping[str, int]) -> dict:
    counts = {s: int(c.get(s, 0)) for s in CAMERA_STATUSES}
    return {"total": int(total), **counts, "online_pct": pct(counts["online"], total),
            "online_pct_known": pct(counts["online"], total - counts["unknown"])}


def camera_summary(cameras: pd.DataFrame, as_of: datetime, *, offline_limit: int | None = None) -> dict:
    """:func:`ioc.kpi.cameras.summary` set-wise (same keys). ``offline_limit`` cuts the
    offline list (longest offline first); ``offline_cameras_total`` gives its full length."""
    now = ts(as_of)
    n = len(cameras)
    st = _norm_status(cameras["status"]).to_numpy(dtype=object) if n else np.zeros(0, dtype=object)
    scode = np.array([CAMERA_STATUSES.index(x) for x in st], dtype=np.int64) if n else np.zeros(0, np.int64)
    counts = np.bincount(scode, minlength=4)
    out = _camera_counts(n, dict(zip(CAMERA_STATUSES, counts.tolist())))
    off_idx = np.flatnonzero(scode == 1)
    total_off = len(off_idx)
    rows = []
    if total_off:
        since = micros(cameras["status_since"])[off_idx]
        order = np.argsort(np.where(since == NAT_US, np.iinfo(np.int64).max, since), kind="stable")
        off_idx = off_idx[order]
        if offline_limit is not None:
            off_idx = off_idx[:offline_limit]
        now_us = now.value // 1000
        cols = {c: cameras[c].to_numpy(dtype=object) for c in ("id", "name", "commune_code", "agency", "status_reason")}
        since_all = micros(cameras["status_since"])
        seen_all = micros(cameras["last_seen"])
        for i in off_idx:
            s_ = since_all[i]
            rows.append({"id": str(cols["id"][i]), "name": _none(cols["name"][i]),
                         "commune_code": _none(cols["commune_code"][i]), "agency": _none(cols["agency"][i]),
                         "status_since": None if s_ == NAT_US else
                         pd.Timestamp(int(s_), unit="us", tz="UTC").to_pydatetime(),
                         "offline_hours": None if s_ == NAT_US else
                         round(max(int(now_us - s_) / 1e6, 0.0) / 3600.0, 2),  # as timedelta.total_seconds()
                         "status_reason": _none(cols["status_reason"][i]),
                         "last_seen": None if seen_all[i] == NAT_US else
                         pd.Timestamp(int(seen_all[i]), unit="us", tz="UTC").to_pydatetime()})
    out["offline_cameras"] = rows
    out["offline_cameras_total"] = total_off
    for col, name in (("commune_code", "by_commune"), ("agency", "by_agency")):
        if n:
            codes, uniq = pd.factorize(group_keys(cameras[col]).to_numpy(dtype=object), sort=True)
            ct = np.bincount(codes * 4 + scode, minlength=len(uniq) * 4).reshape(len(uniq), 4)
            out[name] = {str(k): _camera_counts(int(ct[j].sum()), dict(zip(CAMERA_STATUSES, ct[j].tolist())))
                         for j, k in enumerate(uniq)}
        else:
            out[name] = {}
    return out


def _none(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def camera_availability(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Online time per camera in ``[start, end)`` from ``camera_status_changes``.

    The status at ``start`` is the last change before it; a camera without any change
    before ``start`` is taken to have its registry status since ``status_since`` (time
    before that is unknown). Returns ``camera_id, commune_code, agency, online_s,
    known_s`` (seconds); availability = online ÷ known (time with a known status)."""
    d = dialect_name(conn)
    s_ep, e_ep = ts(start).timestamp(), ts(end).timestamp()
    c = m.CameraStatusChange.__table__
    cam = m.Camera.__table__
    # status at start: last change before it (uses the (camera_id, at) unique index). The
    # connector keeps status_since = the time of the latest change, so a camera unchanged
    # since before start needs no lookup (most of them, for today's window).
    last_change = (select(c.c.status).where(c.c.camera_id == cam.c.id, c.c.at < start)
                   .order_by(c.c.at.desc()).limit(1).scalar_subquery())
    prev_status = case((cam.c.status_since <= start, cam.c.status), else_=last_change)
    base = fetch(conn, select(cam.c.id.label("camera_id"), cam.c.commune_code, cam.c.agency, cam.c.status,
                              tcol(cam.c.status_since, d, "status_since"), prev_status.label("status_at_start")),
                 ("status_since",))
    nxt = func.lead(c.c.at).over(partition_by=c.c.camera_id, order_by=c.c.at)
    inner = select(c.c.camera_id, c.c.status, epoch_expr(c.c.at, d).label("t0"),
                   epoch_expr(nxt, d).label("t1")).where(c.c.at >= start, c.c.at < end).subquery()
    dur = func.coalesce(inner.c.t1, literal(e_ep)) - inner.c.t0
    agg = select(inner.c.camera_id,
                 func.sum(case((inner.c.status == "online", dur), else_=0.0)).label("online_s"),
                 func.sum(case((inner.c.status.in_(("online", "offline", "degraded")), dur),
                               else_=0.0)).label("known_s"),
                 func.min(inner.c.t0).label("first_t")).group_by(inner.c.camera_id)
    ch = fetch(conn, agg)
    df = base.merge(ch, on="camera_id", how="left")
    first_t = df["first_t"].astype(float).fillna(e_ep)
    # the segment before the first change in the window
    st0 = df["status_at_start"].astype(object)
    since = df["status_since"]
    since_ep = (since - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
    # no change before start: registry status holds since status_since (if that is before)
    no_prev = st0.isna()
    has_changes = df["online_s"].notna()
    reg_status = df["status"].astype(object).where(~has_changes, None)
    head_start = np.where(no_prev, np.maximum(np.where(np.isnan(since_ep), np.inf, since_ep), s_ep), s_ep)
    head_status = st0.where(~no_prev, reg_status)
    head_len = np.clip(first_t.to_numpy() - head_start, 0, None)
    head_len = np.where(np.isfinite(head_len), head_len, 0.0)
    head_known = head_status.isin(["online", "offline", "degraded"]).to_numpy()
    head_online = (head_status == "online").to_numpy()
    df["online_s"] = df["online_s"].astype(float).fillna(0.0) + np.where(head_online, head_len, 0.0)
    df["known_s"] = df["known_s"].astype(float).fillna(0.0) + np.where(head_known, head_len, 0.0)
    return df[["camera_id", "commune_code", "agency", "online_s", "known_s"]]
