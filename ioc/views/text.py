"""Panel facts → localised views: the sentences, labels, formats and traffic lights of every
screen, in one place. Pure functions (tested without Redis or a browser)."""

from __future__ import annotations

from collections.abc import Mapping

from ioc.formatting import format_number, format_percent
from ioc.i18n import t
from ioc.kpi import aqi as aqi_mod
from ioc.kpi import wqi as wqi_mod
from ioc.views.models import Delta, FocusPanel, Freshness, LegendEntry, MapMarker, MapView, Tile

SEVERITY_ICON = {"critical": "⛔", "warning": "▲", "info": "ℹ"}
NO_DATA_COLOUR = "#3a4150"
OFFLINE_COLOUR = "#8a8f99"


def pct(value, lang: str, decimals: int = 1) -> str:
    """Snapshot percentages are 0–100; format_percent takes a share."""
    return format_percent(None if value is None else value / 100, decimals, lang=lang)


def num(value, lang: str, decimals: int = 0) -> str:
    return format_number(value, decimals, lang=lang)


def _signed(value: float, lang: str, decimals: int = 0, suffix: str = "") -> str:
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return f"{sign}{format_number(abs(value), decimals, lang=lang)}{suffix}"


def delta(current, previous, lang: str, reference_key: str, *, decimals: int = 0, suffix: str = "",
          higher_is_better: bool | None = None, **fmt) -> Delta | None:
    """'+3 so với hôm qua'; None when either side is missing (no data is never 0)."""
    if current is None or previous is None:
        return None
    d = round(current - previous, decimals)
    direction = "up" if d > 0 else ("down" if d < 0 else "flat")
    if higher_is_better is None or d == 0:
        tone = "neutral"
    else:
        tone = "good" if (d > 0) == higher_is_better else "bad"
    ref = t(reference_key, lang).format(**fmt)
    return Delta(text=f"{_signed(d, lang, decimals, suffix)} {ref}", direction=direction, tone=tone)


def traffic(value, target: tuple[float, float]) -> str:
    ok, warn = target
    if value is None:
        return "none"
    return "ok" if value >= ok else ("warn" if value >= warn else "bad")


def _no_value(f: Mapping, lang: str, fr: Freshness) -> str:
    if not f.get("has_data"):
        return t("kpi.no_data", lang)
    return fr.label


def _day_delta_from_spark(spark: list[float | None], lang: str, decimals: int, suffix: str,
                          higher_is_better: bool | None) -> Delta | None:
    """Against the value 24 h ago when the sparkline reaches that far back."""
    if len(spark) < 24 or spark[0] is None or spark[-1] is None:
        return None
    return delta(spark[-1], spark[0], lang, "delta.day_ago", decimals=decimals, suffix=suffix,
                 higher_is_better=higher_is_better)


def hotline_tile(f: Mapping, spark: list, lang: str, fr: Freshness) -> Tile:
    value = f.get("received_today")
    has = f.get("has_data") and value is not None
    overdue = f.get("open_overdue")
    status = "none" if overdue is None else ("ok" if overdue == 0 else ("warn" if overdue <= 5 else "bad"))
    return Tile(
        key="hotline", title=t("tile.hotline", lang), value=num(value, lang) if has else "—", has_value=bool(has),
        sub=t("tile.hotline_sub", lang).format(open=num(f.get("open"), lang), overdue=num(overdue, lang))
        if has else _no_value(f, lang, fr),
        status=status if has else "none",
        status_label=(t("tile.no_overdue", lang) if overdue == 0 else t("tile.overdue_n", lang).format(n=num(overdue, lang)))
        if has and overdue is not None else None,
        delta=delta(value, f.get("received_yesterday"), lang, "delta.yesterday_whole",
                    prev=num(f.get("received_yesterday"), lang)) if has else None,
        spark=spark, spark_label=t("spark.24h", lang), freshness=fr)


def cameras_tile(f: Mapping, spark: list, lang: str, fr: Freshness, target) -> Tile:
    value = f.get("online_pct")
    has = f.get("has_data") and value is not None
    status = traffic(value, target) if has else "none"
    return Tile(
        key="cameras", title=t("tile.cameras", lang), value=pct(value, lang) if has else "—", has_value=bool(has),
        sub=t("tile.cameras_sub", lang).format(online=num(f.get("online"), lang), total=num(f.get("total"), lang),
                                                offline=num(f.get("offline"), lang)) if has else _no_value(f, lang, fr),
        status=status, status_label=t(f"target.{status}", lang).format(target=pct(target[0], lang, 0))
        if has else None,
        delta=_day_delta_from_spark(spark, lang, 1, " %", True) if has else None,
        spark=spark, spark_label=t("spark.24h", lang), freshness=fr)


def aqi_status(value) -> str:
    if value is None:
        return "none"
    return "ok" if value <= 100 else ("warn" if value <= 150 else "bad")


def category_name(index: str, key: str | None, lang: str) -> str | None:
    """Official category name (QĐ 1459 Bảng 3 / QĐ 1460) in the chosen language."""
    if key is None:
        return None
    cats = aqi_mod.CATEGORIES if index == "aqi" else wqi_mod.CATEGORIES
    for c in cats:
        if c.key == key:
            return c.name_vi if lang == "vi" else c.name_en
    return key


def aqi_tile(f: Mapping, lang: str, fr: Freshness) -> Tile:
    value = f.get("aqi")
    has = f.get("has_data") and value is not None
    spark = [v for _h, v in f.get("trend") or []]
    if not has:
        sub = t("tile.aqi_none", lang) if f.get("has_data") else t("kpi.no_data", lang)
        return Tile(key="aqi", title=t("tile.aqi", lang), value="—", has_value=False, sub=sub, spark=spark,
                    spark_label=t("spark.aqi", lang), freshness=fr)
    return Tile(
        key="aqi", title=t("tile.aqi", lang), value=num(value, lang), has_value=True,
        sub=f.get("station") or "", status=aqi_status(value),
        status_label=category_name("aqi", f.get("category"), lang), colour=f.get("hex"),
        delta=delta(value, f.get("aqi_day_ago"), lang, "delta.same_hour_yesterday", higher_is_better=False),
        spark=spark, spark_label=t("spark.aqi", lang), freshness=fr)


# An agency or commune with two dossiers scores 0 or 100 by chance: the rankings of the lowest
# on QĐ 766 (/m's five worst, the briefing's tables) take only the units with at least this many
# dossiers received or settled in the period.
QD766_MIN_DOSSIERS = 5


def qd766_dossiers(group: Mapping) -> int:
    """Dossiers received + settled in the period: what a unit's QĐ 766 score rests on."""
    c = group.get("counts") or {}
    return (c.get("received") or 0) + (c.get("finished") or 0)


def qd766_label(share_pct: float | None, lang: str) -> str | None:
    """The press's labels for a QĐ 766 score out of 100 (DOMAIN.md; lower cut-offs inferred)."""
    if share_pct is None:
        return None
    for cut, key in ((90, "excellent"), (80, "good"), (70, "fair"), (50, "average")):
        if share_pct >= cut:
            return t(f"qd766.{key}", lang)
    return t("qd766.weak", lang)


def qd766_tile(f: Mapping, spark: list, lang: str, fr: Freshness, target) -> Tile:
    score, max_score = f.get("score"), f.get("max_score")
    has = f.get("has_data") and score is not None and max_score
    share = score / max_score * 100 if has else None
    return Tile(
        key="qd766", title=t("tile.qd766", lang),
        value=f"{num(score, lang, 1)} / {num(max_score, lang)}" if has else "—", has_value=bool(has),
        sub=t("tile.qd766_sub", lang).format(on_time=pct(f.get("on_time_pct"), lang)) if has else _no_value(f, lang, fr),
        status=traffic(share, target) if has else "none", status_label=qd766_label(share, lang),
        delta=delta(score, f.get("score_previous_month"), lang, "delta.previous_month", decimals=1,
                    higher_is_better=True) if has else None,
        spark=spark, spark_label=t("spark.24h", lang), freshness=fr)


def alerts_tile(f: Mapping, spark: list, lang: str, fr: Freshness) -> Tile:
    total = f.get("total")
    has = f.get("available") and total is not None
    crit, warn = f.get("critical") or 0, f.get("warning") or 0
    status = "bad" if crit else ("warn" if warn else "ok")
    return Tile(
        key="alerts", title=t("tile.alerts", lang), value=num(total, lang) if has else "—", has_value=bool(has),
        sub=t("kpi.alerts_sub", lang).format(critical=num(crit, lang), warning=num(warn, lang),
                                             info=num(f.get("info") or 0, lang)) if has else t("kpi.no_data", lang),
        status=status if has else "none", status_label=t(f"alerts.status.{status}", lang) if has else None,
        spark=spark, spark_label=t("spark.24h", lang), freshness=fr)


# --- alerts -------------------------------------------------------------------------------


def alert_sentence(a: Mapping, lang: str, commune_names: Mapping[str, str]) -> str:
    """One plain sentence per alert, in the chosen language, from its rule and figures: what
    happened first, then where (a ticker line cut short still says what)."""
    rule, value, name = a["rule"], a.get("value"), a.get("subject_name") or a.get("subject") or ""
    d = a.get("details") or {}
    if rule == "source":
        return t("alert.source", lang).format(source=t(f"source.{a['subject']}", lang),
                                               state=t(f"alert.source_{a['severity']}", lang))
    if rule == "overdue_surge":
        return t("alert.overdue_surge", lang).format(n=num(value, lang))
    if rule == "cameras_online":
        return t("alert.cameras_online", lang).format(pct=pct(value, lang))
    if rule == "camera_flapping":
        return t("alert.camera_flapping", lang).format(name=name, n=num(value, lang))
    if rule == "aqi":
        cat = category_name("aqi", d.get("category"), lang)
        return t("alert.aqi", lang).format(value=num(value, lang), name=name, category=f" ({cat})" if cat else "")
    if rule in ("salinity", "water_level", "insects"):
        if value is None:
            return t("alert.no_value", lang).format(name=name)
        return t(f"alert.{rule}", lang).format(value=num(value, lang, 2 if rule != "insects" else 0), name=name)
    if rule == "station_offline":
        if value is None:
            return t("alert.station_never", lang).format(name=name)
        return t("alert.station_offline", lang).format(name=name, hours=num(value, lang, 1))
    if rule == "qd766_on_time":
        return t("alert.qd766_on_time", lang).format(pct=pct(value, lang))
    if rule == "briefing" and d.get("kind") and d.get("last_day"):
        from datetime import date

        from ioc.views import briefing_text as bt

        why = bt.reason(d.get("reason"), d.get("failed_checks") or [], d.get("error"), lang) or ""
        return t("alert.briefing", lang).format(what=bt.what(d["kind"], date.fromisoformat(d["last_day"]), lang),
                                                reason=why).strip()
    return t("alert.generic", lang).format(rule=rule, subject=name)


# --- focus panels ---------------------------------------------------------------------------


def _days(hours_or_days, lang: str, *, hours: bool = False) -> str:
    if hours_or_days is None:
        return "—"
    days = hours_or_days / 24 if hours else hours_or_days
    if days < 1:
        return t("unit.hours", lang).format(n=num(days * 24, lang))
    return t("unit.days", lang).format(n=num(days, lang))


def focus_panel(name: str, f: Mapping, lang: str, fr: Freshness, communes: Mapping[str, str]) -> FocusPanel:
    rows, colours = [], []
    commune = lambda code: communes.get(code or "", code or t("unknown_commune", lang))  # noqa: E731
    if name == "hotline_overdue":
        cols = ["col.ticket", "col.category", "col.agency", "col.commune", "col.overdue"]
        for r in f["rows"]:
            rows.append([r.get("id") or "", r.get("category") or "—", r.get("agency") or "—",
                         commune(r.get("commune")), _days(r.get("overdue_days"), lang)])
    elif name == "cameras_offline":
        cols = ["col.commune", "col.offline", "col.total", "col.online", "col.longest"]
        for r in f["rows"]:
            rows.append([commune(r.get("commune")), num(r.get("offline"), lang), num(r.get("total"), lang),
                         pct(r.get("online_pct"), lang), _days(r.get("longest_hours"), lang, hours=True)])
    elif name == "worst_stations":
        cols = ["col.station", "col.index", "col.value", "col.level"]
        for r in f["rows"]:
            rows.append([r.get("name") or r["id"], "VN_AQI" if r["index"] == "aqi" else "VN_WQI",
                         num(r.get("value"), lang), category_name(r["index"], r.get("category"), lang) or "—"])
            colours.append(r.get("hex"))
    else:  # qd766_agencies
        cols = ["col.agency", "col.score", "col.on_time", "col.overdue_dossiers"]
        for r in f["rows"]:
            rows.append([r.get("agency") or "—", f"{num(r.get('score'), lang, 1)} / {num(r.get('max_score'), lang)}",
                         pct(r.get("on_time_pct"), lang), num(r.get("overdue"), lang)])
    total = f.get("total")
    note = t(f"focus.{name}.note", lang).format(shown=num(len(rows), lang), total=num(total, lang))
    empty = t(f"focus.{name}.empty", lang) if f.get("has_data") else t("kpi.no_data", lang)
    return FocusPanel(key=name, title=t(f"focus.{name}", lang), columns=[t(c, lang) for c in cols], rows=rows,
                      row_colours=colours, note=note if rows else "", empty_text=empty, freshness=fr)


# --- map ------------------------------------------------------------------------------------

# class breaks per metric: (upper bounds, colours, higher is better)
_RYG = ["#d73027", "#fc8d59", "#fee08b", "#1a9850"]
_BLUES = ["#c6dbef", "#6baed6", "#2171b5", "#08306b"]
METRIC_CLASSES = {
    "qd766_on_time": ([70, 85, 95], _RYG, "%"),
    "cam_online_pct": ([80, 90, 95], _RYG, "%"),
    "hotline_month": ([3, 6, 11], _BLUES, ""),
}


def _class(value: float, bounds: list[float]) -> int:
    for i, b in enumerate(bounds):
        if value < b:
            return i
    return len(bounds)


def _legend(metric: str, lang: str) -> list[LegendEntry]:
    bounds, colours, unit = METRIC_CLASSES[metric]
    entries = []
    for i, colour in enumerate(colours):
        if unit == "%":
            lo = None if i == 0 else bounds[i - 1]
            hi = bounds[i] if i < len(bounds) else None
            label = f"< {num(hi, lang)} %" if lo is None else (f"≥ {num(lo, lang)} %" if hi is None
                                                                 else f"{num(lo, lang)}–{num(hi, lang)} %")
        else:
            lo = 0 if i == 0 else bounds[i - 1]
            hi = bounds[i] - 1 if i < len(bounds) else None
            label = f"{num(lo, lang)}–{num(hi, lang)}" if hi is not None else f"≥ {num(lo, lang)}"
        entries.append(LegendEntry(colour=colour, label=label))
    entries.append(LegendEntry(colour=NO_DATA_COLOUR, label=t("kpi.no_data", lang)))
    return entries


MARKER_KINDS = ("air", "water", "cameras", "tickets")


def map_view(metric: str, f: Mapping, lang: str, fr: Freshness, atlas,
             kinds: tuple[str, ...] = MARKER_KINDS) -> MapView:
    """The choropleth of ``metric`` and the markers of ``kinds`` (air and water stations,
    offline cameras and overdue tickets counted per commune)."""
    bounds, colours, unit = METRIC_CLASSES[metric]
    classes, values = {}, {}
    communes = f.get("communes") or {}
    if metric == "hotline_month" and f.get("hotline_has_data"):
        # a commune with no request this month has 0, not "no data"
        communes = {code: {"hotline_month": 0} for code in atlas.names()} | communes
    for code, u in communes.items():
        v = u.get(metric, 0 if metric == "hotline_month" and f.get("hotline_has_data") else None)
        if v is None:
            continue
        classes[code] = _class(v, bounds)
        values[code] = pct(v, lang) if unit == "%" else num(v, lang)
    markers: list[MapMarker] = []
    for s in f.get("stations") or []:
        if ("air" if s["index"] == "aqi" else "water") not in kinds:
            continue
        cat = category_name(s["index"], s.get("category"), lang)
        index = "VN_AQI" if s["index"] == "aqi" else "VN_WQI"
        if s.get("offline") or s.get("value") is None:
            title = t("map.station_silent", lang).format(name=s.get("name") or s["id"], index=index)
            label, colour = "–", OFFLINE_COLOUR
        else:
            title = f"{s.get('name') or s['id']} — {index} {num(s['value'], lang)} ({cat})"
            label, colour = num(s["value"], lang), s.get("hex") or OFFLINE_COLOUR
        markers.append(MapMarker(id=f"st-{s['id']}", lat=s["lat"], lon=s["lon"], label=label if s["index"] == "aqi" else "",
                                 title=title, colour=colour, kind="air" if s["index"] == "aqi" else "water"))
    points = atlas.label_points()
    names = atlas.names()
    for code, u in sorted((f.get("communes") or {}).items()):
        if code not in points:
            continue
        lat, lon = points[code]
        if u.get("cam_offline") and "cameras" in kinds:
            markers.append(MapMarker(id=f"cam-{code}", lat=lat, lon=lon, label=num(u["cam_offline"], lang),
                                     title=t("map.cameras_offline", lang).format(n=num(u["cam_offline"], lang),
                                                                                 name=names.get(code, code)),
                                     colour="#e8553e", kind="cameras"))
        if u.get("overdue_listed") and "tickets" in kinds:
            markers.append(MapMarker(id=f"tk-{code}", lat=lat - 0.012, lon=lon + 0.012,
                                     label=num(u["overdue_listed"], lang),
                                     title=t("map.tickets_overdue", lang).format(n=num(u["overdue_listed"], lang),
                                                                                 name=names.get(code, code)),
                                     colour="#f2b134", kind="tickets"))
    marker_legend = [e for kind, e in (
        ("air", LegendEntry(colour="#00E400", label=t("map.legend.air", lang))),
        ("water", LegendEntry(colour="#3333FF", label=t("map.legend.water", lang))),
        ("stations", LegendEntry(colour=OFFLINE_COLOUR, label=t("map.legend.silent", lang))),
        ("cameras", LegendEntry(colour="#e8553e", label=t("map.legend.cameras", lang))),
        ("tickets", LegendEntry(colour="#f2b134", label=t("map.legend.tickets", lang))),
    ) if kind in kinds or (kind == "stations" and ("air" in kinds or "water" in kinds))]
    note = ""
    if f.get("overdue_total") and f.get("overdue_listed", 0) < f["overdue_total"]:
        note = t("map.overdue_capped", lang).format(shown=num(f["overdue_listed"], lang),
                                                    total=num(f["overdue_total"], lang))
    return MapView(metric=metric, metric_title=t(f"map.metric.{metric}", lang), classes=classes, values=values,
                   legend=_legend(metric, lang), colours=colours + [NO_DATA_COLOUR], markers=markers,
                   marker_legend=marker_legend, note=note, freshness=fr)
