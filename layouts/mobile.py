"""Leaders' mobile view `/m`: four cards for today, the last 7 days or this month, each with
a traffic light in colour and in words, the change since the previous period and, one tap
away (``<details>``), a trend and the five worst communes, stations or agencies.

A plain HTML page of the server, not a Dash page (docs/views.md § Leaders' mobile view, "Why
not a Dash page"): under a phone's network and CPU (Lighthouse's mobile throttling) Dash's
~1.2 MB of JavaScript and its serial requests (HTML → bundles → layout → page → callbacks) took
2.3–3.8 s before the first figure; this page carries its figures in the HTML (~5 KiB
compressed, two small stylesheets), so they show at first paint and every control works
without JavaScript:

* ``GET /m`` — the page, for ``?p=day|week|month`` and ``?lang=vi|en`` (links: the period
  switch and the language switch), else the phone's last choice (cookies ``ioc_m_period``,
  ``ioc_lang``), else today and ``IOC_LANGUAGE``. Never cached (``no-store``).
* ``GET /m/parts`` — the same figures as HTML pieces by element id (JSON), for the page's
  script (``layouts/mobile_page.js``, inlined): the trends when the page came without them (not
  cached yet: up to 31 day queries must not hold back the first figures), every minute all of
  it, keeping open details open; a failed refresh says since when the server is unreachable
  and marks the cards stale.

The components are Dash ``html`` components, functions of the typed views of
``ioc.views.mobile`` (as on the other pages), written out as HTML by ``to_html``. A Dash page
stays registered at ``/m`` only for a client-side navigation from another page (a
``dcc.Link``): it loads the server's page."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from dash import Input, Output, html
from flask import Response, request

from ioc.i18n import t
from ioc.views import mobile as mv
from ioc.views.mobile import CARD_KEYS, MobileCard, MobileView, Trend
from layouts.components import DELTA_ICON, FRESH_ICON, STATUS_ICON

REFRESH_MS = 60_000
LOADING = "Đang tải… · Loading…"  # a trend not computed yet
LANGS = ("vi", "en")
# the phone's last choices (set by the switches' links), for the next /m without a query; nothing personal
COOKIE_LANG, COOKIE_PERIOD = "ioc_lang", "ioc_m_period"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep
STYLESHEETS = ("base.css", "mobile.css")
SCRIPT = (Path(__file__).with_name("mobile_page.js")).read_text(encoding="utf-8")
if "</" in SCRIPT:  # it is inlined into the page: "</script>" in it would end it early
    raise ValueError("layouts/mobile_page.js must not contain '</'")


def layout(**_kwargs):
    """The Dash page at /m, reached only by a client-side navigation from another Dash page:
    it loads the server's /m (the link is there for a browser without JavaScript)."""
    return html.Div(id="m-reload", className="mobile", children=html.A(LOADING, href="/m"))


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


# --- the page -----------------------------------------------------------------------------------


def render(view: MobileView, lang: str) -> dict[str, dict[str, str]]:
    """The parts of the page that follow the figures, by element id: ``{"html": …}`` for its
    content, ``{"class": …}`` for its class. The page and its minute's refresh both come from here."""
    banner = html.Div(f"✖ {view.error}", className="m-banner", role="alert") if view.error else None
    out = {"m-period-label": {"html": escape(view.period_label)}, "m-banner": {"html": to_html(banner)},
           "m-updated": {"html": escape(view.updated)}}
    for card in view.cards:
        stale = "" if card.freshness.current else " m-stale"
        out[f"m-card-{card.key}"] = {"class": f"m-card status-{card.status}{stale}"}
        out[f"m-sum-{card.key}"] = {"html": to_html(summary(card, lang))}
        out[f"m-detail-{card.key}"] = {"html": to_html(detail(card))}
    return out


def render_trends(trends: dict[str, Trend]) -> dict[str, dict[str, str]]:
    return {f"m-trend-{k}": {"html": to_html(trend(trends[k]))} for k in CARD_KEYS}


def page_html(view: MobileView, trends: dict[str, Trend] | None, lang: str, *, chosen: bool,
              asset_url=lambda name: f"/assets/{name}") -> str:
    """The whole page. ``trends`` None: each card's trend says it is loading and the page's
    script asks for them. ``chosen``: the language came from the switch (the script then keeps
    it for the other pages too)."""
    parts = render(view, lang)
    period = view.period
    other = "en" if lang == "vi" else "vi"

    def inner(cid: str) -> str:
        return parts[cid]["html"]

    def card(key: str) -> str:
        trend_html = (f'<div id="m-trend-{key}" class="m-trend">{to_html(trend(trends[key]))}</div>' if trends else
                      f'<div id="m-trend-{key}" class="m-trend" data-pending="1">{escape(LOADING)}</div>')
        return (f'<details id="m-card-{key}" class="{parts[f"m-card-{key}"]["class"]}">'
                f'<summary id="m-sum-{key}">{inner(f"m-sum-{key}")}</summary>{trend_html}'
                f'<div id="m-detail-{key}" class="m-detail">{inner(f"m-detail-{key}")}</div></details>')

    current = ' aria-current="page"'
    switch = "".join(f'<a href="?p={p}&amp;lang={lang}"{current if p == period else ""}>'
                     f'{escape(t(f"m.period.{p}", lang))}</a>' for p in mv.PERIODS)
    config = {"period": period, "lang": lang, "chosen": chosen, "refresh": REFRESH_MS,
              "offline": t("wall.server_down", lang)}
    css = "".join(f'<link rel="stylesheet" href="{escape(asset_url(n))}">' for n in STYLESHEETS)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="theme-color" content="#0f1623"><title>IOC Đồng Tháp</title>'
        f'<link rel="icon" href="{escape(asset_url("favicon.ico"))}"><link rel="manifest" href="/manifest.webmanifest">'
        f'{css}</head><body>'
        f'<div class="mobile" data-m="{escape(json.dumps(config, ensure_ascii=False))}">'
        '<header class="m-top"><div><h1>IOC Đồng Tháp</h1>'
        f'<p id="m-period-label" class="m-period-label">{inner("m-period-label")}</p></div>'
        f'<a id="m-lang" class="m-lang" href="?p={period}&amp;lang={other}" hreflang="{other}" lang="{other}">'
        f'{escape(t("language", lang))}</a></header>'
        f'<nav id="m-period" class="m-switch">{switch}</nav>'
        '<div id="m-offline" class="m-banner" role="alert" hidden></div>'
        f'<div id="m-banner">{inner("m-banner")}</div>'
        f'<main class="m-cards">{"".join(card(k) for k in CARD_KEYS)}</main>'
        f'<footer id="m-updated" class="m-updated">{inner("m-updated")}</footer>'
        f'<nav class="m-nav"><a id="m-status-link" class="m-status-link" href="/">{escape(t("m.status_link", lang))}</a>'
        # sign-out, as on the Dash pages (/logout asks to confirm: a prefetch cannot sign anyone out)
        f'<a id="m-logout" class="m-logout" href="/logout?lang={lang}">{escape(t("auth.logout", lang))}</a>'
        f'</nav></div><script>{SCRIPT}</script></body></html>')


# --- Dash html components as HTML text ----------------------------------------------------------

VOID = {"img", "br", "hr", "input", "meta", "link"}
SKIP_PROPS = {"children", "n_clicks", "n_clicks_timestamp", "disable_n_clicks", "key", "loading_state"}
ATTRIBUTE = {"className": "class", "htmlFor": "for", "hrefLang": "hreflang"}


def to_html(node) -> str:
    """A tree of Dash ``html`` components (strings, numbers, lists, None) as escaped HTML."""
    if node is None or node is False:
        return ""
    if isinstance(node, (list, tuple)):
        return "".join(to_html(n) for n in node)
    if isinstance(node, (str, int, float)):
        return escape(str(node), quote=False)
    if getattr(node, "_namespace", None) != "dash_html_components":
        raise TypeError(f"not an html component: {type(node).__name__}")
    tag = type(node).__name__.lower()
    props = node.to_plotly_json()["props"]
    attrs = "".join(_attribute(k, v) for k, v in props.items() if k not in SKIP_PROPS and v is not None)
    if tag in VOID:
        return f"<{tag}{attrs}>"
    return f"<{tag}{attrs}>{to_html(props.get('children'))}</{tag}>"


def _attribute(name: str, value) -> str:
    name = ATTRIBUTE.get(name, name)
    if name == "style":
        value = ";".join(f"{''.join('-' + c.lower() if c.isupper() else c for c in k)}:{v}" for k, v in value.items())
    if value is True:
        return f" {name}"
    if value is False:
        return ""
    return f' {name}="{escape(str(value), quote=True)}"'


# --- the routes ---------------------------------------------------------------------------------


def _choice(default_lang: str) -> tuple[str, str, bool]:
    """(period, language, language chosen by this request's query)."""
    q_period, q_lang = request.args.get("p"), request.args.get("lang")
    c_period, c_lang = request.cookies.get(COOKIE_PERIOD), request.cookies.get(COOKIE_LANG)
    period = q_period if q_period in mv.PERIODS else (c_period if c_period in mv.PERIODS else "day")
    lang = q_lang if q_lang in LANGS else (c_lang if c_lang in LANGS else default_lang)
    return period, lang, q_lang in LANGS


def register(app, settings, views) -> None:
    server = app.server
    assets = Path(app.config.assets_folder)

    def asset_url(name: str) -> str:  # versioned like Dash's own asset links (the service worker caches them)
        path = assets / name
        return f"{app.get_asset_url(name)}?m={int(path.stat().st_mtime)}" if path.is_file() else app.get_asset_url(name)

    def page():
        period, lang, chosen = _choice(settings.language)
        body = page_html(mv.cards(views, period, lang), mv.cached_trends(views, period, lang), lang, chosen=chosen,
                         asset_url=asset_url)
        res = Response(body, mimetype="text/html", headers={"Cache-Control": "no-store"})
        for name, value, asked in ((COOKIE_PERIOD, period, request.args.get("p")),
                                   (COOKIE_LANG, lang, request.args.get("lang"))):
            if asked == value:  # a choice made with the switches: kept for the next /m
                res.set_cookie(name, value, max_age=COOKIE_MAX_AGE, samesite="Lax")
        return res

    def parts():
        period, lang, _ = _choice(settings.language)
        out = {} if request.args.get("what") == "trends" else render(mv.cards(views, period, lang), lang)
        out.update(render_trends(mv.trends(views, period, lang)))
        return Response(json.dumps(out, ensure_ascii=False), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    # plain routes win over Dash's catch-all page route (Werkzeug matches static paths first)
    server.add_url_rule("/m", "mobile_page", page, methods=["GET"], strict_slashes=False)
    server.add_url_rule("/m/parts", "mobile_parts", parts, methods=["GET"])

    # a client-side navigation to /m from another Dash page renders layout() above: load the real page
    app.clientside_callback("function(n) { window.location.replace(window.location.href); "
                            "return window.dash_clientside.no_update; }",
                            Output("m-reload", "title"), Input("m-reload", "n_clicks"))
