"""A sector user's scope on the sector map: the map sectors and the communes the user may look
at (docs/security.md § Roles). The guard calls these for the ``map`` area only, and only for the
``sector`` role; every other role sees the whole province.

What is checked, on the server, for the HTTP endpoints, the Dash callbacks and the page itself:

* the ``sector`` filter must be one of the user's (``all`` only for a user of all four);
* a layer, detail, list or indicator of one subject needs that subject's sector: cameras and
  offline-camera lists → cameras, stations → environment, overdue dossiers and QĐ 766 → procedures,
  ticket details → hotline;
* a user with communes must name one of them in every request that reads data by place (the
  ``commune`` filter, a commune's panel, list or export, the province-wide layers): the page
  starts on the first of them, and the lists, points and counts are those of that commune;
* a user with communes sees only the records of those communes (``limited_communes``): the
  station layer leaves out the other communes' stations, and a ticket, camera or station opened
  by id (``check_record``: the read model checks it, ioc/views/map_details.py) must lie in one of
  them — a record with no commune lies in none;
* the commune panel shows only the rows of the user's sectors (``sees_sector``), and the page
  offers only the layers, indicators and list tabs of those sectors (``offered``);
* a user with communes sees no province-wide figure (``sees_province``): the commune panel has
  no "province" column for them (the province's figures are not the sum of what they may see);
* clearing the commune filter on /map is not a request for the province: the page keeps the
  user's commune and says why (layouts/map_state.py ``filters_update``).

The map's layers (ticket points, density grid, cameras, stations, the commune choropleth) show
the user's whole scope, not one commune or one sector: their URLs carry the scope explicitly,
``sectors`` (the user's map sectors, when not all four) and ``communes`` (theirs), written from
the principal by ``layer_params``; the guard checks them here like any filter (each must be the
user's; a layer request of a user with fewer sectors or with communes must carry them, or name a
``sector`` / ``commune`` of theirs) and the read model narrows every read by them
(``MapFilters.sectors``/``communes``: the sectors' 1022 categories — every category when one of
them is the hotline —, the communes' records; the choropleth leaves the other communes without a
value). Chosen over the server applying the principal's scope by itself: the scope is then part
of every layer URL, so the browser's cache, the page's choropleth cache (keyed on the filters)
and any cache a deployment puts in front hold one entry per scope by construction, and a request
outside it is refused with a reason instead of answered with less. The station layer also keeps
its principal check (``limited_communes``) as a second line.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from ioc.auth.roles import MAP_SECTORS, Principal

ALL_MAP_SECTORS = frozenset(MAP_SECTORS.values())
# what a request about one subject needs, whatever the sector filter says
SUBJECT_NEEDS = {"cameras": "security", "stations": "environment", "dossiers": "procedures", "tickets": None}
METRIC_NEEDS = {"cameras_online": "security", "worst_index": "environment", "qd766_on_time": "procedures"}
LIST_NEEDS = {"cameras_offline": "security", "dossiers_overdue": "procedures"}
SEL_NEEDS = {"camera": "security", "station": "environment", "ticket": "hotline"}
# endpoints of ioc/web/map_api.py that read data by place (need a commune of the user's)
BY_PLACE = {"communes", "tickets", "density", "cameras", "list", "export_csv", "export_xlsx", "commune"}
# the layers' endpoints: they read the scope parameters (``layer_params``)
LAYER_ENDPOINTS = {"communes", "tickets", "density", "cameras", "stations"}
ENDPOINT_NEEDS = {"cameras": "security", "camera": "security", "camera_snapshot": "security",
                  "stations": "environment", "station": "environment", "ticket": "hotline"}


class OutOfScope(Exception):
    """One line saying what the user may not see."""


def _restricted(p: Principal) -> bool:
    return p.role == "sector"


def limited_communes(p: Principal) -> tuple[str, ...] | None:
    """The communes a principal's data is limited to; None: the whole province."""
    return tuple(p.communes) if _restricted(p) and p.communes else None


def sees_sector(p: Principal, sector: str) -> bool:
    """May this principal see the figures of ``sector`` (hotline, cameras, environment,
    procedures), e.g. a row of the commune panel? Every role but ``sector`` sees all four."""
    return not _restricted(p) or sector in p.sectors


def sees_province(p: Principal) -> bool:
    """May this principal see province-wide figures (the commune panel's province column)?"""
    return limited_communes(p) is None


def check_record(p: Principal, commune: str | None, what: str) -> None:
    """A record opened by id (a ticket, camera or station) must lie in one of the principal's
    communes; one without a commune lies in none (OutOfScope)."""
    communes = limited_communes(p)
    if communes is not None and (commune or "") not in communes:
        raise OutOfScope(f"this {what} is outside your communes ({', '.join(communes)})")


def layer_params(p: Principal) -> dict[str, str]:
    """The scope parameters of a principal's layer URLs: ``sectors`` for a sector user without
    all four, ``communes`` for one limited to communes; {} for everyone else (the province)."""
    if not _restricted(p):
        return {}
    out = {}
    sectors = p.map_sectors() or ()
    if not set(sectors) >= ALL_MAP_SECTORS:
        out["sectors"] = ",".join(sectors)
    if p.communes:
        out["communes"] = ",".join(p.communes)
    return out


def offered(p: Principal, keys, needs: Mapping[str, str | None]) -> list[str]:
    """The keys of /map's layers, indicators or list kinds (``needs``: key → the map sector its
    subject needs) within the principal's scope: the page offers only these — the layer control,
    the indicator menu, the list tabs — so a user is never shown a switch the server refuses."""
    mine = p.map_sectors() if _restricted(p) else None
    return [k for k in keys if mine is None or needs.get(k) is None or needs[k] in mine]


def may_see_layer(p: Principal, layer: str) -> bool:
    """Does the principal's scope include this layer of /map (cameras → security, stations →
    environment)? The page does not ask for the others."""
    return bool(offered(p, [layer], ENDPOINT_NEEDS))


def _listed(value) -> list[str]:
    return [x.strip() for x in str(value or "").split(",") if x.strip()]


def _need(p: Principal, sector: str | None, what: str) -> None:
    allowed = set(p.map_sectors() or ())
    if sector and sector not in allowed:
        raise OutOfScope(f"{what} is outside your sectors ({', '.join(p.sectors)})")


def _sector_filter(p: Principal, value) -> None:
    allowed = set(p.map_sectors() or ())
    value = str(value or "all")
    if value == "all" and allowed >= ALL_MAP_SECTORS:
        return
    if value not in allowed:
        raise OutOfScope(f"sector {value[:20]!r} is outside your sectors ({', '.join(p.sectors)})")


def _commune(p: Principal, code, required: bool) -> None:
    if not p.communes:
        return
    code = str(code or "")
    if not code and required:
        raise OutOfScope(f"choose one of your communes ({', '.join(p.communes)})")
    if code and code not in p.communes:
        raise OutOfScope(f"commune {code[:10]!r} is outside your communes ({', '.join(p.communes)})")


def check_args(p: Principal, args: Mapping, *, by_place: bool = True, layer: bool = False) -> None:
    """The map filters of a query (the page's own URL or a data endpoint's). The scope parameters
    (``sectors``, ``communes``) must be the user's wherever they come; on a layer's URL
    (``layer``) they stand for the sector filter ``all`` and for the commune the request names."""
    allowed = set(p.map_sectors() or ())
    sectors, communes = _listed(args.get("sectors")), _listed(args.get("communes"))
    for s in sectors:
        if s not in allowed:
            raise OutOfScope(f"sector {s[:20]!r} is outside your sectors ({', '.join(p.sectors)})")
    for c in communes:
        _commune(p, c, required=False)
    if not (layer and sectors and str(args.get("sector") or "all") == "all"):
        _sector_filter(p, args.get("sector"))
    _commune(p, args.get("commune"), required=by_place and not (layer and communes and p.communes))
    if args.get("metric") in METRIC_NEEDS:
        _need(p, METRIC_NEEDS[args["metric"]], "this indicator")
    if args.get("kind") in LIST_NEEDS:
        _need(p, LIST_NEEDS[args["kind"]], "this list")


def check_endpoint(p: Principal, endpoint: str, args: Mapping, view_args: Mapping) -> None:
    """A request to ioc/web/map_api.py (``endpoint`` without its ``map_api.`` prefix)."""
    if not _restricted(p) or endpoint == "options":
        return
    if endpoint in ENDPOINT_NEEDS:
        _need(p, ENDPOINT_NEEDS[endpoint], "this layer")
    if endpoint == "commune":
        args = {**args, "commune": view_args.get("code")}
    if endpoint == "communes" and p.communes and not args.get("communes"):
        # the choropleth colours every commune it is not told to leave out: it needs the scope
        raise OutOfScope(f"the commune layer needs your communes (communes={','.join(p.communes)})")
    check_args(p, args, by_place=endpoint in BY_PLACE, layer=endpoint in LAYER_ENDPOINTS)


def check_callback(p: Principal, body: Mapping) -> None:
    """A Dash callback of the map page: the filters, sector, commune, selection, indicator and
    list it reads (inputs and states)."""
    if not _restricted(p):
        return
    for item in _values(body):
        ident, prop, value = item.get("id"), item.get("property"), item.get("value")
        if ident == "map-filters" and prop == "data" and isinstance(value, Mapping):
            check_args(p, value)
        elif ident == "map-sector" and prop == "value" and value:
            _sector_filter(p, value)
        elif ident == "map-commune" and prop == "value" and value:
            _commune(p, value, required=False)
        elif ident == "map-sel" and prop == "data" and isinstance(value, Mapping):
            _need(p, SEL_NEEDS.get(str(value.get("kind"))), "this object")
        elif ident == "map-metric" and prop == "value" and value in METRIC_NEEDS:
            _need(p, METRIC_NEEDS[value], "this indicator")
        elif ident == "map-list-kind" and prop == "value" and value in LIST_NEEDS:
            _need(p, LIST_NEEDS[value], "this list")


def check_page_search(p: Principal, search: str) -> None:
    """The query string of /map when Dash renders the page's layout (which embeds its first data)."""
    if _restricted(p):
        check_args(p, dict(parse_qsl((search or "").lstrip("?"))))


def page_start(p: Principal, args: Mapping) -> str | None:
    """For a sector user opening /map without a sector (or commune) of theirs: the query to
    start from instead (their first sector and commune), else None."""
    if not _restricted(p):
        return None
    q = dict(args)
    sectors = p.map_sectors() or ()
    if sectors and (q.get("sector") or "all") not in sectors and not set(sectors) >= ALL_MAP_SECTORS:
        q["sector"] = sectors[0]
    if p.communes and q.get("commune") not in p.communes:
        q["commune"] = p.communes[0]
    return None if q == dict(args) else urlencode(q)


def _values(body: Mapping):
    for group in ("inputs", "state"):
        for item in body.get(group) or []:
            if isinstance(item, list):  # pattern-matching (ALL) inputs come as lists
                yield from (i for i in item if isinstance(i, Mapping))
            elif isinstance(item, Mapping):
                yield item
