"""Key-indicator tiles from the KPI snapshot in Redis: one number per domain, large enough to
read across the room. "No data" shows as a dash with words, never as 0, and a domain whose
source is not fresh says so on its tile."""

from __future__ import annotations

from collections.abc import Mapping

from dash import html

from ioc.formatting import format_number, format_percent
from ioc.i18n import t


def _pct(value, lang: str) -> str:
    """The snapshot's percentages are 0–100; format_percent takes a share."""
    return format_percent(None if value is None else value / 100, lang=lang)


def _tile(key: str, title: str, value: str, sub: str, lang: str, *, state: str | None, colour: str | None = None,
          has_value: bool = True) -> html.Div:
    stale = state not in (None, "fresh")
    children = [html.H3(title), html.Div(value if has_value else "—", className="kpi-value",
                                         style={"color": colour} if colour else None)]
    children.append(html.P(sub if has_value else t("kpi.no_data", lang), className="kpi-sub"))
    if stale:
        children.append(html.Div(t(f"state.{state}", lang), className="badge"))
    return html.Div(children, id=f"kpi-{key}", className="kpi" + (" kpi-stale" if stale else ""))


def kpi_tiles(snap: Mapping | None, lang: str = "vi") -> list:
    """The tiles, or one helpful line when no snapshot has been computed yet."""
    if not snap:
        return [html.Div(t("kpi.no_snapshot", lang), className="empty")]
    out = []

    h = snap.get("hotline") or {}
    today = ((h.get("periods") or {}).get("today") or {}).get("figures") or {}
    backlog = h.get("backlog") or {}
    out.append(_tile(
        "hotline", t("kpi.hotline_today", lang), format_number(today.get("received"), lang=lang),
        t("kpi.hotline_sub", lang).format(open=format_number(backlog.get("open"), lang=lang),
                                          overdue=format_number(backlog.get("open_overdue"), lang=lang)),
        lang, state=h.get("state"), has_value=bool(h.get("has_data")) and today.get("received") is not None))

    c = snap.get("cameras") or {}
    out.append(_tile(
        "cameras", t("kpi.cameras_online", lang), _pct(c.get("online_pct"), lang),
        t("kpi.cameras_sub", lang).format(online=format_number(c.get("online"), lang=lang),
                                          total=format_number(c.get("total"), lang=lang),
                                          offline=format_number(c.get("offline"), lang=lang)),
        lang, state=c.get("state"), has_value=bool(c.get("has_data")) and c.get("online_pct") is not None))

    e = snap.get("environment") or {}
    current = [a for a in e.get("air") or [] if a.get("current") and a.get("aqi") is not None]
    worst = max(current, key=lambda a: a["aqi"], default=None)
    if worst is not None:
        cat = worst.get("category") or {}
        sub = f"{cat.get('name_' + lang) or cat.get('name_vi') or ''} — {worst.get('name') or worst.get('station_id')}"
        out.append(_tile("aqi", t("kpi.aqi_max", lang), format_number(worst["aqi"], lang=lang), sub, lang,
                         state=e.get("state"), colour=cat.get("hex")))
    else:  # stations silent this hour: say so rather than show a number
        out.append(_tile("aqi", t("kpi.aqi_max", lang), "—", "", lang, state=e.get("state"), has_value=False))

    p = snap.get("procedures") or {}
    prov = (p.get("this_month") or {}).get("province") or {}
    on_time = ((prov.get("indicators") or {}).get("2.1") or {}).get("value")
    score = prov.get("score")
    out.append(_tile(
        "qd766", t("kpi.qd766_score", lang),
        f"{format_number(score, 1, lang=lang)} / {format_number(prov.get('max_score'), 0, lang=lang)}",
        t("kpi.qd766_sub", lang).format(on_time=_pct(on_time, lang)),
        lang, state=p.get("state"), has_value=bool(p.get("has_data")) and score is not None))

    a = snap.get("alerts") or {}
    sev = a.get("by_severity") or {}
    out.append(_tile(
        "alerts", t("kpi.alerts", lang), format_number(a.get("total"), lang=lang),
        t("kpi.alerts_sub", lang).format(critical=sev.get("critical", 0), warning=sev.get("warning", 0),
                                         info=sev.get("info", 0)),
        lang, state=None, has_value=bool(a.get("available")) and a.get("total") is not None,
        colour="var(--bad)" if sev.get("critical") else None))
    return out
