"""Security headers, the Content-Security-Policy's inline-script hashes and request limits on
every response of the product's app (ioc/web/security.py). The browser half — the pages render
under this policy with no violation — is tests/browser/test_security.py."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from ioc.auth.testing import signed_in_client
from ioc.db.migrate import upgrade
from ioc.db.session import make_engine
from ioc.settings import load_settings
from ioc.web.app import create_app
from ioc.web.security import MAX_BODY, policy

URLS = ["/", "/wall", "/m", "/map", "/briefings", "/api/ping", "/healthz", "/api/views/versions", "/_dash-layout",
        "/_dash-dependencies", "/assets/wall.css", "/sw.js", "/manifest.webmanifest", "/api/map/options.json",
        "/no/such/page", "/api/map/ticket/NOPE", "/m/parts?p=day"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("websec")
    settings = load_settings(database_url=f"sqlite:///{root / 'ioc.db'}", redis_url="redis://127.0.0.1:1/0",
                             data_dir=root, basemap_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    upgrade(make_engine(settings.effective_database_url))
    return create_app(settings)


@pytest.fixture(scope="module", params=["anonymous", "admin"])
def client(app, request):
    # the headers go on every answer: the guard's redirects and refusals as much as the pages
    return app.server.test_client() if request.param == "anonymous" else signed_in_client(app, "admin")


@pytest.fixture(scope="module")
def admin(app):
    return signed_in_client(app, "admin")


def _csp(res) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in res.headers["Content-Security-Policy"].split("; ")}


@pytest.mark.parametrize("url", URLS)
def test_every_response_carries_the_headers(client, url):
    res = client.get(url)
    csp = _csp(res)
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Referrer-Policy"] == "same-origin" and res.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in res.headers  # plain HTTP here; HTTPS gets it
    assert client.get(url, base_url="https://ioc.example").headers["Strict-Transport-Security"]


def _inline_scripts(page: str) -> list[str]:
    out = []
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)  # Dash's IE warning sits in a conditional comment
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S):
        if "src=" in attrs or "application/json" in attrs:
            continue  # a file (script-src 'self') or data Dash never runs
        out.append(body)
    return out


@pytest.mark.parametrize("url", ["/", "/wall", "/m", "/map", "/briefings"])
def test_every_inline_script_of_a_page_is_allowed_by_its_hash(admin, url):
    res = admin.get(url)
    assert res.status_code == 200, res.status_code
    allowed = set(_csp(res)["script-src"])
    scripts = _inline_scripts(res.data.decode())
    assert scripts, "the page has inline scripts to check"
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, body[:120]


def test_the_basemap_host_may_serve_images_only():
    csp = policy([], "https://{s}.tile.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://*.tile.example.org" in csp
    assert "connect-src 'self';" in csp
    assert "img-src 'self' data: blob:;" in policy([], None)


def test_request_bodies_are_limited(admin):
    res = admin.post("/_dash-update-component", data=b"{" + b" " * MAX_BODY + b"}", content_type="application/json",
                     headers={"Origin": "http://localhost"})
    assert res.status_code == 413 and res.json == {"error": "request body too large"}
    assert res.headers["X-Content-Type-Options"] == "nosniff"
