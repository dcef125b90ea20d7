"""Sector staff's map `/map`: start from the province map, end at the records behind a number.

* **Layers** (dash-leaflet, a layer control top right): the communes coloured by a chosen
  indicator, 1022 requests as clustered points and as a density grid, cameras clustered and
  marked by status, stations in their official category colours. The browser loads each layer
  by URL from ``/api/map/*`` (ioc/web/map_api.py); styles and markers are functions in
  assets/sector_map.js (``Namespace("ioc", "sectorMap")``). The layers are in the first layout;
  afterwards a filter changes only the props it concerns (``layers``), and the ticket points are
  downloaded once for the year up to the range's end (``ticket_window``) and kept by start and end
  day (each judged at the end), status and category in the browser (``ioc_map.tickets``,
  ``TICKET_RULES``): docs/views.md § the page.
* **Filters** (period, category, sector, status, commune), the indicator, the layers, the view
  and the selection live in the URL query, so a link opens the same view: ``layout()`` reads
  the query; a clientside callback writes it back with ``history.replaceState`` (a
  ``dcc.Location`` update would push a location that Dash's page router answers by rendering
  the whole page again).
* **Drill-down** in the side panel: a commune's figures against the province and the previous
  period, its lists (paged, sorted and searched in the database) with CSV/XLSX links for
  exactly the list on screen; a station's series against its official thresholds (inline SVG);
  a camera's status history and snapshot; a request's facts (no reporter data).

Everything is read through ``ioc.views.mapdata``; callbacks call it directly (the JSON
endpoints are for the browser's layers and the downloads). Texts in ``ioc/i18n.py`` (``mp.*``
for the page, ``sm.*`` for the read model's); Vietnamese by default, the app-wide ``lang``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Mapping
from urllib.parse import quote, urlencode

import dash_leaflet as dl
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dash_table, dcc, html, no_update
from dash_extensions.javascript import Namespace

from ioc.i18n import t
from ioc.views import mapdata as md
from ioc.views import text
from layouts.components import FRESH_ICON
from layouts.map_details import (CAMERA_SYMBOLS, TICKET_SYMBOLS, camera_body, category_strip, ink,  # noqa: F401
                                 series_svg, snapshot_state, station_body, ticket_body)

log = logging.getLogger("ioc.web.map")

_ns = Namespace("ioc", "sectorMap")

LAYERS = ("communes", "density", "tickets", "cameras", "stations")
METRICS = tuple(md.METRICS)
SECTORS = tuple(md.SECTORS)
STATUSES = tuple(md.STATUSES)
LIST_KINDS = tuple(md.LIST_KINDS)
RANGES = tuple(md.RANGES)
FILTER_KEYS = ("start", "end", "service", "sector", "status", "cam_status", "commune")
# A sector switches on its layers (the communes, and what the read model says the sector looks
# at first), colours the communes by its indicator and opens its list.
SECTOR_LAYERS = {s: ["communes", *[x for x in d["layers"] if x in LAYERS]] for s, d in md.SECTOR_DEFAULTS.items()}
# all sectors: the communes and the requests (every layer at once hides the province under markers)
SECTOR_LAYERS["all"] = ["communes", "tickets"]
SECTOR_METRIC = {s: d["metric"] for s, d in md.SECTOR_DEFAULTS.items()}
SECTOR_LIST = {"hotline": "tickets", "security": "cameras_offline", "procedures": "dossiers_overdue"}
# the province (lat, lon) with a margin: the view when a link names none
PROVINCE_BOUNDS = [[10.18, 105.18], [11.02, 106.82]]
CENTER = [10.6, 106.0]
ZOOM = 9
PAGE_SIZE = 12
LOADING = "Đang tải… · Loading…"  # before the first callback: the language is not known yet
COMMUNES_URL = "/api/geo/communes.geojson"
STATION_KINDS = ("air", "water", "iot_water", "insect")
# tickets cluster from 50,000 points smoothly: supercluster in the browser, a radius in pixels
CLUSTER = {"radius": 60, "maxZoom": 16, "minPoints": 3}
CHORO_TTL = 20.0  # a choropleth is reused for this long (a selection re-renders the layer)
FONT = '"Be Vietnam Pro", "Noto Sans", "DejaVu Sans", Arial, sans-serif'  # as assets/base.css

_VIEWS: dict = {"views": None, "settings": None}  # set by register()


def _lang(lang) -> str:
    if lang in ("vi", "en"):
        return lang
    return getattr(_VIEWS["settings"], "language", None) or "vi"


# --- the URL query ---------------------------------------------------------------------------------


def _one(value) -> str | None:
    """A query value as one string (the last one when repeated)."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else None
    return None if value is None else str(value)


def _many(value) -> list[str]:
    """A query value as a list: repeated (``a=1&a=2``) or comma-separated (``a=1,2``)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        if item is not None:
            out += [p.strip() for p in str(item).split(",") if p.strip()]
    return out


def _float(value, lo: float, hi: float) -> float | None:
    try:
        f = float(_one(value))
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and lo <= f <= hi else None


def check_filters(views, raw: Mapping) -> tuple[md.MapFilters, list[str], str | None]:
    """MapFilters from query values; values the read model refuses are dropped one by one (the
    rest of the link still works). Returns (filters, refused keys, the first refusal's reason)."""
    raw = {k: (",".join(_many(v)) if k == "service" else _one(v)) for k, v in raw.items()
           if k in FILTER_KEYS and v not in (None, "", [])}
    try:
        return md.filters_for(views, raw), [], None
    except ValueError as err:
        reason = str(err)
    good: dict = {}
    refused = []
    for k, v in raw.items():
        try:
            md.filters_for(views, {**good, k: v})
            good[k] = v
        except ValueError:
            refused.append(k)
    try:
        return md.filters_for(views, good), refused, reason
    except ValueError:
        return md.filters_for(views, {}), sorted(raw), reason


def filters_query(f: md.MapFilters) -> dict:
    """The filters as the page keeps them: ``to_query()`` with the dates always written out, so
    that a copied link shows the same days tomorrow (not "the last 30 days" of that day)."""
    return {"start": f.start.isoformat(), "end": f.end.isoformat(), **f.to_query()}


def parse_state(views, query: Mapping) -> dict:
    """Everything a link can say about the view, checked; what is refused falls back to the
    default and is named in ``refused``."""
    query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    f, refused, _reason = check_filters(views, query)
    if f.commune and f.commune not in views.atlas.names():
        refused.append("commune")
        f = f.model_copy(update={"commune": ""})
    metric = _one(query.get("metric"))
    if metric is not None and metric not in METRICS:
        refused.append("metric")
        metric = None
    layers = None
    if "layers" in query:
        asked = _many(query["layers"])
        layers = [x for x in LAYERS if x in asked]
        if len(layers) != len(set(asked)):
            refused.append("layers")
    view = None
    z, lat, lon = _float(query.get("z"), 6, 19), _float(query.get("lat"), 8.0, 12.5), _float(query.get("lon"), 103.5, 108.5)
    if z is not None and lat is not None and lon is not None:
        view = {"zoom": z, "center": [lat, lon]}
    elif any(k in query for k in ("z", "lat", "lon")):
        refused.append("z/lat/lon")
    sel = None
    if raw_sel := _one(query.get("sel")):
        kind, _, ident = raw_sel.partition(":")
        if kind in ("ticket", "camera", "station") and ident:
            sel = {"kind": kind, "id": ident}
        else:
            refused.append("sel")
    kind = _one(query.get("list"))
    if kind is not None and kind not in LIST_KINDS:
        refused.append("list")
        kind = None
    rng = _one(query.get("range"))
    if rng is not None and rng not in RANGES:
        refused.append("range")
        rng = None
    return {
        "filters": filters_query(f), "start": f.start.isoformat(), "end": f.end.isoformat(),
        "service": list(f.service), "sector": f.sector, "status": f.status, "commune": f.commune or None,
        "metric": metric or SECTOR_METRIC.get(f.sector, METRICS[0]),
        "layers": layers if layers is not None else list(SECTOR_LAYERS.get(f.sector, ["communes"])),
        "view": view, "sel": sel, "list": kind or SECTOR_LIST.get(f.sector, "tickets"),
        "query": (_one(query.get("q")) or "")[:100], "range": rng or "24h", "refused": refused,
    }


def query_string(pairs: Mapping) -> str:
    return urlencode([(k, v) for k, v in pairs.items() if v not in (None, "", [])], quote_via=quote, safe=",")


def layer_urls(filters: Mapping, lang: str) -> dict[str, str]:
    """The layers' data URLs. The selected commune is not a filter of the map's layers (it is
    highlighted; the rest of the province stays in view) — only of its panel and lists. The
    tickets' are ``ticket_window``'s."""
    q = query_string({k: v for k, v in filters.items() if k != "commune"})
    sep = "&" if q else ""
    # cameras depend on their own status filter only: a ticket filter must not re-download them
    cams = query_string({k: v for k, v in filters.items() if k == "cam_status"})
    return {"cameras": f"/api/map/cameras.geobuf?{cams}", "density": f"/api/map/density.json?{q}{sep}lang={lang}",
            "stations": f"/api/map/stations.json?lang={lang}"}


def ticket_window(f: md.MapFilters) -> dict:
    """The ticket points the page holds for the range ``f``: those of its window (the widest range
    with the same end, ``MapFilters.window``), every category and state, each with its local request
    day and the hotline rule's steps (its state at any end of the window). Downloaded once; a range
    inside it is kept in the browser (assets/sector_map.js ``ioc_map.tickets``), with its start,
    end, status and categories. {url, first, last}: the window's days (ISO)."""
    w = f.window()
    return {"url": "/api/map/tickets.bin?" + query_string({"start": w.start.isoformat(), "end": w.end.isoformat()}),
            "first": w.start.isoformat(), "last": w.end.isoformat()}


# What the ticket layer keeps of a range's points, for assets/sector_map.js: the categories of each
# sector (None: every one; MapFilters.service_codes combines them with the chosen categories) and
# the states of each status filter (STATUS_STATES). Applied in the browser, a status, category,
# sector or date change inside the window re-clusters the points the page has: no server round
# trip, no download.
TICKET_RULES = {"sectors": {s: (list(md.SECTOR_SERVICES[s]) if s in md.SECTOR_SERVICES else None) for s in SECTORS},
                "states": {k: (None if v is None else list(v)) for k, v in md.STATUS_STATES.items()}}


def ticket_range(views, start, end, current: Mapping | None):
    """The ticket points' window after a date change: the one the page holds while it holds the
    range (a new start or end inside it is judged in the browser), else the year up to the new end;
    a refused range (the filters say why) keeps the points shown."""
    f, refused, _reason = check_filters(views, {"start": start, "end": end})
    if refused:
        return no_update
    if current and current.get("first", "9") <= f.start.isoformat() and f.end.isoformat() <= current.get("last", ""):
        return no_update
    return ticket_window(f)


def export_urls(filters: Mapping, kind: str, sort_by: list | None, query: str, lang: str) -> dict[str, str]:
    """The CSV/XLSX links of a list: the same filters, commune, order and search as on screen."""
    params = dict(filters)
    params["kind"] = kind
    if sort_by:
        params["sort"] = sort_by[0]["column_id"]
        params["desc"] = "true" if sort_by[0].get("direction") == "desc" else "false"
    params["query"] = (query or "").strip()
    params["lang"] = lang
    q = query_string(params)
    return {"csv": f"/api/map/export.csv?{q}", "xlsx": f"/api/map/export.xlsx?{q}"}


# --- layout ------------------------------------------------------------------------------------------


def layout(**query):
    views, settings = _VIEWS["views"], _VIEWS["settings"]
    lang = _lang(None)
    try:
        state = parse_state(views, query)
        names = views.atlas.names()
    except Exception:  # noqa: BLE001 - the database is not answering: say so, never a traceback
        log.exception("map page: cannot read the filters or the communes")
        return html.Div(className="sector-map", children=[
            html.Header(className="sm-top", children=[html.H1("Bản đồ chuyên ngành · Sector map"),
                                                      dcc.Link("← Trang trạng thái · Status page", href="/")]),
            html.Div(f"✖ {t('mp.error', 'vi')} · {t('mp.error', 'en')}", className="sm-error", role="alert")])
    view = state["view"]
    # center/zoom always: dash-leaflet 1.1.3 throws on a move when a map has bounds only
    map_view = ({"center": view["center"], "zoom": view["zoom"]} if view else
                {"center": CENTER, "zoom": ZOOM, "bounds": PROVINCE_BOUNDS,
                 "viewport": {"bounds": PROVINCE_BOUNDS, "transition": "fitBounds"}})
    basemap = getattr(settings, "basemap_url", None)
    stored = {k: state[k] for k in ("filters", "metric", "layers", "sel", "list", "commune", "sector", "range")}
    # the layers are in the page from the start (their data loads while Dash boots); later a
    # filter changes only the props it concerns (callback ``layers``), a new language or sector
    # mounts them again (callback ``structure``)
    gen = f"{lang}-0"
    map_children, choro = map_layers(views, lang, state["filters"], state["metric"], state["layers"],
                                     state["commune"], gen, basemap)
    return html.Div(className="sector-map", children=[
        dcc.Store(id="map-init", data=stored),
        dcc.Store(id="map-filters", data=state["filters"]),
        dcc.Store(id="map-ticket-window", data=ticket_window(md.filters_for(views, state["filters"]))),
        dcc.Store(id="map-ticket-rules", data=TICKET_RULES),
        dcc.Store(id="map-layer-set", data={"layers": state["layers"], "gen": 0}),
        dcc.Store(id="map-built", data={"gen": gen, "page": uuid.uuid4().hex[:12]}),
        dcc.Store(id="map-choro", data=choro),
        dcc.Store(id="map-density"),
        dcc.Store(id="map-sel", data=state["sel"]),
        dcc.Store(id="map-sector-seen", data=state["sector"]),
        dcc.Store(id="map-url"),
        dcc.Store(id="map-layer-keys", data=layer_keys()),
        dcc.Interval(id="map-tick", interval=60_000),
        html.Header(className="sm-top", children=[
            html.Div(className="sm-titles", children=[
                html.H1(LOADING, id="map-title"),
                dcc.Link(LOADING, id="map-link-status", href="/", className="sm-back"),
            ]),
            html.Div(id="map-badges", className="sm-badges"),
            html.Button(LOADING, id="map-lang", n_clicks=0, className="sm-lang"),
        ]),
        html.Div(className="sm-filters", children=[
            _field("map-l-dates", dcc.DatePickerRange(
                id="map-dates", start_date=state["start"], end_date=state["end"], display_format="DD/MM/YYYY",
                month_format="MM/YYYY", first_day_of_week=1, minimum_nights=0, clearable=False,
                updatemode="bothdates", max_date_allowed=views.clock().astimezone(views.tz).date().isoformat(),
                className="sm-dates")),
            _field("map-l-sector", dcc.Dropdown(
                id="map-sector", value=state["sector"], clearable=False, searchable=False, className="sm-dd",
                options=[{"label": o["name"], "value": o["code"]} for o in md.sector_options(lang)])),
            _field("map-l-service", dcc.Dropdown(
                id="map-service", multi=True, value=state["service"], options=[], className="sm-dd sm-dd-wide",
                placeholder=t("mp.all_services", lang))),
            _field("map-l-status", dcc.Dropdown(
                id="map-status", value=state["status"], clearable=False, searchable=False, className="sm-dd",
                options=[{"label": t(f"mp.status.{s}", lang), "value": s} for s in STATUSES])),
            _field("map-l-commune", dcc.Dropdown(
                id="map-commune", value=state["commune"], placeholder=t("mp.commune_ph", lang), className="sm-dd",
                options=commune_options(names))),
            _field("map-l-metric", dcc.Dropdown(
                id="map-metric", value=state["metric"], clearable=False, searchable=False, className="sm-dd sm-dd-wide",
                options=[{"label": t(f"sm.metric.{m}", lang), "value": m} for m in METRICS])),
        ]),
        html.Div(id="map-notice", className="sm-notice",
                 children=refused_notice(state["refused"], lang) if state["refused"] else None),
        html.Main(className="sm-body", children=[
            html.Section(className="sm-mapwrap", children=[
                dl.Map(id="map-map", className="sm-leaflet", zoomSnap=0.25, zoomDelta=0.5, minZoom=7, maxZoom=18,
                       attributionControl=False, children=map_children, **map_view),
                html.Div(id="map-maptitle", className="sm-maptitle"),
                html.Details(open=True, className="sm-legend", children=[
                    html.Summary(LOADING, id="map-legend-summary"),
                    html.Div(LOADING, id="map-legend"),
                ]),
                html.Div(className="sm-basemap-note",
                         children=None if basemap else t("mp.no_basemap", lang), id="map-basemap-note"),
            ]),
            html.Aside(id="map-panel", className="sm-panel", children=[
                html.Div(id="map-object", className="sm-object sm-hidden", children=[
                    html.Div(className="sm-object-head", children=[
                        html.H2(id="map-object-title", className="sm-object-title"),
                        html.Button("×", id="map-object-close", n_clicks=0, className="sm-close",
                                    title="Đóng · Close"),
                    ]),
                    dcc.RadioItems(id="map-st-range", value=state["range"], inline=True,
                                   className="sm-seg sm-range sm-hidden",
                                   options=[{"label": r, "value": r} for r in RANGES]),
                    html.Div(id="map-object-body", className="sm-object-body"),
                ]),
                html.Div(id="map-commune-head", className="sm-commune", children=LOADING),
                html.Div(id="map-ranking", className="sm-ranking"),
                html.Section(id="map-list", className="sm-list sm-hidden", children=[
                    dcc.RadioItems(id="map-list-kind", value=state["list"], inline=True, className="sm-seg sm-tabs",
                                   options=[{"label": t(f"mp.list.{k}", lang), "value": k} for k in LIST_KINDS]),
                    html.Div(id="map-list-note", className="sm-list-note"),
                    html.Div(className="sm-list-tools", children=[
                        dcc.Input(id="map-list-query", type="search", value=state["query"], debounce=True,
                                  placeholder=t("mp.search_ph", lang), className="sm-search", maxLength=100),
                        html.Div(id="map-exports", className="sm-exports"),
                    ]),
                    html.Div(id="map-list-total", className="sm-list-total"),
                    dash_table.DataTable(
                        id="map-table", page_action="custom", sort_action="custom", sort_mode="single",
                        page_current=0, page_size=PAGE_SIZE, page_count=1, sort_by=[], columns=[], data=[],
                        cell_selectable=False, style_as_list_view=True, style_table={"overflowX": "auto"},
                        style_header={"backgroundColor": "#1d2a3a", "color": "#e8eef4", "fontWeight": "600",
                                      "border": "none", "whiteSpace": "normal", "height": "auto",
                                      "fontFamily": FONT},
                        style_cell={"backgroundColor": "#141e2b", "color": "#e8eef4", "border": "none",
                                    "borderBottom": "1px solid #243244", "textAlign": "left",
                                    "fontFamily": FONT, "fontSize": "inherit", "padding": "0.3em 0.45em",
                                    "whiteSpace": "normal", "height": "auto"},
                        style_data_conditional=[{"if": {"row_index": "odd"}, "backgroundColor": "#172332"}],
                    ),
                ]),
            ]),
        ]),
    ])


def _field(label_id: str, control) -> html.Div:
    return html.Div(className="sm-field", children=[html.Label(LOADING, id=label_id, className="sm-label"), control])


def _sort_key(name: str) -> str:
    # "Phường Cao Lãnh" and "Xã An Bình" in the order of the place's own name
    for prefix in ("Phường ", "Xã ", "Thị trấn ", "Đặc khu "):
        if name.startswith(prefix):
            return name[len(prefix):].casefold()
    return name.casefold()


def commune_options(names: Mapping[str, str]) -> list[dict]:
    return [{"label": n, "value": c} for c, n in sorted(names.items(), key=lambda x: _sort_key(x[1]))]


# Leaflet's layer control lists overlays in the order their layers load (GeoJSON loads
# asynchronously); sorted by name, an invisible leading mark per layer keeps LAYERS' order.
_ORDER = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


def layer_name(key: str, lang: str) -> str:
    return _ORDER[LAYERS.index(key)] + t(f"mp.layer.{key}", lang)


def layer_keys() -> dict:
    """Overlay name (either language) → layer key: the layer control reports names."""
    return {layer_name(k, lang): k for k in LAYERS for lang in ("vi", "en")}


def refused_notice(refused: list[str], lang: str) -> html.Div:
    return html.Div(f"▲ {t('mp.refused', lang).format(keys=', '.join(refused))}", className="sm-warn", role="status")


# --- the map's layers ----------------------------------------------------------------------------------

_choro_cache: dict[tuple, tuple[float, dict]] = {}
_choro_lock = threading.Lock()


def choropleth(views, metric: str, filters: Mapping, lang: str) -> dict:
    """``communes_layer`` for the filters (without the commune), kept ``CHORO_TTL`` seconds: a
    click on a commune re-renders the layer (its outline) without asking the database again."""
    f = md.filters_for(views, {k: v for k, v in filters.items() if k != "commune"})
    key = (metric, tuple(sorted(f.to_query().items())), f.start, f.end, lang)
    hit = _choro_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CHORO_TTL:
        return hit[1]
    res = md.communes_layer(views, metric, f, lang)
    with _choro_lock:
        if len(_choro_cache) > 64:
            _choro_cache.clear()
        _choro_cache[key] = (time.monotonic(), res)
    return res


def layer_props(views, lang: str, filters: Mapping, metric: str, checked: list[str], selected: str | None
                ) -> tuple[dict, dict, dict]:
    """What a filter, the indicator, a selection or a layer switch changes on the map: (the
    communes' hideout, the URLs of the camera and station layers — None while a layer is off —,
    what the legend needs)."""
    try:
        choro = choropleth(views, metric, filters, lang)
    except Exception:  # noqa: BLE001 - the outlines still show; the legend says why there is no colour
        log.exception("map page: choropleth %s failed", metric)
        choro = {"error": True, "title": t(f"sm.metric.{metric}", lang)}
    # A layer loads its data only while it is on (50,000 requests are not fetched for nothing),
    # and not at all when the database did not answer for the choropleth just now: the legend
    # says so instead of the browser failing on an error response.
    db_ok = not choro.get("error")
    urls = {k: (u if k in checked and db_ok else None) for k, u in layer_urls(filters, lang).items()
            if k in ("cameras", "stations")}
    hide_communes = {"classes": choro.get("classes") or {}, "values": choro.get("values") or {},
                     "colours": choro.get("colours") or [], "none": choro.get("none") or text.NO_DATA_COLOUR,
                     "title": t(f"sm.metric.{metric}", lang), "none_text": t("mp.no_data_commune", lang),
                     "selected": selected}
    legend_data = {k: choro.get(k) for k in ("title", "unit", "legend", "period", "error")}
    legend_data["metric"] = metric
    legend_data["layers_down"] = not db_ok
    legend_data["raw"], legend_data["values"] = choro.get("raw") or {}, choro.get("values") or {}
    legend_data["name"] = t(f"sm.metric.{metric}", lang)
    return hide_communes, urls, legend_data


def map_layers(views, lang: str, filters: Mapping, metric: str, checked: list[str], selected: str | None,
               gen: str, basemap: str | None) -> tuple[list, dict]:
    """The map's children (a tile layer only when ``IOC_BASEMAP_URL`` is set, the layer
    control and its overlays) and what the legend needs. The layer control's id carries the
    language and the layer-set generation: a new one is mounted (names in the new language,
    the sector's layers) only when either changes. The ticket layer starts empty: its points
    come from ``ticket_window`` and ``TICKET_RULES`` through assets/sector_map.js."""
    hide_communes, urls, legend_data = layer_props(views, lang, filters, metric, checked, selected)
    legends = md.point_legends(lang)
    try:
        cats = {s["code"]: s["name"] for s in md.services(views, lang)}
    except Exception:  # noqa: BLE001 - the markers then say the category's code
        cats = {}
    ticket_marks = {e["key"]: [e["colour"], TICKET_SYMBOLS.get(e["key"], "?"), e["label"]] for e in legends["tickets"]}
    camera_marks = {e["key"]: [e["colour"], CAMERA_SYMBOLS.get(e["key"], "?"), e["label"]] for e in legends["cameras"]}
    overlays = {
        "communes": dl.GeoJSON(id="map-communes", url=COMMUNES_URL, hideout=hide_communes,
                               style=_ns("communeStyle"), hoverStyle=_ns("communeHover"),
                               onEachFeature=_ns("communeEach")),
        "density": dl.GeoJSON(id="map-density-layer", hideout={"colours": [], "unit": t("sm.unit.density", lang),
                                                               "lang": lang},
                              style=_ns("densityStyle"), onEachFeature=_ns("densityEach")),
        "tickets": dl.GeoJSON(id="map-tickets", cluster=True, zoomToBoundsOnClick=True, superClusterOptions=CLUSTER,
                              pointToLayer=_ns("ticketPoint"), clusterToLayer=_ns("ticketCluster"),
                              hideout={"marks": ticket_marks, "lang": lang, "cats": cats,
                                       "cluster_words": t("mp.cluster.tickets", lang)}),
        "cameras": dl.GeoJSON(id="map-cameras", url=urls["cameras"], format="geobuf", cluster=True,
                              zoomToBoundsOnClick=True, superClusterOptions={**CLUSTER, "radius": 50},
                              pointToLayer=_ns("cameraPoint"), clusterToLayer=_ns("cameraCluster"),
                              hideout={"marks": camera_marks, "lang": lang, "cluster_words": t("mp.cluster.cameras", lang),
                                       "offline_words": t("mp.cluster.offline", lang)}),
        "stations": dl.GeoJSON(id="map-stations", url=urls["stations"], pointToLayer=_ns("stationPoint"),
                               hideout={"lang": lang}),
    }
    control = dl.LayersControl(id={"type": "map-layers", "gen": gen}, collapsed=False, position="topright",
                               sortLayers=True, children=[
        dl.Overlay(overlays[k], name=layer_name(k, lang), checked=k in checked) for k in LAYERS])
    children = ([dl.TileLayer(url=basemap, attribution="")] if basemap else []) + [control]
    return children, legend_data


def checked_layers(overlays, keys: Mapping | None, layer_set: Mapping | None) -> list[str]:
    """The layers switched on: what the layer control reports, else (before it has reported)
    the layer set it was mounted with."""
    if overlays and overlays[0] is not None:
        return [k for k in ((keys or {}).get(n) for n in overlays[0]) if k]
    return list((layer_set or {}).get("layers") or [])


def legend(choro: Mapping | None, density: Mapping | None, layers: list[str], lang: str) -> list:
    """The choropleth's classes with the unit, and the marks of every layer switched on."""
    out: list = []
    if "communes" in layers:
        if not choro:
            out.append(html.Div(LOADING, className="sm-legend-note"))
        elif choro.get("error"):
            out.append(html.Div([html.Strong(choro.get("title") or ""), html.Div(f"✖ {t('mp.legend_error', lang)}")],
                                className="sm-legend-note"))
        else:
            unit = choro.get("unit")
            out.append(html.Div([html.Strong(choro.get("name") or choro.get("title") or ""),
                                 html.Span(f" ({unit})" if unit else "", className="sm-unit")],
                                className="sm-legend-title"))
            items = [html.Li([html.Span(className="sm-swatch" + (" sm-swatch-none" if i == len(choro["legend"]) - 1
                                                                  else ""), style={"background": e["colour"]}),
                              e["label"]]) for i, e in enumerate(choro.get("legend") or [])]
            out.append(html.Ul(items, className="sm-legend-classes"))
    if "density" in layers:
        out.append(html.Strong(t("mp.layer.density", lang), className="sm-legend-head"))
        if density and density.get("legend"):
            out.append(html.Ul([html.Li([html.Span(className="sm-swatch", style={"background": e["colour"]}), e["label"]])
                                for e in density["legend"][:-1]], className="sm-legend-classes"))
            if density.get("title"):
                out.append(html.Div(density["title"], className="sm-legend-note"))
        else:
            out.append(html.Div(LOADING if density is None else t("mp.density_empty", lang), className="sm-legend-note"))
    legends = md.point_legends(lang)
    if choro and choro.get("layers_down") and any(k in layers for k in ("density", "tickets", "cameras", "stations")):
        out.append(html.Div(f"✖ {t('mp.layers_down', lang)}", className="sm-legend-note sm-down"))
    if "tickets" in layers:
        out.append(_marks(t("mp.layer.tickets", lang), legends["tickets"], TICKET_SYMBOLS))
    if "cameras" in layers:
        out.append(_marks(t("mp.layer.cameras", lang), legends["cameras"], CAMERA_SYMBOLS))
    if "stations" in layers:
        # the official categories are the choropleth's own legend when it shows the worst index
        both = "communes" in layers and bool(choro) and choro.get("metric") == "worst_index"
        out.append(_stations_legend(legends["levels"], lang, categories=not both))
    if not out:
        out.append(html.Div(t("mp.no_layer", lang), className="sm-legend-note"))
    return out


def _marks(title: str, entries: list[dict], symbols: Mapping) -> html.Div:
    return html.Div(className="sm-legend-marks", children=[
        html.Strong(title, className="sm-legend-head"),
        html.Ul([html.Li([html.Span(symbols.get(e["key"], "?"), className="sm-mark",
                                    style={"background": e["colour"], "color": ink(e["colour"])}), e["label"]])
                 for e in entries], className="sm-legend-classes"),
    ])


def _stations_legend(levels: list[dict], lang: str, categories: bool = True) -> html.Div:
    from ioc.kpi import aqi, wqi

    def cats(rows):
        return [html.Li([html.Span(className="sm-swatch", style={"background": c.hex}),
                         c.name_vi if lang == "vi" else c.name_en]) for c in rows]

    shapes = html.Ul([html.Li([html.Span(className=f"sm-shape sm-kind-{k}"), t(f"mp.kind.{k}", lang)])
                      for k in STATION_KINDS], className="sm-legend-classes")
    return html.Div(className="sm-legend-marks", children=[
        html.Strong(t("mp.layer.stations", lang), className="sm-legend-head"), shapes,
        *([html.Div("VN_AQI (QĐ 1459)", className="sm-legend-sub"),
           html.Ul(cats(aqi.CATEGORIES), className="sm-legend-classes"),
           html.Div("VN_WQI (QĐ 1460)", className="sm-legend-sub"),
           html.Ul(cats(wqi.CATEGORIES), className="sm-legend-classes")] if categories else []),
        html.Div(t("mp.levels", lang), className="sm-legend-sub"),
        html.Ul([html.Li([html.Span(className="sm-swatch", style={"background": e["colour"]}), e["label"]])
                 for e in levels], className="sm-legend-classes"),
    ])




# --- the side panel ---------------------------------------------------------------------------------


def badges(views, lang: str) -> list:
    """Each source's freshness in words; figures that are not current say since when."""
    try:
        source_badges, figures = views.badges(lang)
    except Exception:  # noqa: BLE001
        log.exception("map page: badges")
        return [html.Span(f"✖ {t('mp.error_short', lang)}", className="sm-badge fresh-failing")]
    if not source_badges:
        return [html.Span(f"✖ {figures.label}", className="sm-badge fresh-failing")]
    out = [html.Span(f"{FRESH_ICON.get(b.freshness.state, '')} {t(f'source_short.{b.source}', lang)}: "
                     f"{b.freshness.label}", className=f"sm-badge fresh-{b.freshness.state}",
                     title=f"{b.name}: {b.freshness.label}") for b in source_badges]
    if not figures.current:
        out.append(html.Span(f"▲ {figures.label}", className="sm-badge fresh-stale"))
    return out


TONE_ICON = {"good": "✔", "bad": "✖", "neutral": ""}


def commune_head(panel: md.CommunePanel, lang: str) -> list:
    """A commune's figures: the commune, the province and the previous period side by side."""
    head = [html.H2(panel.name, className="sm-commune-name"),
            html.Div(panel.period, className="sm-period"),
            html.Div(panel.previous_period, className="sm-period sm-muted")]
    if panel.error:
        return head + [html.Div(f"✖ {panel.error}", className="sm-error", role="alert")]
    rows = [html.Tr([html.Th(r.label, scope="row"), html.Td(r.value, className="sm-num sm-strong"),
                     html.Td(r.province, className="sm-num"), html.Td(r.previous, className="sm-num"),
                     html.Td(f"{TONE_ICON.get(r.tone, '')} {r.change}".strip(), className=f"sm-change tone-{r.tone}")],
                    id=f"map-kpi-{r.key}") for r in panel.rows]
    table = html.Table([html.Thead(html.Tr([html.Th(c) for c in panel.columns])), html.Tbody(rows)],
                       className="sm-kpis")
    return head + [table] + ([html.Div(panel.note, className="sm-note")] if panel.note else [])


# the indicators where a low value is the worry (the ranking lists the lowest first)
LOW_IS_WORSE = {"qd766_on_time", "cameras_online"}
RANK_SIZE = 10


def ranking(choro: Mapping | None, names: Mapping[str, str], lang: str) -> list:
    """The communes that need attention first on the map's indicator, each a button that opens
    its panel: the figure behind the colour, one click from its records."""
    if not choro or choro.get("error") or not choro.get("raw"):
        return []
    metric = choro.get("metric")
    raw = {c: v for c, v in choro["raw"].items() if c in names and v is not None}
    low = metric in LOW_IS_WORSE
    order = sorted(raw, key=lambda c: (raw[c] if low else -raw[c], _sort_key(names[c])))
    if not low:
        order = [c for c in order if raw[c] > 0]  # nobody "leads" with 0
    if not order:
        return [html.H3(t("mp.rank.title", lang).format(metric=choro.get("name") or "")),
                html.P(f"○ {t('mp.rank.none', lang)}", className="sm-empty")]
    rows = [html.Li(html.Button([html.Span(names[c], className="sm-rank-name"),
                                 html.Span(choro["values"].get(c, "—"), className="sm-rank-value")],
                                id={"type": "map-rank", "code": c}, n_clicks=0, className="sm-rank-btn"))
            for c in order[:RANK_SIZE]]
    key = "mp.rank.low" if low else "mp.rank.high"
    return [html.H3(t("mp.rank.title", lang).format(metric=choro.get("name") or "")),
            html.P(t(key, lang).format(n=text.num(min(RANK_SIZE, len(order)), lang),
                                       total=text.num(len(raw), lang)), className="sm-small"),
            html.Ol(rows, className="sm-rank")]


def commune_prompt(lang: str) -> list:
    return [html.H2(t("mp.panel.title", lang), className="sm-commune-name"),
            html.P(t("mp.panel.prompt", lang), className="sm-muted")]


def list_outputs(page: md.ListPage, lang: str) -> tuple:
    """(columns, rows, page count, page, the count in words, the note)."""
    columns = [{"id": c["id"], "name": c["name"]} for c in page.columns]
    if page.total == 0:  # no header over nothing: the empty list says why
        columns = []
        total = html.Div(f"○ {page.empty_text}", className="sm-empty")
    else:
        first = page.page * page.page_size + 1
        last = min(page.total, first + len(page.rows) - 1)
        total = t("mp.list.count", lang).format(first=text.num(first, lang), last=text.num(last, lang),
                                                total=text.num(page.total, lang))
    return columns, page.rows, page.page_count, page.page, total, page.note


def exports(urls: Mapping[str, str], lang: str, total: int) -> list:
    if not total:
        return []
    return [html.A("⤓ CSV", href=urls["csv"], className="sm-export", id="map-export-csv",
                   title=t("mp.export_title", lang), download=""),
            html.A("⤓ XLSX", href=urls["xlsx"], className="sm-export", id="map-export-xlsx",
                   title=t("mp.export_title", lang), download="")]


def register(app, settings, views) -> None:
    _VIEWS["views"], _VIEWS["settings"] = views, settings
    basemap = settings.basemap_url

    # the language: the app-wide store; only a real click toggles (Dash 4.4 fires on insertion)
    app.clientside_callback("function(n, lang) { if (!n) { return window.dash_clientside.no_update; } "
                            "return lang === 'en' ? 'vi' : 'en'; }",
                            Output("lang", "data", allow_duplicate=True), Input("map-lang", "n_clicks"),
                            State("lang", "data"), prevent_initial_call=True)

    @app.callback(
        Output("map-title", "children"), Output("map-link-status", "children"), Output("map-lang", "children"),
        *[Output(f"map-l-{k}", "children") for k in ("dates", "sector", "service", "status", "commune", "metric")],
        Output("map-sector", "options"), Output("map-service", "options"), Output("map-service", "placeholder"),
        Output("map-status", "options"), Output("map-commune", "placeholder"), Output("map-metric", "options"),
        Output("map-list-kind", "options"), Output("map-list-query", "placeholder"), Output("map-st-range", "options"),
        Output("map-basemap-note", "children"),
        Input("lang", "data"))
    def texts(lang):
        lang = _lang(lang)
        try:
            services = [{"label": s["name"], "value": s["code"]} for s in md.services(views, lang)]
        except Exception:  # noqa: BLE001
            log.exception("map page: categories")
            services = []
        return (t("mp.title", lang), t("mp.back", lang), t("language", lang),
                *[t(f"mp.label.{k}", lang) for k in ("dates", "sector", "service", "status", "commune", "metric")],
                [{"label": o["name"], "value": o["code"]} for o in md.sector_options(lang)], services,
                t("mp.all_services", lang) if services else t("mp.no_services", lang),
                [{"label": t(f"mp.status.{s}", lang), "value": s} for s in STATUSES], t("mp.commune_ph", lang),
                [{"label": t(f"sm.metric.{m}", lang), "value": m} for m in METRICS],
                [{"label": t(f"mp.list.{k}", lang), "value": k} for k in LIST_KINDS], t("mp.search_ph", lang),
                [{"label": t(f"sm.range.{r}", lang), "value": r} for r in RANGES],
                None if basemap else t("mp.no_basemap", lang))

    @app.callback(Output("map-badges", "children"), Input("map-tick", "n_intervals"), Input("lang", "data"))
    def _badges(_n, lang):
        return badges(views, _lang(lang))

    @app.callback(
        Output("map-filters", "data"), Output("map-notice", "children"),
        Input("map-dates", "start_date"), Input("map-dates", "end_date"), Input("map-service", "value"),
        Input("map-sector", "value"), Input("map-status", "value"), Input("map-commune", "value"),
        State("lang", "data"), State("map-filters", "data"), prevent_initial_call=True)
    def filters(start, end, service, sector, status, commune, lang, current):
        return filters_update(views, {"start": start, "end": end, "service": service or [], "sector": sector,
                                      "status": status, "commune": commune}, current, _lang(lang))

    # the ticket points' window changes only for a range outside it (its own callback: a status or
    # date change must not wait for the filters' round trip, see ioc_map.tickets)
    @app.callback(Output("map-ticket-window", "data"), Input("map-dates", "start_date"), Input("map-dates", "end_date"),
                  State("map-ticket-window", "data"), prevent_initial_call=True)
    def _ticket_range(start, end, current):
        return ticket_range(views, start, end, current)

    @app.callback(
        Output("map-layer-set", "data"), Output("map-metric", "value"), Output("map-list-kind", "value"),
        Output("map-sector-seen", "data"),
        Input("map-sector", "value"), State("map-sector-seen", "data"), State("map-layer-set", "data"),
        prevent_initial_call=True)
    def sector(value, seen, layer_set):
        return sector_switch(value, seen, layer_set)

    @app.callback(
        Output("map-map", "children"), Output("map-built", "data"),
        Input("lang", "data"), Input("map-layer-set", "data"),
        State("map-built", "data"), State("map-filters", "data"), State("map-metric", "value"),
        State({"type": "map-layers", "gen": ALL}, "overlays"), State("map-layer-keys", "data"))
    def structure(lang, layer_set, built, filters_, metric, overlays, keys):
        """A new language or a sector's layer set mounts the layer control again (Leaflet reads
        a layer's name only when it is added); nothing else does. A new language keeps the
        layers that are on, a sector brings its own."""
        lang = _lang(lang)
        layer_set = layer_set or {"layers": ["communes"], "gen": 0}
        gen = f"{lang}-{layer_set.get('gen', 0)}"
        if built and built.get("gen") == gen:  # the page's own first render: the layout has them
            return no_update, no_update
        same_set = bool(built) and str(built.get("gen", "")).endswith(f"-{layer_set.get('gen', 0)}")
        checked = checked_layers(overlays, keys, layer_set) if same_set else list(layer_set.get("layers") or [])
        filters_ = filters_ or {}
        children, _legend_data = map_layers(views, lang, filters_, metric if metric in METRICS else METRICS[0],
                                            checked, filters_.get("commune"), gen, basemap)
        return children, {**(built or {}), "gen": gen}

    @app.callback(
        Output("map-communes", "hideout"), Output("map-cameras", "url"), Output("map-stations", "url"),
        Output("map-choro", "data"),
        Input("map-filters", "data"), Input("map-metric", "value"), Input({"type": "map-layers", "gen": ALL}, "overlays"),
        Input("map-tick", "n_intervals"), Input("map-built", "data"),
        State("lang", "data"), State("map-layer-set", "data"), State("map-layer-keys", "data"),
        State("map-communes", "hideout"), State("map-cameras", "url"), State("map-stations", "url"),
        State("map-choro", "data"), prevent_initial_call=True)  # the layout has them
    def layers(filters_, metric, overlays, _tick, _built, lang, layer_set, keys, *shown):
        """A filter, the indicator, a selection, a layer switch or the minute's tick: only the
        props that changed (a re-drawn layer closes its tooltips; the ticket points are
        ``ioc_map.tickets``')."""
        lang = _lang(lang)
        metric = metric if metric in METRICS else METRICS[0]
        filters_ = filters_ or {}
        hide, urls, legend_data = layer_props(views, lang, filters_, metric, checked_layers(overlays, keys, layer_set),
                                              filters_.get("commune"))
        new = (hide, urls["cameras"], urls["stations"], legend_data)
        return tuple(no_update if n == old else n for n, old in zip(new, shown))

    # the ticket points: downloaded once per window, kept by day, status and category in the browser,
    # straight from the controls — no Input here is the output of a callback that a status change
    # or the page's first render starts, so nothing waits for a server round trip (a re-mounted
    # layer control is a new "map-layers" component: that Input fires then)
    app.clientside_callback(
        ClientsideFunction(namespace="ioc_map", function_name="tickets"),
        Output("map-tickets", "data"),
        Input("map-ticket-window", "data"), Input("map-dates", "start_date"), Input("map-dates", "end_date"),
        Input("map-status", "value"), Input("map-service", "value"),
        Input("map-sector", "value"), Input({"type": "map-layers", "gen": ALL}, "overlays"),
        Input("map-tick", "n_intervals"), State("map-built", "data"),
        State("map-ticket-rules", "data"), State("map-choro", "data"), State("map-layer-set", "data"),
        State("map-layer-keys", "data"))

    # the density grid: fetched by the browser (its colours come with it), only while it is on
    app.clientside_callback(
        ClientsideFunction(namespace="ioc_map", function_name="density"),
        Output("map-density-layer", "data"), Output("map-density-layer", "hideout"), Output("map-density", "data"),
        Input({"type": "map-layers", "gen": ALL}, "overlays"), Input("map-built", "data"),
        Input("map-filters", "data"), State("lang", "data"), State("map-layer-keys", "data"),
        State("map-density", "data"), State("map-density-layer", "hideout"), State("map-density-layer", "data"),
        prevent_initial_call=True)

    @app.callback(Output("map-legend", "children"), Output("map-maptitle", "children"),
                  Output("map-legend-summary", "children"),
                  Input("map-choro", "data"), Input("map-density", "data"),
                  Input({"type": "map-layers", "gen": ALL}, "overlays"), Input("lang", "data"),
                  State("map-layer-keys", "data"))
    def _legend(choro, density, overlays, lang, keys):
        lang = _lang(lang)
        on = [keys.get(n) for n in (overlays[0] if overlays else []) or []]
        dens = None if density is None else (density.get("meta") or {})
        title = choro.get("title") if choro else None
        return legend(choro, dens, on, lang), title, t("mp.legend", lang)

    @app.callback(
        Output("map-commune", "value"), Output("map-sel", "data"),
        Input("map-communes", "clickData"), Input("map-tickets", "clickData"), Input("map-cameras", "clickData"),
        Input("map-stations", "clickData"), Input("map-object-close", "n_clicks"),
        Input({"type": "map-rank", "code": ALL}, "n_clicks"),
        prevent_initial_call=True)
    def clicks(commune_click, ticket_click, camera_click, station_click, close, _ranks):
        trigger = ctx.triggered_id
        if isinstance(trigger, Mapping) and trigger.get("type") == "map-rank":
            # a ranking row: only a real click (Dash fires when the rows are inserted)
            clicked = ctx.triggered[0]["value"] if ctx.triggered else None
            return (trigger.get("code"), no_update) if clicked else (no_update, no_update)
        return click_target(trigger, {"map-communes": commune_click, "map-tickets": ticket_click,
                                      "map-cameras": camera_click, "map-stations": station_click}, close,
                            ticket_ref=lambda row: md.ticket_ref(views, row))

    @app.callback(Output("map-ranking", "children"), Input("map-choro", "data"), Input("map-filters", "data"),
                  Input("lang", "data"))
    def _ranking(choro, filters_, lang):
        if (filters_ or {}).get("commune"):
            return []
        if choro and choro.get("error"):
            return [error_box(_lang(lang))]
        try:
            names = views.atlas.names()
        except Exception:  # noqa: BLE001
            return []
        return ranking(choro, names, _lang(lang))

    @app.callback(Output("map-commune-head", "children"), Output("map-list", "className"),
                  Input("map-filters", "data"), Input("lang", "data"))
    def _commune(filters_, lang):
        return commune_section(views, filters_ or {}, _lang(lang))

    @app.callback(
        Output("map-table", "columns"), Output("map-table", "data"), Output("map-table", "page_count"),
        Output("map-table", "page_current"), Output("map-list-total", "children"), Output("map-list-note", "children"),
        Output("map-exports", "children"), Output("map-table", "sort_by"),
        Input("map-filters", "data"), Input("map-list-kind", "value"), Input("map-list-query", "value"),
        Input("map-table", "page_current"), Input("map-table", "sort_by"), Input("lang", "data"))
    def _list(filters_, kind, query, page, sort_by, lang):
        first = ctx.triggered_id not in (None, "map-table")  # a new list starts on its first page
        if ctx.triggered_id == "map-list-kind":  # another list: its own columns, its own default order
            sort_by = []
        return list_section(views, filters_ or {}, kind, query, 0 if first else (page or 0), sort_by, _lang(lang))

    @app.callback(
        Output("map-object", "className"), Output("map-object-title", "children"), Output("map-object-body", "children"),
        Output("map-st-range", "className"),
        Input("map-sel", "data"), Input("map-st-range", "value"), Input("lang", "data"))
    def _object(sel, rng, lang):
        return object_section(views, sel, rng, _lang(lang))

    # the layer control's first report of the layers on, written back once (ioc_map.overlays:
    # otherwise dash-leaflet reports only the layer switched by hand, forgetting the others)
    app.clientside_callback(
        ClientsideFunction(namespace="ioc_map", function_name="overlays"),
        Output({"type": "map-layers", "gen": ALL}, "overlays"),
        Input({"type": "map-layers", "gen": ALL}, "overlays"), State("map-built", "data"),
        prevent_initial_call=True)

    # the view in the address bar (history.replaceState): a copied link opens the same view
    app.clientside_callback(
        ClientsideFunction(namespace="ioc_map", function_name="url"),
        Output("map-url", "data"),
        Input("map-filters", "data"), Input("map-metric", "value"), Input({"type": "map-layers", "gen": ALL}, "overlays"),
        Input("map-map", "zoom"), Input("map-map", "center"), Input("map-sel", "data"), Input("map-list-kind", "value"),
        Input("map-list-query", "value"), Input("map-st-range", "value"), State("map-layer-keys", "data"))


# --- what the callbacks return, as plain functions (tested without a browser) ----------------------------


def filters_update(views, values: Mapping, current: Mapping | None, lang: str) -> tuple:
    """(the filters' query, the notice). A refused value leaves the filters as they were and
    says why (the end before the start, a range longer than a year …)."""
    f, refused, reason = check_filters(views, {k: v for k, v in values.items() if v not in (None, "", [])})
    if refused:
        return no_update, html.Div(f"▲ {t('mp.bad_filters', lang)} ({reason})", className="sm-warn", role="status")
    q = filters_query(f)
    if q == current:  # the page's own first render: keep what the layout says (a refused link value)
        return no_update, no_update
    return q, None


def sector_switch(value: str, seen: str | None, layer_set: Mapping | None) -> tuple:
    """A sector chosen: its layers (a new layer-set generation), its indicator, its list."""
    if value == seen or value not in SECTORS:  # the page's own first render, not a choice
        return no_update, no_update, no_update, no_update
    gen = int((layer_set or {}).get("gen", 0)) + 1
    return ({"layers": SECTOR_LAYERS.get(value, ["communes"]), "gen": gen}, SECTOR_METRIC.get(value, no_update),
            SECTOR_LIST.get(value, no_update), value)


def click_target(trigger, clicks: Mapping, close=None, ticket_ref=None) -> tuple:
    """(selected commune, selected object) after a click; clusters are not selections (a click
    on one zooms in). A ticket point carries its row id: ``ticket_ref`` turns it into the
    ticket's own id (the one the panel and the link show)."""
    if trigger == "map-object-close":
        return no_update, None if close else no_update
    data = clicks.get(trigger)
    props = ((data or {}).get("properties") or {}) if isinstance(data, Mapping) else {}
    if not props or props.get("cluster"):
        return no_update, no_update
    if trigger == "map-communes":
        code = props.get("code")
        return (code, None) if code else (no_update, no_update)
    kind = {"map-tickets": "ticket", "map-cameras": "camera", "map-stations": "station"}.get(trigger)
    ident = props.get("id")
    if kind == "ticket" and ticket_ref is not None and ident is not None:
        try:
            ident = ticket_ref(ident)
        except md.NotFound:  # gone since the points were loaded: the panel says so
            log.info("map page: ticket row %s gone", ident)
            return no_update, {"kind": "ticket", "id": f"row {ident}"}
        except Exception:  # noqa: BLE001 - the database is not answering: the click does nothing
            log.exception("map page: ticket row %s", ident)
            return no_update, no_update
    if kind and ident is not None:
        return no_update, {"kind": kind, "id": str(ident)}
    return no_update, no_update


def commune_section(views, filters: Mapping, lang: str) -> tuple:
    code = filters.get("commune")
    if not code:
        return commune_prompt(lang), "sm-list sm-hidden"
    try:
        panel = md.commune_panel(views, code, md.filters_for(views, filters), lang)
    except md.NotFound:
        return [html.Div(f"▲ {t('mp.unknown_commune', lang).format(code=code)}", className="sm-warn")], "sm-list sm-hidden"
    except Exception:  # noqa: BLE001
        log.exception("map page: commune panel %s", code)
        return [error_box(lang)], "sm-list sm-hidden"
    return commune_head(panel, lang), "sm-list"


def list_section(views, filters: Mapping, kind: str, query: str | None, page: int, sort_by: list | None,
                 lang: str) -> tuple:
    """The list's outputs: columns, rows, page count, page, the count in words, the note, the
    export links, and the order (``[]`` when the one asked for is not this list's)."""
    code = filters.get("commune")
    sort_out = [] if sort_by else no_update
    if not code:
        return [], [], 1, 0, t("mp.list.pick_commune", lang), None, [], sort_out
    kind = kind if kind in LIST_KINDS else LIST_KINDS[0]
    query = (query or "").strip()[:100]
    sort_by = list(sort_by or [])
    try:
        f = md.filters_for(views, filters)
        for attempt in (0, 1):
            sort = sort_by[0]["column_id"] if sort_by else None
            desc = bool(sort_by and sort_by[0].get("direction") == "desc")
            try:
                res = md.commune_list(views, code, kind, f, sort=sort, desc=desc, page=int(page or 0),
                                      page_size=PAGE_SIZE, query=query, lang=lang)
                break
            except ValueError:
                if not sort_by or attempt:
                    raise
                sort_by = []  # a column of another list (or an old link): the list's own order
    except ValueError as err:  # a search too long …
        log.warning("map page: list refused: %s", err)
        return [], [], 1, 0, html.Div(f"▲ {t('mp.list.refused', lang)}", className="sm-warn"), None, [], no_update
    except Exception:  # noqa: BLE001
        log.exception("map page: list %s %s", kind, code)
        return [], [], 1, 0, error_box(lang), None, [], no_update
    columns, rows, count, page, total, note = list_outputs(res, lang)
    return (columns, rows, count, page, total, note,
            exports(export_urls(filters, kind, sort_by, query, lang), lang, res.total),
            no_update if sort_by else sort_out)


def object_section(views, sel: Mapping | None, rng: str | None, lang: str) -> tuple:
    """(panel class, title, body, range switch class) for the clicked ticket, camera or station."""
    hidden = ("sm-object sm-hidden", None, None, "sm-seg sm-range sm-hidden")
    if not sel or sel.get("kind") not in ("ticket", "camera", "station"):
        return hidden
    kind, ident = sel["kind"], str(sel.get("id"))
    range_class = "sm-seg sm-range" if kind == "station" else "sm-seg sm-range sm-hidden"
    try:
        if kind == "ticket":
            d = md.ticket_detail(views, ident, lang)
            return "sm-object", [t("mp.obj.ticket", lang), " ", html.Span(d["id"], className="sm-id")], \
                ticket_body(d, lang), range_class
        if kind == "camera":
            d = md.camera_detail(views, ident, lang)
            return "sm-object", [t("mp.obj.camera", lang), " ", html.Span(d.get("name") or d["id"])], \
                camera_body(d, lang, snapshot_state(views, d)), range_class
        d = md.station_series(views, ident, rng if rng in RANGES else "24h", lang)
        return "sm-object", [t(f"mp.kind.{d.get('kind')}", lang), " — ", html.Span(d.get("name") or d["id"])], \
            station_body(d, lang), range_class
    except md.NotFound:
        return "sm-object", t(f"mp.obj.{kind}", lang), [html.Div(f"▲ {t('mp.obj.gone', lang)}", className="sm-warn")], \
            range_class
    except Exception:  # noqa: BLE001
        log.exception("map page: %s %s", kind, ident)
        return "sm-object", t(f"mp.obj.{kind}", lang), [error_box(lang)], range_class


def error_box(lang: str) -> html.Div:
    return html.Div(f"✖ {t('mp.error', lang)}", className="sm-error", role="alert")
