"""The sector map's state (layouts/map.py): what a link says ↔ the filters and the view.

``parse_state`` reads a link's query (what the read model refuses is dropped and named),
``filters_query`` writes the filters back as the page keeps them, ``layer_urls`` and
``ticket_window`` give the layers' data URLs, ``export_urls`` a list's downloads; ``filters_update``
and ``sector_switch`` are what the filter and sector callbacks return. The browser writes the
view back into the address bar (assets/sector_map.js ``ioc_map.url``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from dash import html, no_update

from ioc.i18n import t
from ioc.views import mapdata as md

LAYERS = ("communes", "density", "tickets", "cameras", "stations")
METRICS = tuple(md.METRICS)
SECTORS = tuple(md.SECTORS)
STATUSES = tuple(md.STATUSES)
LIST_KINDS = tuple(md.LIST_KINDS)
RANGES = tuple(md.RANGES)
FILTER_KEYS = ("start", "end", "service", "sector", "status", "cam_status", "commune")
# A sector switches on its layers (the communes, and what the read model says the sector looks
# at first), colours the communes by its indicator and opens its list.
SECTOR_LAYERS = {s: ["communes", *[x for x in d["layers"] if x in LAYERS]] for s, d in md.SECTOR_DEFAULTS.items()}
# all sectors: the communes and the requests (every layer at once hides the province under markers)
SECTOR_LAYERS["all"] = ["communes", "tickets"]
SECTOR_METRIC = {s: d["metric"] for s, d in md.SECTOR_DEFAULTS.items()}
SECTOR_LIST = {"hotline": "tickets", "security": "cameras_offline", "procedures": "dossiers_overdue"}


def _one(value) -> str | None:
    """A query value as one string (the last one when repeated)."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else None
    return None if value is None else str(value)


def _many(value) -> list[str]:
    """A query value as a list: repeated (``a=1&a=2``) or comma-separated (``a=1,2``)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        if item is not None:
            out += [p.strip() for p in str(item).split(",") if p.strip()]
    return out


def _float(value, lo: float, hi: float) -> float | None:
    try:
        f = float(_one(value))
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and lo <= f <= hi else None


def check_filters(views, raw: Mapping) -> tuple[md.MapFilters, list[str], str | None]:
    """MapFilters from query values; values the read model refuses are dropped one by one (the
    rest of the link still works). Returns (filters, refused keys, the first refusal's reason)."""
    raw = {k: (",".join(_many(v)) if k == "service" else _one(v)) for k, v in raw.items()
           if k in FILTER_KEYS and v not in (None, "", [])}
    try:
        return md.filters_for(views, raw), [], None
    except ValueError as err:
        reason = str(err)
    good: dict = {}
    refused = []
    for k, v in raw.items():
        try:
            md.filters_for(views, {**good, k: v})
            good[k] = v
        except ValueError:
            refused.append(k)
    try:
        return md.filters_for(views, good), refused, reason
    except ValueError:
        return md.filters_for(views, {}), sorted(raw), reason


def filters_query(f: md.MapFilters) -> dict:
    """The filters as the page keeps them: ``to_query()`` with the dates always written out, so
    that a copied link shows the same days tomorrow (not "the last 30 days" of that day)."""
    return {"start": f.start.isoformat(), "end": f.end.isoformat(), **f.to_query()}


def parse_state(views, query: Mapping) -> dict:
    """Everything a link can say about the view, checked; what is refused falls back to the
    default and is named in ``refused``."""
    query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    f, refused, _reason = check_filters(views, query)
    if f.commune and f.commune not in views.atlas.names():
        refused.append("commune")
        f = f.model_copy(update={"commune": ""})
    metric = _one(query.get("metric"))
    if metric is not None and metric not in METRICS:
        refused.append("metric")
        metric = None
    layers = None
    if "layers" in query:
        asked = _many(query["layers"])
        layers = [x for x in LAYERS if x in asked]
        if len(layers) != len(set(asked)):
            refused.append("layers")
    view = None
    z, lat, lon = _float(query.get("z"), 6, 19), _float(query.get("lat"), 8.0, 12.5), _float(query.get("lon"), 103.5, 108.5)
    if z is not None and lat is not None and lon is not None:
        view = {"zoom": z, "center": [lat, lon]}
    elif any(k in query for k in ("z", "lat", "lon")):
        refused.append("z/lat/lon")
    sel = None
    if raw_sel := _one(query.get("sel")):
        kind, _, ident = raw_sel.partition(":")
        if kind in ("ticket", "camera", "station") and ident:
            sel = {"kind": kind, "id": ident}
        else:
            refused.append("sel")
    kind = _one(query.get("list"))
    if kind is not None and kind not in LIST_KINDS:
        refused.append("list")
        kind = None
    rng = _one(query.get("range"))
    if rng is not None and rng not in RANGES:
        refused.append("range")
        rng = None
    return {
        "filters": filters_query(f), "start": f.start.isoformat(), "end": f.end.isoformat(),
        "service": list(f.service), "sector": f.sector, "status": f.status, "commune": f.commune or None,
        "metric": metric or SECTOR_METRIC.get(f.sector, METRICS[0]),
        "layers": layers if layers is not None else list(SECTOR_LAYERS.get(f.sector, ["communes"])),
        "view": view, "sel": sel, "list": kind or SECTOR_LIST.get(f.sector, "tickets"),
        "query": (_one(query.get("q")) or "")[:100], "range": rng or "24h", "refused": refused,
    }


def query_string(pairs: Mapping) -> str:
    return urlencode([(k, v) for k, v in pairs.items() if v not in (None, "", [])], quote_via=quote, safe=",")


def layer_urls(filters: Mapping, lang: str, scope: Mapping | None = None) -> dict[str, str]:
    """The layers' data URLs. The selected commune is not a filter of the map's layers (it is
    highlighted; the rest of the province stays in view) — only of its panel and lists. The
    tickets' are ``ticket_window``'s. ``scope``: the principal's scope parameters
    (ioc.auth.scope.layer_params), on every layer's URL."""
    scope = dict(scope or {})
    q = query_string({**{k: v for k, v in filters.items() if k != "commune"}, **scope})
    sep = "&" if q else ""
    # cameras depend on their own status filter only: a ticket filter must not re-download them
    cams = query_string({**{k: v for k, v in filters.items() if k == "cam_status"}, **scope})
    st = query_string(scope)
    return {"cameras": f"/api/map/cameras.geobuf?{cams}", "density": f"/api/map/density.json?{q}{sep}lang={lang}",
            "stations": f"/api/map/stations.json?{st}{'&' if st else ''}lang={lang}"}


def ticket_window(f: md.MapFilters, scope: Mapping | None = None) -> dict:
    """The ticket points the page holds for the range ``f``: those of its window (the widest range
    with the same end, ``MapFilters.window``), every category and state, each with its local request
    day and the hotline rule's steps (its state at any end of the window). Downloaded once; a range
    inside it is kept in the browser (assets/sector_map.js ``ioc_map.tickets``), with its start,
    end, status and categories. {url, first, last}: the window's days (ISO). ``scope``: the
    principal's scope parameters (ioc.auth.scope.layer_params): the points of their sectors'
    categories and their communes only."""
    w = f.window()
    q = query_string({"start": w.start.isoformat(), "end": w.end.isoformat(), **(scope or {})})
    return {"url": "/api/map/tickets.bin?" + q,
            "first": w.start.isoformat(), "last": w.end.isoformat()}


# What the ticket layer keeps of a range's points, for assets/sector_map.js: the categories of each
# sector (None: every one; MapFilters.service_codes combines them with the chosen categories) and
# the states of each status filter (STATUS_STATES). Applied in the browser, a status, category,
# sector or date change inside the window re-clusters the points the page has: no server round
# trip, no download.
TICKET_RULES = {"sectors": {s: (list(md.SECTOR_SERVICES[s]) if s in md.SECTOR_SERVICES else None) for s in SECTORS},
                "states": {k: (None if v is None else list(v)) for k, v in md.STATUS_STATES.items()}}


def ticket_range(views, start, end, current: Mapping | None, scope: Mapping | None = None):
    """The ticket points' window after a date change: the one the page holds while it holds the
    range (a new start or end inside it is judged in the browser), else the year up to the new end;
    a refused range (the filters say why) keeps the points shown."""
    f, refused, _reason = check_filters(views, {"start": start, "end": end})
    if refused:
        return no_update
    if current and current.get("first", "9") <= f.start.isoformat() and f.end.isoformat() <= current.get("last", ""):
        return no_update
    return ticket_window(f, scope)


def export_urls(filters: Mapping, kind: str, sort_by: list | None, query: str, lang: str) -> dict[str, str]:
    """The CSV/XLSX links of a list: the same filters, commune, order and search as on screen."""
    params = dict(filters)
    params["kind"] = kind
    if sort_by:
        params["sort"] = sort_by[0]["column_id"]
        params["desc"] = "true" if sort_by[0].get("direction") == "desc" else "false"
    params["query"] = (query or "").strip()
    params["lang"] = lang
    q = query_string(params)
    return {"csv": f"/api/map/export.csv?{q}", "xlsx": f"/api/map/export.xlsx?{q}"}


# --- what the filter and sector callbacks return ---------------------------------------------------


def filters_update(views, values: Mapping, current: Mapping | None, lang: str) -> tuple:
    """(the filters' query, the notice). A refused value leaves the filters as they were and
    says why (the end before the start, a range longer than a year …)."""
    f, refused, reason = check_filters(views, {k: v for k, v in values.items() if v not in (None, "", [])})
    if refused:
        return no_update, html.Div(f"▲ {t('mp.bad_filters', lang)} ({reason})", className="sm-warn", role="status")
    q = filters_query(f)
    if q == current:  # the page's own first render: keep what the layout says (a refused link value)
        return no_update, no_update
    return q, None


def commune_kept(views, commune: str | None, current: Mapping | None, communes: tuple[str, ...] | None,
                 lang: str) -> tuple[html.Div, str] | None:
    """For a user limited to ``communes`` (ioc.auth.scope.limited_communes) whose commune filter
    was cleared (or names another commune): (the notice saying why, the commune the page stays
    on — the one shown, else their first); None when the choice is theirs to make. Clearing the
    filter would ask for the whole province, which the server refuses them."""
    if communes is None or (commune and commune in communes):
        return None
    shown = (current or {}).get("commune")
    kept = shown if shown in communes else communes[0]
    names = views.atlas.names()
    text = t("mp.commune_kept", lang).format(communes=", ".join(names.get(c, c) for c in communes),
                                             commune=names.get(kept, kept))
    return html.Div(f"▲ {text}", className="sm-warn", role="status"), kept


def sector_switch(value: str, seen: str | None, layer_set: Mapping | None) -> tuple:
    """A sector chosen: its layers (a new layer-set generation), its indicator, its list."""
    if value == seen or value not in SECTORS:  # the page's own first render, not a choice
        return no_update, no_update, no_update, no_update
    gen = int((layer_set or {}).get("gen", 0)) + 1
    return ({"layers": SECTOR_LAYERS.get(value, ["communes"]), "gen": gen}, SECTOR_METRIC.get(value, no_update),
            SECTOR_LIST.get(value, no_update), value)
