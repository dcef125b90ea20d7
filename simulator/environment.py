"""Source 3 (data side): 107 monitoring points of Đồng Tháp and their hourly values.

Nothing is stored per observation: a value is a function of (seed, datastream, hour), built
from daily and seasonal cycles, tides, yearly episodes (a pollution day, salinity intrusion in
the dry season, the flood peak, a pest outbreak) and smooth hashed noise. Observations become
visible after a delay (``lag``); station outages hide hours for good ("lost") or until the
link comes back ("delayed", then back-filled: late data).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.common import DAY_S, HOUR_S, hash_normal, hash_uniform, rng_for
from simulator.geo import ProvinceGeo

H0 = 438_288  # hours from 1970 to 2020-01-01T00:00Z; observation id = ds_id·10⁷ + (hour − H0)
ID_MUL = 10_000_000
BLOCK_H = 30 * 24
MAX_OUTAGE_H = 96
YEAR_S = 365.2425 * DAY_S

UG = {"name": "microgram per cubic metre", "symbol": "µg/m³", "definition": "http://unitsofmeasure.org/ucum.html#ug/m3"}
MGL = {"name": "milligram per litre", "symbol": "mg/L", "definition": "http://unitsofmeasure.org/ucum.html#mg/L"}
PH = {"name": "pH", "symbol": "pH", "definition": "http://unitsofmeasure.org/ucum.html#[pH]"}
MPN = {"name": "most probable number per 100 millilitres", "symbol": "MPN/100mL",
       "definition": "http://unitsofmeasure.org/ucum.html#{MPN}/100mL"}
CEL = {"name": "degree Celsius", "symbol": "°C", "definition": "http://unitsofmeasure.org/ucum.html#Cel"}
CM = {"name": "centimetre", "symbol": "cm", "definition": "http://unitsofmeasure.org/ucum.html#cm"}
PPT = {"name": "parts per thousand", "symbol": "‰", "definition": "http://unitsofmeasure.org/ucum.html#[ppth]"}
COUNT = {"name": "individuals per trap per day", "symbol": "con/bẫy/ngày",
         "definition": "http://unitsofmeasure.org/ucum.html#{count}/d"}
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
COUNT_OBS = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"


@dataclass(frozen=True)
class Param:
    key: str
    name: str  # ObservedProperty name
    description: str
    definition: str
    unit: dict
    base: float
    decimals: int


PARAMS = [
    Param("PM2.5", "PM2.5", "Bụi mịn có đường kính ≤ 2,5 µm", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/6001", UG, 22, 1),
    Param("PM10", "PM10", "Bụi có đường kính ≤ 10 µm", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/5", UG, 45, 1),
    Param("NO2", "NO2", "Nitơ điôxít", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/8", UG, 28, 1),
    Param("SO2", "SO2", "Lưu huỳnh điôxít", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/1", UG, 18, 1),
    Param("CO", "CO", "Cacbon monôxít", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/10", UG, 1300, 0),
    Param("O3", "O3", "Ôzôn", "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/7", UG, 55, 1),
    Param("pH", "pH", "Độ pH của nước", "urn:dongthap:observedProperty:water:pH", PH, 7.1, 2),
    Param("DO", "DO", "Ôxy hòa tan", "urn:dongthap:observedProperty:water:DO", MGL, 5.2, 2),
    Param("BOD5", "BOD5", "Nhu cầu ôxy sinh hóa (5 ngày, 20 °C)", "urn:dongthap:observedProperty:water:BOD5", MGL, 5.0, 1),
    Param("COD", "COD", "Nhu cầu ôxy hóa học", "urn:dongthap:observedProperty:water:COD", MGL, 12.0, 1),
    Param("N-NH4", "N-NH4", "Amoni (tính theo N)", "urn:dongthap:observedProperty:water:N-NH4", MGL, 0.35, 3),
    Param("N-NO3", "N-NO3", "Nitrat (tính theo N)", "urn:dongthap:observedProperty:water:N-NO3", MGL, 0.9, 3),
    Param("P-PO4", "P-PO4", "Phosphat (tính theo P)", "urn:dongthap:observedProperty:water:P-PO4", MGL, 0.12, 3),
    Param("TSS", "TSS", "Tổng chất rắn lơ lửng", "urn:dongthap:observedProperty:water:TSS", MGL, 55, 1),
    Param("Coliform", "Coliform", "Tổng Coliform", "urn:dongthap:observedProperty:water:Coliform", MPN, 3500, 0),
    Param("Temp", "Nhiệt độ nước", "Nhiệt độ nước", "urn:dongthap:observedProperty:water:temperature", CEL, 29.0, 2),
    Param("Level", "Mực nước", "Mực nước so với mốc cao độ quốc gia (Hòn Dấu)", "urn:dongthap:observedProperty:water:level", CM, 100, 0),
    Param("Salinity", "Độ mặn", "Độ mặn của nước", "urn:dongthap:observedProperty:water:salinity", PPT, 0.1, 2),
    Param("BPH", "Mật độ rầy nâu vào đèn", "Số rầy nâu (Nilaparvata lugens) vào bẫy đèn trong một đêm",
          "urn:dongthap:observedProperty:pest:brown_planthopper", COUNT, 120, 0),
]
P = {p.key: i for i, p in enumerate(PARAMS)}
AIR = ["PM2.5", "PM10", "NO2", "SO2", "CO", "O3"]
WATER = ["pH", "DO", "BOD5", "COD", "N-NH4", "N-NO3", "P-PO4", "TSS", "Coliform", "Temp"]

# kind → (sensor index, params, step hours, lag seconds)
KINDS = {
    "air": (0, AIR, 1, 3600 + 600),
    "water_auto": (1, WATER, 1, 3600 + 900),
    "water_periodic": (2, WATER, 720, 7 * DAY_S),  # monthly sampling; lab results a week later
    "water_iot": (3, ["Level", "Salinity"], 1, 300),
    "insect_trap": (4, ["BPH"], 24, 2 * HOUR_S),
}
SENSORS = [
    ("Thiết bị quan trắc không khí tự động", "Trạm đo liên tục bụi và khí (phương pháp chuẩn theo QCVN 05:2023/BTNMT)"),
    ("Thiết bị quan trắc nước mặt tự động", "Đầu đo đa chỉ tiêu và bộ lấy mẫu tự động, truyền số liệu mỗi giờ"),
    ("Lấy mẫu và phân tích phòng thí nghiệm", "Lấy mẫu định kỳ hằng tháng, phân tích theo QCVN 08:2023/BTNMT"),
    ("Cảm biến IoT mực nước - độ mặn", "Cảm biến áp suất và độ dẫn điện, truyền NB-IoT mỗi giờ"),
    ("Bẫy đèn IoT đếm côn trùng", "Bẫy đèn có camera đếm rầy nâu tự động mỗi đêm"),
]

AIR_SITES = [("Phường Cao Lãnh", 1.3), ("Phường Mỹ Trà", 1.1), ("Phường Sa Đéc", 1.35), ("Phường Hồng Ngự", 1.1),
             ("Phường Mỹ Tho", 1.45), ("Phường Đạo Thạnh", 1.3), ("Phường Gò Công", 1.0), ("Phường Cai Lậy", 1.1),
             ("Xã Tân Phước 1", 1.25), ("Xã Tháp Mười", 0.85), ("Xã Lấp Vò", 0.9), ("Xã Cái Bè", 0.95)]
AIR_LABEL = {"Xã Tân Phước 1": "Khu công nghiệp Long Giang", "Phường Mỹ Trà": "Khu công nghiệp Trần Quốc Toản",
             "Phường Đạo Thạnh": "Khu công nghiệp Mỹ Tho"}
RIVERS = ["sông Tiền", "sông Hậu", "kênh Nguyễn Văn Tiếp", "sông Sa Đéc", "kênh Xáng Lấp Vò", "sông Cái Bè",
          "rạch Cái Tàu Thượng", "kênh Hồng Ngự - Vĩnh Hưng", "kênh An Phong - Mỹ Hòa", "kênh Tháp Mười số 1",
          "kênh Tháp Mười số 2", "sông Bảo Định", "kênh Chợ Gạo", "sông Gò Công", "sông Sở Thượng", "sông Sở Hạ"]
WATER_AUTO_SITES = ["Phường Hồng Ngự", "Phường Sa Đéc", "Phường Mỹ Tho", "Xã Lấp Vò", "Xã Cái Bè", "Phường Cao Lãnh",
                    "Xã Tân Hồng", "Xã Thanh Bình", "Xã Mỹ Thọ", "Xã Tháp Mười", "Xã Trường Xuân", "Xã Long Định",
                    "Xã Chợ Gạo", "Phường Gò Công", "Xã Thường Phước", "Xã Tân Hộ Cơ"]
IOT_SITES = [("Phường Hồng Ngự", "sông Tiền", 120, 300, 30, 0.05), ("Phường Cao Lãnh", "sông Tiền", 95, 190, 45, 0.1),
             ("Phường Mỹ Tho", "sông Tiền", 60, 60, 110, 2.5), ("Xã Chợ Gạo", "kênh Chợ Gạo", 55, 35, 120, 5.0),
             ("Xã Gò Công Đông", "cửa Soài Rạp (Vàm Kênh)", 40, 15, 150, 14.0),
             ("Xã Tân Phú Đông", "sông Cửa Tiểu", 45, 15, 140, 12.0)]
INSECT_SITES = ["Xã Tháp Mười", "Xã Tam Nông", "Xã Tràm Chim", "Xã Thanh Bình", "Xã Tân Hồng", "Xã An Long",
                "Xã Mỹ Thọ", "Xã Lấp Vò", "Xã Lai Vung", "Xã Cái Bè", "Xã Hậu Mỹ", "Xã Tân Phước 2", "Xã Long Tiên",
                "Xã Vĩnh Bình", "Xã Chợ Gạo"]
N_PERIODIC = 58


@dataclass
class Station:
    id: int
    code: str
    name: str
    kind: str
    commune: object
    lon: float
    lat: float
    river: str | None = None
    factor: float = 1.0  # pollution level (air/water), base scaling
    extra: tuple = ()


class EnvModel:
    def __init__(self, geo: ProvinceGeo, seed: int, history_start: int):
        self.seed = seed
        self.history_start = history_start
        self.h_min = -(-history_start // HOUR_S)
        rng = rng_for(seed, "environment")
        by_name = {c.name: c for c in geo.communes}
        stations: list[Station] = []

        def place(cname: str) -> tuple[object, float, float]:
            c = by_name.get(cname) or geo.communes[0]
            pt = geo.points_for_communes(np.array([c.idx]), rng.integers(0, 1 << 30, 1))[0]
            return c, float(pt[0]), float(pt[1])

        for k, (cname, fac) in enumerate(AIR_SITES):
            c, lon, lat = place(cname)
            label = AIR_LABEL.get(cname, c.name)
            stations.append(Station(len(stations) + 1, f"DT-KK-{k + 1:02d}",
                                    f"Trạm quan trắc không khí tự động {label}", "air", c, lon, lat, factor=fac))
        for k, cname in enumerate(WATER_AUTO_SITES):
            c, lon, lat = place(cname)
            river = RIVERS[k % len(RIVERS)]
            stations.append(Station(len(stations) + 1, f"DT-NM-TD-{k + 1:02d}",
                                    f"Trạm quan trắc nước mặt tự động {river} - {c.name}", "water_auto", c, lon, lat,
                                    river, factor=float(rng.uniform(0.7, 1.6))))
        communes = geo.communes
        for k in range(N_PERIODIC):
            c = communes[(k * 7 + 3) % len(communes)]
            c, lon, lat = place(c.name)
            river = RIVERS[(k * 5 + 1) % len(RIVERS)]
            stations.append(Station(len(stations) + 1, f"DT-NM-{k + 1:02d}",
                                    f"Điểm quan trắc nước mặt {river} - {c.name}", "water_periodic", c, lon, lat,
                                    river, factor=float(rng.uniform(0.6, 2.0))))
        for k, (cname, river, base, flood, tide, smax) in enumerate(IOT_SITES):
            c, lon, lat = place(cname)
            stations.append(Station(len(stations) + 1, f"DT-IOT-MN-{k + 1:02d}",
                                    f"Trạm IoT đo mực nước - độ mặn {river} - {c.name}", "water_iot", c, lon, lat,
                                    river, extra=(base, flood, tide, smax)))
        for k, cname in enumerate(INSECT_SITES):
            c, lon, lat = place(cname)
            stations.append(Station(len(stations) + 1, f"DT-BD-{k + 1:02d}",
                                    f"Bẫy đèn IoT dự báo rầy nâu - {c.name}", "insect_trap", c, lon, lat,
                                    factor=float(rng.lognormal(0, 0.5))))
        self.stations = stations
        # datastreams
        ds_station, ds_param, ds_step, ds_phase, ds_lag = [], [], [], [], []
        for s in stations:
            sensor, params, step, lag = KINDS[s.kind]
            if s.kind == "water_periodic":
                phase = (int(rng.integers(0, 30)) * 24 + 2) % step  # 09:00 local on a station-specific day
            elif s.kind == "insect_trap":
                phase = 23  # 06:00 local, the night's catch
            else:
                phase = 0
            for pk in params:
                ds_station.append(s.id - 1)
                ds_param.append(P[pk])
                ds_step.append(step)
                ds_phase.append(phase)
                ds_lag.append(lag + (int(rng.integers(0, 600)) if step == 1 else 0))
        self.ds_station = np.array(ds_station)
        self.ds_param = np.array(ds_param)
        self.ds_step = np.array(ds_step, np.int64)
        self.ds_phase = np.array(ds_phase, np.int64)
        self.ds_lag = np.array(ds_lag, np.int64)
        self.n_ds = len(ds_station)
        self.st_kind = np.array([s.kind for s in stations])
        self.st_factor = np.array([s.factor for s in stations])
        self.st_auto = np.array([s.kind != "water_periodic" for s in stations])
        self.ds_of_station = [np.nonzero(self.ds_station == i)[0] for i in range(len(stations))]
        # per-datastream noise parameters
        r2 = rng_for(seed, "environment-ds")
        self.ds_phi = r2.uniform(0, 2 * np.pi, (self.n_ds, 4))
        self.ds_bias = r2.normal(0, 1, self.n_ds)

    # ------------------------------------------------------------------ outages
    @lru_cache(maxsize=4096)
    def _block(self, station: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.st_auto[station]:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
        rng = rng_for(self.seed, "env-outage", station, block)
        k = int(rng.poisson(0.7))
        starts = block * BLOCK_H + rng.integers(0, BLOCK_H, k)
        dur = np.clip(rng.lognormal(np.log(5), 1.1, k), 1, MAX_OUTAGE_H).astype(np.int64)
        lost = rng.random(k) < 0.4
        return starts.astype(np.int64), (starts + dur).astype(np.int64), lost

    def outages(self, station: int, h_lo: int, h_hi: int):
        """Outage intervals [start, end) in hours that may touch hours h_lo..h_hi."""
        parts = [self._block(station, b) for b in range((h_lo - MAX_OUTAGE_H) // BLOCK_H, h_hi // BLOCK_H + 1)]
        s = np.concatenate([p[0] for p in parts])
        e = np.concatenate([p[1] for p in parts])
        lost = np.concatenate([p[2] for p in parts])
        m = (e > h_lo) & (s <= h_hi)
        return s[m], e[m], lost[m]

    # ------------------------------------------------------------------ series
    def grid(self, ds: int, h_lo: int, h_hi: int) -> np.ndarray:
        """Hours on ds's sampling grid within [h_lo, h_hi]."""
        step, phase = int(self.ds_step[ds]), int(self.ds_phase[ds])
        first = h_lo + ((phase - h_lo) % step)
        if first > h_hi:
            return np.zeros(0, np.int64)
        return np.arange(first, h_hi + 1, step, dtype=np.int64)

    def last_visible_hour(self, ds: int, now: int) -> int:
        return (now - int(self.ds_lag[ds])) // HOUR_S

    def visible(self, ds: int, hours: np.ndarray, now: int) -> np.ndarray:
        if len(hours) == 0:
            return np.zeros(0, bool)
        lag = int(self.ds_lag[ds])
        m = hours * HOUR_S + lag <= now
        m &= hours >= self.h_min
        s, e, lost = self.outages(int(self.ds_station[ds]), int(hours[0]), int(hours[-1]))
        for a, b, lo in zip(s.tolist(), e.tolist(), lost.tolist()):
            inside = (hours >= a) & (hours < b)
            if lo or now < b * HOUR_S + lag:
                m &= ~inside
        return m

    def series(self, ds: int, h_lo: int, h_hi: int, now: int) -> np.ndarray:
        """Visible hours of ds within [h_lo, h_hi], ascending."""
        h_lo = max(h_lo, self.h_min)
        h_hi = min(h_hi, self.last_visible_hour(ds, now))
        if h_hi < h_lo:
            return np.zeros(0, np.int64)
        hours = self.grid(ds, h_lo, h_hi)
        return hours[self.visible(ds, hours, now)]

    def window_mask(self, ds_list: np.ndarray, hours: np.ndarray, now: int) -> np.ndarray:
        """Visibility (len(ds_list) × len(hours)) for a time window, vectorised over datastreams."""
        step = self.ds_step[ds_list][:, None]
        phase = self.ds_phase[ds_list][:, None]
        H = hours[None, :]
        m = ((H - phase) % step) == 0
        m &= (H * HOUR_S + self.ds_lag[ds_list][:, None]) <= now
        m &= H >= self.h_min
        if len(hours):
            h_lo, h_hi = int(hours[0]), int(hours[-1])
            st = self.ds_station[ds_list]
            for station in np.unique(st).tolist():
                s, e, lost = self.outages(station, h_lo, h_hi)
                if len(s) == 0:
                    continue
                rows = np.nonzero(st == station)[0]
                lag = self.ds_lag[ds_list][rows][:, None]
                for a, b, lo in zip(s.tolist(), e.tolist(), lost.tolist()):
                    inside = (H >= a) & (H < b)
                    hide = inside & (lo | (now < b * HOUR_S + lag))
                    m[rows] &= ~hide
        return m

    # ------------------------------------------------------------------ values
    def values(self, ds: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """Result for each (datastream index, hour) pair."""
        ds = np.asarray(ds, np.int64)
        hours = np.asarray(hours, np.int64)
        if ds.ndim == 0:
            ds = np.full(hours.shape, int(ds))
        out = np.zeros(len(hours))
        if len(hours) == 0:
            return out
        t = hours * HOUR_S
        hl = ((hours + 7) % 24).astype(np.float64)  # local hour
        doy = (t % YEAR_S) / DAY_S  # day of year (0 = Jan 1)
        year = (1970 + t // YEAR_S).astype(np.int64)
        param = self.ds_param[ds]
        station = self.ds_station[ds]
        kind = self.st_kind[station]
        fac = self.st_factor[station]
        phi = self.ds_phi[ds]
        th = t / 3600.0
        smooth = (0.05 * np.sin(2 * np.pi * th / 5.3 + phi[:, 0]) + 0.07 * np.sin(2 * np.pi * th / 17.1 + phi[:, 1])
                  + 0.10 * np.sin(2 * np.pi * th / 70.0 + phi[:, 2]) + 0.12 * np.sin(2 * np.pi * th / 233.0 + phi[:, 3]))
        white = hash_normal(ds, hours, self.seed)
        base = np.array([p.base for p in PARAMS])[param]

        m = kind == "air"
        if m.any():
            out[m] = self._air(param[m], base[m], fac[m], hl[m], doy[m], year[m], t[m], smooth[m], white[m])
        m = (kind == "water_auto") | (kind == "water_periodic")
        if m.any():
            out[m] = self._water(param[m], base[m], fac[m], hl[m], doy[m], smooth[m], white[m], station[m])
        m = kind == "water_iot"
        if m.any():
            out[m] = self._iot(param[m], station[m], th[m], doy[m], year[m], smooth[m], white[m])
        m = kind == "insect_trap"
        if m.any():
            out[m] = self._insect(base[m], fac[m], doy[m], year[m], station[m], white[m])
        dec = np.array([p.decimals for p in PARAMS])[param]
        for d in np.unique(dec).tolist():
            k = dec == d
            out[k] = np.round(out[k], d)
        return out

    def _episodes(self, tag: str, years: np.ndarray, lo: float, hi: float, count: int) -> dict[int, np.ndarray]:
        out = {}
        for y in np.unique(years).tolist():
            r = rng_for(self.seed, tag, int(y))
            out[y] = np.sort(r.uniform(lo, hi, count))
        return out

    def _air(self, param, base, fac, hl, doy, year, t, smooth, white):
        is_pm = param <= 1
        traffic = 1 + 0.35 * np.exp(-(((hl - 8) / 1.8) ** 2)) + 0.45 * np.exp(-(((hl - 19.5) / 2.2) ** 2)) - 0.15
        ozone = 1 + 0.8 * np.exp(-(((hl - 14) / 2.5) ** 2)) - 0.3
        diurnal = np.where(param == P["O3"], ozone, np.where(param == P["SO2"], 1 + 0.1 * np.sin(2 * np.pi * hl / 24), traffic))
        season = 1 + np.where(is_pm, 0.28, 0.12) * np.cos(2 * np.pi * (doy - 40) / 365.25)
        # pollution days: two a year in the dry season (stubble burning, stagnant air)
        episode = np.ones(len(t))
        eps = self._episodes("air-episode", year, 10, 100, 2)
        for y, days in eps.items():
            ym = year == y
            y0 = (y - 1970) * YEAR_S
            for d in days:
                centre = y0 + d * DAY_S
                bump = np.exp(-(((t[ym] - centre) / (16 * HOUR_S)) ** 2))
                amp = np.where(is_pm[ym], 2.6, np.where(param[ym] == P["O3"], 0.3, 1.0))
                episode[ym] *= 1 + amp * bump
        v = base * fac * diurnal * season * episode * np.exp(smooth * 1.5 + 0.08 * white)
        return np.maximum(v, 0.5)

    def _water(self, param, base, fac, hl, doy, smooth, white, station):
        out = np.empty(len(param))
        day = np.sin(2 * np.pi * (hl - 9) / 24)
        flood = np.exp(-(((doy - 275) / 35) ** 2))
        acid = np.exp(-(((doy - 150) / 20) ** 2)) * (station % 3 == 0)  # first rains wash acid sulfate soils
        mult = np.exp(smooth + 0.06 * white)
        for key, fn in (
            ("pH", lambda s: 7.1 + 0.25 * day[s] - 0.9 * acid[s] + 0.15 * smooth[s] * 4),
            ("DO", lambda s: np.maximum(1.2, 5.4 + 1.2 * day[s] - 0.9 * (fac[s] - 1) + smooth[s] * 3)),
            ("BOD5", lambda s: base[s] * fac[s] * mult[s]),
            ("COD", lambda s: base[s] * fac[s] * mult[s] * 1.05),
            ("N-NH4", lambda s: base[s] * fac[s] ** 1.3 * mult[s]),
            ("N-NO3", lambda s: base[s] * (0.8 + 0.4 * flood[s]) * mult[s]),
            ("P-PO4", lambda s: base[s] * fac[s] * mult[s]),
            ("TSS", lambda s: base[s] * (1 + 1.8 * flood[s]) * mult[s]),
            ("Coliform", lambda s: np.round(base[s] * fac[s] ** 1.5 * np.exp(smooth[s] * 3 + 0.35 * white[s]), -1)),
            ("Temp", lambda s: 29.0 + 1.1 * day[s] + 1.2 * np.cos(2 * np.pi * (doy[s] - 120) / 365.25) + smooth[s]),
        ):
            s = param == P[key]
            if s.any():
                out[s] = fn(s)
        return out

    def _iot(self, param, station, th, doy, year, smooth, white):
        site = np.array([s.extra if s.kind == "water_iot" else (0, 0, 0, 0) for s in self.stations])[station]
        base, flood_amp, tide_amp, smax = site[:, 0], site[:, 1], site[:, 2], site[:, 3]
        yr = self._year_factor(year, "flood-year", 0.6, 1.3)
        shift = self._year_factor(year, "flood-peak", -12, 12)
        flood = np.exp(-(((doy - 278 - shift) / 28) ** 2)) * yr
        spring = 0.75 + 0.25 * np.cos(2 * np.pi * th / (14.77 * 24))
        damp = 1 - 0.8 * flood  # the flood damps the tide upstream
        tide = spring * damp * (np.cos(2 * np.pi * th / 12.42) + 0.45 * np.cos(2 * np.pi * th / 23.93 + 1.0))
        level = base + flood_amp * flood + tide_amp * tide * 0.5 + 8 * smooth + 2 * white
        dry = np.exp(-(((doy - 75) / 32) ** 2)) * self._year_factor(year, "salinity-year", 0.7, 1.4)
        tide01 = (tide / 1.45 + 1) / 2
        sal = 0.05 + smax * dry * (0.6 + 0.4 * tide01) * np.exp(smooth) + 0.02 * white
        return np.where(param == P["Level"], level, np.maximum(sal, 0.0))

    def _insect(self, base, fac, doy, year, station, white):
        waves = (1 + 3 * np.exp(-(((doy - 15) / 12) ** 2)) + 2.5 * np.exp(-(((doy - 100) / 10) ** 2))
                 + 2 * np.exp(-(((doy - 215) / 12) ** 2)))
        centre = self._year_factor(year, "pest-outbreak", 60, 120)
        lag = (station % 5) - 2  # days: the wave reaches traps at slightly different times
        outbreak = 1 + 22 * np.exp(-(((doy - centre - lag) / 5) ** 2))
        v = base * fac * waves * outbreak * np.exp(0.4 * white)
        return np.round(np.maximum(v, 0))

    def _year_factor(self, years: np.ndarray, tag: str, lo: float, hi: float) -> np.ndarray:
        uniq, inv = np.unique(years, return_inverse=True)
        vals = np.array([rng_for(self.seed, tag, int(y)).uniform(lo, hi) for y in uniq.tolist()])
        return vals[inv]


def obs_id(ds: np.ndarray, hours: np.ndarray) -> np.ndarray:
    return (np.asarray(ds, np.int64) + 1) * ID_MUL + (np.asarray(hours, np.int64) - H0)


def split_id(oid: int) -> tuple[int, int]:
    return oid // ID_MUL - 1, oid % ID_MUL + H0


__all__ = ["EnvModel", "PARAMS", "SENSORS", "KINDS", "obs_id", "split_id", "hash_uniform"]
