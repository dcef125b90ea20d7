import json
import shutil

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point, box
from sqlalchemy import func, select

from geo.boundaries import import_boundaries
from ioc.db.models import Boundary
from ioc.errors import UserError

DT_CODES = {f"old-d:{c}" for c in range(866, 878)} - {"old-d:868"}  # TP Hồng Ngự has no own polygon
TG_CODES = {f"old-d:{c}" for c in range(815, 826)} - {"old-d:817"}  # nor TX Cai Lậy


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Boundary))


def _snapshot(session):
    return sorted(
        (b.layer, b.feature_key, b.checksum, b.unit_code, b.imported_at)
        for b in session.scalars(select(Boundary))
    )


def test_import_dong_thap_then_reimport_changes_nothing(session, dt_file):
    first = import_boundaries(dt_file, session)
    assert (first.inserted, first.updated, first.unchanged, first.removed) == (11, 0, 0, 0)
    assert first.layer == "dong_thap_districts_pre2025"
    assert first.unmatched == 0
    before = _snapshot(session)
    second = import_boundaries(dt_file, session)
    assert (second.inserted, second.updated, second.unchanged, second.removed) == (0, 0, 11, 0)
    assert _snapshot(session) == before
    rows = session.scalars(select(Boundary)).all()
    assert {r.unit_code for r in rows} == DT_CODES
    assert all(r.level == "district_pre2025" for r in rows)
    by_name = {r.name: r.unit_code for r in rows}
    assert by_name["Cao Lanh"] == "old-d:866"  # the small polygon is the city
    assert by_name["Cao Lãnh"] == "old-d:873"
    assert by_name["Sa Ðéc"] == "old-d:867"
    assert by_name["Tháp Muời"] == "old-d:872"
    geom = shapely.from_geojson(rows[0].geometry)
    assert geom.geom_type in ("Polygon", "MultiPolygon")
    assert rows[0].properties["NAME_2"] == "Đồng Tháp"


def test_import_both_files_and_the_folder(session, dt_file, tg_file, districts_dir):
    # The shared Tiền Giang file holds 10 features (no separate Cai Lậy town polygon).
    import_boundaries(dt_file, session)
    tg = import_boundaries(tg_file, session)
    assert tg.inserted == 10
    assert _count(session) == 21
    rows = session.scalars(select(Boundary).where(Boundary.layer == "tien_giang_districts_pre2025")).all()
    assert {r.unit_code for r in rows} == TG_CODES
    # The two Châu Thành polygons got different codes.
    chau = {r.unit_code for r in session.scalars(select(Boundary).where(Boundary.name == "Châu Thành"))}
    assert chau == {"old-d:877", "old-d:821"}
    # Importing the folder now changes nothing.
    folder = import_boundaries(districts_dir, session)
    assert (folder.inserted, folder.updated, folder.unchanged) == (0, 0, 21)
    assert len(folder.files) == 2


def test_folder_import_into_empty_db(session, dt_file, tg_file, tmp_path):
    folder = tmp_path / "geo"
    folder.mkdir()
    shutil.copy(dt_file, folder)
    shutil.copy(tg_file, folder)
    (folder / "README.md").write_text("not a boundary file")
    calls = []
    result = import_boundaries(folder, session, progress=lambda done, total, label: calls.append((done, total)))
    assert result.inserted == 21 and _count(session) == 21
    assert calls and calls[-1][0] == calls[-1][1]


@pytest.mark.parametrize("suffix,driver", [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_geopackage_and_shapefile_round_trip(session, dt_file, tmp_path, suffix, driver):
    gdf = gpd.read_file(dt_file)
    out = tmp_path / f"dt_districts{suffix}"
    gdf.to_file(out, driver=driver)
    first = import_boundaries(out, session)
    assert first.inserted == 11 and first.layer == "dt_districts"
    assert {r.unit_code for r in session.scalars(select(Boundary))} == DT_CODES
    again = import_boundaries(out, session)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 11)


def test_projected_file_is_reprojected(session, dt_file, tmp_path):
    gdf = gpd.read_file(dt_file).to_crs(32648)  # UTM 48N, metres
    out = tmp_path / "dt_utm.gpkg"
    gdf.to_file(out, driver="GPKG")
    result = import_boundaries(out, session)
    assert result.inserted == 11
    geoms = [shapely.from_geojson(b.geometry) for b in session.scalars(select(Boundary))]
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    assert 105 < minx < maxx < 106.1 and 10 < miny < maxy < 11.1
    assert {r.unit_code for r in session.scalars(select(Boundary))} == DT_CODES


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_and_huge_coordinates_is_rejected(session, dt_file, tmp_path):
    gdf = gpd.read_file(dt_file).to_crs(32648).set_crs(None, allow_override=True)
    out = tmp_path / "no_crs.shp"
    gdf.to_file(out)
    assert not out.with_suffix(".prj").exists()
    with pytest.raises(UserError, match="no coordinate reference system"):
        import_boundaries(out, session)
    assert _count(session) == 0


def test_geojson_with_metre_coordinates_is_rejected(session, tmp_path):
    out = tmp_path / "metres.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "x"},
        "geometry": shapely.geometry.mapping(box(580000, 1150000, 590000, 1160000)),
    }]}))
    with pytest.raises(UserError):
        import_boundaries(out, session)
    assert _count(session) == 0


def test_bad_inputs(session, tmp_path):
    with pytest.raises(UserError, match="not found"):
        import_boundaries(tmp_path / "missing.geojson", session)
    csv = tmp_path / "table.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="no polygon"):
        import_boundaries(csv, session)
    garbage = tmp_path / "garbage.geojson"
    garbage.write_bytes(b"\x00\x01 not json")
    with pytest.raises(UserError):
        import_boundaries(garbage, session)
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(105.6, 10.4)], crs=4326).to_file(points)
    with pytest.raises(UserError, match="no polygon"):
        import_boundaries(points, session)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no boundary files"):
        import_boundaries(empty, session)
    with pytest.raises(UserError, match="unknown level"):
        import_boundaries(points, session, level="village")
    assert _count(session) == 0


def test_a_bad_file_in_a_folder_writes_nothing(session, dt_file, tmp_path):
    folder = tmp_path / "geo"
    folder.mkdir()
    shutil.copy(dt_file, folder)
    (folder / "zz_broken.geojson").write_text("{ not json")
    with pytest.raises(UserError):
        import_boundaries(folder, session)
    assert _count(session) == 0


def test_changed_and_removed_features(session, dt_file, tmp_path):
    gdf = gpd.read_file(dt_file)
    out = tmp_path / "dt.gpkg"
    gdf.to_file(out, driver="GPKG")
    import_boundaries(out, session)
    changed = gdf.iloc[:9].copy()
    changed.loc[0, "geometry"] = changed.geometry.iloc[0].buffer(0.001)
    changed.to_file(out, driver="GPKG")
    result = import_boundaries(out, session)
    assert (result.inserted, result.updated, result.unchanged, result.removed) == (0, 1, 8, 2)
    assert _count(session) == 9


def test_layer_override_and_name_field(session, dt_file, tmp_path):
    gdf = gpd.read_file(dt_file)[["VARNAME_3", "NAME_3", "geometry"]].rename(columns={"VARNAME_3": "ascii"})
    gdf = gdf.drop(columns="NAME_3")
    gdf["ascii"] = gdf["ascii"].fillna("Cao Lanh")
    out = tmp_path / "plain.geojson"
    gdf.to_file(out)
    result = import_boundaries(out, session, layer="districts", name_field="ascii", level="district_pre2025")
    assert result.layer == "districts" and result.inserted == 11
    codes = {b.name: b.unit_code for b in session.scalars(select(Boundary))}
    assert codes["Thap Muoi"] == "old-d:872"
    assert codes["Lap Vo"] == "old-d:875"
    with pytest.raises(UserError, match="name field"):
        import_boundaries(out, session, name_field="nope")


def test_commune_level_file(session, tmp_path):
    # Two made-up commune polygons, one named, one identified by its national code.
    gdf = gpd.GeoDataFrame(
        {"ten": ["Xã Mỹ Hiệp", "Không tên"], "ma_xa": ["", "29869"], "loai": ["Xã", "Phường"]},
        geometry=[box(105.70, 10.40, 105.75, 10.45), box(105.60, 10.44, 105.63, 10.47)],
        crs=4326,
    )
    out = tmp_path / "communes.gpkg"
    gdf.to_file(out, driver="GPKG")
    result = import_boundaries(out, session)
    assert result.inserted == 2
    rows = {b.name: b for b in session.scalars(select(Boundary))}
    assert rows["Xã Mỹ Hiệp"].level == "commune" and rows["Xã Mỹ Hiệp"].unit_code == "30112"
    assert rows["Không tên"].unit_code == "29869"


def test_geopackage_with_several_layers(session, dt_file, tg_file, tmp_path):
    out = tmp_path / "both.gpkg"
    gpd.read_file(dt_file).to_file(out, layer="dt", driver="GPKG")
    gpd.read_file(tg_file).to_file(out, layer="tg", driver="GPKG")
    result = import_boundaries(out, session)
    assert result.layers == ("both:dt", "both:tg") and result.inserted == 21
    assert {r.unit_code for r in session.scalars(select(Boundary))} == DT_CODES | TG_CODES
