"""Where things are: the 102 communes of the new Đồng Tháp, the pre-2025 districts, points.

The outline of the province is the union of the district polygons in ``../shared/geo``
(``ioc.settings.SHARED_GEO``) or a directory given in the config. Each new commune is tied
to the old district most of its area came from (hand table below); a point "in a commune"
is a random point inside that old district's polygon — district precision, not commune
precision. Without the polygon files the simulator falls back to the province's bounding
box (lon 105.18–106.80, lat 10.12–10.98) and says so in ``/_control/info``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.common import rng_for

# Bounding box of the new province (old Đồng Tháp + old Tiền Giang), WGS84.
BBOX = (105.18, 10.12, 106.80, 10.98)  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class District:
    key: str
    name: str  # correct Vietnamese, with its type: "huyện Cao Lãnh"
    province: str  # old province: "Đồng Tháp" or "Tiền Giang"
    polygon: str  # NAME_3 in the GADM-derived geojson (spelling as in the file)
    urban: bool


DISTRICTS: list[District] = [
    District("tp_cao_lanh", "thành phố Cao Lãnh", "Đồng Tháp", "Cao Lanh", True),
    District("tp_sa_dec", "thành phố Sa Đéc", "Đồng Tháp", "Sa Ðéc", True),
    District("tp_hong_ngu", "thành phố Hồng Ngự", "Đồng Tháp", "Hồng Ngự", True),
    District("h_tan_hong", "huyện Tân Hồng", "Đồng Tháp", "Tân Hồng", False),
    District("h_hong_ngu", "huyện Hồng Ngự", "Đồng Tháp", "Hồng Ngự", False),
    District("h_tam_nong", "huyện Tam Nông", "Đồng Tháp", "Tam Nông", False),
    District("h_thanh_binh", "huyện Thanh Bình", "Đồng Tháp", "Thanh Bình", False),
    District("h_thap_muoi", "huyện Tháp Mười", "Đồng Tháp", "Tháp Muời", False),
    District("h_cao_lanh", "huyện Cao Lãnh", "Đồng Tháp", "Cao Lãnh", False),
    District("h_lap_vo", "huyện Lấp Vò", "Đồng Tháp", "Lấp Vò", False),
    District("h_lai_vung", "huyện Lai Vung", "Đồng Tháp", "Lai Vung", False),
    District("h_chau_thanh_dt", "huyện Châu Thành", "Đồng Tháp", "Châu Thành", False),
    District("tp_my_tho", "thành phố Mỹ Tho", "Tiền Giang", "Mỹ Tho", True),
    District("tx_go_cong", "thị xã Gò Công", "Tiền Giang", "Go Cong", True),
    District("tx_cai_lay", "thị xã Cai Lậy", "Tiền Giang", "Cai Lậy", True),
    District("h_cai_lay", "huyện Cai Lậy", "Tiền Giang", "Cai Lậy", False),
    District("h_cai_be", "huyện Cái Bè", "Tiền Giang", "Cái Bè", False),
    District("h_tan_phuoc", "huyện Tân Phước", "Tiền Giang", "Tân Phuớc", False),
    District("h_chau_thanh_tg", "huyện Châu Thành", "Tiền Giang", "Châu Thành", False),
    District("h_cho_gao", "huyện Chợ Gạo", "Tiền Giang", "Chợ Gạo", False),
    District("h_go_cong_tay", "huyện Gò Công Tây", "Tiền Giang", "Gò Công Tây", False),
    District("h_go_cong_dong", "huyện Gò Công Đông", "Tiền Giang", "Gò Công Ðông", False),
    District("h_tan_phu_dong", "huyện Tân Phú Đông", "Tiền Giang", "Tân Phú Ðông", False),
]
DISTRICT_BY_KEY = {d.key: d for d in DISTRICTS}

# New commune (name as in vietnam-provinces) → old district key.
_WARD_DISTRICT = {
    "tp_my_tho": ["Phường Mỹ Tho", "Phường Đạo Thạnh", "Phường Mỹ Phong", "Phường Thới Sơn", "Phường Trung An"],
    "tx_go_cong": ["Phường Gò Công", "Phường Long Thuận", "Phường Sơn Qui", "Phường Bình Xuân"],
    "tx_cai_lay": ["Phường Mỹ Phước Tây", "Phường Thanh Hòa", "Phường Cai Lậy", "Phường Nhị Quý", "Xã Tân Phú"],
    "h_cai_lay": ["Xã Thạnh Phú", "Xã Mỹ Thành", "Xã Bình Phú", "Xã Hiệp Đức", "Xã Long Tiên", "Xã Ngũ Hiệp"],
    "h_cai_be": ["Xã Cái Bè", "Xã Hậu Mỹ", "Xã Mỹ Thiện", "Xã Hội Cư", "Xã Mỹ Đức Tây", "Xã Mỹ Lợi",
                 "Xã Thanh Hưng", "Xã An Hữu"],
    "h_tan_phuoc": ["Xã Tân Phước 1", "Xã Tân Phước 2", "Xã Tân Phước 3", "Xã Hưng Thạnh"],
    "h_chau_thanh_tg": ["Xã Châu Thành", "Xã Tân Hương", "Xã Long Hưng", "Xã Long Định", "Xã Bình Trưng",
                        "Xã Vĩnh Kim", "Xã Kim Sơn"],
    "h_cho_gao": ["Xã Chợ Gạo", "Xã Mỹ Tịnh An", "Xã Lương Hòa Lạc", "Xã Tân Thuận Bình", "Xã An Thạnh Thủy",
                  "Xã Bình Ninh"],
    "h_go_cong_tay": ["Xã Vĩnh Bình", "Xã Đồng Sơn", "Xã Phú Thành", "Xã Vĩnh Hựu", "Xã Long Bình"],
    "h_go_cong_dong": ["Xã Tân Hòa", "Xã Gia Thuận", "Xã Tân Đông", "Xã Tân Điền", "Xã Gò Công Đông"],
    "h_tan_phu_dong": ["Xã Tân Thới", "Xã Tân Phú Đông"],
    "tp_cao_lanh": ["Phường Cao Lãnh", "Phường Mỹ Ngãi", "Phường Mỹ Trà"],
    "tp_sa_dec": ["Phường Sa Đéc"],
    "tp_hong_ngu": ["Phường An Bình", "Phường Hồng Ngự", "Phường Thường Lạc"],
    "h_hong_ngu": ["Xã Thường Phước", "Xã Long Khánh", "Xã Long Phú Thuận"],
    "h_tan_hong": ["Xã Tân Hồng", "Xã Tân Hộ Cơ", "Xã Tân Thành", "Xã An Phước"],
    "h_tam_nong": ["Xã Tràm Chim", "Xã Tam Nông", "Xã An Hòa", "Xã Phú Cường", "Xã An Long", "Xã Phú Thọ"],
    "h_thanh_binh": ["Xã Thanh Bình", "Xã Tân Thạnh", "Xã Bình Thành", "Xã Tân Long"],
    "h_thap_muoi": ["Xã Tháp Mười", "Xã Thanh Mỹ", "Xã Mỹ Quí", "Xã Đốc Binh Kiều", "Xã Trường Xuân"],
    "h_cao_lanh": ["Xã Phương Thịnh", "Xã Phong Mỹ", "Xã Ba Sao", "Xã Mỹ Thọ", "Xã Bình Hàng Trung", "Xã Mỹ Hiệp"],
    "h_lap_vo": ["Xã Lấp Vò", "Xã Mỹ An Hưng", "Xã Tân Khánh Trung"],
    "h_lai_vung": ["Xã Lai Vung", "Xã Hòa Long", "Xã Phong Hòa", "Xã Tân Dương"],
    "h_chau_thanh_dt": ["Xã Phú Hựu", "Xã Tân Nhuận Đông", "Xã Tân Phú Trung"],
}


@dataclass(frozen=True)
class Commune:
    idx: int
    code: str  # five digits, e.g. "30076"
    name: str  # "Xã Mỹ Thọ"
    is_ward: bool  # phường (urban) vs xã
    district: District

    @property
    def short(self) -> str:
        """Name without its type word: "Mỹ Thọ"."""
        return self.name.split(" ", 1)[1]

    @property
    def lower_name(self) -> str:
        """Name as written inside an address: "xã Mỹ Thọ", "phường Sa Đéc"."""
        kind, rest = self.name.split(" ", 1)
        return f"{kind.lower()} {rest}"


def load_communes() -> list[Commune]:
    from vietnam_provinces import ProvinceCode, Ward

    by_name = {}
    for key, names in _WARD_DISTRICT.items():
        for n in names:
            by_name[n] = DISTRICT_BY_KEY[key]
    wards = sorted(Ward.iter_by_province(ProvinceCode(82)), key=lambda w: int(w.code.value))
    out = []
    for w in wards:
        district = by_name.get(w.name)
        if district is None:  # a newer package renamed something: place it by code range
            district = DISTRICT_BY_KEY["tp_my_tho" if int(w.code.value) < 29000 else "tp_cao_lanh"]
        out.append(Commune(len(out), f"{int(w.code.value):05d}", w.name, w.name.startswith("Phường"), district))
    return out


def default_geo_dir() -> Path | None:
    try:
        from ioc.settings import SHARED_GEO  # type: ignore

        path = Path(SHARED_GEO)
    except Exception:  # the simulator also runs without the product installed
        path = Path(__file__).resolve().parent.parent.parent / "shared" / "geo"
    return path if path.is_dir() else None


class ProvinceGeo:
    """Polygons of the old districts and of the province; random points inside them."""

    def __init__(self, geo_dir: Path | None, seed: int):
        import shapely
        from shapely.geometry import box, shape

        self.communes = load_communes()
        self.source = "bbox"
        polys: dict[tuple[str, str], object] = {}
        directory = Path(geo_dir) if geo_dir else default_geo_dir()
        if directory and directory.is_dir():
            for f in sorted(directory.glob("*.geojson")):
                try:
                    data = json.loads(f.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                for feat in data.get("features", []):
                    p = feat.get("properties", {})
                    try:
                        geom = shape(feat["geometry"])
                    except Exception:
                        continue
                    polys[(_norm(p.get("NAME_2", "")), _norm(p.get("NAME_3", "")))] = geom
        self.district_geom = {}
        if polys:
            self.source = str(directory)
            for d in DISTRICTS:
                g = polys.get((_norm(d.province), _norm(d.polygon)))
                if g is not None:
                    self.district_geom[d.key] = g
        self.province = shapely.union_all(list(polys.values())) if polys else box(*BBOX)
        shapely.prepare(self.province)
        for g in self.district_geom.values():
            shapely.prepare(g)
        self.seed = seed
        self._pools: dict[str, np.ndarray] = {}

    def contains(self, lon: float, lat: float) -> bool:
        import shapely

        return bool(shapely.contains_xy(self.province, lon, lat))

    def pool(self, district_key: str, n: int = 600) -> np.ndarray:
        """n points (lon, lat) inside the district (or the province when its polygon is missing)."""
        if district_key in self._pools:
            return self._pools[district_key]
        import shapely

        geom = self.district_geom.get(district_key, self.province)
        rng = rng_for(self.seed, "geo-pool", district_key)
        minx, miny, maxx, maxy = geom.bounds
        got: list[np.ndarray] = []
        have = 0
        while have < n:
            xs = rng.uniform(minx, maxx, n * 3)
            ys = rng.uniform(miny, maxy, n * 3)
            ok = shapely.contains_xy(geom, xs, ys) & shapely.contains_xy(self.province, xs, ys)
            pts = np.column_stack([xs[ok], ys[ok]])
            got.append(pts)
            have += len(pts)
        arr = np.round(np.concatenate(got)[:n], 6)
        self._pools[district_key] = arr
        return arr

    def points_for_communes(self, commune_idx: np.ndarray, pick: np.ndarray) -> np.ndarray:
        """(lon, lat) for each (commune index, random int) pair, vectorised by district."""
        out = np.zeros((len(commune_idx), 2))
        dkeys = np.array([c.district.key for c in self.communes])[commune_idx] if len(commune_idx) else np.array([])
        for key in np.unique(dkeys):
            m = dkeys == key
            pool = self.pool(str(key))
            out[m] = pool[pick[m] % len(pool)]
        return out


def _norm(s: str) -> str:
    """Compare names across spellings: Ð (U+00D0) → Đ, lower case."""
    return (s or "").replace("\u00d0", "\u0110").strip().lower()


def outside_point(rng: np.random.Generator) -> tuple[float, float]:
    """A (lon, lat) clearly outside the province: Hà Nội, the sea off Vũng Tàu, or (0, 0)."""
    choices = [(105.8542, 21.0285), (107.40, 9.90), (0.0, 0.0)]
    return choices[int(rng.integers(len(choices)))]
