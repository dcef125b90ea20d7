"""The sector map's legend beside the map and the ranking in the side panel (layouts/map.py):
the choropleth's classes with the unit, the marks of every layer switched on, and the communes
that need attention first on the map's indicator."""

from __future__ import annotations

from collections.abc import Mapping

from dash import html

from ioc.i18n import t
from ioc.views import mapdata as md
from ioc.views import text
from layouts.map_details import CAMERA_SYMBOLS, TICKET_SYMBOLS, ink

LOADING = "Đang tải… · Loading…"  # before the first callback: the language is not known yet
STATION_KINDS = ("air", "water", "iot_water", "insect")


def legend(choro: Mapping | None, density: Mapping | None, layers: list[str], lang: str) -> list:
    """The choropleth's classes with the unit, and the marks of every layer switched on."""
    out: list = []
    if "communes" in layers:
        if not choro:
            out.append(html.Div(LOADING, className="sm-legend-note"))
        elif choro.get("error"):
            out.append(html.Div([html.Strong(choro.get("title") or ""), html.Div(f"✖ {t('mp.legend_error', lang)}")],
                                className="sm-legend-note"))
        else:
            unit = choro.get("unit")
            out.append(html.Div([html.Strong(choro.get("name") or choro.get("title") or ""),
                                 html.Span(f" ({unit})" if unit else "", className="sm-unit")],
                                className="sm-legend-title"))
            entries = choro.get("legend") or []
            # the classes, then "no data" (and "outside your scope" for a user limited to communes)
            plain = len(entries) - 1 - sum(1 for e in entries if e.get("outline"))
            items = [html.Li([html.Span(className="sm-swatch" + (" sm-swatch-none" if i >= plain else ""),
                                        style={"background": e["colour"]}),
                              e["label"]]) for i, e in enumerate(entries)]
            out.append(html.Ul(items, className="sm-legend-classes"))
    if "density" in layers:
        out.append(html.Strong(t("mp.layer.density", lang), className="sm-legend-head"))
        if density and density.get("legend"):
            out.append(html.Ul([html.Li([html.Span(className="sm-swatch", style={"background": e["colour"]}), e["label"]])
                                for e in density["legend"][:-1]], className="sm-legend-classes"))
            if density.get("title"):
                out.append(html.Div(density["title"], className="sm-legend-note"))
        else:
            out.append(html.Div(LOADING if density is None else t("mp.density_empty", lang), className="sm-legend-note"))
    legends = md.point_legends(lang)
    if choro and choro.get("layers_down") and any(k in layers for k in ("density", "tickets", "cameras", "stations")):
        out.append(html.Div(f"✖ {t('mp.layers_down', lang)}", className="sm-legend-note sm-down"))
    if "tickets" in layers:
        out.append(_marks(t("mp.layer.tickets", lang), legends["tickets"], TICKET_SYMBOLS))
    if "cameras" in layers:
        out.append(_marks(t("mp.layer.cameras", lang), legends["cameras"], CAMERA_SYMBOLS))
    if "stations" in layers:
        # the official categories are the choropleth's own legend when it shows the worst index
        both = "communes" in layers and bool(choro) and choro.get("metric") == "worst_index"
        out.append(_stations_legend(legends["levels"], lang, categories=not both))
    if not out:
        out.append(html.Div(t("mp.no_layer", lang), className="sm-legend-note"))
    return out


def _marks(title: str, entries: list[dict], symbols: Mapping) -> html.Div:
    return html.Div(className="sm-legend-marks", children=[
        html.Strong(title, className="sm-legend-head"),
        html.Ul([html.Li([html.Span(symbols.get(e["key"], "?"), className="sm-mark",
                                    style={"background": e["colour"], "color": ink(e["colour"])}), e["label"]])
                 for e in entries], className="sm-legend-classes"),
    ])


def _stations_legend(levels: list[dict], lang: str, categories: bool = True) -> html.Div:
    from ioc.kpi import aqi, wqi

    def cats(rows):
        return [html.Li([html.Span(className="sm-swatch", style={"background": c.hex}),
                         c.name_vi if lang == "vi" else c.name_en]) for c in rows]

    shapes = html.Ul([html.Li([html.Span(className=f"sm-shape sm-kind-{k}"), t(f"mp.kind.{k}", lang)])
                      for k in STATION_KINDS], className="sm-legend-classes")
    return html.Div(className="sm-legend-marks", children=[
        html.Strong(t("mp.layer.stations", lang), className="sm-legend-head"), shapes,
        *([html.Div("VN_AQI (QĐ 1459)", className="sm-legend-sub"),
           html.Ul(cats(aqi.CATEGORIES), className="sm-legend-classes"),
           html.Div("VN_WQI (QĐ 1460)", className="sm-legend-sub"),
           html.Ul(cats(wqi.CATEGORIES), className="sm-legend-classes")] if categories else []),
        html.Div(t("mp.levels", lang), className="sm-legend-sub"),
        html.Ul([html.Li([html.Span(className="sm-swatch", style={"background": e["colour"]}), e["label"]])
                 for e in levels], className="sm-legend-classes"),
    ])


# the indicators where a low value is the worry (the ranking lists the lowest first)
LOW_IS_WORSE = {"qd766_on_time", "cameras_online"}
RANK_SIZE = 10


def ranking(choro: Mapping | None, names: Mapping[str, str], lang: str) -> list:
    """The communes that need attention first on the map's indicator, each a button that opens
    its panel: the figure behind the colour, one click from its records."""
    if not choro or choro.get("error") or not choro.get("raw"):
        return []
    metric = choro.get("metric")
    raw = {c: v for c, v in choro["raw"].items() if c in names and v is not None}
    low = metric in LOW_IS_WORSE
    order = sorted(raw, key=lambda c: (raw[c] if low else -raw[c], place_key(names[c])))
    if not low:
        order = [c for c in order if raw[c] > 0]  # nobody "leads" with 0
    if not order:
        return [html.H3(t("mp.rank.title", lang).format(metric=choro.get("name") or "")),
                html.P(f"○ {t('mp.rank.none', lang)}", className="sm-empty")]
    rows = [html.Li(html.Button([html.Span(names[c], className="sm-rank-name"),
                                 html.Span(choro["values"].get(c, "—"), className="sm-rank-value")],
                                id={"type": "map-rank", "code": c}, n_clicks=0, className="sm-rank-btn"))
            for c in order[:RANK_SIZE]]
    key = "mp.rank.low" if low else "mp.rank.high"
    return [html.H3(t("mp.rank.title", lang).format(metric=choro.get("name") or "")),
            html.P(t(key, lang).format(n=text.num(min(RANK_SIZE, len(order)), lang),
                                       total=text.num(len(raw), lang)), className="sm-small"),
            html.Ol(rows, className="sm-rank")]


def place_key(name: str) -> str:
    # "Phường Cao Lãnh" and "Xã An Bình" in the order of the place's own name
    for prefix in ("Phường ", "Xã ", "Thị trấn ", "Đặc khu "):
        if name.startswith(prefix):
            return name[len(prefix):].casefold()
    return name.casefold()
