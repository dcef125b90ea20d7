"""Leaders' mobile view `/m`: four cards for today, the last 7 days or this month, each with
a traffic light in colour and in words, the change since the previous period and, one tap
away (``<details>``, no callback), a trend and the five worst communes, stations or agencies.

Light on a mobile network: no plotly.js (trends are inline SVG images), a static skeleton,
data filled by two callbacks (the cards first, the slower daily trends beside them).
Everything is read through ``ioc.views.mobile``."""

from __future__ import annotations

from dash import Input, Output, State, dcc, html

from ioc.i18n import t
from ioc.views import mobile as mv
from ioc.views.mobile import CARD_KEYS, MobileCard, MobileView, Trend
from layouts.components import DELTA_ICON, FRESH_ICON, STATUS_ICON

REFRESH_MS = 60_000
LOADING = "Đang tải… · Loading…"  # before the first callback: the language is not known yet


def layout(**_kwargs):
    return html.Div(
        className="mobile",
        children=[
            dcc.Interval(id="m-tick", interval=REFRESH_MS),
            html.Header(className="m-top", children=[
                html.Div([html.H1("IOC Đồng Tháp"), html.P(id="m-period-label", className="m-period-label")]),
                html.Button("English", id="m-lang", n_clicks=0, className="m-lang"),
            ]),
            dcc.RadioItems(id="m-period", value="day", className="m-switch", inline=True,
                           persistence=True, persistence_type="local",
                           options=[{"label": t(f"m.period.{p}", "vi"), "value": p} for p in mv.PERIODS]),
            html.Div(id="m-banner"),
            html.Main(className="m-cards", children=[_shell(k) for k in CARD_KEYS]),
            html.Footer(id="m-updated", className="m-updated"),
            html.Nav(dcc.Link(id="m-status-link", href="/", className="m-status-link"), className="m-nav"),
        ],
    )


def _shell(key: str) -> html.Details:
    return html.Details(id=f"m-card-{key}", className="m-card status-none", children=[
        html.Summary(html.Div(LOADING, className="m-loading"), id=f"m-sum-{key}"),
        html.Div(LOADING, id=f"m-trend-{key}", className="m-trend"),
        html.Div(id=f"m-detail-{key}", className="m-detail"),
    ])


# --- components: functions of the typed views --------------------------------------------------


def summary(card: MobileCard, lang: str) -> list:
    fr = card.freshness
    delta = (html.Div([html.Span(DELTA_ICON[card.delta.direction], className="m-delta-icon"),
                       html.Span(card.delta.text)], className=f"m-delta delta-{card.delta.tone}")
             if card.delta else html.Div(card.delta_empty, className="m-delta delta-none"))
    return [
        html.Div(className="m-head", children=[
            html.Span(STATUS_ICON.get(card.status) or "?", className="m-light", **{"aria-hidden": "true"}),
            html.H2(card.title),
        ]),
        html.Div(className="m-value-row", children=[
            html.Span(card.value, className="m-value", style={"color": card.colour} if card.colour else None),
            html.Span(card.unit, className="m-unit"),
        ]),
        html.Div(card.status_label, className=f"m-status status-{card.status}"),
        html.Div(card.sub, className="m-sub") if card.sub else None,
        delta,
        None if fr.current else html.Div(f"{FRESH_ICON.get(fr.state, '')} {fr.label}",
                                         className=f"m-fresh fresh-{fr.state}"),
        html.Div(t("m.tap", lang), className="m-tap"),
    ]


def detail(card: MobileCard) -> list:
    facts = html.Dl([el for label, value in card.facts for el in (html.Dt(label), html.Dd(value))],
                    className="m-facts") if card.facts else None
    rows = html.Ol([html.Li([html.Span(STATUS_ICON.get(r.status) or "–", className=f"m-rank-icon status-{r.status}"),
                             html.Span(r.name, className="m-rank-name"), html.Span(r.value, className="m-rank-value")])
                    for r in card.worst], className="m-rank") if card.worst else None
    return [c for c in (
        facts,
        html.H3(card.worst_title),
        rows,
        html.P(card.worst_note, className="m-note") if card.worst_note else None,
    ) if c is not None]


def trend(view: Trend) -> list:
    if not view.svg:
        return [html.H3(view.label), html.P(view.empty_text, className="m-note")]
    return [html.H3(view.label),
            html.Img(src=mv.svg_uri(view.svg), alt=f"{view.label}. {view.summary}", className="m-chart"),
            html.P(view.summary, className="m-note")]


def render(view: MobileView, lang: str) -> tuple:
    """The callback's outputs for one view: header texts, then per card its class, summary
    and detail."""
    banner = html.Div(f"✖ {view.error}", className="m-banner", role="alert") if view.error else None
    out: list = [t("language", lang), [{"label": t(f"m.period.{p}", lang), "value": p} for p in mv.PERIODS],
                 view.period_label, banner, view.updated, t("m.status_link", lang)]
    for card in view.cards:
        stale = "" if card.freshness.current else " m-stale"
        out += [f"m-card status-{card.status}{stale}", summary(card, lang), detail(card)]
    return tuple(out)


def register(app, settings, views) -> None:
    # The language lives in the app-wide Store (the status page's toggle writes it too). Dash
    # 4.4 fires this callback when the page's content is inserted, prevent_initial_call or
    # not: only a real click (n > 0) toggles.
    app.clientside_callback("function(n, lang) { if (!n) { return window.dash_clientside.no_update; } "
                            "return lang === 'en' ? 'vi' : 'en'; }",
                            Output("lang", "data", allow_duplicate=True), Input("m-lang", "n_clicks"),
                            State("lang", "data"), prevent_initial_call=True)

    def _args(period, lang) -> tuple[str, str]:
        return (period if period in mv.PERIODS else "day"), (lang if lang in ("vi", "en") else settings.language)

    @app.callback(
        Output("m-lang", "children"), Output("m-period", "options"), Output("m-period-label", "children"),
        Output("m-banner", "children"), Output("m-updated", "children"), Output("m-status-link", "children"),
        *[Output(f"m-{part}-{k}", prop) for k in CARD_KEYS
          for part, prop in (("card", "className"), ("sum", "children"), ("detail", "children"))],
        Input("m-tick", "n_intervals"), Input("m-period", "value"), Input("lang", "data"),
    )
    def refresh(_n, period, lang):
        period, lang = _args(period, lang)
        return render(mv.cards(views, period, lang), lang)

    @app.callback(*[Output(f"m-trend-{k}", "children") for k in CARD_KEYS],
                  Input("m-tick", "n_intervals"), Input("m-period", "value"), Input("lang", "data"))
    def refresh_trends(_n, period, lang):
        period, lang = _args(period, lang)
        views_ = mv.trends(views, period, lang)
        return tuple(trend(views_[k]) for k in CARD_KEYS)
