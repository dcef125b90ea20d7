"""Dash app factory. Pages live in layouts/; shared state is read from Redis only."""

from __future__ import annotations

import json

import dash
from flask import Response

from ioc.settings import PROJECT_ROOT, Settings, get_settings
from ioc.web import health


def create_app(settings: Settings | None = None) -> dash.Dash:
    settings = settings or get_settings()
    app = dash.Dash(
        __name__,
        title="IOC Đồng Tháp",
        assets_folder=str(PROJECT_ROOT / "assets"),
        suppress_callback_exceptions=True,
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.server.config["IOC_SETTINGS"] = settings

    @app.server.get("/healthz")
    def healthz():
        body = health.check(settings)
        status = 200 if body["status"] == "ok" else 503
        return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")

    from layouts import status

    status.register(app, settings)
    app.layout = status.layout
    return app
