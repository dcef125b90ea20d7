"""``POST /api/alerts/ack`` ``{"key": "<rule:subject>"}``: an operator acknowledges an active
alert (the same rule as ``ioc kpi ack``: ioc.kpi.orchestrator.ack_alert, audited). Who
acknowledges is the signed-in user, never a name the browser sends. Roles: admin, operator
(ioc.auth.registry). Answers 200 with the acknowledgement, 400/404 with one line."""

from __future__ import annotations

import json

from flask import Response, request

from ioc.auth import current_principal
from ioc.kpi.orchestrator import AckError, ack_alert


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def register(server, views) -> None:
    @server.post("/api/alerts/ack", endpoint="alerts_ack")
    def alerts_ack():
        body = request.get_json(silent=True)
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key.strip() or len(key) > 300:
            return _json({"error": 'send {"key": "<alert key>"} (see `ioc kpi alerts`)'}, 400)
        try:
            return _json(ack_alert(views.engine(), views.store, key.strip(), current_principal().name))
        except AckError as err:
            return _json({"error": " ".join(str(err).split())[:300]}, 404)
