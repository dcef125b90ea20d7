"""Source status page `/`: is each upstream fresh, late, stale or failing — said plainly —
and the key indicators, both through the read model."""

from __future__ import annotations

from datetime import datetime, timezone

from dash import Input, Output, State, dcc, html, no_update

from ioc.formatting import format_datetime
from ioc.i18n import t
from ioc.views.models import SourceStatus
from layouts.components import FRESH_ICON, tile

STATE_CLASS = {"fresh": "ok", "late": "warn", "stale": "bad", "failing": "bad", "unknown": "none"}


def layout(**_kwargs):
    return html.Div(
        className="page",
        children=[
            dcc.Interval(id="tick", interval=5_000),
            html.Header(
                className="topbar",
                children=[
                    html.H1(id="title"),
                    html.Nav([dcc.Link(id="link-wall", href="/wall"), dcc.Link(id="link-mobile", href="/m"),
                              dcc.Link(id="link-map", href="/map"), dcc.Link(id="link-briefings", href="/briefings")],
                             className="nav"),
                    html.Button(id="lang-toggle", className="lang-toggle", n_clicks=0),
                ],
            ),
            html.H2(id="kpis-title"),
            html.Div(id="kpi-tiles", className="kpis"),
            html.H2(id="sources-title"),
            html.Div(id="source-cards", className="cards"),
            html.Footer(id="updated", className="updated"),
        ],
    )


def source_card(view: SourceStatus, lang: str) -> html.Div:
    fr = view.freshness
    rows = [
        html.Div([html.Span(t("last_success", lang)), html.Strong(view.last_success)]),
        html.Div([html.Span(t("newest_data", lang)), html.Strong(view.newest_data)]),
        html.Div([html.Span(t("records", lang)), html.Strong(view.records_last_run)]),
    ]
    if view.quarantined:
        rows.append(html.Div([html.Span(t("quarantined", lang)), html.Strong(view.quarantined)]))
    if view.last_error:
        rows.append(html.Div([html.Span(t("last_error", lang)), html.Em(view.last_error)]))
    return html.Div(
        className=f"card state-{STATE_CLASS.get(fr.state, 'none')}",
        children=[html.H3(view.name), html.Div(f"{FRESH_ICON.get(fr.state, '')} {fr.label}", className="badge"),
                  *rows],
    )


def register(app, settings, views) -> None:
    @app.callback(Output("lang", "data"), Input("lang-toggle", "n_clicks"), State("lang", "data"), prevent_initial_call=True)
    def toggle(n, lang):
        if not n:  # the button was just rendered (a page change), not clicked
            return no_update
        return "en" if lang == "vi" else "vi"

    @app.callback(
        Output("title", "children"),
        Output("kpis-title", "children"),
        Output("kpi-tiles", "children"),
        Output("sources-title", "children"),
        Output("lang-toggle", "children"),
        Output("link-wall", "children"),
        Output("link-mobile", "children"),
        Output("link-map", "children"),
        Output("link-briefings", "children"),
        Output("source-cards", "children"),
        Output("updated", "children"),
        Input("tick", "n_intervals"),
        Input("lang", "data"),
    )
    def refresh(_n, lang):
        lang = lang if lang in ("vi", "en") else settings.language
        now = format_datetime(datetime.now(timezone.utc), settings.tz, seconds=True)
        statuses = views.source_status(lang)
        if statuses is None:
            cards = [html.Div(t("store_down", lang), className="empty bad")]
        elif all(s.freshness.state == "unknown" for s in statuses):
            cards = [html.Div(t("no_sources", lang), className="empty")]
        else:
            cards = [source_card(s, lang) for s in statuses]
        tiles = [tile(v, "kpi") for v in views.tiles(lang)]
        return (t("app_title", lang), t("kpis", lang), tiles, t("sources", lang), t("language", lang),
                t("nav.wall", lang), t("nav.mobile", lang), t("nav.map", lang), t("nav.briefings", lang), cards, f"{t('updated_at', lang)} {now}")
