"""The leaders' mobile view /m: cards, trends and worst lists from the period figures, in
Vietnamese formats, with traffic lights in words, "—" (never 0) for no data, designed empty,
stale and error states, no personal data; and the PWA files."""

from __future__ import annotations

import json
import re
import struct
from html import unescape as html_unescape
from html.parser import HTMLParser
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ioc.auth.testing import signed_in_client
from ioc.views import mobile as mv
from ioc.views.models import Freshness, SourceBadge
from layouts import mobile as lm

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=timezone.utc)  # 10:00 in Hồ Chí Minh City, a Wednesday
ASSETS = Path(__file__).resolve().parents[2] / "assets"
PERSONAL = ("Nguyễn Văn An", "0912345678", "12 Lê Lợi", "an@example.com")


@pytest.fixture(autouse=True)
def _fresh_cache():
    mv.clear_cache()
    yield
    mv.clear_cache()


class FakeAtlas:
    def names(self):
        return {"29884": "Phường Cao Lãnh", "28249": "Phường Mỹ Tho", "30118": "Xã Phong Mỹ"}


class FakeViews:
    """What ioc.views.mobile needs of a ReadModel, without Redis or SQL."""

    def __init__(self, states: dict[str, Freshness] | None = None) -> None:
        self.store = None
        self.settings = None
        self.tz = TZ
        self.atlas = FakeAtlas()
        self.states = states or {}

    def clock(self):
        return NOW

    def engine(self):
        return object()

    def badges(self, lang):
        fresh = Freshness(state="fresh", label="Cập nhật")
        return ([SourceBadge(source=s, name=s, freshness=self.states.get(s, fresh))
                 for s in ("hotline", "cameras", "environment", "procedures")], fresh)


def hotline_commune(received, late, overdue, on_time):
    return {"received": received, "late": late, "overdue": overdue, "on_time_pct": on_time,
            # what a careless upstream might add: must never reach the screen
            "reporter_name": PERSONAL[0], "phone": PERSONAL[1], "address": PERSONAL[2], "email": PERSONAL[3]}


def week_figures() -> dict:
    """A week's period_figures result (the shape of docs/kpis.md § 10), by hand."""
    return {
        "period": {"kind": "week", "as_of": NOW.isoformat(), "complete": False},
        "hotline": {
            "has_data": True,
            "figures": {"received": 1234, "overdue": 3, "late": 5, "in_progress": 40, "on_time_pct": 87.5,
                        "answered_pct": 96.76},
            "previous": {"received": 1200},
            "by": {"commune": {"29884": hotline_commune(10, 0, 0, 100.0), "28249": hotline_commune(30, 4, 3, 60.0),
                               "30118": hotline_commune(5, 1, 0, 80.0), "99999": hotline_commune(2, 0, 0, None)}},
        },
        "cameras": {"has_data": True, "figures": {"availability_pct": 93.06, "offline_events": 1520},
                    "previous": {"availability_pct": 94.56},
                    "by_commune": {"29884": 99.5, "28249": 71.26, "30118": 91.0, "00000": None}},
        "environment": {
            "has_data": True,
            "figures": {"max_daily_aqi": 160, "mean_daily_aqi": 62.44, "station_days_aqi_over_100": 2},
            "previous": {"max_daily_aqi": 110},
            "daily_aqi": {
                "A1": {"name": "Trạm Cao Lãnh", "days": {"2026-05-18": {"aqi": 77}, "2026-05-19": {"aqi": 160}}},
                "A2": {"name": "Trạm Mỹ Tho", "days": {"2026-05-19": {"aqi": 45}, "2026-05-20": {"aqi": None}}},
            },
        },
        "procedures": {
            "has_data": True,
            "province": {"score": 25.382, "max_score": 34.0, "counts": {"received": 1500, "overdue_unfinished": 12},
                         "indicators": {"2.1": {"value": 96.5}}},
            "previous": {"province": {"score": 26.0}},
            "agency": {
                "Sở Tư pháp": {"score": 28.2, "max_score": 34.0, "counts": {"received": 50, "finished": 40}},
                "Sở Xây dựng": {"score": 17.0, "max_score": 34.0, "counts": {"received": 20, "finished": 10}},
                "UBND Xã Nhỏ": {"score": 0.0, "max_score": 10.0, "counts": {"received": 1, "finished": 0}},
            },
        },
    }


def empty_figures() -> dict:
    return {"period": {"kind": "day", "as_of": NOW.isoformat(), "complete": False},
            "hotline": {"has_data": False, "figures": {"received": None}, "previous": {"received": None}},
            "cameras": {"has_data": False, "figures": {"availability_pct": None}},
            "environment": {"has_data": True, "figures": {"max_daily_aqi": None}, "daily_aqi": {}},
            "procedures": {"has_data": False, "province": {"score": None, "max_score": 34.0}}}


def fake(result: dict, daily: dict[date, dict] | None = None):
    """A period_figures stand-in: ``result`` for the period asked, ``daily`` for day queries."""
    calls = []

    def period_figures(engine, kind, *, date=None, tz=None, now=None, store=None, domains=None):
        calls.append((kind, date, domains))
        if kind == "day" and daily is not None:
            return daily.get(date, {"hotline": {"has_data": True, "figures": {"received": None}}})
        return result

    period_figures.calls = calls
    return period_figures


def text_of(component) -> str:
    """Every string a component tree shows, including attributes like alt and title."""
    if component is None:
        return ""
    if isinstance(component, (list, tuple)):
        return " ".join(text_of(c) for c in component)
    if isinstance(component, str | int | float):
        return str(component)
    parts = [text_of(getattr(component, "children", None))]
    for attr in ("alt", "title", "src"):
        parts.append(str(getattr(component, attr, "") or ""))
    return " ".join(parts)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)

    def handle_starttag(self, tag, attrs):
        self.parts += [v for k, v in attrs if k in ("alt", "title") and v]


def html_text(markup: str) -> str:
    """What an HTML text shows (with alt and title attributes), entities decoded."""
    parser = _Text()
    parser.feed(markup)
    return " ".join(parser.parts)


def by_key(view):
    return {c.key: c for c in view.cards}


# --- cards --------------------------------------------------------------------------------------


def test_week_cards_in_vietnamese_formats_with_lights_in_words():
    view = mv.cards(FakeViews(), "week", "vi", figures=fake(week_figures()))
    assert view.error is None
    assert view.period_label == "7 ngày 14/05 – 20/05/2026 · số liệu đến 20/05/2026 10:00"
    assert view.updated == "Cập nhật lúc 20/05/2026 10:00"
    c = by_key(view)

    h = c["hotline"]
    assert (h.value, h.status) == ("1.234", "warn")
    assert h.status_label == "Trả lời đúng hạn 87,5 % — Dưới mục tiêu 90 %"
    assert h.delta.text == "+34 so với 7 ngày trước đó"
    assert h.sub == "Quá hạn chưa trả lời 3 · Đang xử lý 40"
    assert ("Đã trả lời", "96,8 %") in h.facts

    cam = c["cameras"]
    assert (cam.value, cam.status, cam.status_label) == ("93,1 %", "warn", "Dưới mục tiêu 95 %")
    assert cam.delta.text == "−1,5 điểm % so với 7 ngày trước đó" and cam.delta.tone == "bad"
    assert cam.sub == "Số lần mất kết nối 1.520"

    air = c["aqi"]
    assert (air.value, air.status, air.status_label, air.colour) == ("160", "bad", "Xấu", "#FF0000")
    assert air.delta.text == "+50 so với 7 ngày trước đó" and air.delta.tone == "bad"
    assert air.sub == "Trạm Cao Lãnh, ngày 19/05"
    assert ("VN_AQI ngày trung bình", "62,4") in air.facts

    q = c["qd766"]
    assert (q.value, q.status) == ("25,4 / 34", "warn")
    assert q.status_label == "Khá — Dưới mục tiêu 80 %"  # 74,7 of 100
    assert q.delta.text == "−0,6 so với 7 ngày trước đó"


def test_worst_lists_name_communes_stations_and_agencies():
    c = by_key(mv.cards(FakeViews(), "week", "vi", figures=fake(week_figures())))
    rows = [(r.name, r.value, r.status) for r in c["hotline"].worst]
    assert rows[0] == ("Phường Mỹ Tho", "4 trễ hạn / 30 phản ánh", "bad")
    assert rows[1] == ("Xã Phong Mỹ", "1 trễ hạn / 5 phản ánh", "warn")
    assert "99999" in [r.name for r in c["hotline"].worst]  # a code not in the atlas stays a code
    assert [(r.name, r.value) for r in c["cameras"].worst] == [
        ("Phường Mỹ Tho", "71,3 %"), ("Xã Phong Mỹ", "91,0 %"), ("Phường Cao Lãnh", "99,5 %")]
    assert [r.status for r in c["cameras"].worst] == ["bad", "warn", "ok"]
    assert [(r.name, r.value) for r in c["aqi"].worst] == [("Trạm Cao Lãnh", "160 — Xấu (19/05)"),
                                                           ("Trạm Mỹ Tho", "45 — Tốt (19/05)")]
    # an agency with one dossier is not ranked among the worst by chance
    assert [r.name for r in c["qd766"].worst] == ["Sở Xây dựng", "Sở Tư pháp"]
    assert c["qd766"].worst[0].value == "17,0 / 34 — Trung bình"
    assert "từ 5 hồ sơ" in c["qd766"].worst_note


def test_english():
    c = by_key(mv.cards(FakeViews(), "week", "en", figures=fake(week_figures())))
    assert c["hotline"].value == "1,234" and c["hotline"].status_label.endswith("Below target (90 %)")
    assert c["cameras"].delta.text == "−1.5 pts vs the 7 days before"
    assert c["aqi"].status_label == "Bad"


def test_day_and_month_compare_with_the_whole_previous_period():
    res = week_figures()
    assert mv.cards(FakeViews(), "day", "vi", figures=fake(res)).cards[0].delta.text == "+34 so với cả ngày hôm qua"
    month = mv.cards(FakeViews(), "month", "vi", figures=fake(res))
    assert month.cards[0].delta.text == "+34 so với cả tháng trước"
    assert month.period_label.startswith("Tháng 05/2026")


def test_no_data_is_a_dash_with_words_never_zero():
    view = mv.cards(FakeViews(), "day", "vi", figures=fake(empty_figures()))
    for card in view.cards:
        assert card.value == "—" and not card.has_value and card.status == "none"
        assert card.delta is None and card.delta_empty
        assert card.status_label  # always words
        assert card.worst == [] and card.worst_note
    c = by_key(view)
    assert c["hotline"].status_label == "Chưa có dữ liệu"
    assert c["aqi"].status_label == "Chưa trạm nào đủ số liệu để tính VN_AQI ngày"
    summary = text_of([lm.summary(card, "vi") for card in view.cards])
    assert not re.search(r"(?<![\d,.])0(?![\d,.])", summary)  # no bare 0 standing in for "no data"


def test_missing_previous_period_gives_words_not_a_fake_change():
    res = week_figures()
    res["hotline"]["previous"] = {"received": None}
    h = mv.cards(FakeViews(), "week", "vi", figures=fake(res)).cards[0]
    assert h.delta is None and h.delta_empty.startswith("Chưa so sánh được")


def test_database_error_is_said_once_in_words():
    def broken(*_a, **_k):
        raise RuntimeError("database is locked")

    view = mv.cards(FakeViews(), "day", "vi", figures=broken)
    assert view.error.startswith("Không đọc được số liệu lúc này")
    assert all(c.value == "—" and c.status_label == "Không đọc được số liệu" for c in view.cards)
    shown = html_text(lm.page_html(view, None, "vi", chosen=False))
    assert "Không đọc được số liệu lúc này" in shown
    assert "database is locked" not in shown and "Traceback" not in shown
    trends = mv.trends(FakeViews(), "day", "vi", figures=broken)
    assert all(tr.svg == "" and tr.empty_text.startswith("Không đọc được xu hướng") for tr in trends.values())


def test_a_stale_source_is_said_on_its_card():
    stale = Freshness(state="stale", label="Cũ từ 09:40", since=NOW - timedelta(minutes=20))
    view = mv.cards(FakeViews({"cameras": stale}), "day", "vi", figures=fake(week_figures()))
    out = lm.render(view, "vi")
    assert "m-stale" in out["m-card-cameras"]["class"] and "m-stale" not in out["m-card-hotline"]["class"]
    assert "◑ Cũ từ 09:40" in html_text(out["m-sum-cameras"]["html"])
    assert "Cũ từ" not in html_text(out["m-sum-hotline"]["html"])


def test_figures_are_cached_per_period_and_day():
    fn = fake(week_figures())
    views = FakeViews()
    mv.cards(views, "week", "vi", figures=fn)
    mv.cards(views, "week", "en", figures=fn)
    mv.cards(views, "day", "vi", figures=fn)
    assert [c[0] for c in fn.calls] == ["week", "day"]
    assert fn.calls[0][1] == date(2026, 5, 20)  # the local date, not the UTC one


def test_unknown_period_is_refused():
    with pytest.raises(ValueError, match="unknown period"):
        mv.cards(FakeViews(), "year", "vi", figures=fake(week_figures()))


# --- trends -------------------------------------------------------------------------------------


def daily_results() -> dict[date, dict]:
    out = {}
    for i, d in enumerate(date(2026, 5, 14) + timedelta(days=k) for k in range(7)):
        out[d] = {"hotline": {"has_data": True, "figures": {"received": 100 + i}},
                  "cameras": {"has_data": True, "figures": {"availability_pct": 90.0 + i if i != 3 else None}},
                  "procedures": {"has_data": True, "province": {"score": 27.2, "max_score": 34.0}}}
    return out


def test_trend_days():
    assert mv.trend_days("day", date(2026, 5, 20))[0] == date(2026, 5, 14)
    assert len(mv.trend_days("week", date(2026, 5, 20))) == 7
    assert mv.trend_days("month", date(2026, 5, 20)) == [date(2026, 5, d) for d in range(1, 21)]


def test_trends_draw_daily_bars_and_say_what_they_show():
    fn = fake(week_figures(), daily_results())
    trends = mv.trends(FakeViews(), "week", "vi", figures=fn)
    h = trends["hotline"]
    assert h.label == "Phản ánh tiếp nhận mỗi ngày — từng ngày trong 7 ngày"
    assert h.svg.count("<rect") == 7
    assert h.summary == "Cao nhất 106 (20/05) · thấp nhất 100 (14/05)"
    cam = trends["cameras"]
    assert cam.svg.count("<rect") == 6 and ">–</text>" in cam.svg  # the day without data: a dash, no bar
    assert cam.summary.endswith("1 ngày không có số liệu (–)")
    assert "96,0 %" in cam.summary and "mục tiêu 95 %" in cam.label
    assert trends["qd766"].summary.startswith("Cao nhất 80,0")  # 27,2 of 34 on a scale of 100
    air = trends["aqi"]  # from the week query's daily VN_AQI: the highest station each day
    assert air.svg.count("<rect") == 2 and 'fill="#FF0000"' in air.svg and 'fill="#FFFF00"' in air.svg
    assert air.summary.startswith("Cao nhất 160 (19/05) · thấp nhất 77 (18/05)")
    day_calls = [c for c in fn.calls if c[0] == "day"]
    assert len(day_calls) == 7 and all(c[2] == mv.TREND_DOMAINS for c in day_calls)


def test_trend_without_any_daily_value_says_so():
    trends = mv.trends(FakeViews(), "day", "vi", figures=fake(empty_figures(), {}))
    assert trends["hotline"].svg == "" and trends["hotline"].empty_text == "Chưa có số liệu theo ngày cho kỳ này"
    rendered = text_of(lm.trend(trends["hotline"]))
    assert "Chưa có số liệu theo ngày" in rendered


# --- rendering ----------------------------------------------------------------------------------


def test_rendered_page_has_no_personal_data():
    views = FakeViews()
    fn = fake(week_figures(), daily_results())
    page = lm.page_html(mv.cards(views, "week", "vi", figures=fn), mv.trends(views, "week", "vi", figures=fn), "vi",
                        chosen=False)
    shown = html_text(page) + page
    assert "Phường Mỹ Tho" in shown and "1.234" in shown
    for value in PERSONAL:
        assert value not in shown


def week_page(lang="vi", trends=True, **kw) -> str:
    fn = fake(week_figures(), daily_results())
    views = FakeViews()
    return lm.page_html(mv.cards(views, "week", lang, figures=fn),
                        mv.trends(views, "week", lang, figures=fn) if trends else None, lang, **{"chosen": False, **kw})


def test_page_carries_the_figures_and_works_without_javascript():
    page = week_page()
    shown = html_text(page)
    assert page.startswith('<!DOCTYPE html><html lang="vi">')
    # the four cards, each a <details>: one tap to its trend and worst list, no script needed
    assert re.findall(r'<details id="m-card-(\w+)" class="m-card status-(\w+)', page) == [
        ("hotline", "warn"), ("cameras", "warn"), ("aqi", "bad"), ("qd766", "warn")]
    assert "1.234" in shown and "Trả lời đúng hạn 87,5 % — Dưới mục tiêu 90 %" in shown
    assert "+34 so với 7 ngày trước đó" in shown and "Phường Mỹ Tho" in shown
    assert page.count('class="m-chart" src="data:image/svg+xml') == 4 and 'data-pending="1"' not in page
    # the switches are links: the period (the current one marked) and the language, each keeping the other
    assert re.findall(r'<a href="\?p=(\w+)&amp;lang=vi"( aria-current="page")?>(\w+)</a>', page) == [
        ("day", "", "Ngày"), ("week", ' aria-current="page"', "Tuần"), ("month", "", "Tháng")]
    assert '<a id="m-lang" class="m-lang" href="?p=week&amp;lang=en" hreflang="en" lang="en">English</a>' in page
    assert '<a id="m-status-link" class="m-status-link" href="/">' in page  # the status page: a page load
    # no framework: two stylesheets, the icon, the manifest and one inline script
    assert "<script src" not in page and "_dash" not in page and "plotly" not in page.lower()
    assert re.findall(r'<link rel="(\w+)" href="([^"]+)"', page) == [
        ("icon", "/assets/favicon.ico"), ("manifest", "/manifest.webmanifest"),
        ("stylesheet", "/assets/base.css"), ("stylesheet", "/assets/mobile.css")]
    assert page.count("<script>") == 1 and lm.SCRIPT in page


def test_page_in_english_and_its_script_settings():
    page = week_page("en", chosen=True)
    assert page.startswith('<!DOCTYPE html><html lang="en">') and "1,234" in html_text(page)
    assert ">Tiếng Việt</a>" in page and '?p=day&amp;lang=en">Day</a>' in page
    config = json.loads(html_unescape(re.search(r'data-m="([^"]+)"', page).group(1)))
    assert config == {"period": "week", "lang": "en", "chosen": True, "refresh": lm.REFRESH_MS,
                      "offline": "Server unreachable since {since} — reconnecting; figures below may be out of date"}


def test_page_without_trends_asks_for_them():
    page = week_page(trends=False)
    assert page.count('class="m-trend" data-pending="1">Đang tải… · Loading…</div>') == 4
    assert "1.234" in html_text(page)  # the figures do not wait for the trends


def test_parts_are_the_pages_pieces_by_id():
    fn = fake(week_figures(), daily_results())
    view = mv.cards(FakeViews(), "week", "vi", figures=fn)
    trends = mv.trends(FakeViews(), "week", "vi", figures=fn)
    page = lm.page_html(view, trends, "vi", chosen=False)
    parts = {**lm.render(view, "vi"), **lm.render_trends(trends)}
    for cid, part in parts.items():  # every piece lands on an element of the page, as the page has it
        if "html" in part:
            assert re.search(f'id="{cid}"[^>]*>' + re.escape(part["html"]), page), cid
        if "class" in part:
            assert f'id="{cid}" class="{part["class"]}"' in page, cid
    assert {f"m-{p}-{k}" for k in mv.CARD_KEYS for p in ("card", "sum", "detail", "trend")} <= set(parts)


def test_to_html_escapes_and_writes_attributes():
    from dash import dcc, html

    tree = html.Div([html.Span("<b>Xã A & B</b>", className="x", **{"aria-hidden": "true"}), None,
                     html.Img(src="data:x?a=1&b=2", alt='say "hi"'), 12, html.Details(open=True),
                     html.Span("tím", style={"color": "#8F3F97", "fontWeight": 700})], id="m-x")
    assert lm.to_html(tree) == (
        '<div id="m-x"><span class="x" aria-hidden="true">&lt;b&gt;Xã A &amp; B&lt;/b&gt;</span>'
        '<img alt="say &quot;hi&quot;" src="data:x?a=1&amp;b=2">12<details open></details>'
        '<span style="color:#8F3F97;font-weight:700">tím</span></div>')
    with pytest.raises(TypeError):
        lm.to_html(dcc.Store(id="s"))  # only html components have an HTML form


def test_dash_page_at_m_only_loads_the_servers_page():
    page = lm.layout()
    assert page.id == "m-reload" and page.children.href == "/m"


# --- what the app sends to a phone ---------------------------------------------------------------


@pytest.fixture
def client(sqlite_url, redis_url, tmp_path, monkeypatch):
    from ioc.settings import load_settings
    from ioc.web.app import create_app

    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path))
    app = create_app(load_settings(redis_url=redis_url, database_url=sqlite_url))
    assert "m-reload.title" in app.callback_map  # a client-side navigation to /m loads the page
    return signed_in_client(app, "leader")


def test_m_is_a_plain_page_compressed_and_never_cached(client):
    res = client.get("/m", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert res.status_code == 200 and res.mimetype == "text/html" and res.headers["Cache-Control"] == "no-store"
    assert res.headers["Content-Encoding"] in ("br", "zstd", "gzip")
    page = client.get("/m").get_data(as_text=True)
    assert "<script src" not in page and "_dash-component-suites" not in page and "react-entry-point" not in page
    links = re.findall(r'<link rel="\w+" href="([^"]+)"', page)
    assert [u.split("?")[0] for u in links] == ["/assets/favicon.ico", "/manifest.webmanifest", "/assets/base.css",
                                               "/assets/mobile.css"]
    assert all(re.search(r"\?m=\d+$", u) for u in links if u.startswith("/assets/"))  # versioned: cacheable
    for url in links:
        assert client.get(url).status_code == 200, url
    # an empty database: "—" and words on every card, never a blank card or a 0
    assert page.count('<span class="m-value">—</span>') == 4 and "Chưa có dữ liệu" in html_text(page)
    assert client.get("/m/").status_code == 200


def test_switches_keep_the_phones_choice(client):
    res = client.get("/m?p=week&lang=en")
    cookies = {c.split("=")[0]: c.split(";")[0].split("=")[1] for c in res.headers.getlist("Set-Cookie")}
    assert cookies == {"ioc_m_period": "week", "ioc_lang": "en"}
    assert 'lang="en"' in res.get_data(as_text=True)[:40] and "7 days" in html_text(res.get_data(as_text=True))
    again = client.get("/m").get_data(as_text=True)  # the test client sends the cookies back
    assert again.startswith('<!DOCTYPE html><html lang="en">') and '?p=week&amp;lang=en" aria-current="page"' in again
    assert not client.get("/m").headers.getlist("Set-Cookie")  # nothing chosen: nothing set
    client.set_cookie("ioc_lang", "fr")
    client.set_cookie("ioc_m_period", "year")
    odd = client.get("/m").get_data(as_text=True)
    assert odd.startswith('<!DOCTYPE html><html lang="vi">') and '?p=day&amp;lang=vi" aria-current="page"' in odd


def test_parts_endpoint(client):
    res = client.get("/m/parts?p=month&lang=en")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    parts = res.json
    assert {"m-period-label", "m-banner", "m-updated", "m-card-qd766", "m-sum-aqi", "m-trend-hotline"} <= set(parts)
    assert parts["m-period-label"]["html"].startswith("Month ")
    trends = client.get("/m/parts?p=day&lang=vi&what=trends").json
    assert set(trends) == {f"m-trend-{k}" for k in mv.CARD_KEYS}
    assert "Chưa có số liệu theo ngày" in html_text(trends["m-trend-hotline"]["html"])


def test_cached_trends_only_once_computed():
    fn = fake(week_figures(), daily_results())
    assert mv.cached_trends(FakeViews(), "week", "vi", figures=fn) is None
    computed = mv.trends(FakeViews(), "week", "vi", figures=fn)
    assert mv.cached_trends(FakeViews(), "week", "vi", figures=fn) == computed
    assert mv.cached_trends(FakeViews(), "week", "en", figures=fn)["hotline"].label.startswith("Requests received")
    calls = len(fn.calls)
    mv.cached_trends(FakeViews(), "week", "vi", figures=fn)
    assert len(fn.calls) == calls  # a look into the cache never queries


def test_trend_is_an_inline_svg_image():
    tr = mv.trends(FakeViews(), "week", "vi", figures=fake(week_figures(), daily_results()))["hotline"]
    img = lm.trend(tr)[1]
    assert img.src.startswith("data:image/svg+xml;utf8,%3Csvg") and tr.summary in img.alt


# --- against the real period queries: an empty database -------------------------------------------


def test_empty_database_through_the_real_read_model(sqlite_url, redis_url):
    from ioc.db.session import make_engine
    from ioc.live_store import LiveStore
    from ioc.settings import load_settings
    from ioc.views.read import ReadModel

    eng = make_engine(sqlite_url)
    store = LiveStore.from_url(redis_url)
    rm = ReadModel(store, load_settings(redis_url=redis_url), engine=eng, clock=lambda: NOW)
    rm.atlas = FakeAtlas()
    try:
        view = mv.cards(rm, "month", "vi")
        assert view.error is None
        for card in view.cards:
            assert card.value == "—" and card.status_label and card.freshness.state == "unknown"
        trends = mv.trends(rm, "month", "vi")
        assert {k: tr.svg for k, tr in trends.items()} == {k: "" for k in mv.CARD_KEYS}
    finally:
        store.r.close()
        eng.dispose()


# --- the PWA files ------------------------------------------------------------------------------


def test_favicon_is_small_and_a_real_icon():
    ico = (ASSETS / "favicon.ico").read_bytes()
    assert struct.unpack("<HHH", ico[:6]) == (0, 1, 1) and ico[22:30] == b"\x89PNG\r\n\x1a\n"
    assert len(ico) < 2048  # Dash's own favicon: 15 KiB


def test_manifest_and_icons():
    m = json.loads((ASSETS / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert (m["name"], m["start_url"], m["display"], m["theme_color"]) == ("IOC Đồng Tháp", "/m", "standalone",
                                                                           "#0f1623")
    sizes = set()
    for icon in m["icons"]:
        png = (ASSETS / icon["src"].removeprefix("/assets/")).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and icon["type"] == "image/png"
        w, h = struct.unpack(">II", png[16:24])
        assert icon["sizes"] == f"{w}x{h}"
        sizes.add(w)
    assert sizes == {192, 512}


def test_service_worker_never_caches_data():
    sw = (ASSETS / "sw.js").read_text(encoding="utf-8")
    # the only responses it answers itself are GETs of /assets/ on this origin
    assert 'url.pathname.startsWith("/assets/")' in sw and 'req.method !== "GET"' in sw
    assert sw.count("respondWith") == 1 and "_dash" not in sw.replace("/_dash-*", "")
    assert 'register("/sw.js", {scope: "/"})' in lm.SCRIPT  # by /m's own script, on /m only
    assert not (ASSETS / "pwa.js").exists()  # Dash pages never show /m themselves any more
