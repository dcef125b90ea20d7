"""The sector map's layers: the commune choropleth, 1022 tickets as points (columns the page
reads, ``encode_ticket_points``) and as density cells, cameras by status (geobuf), and the monitoring stations in their official
colours. Read from SQL (bound parameters, SQLAlchemy Core) and from the published map facts;
see docs/views.md § The sector map /map — data endpoints."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select

from ioc.auth import scope
from ioc.auth.roles import Principal
from ioc.db import models as m
from ioc.i18n import t
from ioc.kpi import aqi as aqi_mod
from ioc.kpi import environment, environment_sql, parameters, sql as kpi_sql
from ioc.kpi import wqi as wqi_mod
from ioc.views import text
from ioc.views.privacy import current_principal
from ioc.kpi import hotline
from ioc.kpi import tickets as kpi_tickets
from ioc.kpi.dates import micros
from ioc.views.map_filters import (
    DEADLINE_WORKING_DAYS,
    MapFilters,
    cached_period_figures,
    closed_sql,
    commune_areas,
    local_day_numbers,
    ticket_conditions,
    ticket_has_data,
    when,
)

METRICS = ("tickets_per_km2", "tickets_open", "tickets_overdue", "qd766_on_time", "cameras_online", "worst_index")
NONE_COLOUR = text.NO_DATA_COLOUR
OFFLINE_COLOUR = text.OFFLINE_COLOUR
ZERO_COLOUR = "#eef2f7"
_BLUES = ["#c6dbef", "#6baed6", "#2171b5", "#08306b"]
_REDS = ["#fcbba1", "#fb6a4a", "#de2d26", "#a50f15"]
_HEAT = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
# ticket and camera states → colour (the page's markers; legend in point_legends)
TICKET_COLOURS = {"open": "#2b8cbe", "overdue": "#e8553e", "closed": "#8a8f99"}
CAMERA_COLOURS = {"online": "#1a9850", "offline": "#d73027", "degraded": "#f2b134", "unknown": "#8a8f99"}
LEVEL_COLOURS = {None: "#1a9850", "info": "#fee08b", "warning": "#fc8d59", "critical": "#d73027"}
NO_LEVELS_COLOUR = "#4a90d9"
# A commune's worst station: VN_AQI and VN_WQI categories put on one scale by their official
# colours (green, yellow, orange, red, purple, maroon); WQI "very good" (blue) counts as green.
AQI_RANK = {c.key: i for i, c in enumerate(aqi_mod.CATEGORIES)}
WQI_RANK = {"very_good": 0, "good": 0, "medium": 1, "bad": 2, "poor": 3, "very_polluted": 5}
WORST_COLOURS = [c.hex for c in aqi_mod.CATEGORIES]
CELL_DEGREES = 0.018  # density cells: ≈ 2.0 km north–south, 1.97 km east–west at 10.5° N
POINT_PRECISION = 4  # decimals of point coordinates (≈ 11 m)


# --- the choropleth --------------------------------------------------------------------------


def communes_layer(views, metric: str, f: MapFilters, lang: str) -> dict:
    """The commune choropleth of ``metric`` for the filters: classes, formatted values, raw
    values, legend with class breaks and unit. A commune without data is absent from
    ``classes`` (drawn in ``none``), never 0. With a scope of communes (``f.communes``, a user
    limited to them: ioc.auth.scope.layer_params) only those communes' values, breaks made of
    them alone, ``scope`` naming them and the legend a line for the others ("outside your scope")."""
    if metric not in METRICS:
        raise ValueError(f"bad metric {str(metric)[:30]!r}: one of {', '.join(METRICS)}")
    names = views.atlas.names()
    raw: dict[str, float] = {}
    if metric in ("tickets_per_km2", "tickets_open", "tickets_overdue"):
        raw = _ticket_counts(views, metric, f, names)
    elif metric == "qd766_on_time":
        raw = _qd766_on_time(views, f)
    elif metric == "cameras_online":
        raw = _cameras_online(views)
    if f.communes:
        names = {c: n for c, n in names.items() if c in f.communes}
    raw = {c: v for c, v in raw.items() if c in names and v is not None}
    out = {"metric": metric, "title": f"{t(f'sm.metric.{metric}', lang)} · {_scope(metric, f, lang)}",
           "unit": t(f"sm.unit.{metric}", lang), "none": NONE_COLOUR, "period": f.period_text(lang)}
    if f.communes:
        out["scope"] = list(f.communes)
    if metric == "worst_index":
        return _outside(out | _worst_index(views, names, lang), f, lang)
    if metric in ("qd766_on_time", "cameras_online"):
        key = "qd766_on_time" if metric == "qd766_on_time" else "cam_online_pct"
        bounds, colours, _unit = text.METRIC_CLASSES[key]
        legend = [e.model_dump() for e in text._legend(key, lang)]
        values = {c: text.pct(v, lang) for c, v in raw.items()}
    else:
        decimals = 2 if metric == "tickets_per_km2" else 0
        bounds, colours, legend = breaks_legend(list(raw.values()), _BLUES if metric != "tickets_overdue" else _REDS,
                                                lang, integer=metric != "tickets_per_km2")
        unit = t(f"sm.unit.{metric}", lang)
        values = {c: f"{_num(v, lang, decimals)} {unit}" for c, v in raw.items()}
    classes = {c: text._class(v, bounds) for c, v in raw.items()}
    whole = metric in ("tickets_open", "tickets_overdue")
    return _outside(out | {"classes": classes, "values": values,
                           "raw": {c: int(v) if whole else round(float(v), 4) for c, v in raw.items()},
                           "legend": legend, "colours": colours}, f, lang)


def _outside(layer: dict, f: MapFilters, lang: str) -> dict:
    """The legend's line for the communes outside a scope (drawn as outlines without a value)."""
    if not f.communes:
        return layer
    return layer | {"legend": [*layer["legend"], {"colour": "transparent", "label": t("sm.out_of_scope", lang),
                                                  "outline": True}]}


def _scope(metric: str, f: MapFilters, lang: str) -> str:
    if metric in ("cameras_online", "worst_index"):
        return t("sm.scope.now", lang)
    return f.period_text(lang)


def _num(v: float, lang: str, decimals: int) -> str:
    return text.num(v, lang, decimals if v and abs(v) < 100 else 0)


def _ticket_counts(views, metric: str, f: MapFilters, names: Mapping[str, str]) -> dict[str, float]:
    tz, now = views.tz, views.clock()
    at = f.as_of(tz, now)
    status = {"tickets_open": "open", "tickets_overdue": "overdue"}.get(metric)
    tk = m.Ticket.__table__
    with views.engine().connect() as conn:
        if not ticket_has_data(conn):
            return {}
        rows = conn.execute(select(tk.c.commune_code, func.count())
                            .where(*ticket_conditions(f, tz, at, commune="", status=status))
                            .group_by(tk.c.commune_code)).all()
    counts = {code: 0 for code in names} | {str(c): int(n) for c, n in rows if c is not None}
    if metric != "tickets_per_km2":
        return counts
    areas = commune_areas(views)
    return {c: n / areas[c] for c, n in counts.items() if areas.get(c)}


def _qd766_on_time(views, f: MapFilters) -> dict[str, float]:
    res = cached_period_figures(views, f.start, f.end, ("procedures",))
    p = res.get("procedures") or {}
    return {str(c): ((v.get("indicators") or {}).get("2.1") or {}).get("value")
            for c, v in (p.get("commune") or {}).items()}


def _cameras_online(views) -> dict[str, float]:
    cam = m.Camera.__table__
    online = func.sum(case((func.lower(func.trim(cam.c.status)) == "online", 1), else_=0))
    with views.engine().connect() as conn:
        rows = conn.execute(select(cam.c.commune_code, func.count(), online)
                            .where(cam.c.commune_code.is_not(None)).group_by(cam.c.commune_code)).all()
    return {str(c): 100.0 * int(on or 0) / int(n) for c, n, on in rows if n}


def _map_facts(views) -> dict | None:
    try:
        return views.store.views("map")[0]
    except Exception:
        return None


def _station_communes(views) -> dict[str, str]:
    st = m.Station.__table__
    with views.engine().connect() as conn:
        return {str(i): str(c) for i, c in conn.execute(select(st.c.id, st.c.commune_code)) if c}


def _worst_index(views, names: Mapping[str, str], lang: str) -> dict:
    facts = _map_facts(views) or {}
    where = _station_communes(views)
    worst: dict[str, tuple[int, dict]] = {}
    for s in facts.get("stations") or []:
        if s.get("offline") or s.get("value") is None or not s.get("category"):
            continue
        rank = (AQI_RANK if s["index"] == "aqi" else WQI_RANK).get(s["category"])
        code = where.get(str(s["id"]))
        if rank is None or code not in names:
            continue
        if code not in worst or rank > worst[code][0]:
            worst[code] = (rank, s)
    values = {}
    for code, (_rank, s) in worst.items():
        index = "VN_AQI" if s["index"] == "aqi" else "VN_WQI"
        cat = text.category_name(s["index"], s["category"], lang)
        values[code] = f"{index} {text.num(s['value'], lang)} ({cat}) — {s.get('name') or s['id']}"
    legend = []
    for r, colour in enumerate(WORST_COLOURS):
        aqi_names = [c for c in aqi_mod.CATEGORIES if AQI_RANK[c.key] == r]
        wqi_names = [c for c in wqi_mod.CATEGORIES if WQI_RANK[c.key] == r]
        parts = [f"VN_AQI {_cat_names(aqi_names, lang)} ({c.low}–{c.high})" for c in aqi_names[:1]]
        if wqi_names:
            lo, hi = min(c.low for c in wqi_names), max(c.high for c in wqi_names)
            parts.append(f"VN_WQI {_cat_names(wqi_names, lang)} ({lo}–{hi})")
        legend.append({"colour": colour, "label": " · ".join(parts)})
    legend.append({"colour": NONE_COLOUR, "label": t("sm.worst.none", lang)})
    return {"classes": {c: r for c, (r, _s) in worst.items()}, "values": values,
            "raw": {c: r for c, (r, _s) in worst.items()}, "legend": legend, "colours": WORST_COLOURS}


def _cat_names(cats, lang: str) -> str:
    return ", ".join(c.name_vi if lang == "vi" else c.name_en for c in cats)


def nice(x: float) -> float:
    """The nearest of 1, 2, 5 × 10ⁿ (in log space)."""
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x))
    best = min((1, 2, 5, 10), key=lambda k: abs(math.log10(k * 10 ** e) - math.log10(x)))
    return float(best * 10 ** e)


def breaks_legend(values: Sequence[float], palette: list[str], lang: str, *, integer: bool,
                  zero_class: bool = True, unit: str = "") -> tuple[list[float], list[str], list[dict]]:
    """Class breaks from the data (quartiles of the values above 0, rounded to 1-2-5 numbers),
    their colours and legend. With ``zero_class`` 0 is a class of its own ("0"); the legend
    ends with the no-data colour. Returns (upper-exclusive bounds, colours, legend)."""
    pos = sorted(float(v) for v in values if v is not None and v > 0)
    cuts: list[float] = []
    if pos:
        for q in (0.25, 0.5, 0.75):
            c = nice(float(np.quantile(pos, q)))
            if integer:
                c = max(2.0, float(round(c)))
            if c > pos[0] and (not cuts or c > cuts[-1]) and c <= pos[-1]:
                cuts.append(c)
    low = (1.0 if integer else 1e-9) if zero_class else None
    bounds = ([low] if low is not None else []) + cuts
    tail = palette[-(len(cuts) + 1):]
    colours = ([ZERO_COLOUR] if zero_class else []) + tail
    sfx = f" {unit}" if unit else ""
    legend = [{"colour": ZERO_COLOUR, "label": f"0{sfx}"}] if zero_class else []
    first = 1.0 if integer else 0.0
    for i, colour in enumerate(tail):
        lo = first if i == 0 else cuts[i - 1]
        hi = cuts[i] if i < len(cuts) else None
        if hi is None:
            label = f"≥ {_bound(lo, lang, integer)}" if lo > 0 else "> 0"
        elif integer:
            label = f"{_bound(lo, lang, True)}–{_bound(hi - 1, lang, True)}" if hi - 1 > lo else _bound(lo, lang, True)
        else:
            label = f"{_bound(lo, lang, False)}–{_bound(hi, lang, False)}" if lo > 0 else f"< {_bound(hi, lang, False)}"
        legend.append({"colour": colour, "label": label + sfx})
    legend.append({"colour": NONE_COLOUR, "label": t("kpi.no_data", lang)})
    return bounds, colours, legend


def _bound(x: float, lang: str, integer: bool) -> str:
    if integer or x >= 10:
        return text.num(x, lang)
    decimals = max(0, -math.floor(math.log10(x))) if x > 0 else 0
    return text.num(x, lang, decimals)


# --- points: tickets, density, cameras ---------------------------------------------------------


def ticket_positions(views, f: MapFilters) -> tuple[np.ndarray, np.ndarray, int]:
    """(lat, lon) of the filtered tickets that have a position, and the number without one."""
    tz = views.tz
    tk = m.Ticket.__table__
    with kpi_sql.connect(views.engine()) as conn, kpi_sql.gc_paused():  # SQLite: memory-mapped reads
        res = conn.execute(select(tk.c.lat, tk.c.lon).where(*ticket_conditions(f, tz, f.as_of(tz, views.clock()))))
        rows = res.cursor.fetchall() if res.cursor is not None else res.fetchall()
        if not rows:
            return np.zeros(0), np.zeros(0), 0
        lat, lon = (np.array(c, dtype=float) for c in zip(*rows))  # None → NaN, in C
    ok = _located(lat, lon)
    return lat[ok], lon[ok], int(len(ok) - np.count_nonzero(ok))


def _located(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)


_POINT_COLUMNS = ("id", "lat", "lon", "service_code", "requested_at", "expected_at", "answered_at")


def ticket_points(views, f: MapFilters) -> tuple[bytes, int]:
    """The filtered tickets as the page's point columns (``encode_ticket_points``): each with its
    local request day counted from ``f.start`` and the hotline rule's steps over the ends the
    range holds (``hotline.flag_steps`` at ``MapFilters.end_instants``: the state at any end of
    the range); and how many were left out for want of a position."""
    tz, now = views.tz, views.clock()
    with kpi_sql.connect(views.engine()) as conn, kpi_sql.gc_paused():  # SQLite: memory-mapped reads
        stmt = (kpi_tickets.ticket_select(kpi_sql.dialect_name(conn), _POINT_COLUMNS)
                .add_columns(closed_sql().label("closed")).where(*ticket_conditions(f, tz, f.as_of(tz, now))))
        df = kpi_sql.fetch(conn, stmt, kpi_tickets.TICKET_TIMES)
    lat = df["lat"].to_numpy(dtype=float, na_value=np.nan)
    lon = df["lon"].to_numpy(dtype=float, na_value=np.nan)
    ok = _located(lat, lon)
    df = df[ok]
    deadline = kpi_tickets.ticket_deadlines(df, tz, DEADLINE_WORKING_DAYS)
    answered_from, due_from = hotline.flag_steps(micros(df["answered_at"]), micros(deadline),
                                                 df["closed"].astype("boolean").fillna(False).to_numpy(dtype=bool),
                                                 f.end_instants(tz, now))
    days = local_day_numbers(micros(df["requested_at"]), f.start, f.days, tz)
    body = encode_ticket_points(lon[ok], lat[ok], df["id"].tolist(), df["service_code"].tolist(), days,
                                answered_from, due_from, f.start, f.days)
    return body, int(len(ok) - np.count_nonzero(ok))


# The ticket points' layout, little-endian (the page's assets/sector_map.js reads it):
#   uint32 H | H bytes of UTF-8 JSON {"n", "scale", "cats", "day0", "days"} | zeros to a multiple of 4 |
#   int32 lon × scale [n] | int32 lat × scale [n] | uint32 row id, each the difference to the one
#   before (ids ascending, the first from 0) [n] | uint16 index into cats [n] |
#   uint16 local request day, days after day0 (the range's first day, ISO) [n] |
#   uint16 answered from: days after the request day [n] | uint16 overdue from: the same [n]
# The steps (``hotline.flag_steps`` over the ``days`` ends of the range, ``MapFilters.end_instants``):
# a ticket is answered at the end day k (days after day0) when k ≥ request day + answered, overdue
# when not answered and k ≥ request day + overdue; NEVER: not within the range. A step before the
# request day is written as 0 (the page never judges a ticket before its request day).
# 50,000 tickets: 930 KB, ≈ 280 KB compressed — a third of the same points as geobuf with their ids
# as text. The row id (tickets.id) names a clicked point (``ticket_ref``); the day and the steps let
# the page narrow the downloaded range (``MapFilters.window``) to any start and end without asking again.
POINTS_SCALE = 10 ** POINT_PRECISION
NEVER = 65_535


def encode_ticket_points(lon: np.ndarray, lat: np.ndarray, ids: Sequence[int], cats: Sequence,
                         days: Sequence[int], answered_from: Sequence[int], due_from: Sequence[int],
                         day0: date, n_days: int) -> bytes:
    """The columns above. ``days``: request days after ``day0``; ``answered_from``/``due_from``:
    ``hotline.flag_steps`` over the range's ``n_days`` ends (``n_days``: never)."""
    ids_a = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids_a, kind="stable")
    ids_a = ids_a[order]
    cat_names, cat_idx = np.unique(np.array(["" if c is None else str(c) for c in cats], dtype=object).astype(str),
                                   return_inverse=True)
    if len(cat_names) > 65_535:
        raise ValueError("more than 65,535 categories")
    day_a = np.asarray(days, dtype=np.int64).reshape(-1)
    if len(day_a) and (day_a.min() < 0 or day_a.max() >= min(n_days, NEVER)):
        raise ValueError(f"a request day outside the range's {n_days} days")

    def steps(at) -> np.ndarray:
        at = np.asarray(at, dtype=np.int64).reshape(-1)
        return np.where(at >= n_days, NEVER, np.maximum(at - day_a, 0))

    head = json.dumps({"n": len(ids_a), "scale": POINTS_SCALE, "cats": cat_names.tolist(), "day0": day0.isoformat(),
                       "days": int(n_days)}, ensure_ascii=False, separators=(",", ":")).encode()
    pad = b"\0" * (-(4 + len(head)) % 4)
    x = np.round(np.asarray(lon, dtype=float)[order] * POINTS_SCALE).astype("<i4")
    y = np.round(np.asarray(lat, dtype=float)[order] * POINTS_SCALE).astype("<i4")
    u2 = [cat_idx.reshape(-1), day_a, steps(answered_from), steps(due_from)]
    return b"".join([np.uint32(len(head)).astype("<u4").tobytes(), head, pad, x.tobytes(), y.tobytes(),
                     np.diff(ids_a, prepend=0).astype("<u4").tobytes(),
                     *(c[order].astype("<u2").tobytes() for c in u2)])


def decode_ticket_points(body: bytes) -> dict:
    """``encode_ticket_points`` read back: {n, scale, cats, day0, days, lon, lat, id, cat, day, answered_from,
    due_from (days after day0; ``days``: never), st (the state at the range's end, as the page judges it)} (lists)."""
    h = int(np.frombuffer(body, "<u4", 1)[0])
    head = json.loads(body[4:4 + h])
    n, at = head["n"], 4 + h + (-(4 + h) % 4)
    cols = {}
    for name, dtype, size in (("x", "<i4", 4), ("y", "<i4", 4), ("step", "<u4", 4), ("cat", "<u2", 2),
                              ("day", "<u2", 2), ("ans", "<u2", 2), ("due", "<u2", 2)):
        cols[name] = np.frombuffer(body, dtype, n, at).astype(np.int64)
        at += size * n
    if at != len(body):
        raise ValueError(f"{len(body) - at} bytes after the columns")
    never = head["days"]
    a_from, d_from = (np.where(cols[c] == NEVER, never, cols["day"] + cols[c]) for c in ("ans", "due"))
    answered, overdue = hotline.flags_at_step(a_from, d_from, never - 1)
    st = np.where(answered, "closed", np.where(overdue, "overdue", "open"))
    return {**head, "lon": (cols["x"] / head["scale"]).tolist(), "lat": (cols["y"] / head["scale"]).tolist(),
            "id": np.cumsum(cols["step"]).tolist(), "cat": [head["cats"][i] for i in cols["cat"]],
            "day": cols["day"].tolist(), "answered_from": a_from.tolist(), "due_from": d_from.tolist(),
            "st": st.tolist()}


def density(views, f: MapFilters, lang: str) -> dict:
    """The filtered tickets counted in square cells of ``CELL_DEGREES`` (≈ 2 km): a GeoJSON
    FeatureCollection of the cells holding at least one, with ``count`` and ``cls``."""
    lat, lon, missing = ticket_positions(views, f)
    feats = []
    unit = t("sm.unit.density", lang)
    if len(lat):
        i = np.floor(lat / CELL_DEGREES).astype(np.int64)
        j = np.floor(lon / CELL_DEGREES).astype(np.int64)
        keys, counts = np.unique(i * 100_000 + (j + 50_000), return_counts=True)  # one int per cell: a 1-d sort
        cells = np.stack([keys // 100_000, keys % 100_000 - 50_000], axis=1)
        bounds, colours, legend = breaks_legend(counts.tolist(), _HEAT, lang, integer=True, zero_class=False,
                                                unit=unit)
        for (ci, cj), n in zip(cells.tolist(), counts.tolist()):
            y0, x0 = round(ci * CELL_DEGREES, 5), round(cj * CELL_DEGREES, 5)
            y1, x1 = round((ci + 1) * CELL_DEGREES, 5), round((cj + 1) * CELL_DEGREES, 5)
            feats.append({"type": "Feature", "properties": {"count": int(n), "cls": text._class(n, bounds)},
                          "geometry": {"type": "Polygon",
                                       "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}})
    else:
        bounds, colours, legend = breaks_legend([], _HEAT, lang, integer=True, zero_class=False, unit=unit)
    return {"type": "FeatureCollection", "features": feats, "legend": legend, "colours": colours,
            "cell_km": 2, "without_location": missing, "title": t("sm.density.title", lang),
            "period": f.period_text(lang)}


def cameras_geobuf(views, f: MapFilters) -> tuple[bytes, int]:
    """Cameras as geobuf Points with properties ``{id, st}`` (online | offline | degraded |
    unknown); the commune, the scope's communes and the camera-status filters apply. No stream
    address leaves SQL."""
    cam = m.Camera.__table__
    stmt = select(cam.c.id, cam.c.lat, cam.c.lon, cam.c.status)
    if f.commune:
        stmt = stmt.where(cam.c.commune_code == f.commune)
    if f.communes:
        stmt = stmt.where(cam.c.commune_code.in_(list(f.communes)))
    if f.cam_status == "offline":
        stmt = stmt.where(func.lower(func.trim(cam.c.status)) == "offline")
    with views.engine().connect() as conn:
        res = conn.execute(stmt.order_by(cam.c.id))
        rows = res.cursor.fetchall() if res.cursor is not None else res.fetchall()
    if not rows:
        return encode_points(np.zeros(0), np.zeros(0), {}), 0
    ids, lats, lons, sts = (list(c) for c in zip(*rows))
    lat = np.array([np.nan if v is None else v for v in lats], dtype=float)
    lon = np.array([np.nan if v is None else v for v in lons], dtype=float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    keep = np.flatnonzero(ok)
    norm = [_cam_status(sts[i]) for i in keep]
    return encode_points(lon[ok], lat[ok], {"id": [str(ids[i]) for i in keep], "st": norm}), int((~ok).sum())


def _cam_status(s) -> str:
    v = str(s or "").strip().lower()
    return v if v in CAMERA_COLOURS else "unknown"


def point_legends(lang: str) -> dict:
    """Colours and words of the point layers' states (tickets, cameras, level stations)."""
    return {
        "tickets": [{"key": k, "colour": c, "label": t(f"sm.tst.{k}", lang)} for k, c in TICKET_COLOURS.items()],
        "cameras": [{"key": k, "colour": c, "label": t(f"sm.cam.{k}", lang)} for k, c in CAMERA_COLOURS.items()],
        "levels": [{"key": k or "none", "colour": c, "label": t(f"sm.lvl.{k or 'none'}", lang)}
                   for k, c in LEVEL_COLOURS.items()]
        + [{"key": "no_levels", "colour": NO_LEVELS_COLOUR, "label": t("sm.lvl.no_levels", lang)},
           {"key": "silent", "colour": OFFLINE_COLOUR, "label": t("sm.st.silent_short", lang)}],
    }


# --- geobuf -----------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_points(lon: np.ndarray, lat: np.ndarray, props: Mapping[str, Sequence], precision: int = POINT_PRECISION
                  ) -> bytes:
    """A geobuf (v3) FeatureCollection of Points, written directly with numpy: ``geobuf.encode``
    builds one dict per feature and takes ~0.4 s for 50,000 points; this takes a few tens of
    ms and decodes to the same thing (tests compare with ``geobuf.encode`` via
    ``geobuf.decode``). String properties only; a None value leaves the property out of that
    feature."""
    keys = list(props)
    if len(keys) > 100:
        raise ValueError("at most 100 properties")
    scale = 10 ** precision
    x = np.round(np.asarray(lon, dtype=float) * scale).astype(np.int64)
    y = np.round(np.asarray(lat, dtype=float) * scale).astype(np.int64)
    n = len(x)
    cols = [_string_column(props[k], n) for k in keys]  # (lengths, -1 for None; bytes of the present values)
    head = b"".join(b"\x0a" + _varint(len(kb)) + kb for kb in (k.encode() for k in keys))
    head += b"\x10\x02\x18" + _varint(precision)
    if n == 0:
        return head + b"\x22\x00"
    lens = np.stack([c[0] for c in cols]) if cols else np.zeros((0, n), dtype=np.int64)
    if lens.size and lens.max() > 120:  # one-byte lengths below; longer strings take the plain loop
        return _encode_points_loop(x, y, [[None if v is None else str(v).encode() for v in props[k]] for k in keys],
                                   head)
    present = lens >= 0
    slen = np.where(present, lens, 0)
    zx, zy = (x << 1) ^ (x >> 63), (y << 1) ^ (y >> 63)
    bx, nx = _varint_bytes(zx)
    by, ny = _varint_bytes(zy)
    clen = nx + ny
    cnt = present.sum(axis=0)
    body = 4 + clen + (present * (4 + slen)).sum(axis=0) + np.where(cnt > 0, 2 + 2 * cnt, 0)
    bb, nb = _varint_bytes(body)
    size = 1 + nb + body
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    out = np.zeros(int(size.sum()), dtype=np.uint8)
    out[start] = 0x0A
    _scatter(out, start + 1, bb, nb)
    p = start + 1 + nb
    out[p], out[p + 1], out[p + 2], out[p + 3] = 0x0A, 2 + clen, 0x1A, clen
    _scatter(out, p + 4, bx, nx)
    _scatter(out, p + 4 + nx, by, ny)
    q = p + 4 + clen
    rank = np.cumsum(present, axis=0) - present  # index of each present value within its feature
    for ki, (_lens, raw) in enumerate(cols):
        rows = np.flatnonzero(present[ki])
        if len(rows):
            qs, ln = q[rows], slen[ki][rows]
            out[qs], out[qs + 1], out[qs + 2], out[qs + 3] = 0x6A, ln + 2, 0x0A, ln
            blob = np.frombuffer(raw, dtype=np.uint8)
            if len(blob):
                offs = np.cumsum(ln) - ln
                out[np.repeat(qs + 4 - offs, ln) + np.arange(len(blob))] = blob
        q = q + present[ki] * (4 + slen[ki])
    has = cnt > 0
    out[q[has]], out[q[has] + 1] = 0x72, 2 * cnt[has]
    for ki in range(len(keys)):
        rows = np.flatnonzero(present[ki])
        out[q[rows] + 2 + 2 * rank[ki][rows]] = ki
        out[q[rows] + 3 + 2 * rank[ki][rows]] = rank[ki][rows]
    fc = out.tobytes()
    return head + b"\x22" + _varint(len(fc)) + fc


def _string_column(values: Sequence, n: int) -> tuple[np.ndarray, bytes]:
    """(UTF-8 length of each value, -1 for None; the present values' bytes, concatenated)."""
    values = list(values)
    if len(values) != n:
        raise ValueError(f"a property has {len(values)} values for {n} points")
    try:
        joined = "".join(values)  # only when every value is a str (TypeError otherwise)
    except TypeError:
        joined = None
    if joined is not None and joined.isascii():  # one encode; lengths in characters = bytes
        return np.fromiter(map(len, values), dtype=np.int64, count=n), joined.encode()
    memo: dict = {}
    enc = [None if v is None else (memo[v] if v in memo else memo.setdefault(v, str(v).encode())) for v in values]
    lens = np.fromiter((-1 if b is None else len(b) for b in enc), dtype=np.int64, count=n)
    return lens, b"".join(b for b in enc if b)


def _varint_bytes(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Varint bytes of non-negative int64s: an (n, 10) array and the length of each."""
    u = v.astype(np.uint64)
    groups = np.stack([(u >> np.uint64(7 * j)) & np.uint64(0x7F) for j in range(10)], axis=1).astype(np.uint8)
    nbytes = np.ones(len(u), dtype=np.int64)
    for j in range(1, 10):
        nbytes += (u >= np.uint64(1) << np.uint64(7 * j)).astype(np.int64)
    cont = np.arange(10)[None, :] < (nbytes[:, None] - 1)
    return groups | (cont.astype(np.uint8) << 7), nbytes


def _scatter(out: np.ndarray, at: np.ndarray, rows: np.ndarray, lens: np.ndarray) -> None:
    """Write the first ``lens[i]`` bytes of ``rows[i]`` at ``out[at[i]:]``."""
    mask = np.arange(rows.shape[1])[None, :] < lens[:, None]
    dest = at[:, None] + np.arange(rows.shape[1])[None, :]
    out[dest[mask]] = rows[mask]


def _encode_points_loop(x: np.ndarray, y: np.ndarray, cols: list[list], head: bytes) -> bytes:
    """The same encoding one feature at a time (strings longer than 120 bytes)."""
    varint = _varint
    zx = ((x << 1) ^ (x >> 63)).tolist()
    zy = ((y << 1) ^ (y >> 63)).tolist()
    parts = []
    for n in range(len(zx)):
        coords = varint(zx[n]) + varint(zy[n])
        geom = b"\x1a" + varint(len(coords)) + coords
        body = [b"\x0a", varint(len(geom)), geom]
        idx = bytearray()
        k = 0
        for ki, col in enumerate(cols):
            sb = col[n]
            if sb is None:
                continue
            val = b"\x0a" + varint(len(sb)) + sb
            body.append(b"\x6a" + varint(len(val)) + val)
            idx += varint(ki) + varint(k)
            k += 1
        if idx:
            body += [b"\x72", varint(len(idx)), bytes(idx)]
        feat = b"".join(body)
        parts.append(b"\x0a" + varint(len(feat)) + feat)
    fc = b"".join(parts)
    return head + b"\x22" + varint(len(fc)) + fc


# --- stations ---------------------------------------------------------------------------------

LEVEL_PARAMS = {"salinity": "salinity", "water_level": "water_level", "insect_count": "insects"}
_SEV = {None: 0, "info": 1, "warning": 2, "critical": 3}


def stations_layer(views, lang: str, *, principal: Principal | None = None,
                   communes: tuple[str, ...] = ()) -> dict:
    """Every station with a position as a GeoJSON Point: air and water stations with their
    current VN_AQI / VN_WQI and official category colour (from the published map facts),
    IoT water-level/salinity and insect-trap stations with their newest value against their
    alarm levels (the KPI engine's level rules on the newest values in SQL). For a principal
    limited to communes (``principal`` None: the request's; ioc.auth.scope.limited_communes)
    only the stations of those communes; with ``communes`` (the layer URL's scope,
    ``MapFilters.communes``) only those."""
    now = views.clock()
    limited = scope.limited_communes(principal or current_principal())
    with kpi_sql.connect(views.engine()) as conn:
        stations = environment_sql.load_stations(conn)
        for only in (limited, communes or None):
            if only is not None and len(stations):
                stations = stations[stations["commune_code"].isin(only)]
        ds = environment_sql.load_datastreams(conn)
        level_ids = stations.loc[stations["kind"].isin(["iot_water", "insect"]), "id"].astype(str).tolist() \
            if len(stations) else []
        lds = ds[ds["station_id"].astype(str).isin(level_ids)] if len(ds) else ds
        latest = environment_sql.load_latest_observations(conn, now, lds["id"].astype(str).tolist()) if len(lds) else None
    facts = _map_facts(views)
    by_id = {str(s["id"]): s for s in (facts or {}).get("stations") or []}
    readings = _level_readings(stations, lds, latest, now) if latest is not None else {}
    feats = []
    for row in stations.itertuples(index=False):
        if row.lat is None or row.lon is None or pd.isna(row.lat) or pd.isna(row.lon):
            continue
        sid, kind = str(row.id), row.kind
        if kind in ("air", "water"):
            props = _index_props(sid, kind, by_id.get(sid), facts is not None, lang)
        elif kind in ("iot_water", "insect"):
            props = _level_props(readings.get(sid) or [], kind, views.tz, lang)
        else:
            props = {"index": None, "value": None, "label": "—", "category": None, "colour": OFFLINE_COLOUR,
                     "state_text": t("kpi.no_data", lang), "detail": ""}
        feats.append({"type": "Feature", "id": sid,
                      "geometry": {"type": "Point",
                                   "coordinates": [round(float(row.lon), 5), round(float(row.lat), 5)]},
                      "properties": {"id": sid, "name": row.name, "kind": kind, **props}})
    return {"type": "FeatureCollection", "features": feats}


def _index_props(sid: str, kind: str, s: dict | None, have_facts: bool, lang: str) -> dict:
    index = "aqi" if kind == "air" else "wqi"
    name = "VN_AQI" if index == "aqi" else "VN_WQI"
    base = {"index": index, "value": None, "label": "—", "category": None, "colour": OFFLINE_COLOUR, "detail": ""}
    if s is None:
        why = "sm.st.no_facts" if not have_facts else "sm.st.no_value"
        return base | {"state_text": t(why, lang).format(index=name)}
    if s.get("offline"):
        return base | {"category": "silent", "state_text": t("sm.st.silent_short", lang)}
    if s.get("value") is None:
        return base | {"state_text": t("sm.st.no_value", lang).format(index=name)}
    cat = text.category_name(index, s.get("category"), lang)
    return base | {"value": s["value"], "label": f"{name} {text.num(s['value'], lang)}", "category": s.get("category"),
                   "colour": s.get("hex") or OFFLINE_COLOUR, "state_text": cat or "—"}


def _level_readings(stations: pd.DataFrame, lds: pd.DataFrame, latest: pd.DataFrame, now: datetime) -> dict:
    """station id → [level rows of ioc.kpi.environment.level_alerts] for its level parameters."""
    if latest is None or not len(latest):
        return {}
    j = latest.assign(datastream_id=latest["datastream_id"].astype(str)).merge(
        lds.assign(id=lds["id"].astype(str)), left_on="datastream_id", right_on="id")
    lv = pd.DataFrame({"station_id": j["station_id"].astype(str), "parameter": j["code"], "unit": j["unit"],
                       "at": j["phenomenon_time"], "value": j["result"].astype(float)})
    sal = environment.salinity_alerts(lv[lv["parameter"] == "salinity"], as_of=now)
    wl = lv[lv["parameter"] == "water_level"].copy()
    if len(wl):
        wl["value"] = [parameters.water_level_metres(v, u) for v, u in zip(wl["value"].tolist(), wl["unit"].tolist())]
        wl["unit"] = "m"
    levels = environment.water_level_alerts(wl, stations, as_of=now)
    insects = environment.insect_alerts(lv[lv["parameter"].isin(list(environment.INSECT_LEVELS))], as_of=now)
    out: dict[str, list] = {}
    for r in sal + levels + insects:
        out.setdefault(str(r["station_id"]), []).append(r)
    return out


def _level_props(rows: list[dict], kind: str, tz, lang: str) -> dict:
    if not rows:
        return {"index": "insects" if kind == "insect" else "water_level", "value": None, "label": "—",
                "category": None, "colour": OFFLINE_COLOUR, "state_text": t("sm.st.never", lang), "detail": ""}

    def rank(r):  # the worse reading first; salinity before water level on a tie
        return (not r["stale"], _SEV.get(r["severity"], 0), r["parameter"] == "salinity")

    rows = sorted(rows, key=rank, reverse=True)
    texts = [_level_text(r, tz, lang) for r in rows]
    top = rows[0]
    label, state, category, colour = texts[0]
    return {"index": LEVEL_PARAMS.get(top["parameter"], top["parameter"]), "value": top["value"], "label": label,
            "category": category, "colour": colour, "state_text": state,
            "detail": " · ".join(f"{lb} ({st})" for lb, st, _c, _col in texts)}


def _level_text(r: dict, tz, lang: str) -> tuple[str, str, str, str]:
    """(value with unit, state in words, category key, colour) of one level reading."""
    p = r["parameter"]
    param = LEVEL_PARAMS.get(p, p)
    unit = t(f"sm.param_unit.{param}", lang)
    label = f"{t(f'sm.param.{param}', lang)} {text.num(r['value'], lang, 0 if param == 'insects' else 2)} {unit}"
    if r["stale"]:
        at = r.get("at")
        return label, t("sm.st.silent_since", lang).format(since=when(at, tz)), "silent", OFFLINE_COLOUR
    if r["no_levels"]:
        return label, t("sm.lvl.no_levels", lang), "no_levels", NO_LEVELS_COLOUR
    if r["level"] is None:
        return label, t(f"sm.lvl.below.{param}", lang), "normal", LEVEL_COLOURS[None]
    thr = f"{text.num(r['threshold'], lang, 0 if param == 'insects' else 2)} {unit}"
    return (label, t(f"sm.lvl.{param}.{r['level']}", lang).format(threshold=thr), r["level"],
            LEVEL_COLOURS.get(r["severity"], LEVEL_COLOURS["warning"]))


__all__ = ["CAMERA_COLOURS", "CELL_DEGREES", "METRICS", "TICKET_COLOURS", "breaks_legend", "cameras_geobuf",
           "communes_layer", "decode_ticket_points", "density", "encode_points", "encode_ticket_points",
           "point_legends", "stations_layer", "ticket_points", "ticket_positions"]
