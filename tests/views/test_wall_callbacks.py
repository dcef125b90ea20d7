"""The wall's callbacks as plain functions of the read model (no browser, no server)."""

from __future__ import annotations

from datetime import timedelta

from test_read_model import NOW, health, snapshot, views  # noqa: F401 (fixture)

from ioc.views import publish
from layouts import wall


def text_of(component) -> str:
    if isinstance(component, (list, tuple)):
        return " ".join(text_of(c) for c in component)
    children = getattr(component, "children", component)
    if children is component:
        return "" if component is None else str(component)
    return text_of(children)


def test_tiles_carry_their_ids_values_and_words(views):  # noqa: F811
    publish.publish(views.store, snapshot(), NOW)
    tiles = {t.id: t for t in wall.render_tiles(views, "vi")}
    assert set(tiles) == {"wall-tile-hotline", "wall-tile-cameras", "wall-tile-aqi", "wall-tile-qd766",
                          "wall-tile-alerts"}
    assert "93,1 %" in text_of(tiles["wall-tile-cameras"]) and "Dưới mục tiêu 95 %" in text_of(tiles["wall-tile-cameras"])


def test_badges_add_a_red_statement_when_the_figures_are_old(views):  # noqa: F811
    publish.publish(views.store, snapshot(), NOW)
    assert len(wall.render_badges(views, "vi")) == 4
    views.clock_ref["now"] = NOW + timedelta(minutes=4)
    for s in ("hotline", "cameras", "environment", "procedures"):
        views.store.set_health(s, health(-230))
    badges = wall.render_badges(views, "vi")
    assert len(badges) == 5 and "figures-stale" in badges[-1].className
    assert badges[-1].children == "Số liệu dừng cập nhật từ 09:40"


def test_map_follows_the_focus_panel(views):  # noqa: F811
    publish.publish(views.store, snapshot(), NOW)
    url, hideout, markers, legend, title = wall.render_map(views, "cameras_offline", "vi")
    assert url == "/api/geo/communes.geojson"
    assert hideout["classes"] == {"30118": 0} and len(hideout["colours"]) == 5
    assert {m.id for m in markers} == {"st-1", "cam-30118"}
    assert "Camera trực tuyến theo xã" in text_of(title)
    assert "Số camera mất kết nối" in text_of(legend)
    _u, _h, markers, _l, title = wall.render_map(views, "worst_stations", "en")
    assert {m.id for m in markers} == {"st-1", "st-13"} and "by commune" in text_of(title)


def test_ticker_and_focus_render_their_empty_states(views):  # noqa: F811
    snap = snapshot()
    snap["alerts"] = {"available": True, "total": 0, "by_severity": {}, "active": []}
    snap["hotline"]["open_overdue"] = []
    publish.publish(views.store, snap, NOW)
    assert "Không có cảnh báo nào đang mở" in text_of(wall.render_ticker(views, "vi"))
    assert "Không có phản ánh nào quá hạn" in text_of(wall.render_focus(views, "hotline_overdue", "vi"))


def test_ioc_language_sets_the_default_language_of_every_page(redis_url, sqlite_url, monkeypatch, tmp_path):
    from ioc.settings import load_settings
    from ioc.web.app import create_app

    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings(redis_url=redis_url, database_url=sqlite_url, language="en"))
    store = app.layout.children[0]
    assert store.id == "lang" and store.data == "en" and store.storage_type == "local"
    assert wall.layout(lang="en").children[0].data == "en"  # /wall?lang=en
    assert wall.layout(lang="fr").children[0].data is None  # unknown: the default applies
