"""Operators' wall `/wall`: 16:9, 1080p to 4K, dark, nothing to click, live, unattended for days.

How it stays live (docs/views.md § Live updates): a clientside poll (assets/wall.js) fetches
``/api/views/versions`` once a second — a few hundred bytes — and sets a panel's version store
only when that panel's token changed; each panel's server callback listens to its own store and
reads only its own view. The same poll watches the server: when it cannot be reached a banner
says since when (the figures stay on screen), and when the server comes back with new code the
page reloads itself. A nightly reload keeps the browser's memory flat over weeks.

Language: ``/wall?lang=en`` or the app's default (``IOC_LANGUAGE``).
"""

from __future__ import annotations

from html import escape

import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, State, dcc, html
from dash_extensions.javascript import Namespace

from ioc.i18n import t
from ioc.views.read import FOCUS_PANELS
from layouts.components import badge, tile

POLL_MS = 1_000
PANELS = ("tiles", "alerts", "map", "focus", "badges")
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
            dcc.Store(id="wall-conn"),
            dcc.Store(id="wall-texts"),
            *[dcc.Store(id=f"wall-v-{p}") for p in PANELS],
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

    app.clientside_callback(
        ClientsideFunction(namespace="ioc_wall", function_name="poll"),
        Output("wall-conn", "data"), *[Output(f"wall-v-{p}", "data") for p in PANELS],
        Output("wall-banner", "children"), Output("wall-banner", "className"),
        Input("wall-poll", "n_intervals"), State("wall-conn", "data"), State("wall-texts", "data"),
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
        # what the clientside poll and rotation need: the banner's words and the playlist
        return ({"server_down": t("wall.server_down", lang), "playlist": playlist, "lang": lang},
                t("wall.title", lang), settings.wall_rotate_seconds * 1000)

    def lang_of(wall_lang, app_lang):
        return _lang(wall_lang, app_lang, default_lang)

    @app.callback(Output("wall-tiles", "children"), Input("wall-v-tiles", "data"), Input("wall-lang", "data"),
                  Input("lang", "data"))
    def _tiles(_v, wall_lang, app_lang):
        return render_tiles(views, lang_of(wall_lang, app_lang))

    @app.callback(Output("wall-badges", "children"), Input("wall-v-badges", "data"), Input("wall-lang", "data"),
                  Input("lang", "data"))
    def _badges(_v, wall_lang, app_lang):
        return render_badges(views, lang_of(wall_lang, app_lang))

    @app.callback(Output("wall-ticker", "children"), Input("wall-v-alerts", "data"), Input("wall-lang", "data"),
                  Input("lang", "data"))
    def _ticker(_v, wall_lang, app_lang):
        return render_ticker(views, lang_of(wall_lang, app_lang))

    @app.callback(Output("wall-focus", "children"), Input("wall-v-focus", "data"), Input("wall-focus-name", "data"),
                  Input("wall-lang", "data"), Input("lang", "data"))
    def _focus(_v, name, wall_lang, app_lang):
        return render_focus(views, name if name in FOCUS_PANELS else playlist[0], lang_of(wall_lang, app_lang))

    @app.callback(Output("wall-communes", "url"), Output("wall-communes", "hideout"), Output("wall-markers", "children"),
                  Output("wall-legend", "children"), Output("wall-map-title", "children"),
                  Input("wall-v-map", "data"), Input("wall-focus-name", "data"), Input("wall-lang", "data"),
                  Input("lang", "data"))
    def _map(_v, name, wall_lang, app_lang):
        return render_map(views, name if name in FOCUS_PANELS else playlist[0], lang_of(wall_lang, app_lang))


# --- what each callback returns, as plain functions of the read model (tested without a browser) ---


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
