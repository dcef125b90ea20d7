"""Source status page: is each upstream fresh, late, stale or failing — said plainly."""

from __future__ import annotations

from datetime import datetime, timezone

from dash import Input, Output, State, dcc, html

from ioc.formatting import format_datetime, format_number
from ioc.i18n import t
from ioc.live_store import SOURCES, LiveStore
from ioc.settings import Settings
from ioc.source_health import derive_state
from ioc.web.health import redis_url_for
from layouts.kpi_tiles import kpi_tiles

STATE_CLASS = {"fresh": "ok", "late": "warn", "stale": "bad", "failing": "bad"}


def layout():
    return html.Div(
        className="page",
        children=[
            dcc.Store(id="lang", storage_type="local", data="vi"),
            dcc.Interval(id="tick", interval=5_000),
            html.Header(
                className="topbar",
                children=[
                    html.H1(id="title"),
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


def source_card(source: str, health: dict[str, str], lang: str, tz, quarantined: int = 0) -> html.Div:
    state = derive_state(health)  # never trust a stored "fresh": the connector may be dead
    last = health.get("last_success")
    last_dt = datetime.fromisoformat(last) if last else None
    newest = health.get("newest_upstream")
    rows = [
        html.Div([html.Span(t("last_success", lang)), html.Strong(format_datetime(last_dt, tz))]),
        html.Div([html.Span(t("newest_data", lang)),
                  html.Strong(format_datetime(datetime.fromisoformat(newest), tz) if newest else "—")]),
        html.Div([
            html.Span(t("records", lang)),
            html.Strong(format_number(int(health["records_last_run"]), lang=lang) if health.get("records_last_run") else "—"),
        ]),
    ]
    if quarantined:
        rows.append(html.Div([html.Span(t("quarantined", lang)), html.Strong(format_number(quarantined, lang=lang))]))
    if health.get("last_error") and state in ("failing", "stale", "late"):
        rows.append(html.Div([html.Span(t("last_error", lang)), html.Em(health["last_error"][:160])]))
    return html.Div(
        className=f"card state-{STATE_CLASS.get(state, 'none')}",
        children=[
            html.H3(t(f"source.{source}", lang)),
            html.Div(t(f"state.{state}", lang), className="badge"),
            *rows,
        ],
    )


def register(app, settings: Settings) -> None:
    store = LiveStore.from_url(redis_url_for(settings), settings.redis_prefix, socket_timeout=2)

    @app.callback(Output("lang", "data"), Input("lang-toggle", "n_clicks"), State("lang", "data"), prevent_initial_call=True)
    def toggle(_n, lang):
        return "en" if lang == "vi" else "vi"

    @app.callback(
        Output("title", "children"),
        Output("kpis-title", "children"),
        Output("kpi-tiles", "children"),
        Output("sources-title", "children"),
        Output("lang-toggle", "children"),
        Output("source-cards", "children"),
        Output("updated", "children"),
        Input("tick", "n_intervals"),
        Input("lang", "data"),
    )
    def refresh(_n, lang):
        lang = lang or "vi"
        now = format_datetime(datetime.now(timezone.utc), settings.tz, seconds=True)
        try:
            healths = store.all_health()
            quarantine = store.quarantine_counts()
            snap = store.snapshot()
        except Exception:
            cards = [html.Div(t("store_down", lang), className="empty bad")]
            tiles = []
        else:
            tiles = kpi_tiles(snap, lang)
            if not any(healths.values()):
                cards = [html.Div(t("no_sources", lang), className="empty")]
            else:
                cards = [source_card(s, healths[s], lang, settings.tz,
                                     sum(n for k, n in quarantine.items() if k.startswith(f"{s}:")))
                         for s in SOURCES]
        return (t("app_title", lang), t("kpis", lang), tiles, t("sources", lang), t("language", lang), cards,
                f"{t('updated_at', lang)} {now}")
