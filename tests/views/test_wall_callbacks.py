"""The wall's callbacks as plain functions of the read model (no browser, no server)."""

from __future__ import annotations

import json
from datetime import timedelta

from test_read_model import NOW, health, snapshot, views  # noqa: F401 (fixture)

from ioc.auth.testing import signed_in_client
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


# --- the live endpoint GET /api/views/wall (ioc/web/wall_api.py) as a plain function -------------

def feed_of(views, build="b1"):  # noqa: F811
    from ioc.web.wall_api import WallFeed

    # tokens read at every request here (the endpoint keeps them 0.1 s: its own test below)
    return WallFeed(views, ["hotline_overdue", "cameras_offline", "worst_stations", "qd766_agencies"], "vi", build,
                    tokens_ttl=0)


def ask(feed, have=None, lang="vi", focus="hotline_overdue") -> dict:
    return json.loads(feed.answer(lang, focus, have or {}))


def test_a_new_wall_gets_every_panel_rendered_and_tagged(views):  # noqa: F811
    publish.publish(views.store, snapshot(), NOW)
    body = ask(feed_of(views))
    assert body["build"] == "b1" and body["lang"] == "vi" and body["focus"] == "hotline_overdue"
    assert set(body["tags"]) == set(body["panels"]) == set(wall.PANELS)
    assert all(body["tags"].values())
    tiles = body["panels"]["tiles"]
    assert [t["props"]["id"] for t in tiles] == ["wall-tile-hotline", "wall-tile-cameras", "wall-tile-aqi",
                                                  "wall-tile-qd766", "wall-tile-alerts"]
    assert tiles[0]["type"] == "Div" and tiles[0]["namespace"] == "dash_html_components"
    assert "93,1 %" in json.dumps(tiles, ensure_ascii=False)
    m = body["panels"]["map"]
    assert m["url"] == "/api/geo/communes.geojson" and set(m) == {"url", "hideout", "markers", "legend", "title"}
    assert {mk["props"]["id"] for mk in m["markers"]} == {"st-1", "tk-29884"}  # air station, overdue requests
    assert m["markers"][0]["namespace"] == "dash_leaflet" and m["markers"][0]["type"] == "DivMarker"
    assert "Không có" not in json.dumps(body["panels"]["focus"], ensure_ascii=False)  # the overdue request is listed


def test_a_wall_that_has_everything_gets_no_content_and_a_change_sends_only_its_panel(views):  # noqa: F811
    publish.publish(views.store, snapshot(), NOW)
    feed = feed_of(views)
    tags = ask(feed)["tags"]
    again = ask(feed, have=tags)
    assert again["panels"] == {} and again["tags"] == tags
    snap = snapshot()
    snap["cameras"]["online"], snap["cameras"]["online_pct"] = 2389, 93.14
    assert publish.publish(views.store, snap, NOW) == ["tiles"]
    after = ask(feed, have=tags)
    assert set(after["panels"]) == {"tiles"}, "only the panel whose facts changed is sent"
    assert "2.389" in json.dumps(after["panels"]["tiles"], ensure_ascii=False)
    assert {p for p in wall.PANELS if after["tags"][p] != tags[p]} == {"tiles"}


def test_a_render_cached_as_current_is_never_served_for_a_stale_snapshot(views):  # noqa: F811
    """The scheduler hangs: the data digests stay, the clock moves on. The tag moves with the
    freshness (ReadModel.versions), so the cache cannot hand out the earlier "current" render."""
    publish.publish(views.store, snapshot(), NOW)
    feed = feed_of(views)
    fresh = ask(feed)
    assert "Số liệu dừng" not in json.dumps(fresh["panels"], ensure_ascii=False)
    views.clock_ref["now"] = NOW + timedelta(minutes=3, seconds=30)
    for s in ("hotline", "cameras", "environment", "procedures"):  # the connectors still poll
        views.store.set_health(s, health(-200, interval=60))
    stale_for_old_wall = ask(feed, have=fresh["tags"])
    stale_for_new_wall = ask(feed)  # a wall opened now, with nothing on screen
    for body in (stale_for_old_wall, stale_for_new_wall):
        assert set(body["panels"]) == set(wall.PANELS), "every panel's freshness changed"
        for panel in ("tiles", "alerts", "map", "focus", "badges"):
            assert "Số liệu dừng cập nhật từ 09:40" in json.dumps(body["panels"][panel], ensure_ascii=False), panel
    assert feed.cache.misses == 10, "5 renders when fresh, 5 when stale: the second wall was served from the cache"


def test_a_second_late_episode_is_not_served_the_first_ones_time(views):  # noqa: F811
    """Same data, same state ("late") twice, with a recovery in between: the label's time differs."""
    publish.publish(views.store, snapshot(), NOW)
    feed = feed_of(views)
    views.store.set_health("hotline", health(170, interval=60))  # late since 09:37
    first = ask(feed)
    assert "Chậm từ 09:37" in json.dumps(first["panels"]["badges"], ensure_ascii=False)
    views.store.set_health("hotline", health(10, interval=60))
    ask(feed)
    views.store.set_health("hotline", health(230, interval=60))  # late again, since 09:36
    second = ask(feed, have=first["tags"])
    assert second["tags"]["badges"] != first["tags"]["badges"]
    assert "Chậm từ 09:36" in json.dumps(second["panels"]["badges"], ensure_ascii=False)


def test_redis_down_gives_null_tags_no_content_and_says_so_in_the_badges(views):  # noqa: F811
    from ioc.live_store import LiveStore

    publish.publish(views.store, snapshot(), NOW)
    feed = feed_of(views)
    tags = ask(feed)["tags"]
    views.store = LiveStore.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    down = ask(feed, have=tags)
    assert down["tags"] == {"tiles": None, "alerts": None, "map": None, "focus": None,
                            "badges": down["tags"]["badges"]} and down["tags"]["badges"]
    assert set(down["panels"]) == {"badges"}, "the figures on screen are kept: no content for a null tag"
    assert "Không kết nối được kho dữ liệu trực tiếp (Redis)" in json.dumps(down["panels"]["badges"],
                                                                           ensure_ascii=False)
    full = ask(feed)  # even a wall asking for everything gets no blanked figures
    assert set(full["panels"]) == {"badges"}


def test_language_and_focus_move_the_tags_of_what_depends_on_them(views):  # noqa: F811
    publish.publish(views.store, snapshot(), NOW)
    feed = feed_of(views)
    vi = ask(feed)
    en = ask(feed, have=vi["tags"], lang="en")
    assert set(en["panels"]) == set(wall.PANELS) and en["lang"] == "en"
    assert "by commune" in json.dumps(en["panels"]["map"]["title"]) and "Cập nhật" not in json.dumps(
        en["panels"], ensure_ascii=False)
    rotated = ask(feed, have=vi["tags"], focus="cameras_offline")
    assert set(rotated["panels"]) == {"map", "focus"} and rotated["focus"] == "cameras_offline"
    assert "Camera trực tuyến theo xã" in json.dumps(rotated["panels"]["map"]["title"], ensure_ascii=False)
    assert ask(feed, focus="nonsense", lang="fr")["focus"] == "hotline_overdue"  # unknown: the defaults


def test_many_walls_cost_one_render_per_panel_and_the_cache_stays_bounded(views):  # noqa: F811
    from ioc.web.wall_api import RenderCache, WallFeed

    publish.publish(views.store, snapshot(), NOW)
    feed = feed_of(views)
    bodies = {feed.answer("vi", "hotline_overdue", {}) for _ in range(50)}
    assert len(bodies) == 1 and feed.cache.misses == 5 and feed.cache.hits == 5 * 49
    small = WallFeed(views, ["hotline_overdue"], "vi", "b", RenderCache(size=3), tokens_ttl=0)
    for focus in ("hotline_overdue", "cameras_offline", "worst_stations", "qd766_agencies"):
        small.answer("vi", focus, {})
    assert len(small.cache) == 3


def test_the_tokens_are_read_again_once_they_are_a_tenth_of_a_second_old(views):  # noqa: F811
    from ioc.web.wall_api import WallFeed

    publish.publish(views.store, snapshot(), NOW)
    clock = {"t": 0.0}
    feed = WallFeed(views, ["hotline_overdue"], "vi", "b", monotonic=lambda: clock["t"])
    tags = ask(feed)["tags"]
    snap = snapshot()
    snap["cameras"]["online"], snap["cameras"]["online_pct"] = 2389, 93.14
    publish.publish(views.store, snap, NOW)
    clock["t"] = 0.05
    assert ask(feed, have=tags)["panels"] == {}, "within 0.1 s the tokens read before are used"
    clock["t"] = 0.1
    assert set(ask(feed, have=tags)["panels"]) == {"tiles"}, "0.1 s later the change is seen"


def test_the_endpoint_answers_over_http(views, sqlite_url):  # noqa: F811
    from ioc.web.app import create_app

    publish.publish(views.store, snapshot(), NOW)
    app = create_app(views.settings.model_copy(update={"database_url": sqlite_url}), read_model=views)
    client = signed_in_client(app, "operator")
    res = client.get("/api/views/wall?lang=en&focus=worst_stations")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    body = res.get_json()
    assert body["focus"] == "worst_stations" and set(body["panels"]) == set(wall.PANELS)
    have = ",".join(f"{p}:{t}" for p, t in body["tags"].items())
    again = client.get(f"/api/views/wall?lang=en&focus=worst_stations&have={have}").get_json()
    assert again["panels"] == {} and again["tags"] == body["tags"]


# --- assets/wall.js's poll, run under Node with a fake Dash and fetch (skipped without node) -------

WALL_JS_HARNESS = r"""
global.window = {location: {reload() { out.reloads += 1; }}};
const out = {requests: [], written: [], reloads: 0};
window.dash_clientside = {no_update: {}, set_props: (id, props) => out.written.push([id, props])};
let pending = null;
global.fetch = (url) => { out.requests.push(url); return new Promise((res, rej) => { pending = {res, rej}; }); };
require(process.argv[2]);
const w = window.dash_clientside.ioc_wall;
const texts = {lang: "vi", server_down: "Mất kết nối máy chủ từ {since}", playlist: ["hotline_overdue"]};
const tick = () => new Promise((r) => setTimeout(r, 5));
const state = () => out.written.filter(([id]) => id === "wall-conn").map(([, p]) => p.data).pop();
const reply = (body) => pending.res({ok: true, json: async () => body});
const tags = {tiles: "t1", alerts: "a1", map: "m1", focus: "f1", badges: "b1"};
(async () => {
  w.poll(1, texts, null, null);
  w.poll(2, texts, null, null);                      // the first poll is still in flight
  out.afterTwoTicks = out.requests.length;
  reply({build: "B", tags: tags, panels: {tiles: [{type: "Div", namespace: "dash_html_components", props: {}}],
         map: {url: "/u", hideout: {}, markers: [], legend: [], title: []}}});
  await tick();
  out.writtenFirst = out.written.map(([id]) => id);
  w.poll(3, texts, state(), "cameras_offline");
  reply({build: "B", tags: Object.assign({}, tags, {tiles: null}), panels: {}});  // Redis down: tiles null
  await tick();
  out.keptTag = state().have.tiles;
  for (let i = 0; i < 3; i++) {                      // three failed polls: the banner
    w.poll(4 + i, texts, state(), "cameras_offline");
    pending.rej(new Error("connection refused"));
    await tick();
  }
  out.banner = out.written.filter(([id]) => id === "wall-banner").map(([, p]) => p.className);
  w.poll(7, texts, state(), "cameras_offline");
  reply({build: "B2", tags: tags, panels: {}});       // back, with new code
  await tick();
  console.log(JSON.stringify(out));
})();
"""


def test_wall_js_polls_one_at_a_time_and_recovers_with_one_full_request(tmp_path):
    import shutil
    import subprocess
    from pathlib import Path
    from urllib.parse import parse_qs, urlsplit

    import pytest

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = tmp_path / "harness.js"
    harness.write_text(WALL_JS_HARNESS)
    wall_js = Path(wall.__file__).resolve().parent.parent / "assets" / "wall.js"
    res = subprocess.run([node, str(harness), str(wall_js)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    queries = [parse_qs(urlsplit(u).query, keep_blank_values=True) for u in out["requests"]]
    assert out["afterTwoTicks"] == 1, "a tick while a poll is in flight must not send another"
    assert queries[0] == {"lang": ["vi"], "focus": [""], "have": [""]}
    assert out["writtenFirst"][:2] == ["wall-tiles", "wall-conn"], "the figures first, the map in the next task"
    assert {"wall-communes", "wall-markers", "wall-legend", "wall-map-title"} <= set(out["writtenFirst"])
    assert queries[1]["focus"] == ["cameras_offline"]
    assert queries[1]["have"] == ["tiles:t1,alerts:a1,map:m1,focus:f1,badges:b1"]
    assert out["keptTag"] == "t1", "a null tag (Redis down) keeps the tag of what the panel shows"
    assert out["banner"] == ["wall-banner show"], "the banner comes with the third failed poll, once"
    assert queries[-1]["have"] == [""], "after a failure the next poll asks for every panel"
    assert out["reloads"] == 1, "a new build id reloads the page"
