import math

import numpy as np
import shapely
from shapely.geometry import Point, box
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.assign import (
    HOW_TO_IMPORT,
    SpatialAssigner,
    default_boundary_paths,
    ensure_default_boundaries,
    province_outline,
)
from ioc.db.models import AdminUnit, Boundary
from ioc.settings import Settings

CAO_LANH_DISTRICT = (105.7115, 10.4834)
CAO_LANH_CITY = (105.6122, 10.4594)
MY_THO_CITY = (106.3548, 10.3694)
SEA = (107.2, 9.8)  # the East Sea, off Gò Công
PHNOM_PENH = (104.92, 11.56)


def test_point_in_cao_lanh_district(assigner):
    p = assigner.assign_point(*CAO_LANH_DISTRICT)
    assert (p.district_code, p.commune_code, p.inside_province) == ("old-d:873", None, True)
    assert assigner.assign_point(*CAO_LANH_CITY).district_code == "old-d:866"
    assert assigner.assign_point(*MY_THO_CITY).district_code == "old-d:815"


def test_points_outside_are_flagged_not_dropped(assigner):
    lons = [SEA[0], CAO_LANH_DISTRICT[0], PHNOM_PENH[0], float("nan"), None, 500]
    lats = [SEA[1], CAO_LANH_DISTRICT[1], PHNOM_PENH[1], 10.4, 10.4, 10.4]
    df = assigner.assign_points(lons, lats)
    assert len(df) == 6
    assert list(df.inside_province) == [False, True, False, False, False, False]
    assert list(df.district_code) == [None, "old-d:873", None, None, None, None]
    assert df.commune_code.isna().all()


def test_point_assignment_is_vectorised(assigner, monkeypatch):
    rng = np.random.default_rng(1)
    lons = rng.uniform(105.0, 107.0, 100_000)
    lats = rng.uniform(9.9, 11.2, 100_000)
    # Count the work instead of timing it (bench/geo.py prints the speed): the exact
    # point-in-polygon test runs once per polygon over all its candidate points, never once
    # per point, and the per-point path is not used.
    calls = {"intersects_xy": 0, "locate_one": 0}
    intersects_xy = shapely.intersects_xy

    def counted(*args, **kwargs):
        calls["intersects_xy"] += 1
        return intersects_xy(*args, **kwargs)

    def per_point(*args, **kwargs):
        calls["locate_one"] += 1
        raise AssertionError("assign_points fell back to per-point work")

    monkeypatch.setattr(shapely, "intersects_xy", counted)
    for layer in (assigner._all, assigner._districts, assigner._communes):
        monkeypatch.setattr(layer, "locate_one", per_point)
    df = assigner.assign_points(lons, lats)
    polygons = len(assigner._all) + len(assigner._districts) + len(assigner._communes)
    assert 0 < calls["intersects_xy"] <= polygons < 1_000, calls
    assert calls["locate_one"] == 0
    monkeypatch.undo()
    assert len(df) == 100_000
    assert 0.05 < df.inside_province.mean() < 0.6
    # Vectorised and scalar answers agree.
    for i in range(0, 100_000, 9973):
        p = assigner.assign_point(lons[i], lats[i])
        assert (p.district_code, p.inside_province) == (df.district_code.iat[i], df.inside_province.iat[i])


def test_assign_policy(assigner):
    # Point inside, no commune polygons: the commune comes from upstream, then address.
    a = assigner.assign(*CAO_LANH_DISTRICT, address="xã Mỹ Hiệp", upstream_commune_code="30112")
    assert (a.commune_code, a.district_code, a.method, a.inside_province) == ("30112", "old-d:873", "upstream", True)
    a = assigner.assign(*CAO_LANH_DISTRICT, address="xã Mỹ Hiệp, huyện Cao Lãnh", upstream_commune_code="99999")
    assert (a.commune_code, a.district_code, a.method) == ("30112", "old-d:873", "address")
    a = assigner.assign(*CAO_LANH_DISTRICT, address="số 5 đường 30/4")
    assert (a.commune_code, a.district_code, a.method) == (None, "old-d:873", "point")
    # No point: upstream (int or float codes accepted), then address.
    assert assigner.assign(upstream_commune_code=30112.0).method == "upstream"
    a = assigner.assign(address="Phường 1, TP. Mỹ Tho")
    assert (a.commune_code, a.district_code, a.method, a.inside_province) == (None, "old-d:815", "address", None)
    assert assigner.assign().method == "none"
    assert assigner.assign(lon="abc", lat=None).method == "none"


def test_point_outside_keeps_record_and_flag(assigner):
    a = assigner.assign(*SEA, address="xã Mỹ Hiệp")
    assert (a.commune_code, a.district_code, a.method, a.inside_province) == ("30112", None, "address", False)
    a = assigner.assign(*SEA)
    assert (a.method, a.inside_province) == ("none", False)


def test_assign_frame_matches_scalar(assigner):
    lons = [CAO_LANH_DISTRICT[0], SEA[0], None, MY_THO_CITY[0], CAO_LANH_CITY[0]]
    lats = [CAO_LANH_DISTRICT[1], SEA[1], None, MY_THO_CITY[1], CAO_LANH_CITY[1]]
    addresses = ["xã Mỹ Hiệp", "xã Mỹ Hiệp", "huyện Châu Thành, Tiền Giang", None, ""]
    upstream = [None, None, None, "28261", float("nan")]
    df = assigner.assign_frame(lons, lats, addresses, upstream)
    for i in range(len(lons)):
        a = assigner.assign(lons[i], lats[i], addresses[i], upstream[i])
        assert (df.commune_code.iat[i], df.district_code.iat[i], df.method.iat[i], df.inside_province.iat[i]) == (
            a.commune_code, a.district_code, a.method, a.inside_province), i


def test_commune_polygons_fill_commune_code(session, dt_file, tmp_path):
    import geopandas as gpd

    from geo.boundaries import import_boundaries

    import_boundaries(dt_file, session)
    communes = gpd.GeoDataFrame(
        {"ten": ["Xã Mỹ Hiệp"], "loai": ["Xã"]},
        geometry=[box(CAO_LANH_DISTRICT[0] - 0.01, CAO_LANH_DISTRICT[1] - 0.01,
                      CAO_LANH_DISTRICT[0] + 0.01, CAO_LANH_DISTRICT[1] + 0.01)],
        crs=4326,
    )
    path = tmp_path / "communes.geojson"
    communes.to_file(path)
    import_boundaries(path, session)
    assigner = SpatialAssigner.from_session(session)
    assert assigner.has_communes
    p = assigner.assign_point(*CAO_LANH_DISTRICT)
    assert (p.district_code, p.commune_code, p.inside_province) == ("old-d:873", "30112", True)
    a = assigner.assign(*CAO_LANH_DISTRICT, upstream_commune_code="28261")
    assert (a.commune_code, a.method) == ("30112", "point")  # the point wins over upstream


def test_no_boundaries_means_unknown_not_outside(session):
    assigner = SpatialAssigner.from_session(session)
    assert not assigner.has_boundaries
    assert assigner.assign_point(*CAO_LANH_DISTRICT).inside_province is None
    a = assigner.assign(*CAO_LANH_DISTRICT, address="xã Mỹ Hiệp")
    assert (a.commune_code, a.method, a.inside_province) == ("30112", "address", None)
    assert assigner.province_outline() is None


def test_province_outline(assigner, loaded_engine, dt_file, tg_file):
    outline = assigner.province_outline()
    assert outline.geom_type in ("Polygon", "MultiPolygon")
    assert outline.contains(Point(*CAO_LANH_DISTRICT)) and outline.contains(Point(*MY_THO_CITY))
    assert not outline.contains(Point(*SEA))
    minx, miny, maxx, maxy = outline.bounds
    assert 105.1 < minx < 105.3 and 106.7 < maxx < 106.9 and 10.0 < miny < 10.3 and 10.9 < maxy < 11.1
    from_files = province_outline(paths=[dt_file, tg_file])
    assert math.isclose(from_files.area, outline.area, rel_tol=1e-6)
    with Session(loaded_engine) as s:
        assert math.isclose(province_outline(s).area, outline.area, rel_tol=1e-9)
    simple = assigner.province_outline(simplify=0.01)
    assert shapely.get_num_coordinates(simple) < shapely.get_num_coordinates(outline)
    assert province_outline() is None


def test_default_boundary_paths(tmp_path, dt_file, districts_dir):
    assert default_boundary_paths(Settings(boundaries=tmp_path / "absent")) == []
    assert default_boundary_paths(Settings(boundaries=dt_file)) == [dt_file]
    found = default_boundary_paths(Settings(boundaries=districts_dir))
    assert [p.name for p in found] == ["dong_thap_districts_pre2025.geojson", "tien_giang_districts_pre2025.geojson"]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert default_boundary_paths(Settings(boundaries=tmp_path / "empty")) == []


def test_ensure_default_boundaries(session, districts_dir):
    result = ensure_default_boundaries(session, Settings(boundaries=districts_dir))
    assert result.ok and result.count == 21 and result.imported.inserted == 21
    assert session.scalar(select(func.count()).select_from(AdminUnit)) == 126
    again = ensure_default_boundaries(session, Settings(boundaries=districts_dir))
    assert again.imported is None and again.count == 21


def test_ensure_default_boundaries_without_files(session, tmp_path):
    result = ensure_default_boundaries(session, Settings(boundaries=tmp_path / "none"))
    assert not result.ok and result.count == 0
    assert "ioc geo import" in str(result)
    assert "Chưa có ranh giới" in result.message and "No administrative boundaries" in result.message
    assert result.message == HOW_TO_IMPORT


def test_ensure_default_boundaries_with_a_bad_file(session, tmp_path):
    (tmp_path / "broken.geojson").write_text("{")
    result = ensure_default_boundaries(session, Settings(boundaries=tmp_path))
    assert not result.ok and "could not import" in result.message
    assert session.scalar(select(func.count()).select_from(Boundary)) == 0
