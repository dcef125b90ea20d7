"""The sector map's layers (layouts/map.py): the layer control with its overlays — communes
coloured by an indicator, ticket points and density grid, cameras, stations — and what a filter,
the indicator, a selection or a layer switch changes on them (``layer_props``). The browser loads
each layer by URL from ``/api/map/*``; styles and markers are functions in assets/sector_map.js
(``Namespace("ioc", "sectorMap")``); the ticket points come from ``ioc_map.tickets``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

import dash_leaflet as dl
from dash_extensions.javascript import Namespace

from ioc.auth import scope
from ioc.i18n import t
from ioc.views import mapdata as md
from ioc.views import privacy, text
from layouts.map_details import CAMERA_SYMBOLS, TICKET_SYMBOLS
from layouts.map_state import LAYERS, layer_urls

log = logging.getLogger("ioc.web.map")

_ns = Namespace("ioc", "sectorMap")

COMMUNES_URL = "/api/geo/communes.geojson"
# tickets cluster from 50,000 points smoothly: supercluster in the browser, a radius in pixels
CLUSTER = {"radius": 60, "maxZoom": 16, "minPoints": 3}
CHORO_TTL = 20.0  # a choropleth is reused for this long (a selection re-renders the layer)


# Leaflet's layer control lists overlays in the order their layers load (GeoJSON loads
# asynchronously); sorted by name, an invisible leading mark per layer keeps LAYERS' order.
_ORDER = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


def layer_name(key: str, lang: str) -> str:
    return _ORDER[LAYERS.index(key)] + t(f"mp.layer.{key}", lang)


def layer_keys() -> dict:
    """Overlay name (either language) → layer key: the layer control reports names."""
    return {layer_name(k, lang): k for k in LAYERS for lang in ("vi", "en")}


_choro_cache: dict[tuple, tuple[float, dict]] = {}
_choro_lock = threading.Lock()


def choropleth(views, metric: str, filters: Mapping, lang: str) -> dict:
    """``communes_layer`` for the filters (without the commune) and the scope parameters among
    them (``sectors``, ``communes``: part of the key), kept ``CHORO_TTL`` seconds: a click on a
    commune re-renders the layer (its outline) without asking the database again."""
    f = md.filters_for(views, {k: v for k, v in filters.items() if k != "commune"})
    key = (metric, tuple(sorted(f.to_query().items())), f.start, f.end, lang)
    hit = _choro_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CHORO_TTL:
        return hit[1]
    res = md.communes_layer(views, metric, f, lang)
    with _choro_lock:
        if len(_choro_cache) > 64:
            _choro_cache.clear()
        _choro_cache[key] = (time.monotonic(), res)
    return res


def layer_props(views, lang: str, filters: Mapping, metric: str, checked: list[str], selected: str | None
                ) -> tuple[dict, dict, dict]:
    """What a filter, the indicator, a selection or a layer switch changes on the map: (the
    communes' hideout, the URLs of the camera and station layers — None while a layer is off or
    outside the user's sectors —, what the legend needs). Everything is narrowed to the request's
    principal's scope (ioc.auth.scope.layer_params), which the URLs carry."""
    principal = privacy.current_principal()
    params = scope.layer_params(principal)
    try:
        choro = choropleth(views, metric, {**filters, **params}, lang)
    except Exception:  # noqa: BLE001 - the outlines still show; the legend says why there is no colour
        log.exception("map page: choropleth %s failed", metric)
        choro = {"error": True, "title": t(f"sm.metric.{metric}", lang)}
    # A layer loads its data only while it is on (50,000 requests are not fetched for nothing),
    # and not at all when the database did not answer for the choropleth just now: the legend
    # says so instead of the browser failing on an error response.
    db_ok = not choro.get("error")
    urls = {k: (u if k in checked and db_ok and scope.may_see_layer(principal, k) else None)
            for k, u in layer_urls(filters, lang, params).items() if k in ("cameras", "stations")}
    hide_communes = {"classes": choro.get("classes") or {}, "values": choro.get("values") or {},
                     "colours": choro.get("colours") or [], "none": choro.get("none") or text.NO_DATA_COLOUR,
                     "title": t(f"sm.metric.{metric}", lang), "none_text": t("mp.no_data_commune", lang),
                     "scope": choro.get("scope"), "outside_text": t("mp.outside_commune", lang),
                     "selected": selected}
    legend_data = {k: choro.get(k) for k in ("title", "unit", "legend", "period", "error")}
    legend_data["metric"] = metric
    legend_data["layers_down"] = not db_ok
    legend_data["raw"], legend_data["values"] = choro.get("raw") or {}, choro.get("values") or {}
    legend_data["name"] = t(f"sm.metric.{metric}", lang)
    return hide_communes, urls, legend_data


def layer_control(views, lang: str, filters: Mapping, metric: str, checked: list[str], selected: str | None,
               gen: str, basemap: str | None) -> tuple[list, dict]:
    """The map's children (a tile layer only when ``IOC_BASEMAP_URL`` is set, the layer
    control and its overlays) and what the legend needs. The layer control's id carries the
    language and the layer-set generation: a new one is mounted (names in the new language,
    the sector's layers) only when either changes. The ticket layer starts empty: its points
    come from ``ticket_window`` and ``TICKET_RULES`` through assets/sector_map.js."""
    hide_communes, urls, legend_data = layer_props(views, lang, filters, metric, checked, selected)
    legends = md.point_legends(lang)
    try:
        cats = {s["code"]: s["name"] for s in md.services(views, lang)}
    except Exception:  # noqa: BLE001 - the markers then say the category's code
        cats = {}
    ticket_marks = {e["key"]: [e["colour"], TICKET_SYMBOLS.get(e["key"], "?"), e["label"]] for e in legends["tickets"]}
    camera_marks = {e["key"]: [e["colour"], CAMERA_SYMBOLS.get(e["key"], "?"), e["label"]] for e in legends["cameras"]}
    overlays = {
        "communes": dl.GeoJSON(id="map-communes", url=COMMUNES_URL, hideout=hide_communes,
                               style=_ns("communeStyle"), hoverStyle=_ns("communeHover"),
                               onEachFeature=_ns("communeEach")),
        "density": dl.GeoJSON(id="map-density-layer", hideout={"colours": [], "unit": t("sm.unit.density", lang),
                                                               "lang": lang},
                              style=_ns("densityStyle"), onEachFeature=_ns("densityEach")),
        "tickets": dl.GeoJSON(id="map-tickets", cluster=True, zoomToBoundsOnClick=True, superClusterOptions=CLUSTER,
                              pointToLayer=_ns("ticketPoint"), clusterToLayer=_ns("ticketCluster"),
                              hideout={"marks": ticket_marks, "lang": lang, "cats": cats,
                                       "cluster_words": t("mp.cluster.tickets", lang)}),
        "cameras": dl.GeoJSON(id="map-cameras", url=urls["cameras"], format="geobuf", cluster=True,
                              zoomToBoundsOnClick=True, superClusterOptions={**CLUSTER, "radius": 50},
                              pointToLayer=_ns("cameraPoint"), clusterToLayer=_ns("cameraCluster"),
                              hideout={"marks": camera_marks, "lang": lang, "cluster_words": t("mp.cluster.cameras", lang),
                                       "offline_words": t("mp.cluster.offline", lang)}),
        "stations": dl.GeoJSON(id="map-stations", url=urls["stations"], pointToLayer=_ns("stationPoint"),
                               hideout={"lang": lang}),
    }
    shown = scope.offered(privacy.current_principal(), LAYERS, scope.ENDPOINT_NEEDS)
    control = dl.LayersControl(id={"type": "map-layers", "gen": gen}, collapsed=False, position="topright",
                               sortLayers=True, children=[
        dl.Overlay(overlays[k], name=layer_name(k, lang), checked=k in checked) for k in LAYERS if k in shown])
    # A layer outside the user's sectors is not offered; its component stays on the map, empty
    # (no URL: layer_props), because the page's callbacks name it.
    hidden = [overlays[k] for k in LAYERS if k not in shown]
    children = ([dl.TileLayer(url=basemap, attribution="")] if basemap else []) + [control, *hidden]
    return children, legend_data


def checked_layers(overlays, keys: Mapping | None, layer_set: Mapping | None) -> list[str]:
    """The layers switched on: what the layer control reports, else (before it has reported)
    the layer set it was mounted with."""
    if overlays and overlays[0] is not None:
        return [k for k in ((keys or {}).get(n) for n in overlays[0]) if k]
    return list((layer_set or {}).get("layers") or [])
