"""What the simulator serves at its current time, fault-free and in one piece: the records a
drill reconciles the product's SQL history against (``GET /_control/records?source=…``).

Read-only: it renders the records with the same functions the four APIs use, but never
through the fault engine, and moves nothing (clock, faults, injected log). One compact
answer per source:

* hotline: ``{"PA…": [updated_datetime, status]}`` for every ticket received by now;
* cameras: ``{"CAM-…": [updated_at, status]}`` for every registered camera;
* procedures: ``{"MaHoSo": [updated_at, TrangThaiHoSo]}`` for every dossier received by now;
* environment: ``{"<Datastream @iot.id>": [[hour, result], …]}`` — every observation visible
  now (``hour`` = hours since 1970-01-01T00:00Z, the ``phenomenonTime``).

Times are ISO 8601 as the APIs write them. Sized for drills and tests (days of history at
scale 1–5: a few MB), not for a year at scale 10.
"""

from __future__ import annotations

import numpy as np

from simulator.common import HOUR_S

SOURCES = ("hotline", "cameras", "procedures", "environment")


def records(sim, source: str) -> dict:
    """``sim``: a ``simulator.server.Simulator``."""
    now = sim.ctx.now()
    if source == "hotline":
        h = sim.hotline
        h.store.ensure_time(now)
        t = h.store.cols["t_recv"] if h.store.cols else np.zeros(0, np.int64)
        idx = np.arange(int(np.searchsorted(t, now, side="right")))
        return {r["service_request_id"]: [r["updated_datetime"], r["status"]]
                for r in h.render(idx, now, False, "")}
    if source == "cameras":
        c = sim.cameras
        idx = np.nonzero(c.view(now)["visible"])[0]
        return {r["id"]: [r["updated_at"], r["status"]] for r in c.render(idx, now, "", False)}
    if source == "procedures":
        p = sim.procedures
        p.store.ensure_time(now)
        return {r["MaHoSo"]: [r["updated_at"], r["TrangThaiHoSo"]] for r in p.render(p._view(now, None, None), now)}
    if source == "environment":
        m = sim.environment.m
        out = {}
        for ds in range(m.n_ds):
            hours = m.series(ds, m.h_min, now // HOUR_S, now)
            if len(hours):
                values = m.values(np.full(len(hours), ds), hours)
                out[str(ds + 1)] = [[h, v] for h, v in zip(hours.tolist(), values.tolist())]
        return out
    raise ValueError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
