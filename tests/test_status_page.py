"""The status page says plainly when a source is stale, in Vietnamese, with local dates."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from layouts.status import source_card
from ioc.source_health import derive_state

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def text_of(component) -> str:
    children = getattr(component, "children", component)
    if isinstance(children, (list, tuple)):
        return " ".join(text_of(c) for c in children)
    if hasattr(children, "children"):
        return text_of(children)
    return "" if children is None else str(children)


def test_derive_state_ages_a_stored_fresh_into_stale():
    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    h = {"last_success": (now - timedelta(seconds=30)).isoformat(), "interval_seconds": "60", "state": "fresh"}
    assert derive_state(h, now) == "fresh"
    h["last_success"] = (now - timedelta(minutes=4)).isoformat()
    assert derive_state(h, now) == "late"
    h["last_success"] = (now - timedelta(hours=2)).isoformat()
    assert derive_state(h, now) == "stale"  # the stored "fresh" is not trusted
    assert derive_state(h | {"consecutive_failures": "3"}, now) == "failing"
    assert derive_state({}, now) == "unknown"
    assert derive_state({"consecutive_failures": "1"}, now) == "failing"


def test_card_shows_stale_source_in_vietnamese_with_local_time_and_numbers():
    last = datetime.now(timezone.utc) - timedelta(hours=3)
    card = source_card("cameras", {"last_success": last.isoformat(), "interval_seconds": "30",
                                   "records_last_run": "2565", "last_error": "timeout reading …"}, "vi", TZ, 12)
    text = text_of(card)
    assert "state-bad" in card.className
    assert "Camera an ninh" in text and "Cũ — không cập nhật" in text
    assert last.astimezone(TZ).strftime("%d/%m/%Y %H:%M") in text
    assert "2.565" in text and "Bản ghi lỗi bị cách ly" in text and "timeout" in text


def test_card_in_english():
    card = source_card("hotline", {}, "en", TZ)
    assert "No data yet" in text_of(card) and "1022 hotline" in text_of(card)


def _snap(**over):
    snap = {
        "hotline": {"state": "fresh", "has_data": True, "periods": {"today": {"figures": {"received": 1234}}},
                    "backlog": {"open": 23, "open_overdue": 1}},
        "cameras": {"state": "fresh", "has_data": True, "online_pct": 93.06, "online": 2387, "total": 2565,
                    "offline": 160},
        "environment": {"state": "fresh", "has_data": True, "air": [
            {"station_id": "1", "name": "Trạm Cao Lãnh", "current": True, "aqi": 77,
             "category": {"name_vi": "Trung bình", "name_en": "Moderate", "hex": "#FFFF00"}},
            {"station_id": "2", "name": "Trạm Mỹ Tho", "current": True, "aqi": 160,
             "category": {"name_vi": "Xấu", "name_en": "Poor", "hex": "#FF0000"}},
            {"station_id": "3", "name": "Trạm cũ", "current": False, "aqi": None, "last": {"aqi": 300}}]},
        "procedures": {"state": "fresh", "has_data": True, "this_month": {"province": {
            "score": 25.382, "max_score": 34.0, "indicators": {"2.1": {"value": 96.5}}}}},
        "alerts": {"available": True, "total": 3, "by_severity": {"critical": 1, "warning": 1, "info": 1}},
    }
    for k, v in over.items():
        snap[k] = v
    return snap


def test_kpi_tiles_show_the_snapshot_in_vietnamese_number_format():
    from layouts.kpi_tiles import kpi_tiles

    tiles = {t.id: t for t in kpi_tiles(_snap(), "vi")}
    assert "1.234" in text_of(tiles["kpi-hotline"]) and "quá hạn 1" in text_of(tiles["kpi-hotline"])
    assert "93,1 %" in text_of(tiles["kpi-cameras"]) and "2.387/2.565" in text_of(tiles["kpi-cameras"])
    aqi = tiles["kpi-aqi"]
    assert "160" in text_of(aqi) and "Xấu" in text_of(aqi) and "Trạm Mỹ Tho" in text_of(aqi)
    assert "300" not in text_of(aqi)  # a station without a current hour does not count
    assert aqi.children[1].style == {"color": "#FF0000"}  # the official category colour
    assert "25,4 / 34" in text_of(tiles["kpi-qd766"]) and "96,5 %" in text_of(tiles["kpi-qd766"])
    assert "Nghiêm trọng 1" in text_of(tiles["kpi-alerts"])
    assert not any("kpi-stale" in t.className for t in tiles.values())


def test_kpi_tiles_never_show_missing_or_stale_data_as_a_plain_number():
    from layouts.kpi_tiles import kpi_tiles

    snap = _snap(cameras={"state": "stale", "has_data": True, "online_pct": 93.06, "online": 2387, "total": 2565,
                          "offline": 160},
                 environment={"state": "fresh", "has_data": True, "air": [{"station_id": "1", "current": False,
                                                                          "aqi": None}]},
                 procedures={"state": "fresh", "has_data": False, "this_month": {"province": {"score": None}}})
    tiles = {t.id: t for t in kpi_tiles(snap, "en")}
    cams = tiles["kpi-cameras"]
    assert "kpi-stale" in cams.className and "Stale" in text_of(cams)
    for key in ("kpi-aqi", "kpi-qd766"):
        assert tiles[key].children[1].children == "—" and "No data" in text_of(tiles[key])
        assert " 0 " not in f" {text_of(tiles[key])} "
    empty = kpi_tiles(None, "vi")
    assert len(empty) == 1 and "ioc kpi run" in text_of(empty[0])
