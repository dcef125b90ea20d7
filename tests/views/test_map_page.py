"""The sector map page /map as plain functions of the map's read model (no browser, no server):
the URL query read and written back, the layers' and exports' URLs, clicks, the sector switch,
legends with words beside every colour, the ranking, the station charts, the panels' empty,
refused and error states; the page's strings, script and stylesheet."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from dash import no_update

from ioc.i18n import STRINGS
from ioc.views import mapdata as md
from layouts import map as pm
from layouts import map_details as pd
from layouts import map_layers as pl
from layouts import map_legend as pg
from layouts import map_panel as pp
from layouts import map_state as ps

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)  # 10:00 in Hồ Chí Minh City
ASSETS = Path(__file__).resolve().parents[2] / "assets"
NAMES = {"29884": "Phường Cao Lãnh", "28249": "Phường Mỹ Tho", "30118": "Xã Phong Mỹ", "28615": "Xã Lương Hòa Lạc"}


class FakeAtlas:
    def names(self):
        return NAMES


class FakeViews:
    """What the page needs of a ReadModel, without Redis or SQL."""

    tz = TZ
    atlas = FakeAtlas()
    settings = None

    def clock(self):
        return NOW


@pytest.fixture
def views():
    return FakeViews()


def text_of(component) -> str:
    if isinstance(component, (list, tuple)):
        return " ".join(text_of(c) for c in component)
    children = getattr(component, "children", component)
    if children is component:
        return "" if component is None else str(component)
    return text_of(children)


def ids_of(component, out=None) -> list:
    out = [] if out is None else out
    if isinstance(component, (list, tuple)):
        for c in component:
            ids_of(c, out)
        return out
    if getattr(component, "id", None) is not None:
        out.append(component.id)
    children = getattr(component, "children", None)
    if children is not None and not isinstance(children, str):
        ids_of(children, out)
    return out


# --- the URL query ------------------------------------------------------------------------------


def test_a_link_says_the_whole_view(views):
    st = ps.parse_state(views, {"start": "2026-11-01", "end": "2026-11-30", "service": "MOITRUONG,ANTT",
                                "status": "overdue", "commune": "29884", "metric": "qd766_on_time",
                                "layers": "communes,tickets", "z": "11.5", "lat": "10.45", "lon": "105.63",
                                "sel": "station:13", "list": "dossiers_overdue", "q": "PA26", "range": "7d"})
    assert st["refused"] == []
    assert st["filters"] == {"start": "2026-11-01", "end": "2026-11-30", "service": "MOITRUONG,ANTT",
                             "status": "overdue", "commune": "29884"}
    assert (st["metric"], st["layers"], st["view"]) == ("qd766_on_time", ["communes", "tickets"],
                                                        {"zoom": 11.5, "center": [10.45, 105.63]})
    assert (st["sel"], st["list"], st["query"], st["range"]) == ({"kind": "station", "id": "13"}, "dossiers_overdue",
                                                                 "PA26", "7d")
    assert st["service"] == ["MOITRUONG", "ANTT"] and st["commune"] == "29884"


def test_an_empty_link_opens_the_default_view_with_its_dates_written_out(views):
    st = ps.parse_state(views, {})
    # the last 30 local days: a copied link keeps showing those days tomorrow
    assert st["filters"] == {"start": "2026-11-03", "end": "2026-12-02"}
    assert st["layers"] == ["communes", "tickets"] and st["metric"] == md.SECTOR_DEFAULTS["all"]["metric"]
    assert st["view"] is None and st["sel"] is None and st["refused"] == []


def test_a_sector_link_opens_its_layers_indicator_and_list(views):
    st = ps.parse_state(views, {"sector": "security"})
    assert st["layers"] == ["communes", *md.SECTOR_DEFAULTS["security"]["layers"]]
    assert st["metric"] == md.SECTOR_DEFAULTS["security"]["metric"] and st["list"] == "cameras_offline"


def test_bad_link_values_fall_back_one_by_one_and_are_named(views):
    st = ps.parse_state(views, {"start": "2026-13-01", "status": "weird", "commune": "99999", "metric": "nope",
                                "layers": "communes,xyz", "z": "abc", "sel": "foo", "list": "x", "service": "ANTT"})
    assert set(st["refused"]) == {"start", "status", "commune", "metric", "layers", "z/lat/lon", "sel", "list"}
    assert st["filters"]["service"] == "ANTT" and "commune" not in st["filters"]  # the good value stays
    assert st["layers"] == ["communes"] and st["metric"] in ps.METRICS
    notice = pm.refused_notice(st["refused"], "vi")
    assert "không hợp lệ" in text_of(notice) and "metric" in text_of(notice)


def test_layer_urls_leave_the_selected_commune_out_and_exports_keep_everything():
    filters = {"start": "2026-11-01", "end": "2026-11-30", "status": "closed", "commune": "29884",
               "service": "MOITRUONG,ANTT"}
    urls = ps.layer_urls(filters, "en")
    assert urls["density"] == ("/api/map/density.json?start=2026-11-01&end=2026-11-30&status=closed"
                               "&service=MOITRUONG,ANTT&lang=en")
    assert "commune" not in urls["cameras"]
    assert urls["stations"] == "/api/map/stations.json?lang=en"
    ex = ps.export_urls(filters, "tickets", [{"column_id": "received", "direction": "desc"}], " PA 26 ", "vi")
    q = parse_qs(urlsplit(ex["csv"]).query)
    assert urlsplit(ex["csv"]).path == "/api/map/export.csv" and urlsplit(ex["xlsx"]).path == "/api/map/export.xlsx"
    assert {k: v[0] for k, v in q.items()} == {**filters, "kind": "tickets", "sort": "received", "desc": "true",
                                               "query": "PA 26", "lang": "vi"}


# --- callbacks' answers ---------------------------------------------------------------------------


def test_clicks_select_communes_and_objects_never_clusters():
    commune = {"type": "Feature", "properties": {"code": "29884", "name": "Phường Cao Lãnh"}}
    assert pp.click_target("map-communes", {"map-communes": commune}) == ("29884", None)
    cluster = {"properties": {"cluster": True, "cluster_id": 7, "point_count": 40}}
    assert pp.click_target("map-tickets", {"map-tickets": cluster}) == (no_update, no_update)
    # a ticket point carries its row id; the selection (panel, link) names the ticket by its own id
    rows = {41: "PA1"}

    def ref(row):
        if row not in rows:
            raise md.NotFound(f"ticket row {row} not found")
        return rows[row]

    point = {"properties": {"id": 41, "cat": "ANTT", "st": "open"}}
    assert pp.click_target("map-tickets", {"map-tickets": point}, ticket_ref=ref) == \
        (no_update, {"kind": "ticket", "id": "PA1"})
    # gone since the points were loaded: selected all the same, so that the panel says it is gone
    assert pp.click_target("map-tickets", {"map-tickets": {"properties": {"id": 7}}}, ticket_ref=ref) == \
        (no_update, {"kind": "ticket", "id": "row 7"})
    assert pp.click_target("map-stations", {"map-stations": {"properties": {"id": 13}}})[1] == \
        {"kind": "station", "id": "13"}
    assert pp.click_target("map-cameras", {"map-cameras": None}) == (no_update, no_update)
    assert pp.click_target("map-object-close", {}, 1) == (no_update, None)
    assert pp.click_target("map-object-close", {}, 0) == (no_update, no_update)  # inserted, not clicked


def test_a_sector_choice_switches_layers_indicator_and_list_but_a_render_does_not():
    assert ps.sector_switch("hotline", "hotline", {"layers": ["communes"], "gen": 3}) == (no_update,) * 4
    layer_set, metric, kind, seen = ps.sector_switch("procedures", "all", {"layers": ["communes"], "gen": 3})
    assert layer_set == {"layers": ["communes"], "gen": 4} and metric == "qd766_on_time"
    assert kind == "dossiers_overdue" and seen == "procedures"
    assert ps.sector_switch("environment", "all", None)[0]["layers"] == ["communes", "stations"]


def test_filters_update_keeps_the_filters_when_a_value_is_refused(views):
    base = {"start": "2026-11-01", "end": "2026-11-30", "service": [], "sector": "all", "status": "all",
            "commune": None}
    q, notice = ps.filters_update(views, {**base, "status": "overdue"}, {"start": "2026-11-01", "end": "2026-11-30"}, "vi")
    assert q == {"start": "2026-11-01", "end": "2026-11-30", "status": "overdue"} and notice is None
    assert ps.filters_update(views, base, {"start": "2026-11-01", "end": "2026-11-30"}, "vi") == (no_update, no_update)
    q, notice = ps.filters_update(views, {**base, "start": "2026-11-30", "end": "2026-11-01"}, {}, "en")
    assert q is no_update and "Invalid filter" in text_of(notice) and "before start" in text_of(notice)


def test_the_ticket_points_are_downloaded_once_per_window(views):
    """The page holds a year of points up to the range's end (``MapFilters.window``), with each
    point's state at every end of it: a new start or end inside it is kept in the browser; a range
    outside it downloads the year up to its end."""
    win = ps.ticket_window(md.filters_for(views, {"start": "2026-11-01", "end": "2026-11-30", "status": "open",
                                                  "sector": "security", "service": "ANTT", "commune": "29884"}))
    assert win == {"url": "/api/map/tickets.bin?start=2025-11-30&end=2026-11-30", "first": "2025-11-30",
                   "last": "2026-11-30"}
    assert md.MAX_DAYS == 366 and ps.ticket_window(md.filters_for(views, {}))["url"] == \
        "/api/map/tickets.bin?start=2025-12-02&end=2026-12-02"
    assert ps.ticket_range(views, "2026-11-01", "2026-11-30", win) is no_update  # the same range: nothing new
    assert ps.ticket_range(views, "2025-11-30", "2026-11-30", win) is no_update  # a new start: kept in the browser
    assert ps.ticket_range(views, "2026-10-01", "2026-11-29", win) is no_update  # a new end inside: judged there
    assert ps.ticket_range(views, "2025-11-30", "2025-11-30", win) is no_update  # the window's first day
    assert ps.ticket_range(views, "2025-11-29", "2026-10-31", win)["url"] == \
        "/api/map/tickets.bin?start=2025-10-31&end=2026-10-31"  # a start before the window: the year up to the end
    earlier = ps.ticket_range(views, "2025-11-29", "2026-10-31", win)
    assert ps.ticket_range(views, "2026-10-01", "2026-11-01", earlier)["url"] == \
        "/api/map/tickets.bin?start=2025-11-01&end=2026-11-01"  # an end after the window: its own year
    assert ps.ticket_range(views, "2026-11-30", "2026-11-01", win) is no_update  # refused (the filters say why)
    # what the browser keeps of them: the read model's own tables
    assert ps.TICKET_RULES["states"] == {"all": None, "open": ["open", "overdue"], "overdue": ["overdue"],
                                         "closed": ["closed"]}
    assert ps.TICKET_RULES["sectors"]["security"] == list(md.SECTOR_SERVICES["security"])
    assert ps.TICKET_RULES["sectors"]["all"] is None and ps.TICKET_RULES["sectors"]["hotline"] is None


def test_object_panel_of_a_ticket_shows_no_personal_data(views, monkeypatch):
    detail = {"id": "PA1", "category": "Môi trường", "status": "overdue", "status_label": "Quá hạn",
              "received_text": "01/11/2026 08:00", "age_text": "Đã 31 ngày kể từ khi tiếp nhận",
              "deadline_text": "22/11/2026 08:00 — quá hạn 10 ngày", "commune": "Phường Cao Lãnh",
              "agency": "Sở Nông nghiệp và Môi trường", "reporter_name": "Nguyễn Văn An", "phone": "0912345678"}
    monkeypatch.setattr(md, "ticket_detail", lambda v, i, lang: detail)
    cls, title, body, rng = pp.object_section(views, {"kind": "ticket", "id": "PA1"}, "24h", "vi")
    words = text_of(title) + text_of(body)
    assert cls == "sm-object" and "sm-hidden" in rng
    assert "Quá hạn" in words and "!" in words and "22/11/2026 08:00" in words
    assert "Nguyễn Văn An" not in words and "0912345678" not in words


def test_object_panel_states(views, monkeypatch):
    def gone(*_a, **_k):
        raise md.NotFound("ticket 'X' not found")

    def broken(*_a, **_k):
        raise RuntimeError("database is locked")

    assert pp.object_section(views, None, "24h", "vi")[0] == "sm-object sm-hidden"
    monkeypatch.setattr(md, "ticket_detail", gone)
    assert "Không còn tìm thấy" in text_of(pp.object_section(views, {"kind": "ticket", "id": "X"}, "24h", "vi")[2])
    monkeypatch.setattr(md, "camera_detail", broken)
    body = text_of(pp.object_section(views, {"kind": "camera", "id": "C"}, "24h", "vi")[2])
    assert "Không đọc được số liệu" in body and "locked" not in body  # never the error itself


def test_camera_panel_history_and_snapshot_states():
    d = {"id": "CAM 1", "name": "Cổng chợ", "status": "offline", "status_label": "Mất kết nối",
         "commune": "Phường Cao Lãnh", "agency": "Công an phường", "since_text": "từ 01/12/2026 09:00 (1 ngày)",
         "last_seen_text": "01/12/2026 09:00", "reason": "", "history_label": "Trạng thái 30 ngày qua",
         "history": [["2026-11-30T08:00:00+07:00", "online"], ["2026-12-01T09:00:00+07:00", "offline"]],
         "has_snapshot": True}
    body = pd.camera_body(d, "vi", (200, ""))
    words = text_of(body)
    assert "✖" in words and "Mất kết nối" in words and "01/12/2026 09:00 — Mất kết nối" in words
    img = [c for c in body if getattr(c, "src", None)]
    assert img[0].src.startswith("/api/map/camera/CAM%201/snapshot.jpg?t=")
    assert "Không lấy được ảnh" in text_of(pd.camera_body(d, "vi", (502, "upstream unreachable")))
    assert "không có ảnh" in text_of(pd.camera_body({**d, "has_snapshot": False}, "vi", None))


# --- legends and ranking -------------------------------------------------------------------------


CHORO = {"metric": "tickets_overdue", "name": "Phản ánh 1022 quá hạn", "title": "Phản ánh 1022 quá hạn · …",
         "unit": "phản ánh", "legend": [{"colour": "#eef2f7", "label": "0"}, {"colour": "#fb6a4a", "label": "1–4"},
                                        {"colour": "#3a4150", "label": "Chưa có dữ liệu"}],
         "raw": {"29884": 3, "28249": 0, "30118": 9, "28615": 3},
         "values": {"29884": "3 phản ánh", "28249": "0 phản ánh", "30118": "9 phản ánh", "28615": "3 phản ánh"}}


def test_legend_names_every_colour_and_mark():
    words = text_of(pg.legend(CHORO, None, ["communes", "tickets", "cameras"], "vi"))
    assert "Phản ánh 1022 quá hạn" in words and "(phản ánh)" in words and "1–4" in words and "Chưa có dữ liệu" in words
    for sym, label in (("!", "Quá hạn"), ("…", "Đang xử lý"), ("✓", "Đã trả lời"), ("✖", "Mất kết nối"),
                       ("?", "Chưa rõ trạng thái")):
        assert sym in words and label in words
    stations = text_of(pg.legend(CHORO, None, ["stations"], "en"))
    assert "Air station" in stations and "VN_AQI (QĐ 1459)" in stations and "Hazardous" in stations
    assert "No layer is on" in text_of(pg.legend(None, None, [], "en"))
    err = text_of(pg.legend({"error": True, "title": "X", "layers_down": True}, None, ["communes", "tickets"], "vi"))
    assert "Không tính được chỉ số" in err and "các lớp điểm chưa tải được" in err


def test_ranking_lists_the_communes_that_need_attention_first():
    rows = pg.ranking(CHORO, NAMES, "vi")
    buttons = [b for li in rows[2].children for b in [li.children]]
    assert [b.id["code"] for b in buttons] == ["30118", "29884", "28615"]  # 0 is nobody's lead; ties by name
    assert "9 phản ánh" in text_of(buttons[0])
    low = pg.ranking({**CHORO, "metric": "cameras_online", "raw": {"29884": 99.0, "28249": 71.3}}, NAMES, "vi")
    assert [li.children.id["code"] for li in low[2].children] == ["28249", "29884"] and "thấp nhất" in text_of(low)
    none = pg.ranking({**CHORO, "raw": {"29884": 0}}, NAMES, "vi")
    assert "Không xã/phường nào" in text_of(none)
    assert pg.ranking({"error": True}, NAMES, "vi") == []


# --- station charts ------------------------------------------------------------------------------


def series(points, thresholds, parameter="bod5"):
    return {"parameter": parameter, "label": "BOD₅", "unit": "mg/L", "points": points, "thresholds": thresholds}


def test_series_chart_draws_limits_rings_values_beyond_and_names_far_ones():
    pts = [[f"2026-12-01T{h:02d}:00:00+07:00", v] for h, v in zip(range(10, 16), [5.8, 6.4, 5.9, 7.7, 6.1, 5.0])]
    thr = [{"label": "QCVN 08:2023 mức B", "value": 6.0, "kind": "max"},
           {"label": "Xa", "value": 600.0, "kind": "max"}]
    svg, summary = pd.series_svg(series(pts, thr), "vi")
    assert svg.startswith("<svg") and svg.count('stroke="#ff5a5f"') == 3  # 6,4 · 7,7 · 6,1
    assert "QCVN 08:2023 mức B: 6,00" in svg and "Xa" not in svg
    assert "6 giá trị" in summary and "3 giá trị không đạt QCVN 08:2023 mức B: 6,00" in summary
    assert "ngưỡng ngoài khung biểu đồ: Xa: 600" in summary and "mới nhất 5,00 lúc 01/12/2026 15:00" in summary
    lo = [{"label": "DO", "value": 5.0, "kind": "min"}]
    do = [[a, v - 0.5] for a, v in pts]  # 4,5 is below the lower limit 5
    assert pd.series_svg(series(do, lo), "en")[1].endswith("1 values fail DO: 5.00 (ringed red)")
    aqi = pd.series_svg(series(pts, [{"label": "Tốt", "value": 5.5, "kind": "max"}], "aqi"), "vi")[1]
    assert "không đạt" not in aqi  # AQI categories are told by the strip, not as failures


def test_category_strip_says_the_time_in_each_category():
    cats = [["2026-12-01T10:00:00+07:00", "good", "#00e400", "Tốt"],
            ["2026-12-01T11:00:00+07:00", "moderate", "#ffff00", "Trung bình"],
            ["2026-12-01T12:00:00+07:00", "good", "#00e400", "Tốt"]]
    svg, words = pd.category_strip(cats, "vi")
    assert svg.count("<rect") == 3 and "<title>01/12/2026 11:00: Trung bình</title>" in svg
    assert words == "3 lần đo: Tốt: 2 · Trung bình: 1"


# --- the commune's panel and lists ---------------------------------------------------------------------


def test_commune_panel_rows_with_words_beside_colours():
    panel = md.CommunePanel(code="29884", name="Phường Cao Lãnh", period="03/11/2026 – 02/12/2026 (30 ngày)",
                            previous_period="Kỳ trước: 04/10/2026 – 02/11/2026", columns=["Chỉ số", "Xã/phường",
                                                                                             "Toàn tỉnh", "Kỳ trước",
                                                                                             "Thay đổi"],
                            rows=[md.KpiRow(key="hotline_received", label="Phản ánh 1022 tiếp nhận", value="12",
                                            province="1.234", previous="10", change="+2 so với kỳ trước"),
                                  md.KpiRow(key="qd766_on_time", label="Hồ sơ đúng hạn", value="81,2 %",
                                            province="92,4 %", previous="88,9 %", change="−7,7 điểm %", tone="bad")])
    out = pp.commune_head(panel, "vi")
    assert [i for i in ids_of(out)] == ["map-kpi-hotline_received", "map-kpi-qd766_on_time"]
    assert "✖ −7,7 điểm %" in text_of(out) and "1.234" in text_of(out)
    failed = pp.commune_head(panel.model_copy(update={"error": "Không đọc được số liệu", "rows": []}), "vi")
    assert "✖ Không đọc được số liệu" in text_of(failed)


def test_list_outputs_count_in_words_and_an_empty_list_says_why():
    page = md.ListPage(kind="tickets", title="Phản ánh", columns=[{"id": "id", "name": "Mã"}],
                       rows=[{"id": f"PA{i}"} for i in range(12)], total=1234, page=2, page_count=103, page_size=12,
                       sort="received", desc=True, empty_text="Không có phản ánh nào")
    cols, rows, count, current, total, _note = pp.list_outputs(page, "vi")
    assert cols == [{"id": "id", "name": "Mã"}] and len(rows) == 12 and (count, current) == (103, 2)
    assert total == "25–36 trong 1.234 bản ghi"
    empty = pp.list_outputs(page.model_copy(update={"rows": [], "total": 0, "page": 0, "page_count": 1}), "vi")
    assert empty[0] == [] and "Không có phản ánh nào" in text_of(empty[4])
    assert pp.exports({"csv": "/a", "xlsx": "/b"}, "vi", 0) == []


def test_list_without_a_commune_asks_for_one(views):
    out = pp.list_section(views, {"start": "2026-11-01", "end": "2026-11-30"}, "tickets", "", 0, [], "vi")
    assert out[:4] == ([], [], 1, 0) and "Chọn một xã/phường" in out[4]


def test_list_keeps_its_own_order_when_asked_for_another_lists_column(views, monkeypatch):
    asked = []

    def commune_list(v, code, kind, f, *, sort, desc, page, page_size, query, lang):
        asked.append(sort)
        if sort == "procedure":
            raise ValueError("bad sort 'procedure'")
        return md.ListPage(kind=kind, title="", columns=[{"id": "id", "name": "Mã"}], rows=[{"id": "PA1"}], total=1,
                           page=0, page_count=1, page_size=12, sort="received", desc=True)

    monkeypatch.setattr(md, "commune_list", commune_list)
    out = pp.list_section(views, {"start": "2026-11-01", "end": "2026-11-30", "commune": "29884"}, "tickets", "", 0,
                          [{"column_id": "procedure", "direction": "asc"}], "vi")
    assert asked == ["procedure", None] and out[1] == [{"id": "PA1"}] and out[7] == []
    assert "sort=" not in out[6][0].href


# --- the map's layers -----------------------------------------------------------------------------


@pytest.fixture
def layers_data(monkeypatch):
    pl._choro_cache.clear()
    monkeypatch.setattr(md, "services", lambda v, lang: [{"code": "MOITRUONG", "name": "Môi trường"}])
    monkeypatch.setattr(md, "communes_layer", lambda v, metric, f, lang: {
        "metric": metric, "title": "T", "unit": "u", "none": "#3a4150", "classes": {"29884": 1},
        "values": {"29884": "3 u"}, "raw": {"29884": 3}, "legend": [], "colours": ["#eef2f7", "#fb6a4a"]})
    yield
    pl._choro_cache.clear()


def test_map_layers_fetch_only_what_is_on_and_tiles_only_when_configured(views, layers_data):
    filters = {"start": "2026-11-01", "end": "2026-11-30", "commune": "29884"}
    children, legend = pl.layer_control(views, "vi", filters, "tickets_overdue", ["communes", "tickets", "stations"],
                                     "29884", "vi-0", None)
    assert len(children) == 1 and children[0].id == {"type": "map-layers", "gen": "vi-0"}  # no tile layer
    layers = {o.children.id: o for o in children[0].children}
    assert layers["map-communes"].checked and layers["map-communes"].children.hideout["selected"] == "29884"
    # the ticket layer starts empty and checked: its points come from ticket_window (assets/sector_map.js)
    tickets = layers["map-tickets"].children
    assert layers["map-tickets"].checked and getattr(tickets, "url", None) is None and tickets.cluster
    assert layers["map-cameras"].children.url is None and not layers["map-cameras"].checked
    assert layers["map-stations"].children.url == "/api/map/stations.json?lang=vi"
    assert tickets.hideout["cats"] == {"MOITRUONG": "Môi trường"}
    assert legend["values"] == {"29884": "3 u"} and legend["layers_down"] is False
    children, _ = pl.layer_control(views, "vi", filters, "tickets_overdue", [], None, "vi-0", "https://tiles/{z}/{x}/{y}.png")
    assert children[0].url == "https://tiles/{z}/{x}/{y}.png"  # IOC_BASEMAP_URL: a tile layer under the rest


def test_a_filter_changes_only_the_props_it_concerns(views, layers_data):
    f = {"start": "2026-11-01", "end": "2026-11-30"}
    hide, urls, legend = pl.layer_props(views, "vi", f, "tickets_overdue", ["communes", "cameras"], None)
    assert urls == {"cameras": "/api/map/cameras.geobuf?", "stations": None}
    hide2, urls2, _ = pl.layer_props(views, "vi", {**f, "status": "overdue", "commune": "29884"}, "tickets_overdue",
                                     ["communes", "cameras"], "29884")
    assert urls2 == urls and hide2 == {**hide, "selected": "29884"}  # the outline of the selected commune
    assert pl.checked_layers([[pl.layer_name("communes", "vi")]], pl.layer_keys(), {"layers": ["tickets"]}) == \
        ["communes"]
    assert pl.checked_layers([None], pl.layer_keys(), {"layers": ["tickets"]}) == ["tickets"]  # not reported yet
    assert pl.checked_layers([], pl.layer_keys(), {"layers": ["tickets"]}) == ["tickets"]


def test_map_layers_without_the_database_load_no_points(views, monkeypatch):
    pl._choro_cache.clear()

    def down(*_a, **_k):
        raise RuntimeError("no such table")

    monkeypatch.setattr(md, "communes_layer", down)
    monkeypatch.setattr(md, "services", down)
    children, legend = pl.layer_control(views, "en", {}, "tickets_per_km2", ["communes", "tickets"], None, "en-0", None)
    # the ticket layer reads legend["layers_down"] (map-choro) and asks for nothing (assets/sector_map.js)
    assert legend["error"] and legend["layers_down"]
    assert all(getattr(o.children, "url", None) in (None, pl.COMMUNES_URL) for o in children[0].children)


def test_layout_reads_the_link_and_every_id_is_the_pages_own(views, monkeypatch, layers_data):
    monkeypatch.setitem(pm._VIEWS, "views", views)
    page = pm.layout(start="2026-11-01", end="2026-11-30", commune="29884", metric="bogus", z="12", lat="10.4",
                     lon="105.6", status="closed", layers="communes,tickets")
    ids = [i if isinstance(i, str) else i["type"] for i in ids_of(page)]
    assert len(ids) == len(set(ids)) and all(i.startswith("map-") for i in ids)
    by_id = {i: c for i, c in zip(ids, _components(page))}
    dates = by_id["map-dates"]
    assert (dates.start_date, dates.end_date, dates.display_format) == ("2026-11-01", "2026-11-30", "DD/MM/YYYY")
    assert by_id["map-commune"].value == "29884" and by_id["map-map"].zoom == 12.0
    assert "metric" in text_of(by_id["map-notice"])
    # the layers are in the page from the start, coloured, the commune outlined; the points to fetch and keep
    assert by_id["map-communes"].hideout["classes"] == {"29884": 1} and by_id["map-communes"].hideout["selected"] == "29884"
    assert by_id["map-choro"].data["values"] == {"29884": "3 u"} and by_id["map-built"].data["gen"] == "vi-0"
    assert by_id["map-ticket-window"].data == {"url": "/api/map/tickets.bin?start=2025-11-30&end=2026-11-30",
                                               "first": "2025-11-30", "last": "2026-11-30"}
    assert by_id["map-ticket-rules"].data == ps.TICKET_RULES


def _components(component, out=None):
    out = [] if out is None else out
    if isinstance(component, (list, tuple)):
        for c in component:
            _components(c, out)
        return out
    if getattr(component, "id", None) is not None:
        out.append(component)
    children = getattr(component, "children", None)
    if children is not None and not isinstance(children, str):
        _components(children, out)
    return out


# --- strings, script, stylesheet --------------------------------------------------------------------


def test_every_page_string_has_both_languages():
    keys = [k for k in STRINGS if k.startswith("mp.")]
    assert len(keys) > 50
    assert all(STRINGS[k].get("vi") and STRINGS[k].get("en") for k in keys)
    src = "".join(p.read_text() for p in Path(pm.__file__).parent.glob("map*.py"))  # the page's modules
    used = set(re.findall(r'["\'](mp\.[a-z_.]+[a-z_])["\']', src))
    assert len(used) > 20 and not {k for k in used if k not in STRINGS}


def test_script_only_defines_functions_and_stylesheet_is_scoped():
    js = (ASSETS / "sector_map.js").read_text()
    assert not re.search(r"addEventListener|setInterval|setTimeout|document\.", js)  # nothing runs at load
    assert "window.ioc = Object.assign({}, window.ioc" in js
    css = (ASSETS / "sector_map.css").read_text()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    selectors = re.findall(r"(?:^|})\s*([^{}@]+?)\s*{", css)
    bad = [s for s in selectors for part in s.split(",") if not part.strip().startswith(".sector-map")]
    assert not bad, bad


def test_a_ticket_filter_leaves_the_camera_layer_url_alone():
    from layouts.map_state import layer_urls

    base = layer_urls({"start": "2026-11-01", "end": "2026-11-30"}, "vi")
    overdue = layer_urls({"start": "2026-11-01", "end": "2026-11-30", "status": "overdue", "service": ["ANTT"]}, "vi")
    assert overdue["cameras"] == base["cameras"] and overdue["density"] != base["density"]
    assert "cam_status=offline" in layer_urls({"cam_status": "offline"}, "vi")["cameras"]
