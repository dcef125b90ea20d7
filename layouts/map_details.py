"""The sector map's drill-down bodies (layouts/map.py's side panel): a 1022 request's facts, a
camera's status history and snapshot, a station's series against its official thresholds and
its category history, drawn as inline SVG (no plotly.js). Functions of the read model's
answers (``ioc.views.mapdata``), tested as plain functions."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from html import escape
from urllib.parse import quote

from dash import dcc, html

from ioc.i18n import t
from ioc.views import mapdata as md
from ioc.views import text

log = logging.getLogger("ioc.web.map")

# the point layers' marks: the read model's colours and words, and a symbol saying the same
TICKET_SYMBOLS = {"overdue": "!", "open": "…", "closed": "✓"}
CAMERA_SYMBOLS = {"online": "✓", "degraded": "~", "offline": "✖", "unknown": "?"}

def ink(hex_colour: str) -> str:
    """Black or white text, whichever reads better on the colour."""
    h = (hex_colour or "").lstrip("#")
    try:
        r, g, b = (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
    except ValueError:
        return "#fff"
    return "#0b111a" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 else "#fff"




def ticket_body(d: Mapping, lang: str, can_reveal: bool = False, message: str | None = None) -> list:
    """A ticket's facts with its reporter as the read model gives them (masked unless revealed);
    ``can_reveal`` (a principal with ``pii``): a reason box and a button to see them unmasked."""
    sym = TICKET_SYMBOLS.get(d.get("status"), "?")
    colour = md.TICKET_COLOURS.get(d.get("status"), text.OFFLINE_COLOUR)
    rows = [("mp.f.category", d.get("category")), ("mp.f.received", d.get("received_text")),
            ("mp.f.age", d.get("age_text")), ("mp.f.deadline", d.get("deadline_text")),
            ("mp.f.commune", d.get("commune")), ("mp.f.agency", d.get("agency"))]
    # the reporter as the read model gives it: masked unless revealed (ioc/views/privacy.py)
    who = d.get("person") or {}
    rows += [("mp.f.reporter", who.get("reporter_name")), ("mp.f.phone", who.get("reporter_phone")),
             ("mp.f.address", who.get("address"))]
    if who.get("description"):
        rows.append(("mp.f.description", who["description"]))
    masked = who.get("masked", True)
    out = [html.Div([html.Span(sym, className="sm-mark", style={"background": colour, "color": ink(colour)}),
                     html.Strong(d.get("status_label") or "—")], className="sm-status-line"),
           _facts(rows, lang),
           html.P(t("mp.personal_masked" if masked else "mp.personal_shown", lang), className="sm-muted sm-small")]
    if masked and can_reveal:
        out.append(html.Div([
            dcc.Input(id="map-reveal-reason", type="text", maxLength=500, debounce=False,
                      placeholder=t("mp.reveal.reason", lang), className="sm-reveal-reason"),
            html.Button(t("mp.reveal.go", lang), id="map-reveal-go", n_clicks=0, className="sm-lang")],
            className="sm-reveal"))
    if message:
        out.append(html.Div(message, className="sm-warn", role="alert"))
    return out


def camera_body(d: Mapping, lang: str, snapshot: tuple[int, str] | None = None) -> list:
    status = d.get("status") or "unknown"
    colour = md.CAMERA_COLOURS.get(status, text.OFFLINE_COLOUR)
    rows = [("mp.f.commune", d.get("commune")), ("mp.f.agency", d.get("agency")),
            ("mp.f.since", d.get("since_text")), ("mp.f.last_seen", d.get("last_seen_text"))]
    if d.get("reason"):
        rows.append(("mp.f.reason", d["reason"]))
    out = [html.Div([html.Span(CAMERA_SYMBOLS.get(status, "?"), className="sm-mark",
                               style={"background": colour, "color": ink(colour)}),
                     html.Strong(d.get("status_label") or "—")], className="sm-status-line"),
           _facts(rows, lang)]
    out.append(html.H3(d.get("history_label") or ""))
    out += camera_history(d.get("history") or [], lang)
    out.append(html.H3(t("mp.snapshot", lang)))
    if snapshot is None:
        out.append(html.P(t("mp.no_snapshot", lang), className="sm-muted"))
    elif snapshot[0] != 200:
        out.append(html.P(f"▲ {t('mp.snapshot_failed', lang)} ({snapshot[1]})", className="sm-warn"))
    else:
        # our own endpoint fetches it from the camera server: the camera's address never reaches the browser
        out.append(html.Img(src=f"/api/map/camera/{quote(str(d['id']), safe='')}/snapshot.jpg?t={int(time.time())}",
                            className="sm-snapshot", alt=t("mp.snapshot_alt", lang).format(name=d.get("name") or d["id"])))
    return out


def snapshot_state(views, d: Mapping) -> tuple[int, str] | None:
    """None (no snapshot), or (HTTP status, why) of the camera's snapshot, asked once before the
    page shows it: a failed image would be a broken picture and a console error."""
    if not d.get("has_snapshot"):
        return None
    try:
        status, body, _ctype = md.camera_snapshot(views, str(d["id"]))
    except Exception:  # noqa: BLE001
        log.exception("map page: snapshot %s", d.get("id"))
        return 502, "—"
    return status, "" if status == 200 else body.decode(errors="replace")[:120]


def camera_history(history: list, lang: str) -> list:
    """The status changes as a strip (colour and symbol) and as a list in words."""
    if not history:
        return [html.P(t("mp.cam.no_changes", lang), className="sm-muted")]
    items = [html.Li([html.Span(CAMERA_SYMBOLS.get(st, "?"), className="sm-mark",
                                style={"background": md.CAMERA_COLOURS.get(st, text.OFFLINE_COLOUR),
                                       "color": ink(md.CAMERA_COLOURS.get(st, text.OFFLINE_COLOUR))}),
                      f"{_when(at)} — {t(f'sm.cam.{st}', lang)}"]) for at, st in reversed(history[-30:])]
    counts = Counter(st for _at, st in history)
    summary = " · ".join(f"{t(f'sm.cam.{st}', lang)}: {text.num(n, lang)}" for st, n in counts.most_common())
    return [html.Div(t("mp.cam.changes", lang).format(n=text.num(len(history), lang), summary=summary),
                     className="sm-small"),
            html.Ol(items, className="sm-history")]


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return iso


def _facts(rows, lang: str) -> html.Dl:
    return html.Dl([el for key, value in rows for el in (html.Dt(t(key, lang)), html.Dd(value or "—"))],
                   className="sm-facts")


def station_body(d: Mapping, lang: str) -> list:
    """Each series as an inline SVG against its thresholds, and the category history."""
    out: list = []
    cats = d.get("categories") or []
    if cats:
        out.append(html.H3(t("mp.st.categories", lang)))
        svg, words = category_strip(cats, lang)
        out += [html.Img(src=svg_uri(svg), className="sm-strip", alt=words), html.Div(words, className="sm-small")]
    series = [s for s in d.get("series") or [] if s.get("points")]
    if not series:
        out.append(html.P(f"○ {d.get('empty_text') or t('sm.series.empty', lang)}", className="sm-empty"))
        return out
    for s in series:
        svg, summary = series_svg(s, lang)
        title = s["label"] + (f" ({s['unit']})" if s.get("unit") else "")
        out += [html.H3(title), html.Img(src=svg_uri(svg), className="sm-chart", alt=f"{title}. {summary}"),
                html.Div(summary, className="sm-small")]
    return out


def svg_uri(svg: str) -> str:
    return "data:image/svg+xml;utf8," + quote(svg)


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def series_svg(s: Mapping, lang: str, width: int = 520, height: int = 170) -> tuple[str, str]:
    """A line of the values over time with the thresholds dashed and labelled; values beyond a
    threshold ringed red. Returns (SVG text, a summary in words)."""
    pts = [(_t(a), float(v)) for a, v in s["points"]]
    thr = s.get("thresholds") or []
    values = [v for _x, v in pts]
    lo, hi = min(values), max(values)
    # the thresholds within reach of the data are drawn; one far above it (it would flatten the
    # line) or far below is named under the chart instead
    data_span = (hi - lo) or abs(hi) or 1.0
    reach_hi, reach_lo = hi + max(data_span, abs(hi) * 0.6), lo - max(data_span, abs(lo) * 0.6)
    shown = sorted((x for x in thr if reach_lo <= x["value"] <= reach_hi), key=lambda x: x["value"])
    far = [x for x in thr if x not in shown]
    lo = min([lo, *(x["value"] for x in shown)])
    hi = max([hi, *(x["value"] for x in shown)])
    if 0 <= lo < hi * 0.35:
        lo = 0.0
    axis = (lo, hi)
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - span * 0.05, hi + span * 0.1
    t0, t1 = pts[0][0], pts[-1][0]
    tspan = (t1 - t0) or 1.0
    left, right, top, bottom = 46, 8, 8, 22
    w, h = width - left - right, height - top - bottom

    def x(ts):
        return left + w * (ts - t0) / tspan

    def y(v):
        return top + h * (1 - (v - lo) / (hi - lo))

    def fmt(v):
        return text.num(v, lang, 0 if abs(v) >= 100 else (1 if abs(v) >= 10 else 2))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" font-family="sans-serif" '
             f'font-size="11">', f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#0f1722"/>']
    for label_v in axis:
        parts.append(f'<text x="{left - 4}" y="{y(label_v) + 4:.1f}" fill="#9fb0c0" text-anchor="end">{fmt(label_v)}</text>')
    bad = 0
    for th in shown:
        ty = y(th["value"])
        colour = "#ff8a80" if th["kind"] == "max" else "#80cbc4"
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{colour}" '
                     f'stroke-dasharray="5 4" stroke-width="1.2"/>')
        parts.append(f'<text x="{left + w - 3}" y="{ty - 3:.1f}" fill="{colour}" text-anchor="end" stroke="#0f1722" stroke-width="3" paint-order="stroke">'
                     f'{escape(th["label"])}: {fmt(th["value"])}</text>')
    segs, cur, prev_t = [], [], None
    gap = max(3 * 3600, tspan / 40)  # a break of more than ~3 hours is drawn as a gap
    for ts, v in pts:
        if prev_t is not None and ts - prev_t > gap and cur:
            segs.append(cur)
            cur = []
        cur.append(f"{x(ts):.1f},{y(v):.1f}")
        prev_t = ts
    segs.append(cur)
    for seg in segs:
        if len(seg) > 1:
            parts.append(f'<polyline fill="none" stroke="#e8eef4" stroke-width="1.8" points="{" ".join(seg)}"/>')
        else:
            parts.append(f'<circle cx="{seg[0].split(",")[0]}" cy="{seg[0].split(",")[1]}" r="2" fill="#e8eef4"/>')
    limits = [] if s.get("parameter") == "aqi" else limit_lines(thr)  # AQI: categories, shown by the strip
    for ts, v in pts:
        if any((th["kind"] == "max" and v > th["value"]) or (th["kind"] == "min" and v < th["value"]) for th in limits):
            bad += 1
            parts.append(f'<circle cx="{x(ts):.1f}" cy="{y(v):.1f}" r="3.2" fill="none" stroke="#ff5a5f" stroke-width="1.6"/>')
    parts.append(f'<text x="{left}" y="{height - 6}" fill="#9fb0c0">{_short(pts[0][0], s["points"][0][0])}</text>')
    parts.append(f'<text x="{left + w}" y="{height - 6}" fill="#9fb0c0" text-anchor="end">'
                 f'{_short(pts[-1][0], s["points"][-1][0])}</text>')
    parts.append("</svg>")
    last = s["points"][-1]
    summary = t("mp.series.summary", lang).format(n=text.num(len(pts), lang), lo=fmt(min(values)), hi=fmt(max(values)),
                                                  last=fmt(float(last[1])), at=_when(last[0]))
    if bad:
        summary += " · " + t("mp.series.beyond", lang).format(
            n=text.num(bad, lang), limit=" / ".join(f"{x['label']}: {fmt(x['value'])}" for x in limits))
    if far and s.get("parameter") != "aqi":  # the AQI's upper categories are not limits to name
        summary += " · " + t("mp.series.far", lang).format(
            limits="; ".join(f"{x['label']}: {fmt(x['value'])}" for x in far))
    return "".join(parts), summary


def limit_lines(thr: list) -> list:
    """The lines a value is judged against: the lowest upper limit (several levels — alarm
    levels I–III, averaging periods — start at the lowest) and every lower limit."""
    maxes = [x for x in thr if x.get("kind") == "max"]
    low = min(maxes, key=lambda x: x["value"]) if maxes else None
    return ([low] if low else []) + [x for x in thr if x.get("kind") == "min"]


def _short(ts: float, iso: str) -> str:
    return _when(iso)


def category_strip(cats: list, lang: str, width: int = 520, height: int = 18) -> tuple[str, str]:
    """The category of each time as a coloured strip, and the time spent in each in words."""
    times = [_t(c[0]) for c in cats]
    t0, t1 = times[0], times[-1]
    step = (t1 - t0) / max(len(cats) - 1, 1) or 3600.0
    span = (t1 - t0) + step
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" preserveAspectRatio="none">']
    for i, (iso, _key, colour, label) in enumerate(cats):
        a = times[i]
        b = times[i + 1] if i + 1 < len(cats) else a + step
        x0 = width * (a - t0) / span
        x1 = width * (b - t0) / span
        parts.append(f'<rect x="{x0:.2f}" y="0" width="{max(x1 - x0, 0.8):.2f}" height="{height}" fill="{escape(colour)}">'
                     f'<title>{escape(_when(iso))}: {escape(label)}</title></rect>')
    parts.append("</svg>")
    counts = Counter(c[3] for c in cats)
    words = " · ".join(f"{label}: {text.num(n, lang)}" for label, n in counts.most_common())
    return "".join(parts), t("mp.st.category_counts", lang).format(n=text.num(len(cats), lang), words=words)


# --- callbacks -----------------------------------------------------------------------------------------


def _tkey(value):
    return value.get("type") if isinstance(value, dict) else value
