"""Leaders' mobile view `/m`: four cards for today, the last 7 days or this month, each with
a traffic light in colour and in words, the change since the previous period and, one tap
away (``<details>``, no callback), a trend and the five worst communes, stations or agencies.

Light on a mobile network (docs/performance-web.md § 3):
* no plotly.js (trends are inline SVG images), and only Dash's core bundles and this page's
  own three files: ``/m`` is a lean page (``ioc/web/page_assets.py``), so it never renders a
  component of another library and links to the other pages by a full page load (``html.A``);
* the first answer already holds the figures: the layout, which Dash's page router asks the
  server for anyway, is filled from the read model for the period and language the phone chose
  last (two cookies written by a clientside callback), instead of a skeleton that a second round
  trip fills. The callbacks then only act on a change of period or language, and every minute.
Everything is read through ``ioc.views.mobile``."""

from __future__ import annotations

from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import current_app, has_request_context, request

from ioc.i18n import t
from ioc.views import mobile as mv
from ioc.views.mobile import CARD_KEYS, MobileCard, MobileView, Trend
from ioc.web.page_assets import DASH_CORE, LeanPage
from layouts.components import DELTA_ICON, FRESH_ICON, STATUS_ICON

REFRESH_MS = 60_000
LOADING = "Đang tải… · Loading…"  # a trend not computed yet; the language may not be known yet
# what /m loads besides the HTML: Dash's core bundles and these files of assets/
PAGE_FILES = LeanPage(suites=DASH_CORE, assets=("base.css", "mobile.css", "pwa.js"))
# the phone's last choices, for the server to render the first answer with; written by the
# clientside callback below, read by layout(); nothing personal
COOKIE_LANG, COOKIE_PERIOD = "ioc_lang", "ioc_m_period"
COOKIE_MAX_AGE = 400 * 24 * 3600


def layout(**_kwargs):
    """The page, filled with the figures when it is asked for within the app (Dash's page router
    calls it per request); outside a request (set-up, tests) the same page with its cards loading."""
    first = _first_answer()
    period, lang = (first[0], first[1]) if first else ("day", None)
    out = render(first[2], lang) if first else {}
    trends = first[3] if first else None

    def filled(cid: str, prop: str = "children", default=None):
        return out.get((cid, prop), default)

    return html.Div(
        className="mobile",
        children=[
            dcc.Interval(id="m-tick", interval=REFRESH_MS),
            # what the page shows now: the callbacks skip a first call that would show the same
            dcc.Store(id="m-shown", data={"period": period, "lang": lang, "trends": bool(trends)} if first else None),
            dcc.Store(id="m-prefs"),
            html.Header(className="m-top", children=[
                html.Div([html.H1("IOC Đồng Tháp"),
                          html.P(filled("m-period-label"), id="m-period-label", className="m-period-label")]),
                html.Button(filled("m-lang", default="English"), id="m-lang", n_clicks=0, className="m-lang"),
            ]),
            dcc.RadioItems(id="m-period", value=period, className="m-switch", inline=True,
                           options=filled("m-period", "options",
                                          [{"label": t(f"m.period.{p}", "vi"), "value": p} for p in mv.PERIODS])),
            html.Div(filled("m-banner"), id="m-banner"),
            html.Main(className="m-cards", children=[
                _card(k, out, trends[k] if trends else None) for k in CARD_KEYS]),
            html.Footer(filled("m-updated"), id="m-updated", className="m-updated"),
            # a full page load: the status page's libraries are not loaded on /m
            html.Nav(html.A(filled("m-status-link", default=t("m.status_link", "vi")), id="m-status-link", href="/",
                            className="m-status-link"), className="m-nav"),
        ],
    )


def _card(key: str, out: dict, trend_view: Trend | None) -> html.Details:
    return html.Details(id=f"m-card-{key}", className=out.get((f"m-card-{key}", "className"), "m-card status-none"),
                        children=[
        html.Summary(out.get((f"m-sum-{key}", "children"), html.Div(LOADING, className="m-loading")),
                     id=f"m-sum-{key}"),
        html.Div(trend(trend_view) if trend_view else LOADING, id=f"m-trend-{key}", className="m-trend"),
        html.Div(out.get((f"m-detail-{key}", "children")), id=f"m-detail-{key}", className="m-detail"),
    ])


def _first_answer() -> tuple[str, str, MobileView, dict[str, Trend] | None] | None:
    """(period, language, cards, trends or None) for the phone asking, from its cookies; None
    outside a request of the app. Trends only when cached: up to 31 day queries must not hold
    back the first figures."""
    if not has_request_context():
        return None
    views, settings = current_app.config.get("IOC_READ_MODEL"), current_app.config.get("IOC_SETTINGS")
    if views is None or settings is None:
        return None
    period, lang = _args(request.cookies.get(COOKIE_PERIOD), request.cookies.get(COOKIE_LANG), settings.language)
    return period, lang, mv.cards(views, period, lang), mv.cached_trends(views, period, lang)


def _args(period, lang, default_lang: str) -> tuple[str, str]:
    return (period if period in mv.PERIODS else "day"), (lang if lang in ("vi", "en") else default_lang)


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


# what the cards callback writes, in its order: the header texts, then per card its class,
# summary and detail, then what the page shows now
OUTPUTS = [("m-lang", "children"), ("m-period", "options"), ("m-period-label", "children"),
           ("m-banner", "children"), ("m-updated", "children"), ("m-status-link", "children"),
           *[(f"m-{part}-{k}", prop) for k in CARD_KEYS
             for part, prop in (("card", "className"), ("sum", "children"), ("detail", "children"))],
           ("m-shown", "data")]


def render(view: MobileView, lang: str) -> dict[tuple[str, str], object]:
    """Every (id, property) the page shows for one view: the first answer and the cards
    callback both come from here."""
    out: dict[tuple[str, str], object] = {
        ("m-lang", "children"): t("language", lang),
        ("m-period", "options"): [{"label": t(f"m.period.{p}", lang), "value": p} for p in mv.PERIODS],
        ("m-period-label", "children"): view.period_label,
        ("m-banner", "children"): (html.Div(f"✖ {view.error}", className="m-banner", role="alert")
                                   if view.error else None),
        ("m-updated", "children"): view.updated,
        ("m-status-link", "children"): t("m.status_link", lang),
        ("m-shown", "data"): {"period": view.period, "lang": lang},
    }
    for card in view.cards:
        stale = "" if card.freshness.current else " m-stale"
        out[(f"m-card-{card.key}", "className")] = f"m-card status-{card.status}{stale}"
        out[(f"m-sum-{card.key}", "children")] = summary(card, lang)
        out[(f"m-detail-{card.key}", "children")] = detail(card)
    return out


COOKIE_JS = """function(period, lang) {
  var keep = "; path=/; max-age=%d; samesite=lax";
  if (period) { document.cookie = "%s=" + encodeURIComponent(period) + keep; }
  if (lang) { document.cookie = "%s=" + encodeURIComponent(lang) + keep; }
  return window.dash_clientside.no_update;
}""" % (COOKIE_MAX_AGE, COOKIE_PERIOD, COOKIE_LANG)


def register(app, settings, views) -> None:
    if hasattr(app, "lean_page"):  # ioc.web.page_assets.PageAssetsDash
        app.lean_page("/m", PAGE_FILES)

    # The language lives in the app-wide Store (the status page's toggle writes it too). Dash
    # 4.4 fires this callback when the page's content is inserted, prevent_initial_call or
    # not: only a real click (n > 0) toggles.
    app.clientside_callback("function(n, lang) { if (!n) { return window.dash_clientside.no_update; } "
                            "return lang === 'en' ? 'vi' : 'en'; }",
                            Output("lang", "data", allow_duplicate=True), Input("m-lang", "n_clicks"),
                            State("lang", "data"), prevent_initial_call=True)
    # the phone's choices, for the server's first answer next time
    app.clientside_callback(COOKIE_JS, Output("m-prefs", "data"), Input("m-period", "value"), Input("lang", "data"))

    @app.callback(*[Output(cid, prop) for cid, prop in OUTPUTS],
                  Input("m-tick", "n_intervals"), Input("m-period", "value"), Input("lang", "data"),
                  State("m-shown", "data"))
    def refresh(_n, period, lang, shown):
        period, lang = _args(period, lang, settings.language)
        if skip_cards(ctx.triggered_id, shown, period, lang):
            raise PreventUpdate
        out = render(mv.cards(views, period, lang), lang)
        return tuple(out[o] for o in OUTPUTS)

    @app.callback(*[Output(f"m-trend-{k}", "children") for k in CARD_KEYS],
                  Input("m-tick", "n_intervals"), Input("m-period", "value"), Input("lang", "data"),
                  State("m-shown", "data"))
    def refresh_trends(_n, period, lang, shown):
        period, lang = _args(period, lang, settings.language)
        if skip_trends(ctx.triggered_id, shown, period, lang):
            raise PreventUpdate
        views_ = mv.trends(views, period, lang)
        return tuple(trend(views_[k]) for k in CARD_KEYS)


def skip_cards(trigger: str | None, shown: dict | None, period: str, lang: str) -> bool:
    """Nothing for the cards callback to do: not the minute's tick, and the page shows this
    period in this language already (its first answer, or a value set again)."""
    return trigger != "m-tick" and _same(shown, period, lang)


def skip_trends(trigger: str | None, shown: dict | None, period: str, lang: str) -> bool:
    """The first call after a first answer that held the trends (they were cached)."""
    return trigger is None and bool((shown or {}).get("trends")) and _same(shown, period, lang)


def _same(shown, period: str, lang: str) -> bool:
    return bool(shown) and shown.get("period") == period and shown.get("lang") == lang
