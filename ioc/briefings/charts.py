"""The briefing's figures as SVG, drawn here (no browser, no tiles, no plotting library):
bar charts and the static commune map from the imported boundaries.

``FIGURES`` is the one definition of each figure's id, kind and size: the renderer places the
figure at that size under that id (a named destination in the PDF), and the check finds it
there to measure its ink.
"""

from __future__ import annotations

import math
from html import escape

from ioc.formatting import format_number
from ioc.views.briefing import Bars, MapLayer

MM = 96 / 25.4  # CSS px per mm
FONT_FAMILY = "IOC Briefing"  # the embedded font (fonts.Font.family)
# id → (kind, width mm, height mm)
FIGURES = {
    "fig-hotline-trend": ("chart", 170.0, 62.0),
    "fig-aqi-stations": ("chart", 170.0, 70.0),
    "fig-map": ("map", 170.0, 100.0),
}


def axis(m: float) -> tuple[float, float]:
    """(top, step) of a value axis reaching ``m``: a step of 1, 2 or 5 × 10ⁿ, at most 5 steps,
    so every grid line falls on a round value (22 → 0, 5 … 25, never a line labelled 19
    standing at 18,75)."""
    if m <= 0:
        return 1.0, 0.25
    raw = m / 5
    e = 10 ** math.floor(math.log10(raw))
    step = next(k * e for k in (1, 2, 5, 10) if raw <= k * e + 1e-12)
    return step * math.ceil(m / step - 1e-9), step


def bars_svg(chart: Bars, fig_id: str) -> str:
    """Vertical bars with value labels; a missing value is "–" on the axis, never a zero bar."""
    _kind, w_mm, h_mm = FIGURES[fig_id]
    W, H = w_mm * MM, h_mm * MM
    left, right, top, bottom = 38.0, 8.0, 18.0, 40.0
    values = [v for _l, v in chart.points if v is not None]
    top_v, step = axis(max(values + [chart.reference or 0, 1]))
    pw, ph = W - left - right, H - top - bottom
    n = max(1, len(chart.points))
    slot = pw / n
    bw = min(slot * 0.7, 40)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W:.1f}" height="{H:.1f}" viewBox="0 0 {W:.1f} {H:.1f}" '
           f'font-family="{FONT_FAMILY}">']
    steps = round(top_v / step)
    for k in range(0, steps + 1):  # grid and axis labels
        v = step * k
        y = top + ph - ph * v / top_v
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{W - right:.1f}" y2="{y:.1f}" stroke="#d0d0d0" '
                   f'stroke-width="0.6"/>')
        out.append(f'<text x="{left - 5}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#444">'
                   f'{format_number(v, 0 if step >= 1 else 1)}</text>')
    for i, ((label, v), colour) in enumerate(zip(chart.points, chart.colours)):
        cx = left + slot * i + slot / 2
        if v is not None:
            bh = ph * min(v, top_v) / top_v
            out.append(f'<rect x="{cx - bw / 2:.1f}" y="{top + ph - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                       f'fill="{colour}" stroke="#555" stroke-width="0.4"/>')
            out.append(f'<text x="{cx:.1f}" y="{top + ph - bh - 4:.1f}" font-size="12" font-weight="bold" text-anchor="middle" '
                       f'fill="#111">{format_number(v, 0)}</text>')
        else:
            out.append(f'<text x="{cx:.1f}" y="{top + ph - 4:.1f}" font-size="12" text-anchor="middle" '
                       f'fill="#777">–</text>')
        lines = _wrap(label, max(5, int(slot / 5.6)))
        for j, line in enumerate(lines[:2]):
            out.append(f'<text x="{cx:.1f}" y="{top + ph + 14 + 12 * j:.1f}" font-size="10" text-anchor="middle" '
                       f'fill="#222">{escape(line)}</text>')
    if chart.reference is not None and chart.reference <= top_v:
        y = top + ph - ph * chart.reference / top_v
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{W - right:.1f}" y2="{y:.1f}" stroke="#b00" '
                   f'stroke-width="0.8" stroke-dasharray="4 3"/>')
    out.append(f'<line x1="{left}" y1="{top + ph:.1f}" x2="{W - right:.1f}" y2="{top + ph:.1f}" stroke="#333" '
               f'stroke-width="0.8"/>')
    out.append("</svg>")
    return "".join(out)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    if len(lines) > 2:
        lines = [lines[0], (lines[1] + "…")]
    return lines or [""]


def _rings(geom: dict):
    if geom["type"] == "Polygon":
        yield from geom["coordinates"]
    elif geom["type"] == "MultiPolygon":
        for poly in geom["coordinates"]:
            yield from poly


def map_svg(layer: MapLayer, fig_id: str = "fig-map") -> str:
    """The communes filled by class, white outlines, a legend; equirectangular with the
    longitude scaled by cos(latitude) so the province keeps its shape."""
    _kind, w_mm, h_mm = FIGURES[fig_id]
    W, H = w_mm * MM, h_mm * MM
    legend_h = 34.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W:.1f}" height="{H:.1f}" viewBox="0 0 {W:.1f} {H:.1f}" '
           f'font-family="{FONT_FAMILY}">']
    xs, ys = [], []
    for ft in layer.features:
        for ring in _rings(ft["geometry"]):
            for x, y in ring:
                xs.append(x)
                ys.append(y)
    if xs:
        k = math.cos(math.radians((min(ys) + max(ys)) / 2))
        sx = (W - 10) / ((max(xs) - min(xs)) * k or 1)
        sy = (H - legend_h - 10) / ((max(ys) - min(ys)) or 1)
        s = min(sx, sy)
        x0, y1 = min(xs), max(ys)

        def pt(x, y):
            return f"{5 + (x - x0) * k * s:.1f},{5 + (y1 - y) * s:.1f}"

        for ft in layer.features:
            code = str((ft.get("properties") or {}).get("code") or ft.get("id"))
            d = " ".join("M" + " L".join(pt(x, y) for x, y in ring) + " Z" for ring in _rings(ft["geometry"]))
            out.append(f'<path d="{d}" fill="{layer.colour.get(code, "#f2f2f2")}" stroke="#555" stroke-width="0.35" '
                       f'fill-rule="evenodd"/>')
    y = H - legend_h + 12
    out.append(f'<text x="5" y="{y + 11:.1f}" font-size="12" font-weight="bold" fill="#111">'
               'Phản ánh 1022 mỗi xã, phường:</text>')
    for i, (colour, label) in enumerate(layer.legend):
        x = 245 + i * 78
        out.append(f'<rect x="{x}" y="{y}" width="22" height="14" fill="{colour}" stroke="#555" stroke-width="0.5"/>')
        out.append(f'<text x="{x + 28}" y="{y + 11.5:.1f}" font-size="12" fill="#111">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)
