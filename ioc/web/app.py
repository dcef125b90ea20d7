"""Dash app factory. Pages live in layouts/ and read everything through the read model
(``ioc/views``): the status page ``/``, the operators' wall ``/wall``, the leaders' mobile
view ``/m`` and the sector staff's map ``/map`` (its data endpoints: ``ioc/web/map_api.py``). Besides Dash's own routes it serves a few small JSON/static endpoints:

* ``GET /healthz`` — Redis and the database; ``GET /api/ping`` — nothing (a baseline for benchmarks);
* ``GET /metrics`` — Prometheus metrics, for loopback, IOC_METRICS_ALLOW or the IOC_METRICS_TOKEN
  bearer (``ioc/web/metrics.py``, docs/monitoring.md);
* ``GET /api/views/versions`` — the token per panel and the build id (tiny); the wall polls
  ``GET /api/views/wall`` instead, which also carries the changed panels' content
  (``ioc/web/wall_api.py``; a page reloads itself when the build id changes);
* ``GET /api/geo/communes.geojson`` — the communes' simplified outlines (cached by browsers);
* ``GET /sw.js``, ``GET /manifest.webmanifest`` — the mobile view's PWA files, from the root
  so the service worker's scope covers ``/m``;
* ``POST /api/alerts/ack`` — an operator acknowledges an alert (``ioc/web/alerts_api.py``).

Access control (``ioc/auth``, docs/security.md): ``/login``, ``/logout``, ``/enrol/<token>``, and a
guard before every route and Dash callback that checks the role against ``ioc.auth.registry``.
"""

from __future__ import annotations

import hashlib
import json

import dash
from flask import Flask, Response, request

from ioc.auth.web import install as install_auth
from ioc.i18n import t
from ioc.settings import PROJECT_ROOT, Settings, get_settings
from ioc.views.read import ReadModel
from ioc.web import alerts_api, health, map_api, metrics, security, wall_api

ASSETS = PROJECT_ROOT / "assets"
# what the app serves compressed (gzip/brotli/zstd by the client's Accept-Encoding)
COMPRESSED_TYPES = ["text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
                    "application/json", "application/manifest+json", "image/svg+xml"]


def build_id() -> str:
    """Changes when the code a page runs changes (layouts, assets, read model): an open wall
    that sees a new build id reloads itself instead of running old JavaScript against new callbacks."""
    h = hashlib.blake2b(digest_size=6)
    for folder in (PROJECT_ROOT / "layouts", ASSETS, PROJECT_ROOT / "ioc" / "views", PROJECT_ROOT / "ioc" / "web"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".js", ".css", ".webmanifest", ".svg", ".png"):
                h.update(path.name.encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def create_app(settings: Settings | None = None, read_model: ReadModel | None = None) -> dash.Dash:
    settings = settings or get_settings()
    views = read_model or ReadModel.from_settings(settings)
    server = Flask(__name__)
    # the map's binary layers (geobuf, ticket points) compress 3-4× like JSON; Flask-Compress skips
    # their types by default, and reads this setting once, when Dash enables it
    server.config["COMPRESS_MIMETYPES"] = [*COMPRESSED_TYPES, *map_api.COMPRESSED_MIMETYPES]
    app = dash.Dash(
        __name__,
        server=server,
        title="IOC Đồng Tháp",
        assets_folder=str(ASSETS),
        # the service worker is served from the root (/sw.js), never as a page script
        assets_ignore=r"sw\.js$",
        use_pages=True,
        pages_folder="",
        suppress_callback_exceptions=True,
        update_title=None,
        compress=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"},
                   {"name": "theme-color", "content": "#0f1623"}],
    )
    app.index_string = app.index_string.replace(
        "{%favicon%}", '{%favicon%}\n        <link rel="manifest" href="/manifest.webmanifest">').replace(
        # sign-out on every Dash page (hidden on the wall: assets/auth.css)
        "{%app_entry%}", f'{{%app_entry%}}\n        <a class="ioc-logout" href="/logout">{t("auth.logout", settings.language)}</a>')
    app.server.config["IOC_SETTINGS"] = settings
    app.server.config["IOC_READ_MODEL"] = views
    build = build_id()
    metrics.install(app, settings, views)  # first: its timer starts before the guard's check, GET /metrics
    install_auth(server, settings)  # the guard before every route and callback, /login, /logout, /enrol
    if settings.trusted_proxies:
        # behind nginx the peer is the proxy: the client's address (login throttling, audit) and
        # scheme (Secure cookies, HSTS) come from the headers of the trusted hops only
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=0, x_port=0, x_prefix=0)

    @app.server.get("/healthz")
    def healthz():
        body = health.check(settings)
        status = 200 if body["status"] == "ok" else 503
        return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")

    @app.server.get("/api/ping")
    def ping():  # the bare endpoint benchmarks compare callbacks with (no Redis, no SQL)
        return Response("ok", mimetype="text/plain", headers={"Cache-Control": "no-store"})

    @app.server.get("/api/views/versions")
    def view_versions():
        body = {"build": build, "versions": views.versions()}
        return Response(json.dumps(body), mimetype="application/json", headers={"Cache-Control": "no-store"})

    @app.server.get("/api/geo/communes.geojson")
    def communes_geojson():
        blob = views.atlas.geojson()
        etag = hashlib.blake2b(blob, digest_size=8).hexdigest()
        if request.if_none_match.contains(etag):
            return Response(status=304)
        res = Response(blob, mimetype="application/json", headers={"Cache-Control": "public, max-age=3600"})
        res.set_etag(etag)
        return res

    @app.server.get("/sw.js")
    def service_worker():
        return _asset("sw.js", "text/javascript", {"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"})

    @app.server.get("/manifest.webmanifest")
    def manifest():
        return _asset("manifest.webmanifest", "application/manifest+json", {"Cache-Control": "public, max-age=3600"})

    from layouts import map as sector_map
    from layouts import briefings, mobile, not_found, status, wall

    map_api.register(app.server, views)
    alerts_api.register(app.server, views)  # POST /api/alerts/ack
    wall_api.register(app.server, settings, views, build)  # GET /api/views/wall
    dash.register_page("status", path="/", name="Trạng thái", layout=status.layout)
    dash.register_page("wall", path="/wall", name="Màn hình tường", layout=wall.layout)
    dash.register_page("mobile", path="/m", name="Lãnh đạo", layout=mobile.layout)
    dash.register_page("map", path="/map", name="Bản đồ", layout=sector_map.layout)
    dash.register_page("briefings", path="/briefings", name="Bản tin", layout=briefings.layout)
    # any other path (Dash looks the page up by this module name)
    dash.register_page("not_found_404", path="/404", name="Không tìm thấy trang", layout=not_found.layout)
    for page in (status, wall, mobile, sector_map, briefings):
        page.register(app, settings, views)
    security.install(app, settings, extra_scripts=(mobile.SCRIPT,))  # headers, CSP, request limits
    app.layout = dash.html.Div([
        # the UI language: IOC_LANGUAGE by default, the user's choice once made (kept in the browser)
        dash.dcc.Store(id="lang", storage_type="local", data=settings.language),
        dash.page_container,
    ])
    return app


def _asset(name: str, mimetype: str, headers: dict) -> Response:
    path = ASSETS / name
    if not path.is_file():
        return Response(status=404)
    return Response(path.read_bytes(), mimetype=mimetype, headers=headers)
