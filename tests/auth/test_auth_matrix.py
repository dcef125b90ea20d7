"""The role × route/callback matrix, generated from the app's own registry: every Flask rule
(``app.url_map``), every Dash callback (``app.callback_map``) and every page must have an access
rule (ioc/auth/registry.py), and each role gets exactly what ioc.auth.roles.AREAS says, over real
HTTP requests to the app (Flask's test client: the whole WSGI stack, guard included)."""

from __future__ import annotations

import json
import re

import dash
import pytest

from ioc.auth import registry
from ioc.auth.roles import AREAS, DEVICE
from ioc.auth.testing import enrol, enrol_link

PRINCIPALS = ("anonymous", "admin", "operator", "leader", "sector", DEVICE)
# a value for each converter of a rule, so that the rule matches
SAMPLE = {"path": "x/y", "string": "x", "int": "1", "default": "x"}
_VAR = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
ORIGIN = {"Origin": "http://localhost"}


def sample_url(rule) -> str:
    def fill(m):
        conv = m.group(1) or "default"
        if m.group(2) == "path" and rule.endpoint == "/<path:path>":
            return "no-such-page"
        return SAMPLE.get(conv, "x")

    return _VAR.sub(fill, rule.rule)


@pytest.fixture(scope="module")
def everyone(auth_app, clients):
    device = auth_app.server.test_client()
    url = auth_app.server.config["IOC_SETTINGS"].effective_database_url
    assert enrol(device, enrol_link(url, "matrix-wall")).status_code == 303
    return {**clients, DEVICE: device}


def test_every_route_has_a_rule(auth_app):
    missing = sorted({r.endpoint for r in auth_app.server.url_map.iter_rules()} - set(registry.ENDPOINTS))
    assert not missing, f"routes without an access rule in ioc/auth/registry.py ENDPOINTS: {missing}"
    unknown = {a for a in registry.ENDPOINTS.values()} - set(AREAS) - {registry.PAGE, registry.CALLBACK,
                                                                       registry.METRICS}
    assert not unknown


def test_every_callback_and_page_has_a_rule(auth_app):
    assert len(auth_app.callback_map) > 20  # the pages' callbacks included (added at the first request)
    missing = [k for k in auth_app.callback_map if registry.callback_area(k) is None]
    assert not missing, f"callbacks whose outputs name no page in ioc/auth/registry.py: {missing}"
    for page in dash.page_registry.values():
        assert page["path"] in registry.PAGES, f"page {page['path']} has no area in registry.PAGES"
    assert "/m" in registry.PAGES  # the mobile page is a Flask route, not a Dash page


def test_a_route_or_callback_without_a_rule_is_refused(auth_app, everyone, monkeypatch):
    monkeypatch.delitem(registry.ENDPOINTS, "ping")
    assert everyone["admin"].get("/api/ping").status_code == 403
    res = everyone["admin"].post("/_dash-update-component", headers=ORIGIN,
                                 json={"output": "nobody-knows.children", "outputs": {"id": "nobody-knows",
                                                                                       "property": "children"},
                                       "inputs": [], "state": [], "changedPropIds": []})
    assert res.status_code == 403 and res.json["reason"] == "no_rule"


def _expected(area: str, who: str) -> set[int]:
    if who in AREAS[area]:
        return set()  # anything but a refusal
    return {401} if who == "anonymous" else {403}


def _refused(status: int) -> bool:
    return status in (401, 403)


def route_cases(app):
    for rule in app.server.url_map.iter_rules():
        area = registry.ENDPOINTS[rule.endpoint]
        if area == registry.CALLBACK:
            continue
        url = sample_url(rule)
        if area == registry.PAGE:
            area = registry.page_area(url)
        elif area == registry.METRICS:
            area = "public"  # the test client comes from loopback; other addresses: test_metrics_by_address
        method = "GET" if "GET" in rule.methods else "POST"
        yield rule.endpoint, method, url, area


def test_role_matrix_over_every_route(auth_app, everyone):
    wrong = []
    for endpoint, method, url, area in route_cases(auth_app):
        for who in PRINCIPALS:
            if endpoint in ("auth.logout", "auth.login", "auth.enrol") and method == "POST":
                continue
            res = everyone[who].open(url, method=method, headers=ORIGIN, json={} if method == "POST" else None)
            expected = _expected(area, who)
            status = res.status_code
            if who == "anonymous" and expected == {401} and endpoint in ("/", "/<path:path>", "mobile_page"):
                ok = status == 303 and res.headers["Location"].startswith("/login?next=")
            elif expected:
                ok = status in expected
            else:
                ok = not _refused(status)
            if not ok:
                wrong.append(f"{who} {method} {url} ({area}) → {status}")
    assert not wrong, "\n".join(wrong)


def test_metrics_by_address(everyone):
    """/metrics is decided by the network, not the role: from outside loopback (and without
    IOC_METRICS_ALLOW or the token) every principal is refused alike."""
    for who, client in everyone.items():
        res = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.20"})
        assert res.status_code == 403 and res.json["reason"] == "metrics_forbidden", who
        assert client.get("/metrics").status_code == 200, who


def callback_body(key: str, spec: dict, path: str = "/") -> dict:
    def one(dep):
        ident, prop = dep["id"], dep["property"]
        value = None
        if ident == "_pages_location":
            value = path if prop == "pathname" else ""
        if ident.startswith("{"):
            return [{"id": {**json.loads(ident), "gen": "x"} if "gen" in ident else json.loads(ident),
                     "property": prop, "value": None}]
        return {"id": ident, "property": prop, "value": value}

    outs = []
    for part in key.strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outs.append({"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop.split("@")[0]})
    return {"output": key, "outputs": outs if key.startswith("..") else outs[0],
            "inputs": [one(d) for d in spec.get("inputs", [])], "state": [one(d) for d in spec.get("state", [])],
            "changedPropIds": []}


def test_role_matrix_over_every_callback(auth_app, everyone):
    wrong = []
    for key, spec in auth_app.callback_map.items():
        area = registry.callback_area(key)
        paths = list(registry.PAGES) if area == registry.PAGE else ["/"]
        for path in paths:
            want_area = registry.page_area(path) if area == registry.PAGE else area
            for who in PRINCIPALS:
                res = everyone[who].post("/_dash-update-component", json=callback_body(key, spec, path),
                                         headers=ORIGIN)
                expected = _expected(want_area, who)
                ok = res.status_code in expected if expected else not _refused(res.status_code)
                if not ok:
                    wrong.append(f"{who} callback {key[:70]} ({want_area}, page {path}) → {res.status_code}")
    assert not wrong, "\n".join(wrong)


def test_the_matrix_says_what_the_issue_says():
    """The role table of issue 14 and docs/security.md, read back from AREAS."""
    def areas_of(role):
        return {a for a, who in AREAS.items() if role in who and a not in ("public", "signed_in", "person")}

    assert areas_of("admin") == {"status", "wall", "map", "mobile", "briefings", "alerts_ack"}
    assert areas_of("operator") == {"status", "wall", "map", "alerts_ack"}
    assert areas_of("leader") == {"status", "wall", "map", "mobile", "briefings"}
    assert areas_of("sector") == {"map"}
    assert areas_of(DEVICE) == {"wall"}


def test_a_callback_post_from_another_site_is_refused(everyone):
    body = {"output": "map-badges.children", "outputs": {"id": "map-badges", "property": "children"},
            "inputs": [], "state": [], "changedPropIds": []}
    admin = everyone["admin"]
    assert admin.post("/_dash-update-component", json=body,
                      headers={"Origin": "https://evil.example"}).status_code == 403
    assert admin.post("/_dash-update-component", json=body).status_code == 403  # neither Origin nor Sec-Fetch-Site
    assert admin.post("/_dash-update-component", json=body,
                      headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert not _refused(admin.post("/_dash-update-component", json=body,
                                   headers={"Sec-Fetch-Site": "same-origin"}).status_code)
