"""Snapshot → per-panel facts: small, language-neutral JSON that the read model renders.

Pure functions of the KPI snapshot (``ioc/kpi/snapshot.py``, docs/kpis.md § 9). Each panel's
facts are what one screen region shows and nothing more, so a page callback reads a few KiB
instead of the ~0.8 MB snapshot. No text is composed here (the read model localises), and no
personal data is copied: ticket rows keep category, agency, commune and age only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

# Severity order for the ticker (most severe first).
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
FOCUS_ROWS = 8  # rows a focus panel shows; readable from five metres on a 1080p wall
TICKER_ITEMS = 30


def _get(d: Mapping | None, *path, default=None):
    for p in path:
        if not isinstance(d, Mapping):
            return default
        d = d.get(p)
    return default if d is None else d


def _domain_meta(d: Mapping) -> dict:
    return {"state": d.get("state") or "unknown", "computed_at": d.get("computed_at"),
            "has_data": bool(d.get("has_data")), "error": d.get("error")}


def current_air(snapshot: Mapping) -> list[dict]:
    return [a for a in _get(snapshot, "environment", "air", default=[]) if a.get("current") and a.get("aqi") is not None]


def worst_air(snapshot: Mapping) -> dict | None:
    """The air station with the highest current VN_AQI (the tile's figure)."""
    return max(current_air(snapshot), key=lambda a: a["aqi"], default=None)


def _aqi_day_ago(snapshot: Mapping) -> int | None:
    """Province maximum of the hourly VN_AQI 24 h before the newest hour (from the stations' trends)."""
    worst = worst_air(snapshot)
    if worst is None or not worst.get("hour"):
        return None
    target = datetime.fromisoformat(worst["hour"]).timestamp() - 24 * 3600
    values = []
    for a in _get(snapshot, "environment", "air", default=[]):
        for p in a.get("trend") or []:
            if p.get("aqi") is not None and abs(datetime.fromisoformat(p["hour"]).timestamp() - target) < 1800:
                values.append(p["aqi"])
    return max(values, default=None)


def tiles(snapshot: Mapping) -> dict:
    h = snapshot.get("hotline") or {}
    today = _get(h, "periods", "today") or {}
    c = snapshot.get("cameras") or {}
    e = snapshot.get("environment") or {}
    p = snapshot.get("procedures") or {}
    prov = _get(p, "this_month", "province") or {}
    worst = worst_air(snapshot)
    a = snapshot.get("alerts") or {}
    sev = a.get("by_severity") or {}
    return {
        "hotline": _domain_meta(h) | {
            "received_today": _get(today, "figures", "received"),
            "received_yesterday": _get(today, "previous", "figures", "received"),
            "open": _get(h, "backlog", "open"),
            "open_overdue": _get(h, "backlog", "open_overdue"),
        },
        "cameras": _domain_meta(c) | {
            "online_pct": c.get("online_pct"), "online": c.get("online"), "total": c.get("total"),
            "offline": c.get("offline"),
        },
        "aqi": _domain_meta(e) | {
            "aqi": worst["aqi"] if worst else None,
            "category": (worst.get("category") or {}).get("key") if worst else None,
            "hex": (worst.get("category") or {}).get("hex") if worst else None,
            "station": (worst.get("name") or worst.get("station_id")) if worst else None,
            "hour": worst.get("hour") if worst else None,
            "aqi_day_ago": _aqi_day_ago(snapshot),
            "trend": _province_aqi_trend(snapshot),
        },
        "qd766": _domain_meta(p) | {
            "score": prov.get("score"), "max_score": prov.get("max_score"),
            "on_time_pct": _get(prov, "indicators", "2.1", "value"),
            "score_previous_month": _get(p, "delta_vs_previous_month", "score", "previous"),
        },
        "alerts": {
            "available": bool(a.get("available")), "total": a.get("total"),
            "critical": sev.get("critical"), "warning": sev.get("warning"), "info": sev.get("info"),
        },
    }


def _province_aqi_trend(snapshot: Mapping) -> list[list]:
    """[[hour ISO, max VN_AQI over stations]] for the last 24 hours the stations report."""
    by_hour: dict[str, int] = {}
    for a in _get(snapshot, "environment", "air", default=[]):
        for p in a.get("trend") or []:
            if p.get("aqi") is not None:
                by_hour[p["hour"]] = max(by_hour.get(p["hour"], p["aqi"]), p["aqi"])
    return [[h, by_hour[h]] for h in sorted(by_hour)][-24:]


def headline_samples(t: Mapping) -> dict[str, float | None]:
    """The number each tile shows in big type; sampled once a minute for its sparkline."""
    return {
        "hotline": t["hotline"]["received_today"] if t["hotline"]["has_data"] else None,
        "cameras": t["cameras"]["online_pct"] if t["cameras"]["has_data"] else None,
        "qd766": t["qd766"]["score"] if t["qd766"]["has_data"] else None,
        "alerts": t["alerts"]["total"] if t["alerts"]["available"] else None,
    }


def alerts(snapshot: Mapping) -> dict:
    """Active alerts, most severe first, then newest; with what a sentence about each needs."""
    a = snapshot.get("alerts") or {}
    names = _subject_names(snapshot)
    items = []
    for al in a.get("active") or []:
        rule, _, subject = al["key"].partition(":")
        items.append({
            "key": al["key"], "rule": al.get("rule") or rule, "severity": al.get("severity") or "warning",
            "value": al.get("value"), "first_at": al.get("first_at"), "acked": bool(al.get("acked_by")),
            # the name the alert was raised under when the current figures no longer list its
            # subject (a station back on air stays active until its clear is confirmed)
            "subject": subject, "subject_name": names.get((al.get("rule") or rule, subject))
            or (al.get("details") or {}).get("name"),
            "details": {k: v for k, v in (al.get("details") or {}).items()
                        if k in ("kind", "level", "threshold", "online", "total", "category", "baseline",
                                 "last_day", "reason", "failed_checks", "error")},
        })
    items.sort(key=lambda x: x["first_at"] or "", reverse=True)
    items.sort(key=lambda x: SEVERITY_RANK.get(x["severity"], 3))
    return {"available": bool(a.get("available")), "total": a.get("total"), "items": items[:TICKER_ITEMS]}


def _subject_names(snapshot: Mapping) -> dict[tuple[str, str], str]:
    """(rule, subject id) → the subject's display name, from the sections that name it."""
    out: dict[tuple[str, str], str] = {}
    e = snapshot.get("environment") or {}
    for a in e.get("air") or []:
        out[("aqi", str(a["station_id"]))] = a.get("name") or str(a["station_id"])
    for rule in ("salinity", "water_level", "insects"):
        for r in e.get(rule) or []:
            out[(rule, str(r["station_id"]))] = r.get("station_name") or str(r["station_id"])
    for o in e.get("offline") or []:
        out[("station_offline", str(o["station_id"]))] = o.get("name") or o.get("station_name") or str(o["station_id"])
    for f in _get(snapshot, "cameras", "flapping", default=[]):
        out[("camera_flapping", str(f["camera_id"]))] = f.get("name") or str(f["camera_id"])
    return out


def map_facts(snapshot: Mapping) -> dict:
    """Per-commune figures for the choropleths, stations with their official category, and
    the ticket and camera counts drawn as labelled markers."""
    c = snapshot.get("cameras") or {}
    p = snapshot.get("procedures") or {}
    h = snapshot.get("hotline") or {}
    communes: dict[str, dict] = {}

    def unit(code):
        return communes.setdefault(str(code), {})

    for code, v in (c.get("by_commune") or {}).items():
        unit(code).update(cam_online_pct=v.get("online_pct"), cam_offline=v.get("offline"), cam_total=v.get("total"))
    for code, v in (_get(p, "this_month", "commune") or {}).items():
        unit(code).update(qd766_on_time=_get(v, "indicators", "2.1", "value"),
                          qd766_overdue=_get(v, "counts", "overdue_unfinished"))
    for code, v in (_get(h, "periods", "this_month", "by", "commune") or {}).items():
        unit(code).update(hotline_month=v.get("received"))
    for t in h.get("open_overdue") or []:
        if t.get("commune_code"):
            u = unit(t["commune_code"])
            u["overdue_listed"] = u.get("overdue_listed", 0) + 1
    communes.pop("unknown", None)

    stations = []
    offline_ids = {str(o["station_id"]) for o in _get(snapshot, "environment", "offline", default=[])}
    e = snapshot.get("environment") or {}
    for a in e.get("air") or []:
        stations.append(_station(a, "aqi", a.get("aqi") if a.get("current") else None,
                                 a.get("category") if a.get("current") else None, offline_ids))
    for w in e.get("water") or []:
        stations.append(_station(w, "wqi", w.get("wqi"), w.get("category"), offline_ids))
    return {
        "communes": communes,
        "stations": [s for s in stations if s["lat"] is not None and s["lon"] is not None],
        "hotline_has_data": bool(h.get("has_data")),
        "overdue_total": _get(h, "backlog", "open_overdue"),
        "overdue_listed": len(h.get("open_overdue") or []),
        "cameras_offline_total": c.get("offline"),
    }


def _station(row: Mapping, index: str, value, category: Mapping | None, offline_ids: set) -> dict:
    return {"id": str(row["station_id"]), "name": row.get("name"), "kind": row.get("kind"), "index": index,
            "lat": row.get("lat"), "lon": row.get("lon"), "value": value,
            "category": (category or {}).get("key"), "hex": (category or {}).get("hex"),
            "offline": str(row["station_id"]) in offline_ids}


def focus(snapshot: Mapping) -> dict:
    """The rotating panels' lists: the longest-overdue 1022 tickets, communes with most cameras
    offline, the worst stations and the agencies lowest on QĐ 766 this month."""
    h = snapshot.get("hotline") or {}
    c = snapshot.get("cameras") or {}
    e = snapshot.get("environment") or {}
    p = snapshot.get("procedures") or {}
    overdue = [{"id": t.get("external_id"), "category": t.get("service_name"), "agency": t.get("agency"),
                "commune": t.get("commune_code"), "overdue_days": t.get("overdue_days")}
               for t in (h.get("open_overdue") or [])[:FOCUS_ROWS]]
    longest: dict[str, float] = {}
    for cam in c.get("offline_cameras") or []:
        code = cam.get("commune_code") or "unknown"
        longest[code] = max(longest.get(code, 0.0), cam.get("offline_hours") or 0.0)
    cams = sorted(((code, v) for code, v in (c.get("by_commune") or {}).items() if v.get("offline")),
                  key=lambda kv: (-kv[1]["offline"], kv[1].get("online_pct") or 0))
    cameras_offline = [{"commune": code, "offline": v["offline"], "total": v.get("total"),
                        "online_pct": v.get("online_pct"), "longest_hours": longest.get(code)}
                       for code, v in cams[:FOCUS_ROWS]]
    worst = sorted(({"id": str(a["station_id"]), "name": a.get("name"), "index": "aqi", "value": a["aqi"],
                     "category": (a.get("category") or {}).get("key"), "hex": (a.get("category") or {}).get("hex"),
                     "rank": -a["aqi"]} for a in current_air(snapshot)), key=lambda r: r["rank"])
    worst_water = sorted(({"id": str(w["station_id"]), "name": w.get("name"), "index": "wqi", "value": w["wqi"],
                           "category": (w.get("category") or {}).get("key"),
                           "hex": (w.get("category") or {}).get("hex"), "rank": w["wqi"] - 1000}
                          for w in e.get("water") or [] if w.get("wqi") is not None), key=lambda r: r["rank"])
    stations = (worst[: FOCUS_ROWS // 2] + worst_water)[:FOCUS_ROWS]
    agencies = sorted(((name, v) for name, v in (_get(p, "this_month", "agency") or {}).items()
                       if v.get("score") is not None and _get(v, "counts", "received")),
                      key=lambda kv: kv[1]["score"] / (kv[1].get("max_score") or 1))
    qd766 = [{"agency": name, "score": v["score"], "max_score": v.get("max_score"),
              "on_time_pct": _get(v, "indicators", "2.1", "value"),
              "overdue": _get(v, "counts", "overdue_unfinished")} for name, v in agencies[:FOCUS_ROWS]]
    return {
        "hotline_overdue": {"rows": overdue, "total": _get(h, "backlog", "open_overdue"), **_domain_meta(h)},
        "cameras_offline": {"rows": cameras_offline, "total": c.get("offline"), **_domain_meta(c)},
        "worst_stations": {"rows": [{k: v for k, v in r.items() if k != "rank"} for r in stations],
                           "total": len(worst) + len(worst_water), **_domain_meta(e)},
        "qd766_agencies": {"rows": qd766, "total": len(agencies), **_domain_meta(p)},
    }


# name → builder; the publisher writes one Redis key per entry
PANELS = {"tiles": tiles, "alerts": alerts, "map": map_facts, "focus": focus}
