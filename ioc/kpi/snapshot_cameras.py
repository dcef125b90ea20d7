"""The snapshot's cameras part: counts by status (province, commune, agency), the offline
list, flapping cameras and the changes of the last hour.

:func:`ioc.kpi.cameras_sql.camera_summary` is :func:`ioc.kpi.cameras.summary` in numpy;
flapping is :func:`ioc.kpi.cameras.flapping` itself. The registry is kept in memory and
followed on the ``cameras`` change stream.
"""

from __future__ import annotations

import time
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from ioc.kpi import cameras, cameras_sql, sql, stream
from ioc.kpi.dates import ts
from ioc.kpi.jsonable import iso, plain


def empty() -> dict:
    return {"has_data": False, "total": None, **{s: None for s in cameras.STATUSES}, "online_pct": None,
            "online_pct_known": None, "offline_cameras_total": None, "by_commune": {}, "by_agency": {},
            "offline_cameras": [], "flapping": [], "changes_last_hour": None}


class CamerasPart:
    """Computes the cameras part; keeps the camera registry in memory."""

    def __init__(self, engine: Engine, store, opts) -> None:
        self.engine = engine
        self.opts = opts  # the builder's options (offline_limit, closed_ttl, flap_*), read at each build
        self.follow = stream.StreamFollower(store, "cameras")
        self._cams: pd.DataFrame | None = None
        self._loaded = 0.0

    def _camera_set(self, conn, moved: bool) -> pd.DataFrame:
        """All cameras, refreshed from the change stream (changed cameras re-read by id);
        reloaded every ``closed_ttl`` seconds, when the stream cannot be followed, or when
        the version ``moved`` without a change event."""
        mono = time.monotonic()
        ids = None
        if self._cams is not None and mono - self._loaded <= self.opts.closed_ttl:
            ids = self.follow.changes()
            if ids == [] and moved:
                ids = None  # the version moved, but no event says what changed
        if ids is None:
            self.follow.mark()
            self._cams = cameras_sql.load_cameras(conn)
            self._loaded = mono
        elif ids:
            uniq = sorted(set(ids))
            changed = cameras_sql.load_cameras(conn, uniq)
            kept = self._cams[~self._cams["id"].isin(uniq).to_numpy(dtype=bool)]
            self._cams = pd.concat([kept, changed], ignore_index=True) if len(changed) else kept.reset_index(drop=True)
        return self._cams

    def compute(self, now: datetime, *, moved: bool) -> dict:
        """The part at ``now``; ``moved``: the source's version changed since the last call."""
        n = ts(now)
        with sql.connect(self.engine) as conn:
            cams = self._camera_set(conn, moved)
            if len(cams) == 0:
                return empty()
            changes = cameras_sql.load_camera_changes(conn, (n - self.opts.flap_window).to_pydatetime(), now)
        summary = cameras_sql.camera_summary(cams, n, offline_limit=self.opts.offline_limit)
        flaps = []
        if len(changes):
            # only a camera with ≥ min_changes rows in the window can flap
            vc = changes["camera_id"].value_counts()
            cand = changes[changes["camera_id"].isin(vc.index[vc >= self.opts.flap_min_changes]).to_numpy(dtype=bool)]
            if len(cand):
                flaps = cameras.flapping(cand, n, self.opts.flap_window, self.opts.flap_min_changes)
        flapping = []
        if flaps:
            info = cams.set_index(cams["id"].astype(str))
            for f in flaps:
                known = f["camera_id"] in info.index
                flapping.append({**plain(f), "name": plain(info.at[f["camera_id"], "name"]) if known else None,
                                 "commune_code": plain(info.at[f["camera_id"], "commune_code"]) if known else None})
        offline = [{k: (iso(v) if isinstance(v, datetime) else v) for k, v in r.items()}
                   for r in summary.pop("offline_cameras")]
        return {"has_data": True, **summary, "offline_cameras": offline, "flapping": flapping,
                "changes_last_hour": int(len(changes))}
