"""The access rule of every route and every Dash callback: an area of ioc.auth.roles.AREAS.

A Flask endpoint without a rule here, a Dash callback whose outputs name no known page, or a page
path without an area, is refused at run time (fail closed) and fails
tests/auth/test_matrix.py, which walks ``app.url_map`` and ``app.callback_map``."""

from __future__ import annotations

import json

# pseudo-areas decided per request
PAGE = "page"  # Dash's page routes: the area of the page at that path (PAGES)
CALLBACK = "callback"  # Dash's callback route: the area of the callback's outputs (callback_area)
# Prometheus scrapes (/metrics): no person, decided by the network: loopback, IOC_METRICS_ALLOW or
# the IOC_METRICS_TOKEN bearer token (ioc.web.metrics.allowed); a signed-in role alone does not open it
METRICS = "metrics"

ENDPOINTS: dict[str, str] = {
    # code and files without data: the login page uses the same style sheets
    "static": "public",
    "_dash_assets.static": "public",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": "public",
    "/_favicon.ico": "public",
    "service_worker": "public",
    "manifest": "public",
    "healthz": "public",  # monitoring: says whether Redis and SQL answer, nothing of their content
    "metrics": METRICS,
    "auth.login": "public",
    "auth.logout": "public",
    "auth.enrol": "public",  # the one-time token in the link is the credential
    # Dash's own
    "/_dash-layout": "signed_in",
    "/_dash-dependencies": "signed_in",
    "/_reload-hash": "signed_in",
    "/_dash-update-component": CALLBACK,
    "/": PAGE,
    "/<path:path>": PAGE,
    # the product's data
    "ping": "signed_in",  # no data, but the benchmarks' baseline must pay the same guard as the rest
    "view_versions": "signed_in",
    "communes_geojson": "signed_in",
    "wall_feed": "wall",
    "mobile_page": "mobile",
    "mobile_parts": "mobile",
    "briefing_pdf": "briefings",
    "alerts_ack": "alerts_ack",
    **{f"map_api.{name}": "map" for name in (
        "communes", "tickets", "density", "cameras", "stations", "ticket", "station", "camera", "camera_snapshot",
        "commune", "list", "export_csv", "export_xlsx", "options")},
}

PAGES: dict[str, str] = {"/": "status", "/wall": "wall", "/map": "map", "/briefings": "briefings", "/m": "mobile",
                         "/404": "signed_in"}  # layouts/not_found.py, also shown for any unknown path

# The component ids a callback writes tell its page. Exact ids first, then prefixes.
CALLBACK_IDS: dict[str, str] = {
    # the status page /
    **{i: "status" for i in ("title", "kpis-title", "kpi-tiles", "sources-title", "lang-toggle", "link-wall",
                             "link-mobile", "link-map", "link-briefings", "source-cards", "updated")},
    "lang": "person",  # the language switch of any page: a browser-side choice
    "_pages_dummy": "signed_in",  # Dash pages: the document title
    "_pages_content": PAGE,  # Dash pages: a page's layout, by the path asked (its input)
    "_pages_store": PAGE,
}
CALLBACK_PREFIXES: tuple[tuple[str, str], ...] = (
    ("wall-", "wall"), ("map-", "map"), ("briefings-", "briefings"), ("m-", "mobile"))


def page_area(path: str) -> str:
    """The area of a page path; an unknown path is Dash's "not found" page for anyone signed in."""
    path = "/" + path.strip("/") if path not in ("", "/") else "/"
    return PAGES.get(path, "signed_in")


def output_ids(output_key: str) -> list[str]:
    """Component ids of a callback's output key as Dash writes it (``a.prop``,
    ``..a.p...b.q..``, ``{"type":"x",…}.prop``, ``a.prop@hash`` for duplicate outputs)."""
    out = []
    for part in output_key.strip(".").split("..."):
        ident = part.rsplit(".", 1)[0]
        if ident.startswith("{"):
            try:
                ident = str(json.loads(ident).get("type", ""))
            except ValueError:
                ident = ""
        out.append(ident)
    return out


def id_area(ident: str) -> str | None:
    if ident in CALLBACK_IDS:
        return CALLBACK_IDS[ident]
    for prefix, area in CALLBACK_PREFIXES:
        if ident.startswith(prefix):
            return area
    return None


def callback_area(output_key: str) -> str | None:
    """The one area of all the callback's outputs, or None (unknown, or outputs of two pages)."""
    areas = {id_area(i) for i in output_ids(output_key)}
    return areas.pop() if len(areas) == 1 and None not in areas else None
