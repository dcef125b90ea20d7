"""Assign records to places: point-in-polygon first, then upstream codes, then address text.

:class:`SpatialAssigner` loads the polygons of the ``boundaries`` table once and answers
"which pre-2025 district / current commune holds this point, and is it inside the
province at all?" for one point or 100,000 at a time. Points outside every polygon are
flagged ``inside_province=False``; they are never dropped and never moved to the nearest
polygon.

With only the demo district polygons loaded (no commune polygons), a point gives the
old district and the inside/outside flag; the commune then comes from the record's
upstream commune code (if it is one of the 102) or from its address text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely import STRtree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.boundaries import ImportResult, import_boundaries, list_boundary_files
from geo.units import UnitMatcher, sync_units
from ioc.errors import UserError

__all__ = [
    "Assignment",
    "DefaultBoundaries",
    "PointAssignment",
    "SpatialAssigner",
    "default_boundary_paths",
    "ensure_default_boundaries",
    "province_outline",
]

METHODS = ("point", "upstream", "address", "none")


@dataclass(frozen=True, slots=True)
class PointAssignment:
    district_code: str | None
    commune_code: str | None
    inside_province: bool | None  # None: no boundaries loaded, so unknown


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where a record belongs and how that was decided.

    ``method``: "point" (a polygon held the point and gave the commune, or at least the
    district when nothing else named the commune), "upstream" (the source's own commune
    code, one of the 102), "address" (the address text), "none".
    ``inside_province`` is False for a point outside every polygon (flag it, keep it),
    None when there was no usable point or no boundaries are loaded.
    """

    commune_code: str | None
    district_code: str | None
    method: str
    inside_province: bool | None


class _Layer:
    """Polygons of one level with an STRtree; smaller polygons win where they overlap."""

    def __init__(self, geoms: list, codes: list[str | None]) -> None:
        order = np.argsort([shapely.area(g) for g in geoms], kind="stable") if geoms else np.array([], int)
        self.geoms = np.array([geoms[i] for i in order], dtype=object)
        self.codes = np.array([codes[i] for i in order], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = STRtree(self.geoms)

    def __len__(self) -> int:
        return len(self.geoms)

    def locate_one(self, x: float, y: float, point) -> int:
        """Index of the polygon holding one point (-1 for none); no pandas, for per-record use."""
        if not len(self.geoms):
            return -1
        for idx in np.sort(self.tree.query(point)):
            if shapely.intersects_xy(self.geoms[idx], x, y):
                return int(idx)
        return -1

    def locate(self, xs: np.ndarray, ys: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Index of the polygon holding each point (-1 for none)."""
        out = np.full(len(xs), -1, dtype=np.int64)
        if not len(self.geoms) or not len(xs):
            return out
        # Bounding-box candidates from the tree, then an exact test per polygon on the
        # prepared geometry (vectorised over that polygon's candidate points).
        pt_idx, poly_idx = self.tree.query(points)
        if not len(pt_idx):
            return out
        order = np.lexsort((pt_idx, poly_idx))
        pt_idx, poly_idx = pt_idx[order], poly_idx[order]
        bounds = np.flatnonzero(np.diff(poly_idx)) + 1
        for pts, polys in zip(np.split(pt_idx, bounds), np.split(poly_idx, bounds), strict=True):
            p = int(polys[0])
            pts = pts[out[pts] == -1]
            if not len(pts):
                continue
            hit = shapely.intersects_xy(self.geoms[p], xs[pts], ys[pts])
            chosen = pts[hit]
            # Polygons are visited smallest first, so the first hit is kept.
            chosen = chosen[out[chosen] == -1]
            out[chosen] = p
        return out


class SpatialAssigner:
    """Point → (district_code, commune_code, inside_province), plus the combined policy."""

    def __init__(self, features: Sequence[tuple[str, str | None, object]], *, matcher: UnitMatcher | None = None):
        """``features``: (level, unit_code, shapely polygon) triples."""
        self.matcher = matcher or UnitMatcher.default()
        by_level: dict[str, tuple[list, list]] = {}
        all_geoms = []
        for level, code, geom in features:
            if geom is None or shapely.is_empty(geom):
                continue
            geoms, codes = by_level.setdefault(level, ([], []))
            geoms.append(geom)
            codes.append(code)
            all_geoms.append(geom)
        self._districts = _Layer(*by_level.get("district_pre2025", ([], [])))
        self._communes = _Layer(*by_level.get("commune", ([], [])))
        self._all = _Layer(all_geoms, [None] * len(all_geoms))
        self._outline = None

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_session(cls, session: Session, *, matcher: UnitMatcher | None = None) -> SpatialAssigner:
        """Load every polygon of the ``boundaries`` table (one query, parsed once)."""
        from ioc.db.models import Boundary

        rows = session.execute(select(Boundary.level, Boundary.unit_code, Boundary.geometry)).all()
        geoms = shapely.from_geojson([r.geometry for r in rows], on_invalid="ignore") if rows else []
        feats = [(r.level, r.unit_code, g) for r, g in zip(rows, geoms, strict=True)]
        return cls(feats, matcher=matcher or UnitMatcher.from_session(session))

    @classmethod
    def from_files(cls, paths: Sequence[str | Path], *, matcher: UnitMatcher | None = None) -> SpatialAssigner:
        """Build straight from boundary files (no database), mapping units as the import does."""
        from geo.boundaries import _prepare, read_layers

        matcher = matcher or UnitMatcher.default()
        feats = []
        for path in paths:
            for source_layer, gdf in read_layers(Path(path)):
                prepared = _prepare(gdf, layer=Path(path).stem, source_path=str(path), matcher=matcher,
                                    level=None, name_field=None, key_field=None, progress=None)
                for row in prepared.rows:
                    feats.append((row["level"], row["unit_code"], shapely.from_geojson(row["geometry"])))
        return cls(feats, matcher=matcher)

    @property
    def has_boundaries(self) -> bool:
        return len(self._all) > 0

    @property
    def has_communes(self) -> bool:
        return len(self._communes) > 0

    # -- points -------------------------------------------------------------------------

    def assign_points(self, lons, lats) -> pd.DataFrame:
        """Vectorised point assignment → DataFrame[district_code, commune_code, inside_province].

        Missing or non-numeric coordinates give no codes and ``inside_province=False``.
        The result has one row per input point, in input order. With no boundaries loaded
        every point is ``False`` here; check :attr:`has_boundaries` (``assign`` and
        ``assign_frame`` report ``None`` — unknown — in that case).
        """
        xs, ys = _floats(lons), _floats(lats)
        if len(xs) != len(ys):
            raise ValueError(f"{len(xs)} longitudes but {len(ys)} latitudes")
        n = len(xs)
        valid = np.isfinite(xs) & np.isfinite(ys) & (np.abs(xs) <= 180) & (np.abs(ys) <= 90)
        vi = np.flatnonzero(valid)
        vx, vy = xs[vi], ys[vi]
        points = shapely.points(vx, vy)

        district = np.full(n, None, dtype=object)
        commune = np.full(n, None, dtype=object)
        inside = np.zeros(n, dtype=bool)
        if len(vi):
            hit_all = self._all.locate(vx, vy, points)
            inside[vi] = hit_all >= 0
            d = self._districts.locate(vx, vy, points)
            district[vi[d >= 0]] = self._districts.codes[d[d >= 0]]
            c = self._communes.locate(vx, vy, points)
            commune[vi[c >= 0]] = self._communes.codes[c[c >= 0]]
        return pd.DataFrame({
            "district_code": pd.Series(district, dtype=object),
            "commune_code": pd.Series(commune, dtype=object),
            "inside_province": pd.Series(inside, dtype=bool),
        })

    def assign_point(self, lon, lat) -> PointAssignment:
        """Scalar helper; ``inside_province`` is None when no boundaries are loaded."""
        if not self.has_boundaries:
            return PointAssignment(None, None, None)
        try:
            x, y = float(lon), float(lat)
        except (TypeError, ValueError):
            return PointAssignment(None, None, False)
        if not (math.isfinite(x) and math.isfinite(y) and abs(x) <= 180 and abs(y) <= 90):
            return PointAssignment(None, None, False)
        point = shapely.Point(x, y)
        if self._all.locate_one(x, y, point) < 0:
            return PointAssignment(None, None, False)
        d = self._districts.locate_one(x, y, point)
        c = self._communes.locate_one(x, y, point)
        return PointAssignment(
            self._districts.codes[d] if d >= 0 else None, self._communes.codes[c] if c >= 0 else None, True
        )

    # -- the combined policy ------------------------------------------------------------

    def upstream_code(self, code) -> str | None:
        """The upstream commune code as one of the 102 codes, or None."""
        if code is None:
            return None
        if isinstance(code, float):
            if math.isnan(code) or not code.is_integer():
                return None
            code = int(code)
        text = str(code).strip()
        if text.endswith(".0"):
            text = text[:-2]
        if text.isdigit():
            text = text.lstrip("0").rjust(5, "0")
        return text if text in self.matcher.commune_codes else None

    def assign(self, lon=None, lat=None, address: str | None = None, upstream_commune_code=None) -> Assignment:
        """Decide a record's commune and old district: point → upstream code → address.

        * a point inside a commune polygon gives the commune (method "point");
        * otherwise the commune comes from the upstream code if it is one of the 102
          ("upstream"), else from the address ("address");
        * the old district comes from the point when it falls in a district polygon, else
          from the address; if only the point gave anything, the method is "point";
        * a point outside every polygon is flagged ``inside_province=False`` and its codes
          still come from the upstream code / address, so the record is kept and counted.
        """
        return _decide(
            self._point_or_none(lon, lat), self.upstream_code(upstream_commune_code),
            self.matcher.match(address) if address else None, self.has_boundaries,
        )

    def assign_frame(self, lons, lats, addresses=None, upstream_codes=None) -> pd.DataFrame:
        """Vectorised :meth:`assign` → DataFrame[commune_code, district_code, method, inside_province]."""
        xs = _floats(lons if lons is not None else [])
        n = len(xs)
        ys = _floats(lats) if lats is not None else np.full(n, np.nan)
        pts = self.assign_points(xs, ys)
        has_point = np.isfinite(xs) & np.isfinite(ys)
        usable = has_point & self.has_boundaries
        inside_ok = usable & pts.inside_province.to_numpy(dtype=bool)
        p_commune = _notnull(np.where(inside_ok, pts.commune_code.to_numpy(dtype=object), None))
        p_district = _notnull(np.where(inside_ok, pts.district_code.to_numpy(dtype=object), None))
        if upstream_codes is not None:
            ups = pd.Series(list(upstream_codes), dtype=object)
            mapping = {u: self.upstream_code(u) for u in pd.unique(ups.dropna())}
            up = _notnull(ups.map(mapping).to_numpy(dtype=object))
        else:
            up = np.full(n, None, dtype=object)
        if addresses is not None:
            addr = self.matcher.match_many(list(addresses))
            a_commune = _notnull(addr.commune_code.to_numpy(dtype=object))
            a_district = _notnull(addr.district_code.to_numpy(dtype=object))
        else:
            a_commune = a_district = np.full(n, None, dtype=object)

        has = lambda arr: np.array([v is not None for v in arr], dtype=bool)  # noqa: E731
        hp_c, hup, ha_c, hp_d, ha_d = has(p_commune), has(up), has(a_commune), has(p_district), has(a_district)
        commune = np.select([hp_c, hup, ha_c], [p_commune, up, a_commune], default=None)
        district = np.where(hp_d, p_district, a_district)
        method = np.select([hp_c, hup, ha_c, hp_d, ha_d], ["point", "upstream", "address", "point", "address"],
                           default="none")
        inside = np.where(usable, pts.inside_province.to_numpy(dtype=object), None)
        return pd.DataFrame({
            "commune_code": pd.Series(commune, dtype=object),
            "district_code": pd.Series(district, dtype=object),
            "method": pd.Series(method, dtype=object),
            "inside_province": pd.Series(inside, dtype=object),
        })

    def _point_or_none(self, lon, lat) -> PointAssignment | None:
        try:
            x, y = float(lon), float(lat)
        except (TypeError, ValueError):
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        return self.assign_point(x, y)

    # -- outline ------------------------------------------------------------------------

    def province_outline(self, *, simplify: float | None = None):
        """Union of every loaded polygon (the province's outline), or None if none loaded."""
        if self._outline is None and self.has_boundaries:
            self._outline = shapely.union_all(self._all.geoms, grid_size=None)
        outline = self._outline
        if outline is not None and simplify:
            outline = shapely.simplify(outline, simplify, preserve_topology=True)
        return outline


def _notnull(values: np.ndarray) -> np.ndarray:
    """Object array with NaN/NA/"" turned into None."""
    out = np.asarray(values, dtype=object).copy()
    for i, v in enumerate(out):
        if v is None:
            continue
        if (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v == "":
            out[i] = None
    return out


def _floats(values) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        series = pd.Series(np.asarray(values, dtype=object).ravel())
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


@dataclass(frozen=True, slots=True)
class _AddressHit:
    commune_code: str | None
    district_code: str | None


def _decide(point: PointAssignment | None, upstream: str | None, address, has_boundaries: bool) -> Assignment:
    inside = None
    p_district = p_commune = None
    if point is not None and has_boundaries:
        inside = bool(point.inside_province)
        if inside:
            p_district, p_commune = point.district_code, point.commune_code
    a_commune = getattr(address, "commune_code", None) if address else None
    a_district = getattr(address, "district_code", None) if address else None
    district = p_district or a_district
    if p_commune:
        return Assignment(p_commune, district, "point", inside)
    if upstream:
        return Assignment(upstream, district, "upstream", inside)
    if a_commune:
        return Assignment(a_commune, district, "address", inside)
    if p_district:
        return Assignment(None, p_district, "point", inside)
    if a_district:
        return Assignment(None, a_district, "address", inside)
    return Assignment(None, None, "none", inside)


# --- default boundaries ----------------------------------------------------------------


def default_boundary_paths(settings) -> list[Path]:
    """Boundary files under ``settings.effective_boundaries`` ([] when there are none)."""
    root = getattr(settings, "effective_boundaries", None)
    if not root:
        return []
    root = Path(root).expanduser()
    if root.is_file():
        return [root]
    if root.is_dir():
        return list_boundary_files(root)
    return []


HOW_TO_IMPORT = (
    "Chưa có ranh giới hành chính: chạy `ioc geo import ĐƯỜNG_DẪN` với tệp GeoJSON/Shapefile/GeoPackage "
    "của tỉnh (hoặc đặt IOC_BOUNDARIES); bản đồ và phân xã theo tọa độ tạm thời không dùng được, "
    "hồ sơ vẫn được gán xã theo mã nguồn hoặc địa chỉ. / "
    "No administrative boundaries yet: run `ioc geo import PATH` with the province's GeoJSON, "
    "Shapefile or GeoPackage (or set IOC_BOUNDARIES); until then the map outline and point-based "
    "assignment are unavailable, and records are assigned from upstream codes or address text."
)


@dataclass(frozen=True)
class DefaultBoundaries:
    count: int  # polygons in the boundaries table afterwards
    imported: ImportResult | None  # what was imported now, if anything
    message: str

    @property
    def ok(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        return self.message


def ensure_default_boundaries(session: Session, settings) -> DefaultBoundaries:
    """Import the default boundary files when the table is empty; never raises UserError.

    Also makes sure the administrative units are in ``admin_units``. The returned
    message says (in Vietnamese and English) what happened or how to import boundaries.
    """
    from ioc.db.models import Boundary

    sync_units(session)
    count = session.scalar(select(func.count()).select_from(Boundary)) or 0
    if count:
        return DefaultBoundaries(count, None, f"{count} ranh giới đã có / {count} boundary polygons present")
    paths = default_boundary_paths(settings)
    if not paths:
        return DefaultBoundaries(0, None, HOW_TO_IMPORT)
    results = []
    try:
        for path in paths:
            results.append(import_boundaries(path, session))
    except UserError as err:
        count = session.scalar(select(func.count()).select_from(Boundary)) or 0
        return DefaultBoundaries(
            count, None,
            f"Không nhập được ranh giới mặc định / could not import the default boundaries: {err}. {HOW_TO_IMPORT}",
        )
    merged = ImportResult(
        inserted=sum(r.inserted for r in results), updated=sum(r.updated for r in results),
        unchanged=sum(r.unchanged for r in results), layer=", ".join(r.layer for r in results),
        removed=sum(r.removed for r in results), features=sum(r.features for r in results),
        unmatched=sum(r.unmatched for r in results), skipped=sum(r.skipped for r in results),
        layers=tuple(x for r in results for x in r.layers), files=tuple(x for r in results for x in r.files),
    )
    count = session.scalar(select(func.count()).select_from(Boundary)) or 0
    return DefaultBoundaries(
        count, merged,
        f"Đã nhập {merged.inserted} ranh giới từ {len(paths)} tệp / imported {merged.inserted} boundary polygons "
        f"from {len(paths)} file(s): {', '.join(p.name for p in paths)}",
    )


def province_outline(session: Session | None = None, paths: Sequence[str | Path] | None = None, *,
                     simplify: float | None = None):
    """The province outline (union of the boundary polygons) from SQL or straight from files.

    Returns a shapely geometry in WGS84, or None when no polygons are available.
    """
    if session is not None:
        assigner = SpatialAssigner.from_session(session)
    elif paths:
        assigner = SpatialAssigner.from_files(paths)
    else:
        return None
    return assigner.province_outline(simplify=simplify)
