"""The page for a path no page claims (Dash's ``not_found_404``), in Vietnamese and English at
once: it has no callbacks, so it works whatever the language switch says and for every
signed-in user. It links to the pages the user may open."""

from __future__ import annotations

from dash import dcc, html

from ioc.auth.registry import PAGES
from ioc.i18n import t
from ioc.views import privacy

# path → label key; each page's access area is the guard's (ioc/auth/registry.py PAGES)
LINKS = {"/": "nf.status", "/wall": "nav.wall", "/m": "nav.mobile", "/map": "nav.map", "/briefings": "nav.briefings"}


def both(key: str) -> str:
    return f"{t(key, 'vi')} · {t(key, 'en')}"


def layout(**_query):
    p = privacy.current_principal()
    links = [html.Li(dcc.Link(both(key), href=path)) for path, key in LINKS.items() if p.may(PAGES[path])]
    return html.Div(className="page not-found", children=[
        html.H1(t("nf.title", "vi")),
        html.P(t("nf.title", "en"), className="not-found-en"),
        html.P(both("nf.hint")),
        html.Ul(links, className="not-found-links") if links else html.P(both("nf.no_pages"), className="empty"),
    ])
