"""The read model (ioc/views): facts published per panel, freshness judged at read time,
texts localised, no personal data — against a real Redis."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from ioc.live_store import LiveStore
from ioc.settings import load_settings
from ioc.views import facts, publish
from ioc.views.read import ReadModel

NOW = datetime(2026, 12, 2, 2, 40, tzinfo=timezone.utc)  # 09:40 in Hồ Chí Minh City


class FakeAtlas:
    """Commune names and label points without a database (the real one reads SQL)."""

    def names(self):
        return {"29884": "Phường Cao Lãnh", "28249": "Phường Mỹ Tho", "30118": "Xã Phong Mỹ"}

    def label_points(self):
        return {"29884": (10.46, 105.63), "28249": (10.36, 106.36), "30118": (10.5, 105.5)}

    def geojson(self):
        return b'{"type":"FeatureCollection","features":[]}'


def health(age_s: float, interval: float = 60, failures: int = 0) -> dict:
    return {"last_success": (NOW - timedelta(seconds=age_s)).isoformat(), "interval_seconds": str(interval),
            "consecutive_failures": str(failures), "records_last_run": "1234"}


def snapshot(generated_at: datetime = NOW) -> dict:
    cat_mod = {"key": "moderate", "name_vi": "Trung bình", "name_en": "Moderate", "hex": "#FFFF00"}
    trend = [{"hour": (NOW - timedelta(hours=24 - i)).replace(minute=0, second=0).isoformat(), "aqi": 50 + i}
             for i in range(24)]
    return {
        "generated_at": generated_at.isoformat(), "as_of": generated_at.isoformat(),
        "hotline": {"state": "fresh", "has_data": True, "computed_at": generated_at.isoformat(),
                    "periods": {"today": {"figures": {"received": 1234}, "previous": {"figures": {"received": 1200}}},
                                "this_month": {"by": {"commune": {"29884": {"received": 7}}}}},
                    "backlog": {"open": 2345, "open_overdue": 3},
                    "open_overdue": [{"external_id": "PA1", "service_name": "Môi trường", "channel": "phone",
                                      "agency": "UBND Phường Cao Lãnh", "commune_code": "29884",
                                      "requested_at": "2026-10-07T02:47:25+00:00", "overdue_days": 35.1,
                                      "overdue_hours": 842.4}]},
        "cameras": {"state": "fresh", "has_data": True, "total": 2565, "online": 2388, "offline": 157,
                    "online_pct": 93.1, "by_commune": {"30118": {"total": 15, "online": 10, "offline": 5,
                                                                 "online_pct": 66.67}},
                    "offline_cameras": [{"id": "CAM-1", "name": "Camera bến phà", "commune_code": "30118",
                                         "offline_hours": 700.75}], "flapping": []},
        "environment": {"state": "fresh", "has_data": True, "air": [
            {"station_id": "1", "name": "Trạm Cao Lãnh", "lat": 10.46, "lon": 105.63, "current": True, "aqi": 81,
             "hour": NOW.replace(minute=0, second=0).isoformat(), "category": cat_mod, "trend": trend}],
            "water": [{"station_id": "13", "name": "Trạm sông Tiền", "lat": 10.7, "lon": 105.3, "wqi": 44,
                       "category": {"key": "poor", "hex": "#FF0000"}}], "offline": []},
        "procedures": {"state": "fresh", "has_data": True,
                       "this_month": {"province": {"score": 26.1, "max_score": 34.0,
                                                   "indicators": {"2.1": {"value": 69.9}}},
                                      "agency": {"UBND Xã Chợ Gạo": {"counts": {"received": 4, "overdue_unfinished": 1},
                                                                     "score": 12.0, "max_score": 26.0,
                                                                     "indicators": {"2.1": {"value": 0.0}}}},
                                      "commune": {"28249": {"indicators": {"2.1": {"value": 96.0}}, "counts": {}}}},
                       "delta_vs_previous_month": {"score": {"previous": 29.5}}},
        "alerts": {"available": True, "total": 3, "by_severity": {"critical": 1, "warning": 1, "info": 1}, "active": [
            {"key": "station_offline:7", "rule": "station_offline", "severity": "info", "value": 6.1,
             "first_at": (NOW - timedelta(minutes=5)).isoformat(), "details": {"kind": "air"},
             "message": "station X silent for 6.1 h"},
            {"key": "aqi:1", "rule": "aqi", "severity": "critical", "value": 215,
             "first_at": (NOW - timedelta(hours=2)).isoformat(), "details": {"category": "very_bad"},
             "message": "VN_AQI 215 at Trạm Cao Lãnh (Rất xấu)"},
            {"key": "qd766_on_time:province", "rule": "qd766_on_time", "severity": "warning", "value": 69.9,
             "first_at": (NOW - timedelta(minutes=1)).isoformat(), "details": {},
             "message": "QĐ 766 indicator 2.1 this month: 69.9% on time"}]},
    }


@pytest.fixture
def views(redis_url):
    store = LiveStore.from_url(redis_url)
    for s in ("hotline", "cameras", "environment", "procedures"):
        store.set_health(s, health(10, interval=30 if s == "cameras" else 60))
    clock = {"now": NOW}
    rm = ReadModel(store, load_settings(redis_url=redis_url), engine=object(), clock=lambda: clock["now"])
    rm.atlas = FakeAtlas()
    rm.clock_ref = clock
    yield rm
    store.r.close()


def test_tiles_show_the_snapshot_figures_in_vietnamese_formats(views):
    publish.publish(views.store, snapshot(), NOW)
    tiles = {t.key: t for t in views.tiles("vi")}
    assert tiles["hotline"].value == "1.234" and "Đang xử lý 2.345 · quá hạn 3" == tiles["hotline"].sub
    assert tiles["hotline"].delta.text == "+34 so với cả ngày hôm qua (1.200)"
    assert tiles["cameras"].value == "93,1 %" and tiles["cameras"].status == "warn"
    assert tiles["cameras"].status_label == "Dưới mục tiêu 95 %"
    assert tiles["aqi"].value == "81" and tiles["aqi"].status_label == "Trung bình" and tiles["aqi"].colour == "#FFFF00"
    assert tiles["aqi"].delta.text == "+31 so với cùng giờ hôm qua" and tiles["aqi"].delta.tone == "bad"
    assert len(tiles["aqi"].spark) == 24
    assert tiles["qd766"].value == "26,1 / 34" and tiles["qd766"].status_label == "Khá"
    assert tiles["qd766"].delta.text == "−3,4 so với tháng trước"
    assert tiles["alerts"].value == "3" and tiles["alerts"].status == "bad"
    assert all(t.freshness.state == "fresh" and t.freshness.label == "Cập nhật" for t in tiles.values())


def test_a_hung_scheduler_makes_every_figure_stale_with_its_time(views):
    """The fault the issue reports: the scheduler hung 3.5 minutes and the tiles still said "Cập nhật"."""
    publish.publish(views.store, snapshot(), NOW)
    views.clock_ref["now"] = NOW + timedelta(minutes=3, seconds=30)
    for s in ("hotline", "cameras", "environment", "procedures"):  # the connectors still poll
        views.store.set_health(s, health(-200, interval=60))
    tiles = views.tiles("vi")
    assert all(t.freshness.state == "stale" for t in tiles)
    assert {t.freshness.label for t in tiles} == {"Số liệu dừng cập nhật từ 09:40"}
    assert tiles[0].value == "1.234"  # the last figures stay, marked, never blanked
    _badges, figures = views.badges("en")
    assert figures.state == "stale" and figures.label == "Figures not updated since 09:40"
    assert views.versions()["tiles"].split("|")[1] == "stale"


def test_source_badges_say_since_when_a_source_is_late_or_disconnected(views):
    publish.publish(views.store, snapshot(), NOW)
    views.store.set_health("cameras", health(300, interval=30, failures=1))  # 5 min = 10 intervals
    views.store.set_health("environment", health(200, interval=60, failures=4))
    views.store.set_health("hotline", health(170, interval=60))
    badges = {b.source: b.freshness for b in views.badges("vi")[0]}
    assert badges["hotline"].label == "Chậm từ 09:37"
    assert badges["cameras"].label == "Cũ từ 09:35"
    assert badges["environment"].label == "Mất kết nối từ 09:36"
    assert badges["procedures"].label == "Cập nhật"
    tiles = {t.key: t for t in views.tiles("vi")}
    assert tiles["cameras"].freshness.state == "stale" and tiles["qd766"].freshness.current


def test_only_changed_panels_get_new_digests(views):
    assert set(publish.publish(views.store, snapshot(), NOW)) == {"tiles", "alerts", "map", "focus"}
    before = views.versions()
    assert publish.publish(views.store, snapshot(), NOW) == []
    snap = snapshot()
    snap["cameras"]["online"], snap["cameras"]["online_pct"] = 2389, 93.14
    assert publish.publish(views.store, snap, NOW) == ["tiles"]
    after = views.versions()
    assert after["tiles"] != before["tiles"]
    assert after["alerts"] == before["alerts"] and after["map"] == before["map"]


def test_publish_rewrites_everything_after_a_redis_restart(views):
    publish.publish(views.store, snapshot(), NOW)
    views.store.r.flushall()  # what a restarted Redis without persistence holds
    assert views.tiles("vi")[0].freshness.label == "Đang chờ số liệu đầu tiên"
    assert set(publish.publish(views.store, snapshot(), NOW)) == {"tiles", "alerts", "map", "focus"}
    assert views.tiles("vi")[0].value == "1.234"


def test_ticker_is_most_severe_then_newest_first_and_localised(views):
    publish.publish(views.store, snapshot(), NOW)
    vi = views.ticker("vi")
    assert [a.severity for a in vi.items] == ["critical", "warning", "info"]
    assert vi.items[0].text == "VN_AQI 215 (Rất xấu) — Trạm Cao Lãnh" and vi.items[0].icon == "⛔"
    assert vi.items[1].text == "QĐ 766: tỷ lệ giải quyết đúng hạn (2.1) tháng này 69,9 %"
    assert vi.items[0].since == "từ 07:40"
    en = views.ticker("en")
    assert en.items[0].text == "VN_AQI 215 (Very bad) — Trạm Cao Lãnh" and en.items[0].severity_label == "Critical"
    assert en.items[2].text == "Silent for 6.1 h — 7"  # no name known: the id


def test_an_alert_keeps_its_subject_name_once_the_figures_no_longer_list_it(views):
    """A station back on air is no longer in the snapshot's offline list, but its alert stays
    active until the clear is confirmed: the ticker names it as it was raised, not by its id."""
    from ioc.kpi import alerts as al
    from ioc.kpi.orchestrator import conditions

    snap = snapshot()
    snap["environment"]["offline"] = [{"station_id": "7", "name": "Trạm Tháp Mười", "kind": "air",
                                       "hours_since": 6.1, "last_at": (NOW - timedelta(hours=6.1)).isoformat()}]
    states, _ = al.evaluate({}, conditions(snap, NOW), NOW, raise_after=1, clear_after=2, absent="clear")
    snap["environment"]["offline"] = []  # back on air: one clearing round of two
    states, _ = al.evaluate(states, conditions(snap, NOW), NOW, raise_after=1, clear_after=2, absent="clear")
    assert states["station_offline:7"].state == "active"
    snap["alerts"]["active"] = [{"key": k, **st.to_dict()} for k, st in states.items() if k.startswith("station_")]
    publish.publish(views.store, snap, NOW)
    assert [a.text for a in views.ticker("vi").items] == ["Mất tín hiệu 6,1 giờ — Trạm Tháp Mười"]


def test_focus_panels_and_map_name_communes_and_say_what_is_empty(views):
    publish.publish(views.store, snapshot(), NOW)
    overdue = views.focus("hotline_overdue", "vi")
    assert overdue.rows == [["PA1", "Môi trường", "UBND Phường Cao Lãnh", "Phường Cao Lãnh", "35 ngày"]]
    assert overdue.note == "1 trong 3 phản ánh quá hạn"
    cams = views.focus("cameras_offline", "vi")
    assert cams.rows[0][:4] == ["Xã Phong Mỹ", "5", "15", "66,7 %"]
    stations = views.focus("worst_stations", "en")
    assert stations.rows[0][1:] == ["VN_AQI", "81", "Moderate"] and stations.row_colours[0] == "#FFFF00"
    snap = snapshot()
    snap["cameras"]["by_commune"] = {}
    publish.publish(views.store, snap, NOW)
    assert views.focus("cameras_offline", "vi").empty_text == "Mọi camera đều trực tuyến"
    m = views.map_view("hotline_month", "vi", ("air", "tickets"))
    assert m.classes["29884"] == 2 and m.values["29884"] == "7" and m.classes["30118"] == 0  # no ticket = 0, not "no data"
    assert {k.kind for k in m.markers} == {"air", "tickets"}
    q = views.map_view("qd766_on_time", "vi", ("water",))
    assert q.classes == {"28249": 3} and [k.kind for k in q.markers] == ["water"]
    with pytest.raises(ValueError):
        views.map_view("population", "vi")


def test_no_personal_data_reaches_any_view(views):
    snap = snapshot()
    snap["hotline"]["open_overdue"][0] |= {"reporter_name": "Nguyễn Văn A", "reporter_phone": "0912345678",
                                           "address": "12 Lê Lợi, Phường Cao Lãnh"}
    # a camera record as the registry sends it: its stream addresses carry credentials
    snap["cameras"]["offline_cameras"][0] |= {"hls_url": "https://u:pw@vms.local/7.m3u8",
                                              "snapshot_url": "rtsp://admin:Secr3t@10.0.0.7/snap"}
    publish.publish(views.store, snap, NOW)
    blobs = json.dumps([views.store.view(n) for n in facts.PANELS], ensure_ascii=False)
    for secret in ("Nguyễn Văn A", "0912345678", "12 Lê Lợi", "m3u8", "Secr3t", "rtsp://", "vms.local"):
        assert secret not in blobs


def test_redis_down_is_said_not_raised(redis_url):
    store = LiveStore.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    rm = ReadModel(store, load_settings(redis_url="redis://127.0.0.1:1/0"), engine=object(), clock=lambda: NOW)
    rm.atlas = FakeAtlas()
    assert rm.versions() == {"tiles": None, "alerts": None, "map": None, "focus": None, "badges": "store-down"}
    assert rm.tiles("vi")[0].value == "—" and "Redis" in rm.tiles("vi")[0].sub
    badges, figures = rm.badges("vi")
    assert badges == [] and figures.state == "failing"
    assert rm.ticker("vi").items == [] and rm.source_status("vi") is None


def test_no_data_is_a_dash_with_words_never_zero(views):
    snap = copy.deepcopy(snapshot())
    snap["cameras"] = {"state": "unknown", "has_data": False}
    snap["environment"]["air"][0]["current"] = False
    publish.publish(views.store, snap, NOW)
    tiles = {t.key: t for t in views.tiles("vi")}
    assert tiles["cameras"].value == "—" and tiles["cameras"].sub == "Chưa có dữ liệu"
    assert tiles["aqi"].value == "—" and tiles["aqi"].sub == "Chưa trạm nào báo số liệu giờ này"
