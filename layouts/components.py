"""Components shared by the pages: functions of the read model's typed views, nothing else.

Every colour-coded state also carries words or a symbol (colour-blind operators, grey-scale
photos of the wall)."""

from __future__ import annotations

from urllib.parse import quote

from dash import html

from ioc.views.models import Freshness, SourceBadge, Tile

STATUS_ICON = {"ok": "✔", "warn": "▲", "bad": "✖", "none": ""}
FRESH_ICON = {"fresh": "●", "late": "◔", "stale": "◑", "failing": "✖", "unknown": "○"}
DELTA_ICON = {"up": "▲", "down": "▼", "flat": "■"}


def sparkline_svg(values: list[float | None], colour: str = "#9fb0c0", width: int = 240, height: int = 48) -> str:
    """A polyline over the points (gaps where a value is missing) as SVG text."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return ""
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    span = (hi - lo) or 1.0
    step = width / max(len(values) - 1, 1)
    pad = 4
    segments, current = [], []
    for i, v in enumerate(values):
        if v is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{i * step:.1f},{pad + (height - 2 * pad) * (1 - (v - lo) / span):.1f}")
    if current:
        segments.append(current)
    lines = "".join(f'<polyline fill="none" stroke="{colour}" stroke-width="3" stroke-linejoin="round" '
                    f'stroke-linecap="round" points="{" ".join(seg)}"/>' for seg in segments if len(seg) > 1)
    last_x, last_y = segments[-1][-1].split(",")
    dot = f'<circle cx="{last_x}" cy="{last_y}" r="4" fill="{colour}"/>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
            f"{lines}{dot}</svg>")


def sparkline(values: list[float | None], label: str, colour: str = "#9fb0c0") -> html.Div:
    svg = sparkline_svg(values, colour)
    if not svg:
        return html.Div(className="spark spark-empty")
    return html.Div(html.Img(src="data:image/svg+xml;utf8," + quote(svg), alt=label, title=label), className="spark")


def freshness_tag(fr: Freshness, *, always: bool = False) -> html.Span | None:
    if fr.current and not always:
        return None
    return html.Span(f"{FRESH_ICON.get(fr.state, '')} {fr.label}", className=f"fresh fresh-{fr.state}")


def tile(view: Tile, id_prefix: str) -> html.Div:
    status = [html.Span(STATUS_ICON.get(view.status, ""), className="status-icon"),
              html.Span(view.status_label or "")] if view.status_label else []
    children = [
        html.Div([html.H3(view.title), freshness_tag(view.freshness)], className="tile-head"),
        html.Div(view.value, className="tile-value", style={"color": view.colour} if view.colour else None),
        html.Div(status, className=f"tile-status status-{view.status}") if status else None,
        html.P(view.sub, className="tile-sub"),
        html.Div([html.Span(DELTA_ICON[view.delta.direction], className="delta-icon"), html.Span(view.delta.text)],
                 className=f"tile-delta delta-{view.delta.tone}") if view.delta else None,
        sparkline(view.spark, view.spark_label) if view.spark else None,
    ]
    stale = "" if view.freshness.current else " tile-stale"
    return html.Div([c for c in children if c is not None], id=f"{id_prefix}-{view.key}",
                    className=f"tile tile-{view.status}{stale}")


def badge(view: SourceBadge, name: str | None = None) -> html.Div:
    fr = view.freshness
    return html.Div([html.Span(FRESH_ICON.get(fr.state, ""), className="badge-icon"),
                     html.Span(name or view.name, className="badge-name"), html.Span(fr.label, className="badge-label")],
                    className=f"src-badge fresh-{fr.state}", title=f"{view.name}: {fr.label}")
