"""A sector user limited to communes sees only the records of those communes, and no
province-wide figure (ioc/auth/scope.py: limited_communes, check_record, sees_province): the
station layer, a ticket, camera or station opened by id, the commune panel's province column;
revealing personal data needs the hotline sector and the ticket's commune (ioc/views/privacy.py).

The map endpoints run behind a stand-in for the access-control layer that puts the principal
named by a header where ioc/auth puts the signed-in user's (as tests/views/test_privacy.py)."""

from __future__ import annotations

from flask import Flask, g, request
from test_map_world import PII, RANGE, world  # noqa: F401

from ioc.views import mapdata as md
from ioc.views import privacy
from ioc.views.privacy import Principal
from ioc.web import map_api

EVERY = ("hotline", "cameras", "environment", "procedures")
# communes 10001 and 10002 hold tickets, cameras and stations (tests/views/test_map_world.py)
LIMITED = Principal(name="lan", role="sector", sectors=EVERY, communes=("10001",), pii=True)
WHOLE = Principal(name="tuan", role="sector", sectors=EVERY, pii=True)
NO_HOTLINE = Principal(name="hoa", role="sector", sectors=("environment",), communes=("10001",), pii=True)
ADMIN = Principal(name="root", role="admin", pii=True)
Q = "&".join(f"{k}={v}" for k, v in RANGE.items())
REASON = "reason=x%C3%A1c%20minh%20ph%E1%BA%A3n%20%C3%A1nh"


def _client(views):
    app = Flask("scope-test")
    people = {p.name: p for p in (LIMITED, WHOLE, NO_HOTLINE, ADMIN)}

    @app.before_request
    def who():
        p = people.get(request.headers.get("X-Test-User", ""))
        if p is not None:
            g.ioc_principal = p

    map_api.register(app, views)
    cl = app.test_client()
    return lambda user, url: cl.get(url, headers={"X-Test-User": user})


def _log(views) -> list[dict]:
    return privacy.access_log(views.engine(), ADMIN)


def test_the_station_layer_holds_only_the_users_communes(world):
    get = _client(world)
    everything = {f["id"] for f in get("tuan", "/api/map/stations.json").json["features"]}
    assert {"S-AIR", "S-WAT", "S-IOT"} <= everything  # the whole province: 10001, 10002, 10003
    limited = {f["id"] for f in get("lan", "/api/map/stations.json").json["features"]}
    assert limited == {"S-AIR", "S-IOT"}  # the stations of 10001 only


def test_records_opened_by_id_outside_the_users_communes_are_refused(world):
    get = _client(world)
    inside = ["/api/map/ticket/PA001", "/api/map/camera/C1", "/api/map/station/S-AIR?range=24h"]
    outside = ["/api/map/ticket/PA007", "/api/map/camera/C6", "/api/map/camera/C6/snapshot.jpg",
               "/api/map/station/S-WAT?range=24h"]
    assert [u for u in inside if get("lan", u).status_code != 200] == []
    for url in outside:
        res = get("lan", url)
        assert res.status_code == 403 and res.json["reason"] == "out_of_scope", url
        assert "10001" in res.json["error"], url
        assert get("tuan", url).status_code in (200, 502), url  # a user of the whole province: allowed
    # the side panel of /map says so instead of showing the record
    from layouts import map_panel as pm
    from test_map_page import text_of

    with Flask("panel").test_request_context():
        g.ioc_principal = LIMITED
        for kind, ident in (("ticket", "PA007"), ("camera", "C6"), ("station", "S-WAT")):
            _, _, body, _ = pm.object_section(world, {"kind": kind, "id": ident}, "24h", "vi")
            assert "ngoài phạm vi tài khoản" in text_of(body), (kind, ident)


def test_the_commune_panel_has_no_province_column_for_a_user_limited_to_communes(world):
    get = _client(world)
    whole = get("tuan", f"/api/map/commune/10001?{Q}").json
    limited = get("lan", f"/api/map/commune/10001?{Q}").json
    assert "Toàn tỉnh" in whole["columns"] and all(r["province"] is not None for r in whole["rows"])
    assert "Toàn tỉnh" not in limited["columns"] and len(limited["columns"]) == len(whole["columns"]) - 1
    assert all(r["province"] is None for r in limited["rows"])
    assert [r["value"] for r in limited["rows"]] == [r["value"] for r in whole["rows"]]  # their own figures stay


def test_revealing_personal_data_needs_the_hotline_sector_and_the_tickets_commune(world):
    get = _client(world)
    ticket_outside = get("lan", f"/api/map/ticket/PA007?reveal=1&{REASON}")
    assert ticket_outside.status_code == 403 and not any(s in ticket_outside.get_data(as_text=True) for s in PII)
    # an environment officer with pii: the reporters are the hotline's
    for url in (f"/api/map/ticket/PA001?reveal=1&{REASON}",
                f"/api/map/list.json?commune=10001&kind=tickets&reveal=1&{REASON}&{Q}",
                f"/api/map/export.csv?commune=10001&kind=tickets&reveal=1&{REASON}&{Q}"):
        res = get("hoa", url)
        assert res.status_code == 403 and "hotline" in res.json["error"], url
    # a list or export of another commune, asked of the read model directly: refused, not logged
    reveal = privacy.reveal_for(LIMITED, True, "xác minh phản ánh")
    f = md.filters_for(world, RANGE)
    for call in (lambda: md.commune_list(world, "10002", "tickets", f, reveal=reveal),
                 lambda: md.list_all(world, "10002", "tickets", f, reveal=reveal)):
        try:
            call()
        except privacy.PiiDenied as err:
            assert "10002" in str(err)
        else:
            raise AssertionError("a reveal outside the user's communes was allowed")
    assert _log(world) == []  # refused reveals are not logged as reveals
    shown = get("lan", f"/api/map/ticket/PA001?reveal=1&{REASON}")
    assert shown.status_code == 200 and shown.json["person"]["reporter_phone"] == PII[1]
    assert [e["record_ids"] for e in _log(world)] == [["PA001"]]


def test_the_reveal_button_is_only_offered_to_who_may_reveal(world):
    from layouts import map_panel as pm

    sel = {"kind": "ticket", "id": "PA001"}
    with Flask("panel").test_request_context():
        for who, offered in ((LIMITED, True), (NO_HOTLINE, False)):
            g.ioc_principal = who
            _, _, body, _ = pm.object_section(world, sel, "24h", "vi")
            assert ("map-reveal-go" in str(body)) is offered, who.name
        shown = pm.reveal_section(world, sel, "xác minh phản ánh", "vi")  # NO_HOTLINE asks anyway
    assert not any(s in str(shown) for s in PII) and _log(world) == []


def test_the_commune_panel_shows_only_the_rows_of_the_users_sectors(world):
    get = _client(world)
    every = get("lan", f"/api/map/commune/10001?{Q}").json  # all four sectors
    assert {r["key"].split("_")[0] for r in every["rows"]} >= {"hotline", "cameras", "dossiers", "qd766"}
    env_only = get("hoa", f"/api/map/commune/10001?{Q}")  # environment only: no 1022, camera or dossier row
    assert env_only.status_code == 200
    assert [r["key"] for r in env_only.json["rows"]] == [r["key"] for r in every["rows"] if r["key"] == "aqi_max"]
    admin = get("root", f"/api/map/commune/10001?{Q}").json
    assert [r["key"] for r in admin["rows"]] == [r["key"] for r in every["rows"]]
