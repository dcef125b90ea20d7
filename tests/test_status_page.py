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
