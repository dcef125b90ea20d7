"""The status page says plainly when a source is stale, in Vietnamese, with local dates."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ioc.live_store import LiveStore
from ioc.settings import load_settings
from ioc.source_health import derive_state
from ioc.views.models import Freshness, Tile
from ioc.views.read import ReadModel
from layouts.components import sparkline_svg, tile
from layouts.status import source_card

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


def _views(redis_url, healths, quarantine=None):
    store = LiveStore.from_url(redis_url)
    for source, h in healths.items():
        store.set_health(source, h)
    if quarantine:
        store.count_quarantined(quarantine)
    return ReadModel(store, load_settings(redis_url=redis_url), engine=object())


def test_card_shows_stale_source_in_vietnamese_with_local_time_and_numbers(redis_url):
    last = datetime.now(timezone.utc) - timedelta(hours=3)
    views = _views(redis_url, {"cameras": {"last_success": last.isoformat(), "interval_seconds": "30",
                                           "records_last_run": "2565", "last_error": "timeout reading …"}},
                   {("cameras", "bad_status"): 12})
    card = source_card(next(s for s in views.source_status("vi") if s.source == "cameras"), "vi")
    text = text_of(card)
    assert "state-bad" in card.className
    assert "Camera an ninh" in text and f"Cũ từ {last.astimezone(TZ).strftime('%H:%M')}" in text
    assert last.astimezone(TZ).strftime("%d/%m/%Y %H:%M") in text
    assert "2.565" in text and "Bản ghi lỗi bị cách ly" in text and "12" in text and "timeout" in text


def test_card_in_english(redis_url):
    views = _views(redis_url, {})
    card = source_card(views.source_status("en")[0], "en")
    assert "No data yet" in text_of(card) and "1022 hotline" in text_of(card)


def test_tile_component_carries_colour_words_and_staleness():
    fresh = Freshness(state="fresh", label="Cập nhật")
    aqi = tile(Tile(key="aqi", title="VN_AQI", value="160", has_value=True, sub="Trạm Mỹ Tho", status="bad",
                    status_label="Xấu", colour="#FF0000", spark=[50, 80, None, 160], spark_label="24 giờ qua",
                    freshness=fresh), "kpi")
    assert aqi.id == "kpi-aqi" and "tile-bad" in aqi.className and "tile-stale" not in aqi.className
    assert aqi.children[1].style == {"color": "#FF0000"}  # the official category colour …
    assert "✖" in text_of(aqi) and "Xấu" in text_of(aqi)  # … and its words and symbol
    stale = tile(Tile(key="cameras", title="Camera", value="93,1 %", has_value=True, sub="",
                      freshness=Freshness(state="stale", label="Cũ từ 09:40")), "kpi")
    assert "tile-stale" in stale.className and "Cũ từ 09:40" in text_of(stale)


def test_sparkline_draws_gaps_and_needs_two_points():
    assert sparkline_svg([1.0]) == ""
    svg = sparkline_svg([1, 2, None, 3, 4])
    assert svg.count("<polyline") == 2 and "<circle" in svg
