"""Briefings page `/briefings`: the stored daily and weekly briefings, newest first, with their
status in words and a download for each one that passed its checks (docs/briefings.md). A
failed briefing shows why and is never offered; a failed attempt made again and passed is
folded into the passing row. Reads ``ioc.views.briefing_list`` only."""

from __future__ import annotations

from dash import Input, Output, dcc, html
from flask import Response, send_file

from ioc.i18n import t
from ioc.views.briefing_list import BriefingRow, briefing_file, briefings

COLUMNS = ("period", "status", "pages", "size", "made", "")
STATUS_CLASS = {"done": "ok", "failed": "bad", "pending": "none", "superseded": "none"}


def download_href(row: BriefingRow) -> str:
    return f"/api/briefings/{row.id}.pdf"


def layout(**_kwargs):
    return html.Div(className="page briefings", children=[
        dcc.Interval(id="briefings-tick", interval=60_000),
        html.Header(className="topbar", children=[html.H1(id="briefings-title"),
                                                  html.Nav([dcc.Link(id="briefings-back", href="/")], className="nav")]),
        html.P(id="briefings-intro"),
        html.Div(id="briefings-list"),
    ])


def rows_table(rows: list[BriefingRow], lang: str):
    if not rows:
        return html.P(t("briefings.none", lang), className="empty")
    head = html.Thead(html.Tr([html.Th(t(f"briefings.col.{c}", lang) if c else "") for c in COLUMNS]))
    body = []
    for r in rows:
        mark = {"done": "✔", "failed": "✖", "pending": "…", "superseded": "✖"}.get(r.status, "")
        action = (html.A(t("briefings.download", lang), href=download_href(r), download=f"ban-tin-{r.id}.pdf")
                  if r.downloadable else html.Span(r.reason or "", className="reason"))
        status = [f"{mark} {r.status_label}"] + ([html.Br(), html.Small(r.mail)] if r.mail else [])
        body.append(html.Tr(className=f"state-{STATUS_CLASS.get(r.status, 'none')}", children=[
            html.Td(r.period_label), html.Td(status), html.Td(r.pages_text), html.Td(r.size_text),
            html.Td(r.made_at), html.Td(action)]))
    return html.Table([head, html.Tbody(body)], className="briefings-table")


def register(app, settings, views) -> None:
    @app.server.get("/api/briefings/<int:briefing_id>.pdf")
    def briefing_pdf(briefing_id: int):
        path = briefing_file(views, briefing_id)
        if path is None:
            return Response("Bản tin không có hoặc không đạt kiểm tra.", status=404, mimetype="text/plain")
        return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=path.name)

    @app.callback(
        Output("briefings-title", "children"),
        Output("briefings-intro", "children"),
        Output("briefings-back", "children"),
        Output("briefings-list", "children"),
        Input("briefings-tick", "n_intervals"),
        Input("lang", "data"),
    )
    def refresh(_n, lang):
        lang = lang if lang in ("vi", "en") else settings.language
        try:
            content = rows_table(briefings(views, lang=lang, fold_superseded=True), lang)
        except Exception:  # noqa: BLE001 - the database is down: say so, keep the page
            content = html.P(t("briefings.db_down", lang), className="empty bad")
        return t("briefings.title", lang), t("briefings.intro", lang), t("briefings.back", lang), content
