"""Data endpoints of the sector map ``/map`` (docs/views.md § The sector map /map — data
endpoints). Each reads through the read model (``ioc.views.mapdata``), never SQL or Redis
directly. Language from ``?lang=vi|en`` (default ``IOC_LANGUAGE``). Bad parameters → HTTP
400 ``{"error": "one line"}``; unknown ids → 404; the database not answering → 503; every
answer ``Cache-Control: no-store`` except the legends."""

from __future__ import annotations

import json
import logging
from functools import wraps

from flask import Response, request
from sqlalchemy.exc import DBAPIError

from ioc.auth.scope import OutOfScope
from ioc.i18n import t
from ioc.views import mapdata, privacy
from ioc.views.exports import content_disposition, filename

log = logging.getLogger("ioc.web")

NO_STORE = {"Cache-Control": "no-store"}
GEOBUF_MIMETYPE = "application/x-protobuf"
POINTS_MIMETYPE = "application/x-ioc-points"  # the ticket points' columns (map_layers.encode_ticket_points)
# binary layers the app compresses like JSON (ioc/web/app.py; Flask-Compress skips unknown types)
COMPRESSED_MIMETYPES = (GEOBUF_MIMETYPE, POINTS_MIMETYPE)


class BadInput(ValueError):
    pass


def _json(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status,
                    mimetype="application/json", headers=headers or NO_STORE)


def _error(status: int, message: str) -> Response:
    return _json({"error": " ".join(str(message).split())[:300]}, status)


def register(server, views) -> None:
    settings = views.settings

    def lang() -> str:
        value = (request.args.get("lang") or settings.language).strip()
        if value not in ("vi", "en"):
            raise BadInput(f"bad lang {value[:10]!r}: vi or en")
        return value

    def filters() -> mapdata.MapFilters:
        return mapdata.filters_for(views, request.args)

    def int_arg(name: str, default: int) -> int:
        raw = request.args.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadInput(f"bad {name} {raw[:20]!r}: a whole number") from None

    def bool_arg(name: str) -> bool:
        raw = (request.args.get(name) or "").strip().lower()
        if raw in ("", "0", "false", "no"):
            return False
        if raw in ("1", "true", "yes"):
            return True
        raise BadInput(f"bad {name} {raw[:20]!r}: true or false")

    def reveal() -> privacy.Reveal | None:
        """``?reveal=1&reason=…``: personal data unmasked, for a principal with ``pii`` (403
        otherwise; 400 without a reason); the read model logs the access."""
        return privacy.reveal_for(privacy.current_principal(), bool_arg("reveal"), request.args.get("reason"))

    def route(rule: str, name: str):
        def deco(fn):
            @wraps(fn)
            def wrapper(**kwargs):
                try:
                    if any("\x00" in str(v) for v in [*request.args.values(), *kwargs.values()]):
                        raise BadInput("a parameter holds a NUL character")
                    return fn(**kwargs)
                except mapdata.NotFound as err:
                    return _error(404, str(err))
                except privacy.PiiDenied as err:
                    return _error(403, str(err))
                except OutOfScope as err:  # a record opened by id outside the user's communes
                    return _json({"error": str(err), "reason": "out_of_scope"}, 403)
                except ValueError as err:  # BadInput, MapFilters, PeriodError …: the caller's mistake
                    return _error(400, str(err))
                except DBAPIError:
                    log.exception("map endpoint %s: database error", rule)
                    return _error(503, "the database is not answering; try again in a minute")

            server.add_url_rule(rule, endpoint=f"map_api.{name}", view_func=wrapper, methods=["GET"])
            return wrapper

        return deco

    def binary(body: bytes, headers: dict, mimetype: str = GEOBUF_MIMETYPE) -> Response:
        # the app compresses these types like JSON (ioc/web/app.py)
        return Response(body, mimetype=mimetype, headers={**NO_STORE, **headers})

    @route("/api/map/communes.json", "communes")
    def communes():
        metric = (request.args.get("metric") or "tickets_per_km2").strip()
        return _json(mapdata.communes_layer(views, metric, filters(), lang()))

    @route("/api/map/tickets.bin", "tickets")
    def tickets():
        body, missing = mapdata.ticket_points(views, filters())
        return binary(body, {"X-Without-Location": str(missing)}, POINTS_MIMETYPE)

    @route("/api/map/density.json", "density")
    def density():
        return _json(mapdata.density(views, filters(), lang()))

    @route("/api/map/cameras.geobuf", "cameras")
    def cameras():
        body, missing = mapdata.cameras_geobuf(views, filters())
        return binary(body, {"X-Without-Location": str(missing)})

    @route("/api/map/stations.json", "stations")
    def stations():
        return _json(mapdata.stations_layer(views, lang(), communes=filters().communes))

    @route("/api/map/ticket/<path:external_id>", "ticket")
    def ticket(external_id: str):
        return _json(mapdata.ticket_detail(views, external_id, lang(), reveal=reveal()))

    @route("/api/map/station/<path:station_id>", "station")
    def station(station_id: str):
        rng = (request.args.get("range") or "24h").strip()
        return _json(mapdata.station_series(views, station_id, rng, lang()))

    @route("/api/map/camera/<camera_id>", "camera")
    def camera(camera_id: str):
        return _json(mapdata.camera_detail(views, camera_id, lang()))

    @route("/api/map/camera/<camera_id>/snapshot.jpg", "camera_snapshot")
    def camera_snapshot(camera_id: str):
        status, body, ctype = mapdata.camera_snapshot(views, camera_id)
        # an image, never a document: nothing in it may run or load anything, even opened alone
        return Response(body, status=status, mimetype=ctype.split(";")[0],
                        headers={**NO_STORE, "Content-Security-Policy": "default-src 'none'; sandbox"})

    @route("/api/map/commune/<code>", "commune")
    def commune(code: str):
        f, lg = filters(), lang()
        return _json(mapdata.commune_panel(views, code, f, lg).model_dump())

    def list_args() -> dict:
        code = (request.args.get("commune") or "").strip()
        if not code:
            raise BadInput("commune is required (a 5-digit commune code)")
        sort = (request.args.get("sort") or "").strip() or None
        return {"code": code, "kind": (request.args.get("kind") or "tickets").strip(), "sort": sort,
                "desc": bool_arg("desc"), "query": request.args.get("query") or ""}

    @route("/api/map/list.json", "list")
    def list_page():
        a, f, lg = list_args(), filters(), lang()
        page = mapdata.commune_list(views, a["code"], a["kind"], f, sort=a["sort"], desc=a["desc"],
                                    page=int_arg("page", 0), page_size=int_arg("page_size", 20), query=a["query"],
                                    lang=lg, reveal=reveal())
        return _json(page.model_dump())

    def export(ext: str) -> Response:
        a, f, lg = list_args(), filters(), lang()
        columns, _total, rows = mapdata.list_all(views, a["code"], a["kind"], f, sort=a["sort"], desc=a["desc"],
                                                 query=a["query"], lang=lg, reveal=reveal(),
                                                 surface=f"map.export.{ext}")
        name = filename(a["kind"], a["code"], f.start.isoformat(), f.end.isoformat(), ext=ext)
        if ext == "csv":
            body, mime = mapdata.to_csv(columns, rows), "text/csv; charset=utf-8"
        else:
            body = mapdata.to_xlsx(columns, rows, sheet=a["kind"])
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(body, headers={**NO_STORE, "Content-Type": mime,
                                       "Content-Disposition": content_disposition(name)})

    @route("/api/map/export.csv", "export_csv")
    def export_csv():
        return export("csv")

    @route("/api/map/export.xlsx", "export_xlsx")
    def export_xlsx():
        return export("xlsx")

    @route("/api/map/options.json", "options")
    def options():
        lg = lang()
        return _json({"sectors": mapdata.sector_options(lg), "sector_defaults": mapdata.SECTOR_DEFAULTS,
                      "services": mapdata.services(views, lg), "metrics": [
                          {"code": k, "name": t(f"sm.metric.{k}", lg)} for k in mapdata.METRICS],
                      "legends": mapdata.point_legends(lg),
                      "filters": mapdata.filters_for(views, {}).model_dump(mode="json")},
                     headers={"Cache-Control": "private, max-age=60"})
