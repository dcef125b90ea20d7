"""The sector map's side panel (layouts/map.py): the sources' freshness badges, a commune's
figures and lists (paged, sorted and searched in the database, with CSV/XLSX links for exactly the
list on screen), and the clicked object — a request, a camera, a station (bodies in
layouts/map_details.py). What the panel's callbacks return, as plain functions."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from dash import html, no_update

from ioc.auth import scope
from ioc.i18n import t
from ioc.views import mapdata as md
from ioc.views import privacy, text
from layouts.components import FRESH_ICON
from layouts.map_details import camera_body, snapshot_state, station_body, ticket_body
from layouts.map_state import LIST_KINDS, RANGES, export_urls

log = logging.getLogger("ioc.web.map")

PAGE_SIZE = 12


def badges(views, lang: str) -> list:
    """Each source's freshness in words; figures that are not current say since when."""
    try:
        source_badges, figures = views.badges(lang)
    except Exception:  # noqa: BLE001
        log.exception("map page: badges")
        return [html.Span(f"✖ {t('mp.error_short', lang)}", className="sm-badge fresh-failing")]
    if not source_badges:
        return [html.Span(f"✖ {figures.label}", className="sm-badge fresh-failing")]
    out = [html.Span(f"{FRESH_ICON.get(b.freshness.state, '')} {t(f'source_short.{b.source}', lang)}: "
                     f"{b.freshness.label}", className=f"sm-badge fresh-{b.freshness.state}",
                     title=f"{b.name}: {b.freshness.label}") for b in source_badges]
    if not figures.current:
        out.append(html.Span(f"▲ {figures.label}", className="sm-badge fresh-stale"))
    return out


TONE_ICON = {"good": "✔", "bad": "✖", "neutral": ""}


def commune_head(panel: md.CommunePanel, lang: str) -> list:
    """A commune's figures: the commune, the province and the previous period side by side."""
    head = [html.H2(panel.name, className="sm-commune-name"),
            html.Div(panel.period, className="sm-period"),
            html.Div(panel.previous_period, className="sm-period sm-muted")]
    if panel.error:
        return head + [html.Div(f"✖ {panel.error}", className="sm-error", role="alert")]
    rows = [html.Tr([html.Th(r.label, scope="row"), html.Td(r.value, className="sm-num sm-strong"),
                     *([] if r.province is None else [html.Td(r.province, className="sm-num")]),
                     html.Td(r.previous, className="sm-num"),
                     html.Td(f"{TONE_ICON.get(r.tone, '')} {r.change}".strip(), className=f"sm-change tone-{r.tone}")],
                    id=f"map-kpi-{r.key}") for r in panel.rows]
    table = html.Table([html.Thead(html.Tr([html.Th(c) for c in panel.columns])), html.Tbody(rows)],
                       className="sm-kpis")
    return head + [table] + ([html.Div(panel.note, className="sm-note")] if panel.note else [])


def commune_prompt(lang: str) -> list:
    return [html.H2(t("mp.panel.title", lang), className="sm-commune-name"),
            html.P(t("mp.panel.prompt", lang), className="sm-muted")]


def list_outputs(page: md.ListPage, lang: str) -> tuple:
    """(columns, rows, page count, page, the count in words, the note)."""
    columns = [{"id": c["id"], "name": c["name"]} for c in page.columns]
    if page.total == 0:  # no header over nothing: the empty list says why
        columns = []
        total = html.Div(f"○ {page.empty_text}", className="sm-empty")
    else:
        first = page.page * page.page_size + 1
        last = min(page.total, first + len(page.rows) - 1)
        total = t("mp.list.count", lang).format(first=text.num(first, lang), last=text.num(last, lang),
                                                total=text.num(page.total, lang))
    return columns, page.rows, page.page_count, page.page, total, page.note


def exports(urls: Mapping[str, str], lang: str, total: int) -> list:
    if not total:
        return []
    return [html.A("⤓ CSV", href=urls["csv"], className="sm-export", id="map-export-csv",
                   title=t("mp.export_title", lang), download=""),
            html.A("⤓ XLSX", href=urls["xlsx"], className="sm-export", id="map-export-xlsx",
                   title=t("mp.export_title", lang), download="")]


def click_target(trigger, clicks: Mapping, close=None, ticket_ref=None) -> tuple:
    """(selected commune, selected object) after a click; clusters are not selections (a click
    on one zooms in). A ticket point carries its row id: ``ticket_ref`` turns it into the
    ticket's own id (the one the panel and the link show)."""
    if trigger == "map-object-close":
        return no_update, None if close else no_update
    data = clicks.get(trigger)
    props = ((data or {}).get("properties") or {}) if isinstance(data, Mapping) else {}
    if not props or props.get("cluster"):
        return no_update, no_update
    if trigger == "map-communes":
        code = props.get("code")
        return (code, None) if code else (no_update, no_update)
    kind = {"map-tickets": "ticket", "map-cameras": "camera", "map-stations": "station"}.get(trigger)
    ident = props.get("id")
    if kind == "ticket" and ticket_ref is not None and ident is not None:
        try:
            ident = ticket_ref(ident)
        except md.NotFound:  # gone since the points were loaded: the panel says so
            log.info("map page: ticket row %s gone", ident)
            return no_update, {"kind": "ticket", "id": f"row {ident}"}
        except Exception:  # noqa: BLE001 - the database is not answering: the click does nothing
            log.exception("map page: ticket row %s", ident)
            return no_update, no_update
    if kind and ident is not None:
        return no_update, {"kind": kind, "id": str(ident)}
    return no_update, no_update


def commune_section(views, filters: Mapping, lang: str) -> tuple:
    code = filters.get("commune")
    if not code:
        return commune_prompt(lang), "sm-list sm-hidden"
    try:
        panel = md.commune_panel(views, code, md.filters_for(views, filters), lang)
    except md.NotFound:
        return [html.Div(f"▲ {t('mp.unknown_commune', lang).format(code=code)}", className="sm-warn")], "sm-list sm-hidden"
    except Exception:  # noqa: BLE001
        log.exception("map page: commune panel %s", code)
        return [error_box(lang)], "sm-list sm-hidden"
    return commune_head(panel, lang), "sm-list"


def list_section(views, filters: Mapping, kind: str, query: str | None, page: int, sort_by: list | None,
                 lang: str) -> tuple:
    """The list's outputs: columns, rows, page count, page, the count in words, the note, the
    export links, and the order (``[]`` when the one asked for is not this list's)."""
    code = filters.get("commune")
    sort_out = [] if sort_by else no_update
    if not code:
        return [], [], 1, 0, t("mp.list.pick_commune", lang), None, [], sort_out
    kind = kind if kind in LIST_KINDS else LIST_KINDS[0]
    query = (query or "").strip()[:100]
    sort_by = list(sort_by or [])
    try:
        f = md.filters_for(views, filters)
        for attempt in (0, 1):
            sort = sort_by[0]["column_id"] if sort_by else None
            desc = bool(sort_by and sort_by[0].get("direction") == "desc")
            try:
                res = md.commune_list(views, code, kind, f, sort=sort, desc=desc, page=int(page or 0),
                                      page_size=PAGE_SIZE, query=query, lang=lang)
                break
            except ValueError:
                if not sort_by or attempt:
                    raise
                sort_by = []  # a column of another list (or an old link): the list's own order
    except ValueError as err:  # a search too long …
        log.warning("map page: list refused: %s", err)
        return [], [], 1, 0, html.Div(f"▲ {t('mp.list.refused', lang)}", className="sm-warn"), None, [], no_update
    except Exception:  # noqa: BLE001
        log.exception("map page: list %s %s", kind, code)
        return [], [], 1, 0, error_box(lang), None, [], no_update
    columns, rows, count, page, total, note = list_outputs(res, lang)
    return (columns, rows, count, page, total, note,
            exports(export_urls(filters, kind, sort_by, query, lang), lang, res.total),
            no_update if sort_by else sort_out)


def object_section(views, sel: Mapping | None, rng: str | None, lang: str) -> tuple:
    """(panel class, title, body, range switch class) for the clicked ticket, camera or station."""
    hidden = ("sm-object sm-hidden", None, None, "sm-seg sm-range sm-hidden")
    if not sel or sel.get("kind") not in ("ticket", "camera", "station"):
        return hidden
    kind, ident = sel["kind"], str(sel.get("id"))
    range_class = "sm-seg sm-range" if kind == "station" else "sm-seg sm-range sm-hidden"
    try:
        if kind == "ticket":
            d = md.ticket_detail(views, ident, lang)
            return "sm-object", [t("mp.obj.ticket", lang), " ", html.Span(d["id"], className="sm-id")], \
                ticket_body(d, lang, can_reveal=privacy.may_reveal(privacy.current_principal())), range_class
        if kind == "camera":
            d = md.camera_detail(views, ident, lang)
            return "sm-object", [t("mp.obj.camera", lang), " ", html.Span(d.get("name") or d["id"])], \
                camera_body(d, lang, snapshot_state(views, d)), range_class
        d = md.station_series(views, ident, rng if rng in RANGES else "24h", lang)
        return "sm-object", [t(f"mp.kind.{d.get('kind')}", lang), " — ", html.Span(d.get("name") or d["id"])], \
            station_body(d, lang), range_class
    except md.NotFound:
        return "sm-object", t(f"mp.obj.{kind}", lang), [html.Div(f"▲ {t('mp.obj.gone', lang)}", className="sm-warn")], \
            range_class
    except scope.OutOfScope:
        return "sm-object", t(f"mp.obj.{kind}", lang), [out_of_scope_box(lang)], range_class
    except Exception:  # noqa: BLE001
        log.exception("map page: %s %s", kind, ident)
        return "sm-object", t(f"mp.obj.{kind}", lang), [error_box(lang)], range_class


def reveal_section(views, sel: Mapping | None, reason: str | None, lang: str) -> list:
    """The clicked ticket's body with its reporter unmasked, for the request's principal with
    ``pii`` and a reason (the read model logs the access); else the masked body saying why not."""
    if not sel or sel.get("kind") != "ticket":
        return no_update
    ident = str(sel.get("id"))
    principal = privacy.current_principal()
    try:
        reveal = privacy.reveal_for(principal, True, reason)
        return ticket_body(md.ticket_detail(views, ident, lang, reveal=reveal), lang)
    except privacy.PiiDenied:
        message = t("mp.reveal.denied", lang)
    except ValueError:
        message = t("mp.reveal.no_reason", lang)
    except md.NotFound:
        return [html.Div(f"▲ {t('mp.obj.gone', lang)}", className="sm-warn")]
    except scope.OutOfScope:
        return [out_of_scope_box(lang)]
    except Exception:  # noqa: BLE001
        log.exception("map page: reveal %s", ident)
        return [error_box(lang)]
    return ticket_body(md.ticket_detail(views, ident, lang), lang, can_reveal=privacy.may_reveal(principal),
                       message=f"▲ {message}")


def out_of_scope_box(lang: str) -> html.Div:
    return html.Div(f"▲ {t('mp.obj.out_of_scope', lang)}", className="sm-warn", role="status")


def error_box(lang: str) -> html.Div:
    return html.Div(f"✖ {t('mp.error', lang)}", className="sm-error", role="alert")
