"""Import boundary polygons (any format GDAL reads) into the ``boundaries`` table.

``import_boundaries(path, session)`` reads a file — GeoJSON, Shapefile, GeoPackage,
FlatGeobuf, KML … — or every such file in a folder, checks that it is geographic, brings it
to WGS84 lon/lat, maps each feature to an administrative unit where it can, and upserts
the features by (layer, feature_key) comparing a checksum. Everything is read and checked
before the first row is written, and the writes are one transaction: a bad file leaves
the table as it was. Running the same import twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from geo.names import parse_name
from geo.units import (
    OLD_PROVINCES,
    PROVINCE_CODE,
    Unit,
    UnitMatcher,
    _narrow_by_kind,
    division_rank,
)
from ioc.errors import UserError

__all__ = [
    "FOLDER_SUFFIXES",
    "LEVELS",
    "ImportResult",
    "Progress",
    "import_boundaries",
    "list_boundary_files",
    "read_layers",
]

# Suffixes picked up when a folder is imported (a single file may have any suffix GDAL reads).
FOLDER_SUFFIXES = (".geojson", ".topojson", ".shp", ".gpkg", ".fgb", ".kml", ".gml", ".shp.zip")
LEVELS = ("province", "commune", "district_pre2025", "other")

Progress = Callable[[int, int, str], None]
"""progress(done, total, label): called while features are processed."""

# Column names, compared case-insensitively, in order of preference.
_KEY_COLUMNS = ("feature_key", "gid_4", "gid_3", "gid_2", "gid_1", "id_4", "id_3", "id_2", "ma_xa", "maxa",
                "ma_dvhc", "madvhc", "ma_huyen", "mahuyen", "code", "ma", "id", "fid", "objectid")
_NAME_COLUMNS = ("name_4", "name_3", "name_2", "name_1", "name", "ten", "ten_xa", "tenxa", "ten_dvhc",
                 "tendvhc", "ten_huyen", "tenhuyen", "ten_don_vi", "tendonvi", "label")
_TYPE_COLUMNS = ("type_4", "type_3", "type_2", "type_1", "division_type", "loai", "cap", "type")
_PARENT_COLUMNS = ("name_3", "name_2", "name_1", "province", "tinh", "ten_tinh", "tentinh")

_COMMUNE_CODE_COLUMNS = ("ma_xa", "maxa", "ma_dvhc", "madvhc", "ma_don_vi", "madonvi", "commune_code",
                         "ward_code", "code", "ma")
_COMMUNE_WORDS = {"commune", "ward", "town", "xa", "phuong", "thi tran"}
_DISTRICT_WORDS = {"district", "city", "township", "urban district", "huyen", "quan", "thi xa", "thanh pho"}


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    unchanged: int
    layer: str  # layer name(s), comma-separated when a folder held several
    removed: int = 0  # features of the layer that are no longer in the file
    features: int = 0
    unmatched: int = 0  # features without a unit code
    skipped: int = 0  # features without a polygon geometry
    layers: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def summary(self) -> str:
        return (
            f"{self.layer}: {self.features} polygons — inserted {self.inserted}, updated {self.updated}, "
            f"unchanged {self.unchanged}, removed {self.removed}"
            + (f", {self.unmatched} without a unit code" if self.unmatched else "")
            + (f", {self.skipped} skipped (no polygon)" if self.skipped else "")
        )


@dataclass
class _Prepared:
    layer: str
    source_path: str
    rows: list[dict] = field(default_factory=list)
    skipped: int = 0


# --- reading ---------------------------------------------------------------------------


def list_boundary_files(folder: Path) -> list[Path]:
    """Supported boundary files directly inside ``folder``, sorted by name."""
    out = []
    for p in sorted(folder.iterdir()):
        name = p.name.lower()
        if p.is_file() and not name.startswith(".") and name.endswith(FOLDER_SUFFIXES):
            out.append(p)
    return out


def _gdal_path(path: Path) -> str:
    return str(path)


def read_layers(path: Path) -> list[tuple[str | None, "object"]]:
    """Read every layer of ``path`` → [(layer name or None, GeoDataFrame in EPSG:4326)].

    Raises UserError when the file does not exist, cannot be read, has no polygons, or
    is not geographic.
    """
    import geopandas as gpd
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise UserError(f"boundary file not found: {path} — give the path of a GeoJSON, Shapefile or GeoPackage")
    try:
        listed = pyogrio.list_layers(_gdal_path(path))
    except Exception as err:  # noqa: BLE001 - GDAL raises many kinds
        raise UserError(f"cannot read {path} as a GIS file ({_short(err)}); use GeoJSON, Shapefile or GeoPackage") from None
    names = [str(row[0]) for row in listed]
    geom_types = [str(row[1] or "") for row in listed]
    if not names:
        raise UserError(f"{path} holds no layers; export the boundaries as GeoJSON, Shapefile or GeoPackage")
    # Prefer layers that declare polygons; fall back to all (GeoJSON may say "Unknown").
    polygonal = [n for n, t in zip(names, geom_types, strict=True) if "polygon" in t.lower()]
    chosen = polygonal or names
    out = []
    for name in chosen:
        try:
            gdf = gpd.read_file(_gdal_path(path), layer=name if len(names) > 1 else None,
                                engine="pyogrio", fid_as_index=True)
        except Exception as err:  # noqa: BLE001
            raise UserError(f"cannot read {path} ({_short(err)}); is it a valid GIS file?") from None
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
            continue
        out.append((name if len(names) > 1 else None, gdf))
    if not out or not any(_has_polygons(g) for _, g in out):
        raise UserError(f"{path} has no polygon geometries; boundaries must be polygons (administrative areas)")
    return [(n, _to_wgs84(g, path)) for n, g in out if _has_polygons(g)]


def _has_polygons(gdf) -> bool:
    geoms = gdf.geometry
    if len(geoms) == 0:
        return False
    types = shapely.get_type_id(np.asarray(geoms.values, dtype=object))
    return bool(np.isin(types, (3, 6, 7)).any())  # Polygon, MultiPolygon, GeometryCollection


def _to_wgs84(gdf, path: Path):
    if gdf.crs is None:
        if not _lonlat_bounds(gdf):
            minx, miny, _, _ = gdf.total_bounds
            raise UserError(
                f"{path} has no coordinate reference system and its coordinates (e.g. {minx:.0f}, {miny:.0f}) "
                "are not longitude/latitude; add the .prj file or re-export it in EPSG:4326"
            )
        gdf = gdf.set_crs(4326)
    elif gdf.crs.to_epsg() != 4326:
        try:
            gdf = gdf.to_crs(4326)
        except Exception as err:  # noqa: BLE001
            raise UserError(f"cannot convert {path} from {gdf.crs.name} to WGS84 lon/lat ({_short(err)})") from None
    if not _lonlat_bounds(gdf):
        raise UserError(f"{path} does not hold valid lon/lat coordinates after conversion to WGS84; check its CRS")
    return gdf


def _lonlat_bounds(gdf) -> bool:
    b = gdf.total_bounds
    if not np.all(np.isfinite(b)):
        return False
    minx, miny, maxx, maxy = b
    return -180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0


def _short(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:160] + ("…" if len(text) > 160 else "")


# --- mapping features ------------------------------------------------------------------


def _find_column(columns: Sequence[str], wanted: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for w in wanted:
        if w in lower:
            return lower[w]
    return None


def _gadm_name_column(columns: Sequence[str]) -> tuple[str | None, str | None, str | None]:
    """(name, type, parent) columns for GADM-style NAME_n / TYPE_n tables."""
    lower = {c.lower(): c for c in columns}
    for n in (4, 3, 2, 1):
        if f"name_{n}" in lower:
            return lower[f"name_{n}"], lower.get(f"type_{n}"), lower.get(f"name_{n - 1}")
    return None, None, None


def _json_value(value):
    if value is None:
        return None
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _key_text(value) -> str | None:
    value = _json_value(value)
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None


def _choose_key(gdf, key_field: str | None) -> list[str]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    if key_field:
        col = _find_column(cols, [key_field.lower()])
        if col is None:
            raise UserError(f"key field {key_field!r} is not a column of the file (columns: {', '.join(cols)})")
        keys = [_key_text(v) for v in gdf[col]]
        if None in keys or len(set(keys)) != len(keys):
            raise UserError(f"key field {key_field!r} is empty or repeated for some features; choose a unique column")
        return keys
    for name in _KEY_COLUMNS:
        col = _find_column(cols, [name])
        if col is None:
            continue
        keys = [_key_text(v) for v in gdf[col]]
        if None not in keys and len(set(keys)) == len(keys):
            return keys
    return [f"fid:{_key_text(i)}" for i in gdf.index]


def _feature_level(type_value, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if type_value is None:
        return None
    parsed = parse_name(f"{type_value} x")
    word = parsed.kind or parse_name(str(type_value)).key
    if word in _COMMUNE_WORDS:
        return "commune"
    if word in _DISTRICT_WORDS:
        return "district_pre2025"
    if word == "tinh" or word == "province":
        return "province"
    return None


def _prepare(
    gdf,
    *,
    layer: str,
    source_path: str,
    matcher: UnitMatcher,
    level: str | None,
    name_field: str | None,
    key_field: str | None,
    progress: Progress | None,
) -> _Prepared:
    prepared = _Prepared(layer, source_path)
    geom_col = gdf.geometry.name
    cols = [c for c in gdf.columns if c != geom_col]
    gadm_name, gadm_type, gadm_parent = _gadm_name_column(cols)
    if name_field:
        name_col = _find_column(cols, [name_field.lower()])
        if name_col is None:
            raise UserError(f"name field {name_field!r} is not a column of the file (columns: {', '.join(cols)})")
    else:
        name_col = gadm_name or _find_column(cols, _NAME_COLUMNS)
    type_col = gadm_type if name_col == gadm_name and gadm_type else _find_column(cols, _TYPE_COLUMNS)
    parent_col = gadm_parent if name_col == gadm_name and gadm_parent else _find_column(
        [c for c in cols if c != name_col], _PARENT_COLUMNS)
    keys = _choose_key(gdf, key_field)

    geoms = _polygonal(np.asarray(gdf.geometry.values, dtype=object))
    records = gdf[cols].to_dict("records") if cols else [{} for _ in range(len(gdf))]
    total = len(records)

    # First pass: names, levels, candidate units.
    feats = []
    for i, (rec, geom, key) in enumerate(zip(records, geoms, keys, strict=True)):
        if geom is None:
            prepared.skipped += 1
            continue
        props = {str(k): _json_value(v) for k, v in rec.items()}
        name = _key_text(rec.get(name_col)) if name_col else None
        type_value = _key_text(rec.get(type_col)) if type_col else None
        parent = _key_text(rec.get(parent_col)) if parent_col else None
        feats.append({
            "key": key, "name": name or key, "props": props, "geom": geom, "type": type_value,
            "parent": parent, "level": _feature_level(type_value, level),
        })
        if progress and (i % 50 == 0 or i == total - 1):
            progress(i + 1, total, layer)

    _decide_levels(feats, matcher, layer)
    _assign_units(feats, matcher)

    for f in feats:
        geometry = shapely.to_geojson(f["geom"])
        payload = {
            "name": f["name"], "level": f["level"], "unit_code": f["unit"], "properties": f["props"],
            "geometry": geometry,
        }
        checksum = hashlib.sha256(
            json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()
        prepared.rows.append({
            "layer": layer, "feature_key": f["key"][:200], "name": str(f["name"])[:200], "level": f["level"],
            "unit_code": f["unit"], "properties": f["props"], "geometry": geometry, "checksum": checksum,
            "source_path": source_path,
        })
    if progress:
        progress(total, total, layer)
    return prepared


def _polygonal(geoms: np.ndarray) -> list:
    """Valid (Multi)Polygons, or None for features without an area."""
    out = []
    for g in geoms:
        if g is None or shapely.is_empty(g):
            out.append(None)
            continue
        if not shapely.is_valid(g):
            g = shapely.make_valid(g)
        type_id = shapely.get_type_id(g)
        if type_id == 7:  # GeometryCollection: keep its polygons
            parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)]
            g = shapely.union_all(parts) if parts else None
        elif type_id not in (3, 6):
            g = None
        if g is not None and (shapely.is_empty(g) or shapely.area(g) <= 0):
            g = None
        out.append(g)
    return out


def _decide_levels(feats: list[dict], matcher: UnitMatcher, layer: str) -> None:
    undecided = [f for f in feats if f["level"] is None]
    if not undecided:
        return
    lname = parse_name(layer).key
    if any(w in lname.split() for w in ("district", "districts", "huyen", "pre2025")):
        guess = "district_pre2025"
    elif any(w in lname.split() for w in ("commune", "communes", "ward", "wards", "xa", "phuong")):
        guess = "commune"
    else:
        c_hits = sum(bool(matcher.candidates(f["name"], "commune", fuzzy=False)) for f in undecided)
        d_hits = sum(bool(matcher.candidates(f["name"], "district", fuzzy=False)) for f in undecided)
        guess = "district_pre2025" if d_hits > c_hits else "commune" if c_hits else "other"
    for f in undecided:
        f["level"] = guess


def _assign_units(feats: list[dict], matcher: UnitMatcher) -> None:
    """Set f["unit"] (a unit code or None) for every feature."""
    pending: dict[frozenset[str], list[tuple[dict, tuple[Unit, ...]]]] = defaultdict(list)
    for f in feats:
        f["unit"] = None
        level = f["level"]
        if level == "commune":
            f["unit"] = _commune_code(f, matcher)
        elif level == "province":
            if parse_name(f["name"]).key == parse_name("Đồng Tháp").key and (
                f["parent"] is None or parse_name(f["parent"]).key not in {parse_name(p).key for p in OLD_PROVINCES[1:]}
            ):
                f["unit"] = PROVINCE_CODE
        elif level == "district_pre2025":
            parent = f["parent"] if _is_our_province(f["parent"]) else None
            base = matcher.candidates(f["name"], "district", old_province=parent)
            if len(base) == 1:
                f["unit"] = base[0].code
            elif len(base) > 1:
                pending[frozenset(u.code for u in base)].append((f, base))
    # Same-name units (Thành phố Cao Lãnh / Huyện Cao Lãnh): when the layer has exactly one
    # polygon per candidate, the smaller polygon is the city (it was carved out of the
    # district); otherwise the division type column decides, or the feature stays unmatched.
    for codes, group in pending.items():
        units = sorted(group[0][1], key=lambda u: (division_rank(u.division_type), u.code))
        if len(group) == len(codes):
            by_area = sorted(group, key=lambda item: shapely.area(item[0]["geom"]))
            for (f, _), unit in zip(by_area, units, strict=True):
                f["unit"] = unit.code
            continue
        for f, base in group:
            kind = parse_name(f"{f['type']} x").kind if f["type"] else None
            typed = _narrow_by_kind(base, kind, "district")
            if len(typed) == 1:
                f["unit"] = typed[0].code


def _is_our_province(text: str | None) -> bool:
    return bool(text) and parse_name(text).key in {parse_name(p).key for p in OLD_PROVINCES}


def _commune_code(f: dict, matcher: UnitMatcher) -> str | None:
    # A code column holding one of the 102 national codes is the best evidence.
    lower = {k.lower(): v for k, v in f["props"].items()}
    for value in [lower[c] for c in _COMMUNE_CODE_COLUMNS if c in lower]:
        text = _key_text(value)
        if text and text.isdigit() and text.lstrip("0").rjust(5, "0") in matcher.commune_codes:
            return text.lstrip("0").rjust(5, "0")
    parent = f["parent"] if _is_our_province(f["parent"]) else None
    found = matcher.candidates(f["name"], "commune", old_province=parent,
                               division_type=f["type"])
    return found[0].code if len(found) == 1 else None


# --- the import ------------------------------------------------------------------------


def _sources(path: Path, layer: str | None) -> list[Path]:
    if path.is_dir():
        if layer:
            raise UserError("--layer names the layer of one file; import the files of a folder one by one to name them")
        files = list_boundary_files(path)
        if not files:
            raise UserError(
                f"no boundary files in folder {path} (looked for {', '.join(FOLDER_SUFFIXES)})"
            )
        return files
    return [path]


def _layer_name(path: Path, source_layer: str | None, override: str | None) -> str:
    stem = path.name
    for suffix in (".shp.zip", *FOLDER_SUFFIXES, path.suffix):
        if suffix and stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    base = override or stem
    return (f"{base}:{source_layer}" if source_layer else base)[:100]


def import_boundaries(
    path: str | Path,
    session: Session,
    *,
    layer: str | None = None,
    level: str | None = None,
    name_field: str | None = None,
    key_field: str | None = None,
    progress: Progress | None = None,
    matcher: UnitMatcher | None = None,
) -> ImportResult:
    """Import one boundary file or every supported file of a folder; commit once.

    ``layer`` overrides the stored layer name (default: the file name without suffix);
    ``level`` forces the level of every feature ("commune", "district_pre2025",
    "province", "other") instead of reading it from a type column or guessing it from the
    names; ``name_field``/``key_field`` choose the columns holding the feature's name and
    its stable id. Features of the layer that are no longer in the file are removed.
    Raises UserError (and writes nothing) on a missing, unreadable, non-polygon or
    non-geographic file.
    """
    from ioc.db.models import Boundary

    if level is not None and level not in LEVELS:
        raise UserError(f"unknown level {level!r}; use one of: {', '.join(LEVELS)}")
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"boundary file not found: {path} — give the path of a GeoJSON, Shapefile or GeoPackage")
    matcher = matcher or UnitMatcher.default()

    prepared: list[_Prepared] = []
    for source in _sources(path, layer):
        layers = read_layers(source)
        for source_layer, gdf in layers:
            name = _layer_name(source, source_layer if len(layers) > 1 else None, layer)
            prepared.append(_prepare(
                gdf, layer=name, source_path=str(source.resolve()), matcher=matcher, level=level,
                name_field=name_field, key_field=key_field, progress=progress,
            ))
    seen: dict[str, str] = {}
    for p in prepared:
        if p.layer in seen and seen[p.layer] != p.source_path:
            raise UserError(
                f"two files would both be stored as layer {p.layer!r} ({seen[p.layer]} and {p.source_path}); "
                "rename one of them"
            )
        seen[p.layer] = p.source_path

    now = datetime.now(timezone.utc)
    inserted = updated = unchanged = removed = 0
    try:
        for p in prepared:
            existing = {row.feature_key: row for row in session.scalars(select(Boundary).where(Boundary.layer == p.layer))}
            keys = set()
            for values in p.rows:
                keys.add(values["feature_key"])
                row = existing.get(values["feature_key"])
                if row is None:
                    session.add(Boundary(**values, imported_at=now))
                    inserted += 1
                elif row.checksum != values["checksum"]:
                    for k, v in values.items():
                        setattr(row, k, v)
                    row.imported_at = now
                    updated += 1
                else:
                    unchanged += 1
            stale = [k for k in existing if k not in keys]
            if stale:
                session.execute(delete(Boundary).where(Boundary.layer == p.layer, Boundary.feature_key.in_(stale)))
                removed += len(stale)
        session.commit()
    except Exception:
        session.rollback()
        raise

    features = sum(len(p.rows) for p in prepared)
    layers = tuple(p.layer for p in prepared)
    return ImportResult(
        inserted=inserted, updated=updated, unchanged=unchanged, layer=", ".join(layers), removed=removed,
        features=features, unmatched=sum(1 for p in prepared for r in p.rows if not r["unit_code"]),
        skipped=sum(p.skipped for p in prepared), layers=layers,
        files=tuple(dict.fromkeys(p.source_path for p in prepared)),
    )
