"""A sector user's scope on the map: sectors and communes, on the endpoints, the callbacks and
the page (ioc/auth/scope.py)."""

from __future__ import annotations

import json

import pytest

from ioc.auth.testing import ensure_user, sign_in

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture(scope="module")
def hotline_user(auth_app):
    url = auth_app.server.config["IOC_SETTINGS"].effective_database_url
    ensure_user(url, "u-hotline", "sector", sectors=("hotline",), communes=("30316", "30319"))
    c = auth_app.server.test_client()
    assert sign_in(c, "u-hotline").status_code == 303
    return c


def _status(c, url):
    return c.get(url).status_code


def test_the_map_page_starts_on_the_users_sector_and_commune(hotline_user):
    res = hotline_user.get("/map")
    assert res.status_code == 303 and res.headers["Location"] == "/map?sector=hotline&commune=30316"
    assert _status(hotline_user, "/map?sector=hotline&commune=30319") == 200
    for other in ("/map?sector=environment&commune=30316", "/map?sector=hotline&commune=30301"):
        res = hotline_user.get(other)  # put back in the scope, the rest of the view kept
        assert res.status_code == 303 and res.headers["Location"] == "/map?sector=hotline&commune=30316", other
    assert _status(hotline_user, "/") == 403 and _status(hotline_user, "/wall") == 403


def test_endpoints_refuse_other_sectors_subjects_and_communes(hotline_user):
    ok = ["/api/map/options.json", "/api/map/tickets.bin?sector=hotline&commune=30316",
          "/api/map/communes.json?sector=hotline&commune=30319&metric=tickets_open&communes=30316,30319",
          # the layers' scope parameters (scope.layer_params) stand for the sector "all" and the commune
          "/api/map/tickets.bin?sectors=hotline&communes=30316,30319",
          "/api/map/density.json?sectors=hotline&communes=30316"]
    refused = ["/api/map/tickets.bin?sector=hotline",  # no commune: the whole province
               # the choropleth without the user's communes would colour the whole province
               "/api/map/communes.json?sector=hotline&commune=30319&metric=tickets_open",
               "/api/map/tickets.bin?sectors=hotline,security&communes=30316",  # a sector not theirs
               "/api/map/tickets.bin?sectors=hotline&communes=30316,30301",  # a commune not theirs
               "/api/map/list.json?sectors=hotline&communes=30316&kind=tickets",  # not a layer: sector "all"
               "/api/map/tickets.bin?sector=all&commune=30316", "/api/map/tickets.bin?sector=security&commune=30316",
               "/api/map/tickets.bin?sector=hotline&commune=30301", "/api/map/cameras.geobuf?commune=30316",
               "/api/map/stations.json", "/api/map/station/S1", "/api/map/camera/C1",
               "/api/map/communes.json?sector=hotline&commune=30316&metric=worst_index",
               "/api/map/commune/30301?sector=hotline", "/api/map/export.csv?sector=hotline&commune=30301",
               "/api/map/list.json?sector=hotline&commune=30316&kind=dossiers_overdue"]
    assert [u for u in ok if _status(hotline_user, u) in (401, 403)] == []
    assert [u for u in refused if _status(hotline_user, u) != 403] == []
    res = hotline_user.get("/api/map/export.csv?sector=hotline&commune=30301")
    assert res.json["reason"] == "out_of_scope" and "30301" in res.json["error"]


def _cb(key: str, **values):
    outs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in key.strip(".").split("...")]
    return {"output": key, "outputs": outs if key.startswith("..") else outs[0], "changedPropIds": [],
            "inputs": [{"id": k.split(".")[0], "property": k.split(".")[1], "value": v} for k, v in values.items()],
            "state": []}


def test_callbacks_refuse_filters_outside_the_scope(hotline_user):
    key = "..map-commune-head.children...map-list.className.."

    def post(filters):
        return hotline_user.post("/_dash-update-component", headers=ORIGIN,
                                 json=_cb(key, **{"map-filters.data": filters, "lang.data": "vi"})).status_code

    assert post({"sector": "hotline", "commune": "30316"}) not in (401, 403)
    assert post({"sector": "environment", "commune": "30316"}) == 403
    assert post({"sector": "hotline", "commune": "30301"}) == 403
    assert post({"sector": "hotline"}) == 403
    sel = hotline_user.post("/_dash-update-component", headers=ORIGIN, json=_cb(
        "..map-object.className...map-object-title.children...map-object-body.children...map-st-range.className..",
        **{"map-sel.data": {"kind": "camera", "id": "C1"}, "map-st-range.value": "24h", "lang.data": "vi"}))
    assert sel.status_code == 403
    page = hotline_user.post("/_dash-update-component", headers=ORIGIN, json=_cb(
        ".._pages_content.children..._pages_store.data..",
        **{"_pages_location.pathname": "/map", "_pages_location.search": "?sector=all"}))
    assert page.status_code == 403


def test_a_user_of_every_sector_without_communes_sees_the_whole_map(clients):
    c = clients["sector"]
    for url in ("/api/map/tickets.bin", "/api/map/cameras.geobuf", "/api/map/stations.json",
                "/api/map/communes.json?metric=worst_index"):
        assert _status(c, url) not in (401, 403), url
    assert _status(c, "/map") == 200


def test_clearing_the_commune_keeps_the_users_commune_and_says_why(auth_app, hotline_user):
    """/map's filter callback, through the guard, as the browser sends it when a user limited to
    communes clears the commune dropdown: not refused (a 403 in the console, a dead page), but
    the dropdown back on their commune and a notice in Vietnamese (English after the switch)."""
    key = next(k for k in auth_app.callback_map if "map-filters.data" in k and "map-notice.children" in k)
    outputs = [{"id": p.split("@")[0].rsplit(".", 1)[0], "property": p.split("@")[0].rsplit(".", 1)[1]}
               for p in key.strip(".").split("...")]
    current = {"start": "2026-11-01", "end": "2026-11-30", "sector": "hotline", "commune": "30319"}

    def post(commune, lang):
        values = [("map-dates", "start_date", "2026-11-01"), ("map-dates", "end_date", "2026-11-30"),
                  ("map-service", "value", []), ("map-sector", "value", "hotline"), ("map-status", "value", "all"),
                  ("map-commune", "value", commune)]
        body = {"output": key, "outputs": outputs, "changedPropIds": ["map-commune.value"],
                "inputs": [{"id": i, "property": p, "value": v} for i, p, v in values],
                "state": [{"id": "lang", "property": "data", "value": lang},
                          {"id": "map-filters", "property": "data", "value": current}]}
        return hotline_user.post("/_dash-update-component", headers=ORIGIN, json=body)

    res = post(None, "vi")
    assert res.status_code == 200, res.get_data(as_text=True)
    out = res.json["response"]
    assert out["map-commune"]["value"] == "30319"  # the commune shown stays
    assert "map-filters" not in out  # the filters never ask for the whole province
    notice = json.dumps(out["map-notice"]["children"], ensure_ascii=False)
    assert "Tài khoản của bạn chỉ xem được số liệu của 30316, 30319" in notice
    res = post(None, "en")
    assert "Your account sees the figures of 30316, 30319 only" in json.dumps(res.json["response"], ensure_ascii=False)
    # choosing one of theirs is an ordinary filter change
    chosen = post("30316", "vi")
    assert chosen.status_code == 200 and chosen.json["response"]["map-filters"]["data"]["commune"] == "30316"


def test_the_mobile_page_has_a_sign_out_link_like_the_other_pages(clients):
    page = clients["leader"].get("/m")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<a id="m-logout" class="m-logout" href="/logout?lang=vi">Đăng xuất</a>' in html
    assert 'href="/logout?lang=en">Sign out</a>' in clients["leader"].get("/m?lang=en").get_data(as_text=True)
    assert clients["leader"].get("/logout?lang=vi").status_code == 200  # the link opens the sign-out form


def test_the_map_offers_only_the_layers_indicators_and_lists_of_the_users_sectors():
    from ioc.auth import scope
    from ioc.auth.roles import Principal
    from layouts.map_state import LAYERS, LIST_KINDS, METRICS

    hotline = Principal(role="sector", name="h", sectors=("hotline",), communes=("30316",))
    cameras = Principal(role="sector", name="c", sectors=("cameras", "environment"))
    admin = Principal(role="admin", name="a")
    assert scope.offered(hotline, LAYERS, scope.ENDPOINT_NEEDS) == ["communes", "density", "tickets"]
    assert scope.offered(cameras, LAYERS, scope.ENDPOINT_NEEDS) == list(LAYERS)
    assert scope.offered(hotline, METRICS, scope.METRIC_NEEDS) == ["tickets_per_km2", "tickets_open", "tickets_overdue"]
    assert scope.offered(cameras, METRICS, scope.METRIC_NEEDS) == [
        "tickets_per_km2", "tickets_open", "tickets_overdue", "cameras_online", "worst_index"]
    assert scope.offered(hotline, LIST_KINDS, scope.LIST_NEEDS) == ["tickets"]
    assert scope.offered(cameras, LIST_KINDS, scope.LIST_NEEDS) == ["tickets", "cameras_offline"]
    for keys, needs in ((LAYERS, scope.ENDPOINT_NEEDS), (METRICS, scope.METRIC_NEEDS), (LIST_KINDS, scope.LIST_NEEDS)):
        assert scope.offered(admin, keys, needs) == list(keys)
    # the layers offered are the layers the server serves
    assert [k for k in LAYERS if scope.may_see_layer(hotline, k)] == ["communes", "density", "tickets"]


@pytest.mark.parametrize(("who", "links"), [("admin", ["/", "/wall", "/m", "/map", "/briefings"]),
                                            ("sector", ["/map"])])
def test_an_unknown_path_gets_a_vietnamese_page_with_the_users_pages(clients, who, links):
    res = clients[who].post("/_dash-update-component", headers=ORIGIN, json=_cb(
        ".._pages_content.children..._pages_store.data..",
        **{"_pages_location.pathname": "/khong-co-trang-nay", "_pages_location.search": ""}))
    assert res.status_code == 200
    page = json.dumps(res.json, ensure_ascii=False)
    assert "Không tìm thấy trang này" in page and "This page does not exist" in page
    assert "404 - Page not found" not in page  # Dash's own English page
    hrefs = [m for m in ('"href": "' + p + '"' for p in ["/", "/wall", "/m", "/map", "/briefings"]) if m in page]
    assert hrefs == ['"href": "' + p + '"' for p in links]
