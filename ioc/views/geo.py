"""Commune names, outlines and label points for the read model, from the boundaries imported
into SQL (`ioc geo import`; by default the 102 communes shipped in geo/data).

Boundaries change only on import, so each process reads them once and keeps them for
``TTL`` seconds. The outlines are simplified for screens (≈ 50 m, far below what a wall or a
phone can show) and served by URL, so a page's callbacks never carry them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from shapely.geometry import mapping, shape

TTL = 600.0
SIMPLIFY_DEGREES = 0.0005  # ≈ 50 m at this latitude


class CommuneAtlas:
    def __init__(self, engine_factory: Callable) -> None:
        self._engine_factory = engine_factory
        self._lock = threading.Lock()
        self._loaded_at = -TTL
        self._names: dict[str, str] = {}
        self._points: dict[str, tuple[float, float]] = {}
        self._geojson: bytes = b'{"type":"FeatureCollection","features":[]}'

    def _load(self) -> None:
        with self._lock:
            if time.monotonic() - self._loaded_at < TTL:
                return
            try:
                self._names, self._points, self._geojson = _read(self._engine_factory())
                self._loaded_at = time.monotonic()
            except Exception:
                # the database is down: keep what we had and try again in a minute
                self._loaded_at = time.monotonic() - TTL + 60

    def names(self) -> dict[str, str]:
        self._load()
        return self._names

    def label_points(self) -> dict[str, tuple[float, float]]:
        """commune code → (lat, lon) of a point inside it, for count markers."""
        self._load()
        return self._points

    def geojson(self) -> bytes:
        """The communes' simplified outlines as a GeoJSON FeatureCollection (properties code, name)."""
        self._load()
        return self._geojson


def _read(engine) -> tuple[dict[str, str], dict[str, tuple[float, float]], bytes]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ioc.db.models import AdminUnit, Boundary

    with Session(engine) as s:
        names = dict(s.execute(select(AdminUnit.code, AdminUnit.name).where(AdminUnit.level == "commune")).all())
        rows = s.execute(select(Boundary.unit_code, Boundary.name, Boundary.geometry)
                         .where(Boundary.level == "commune", Boundary.unit_code.is_not(None))
                         .order_by(Boundary.unit_code)).all()
    features, points = [], {}
    for code, name, geometry in rows:
        if code in points:  # one outline per commune, even if two layers hold it
            continue
        geom = shape(json.loads(geometry))
        p = geom.representative_point()
        points[code] = (round(p.y, 5), round(p.x, 5))
        simple = geom.simplify(SIMPLIFY_DEGREES, preserve_topology=True)
        features.append({"type": "Feature", "id": code,
                         "properties": {"code": code, "name": names.get(code) or name},
                         "geometry": _rounded(mapping(simple))})
        names.setdefault(code, name)
    blob = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":")).encode()
    return names, points, blob


def _rounded(geom: dict) -> dict:
    def r(coords):
        if isinstance(coords[0], (int, float)):
            return [round(coords[0], 5), round(coords[1], 5)]
        return [r(c) for c in coords]

    return {"type": geom["type"], "coordinates": r(geom["coordinates"])}
