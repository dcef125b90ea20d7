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

This module holds the layout and registers the callbacks; what they return is written, as plain
functions tested without a browser, in ``map_state.py`` (a link ↔ the filters, the layers' URLs,
the ticket window), ``map_layers.py`` (the layer control and what a filter changes on it),
``map_legend.py`` (the legend and the ranking), ``map_panel.py`` (the side panel) and
``map_details.py`` (a request's, camera's or station's body).

Everything is read through ``ioc.views.mapdata``; callbacks call it directly (the JSON
endpoints are for the browser's layers and the downloads). Texts in ``ioc/i18n.py`` (``mp.*``
for the page, ``sm.*`` for the read model's); Vietnamese by default, the app-wide ``lang``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

import dash_leaflet as dl
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dash_table, dcc, html, no_update

from ioc.auth import scope
from ioc.i18n import t
from ioc.views import mapdata as md
from ioc.views import privacy
from layouts.map_layers import (
    checked_layers,
    layer_control,
    layer_keys,
    layer_props,
)
from layouts.map_legend import LOADING, legend, place_key, ranking
from layouts.map_panel import (
    PAGE_SIZE,
    badges,
    click_target,
    commune_section,
    error_box,
    list_section,
    object_section,
    reveal_section,
)
from layouts.map_state import (
    LIST_KINDS,
    METRICS,
    RANGES,
    STATUSES,
    TICKET_RULES,
    commune_kept,
    filters_update,
    parse_state,
    sector_switch,
    ticket_range,
    ticket_window,
)

log = logging.getLogger("ioc.web.map")

# the province (lat, lon) with a margin: the view when a link names none
PROVINCE_BOUNDS = [[10.18, 105.18], [11.02, 106.82]]
CENTER = [10.6, 106.0]
ZOOM = 9
FONT = '"Be Vietnam Pro", "Noto Sans", "DejaVu Sans", Arial, sans-serif'  # as assets/base.css

_VIEWS: dict = {"views": None, "settings": None}  # set by register()


def _lang(lang) -> str:
    if lang in ("vi", "en"):
        return lang
    return getattr(_VIEWS["settings"], "language", None) or "vi"


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
    layer_scope = scope.layer_params(privacy.current_principal())
    map_children, choro = layer_control(views, lang, state["filters"], state["metric"], state["layers"],
                                     state["commune"], gen, basemap)
    return html.Div(className="sector-map", children=[
        dcc.Store(id="map-init", data=stored),
        dcc.Store(id="map-filters", data=state["filters"]),
        dcc.Store(id="map-ticket-window", data=ticket_window(md.filters_for(views, state["filters"]), layer_scope)),
        # the scope parameters of the layers' URLs (ioc.auth.scope.layer_params; {}: the province)
        dcc.Store(id="map-layer-scope", data=layer_scope),
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
                options=commune_options(names, scope.limited_communes(privacy.current_principal())))),
            _field("map-l-metric", dcc.Dropdown(
                id="map-metric", value=state["metric"], clearable=False, searchable=False, className="sm-dd sm-dd-wide",
                options=metric_options(lang))),
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
                                   options=list_options(lang)),
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


def metric_options(lang: str) -> list[dict]:
    """The indicators the request's user may colour the communes by (scope.offered)."""
    return [{"label": t(f"sm.metric.{m}", lang), "value": m}
            for m in scope.offered(privacy.current_principal(), METRICS, scope.METRIC_NEEDS)]


def list_options(lang: str) -> list[dict]:
    """The list tabs the request's user may open (scope.offered)."""
    return [{"label": t(f"mp.list.{k}", lang), "value": k}
            for k in scope.offered(privacy.current_principal(), LIST_KINDS, scope.LIST_NEEDS)]


def commune_options(names: Mapping[str, str], only: tuple[str, ...] | None = None) -> list[dict]:
    """The commune dropdown's choices: every commune, or ``only`` those (a user limited to them)."""
    return [{"label": n, "value": c} for c, n in sorted(names.items(), key=lambda x: place_key(x[1]))
            if only is None or c in only]


def refused_notice(refused: list[str], lang: str) -> html.Div:
    return html.Div(f"▲ {t('mp.refused', lang).format(keys=', '.join(refused))}", className="sm-warn", role="status")


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
                metric_options(lang), list_options(lang), t("mp.search_ph", lang),
                [{"label": t(f"sm.range.{r}", lang), "value": r} for r in RANGES],
                None if basemap else t("mp.no_basemap", lang))

    @app.callback(Output("map-badges", "children"), Input("map-tick", "n_intervals"), Input("lang", "data"))
    def _badges(_n, lang):
        return badges(views, _lang(lang))

    @app.callback(
        Output("map-filters", "data"), Output("map-notice", "children"),
        Output("map-commune", "value", allow_duplicate=True),
        Input("map-dates", "start_date"), Input("map-dates", "end_date"), Input("map-service", "value"),
        Input("map-sector", "value"), Input("map-status", "value"), Input("map-commune", "value"),
        State("lang", "data"), State("map-filters", "data"), prevent_initial_call=True)
    def filters(start, end, service, sector, status, commune, lang, current):
        # a user limited to communes who clears the commune stays on theirs, and is told why
        kept = commune_kept(views, commune, current, scope.limited_communes(privacy.current_principal()),
                            _lang(lang))
        if kept is not None:
            return no_update, *kept
        return (*filters_update(views, {"start": start, "end": end, "service": service or [], "sector": sector,
                                        "status": status, "commune": commune}, current, _lang(lang)), no_update)

    # the ticket points' window changes only for a range outside it (its own callback: a status or
    # date change must not wait for the filters' round trip, see ioc_map.tickets)
    @app.callback(Output("map-ticket-window", "data"), Input("map-dates", "start_date"), Input("map-dates", "end_date"),
                  State("map-ticket-window", "data"), prevent_initial_call=True)
    def _ticket_range(start, end, current):
        return ticket_range(views, start, end, current, scope.layer_params(privacy.current_principal()))

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
        children, _legend_data = layer_control(views, lang, filters_, metric if metric in METRICS else METRICS[0],
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
        State("map-layer-scope", "data"), prevent_initial_call=True)

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
        commune, sel = click_target(trigger, {"map-communes": commune_click, "map-tickets": ticket_click,
                                              "map-cameras": camera_click, "map-stations": station_click}, close,
                                    ticket_ref=lambda row: md.ticket_ref(views, row))
        if isinstance(commune, str) and not privacy.current_principal().commune_allowed(commune):
            return no_update, no_update  # another commune's outline: not a choice for a user limited to theirs
        return commune, sel

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

    @app.callback(Output("map-object-body", "children", allow_duplicate=True), Input("map-reveal-go", "n_clicks"),
                  State("map-reveal-reason", "value"), State("map-sel", "data"), State("lang", "data"),
                  prevent_initial_call=True)
    def _reveal(n, reason, sel, lang):
        return reveal_section(views, sel, reason, _lang(lang)) if n else no_update

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
