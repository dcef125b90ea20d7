"""The leaders' mobile view `/m`: four cards (1022 hotline, cameras, air, QĐ 766) for a day,
a week or a month against the previous period, each with a trend and the five worst
communes, stations or agencies.

Built on the period queries (``ioc.kpi.periods.period_figures``, docs/kpis.md § 10), not
on the wall's snapshot panels: a leader asks "how did this week go", not "what is true
this second". Texts, formats and traffic lights come from ``ioc.views.text``; the
freshness of each source from ``ReadModel.badges``. Pure functions of their inputs plus a
small in-process cache, so tests feed them a fake ``period_figures`` result.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import quote

from pydantic import BaseModel, Field

from ioc.formatting import format_datetime
from ioc.i18n import t
from ioc.kpi import aqi as aqi_mod
from ioc.kpi.periods import period_figures
from ioc.views.models import Delta, Freshness
from ioc.views.read import CAMERAS_TARGET, QD766_TARGET
from ioc.views.text import (QD766_MIN_DOSSIERS, aqi_status, category_name, delta, num, pct, qd766_dossiers,
                            qd766_label, traffic)

log = logging.getLogger("ioc.views")

PERIODS = ("day", "week", "month")
CARD_KEYS = ("hotline", "cameras", "aqi", "qd766")
CARD_SOURCE = {"hotline": "hotline", "cameras": "cameras", "aqi": "environment", "qd766": "procedures"}
# Ours, documented in docs/views.md: share of answered requests answered by their deadline
# (ok at or above, warn at or above). The national rule is "on time"; 90 % leaves room for
# the odd late answer before the light turns amber, below 80 % it is red.
HOTLINE_ON_TIME_TARGET = (90.0, 80.0)
WORST_ROWS = 5
CACHE_TTL = 60.0  # seconds: the page refreshes every 60 s; one computation serves every phone
TREND_DOMAINS = ("hotline", "cameras", "procedures")

Status = Literal["ok", "warn", "bad", "none"]
Figures = Callable[..., dict]


class RankRow(BaseModel):
    name: str  # commune, station or agency: never a person
    value: str  # formatted, with its unit in words
    status: Status = "none"


class Trend(BaseModel):
    label: str  # what the chart shows, and over which days
    svg: str = ""  # inline SVG text; "" when there is nothing to draw
    summary: str = ""  # the chart in words (highest, lowest, days without data)
    empty_text: str = ""  # said instead of the chart when svg is ""


class MobileCard(BaseModel):
    key: str
    title: str
    value: str  # formatted, "—" when there is no value
    has_value: bool
    unit: str  # what the value is, in words
    status: Status = "none"  # traffic light against the target
    status_label: str  # the same state in words, always present
    colour: str | None = None  # official category colour (VN_AQI)
    delta: Delta | None = None
    delta_empty: str = ""  # why there is no change to show
    sub: str = ""  # the card's key secondary figures on one line ("Quá hạn chưa trả lời 0 · Đang xử lý 16")
    facts: list[tuple[str, str]] = Field(default_factory=list)  # secondary figures (label, value), in the detail
    worst_title: str
    worst: list[RankRow] = Field(default_factory=list)
    worst_note: str = ""
    freshness: Freshness


class MobileView(BaseModel):
    period: str
    period_label: str  # "Hôm nay 02/12/2026 · số liệu đến 02/12/2026 11:13"
    cards: list[MobileCard]
    error: str | None = None  # the figures could not be read: said once, above the cards
    updated: str  # "Cập nhật lúc 02/12/2026 11:13"


# --- cache ------------------------------------------------------------------------------------
# Period figures take 0.2–0.5 s (a month's trend up to ~2 s cold); every phone asks the same
# question, so the language-neutral figures are kept per (query, period, local date) for
# CACHE_TTL seconds, and one caller computes while the others wait for its result.

_cache: dict[tuple, tuple[float, Any]] = {}
_locks: dict[tuple, threading.Lock] = {}
_guard = threading.Lock()


def clear_cache() -> None:
    _cache.clear()


def _peek(key: tuple) -> Any | None:
    hit = _cache.get(key)
    return hit[1] if hit is not None and time.monotonic() - hit[0] < CACHE_TTL else None


def _cached(key: tuple, make: Callable[[], Any]) -> Any:
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_TTL:
        return hit[1]
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_TTL:
            return hit[1]
        value = make()  # an exception is not cached: the next refresh tries again
        for old in [k for k, (at, _) in list(_cache.items()) if time.monotonic() - at >= CACHE_TTL]:
            _cache.pop(old, None)
            _locks.pop(old, None)
        _cache[key] = (time.monotonic(), value)
        return value


def _today(views) -> date:
    return views.clock().astimezone(views.tz).date()


def _db_key(views) -> str:
    try:
        return views.engine().url.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a broken URL still gets a key; the query will say what is wrong
        return "?"


def _period(views, kind: str, figures: Figures | None) -> dict:
    fn = figures or period_figures
    day = _today(views)
    return _cached(("period", _db_key(views), kind, day, id(fn)),
                   lambda: fn(views.engine(), kind, date=day, tz=views.tz, now=views.clock(), store=views.store))


def _check(period: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; known: {', '.join(PERIODS)}")


# --- cards ------------------------------------------------------------------------------------


def cards(views, period: str, lang: str, *, figures: Figures | None = None) -> MobileView:
    """The four cards of ``period`` (today / the 7 days ending today / this month).

    ``figures`` replaces ``period_figures`` (tests). Never raises for bad data or a database
    that does not answer: the view says so in words."""
    _check(period)
    now = views.clock()
    fresh = _source_freshness(views, lang)
    updated = f"{t('updated_at', lang)} {format_datetime(now, views.tz)}"
    try:
        res = _period(views, period, figures)
    except Exception:  # noqa: BLE001 - any failure becomes words on the page, the log keeps the traceback
        log.exception("mobile view: period figures failed (%s)", period)
        return MobileView(period=period, period_label=_period_label(period, _today(views), None, lang, views.tz),
                          cards=[_error_card(k, lang, fresh[CARD_SOURCE[k]]) for k in CARD_KEYS],
                          error=t("m.error", lang), updated=updated)
    names = _commune_names(views)
    built = [hotline_card(res, period, lang, fresh["hotline"], names),
             cameras_card(res, period, lang, fresh["cameras"], names),
             aqi_card(res, period, lang, fresh["environment"]),
             qd766_card(res, period, lang, fresh["procedures"])]
    return MobileView(period=period, period_label=_period_label(period, _today(views), res.get("period"), lang,
                                                                views.tz),
                      cards=built, updated=updated)


def _source_freshness(views, lang: str) -> dict[str, Freshness]:
    """Each card's source freshness; with no badges at all (Redis down) the read model's one
    statement about why."""
    unknown = Freshness(state="unknown", label=t("fresh.unknown", lang))
    try:
        badges, overall = views.badges(lang)
    except Exception:  # noqa: BLE001
        badges, overall = [], unknown
    by = {b.source: b.freshness for b in badges}
    return {s: by.get(s, unknown if by else overall) for s in CARD_SOURCE.values()}


def _commune_names(views) -> dict[str, str]:
    try:
        return dict(views.atlas.names())
    except Exception:  # noqa: BLE001 - no boundaries imported: codes stand in for names
        return {}


def _period_label(period: str, today: date, p: Mapping | None, lang: str, tz) -> str:
    if period == "day":
        head = t("m.period_label.day", lang).format(date=today.strftime("%d/%m/%Y"))
    elif period == "week":
        head = t("m.period_label.week", lang).format(start=(today - timedelta(days=6)).strftime("%d/%m"),
                                                     end=today.strftime("%d/%m/%Y"))
    else:
        head = t("m.period_label.month", lang).format(month=today.strftime("%m/%Y"))
    if p and p.get("as_of") and not p.get("complete"):
        head += " · " + t("m.as_of", lang).format(at=format_datetime(datetime.fromisoformat(p["as_of"]), tz))
    return head


def _no_delta(lang: str) -> str:
    return t("m.vs_none", lang)


def _vs(period: str) -> str:
    return f"m.vs.{period}"


def _error_card(key: str, lang: str, fr: Freshness) -> MobileCard:
    return MobileCard(key=key, title=t(f"m.{key}", lang), value="—", has_value=False, unit=t(f"m.{key}.unit", lang),
                      status_label=t("m.error_short", lang), worst_title=t(f"m.worst.{key}", lang),
                      worst_note=t("m.error_short", lang), freshness=fr)


def _none_card(key: str, lang: str, fr: Freshness, why: str) -> MobileCard:
    """No value: a dash and the reason in words, never a 0."""
    return MobileCard(key=key, title=t(f"m.{key}", lang), value="—", has_value=False, unit=t(f"m.{key}.unit", lang),
                      status_label=why, delta_empty=_no_delta(lang), worst_title=t(f"m.worst.{key}", lang),
                      worst_note=t("m.worst.empty", lang), freshness=fr)


def _light(value: float | None, target: tuple[float, float]) -> Status:
    return cast(Status, traffic(value, target))


def _target_label(status: Status, target: tuple[float, float], lang: str) -> str:
    if status == "none":
        return t("m.status.none", lang)
    return t(f"target.{status}", lang).format(target=pct(target[0], lang, 0))


def _name(code: str | None, names: Mapping[str, str], lang: str) -> str:
    if not code:
        return t("unknown_commune", lang)
    return names.get(str(code), str(code))


def hotline_card(res: Mapping, period: str, lang: str, fr: Freshness, names: Mapping[str, str]) -> MobileCard:
    h = res.get("hotline") or {}
    f = h.get("figures") or {}
    received = f.get("received")
    if not h.get("has_data") or received is None:
        return _none_card("hotline", lang, fr, t("kpi.no_data", lang))
    on_time = f.get("on_time_pct")
    status = _light(on_time, HOTLINE_ON_TIME_TARGET)
    if on_time is None:
        label = t("m.hotline.no_answered", lang)
    else:
        label = f"{t('m.hotline.on_time', lang).format(pct=pct(on_time, lang))} — " \
                f"{_target_label(status, HOTLINE_ON_TIME_TARGET, lang)}"
    prev = (h.get("previous") or {}).get("received")
    d = delta(received, prev, lang, _vs(period))
    rows, note = _hotline_worst(h.get("by") or {}, lang, names)
    facts = [(t("m.hotline.overdue", lang), num(f.get("overdue"), lang)),
             (t("m.hotline.in_progress", lang), num(f.get("in_progress"), lang)),
             (t("m.hotline.late", lang), num(f.get("late"), lang)),
             (t("m.hotline.answered", lang), pct(f.get("answered_pct"), lang))]
    return MobileCard(
        key="hotline", title=t("m.hotline", lang), value=num(received, lang), has_value=True,
        unit=t("m.hotline.unit", lang), status=status, status_label=label, delta=d,
        delta_empty="" if d else _no_delta(lang), sub=_line(facts[:2]), facts=facts,
        worst_title=t("m.worst.hotline", lang), worst=rows, worst_note=note, freshness=fr)


def _hotline_worst(by: Mapping, lang: str, names: Mapping[str, str]) -> tuple[list[RankRow], str]:
    """Communes with the most late requests (overdue + answered late); ties by lowest on-time
    share, then most requests. With none late anywhere, the busiest communes, said so."""
    communes = [(code, c) for code, c in (by.get("commune") or {}).items() if (c.get("received") or 0) > 0]
    if not communes:
        return [], t("m.worst.empty", lang)

    def key(item):
        c = item[1]
        on_time = c.get("on_time_pct")
        return (-(c.get("late") or 0), 101 if on_time is None else on_time, -(c.get("received") or 0))

    ranked = sorted(communes, key=key)[:WORST_ROWS]
    any_late = any((c.get("late") or 0) > 0 for _, c in communes)
    rows = [RankRow(name=_name(code, names, lang),
                    value=t("m.row.hotline", lang).format(received=num(c.get("received"), lang),
                                                          late=num(c.get("late"), lang)),
                    status="bad" if (c.get("overdue") or 0) else ("warn" if (c.get("late") or 0) else "ok"))
            for code, c in ranked]
    return rows, "" if any_late else t("m.worst.hotline_none_late", lang)


def cameras_card(res: Mapping, period: str, lang: str, fr: Freshness, names: Mapping[str, str]) -> MobileCard:
    c = res.get("cameras") or {}
    f = c.get("figures") or {}
    value = f.get("availability_pct")
    if not c.get("has_data") or value is None:
        return _none_card("cameras", lang, fr, t("kpi.no_data", lang))
    status = _light(value, CAMERAS_TARGET)
    d = delta(value, (c.get("previous") or {}).get("availability_pct"), lang, _vs(period), decimals=1,
              suffix=t("m.pp", lang), higher_is_better=True)
    by = [(code, v) for code, v in (c.get("by_commune") or {}).items() if v is not None]
    rows = [RankRow(name=_name(code, names, lang), value=pct(v, lang), status=_light(v, CAMERAS_TARGET))
            for code, v in sorted(by, key=lambda cv: cv[1])[:WORST_ROWS]]
    return MobileCard(
        key="cameras", title=t("m.cameras", lang), value=pct(value, lang), has_value=True,
        unit=t("m.cameras.unit", lang), status=status, status_label=_target_label(status, CAMERAS_TARGET, lang),
        delta=d, delta_empty="" if d else _no_delta(lang),
        sub=_line([(t("m.cameras.events", lang), num(f.get("offline_events"), lang))]),
        facts=[(t("m.cameras.events", lang), num(f.get("offline_events"), lang))],
        worst_title=t("m.worst.cameras", lang), worst=rows, worst_note="" if rows else t("m.worst.empty", lang),
        freshness=fr)


def aqi_card(res: Mapping, period: str, lang: str, fr: Freshness) -> MobileCard:
    e = res.get("environment") or {}
    f = e.get("figures") or {}
    value = f.get("max_daily_aqi")
    if not e.get("has_data") or value is None:
        why = t("m.aqi.none", lang) if e.get("has_data") else t("kpi.no_data", lang)
        return _none_card("aqi", lang, fr, why)
    cat = aqi_mod.category(value)
    status = cast(Status, aqi_status(value))
    d = delta(value, (e.get("previous") or {}).get("max_daily_aqi"), lang, _vs(period), higher_is_better=False)
    stations = []
    where = ""
    for sid, s in (e.get("daily_aqi") or {}).items():
        days = [(day, v["aqi"]) for day, v in (s.get("days") or {}).items() if v.get("aqi") is not None]
        if not days:
            continue
        day, top = max(days, key=lambda dv: dv[1])
        stations.append((s.get("name") or str(sid), top, day))
        if top == value and not where:
            where = t("m.aqi.where", lang).format(station=s.get("name") or sid, date=_dm(day))
    stations.sort(key=lambda s: -s[1])
    rows = [RankRow(name=name, value=f"{num(v, lang)} — {category_name('aqi', aqi_mod.category(v).key, lang)} "
                                     f"({_dm(day)})", status=cast(Status, aqi_status(v)))
            for name, v, day in stations[:WORST_ROWS]]
    facts = [(t("m.aqi.mean", lang), num(f.get("mean_daily_aqi"), lang, 1)),
             (t("m.aqi.over100", lang), num(f.get("station_days_aqi_over_100"), lang))]
    return MobileCard(
        key="aqi", title=t("m.aqi", lang), value=num(value, lang), has_value=True, unit=t("m.aqi.unit", lang),
        status=status, status_label=category_name("aqi", cat.key, lang) if cat else t("m.status.none", lang),
        colour=cat.hex if cat else None, delta=d, delta_empty="" if d else _no_delta(lang), sub=where, facts=facts,
        worst_title=t("m.worst.aqi", lang), worst=rows, worst_note="" if rows else t("m.worst.empty", lang),
        freshness=fr)


def _line(facts: list[tuple[str, str]]) -> str:
    return " · ".join(f"{label} {value}" for label, value in facts)


def _dm(day: str) -> str:
    """2026-11-29 → 29/11."""
    return date.fromisoformat(day).strftime("%d/%m")


def _share(score, max_score) -> float | None:
    return score / max_score * 100 if score is not None and max_score else None


def qd766_card(res: Mapping, period: str, lang: str, fr: Freshness) -> MobileCard:
    p = res.get("procedures") or {}
    prov = p.get("province") or {}
    score, max_score = prov.get("score"), prov.get("max_score")
    share = _share(score, max_score)
    if not p.get("has_data") or share is None:
        why = t("m.qd766.none", lang) if p.get("has_data") else t("kpi.no_data", lang)
        return _none_card("qd766", lang, fr, why)
    status = _light(share, QD766_TARGET)
    prev = ((p.get("previous") or {}).get("province") or {}).get("score")
    d = delta(score, prev, lang, _vs(period), decimals=1, higher_is_better=True)
    agencies = [(name, a, _share(a.get("score"), a.get("max_score"))) for name, a in (p.get("agency") or {}).items()]
    agencies = [x for x in agencies if x[2] is not None]
    # an agency with two dossiers scores 0 or 100 by chance: rank those with enough dossiers
    enough = [x for x in agencies if qd766_dossiers(x[1]) >= QD766_MIN_DOSSIERS]
    note = t("m.worst.qd766_min", lang).format(n=num(QD766_MIN_DOSSIERS, lang)) if enough else ""
    agencies = sorted(enough or agencies, key=lambda x: x[2])[:WORST_ROWS]
    rows = [RankRow(name=name, status=_light(s, QD766_TARGET),
                    value=f"{num(a['score'], lang, 1)} / {num(a['max_score'], lang)} — {qd766_label(s, lang)}")
            for name, a, s in agencies]
    counts = prov.get("counts") or {}
    on_time = ((prov.get("indicators") or {}).get("2.1") or {}).get("value")
    facts = [(t("m.qd766.on_time", lang), pct(on_time, lang)),
             (t("m.qd766.received", lang), num(counts.get("received"), lang)),
             (t("m.qd766.overdue", lang), num(counts.get("overdue_unfinished"), lang))]
    return MobileCard(
        key="qd766", title=t("m.qd766", lang), value=f"{num(score, lang, 1)} / {num(max_score, lang)}",
        has_value=True, unit=t("m.qd766.unit", lang), status=status,
        status_label=f"{qd766_label(share, lang)} — {_target_label(status, QD766_TARGET, lang)}", delta=d,
        delta_empty="" if d else _no_delta(lang), sub=_line(facts[:1]), facts=facts,
        worst_title=t("m.worst.qd766", lang), worst=rows, worst_note=note if rows else t("m.worst.empty", lang),
        freshness=fr)


# --- trends -----------------------------------------------------------------------------------


def trend_days(period: str, today: date) -> list[date]:
    """The days a card's trend shows: the 7 days ending today for a day or a week, the days of
    the month so far for a month."""
    if period == "month":
        return [today.replace(day=d) for d in range(1, today.day + 1)]
    return [today - timedelta(days=i) for i in range(6, -1, -1)]


def daily_series(views, period: str, *, figures: Figures | None = None) -> dict[str, list[tuple[str, float | None]]]:
    """Per card, (ISO day, value or None) for each trend day. Language-neutral, cached.

    The hotline, cameras and QĐ 766 come from one day query per day (closed days are cached by
    the period queries themselves, in this process and in Redis); the air from the daily
    VN_AQI that the week or month query already holds."""
    fn = figures or period_figures
    today = _today(views)
    days = trend_days(period, today)

    def make():
        out: dict[str, list[tuple[str, float | None]]] = {k: [] for k in CARD_KEYS}
        for d in days:
            r = fn(views.engine(), "day", date=d, tz=views.tz, now=views.clock(), store=views.store,
                   domains=TREND_DOMAINS)
            h, c, p = r.get("hotline") or {}, r.get("cameras") or {}, r.get("procedures") or {}
            out["hotline"].append((d.isoformat(), (h.get("figures") or {}).get("received")
                                   if h.get("has_data") else None))
            out["cameras"].append((d.isoformat(), (c.get("figures") or {}).get("availability_pct")
                                   if c.get("has_data") else None))
            prov = p.get("province") or {}
            out["qd766"].append((d.isoformat(), _share(prov.get("score"), prov.get("max_score"))
                                 if p.get("has_data") else None))
        env = fn(views.engine(), "month" if period == "month" else "week", date=today, tz=views.tz,
                 now=views.clock(), store=views.store, domains=("environment",)).get("environment") or {}
        per_day: dict[str, list[float]] = {}
        for s in (env.get("daily_aqi") or {}).values():
            for day, v in (s.get("days") or {}).items():
                if v.get("aqi") is not None:
                    per_day.setdefault(day, []).append(v["aqi"])
        out["aqi"] = [(d.isoformat(), max(per_day[d.isoformat()]) if d.isoformat() in per_day else None) for d in days]
        return out

    return _cached(_trend_key(views, period, today, fn), make)


def _trend_key(views, period: str, today: date, fn: Figures) -> tuple:
    return ("trend", _db_key(views), period, today, id(fn))


def _trend_labels(period: str, lang: str) -> dict[str, str]:
    span = t(f"m.trend.span.{period}", lang)
    return {
        "hotline": f"{t('m.trend.hotline', lang)} — {span}",
        "cameras": f"{t('m.trend.cameras', lang).format(target=pct(CAMERAS_TARGET[0], lang, 0))} — {span}",
        "aqi": f"{t('m.trend.aqi', lang)} — {span}",
        "qd766": f"{t('m.trend.qd766', lang).format(target=num(QD766_TARGET[0], lang))} — {span}",
    }


def trends(views, period: str, lang: str, *, figures: Figures | None = None) -> dict[str, Trend]:
    """The trend of each card, drawn as SVG, with what it shows in words. Never raises."""
    _check(period)
    labels = _trend_labels(period, lang)
    try:
        series = daily_series(views, period, figures=figures)
    except Exception:  # noqa: BLE001
        log.exception("mobile view: daily series failed (%s)", period)
        return {k: Trend(label=labels[k], empty_text=t("m.trend.error", lang)) for k in CARD_KEYS}
    return _trend_views(series, labels, lang)


def cached_trends(views, period: str, lang: str, *, figures: Figures | None = None) -> dict[str, Trend] | None:
    """The trends if their daily series is in the cache already, else None: the page's first
    answer must not wait for up to 31 day queries (the trends then follow in a callback)."""
    _check(period)
    series = _peek(_trend_key(views, period, _today(views), figures or period_figures))
    return None if series is None else _trend_views(series, _trend_labels(period, lang), lang)


def _trend_views(series: Mapping[str, list[tuple[str, float | None]]], labels: Mapping[str, str],
                 lang: str) -> dict[str, Trend]:
    out = {}
    for k in CARD_KEYS:
        pts = series.get(k) or []
        decimals = 1 if k in ("cameras", "qd766") else 0
        fmt = (lambda v: pct(v, lang)) if k == "cameras" else (lambda v, d=decimals: num(v, lang, d))
        out[k] = trend_view(pts, labels[k], lang, fmt, k)
    return out


def _bar_colour(key: str, v: float) -> str:
    if key == "aqi":
        cat = aqi_mod.category(v)
        return cat.hex if cat else STATUS_COLOUR["none"]
    if key == "cameras":
        return STATUS_COLOUR[traffic(v, CAMERAS_TARGET)]
    if key == "qd766":
        return STATUS_COLOUR[traffic(v, QD766_TARGET)]
    return "#6baed6"  # counts: no good or bad by themselves


STATUS_COLOUR = {"ok": "#2fbf71", "warn": "#f0b429", "bad": "#e5484d", "none": "#8a8f99"}
TREND_TARGET = {"cameras": CAMERAS_TARGET[0], "qd766": QD766_TARGET[0], "aqi": 100.0}


def trend_view(points: list[tuple[str, float | None]], label: str, lang: str, fmt: Callable[[float], str],
               key: str) -> Trend:
    known = [(d, v) for d, v in points if v is not None]
    if not known:
        return Trend(label=label, empty_text=t("m.trend.empty", lang))
    hi, lo = max(known, key=lambda dv: dv[1]), min(known, key=lambda dv: dv[1])
    summary = t("m.trend.summary", lang).format(hi=fmt(hi[1]), hi_day=_dm(hi[0]), lo=fmt(lo[1]), lo_day=_dm(lo[0]))
    gaps = len(points) - len(known)
    if gaps:
        summary += " · " + t("m.trend.gaps", lang).format(n=num(gaps, lang))
    return Trend(label=label, svg=bars_svg(points, key, label), summary=summary)


def bars_svg(points: list[tuple[str, float | None]], key: str, title: str, width: int = 340, height: int = 130) -> str:
    """Daily bars, a dashed target line where the card has one, the first and last day under
    the axis and both ends of the scale beside it. A day without data is a "–" on the axis,
    never a zero bar."""
    top, base, left = 14, height - 18, 30
    values = [v for _, v in points if v is not None]
    target = TREND_TARGET.get(key)
    if key in ("cameras", "qd766"):
        # shares: up to 100, from a round floor below the lowest value and the target, so that
        # 93 % against 97 % shows; the floor is printed on the axis
        lo = max(0.0, math.floor((min(values + [target or 100.0]) - 5) / 10) * 10)
        hi = 100.0
    else:
        lo, hi = 0.0, _nice(max(values + ([target * 1.05] if target is not None else []) + [1.0]))
    n = max(len(points), 1)
    slot = (width - left) / n
    bar = max(slot * 0.7, 1.0)

    def y(v: float) -> float:
        return base - (base - top) * (min(max(v, lo), hi) - lo) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif" font-size="11" fill="#9fb0c0"><title>{_esc(title)}</title>',
             f'<line x1="{left}" y1="{base}" x2="{width}" y2="{base}" stroke="#3a4150"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_short(hi)}</text>',
             f'<text x="{left - 4}" y="{base}" text-anchor="end">{_short(lo)}</text>']
    for i, (day, v) in enumerate(points):
        x = left + i * slot + (slot - bar) / 2
        if v is None:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{base - 3}" text-anchor="middle">–</text>')
            continue
        h = max(base - y(v), 1.0)
        parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="1.5" '
                     f'fill="{_bar_colour(key, v)}"><title>{_dm(day)}: {_short(v)}</title></rect>')
    if target is not None and lo <= target <= hi:
        parts.append(f'<line x1="{left}" y1="{y(target):.1f}" x2="{width}" y2="{y(target):.1f}" stroke="#e8eef4" '
                     f'stroke-dasharray="4 3" stroke-width="1"/>')
    if points:
        parts.append(f'<text x="{left}" y="{height - 4}">{_dm(points[0][0])}</text>')
        parts.append(f'<text x="{width}" y="{height - 4}" text-anchor="end">{_dm(points[-1][0])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice(m: float) -> float:
    """A round top for the scale: 7 → 10, 14 → 15, 107 → 110, 260 → 300."""
    step = 5 if m <= 50 else (10 if m <= 200 else 50)
    return float(math.ceil(m / step) * step)


def _short(v: float) -> str:
    return f"{v:.0f}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_uri(svg: str) -> str:
    return "data:image/svg+xml;utf8," + quote(svg)
