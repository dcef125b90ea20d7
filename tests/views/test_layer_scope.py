"""A sector user's /map layers hold exactly their scope, and load (issue 14; ioc/auth/scope.py
``layer_params``, docs/security.md § Roles): the page is rendered through the real guard for a
signed-in user, and every layer URL it gives the browser is asked for with that user's session.

* an environment officer (one sector, the whole province): ticket points and density of the
  environment's categories only, the stations; no camera layer asked for;
* a hotline officer limited to commune 10001: points, density and cameras of 10001 only, the
  choropleth with 10001's value only (the other communes "outside your scope");
* an administrator: the URLs and layers as before (the province, every category).

The world of tests/views/test_map_world.py (communes 10001, 10002, 10003) behind create_app."""

from __future__ import annotations

import json

import geobuf
import pytest
from sqlalchemy import select
from test_map_world import RANGE, world  # noqa: F401

from ioc.auth.testing import ensure_user, sign_in
from ioc.db import models as m
from ioc.views import mapdata as md
from layouts.map_state import layer_urls

ORIGIN = {"Origin": "http://localhost"}
EVERY_LAYER = "communes,tickets,density,cameras,stations"
USERS = {"env": {"sectors": ("environment",)},
         "hot1": {"sectors": ("hotline",), "communes": ("10001",)},
         "cam2": {"sectors": ("cameras",), "communes": ("10002",)},
         "root": {}}


@pytest.fixture
def app(world, tmp_path):  # noqa: F811
    from ioc.settings import load_settings
    from ioc.web.app import create_app

    url = world.engine().url.render_as_string(hide_password=False)
    for name, sc in USERS.items():
        ensure_user(url, name, "sector" if sc else "admin", **sc)
    settings = load_settings(redis_url="redis://127.0.0.1:1/0", database_url=url, data_dir=tmp_path)
    dash_app = create_app(settings, read_model=world)
    dash_app.server.test_client().get("/")  # Dash adds its pages' callbacks at the first request
    return dash_app


def _client(app, name):
    c = app.server.test_client()
    assert sign_in(c, name).status_code == 303
    return c


def _page(app, c, search: str) -> dict:
    """The /map layout as the browser receives it (Dash's pages callback, through the guard):
    {component id: its props} of the stores and layers the test reads."""
    key = next(k for k in app.callback_map if "_pages_content.children" in k)
    spec = app.callback_map[key]
    values = {"pathname": "/map", "search": search}
    body = {"output": key, "outputs": [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1].split("@")[0]}
                                       for p in key.strip(".").split("...")],
            "inputs": [{"id": d["id"], "property": d["property"],
                        "value": values.get(d["property"]) if d["id"] == "_pages_location" else None}
                       for d in spec["inputs"]],
            "state": [{"id": d["id"], "property": d["property"], "value": None} for d in spec.get("state", [])],
            "changedPropIds": ["_pages_location.pathname"]}
    res = c.post("/_dash-update-component", headers=ORIGIN, json=body)
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    found: dict = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and isinstance(props.get("id"), str):
                found[props["id"]] = props
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(res.json)
    return found


def _layers(app, c, search: str) -> dict:
    """Every layer URL the page gives the browser: the ticket window, the density grid's (as
    assets/sector_map.js ``_layerQuery`` writes it: the filters without the commune, with the
    scope store), the cameras' and stations' (None: the page does not ask)."""
    page = _page(app, c, f"{search}&start={RANGE['start']}&end={RANGE['end']}&layers={EVERY_LAYER}")
    filters, sc = page["map-filters"]["data"], (page.get("map-layer-scope") or {}).get("data") or {}
    return {"tickets": page["map-ticket-window"]["data"]["url"], "density": layer_urls(filters, "vi", *([sc] if sc else []))["density"],
            "cameras": page["map-cameras"].get("url"), "stations": page["map-stations"].get("url"),
            "hideout": {"scope": None, **page["map-communes"]["hideout"]}, "choro": page["map-choro"]["data"], "scope": sc}


def _get(c, url):
    res = c.get(url)
    assert res.status_code == 200, (url, res.status_code, res.get_data(as_text=True)[:200])
    return res


def _ticket_communes(world, body: bytes) -> dict[int, tuple[str, str]]:  # noqa: F811
    ids = md.decode_ticket_points(body)["id"]
    tk = m.Ticket.__table__
    with world.engine().connect() as conn:
        rows = conn.execute(select(tk.c.id, tk.c.commune_code, tk.c.service_code).where(tk.c.id.in_(ids))).all()
    return {i: (c, s) for i, c, s in rows}


def _density_total(c, url) -> int:
    return sum(f["properties"]["count"] for f in _get(c, url).json["features"])


def test_an_environment_officer_sees_the_environments_tickets_and_the_stations(app, world):  # noqa: F811
    c = _client(app, "env")
    urls = _layers(app, c, "?sector=environment")
    points = _ticket_communes(world, _get(c, urls["tickets"]).data)
    assert urls["scope"] == {"sectors": "environment"}
    assert points and {s for _c, s in points.values()} == {"MOITRUONG"}  # PA004 only
    assert _density_total(c, urls["density"]) == 1
    assert urls["cameras"] is None  # not their sector: the page does not ask (the server would refuse)
    stations = {f["id"] for f in _get(c, urls["stations"]).json["features"]}
    assert {"S-AIR", "S-WAT", "S-IOT"} <= stations  # the whole province
    assert urls["hideout"]["scope"] is None  # no commune limit: every commune coloured


def test_a_hotline_officer_limited_to_a_commune_sees_only_that_commune(app, world):  # noqa: F811
    c = _client(app, "hot1")
    urls = _layers(app, c, "?sector=hotline&commune=10001")
    points = _ticket_communes(world, _get(c, urls["tickets"]).data)
    assert urls["scope"] == {"sectors": "hotline", "communes": "10001"}
    assert len(points) >= 5 and {cm for cm, _s in points.values()} == {"10001"}
    assert len({s for _c, s in points.values()}) > 2  # the hotline sees every category
    root = _client(app, "root")
    whole = _density_total(root, urls["density"].replace("communes=10001", "commune=10001"))
    assert _density_total(c, urls["density"]) == whole > 0
    # the choropleth: 10001's value only, the others outlines "outside your scope"
    hide, choro = urls["hideout"], urls["choro"]
    assert hide["scope"] == ["10001"] and set(hide["values"]) <= {"10001"} and set(choro["raw"]) <= {"10001"}
    assert "10001" in hide["values"]
    assert any("Ngoài phạm vi của bạn" in e["label"] for e in choro["legend"])
    # the choropleth's endpoint the same, and refused without the user's communes
    for metric in ("tickets_open", "tickets_per_km2"):
        layer = _get(c, f"/api/map/communes.json?sector=hotline&commune=10001&communes=10001&metric={metric}").json
        assert set(layer["raw"]) == {"10001"} and set(layer["values"]) == {"10001"}, metric
    refused = c.get("/api/map/communes.json?sector=hotline&commune=10001&metric=tickets_open")
    assert refused.status_code == 403 and refused.json["reason"] == "out_of_scope"


def test_a_camera_officer_limited_to_a_commune_gets_its_cameras(app):
    c = _client(app, "cam2")
    urls = _layers(app, c, "?sector=security&commune=10002")
    assert urls["scope"] == {"sectors": "security", "communes": "10002"}
    cams = geobuf.decode(_get(c, urls["cameras"]).data)
    assert [f["properties"]["id"] for f in cams["features"]] == ["C6"]
    assert urls["stations"] is None
    points = md.decode_ticket_points(_get(c, urls["tickets"]).data)
    assert set(points["cats"]) <= set(md.SECTOR_SERVICES["security"]) and points["n"] == 1  # PA007 (ANTT, 10002)


def test_an_administrator_sees_the_province_as_before(app, world):  # noqa: F811
    c = _client(app, "root")
    urls = _layers(app, c, "?sector=all")
    assert urls["scope"] == {} and "sectors=" not in urls["tickets"] and "communes=" not in urls["tickets"]
    assert "communes=" not in urls["cameras"] and "communes=" not in urls["stations"]
    points = _ticket_communes(world, _get(c, urls["tickets"]).data)
    assert {cm for cm, _s in points.values()} == {"10001", "10002"}
    assert len(geobuf.decode(_get(c, urls["cameras"]).data)["features"]) == 5  # C5 has no position
    hide = urls["hideout"]
    assert hide["scope"] is None and set(urls["choro"]["raw"]) == {"10001", "10002", "10003"}
    assert not any("phạm vi" in e["label"] for e in urls["choro"]["legend"])
    assert json.dumps(urls["choro"]["legend"], ensure_ascii=False).count("Chưa có") <= 1
