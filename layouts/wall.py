"""Operators' wall `/wall`: 16:9, 1080p to 4K, dark, nothing to click, live, unattended for days.

How it stays live (docs/views.md § Live updates): once a second a clientside poll
(assets/wall.js) asks ``GET /api/views/wall`` (ioc/web/wall_api.py) for what changed, sending the
tag of every panel it shows; the answer carries the rendered content of only the panels whose tag
moved, and wall.js writes it straight into the panels (no server callback per panel). The
content is what the plain functions below return (``panel_content``), rendered once per panel,
token, focus and language by each web worker. The same poll watches the server: when it cannot
be reached a banner says since when (the figures stay on screen), and when the server comes back
with new code the page reloads itself. A nightly reload keeps the browser's memory flat over weeks.

Language: ``/wall?lang=en`` or the app's default (``IOC_LANGUAGE``).
"""

from __future__ import annotations

from html import escape

import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, State, dcc, html
from dash_extensions.javascript import Namespace

from ioc.i18n import t
from layouts.components import badge, tile

POLL_MS = 1_000
PANELS = ("tiles", "alerts", "map", "focus", "badges")
# panels whose content depends on the focus panel on screen (the map follows it)
FOCUS_DEPENDENT = ("map", "focus")
# The map follows the focus panel on screen: communes coloured by the matching indicator, and
# the markers of that subject (air stations always: the province's most watched figure).
FOCUS_MAP = {"hotline_overdue": ("hotline_month", ("air", "tickets")),
             "cameras_offline": ("cam_online_pct", ("air", "cameras")),
             "worst_stations": ("qd766_on_time", ("air", "water")),
             "qd766_agencies": ("qd766_on_time", ("air", "tickets"))}
# The province with a margin (lat, lon): fitted on every screen size, no tiles needed.
PROVINCE_BOUNDS = [[10.18, 105.18], [11.02, 106.82]]
_map_ns = Namespace("ioc", "map")
COMMUNES_URL = "/api/geo/communes.geojson"


def layout(lang: str | None = None, **_kwargs):
    return html.Div(
        className="wall",
        children=[
            dcc.Store(id="wall-lang", data=lang if lang in ("vi", "en") else None),
            dcc.Store(id="wall-conn"),  # the poll's state: the tags shown, failures, build id (wall.js)
            dcc.Store(id="wall-texts"),
            dcc.Store(id="wall-focus-name"),
            dcc.Interval(id="wall-poll", interval=POLL_MS),
            dcc.Interval(id="wall-rotate", interval=20_000),
            html.Header(className="wall-head", children=[
                html.H1(id="wall-title"),
                html.Div(id="wall-badges", className="wall-badges"),
                html.Div(id="wall-clock", className="wall-clock"),
            ]),
            html.Div(id="wall-banner", className="wall-banner"),
            html.Section(id="wall-tiles", className="wall-tiles"),
            html.Section(className="wall-map", children=[
                html.Div(id="wall-map-title", className="wall-map-title"),
                dl.Map(
                    # center/zoom too: dash-leaflet 1.1.3 throws on a move when only bounds are set
                    # and the province fitted to the screen through the viewport
                    id="wall-map", center=[10.6, 106.0], zoom=9, bounds=PROVINCE_BOUNDS, zoomSnap=0.1,
                    viewport={"bounds": PROVINCE_BOUNDS, "transition": "fitBounds"}, zoomControl=False, dragging=False,
                    scrollWheelZoom=False, doubleClickZoom=False, touchZoom=False, boxZoom=False, keyboard=False,
                    attributionControl=False, className="wall-leaflet",
                    children=[
                        # url and hideout arrive together from the map callback, so the outlines are
                        # never drawn with an empty colouring
                        dl.GeoJSON(id="wall-communes", style=_map_ns("communeStyle"),
                                   hideout={"classes": {}, "colours": []}),
                        dl.LayerGroup(id="wall-markers"),
                    ],
                ),
                html.Div(id="wall-legend", className="wall-legend"),
            ]),
            html.Section(className="wall-side", children=[
                html.Div(id="wall-ticker", className="wall-ticker"),
                html.Div(id="wall-focus", className="wall-focus"),
            ]),
        ],
    )


def _lang(wall_lang, app_lang, default):
    return wall_lang or (app_lang if app_lang in ("vi", "en") else default)


def ticker(view, lang: str):
    head = html.H2([t("tile.alerts", lang), html.Span(view.freshness.label, className="fresh")
                    if not view.freshness.current else None])
    if not view.items:
        return [head, html.Div(view.empty_text, className="wall-empty")]
    rows = [html.Li([html.Span(f"{a.icon} {a.severity_label}", className="sev"), html.Span(a.text, className="msg"),
                     html.Span(a.since, className="since")], className=f"alert sev-{a.severity}")
            for a in view.items]
    return [head, html.Ul(rows, className="alert-list")]


def focus_panel(view):
    head = html.H2([view.title, html.Span(view.freshness.label, className="fresh")
                    if not view.freshness.current else None])
    if not view.rows:
        return [head, html.Div(view.empty_text, className="wall-empty")]
    body = []
    for i, row in enumerate(view.rows):
        colour = view.row_colours[i] if i < len(view.row_colours) else None
        cells = [html.Td(c) for c in row]
        if colour:
            cells[-1] = html.Td([html.Span(className="swatch", style={"background": colour}), row[-1]])
        body.append(html.Tr(cells))
    return [head, html.Table([html.Thead(html.Tr([html.Th(c) for c in view.columns])), html.Tbody(body)],
                             className="focus-table"),
            html.Div(view.note, className="focus-note")]


def markers(view):
    out = []
    for m in view.markers:
        content = f'<span style="background:{escape(m.colour)}">{escape(m.label)}</span>'
        out.append(dl.DivMarker(id=m.id, position=[m.lat, m.lon],
                                iconOptions={"className": f"mk mk-{m.kind}", "html": content, "iconSize": None},
                                children=dl.Tooltip(m.title)))
    return out


def legend(view):
    swatches = [html.Li([html.Span(className="swatch", style={"background": e.colour}), e.label]) for e in view.legend]
    marks = [html.Li([html.Span(className=f"swatch mk-{i}", style={"background": e.colour}), e.label])
             for i, e in enumerate(view.marker_legend)]
    children = [html.Ul(swatches, className="legend-classes"), html.Ul(marks, className="legend-markers")]
    if view.note:
        children.append(html.Div(view.note, className="legend-note"))
    return children


def register(app, settings, views) -> None:
    playlist = settings.wall_panels
    default_lang = settings.language

    # the poll writes the panels and its state itself (dash_clientside.set_props) and always
    # returns no_update: Dash drops the result of a clientside callback still running when its
    # interval fires again, and a slow answer must not be lost (docs/views.md § Live updates)
    app.clientside_callback(
        ClientsideFunction(namespace="ioc_wall", function_name="poll"),
        Output("wall-conn", "data"),
        Input("wall-poll", "n_intervals"), Input("wall-texts", "data"), State("wall-conn", "data"),
        State("wall-focus-name", "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="ioc_wall", function_name="rotate"),
        Output("wall-focus-name", "data"), Input("wall-rotate", "n_intervals"), State("wall-texts", "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="ioc_wall", function_name="clock"),
        Output("wall-clock", "children"), Input("wall-poll", "n_intervals"),
    )

    @app.callback(Output("wall-texts", "data"), Output("wall-title", "children"), Output("wall-rotate", "interval"),
                  Input("wall-lang", "data"), Input("lang", "data"))
    def texts(wall_lang, app_lang):
        lang = _lang(wall_lang, app_lang, default_lang)
        # what the clientside poll and rotation need: the banner's words, the playlist, the language
        return ({"server_down": t("wall.server_down", lang), "playlist": playlist, "lang": lang},
                t("wall.title", lang), settings.wall_rotate_seconds * 1000)


# --- what each panel shows, as plain functions of the read model (tested without a browser) ---


def render_tiles(views, lang: str) -> list:
    return [tile(v, "wall-tile") for v in views.tiles(lang)]


def render_badges(views, lang: str) -> list:
    source_badges, figures = views.badges(lang)
    out = [badge(b, t(f"source_short.{b.source}", lang)) for b in source_badges]
    if not figures.current:
        out.append(html.Div(figures.label, className=f"src-badge fresh-{figures.state} figures-stale"))
    return out


def render_ticker(views, lang: str) -> list:
    return ticker(views.ticker(lang), lang)


def render_focus(views, name: str, lang: str) -> list:
    return focus_panel(views.focus(name, lang))


def render_map(views, name: str, lang: str) -> tuple:
    metric, kinds = FOCUS_MAP[name]
    view = views.map_view(metric, lang, kinds)
    title = [view.metric_title, html.Span(view.freshness.label, className="fresh")
             if not view.freshness.current else None]
    return (COMMUNES_URL, {"classes": view.classes, "colours": view.colours, "none": view.colours[-1]},
            markers(view), legend(view), title)


def panel_content(views, panel: str, focus: str, lang: str):
    """What ``GET /api/views/wall`` sends for a panel: the children of its element, or for the map
    the props of its layers (assets/wall.js writes each where it belongs)."""
    if panel == "tiles":
        return render_tiles(views, lang)
    if panel == "badges":
        return render_badges(views, lang)
    if panel == "alerts":
        return render_ticker(views, lang)
    if panel == "focus":
        return render_focus(views, focus, lang)
    if panel == "map":
        url, hideout, marks, leg, title = render_map(views, focus, lang)
        return {"url": url, "hideout": hideout, "markers": marks, "legend": leg, "title": title}
    raise ValueError(f"unknown wall panel {panel!r}; known: {', '.join(PANELS)}")
