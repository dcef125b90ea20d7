"""A small world for the sector map's tests (tests/views/test_map*.py): three communes with
boundaries, 1022 tickets (with reporter data that must never come out), cameras (with stream
addresses that must never come out), stations with observations, dossiers; a read model on a
real database with a fixed clock and a fake store holding the published map facts.

The other test modules import ``world`` and ``make_views`` from here."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from ioc.db import models as m
from ioc.db.session import make_engine
from ioc.settings import load_settings
from ioc.views.read import ReadModel

NOW = datetime(2026, 6, 10, 3, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Đồng Tháp
RANGE = {"start": "2026-04-12", "end": "2026-06-10"}  # 60 days ending today
PII = ("Nguyễn Văn Bí Mật", "0909123456", "Số 12 đường Bí Mật", "Nội dung riêng tư XYZ")
SECRETS = ("cams.example", "SECRET-TOKEN-123", "rtsp://", "m3u8")
COMMUNES = {"10001": ("Phường Một", 105.60, 10.0), "10002": ("Xã Hai", 105.62, 20.0), "10003": ("Xã Ba", 105.64, 5.0)}


def ago(**kw) -> datetime:
    return NOW - timedelta(**kw)


def later(**kw) -> datetime:
    return NOW + timedelta(**kw)


class FakeStore:
    """What the map reads from Redis: the published map facts; period caches are no-ops."""

    def __init__(self, facts: dict | None) -> None:
        self.facts = facts

    def views(self, *names):
        return [self.facts if n == "map" else None for n in names]

    def period_cache_get(self, digest):
        return None

    def period_cache_set(self, digest, blob, ttl):
        pass


MAP_FACTS = {"stations": [
    {"id": "S-AIR", "name": "Trạm không khí Một", "kind": "air", "index": "aqi", "lat": 10.41, "lon": 105.61,
     "value": 75, "category": "moderate", "hex": "#FFFF00", "offline": False},
    {"id": "S-WAT", "name": "Trạm nước Hai", "kind": "water", "index": "wqi", "lat": 10.41, "lon": 105.63,
     "value": 40, "category": "bad", "hex": "#FF7E00", "offline": False},
]}


def square(x0: float, y0: float, size: float = 0.02) -> str:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def ticket(ext, code, name, commune, req, *, exp=None, ans=None, status="open", lat=10.41, lon=None,
           agency="UBND Phường Một"):
    x0 = COMMUNES[commune][1] if commune in COMMUNES else 105.61
    return {"source": "hotline", "external_id": ext, "service_code": code, "service_name": name, "channel": "phone",
            "status": status, "agency": agency, "description": PII[3], "address": PII[2],
            "lat": lat, "lon": (x0 + 0.01) if lon is None and lat is not None else lon, "commune_code": commune,
            "requested_at": req, "updated_at": req, "expected_at": exp, "answered_at": ans, "reopened_count": 0,
            "reporter_name": PII[0], "reporter_phone": PII[1]}


def populate(engine) -> None:
    with engine.begin() as c:
        for code, (name, x0, area) in COMMUNES.items():
            c.execute(insert(m.AdminUnit).values(code=code, name=name, level="commune", norm_name=name.lower()))
            c.execute(insert(m.Boundary).values(layer="communes_test", feature_key=code, name=name, level="commune",
                                                unit_code=code, properties={"code": code, "area_km2": area},
                                                geometry=square(x0, 10.40), checksum="x", source_path="test",
                                                imported_at=NOW))
        c.execute(insert(m.Ticket), [
            ticket("PA001", "TTHC", "Thủ tục hành chính", "10001", ago(days=3), exp=later(days=18)),
            ticket("PA002", "DATDAI", "Đất đai", "10001", ago(days=25), exp=ago(days=4)),
            ticket("PA003", "ANTT", "An ninh trật tự", "10001", ago(days=10), exp=later(days=11), ans=ago(days=9),
                   status="closed"),
            ticket("PA004", "MOITRUONG", "Môi trường", "10001", ago(days=35)),  # no deadline given: 15 working days
            ticket("PA005", "TTHC", "Thủ tục hành chính", "10001", ago(days=2)),
            ticket("PA006", "TTHC", "Thủ tục hành chính", "10001", ago(days=5), exp=later(days=16), lat=None),
            ticket("PA007", "ANTT", "An ninh trật tự", "10002", ago(days=1), exp=later(days=20)),
            ticket("-2+3", "EVIL", '=HYPERLINK("http://evil.example","x")', "10001", ago(days=6), ans=ago(days=5),
                   status="closed", agency="+SUM(1)"),
            ticket("PA009", "TTHC", "Thủ tục hành chính", "10001", ago(days=70), exp=ago(days=50)),  # before the range
            ticket("PA010", "TTHC", "Thủ tục hành chính", "10001", ago(days=8), status="closed"),  # no answer time
        ])
        cams = []
        for cid, commune, status, since, lat in (("C1", "10001", "online", ago(days=20), 10.411),
                                                 ("C2", "10001", "offline", ago(days=3), 10.412),
                                                 ("C3", "10001", "offline", ago(hours=2), 10.413),
                                                 ("C4", "10001", "degraded", ago(hours=5), 10.414),
                                                 ("C5", "10001", "unknown", None, None),
                                                 ("C6", "10002", "online", ago(days=1), 10.415)):
            cams.append({"id": cid, "name": f"Camera {cid}" if cid != "C3" else "@Camera chợ", "lat": lat,
                         "lon": 105.611 if lat is not None else None, "address": PII[2], "commune_code": commune,
                         "agency": "Công an phường", "vms_type": "mediamtx",
                         "hls_url": f"http://cams.example/{cid}/index.m3u8?t=SECRET-TOKEN-123",
                         "snapshot_url": f"http://cams.example/{cid}/snapshot.png", "status": status,
                         "status_reason": "Mất kết nối" if status == "offline" else None, "status_since": since,
                         "last_seen": ago(hours=1), "fps": 25.0, "updated_at": ago(hours=1)})
        c.execute(insert(m.Camera), cams)
        c.execute(insert(m.CameraStatusChange), [
            {"camera_id": "C2", "at": ago(days=12), "status": "offline", "previous": "online"},
            {"camera_id": "C2", "at": ago(days=11), "status": "online", "previous": "offline"},
            {"camera_id": "C2", "at": ago(days=3), "status": "offline", "previous": "online"},
        ])
        st = [("S-AIR", "Trạm không khí Một", "air", "10001", 10.405, 105.605, {}),
              ("S-WAT", "Trạm nước Hai", "water", "10002", 10.405, 105.625, {}),
              ("S-IOT", "Trạm IoT mặn Một", "iot_water", "10001", 10.406, 105.606, {"alarm_levels": [1.5, 2.0, 2.5]}),
              ("S-INS", "Bẫy đèn Ba", "insect", "10003", 10.405, 105.645, {}),
              ("S-OLD", "Trạm IoT Hai", "iot_water", "10002", 10.406, 105.626, {})]
        c.execute(insert(m.Station), [{"id": i, "name": n, "kind": k, "commune_code": cc, "lat": la, "lon": lo,
                                       "properties": p, "updated_at": NOW} for i, n, k, cc, la, lo, p in st])
        streams = {"S-AIR": [("pm25", "µg/m³", 30.0), ("pm10", "µg/m³", 60.0), ("no2", "µg/m³", 40.0),
                             ("so2", "µg/m³", 20.0), ("co", "µg/m³", 1500.0), ("o3", "µg/m³", 80.0)],
                   "S-WAT": [("ph", "pH", 7.1), ("do", "mg/L", 5.5), ("bod5", "mg/L", 7.0), ("cod", "mg/L", 18.0),
                             ("nh4", "mg/L", 0.5), ("no3", "mg/L", 0.7), ("po4", "mg/L", 0.15),
                             ("tss", "mg/L", 60.0), ("coliform", "MPN/100mL", 4000.0), ("temperature", "°C", 28.0)],
                   "S-IOT": [("salinity", "‰", 2.5), ("water_level", "cm", 180.0)],
                   "S-INS": [("insects", "count", 1500.0)],
                   "S-OLD": [("salinity", "‰", 0.5)]}
        obs = []
        for sid, params in streams.items():
            for p, unit, value in params:
                dsid = f"{sid}:{p}"
                c.execute(insert(m.Datastream).values(id=dsid, station_id=sid, name=f"{p} at {sid}", parameter=p,
                                                      unit=unit, updated_at=NOW))
                newest = ago(hours=10) if sid == "S-OLD" else ago(hours=1)
                hours = 1 if sid == "S-INS" else 48
                for h in range(hours):
                    obs.append({"datastream_id": dsid, "phenomenon_time": newest - timedelta(hours=h),
                                "result": value * (1 + 0.01 * (h % 5))})
        c.execute(insert(m.Observation), obs)
        c.execute(insert(m.Procedure), [
            {"code": "P1", "name": "Cấp giấy phép xây dựng", "sector": "Xây dựng", "has_fee": True, "updated_at": NOW},
            {"code": "P2", "name": "=EVIL()", "sector": "Khác", "has_fee": False, "updated_at": NOW}])
        c.execute(insert(m.Dossier), [
            dossier("D1", "P1", "10001", ago(days=20), ago(days=5)),
            dossier("D2", "P1", "10001", ago(days=10), later(days=3)),
            dossier("D3", "P1", "10001", ago(days=15), ago(days=10), finished=ago(days=11)),
            dossier("D4", "P1", "10001", ago(days=30), ago(days=2), wait=72.0),
            dossier("D5", "P2", "10001", ago(days=40), ago(days=20)),
            dossier("D6", "P1", "10002", ago(days=12), ago(days=1)),
            dossier("D7", "P1", "10001", ago(days=45), ago(days=30), finished=ago(days=20)),
        ])


def dossier(did, proc, commune, received, due, *, finished=None, wait=0.0):
    return {"id": did, "procedure_code": proc, "agency": "UBND Phường Một" if commune == "10001" else "UBND Xã Hai",
            "commune_code": commune, "channel": 2, "received_at": received, "due_at": due, "finished_at": finished,
            "status": "done" if finished else "processing", "supplement_requests": 1 if wait else 0,
            "supplement_wait_hours": wait, "paid_online": True, "electronic_result": True, "digitised": True,
            "data_reused": False, "satisfaction": 5, "complaint": False, "updated_at": received}


def make_views(engine, *, facts=MAP_FACTS, **settings) -> ReadModel:
    rm = ReadModel(FakeStore(facts), load_settings(database_url=engine.url.render_as_string(hide_password=False),
                                                   **settings), engine=engine, clock=lambda: NOW)
    return rm


@pytest.fixture
def world(db_url):
    """A populated database (SQLite; PostgreSQL too when IOC_TEST_DATABASE_URL is set) and
    its read model."""
    from ioc.kpi import periods
    from ioc.views import mapdata

    periods.clear_cache()
    mapdata.clear_cache()
    eng = make_engine(db_url)
    populate(eng)
    yield make_views(eng)
    eng.dispose()


def test_the_world_holds_what_the_tests_expect(world):
    with world.engine().connect() as c:
        assert c.execute(select(m.Ticket.id)).all().__len__() == 10
    assert set(world.atlas.names()) == set(COMMUNES)
