"""What the sector map shows when something is clicked: a ticket (its reporter masked unless
revealed: ioc/views/privacy.py), a camera
(status history; its snapshot fetched server-side — stream addresses never leave the server),
a station's time series against the official thresholds with its category history."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from sqlalchemy import select

from ioc.auth import scope
from ioc.auth.roles import Principal
from ioc.db import models as m
from ioc.i18n import t
from ioc.kpi import aqi as aqi_mod
from ioc.kpi import air_grid, environment, environment_sql, parameters, sql as kpi_sql, tickets as kpi_tickets
from ioc.kpi import wqi as wqi_mod
from ioc.views import text
from ioc.views.map_filters import DEADLINE_WORKING_DAYS, aware, duration, iso_local, when
from ioc.views.privacy import Reveal, current_principal, log_access, person
from ioc.views.map_layers import LEVEL_COLOURS, LEVEL_PARAMS, NO_LEVELS_COLOUR, _cam_status

RANGES = {"24h": 24, "7d": 7 * 24, "30d": 30 * 24}
HISTORY_DAYS = 30  # a camera's status history shown
HISTORY_MAX = 500
SNAPSHOT_TIMEOUT = 3.0
SNAPSHOT_MAX_BYTES = 5 * 1024 * 1024
SNAPSHOT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
TEXT = "text/plain; charset=utf-8"


class NotFound(LookupError):
    """An unknown ticket, camera or station: HTTP 404 with this one line."""


def _in_scope(principal: Principal | None, commune: str | None, what: str) -> None:
    """A record opened by id lies in the asking principal's communes (ioc.auth.scope.check_record:
    OutOfScope otherwise). ``principal`` None: the current request's."""
    scope.check_record(principal or current_principal(), commune, what)


def _check_id(value: str, what: str) -> None:
    """An id no record can have (a NUL byte, which PostgreSQL refuses in text; too long) is
    simply not found."""
    if "\x00" in value or len(value) > 200:
        raise NotFound(f"{what} {value[:60]!r} not found")


# --- a ticket ---------------------------------------------------------------------------------


def ticket_state(requested_at: datetime, expected_at: datetime | None, answered_at: datetime | None, status: str,
                 at: datetime, tz) -> tuple[str, datetime | None]:
    """('open' | 'overdue' | 'closed', deadline) of one ticket at ``at``, by the KPI engine's
    own functions (``kpi_tickets.ticket_deadlines`` and ``kpi_tickets.ticket_flags``)."""
    df = pd.DataFrame({
        "requested_at": pd.Series(pd.to_datetime([requested_at], utc=True)).astype("datetime64[us, UTC]"),
        "expected_at": pd.Series(pd.to_datetime([expected_at], utc=True)).astype("datetime64[us, UTC]"),
        "answered_at": pd.Series(pd.to_datetime([answered_at], utc=True)).astype("datetime64[us, UTC]"),
        "status": [status], "reopened_count": [0]})
    df["deadline"] = kpi_tickets.ticket_deadlines(df, tz, DEADLINE_WORKING_DAYS)
    fl = kpi_tickets.ticket_flags(df, pd.Timestamp(at))
    dl = df["deadline"].iloc[0]
    deadline = None if pd.isna(dl) else dl.to_pydatetime()
    if bool(fl["answered"].iloc[0]):
        return "closed", deadline
    return ("overdue" if bool(fl["overdue"].iloc[0]) else "open"), deadline


def ticket_detail(views, external_id: str, lang: str, *, reveal: Reveal | None = None,
                  surface: str = "map.ticket", principal: Principal | None = None) -> dict:
    """Category, state, age, deadline, commune and agency of one ticket, and ``person``: the
    reporter's name and phone number, the address and the description — masked
    (ioc/views/privacy.py) unless ``reveal`` (a checked permission and its reason) is given,
    in which case the access is logged first. A ticket outside the principal's communes
    (``principal`` None: the request's) raises ``ioc.auth.scope.OutOfScope``, before any log."""
    _check_id(external_id, "ticket")
    tk = m.Ticket.__table__
    with views.engine().connect() as conn:
        row = conn.execute(select(tk.c.external_id, tk.c.service_code, tk.c.service_name, tk.c.status,
                                  tk.c.requested_at, tk.c.expected_at, tk.c.answered_at, tk.c.commune_code,
                                  tk.c.agency, tk.c.reporter_name, tk.c.reporter_phone, tk.c.address,
                                  tk.c.description)
                           .where(tk.c.external_id == external_id).order_by(tk.c.source).limit(1)).first()
    if row is None:
        raise NotFound(f"ticket {external_id[:60]!r} not found")
    _in_scope(principal or (reveal.principal if reveal else None), row.commune_code, "ticket")
    if reveal is not None:
        log_access(views.engine(), reveal, action="view", surface=surface, kind="ticket", ids=[row.external_id],
                   communes=[row.commune_code])
    tz, now = views.tz, views.clock()
    req, exp, ans = aware(row.requested_at), aware(row.expected_at), aware(row.answered_at)
    state, deadline = ticket_state(req, exp, ans, row.status, now, tz)
    if state == "closed":
        age = (t("sm.ticket.answered_after", lang).format(d=duration((ans - req).total_seconds(), lang))
               if ans is not None and ans >= req else t("sm.ticket.closed", lang))
    else:
        age = t("sm.ticket.open_for", lang).format(d=duration((now - req).total_seconds(), lang))
    dl_text = when(deadline, tz)
    if state == "overdue" and deadline is not None:
        dl_text += " — " + t("sm.ticket.overdue_by", lang).format(d=duration((now - deadline).total_seconds(), lang))
    names = views.atlas.names()
    return {"id": row.external_id, "category": row.service_name or row.service_code or "—",
            "category_code": row.service_code, "status": state, "status_label": t(f"sm.tst.{state}", lang),
            "received_text": when(req, tz), "age_text": age, "deadline_text": dl_text,
            "commune": names.get(row.commune_code or "", row.commune_code or t("unknown_commune", lang)),
            "agency": row.agency or "—", "person": person(row, reveal)}


def ticket_ref(views, row_id) -> str:
    """The external id of the ticket in row ``row_id`` (what a point on the map carries): the
    page names a clicked ticket by it, in the side panel and the link."""
    try:
        row_id = int(row_id)
    except (TypeError, ValueError):
        raise NotFound(f"ticket row {str(row_id)[:20]!r} not found") from None
    tk = m.Ticket.__table__
    with views.engine().connect() as conn:
        ref = conn.execute(select(tk.c.external_id).where(tk.c.id == row_id)).scalar()
    if ref is None:
        raise NotFound(f"ticket row {row_id} not found")
    return str(ref)


# --- a camera ---------------------------------------------------------------------------------


def camera_detail(views, camera_id: str, lang: str, *, principal: Principal | None = None) -> dict:
    """Name, commune, agency, status with since when, and the status history of the last
    30 days. No stream or snapshot address: the snapshot is served by our own endpoint. A
    camera outside the principal's communes raises ``OutOfScope``."""
    _check_id(camera_id, "camera")
    cam, ch = m.Camera.__table__, m.CameraStatusChange.__table__
    tz, now = views.tz, views.clock()
    with views.engine().connect() as conn:
        row = conn.execute(select(cam.c.id, cam.c.name, cam.c.commune_code, cam.c.agency, cam.c.status,
                                  cam.c.status_reason, cam.c.status_since, cam.c.last_seen,
                                  cam.c.snapshot_url.is_not(None).label("has_snapshot"))
                           .where(cam.c.id == camera_id)).first()
        if row is None:
            raise NotFound(f"camera {camera_id[:60]!r} not found")
        _in_scope(principal, row.commune_code, "camera")
        hist = conn.execute(select(ch.c.at, ch.c.status).where(ch.c.camera_id == camera_id,
                                                               ch.c.at >= now - timedelta(days=HISTORY_DAYS))
                            .order_by(ch.c.at.desc()).limit(HISTORY_MAX)).all()
    status = _cam_status(row.status)
    since = aware(row.status_since)
    since_text = (t("sm.cam.since", lang).format(at=when(since, tz), d=duration((now - since).total_seconds(), lang))
                  if since is not None else "—")
    names = views.atlas.names()
    return {"id": row.id, "name": row.name, "commune": names.get(row.commune_code or "", row.commune_code or "—"),
            "agency": row.agency or "—", "status": status, "status_label": t(f"sm.cam.{status}", lang),
            "reason": row.status_reason or "", "since_text": since_text,
            "last_seen_text": when(aware(row.last_seen), tz),
            "history": [[iso_local(aware(at), tz), _cam_status(st)] for at, st in reversed(hist)],
            "history_label": t("sm.cam.history", lang).format(days=HISTORY_DAYS),
            "has_snapshot": bool(row.has_snapshot)}


def camera_snapshot(views, camera_id: str, *, principal: Principal | None = None) -> tuple[int, bytes, str]:
    """(HTTP status, body, content type): the camera's latest snapshot image, fetched here
    from its upstream address (never handed to the browser), or a one-line text for 404/502.

    The address comes from upstream data, so the server fetches only what the operator allowed
    (``snapshot_allowed``: http/https on the camera registry's own host:port or one listed in
    IOC_SNAPSHOT_HOSTS), follows no redirect, and stops at ``SNAPSHOT_MAX_BYTES`` and
    ``SNAPSHOT_TIMEOUT`` seconds in all — never a request to an arbitrary internal address."""
    import httpx

    if "\x00" in camera_id or len(camera_id) > 200:
        return 404, b"camera not found", TEXT
    cam = m.Camera.__table__
    with views.engine().connect() as conn:
        row = conn.execute(select(cam.c.snapshot_url, cam.c.commune_code).where(cam.c.id == camera_id)).first()
    if row is None:
        return 404, b"camera not found", TEXT
    _in_scope(principal, row.commune_code, "camera")
    url = (row.snapshot_url or "").strip()
    parts = urlsplit(url)
    if not url or parts.scheme not in ("http", "https") or not parts.netloc:
        return 404, b"no snapshot address for this camera", TEXT
    settings = views.settings
    if not snapshot_allowed(url, settings):
        return 502, b"snapshot unavailable (its address is not the camera registry's host nor in IOC_SNAPSHOT_HOSTS)", TEXT
    headers = {"Accept": "image/*"}
    token = settings.cameras_token
    if token is not None and _same_origin(url, settings.cameras_url):
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT
    try:
        with httpx.Client(timeout=SNAPSHOT_TIMEOUT, follow_redirects=False, trust_env=False) as client:
            with client.stream("GET", url, headers=headers) as res:
                if res.status_code != 200:  # a redirect too: never followed, never handed over
                    return 502, f"snapshot unavailable (upstream HTTP {res.status_code})".encode(), TEXT
                ctype = res.headers.get("content-type", "").split(";")[0].strip().lower()
                if ctype not in SNAPSHOT_TYPES:  # an SVG from our origin could run script: raster only
                    return 502, b"snapshot unavailable (upstream did not send a JPEG, PNG, WebP or GIF image)", TEXT
                body = bytearray()
                for chunk in res.iter_bytes():
                    body += chunk
                    if len(body) > SNAPSHOT_MAX_BYTES:
                        return 502, b"snapshot unavailable (image too large)", TEXT
                    if time.monotonic() > deadline:  # a slow drip: each read in time, the whole not
                        raise httpx.ReadTimeout("snapshot took too long")
    except httpx.TimeoutException:
        return 502, f"snapshot unavailable (upstream did not answer in {SNAPSHOT_TIMEOUT:g} s)".encode(), TEXT
    except httpx.HTTPError:
        return 502, b"snapshot unavailable (upstream unreachable)", TEXT
    return 200, bytes(body), ctype


def _host_port(url: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return None
    return (parts.hostname.lower(), port) if parts.hostname and port else None


def snapshot_allowed(url: str, settings) -> bool:
    """May the server fetch this snapshot address: http or https, and its host:port that of the
    camera registry (IOC_CAMERAS_URL) or one of IOC_SNAPSHOT_HOSTS (``Settings.snapshot_origins``)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return False
    target = _host_port(url)
    allowed = set(settings.snapshot_origins)
    registry = _host_port(settings.cameras_url) if settings.cameras_url else None
    if registry is not None:
        allowed.add(registry)
    return target is not None and target in allowed


def _same_origin(url: str, base: str | None) -> bool:
    """The camera token goes only to the camera registry's own scheme, host and port."""
    if not base:
        return False
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


# --- a station --------------------------------------------------------------------------------


def station_series(views, station_id: str, rng: str, lang: str, *, principal: Principal | None = None) -> dict:
    """A station's values over 24 h / 7 d / 30 d against the official thresholds (QCVN 05
    air limits, QCVN 08 level B for water, salinity / flood / insect alarm levels), and its
    category history: hourly VN_AQI for air stations, VN_WQI of each sample for water
    stations, the alarm level reached by each reading for level stations. A station outside
    the principal's communes raises ``OutOfScope``."""
    if rng not in RANGES:
        raise ValueError(f"bad range {str(rng)[:20]!r}: one of {', '.join(RANGES)}")
    _check_id(station_id, "station")
    tz, now = views.tz, views.clock()
    start = now - timedelta(hours=RANGES[rng])
    st = m.Station.__table__
    with kpi_sql.connect(views.engine()) as conn:
        row = conn.execute(select(st.c.id, st.c.name, st.c.kind, st.c.properties, st.c.commune_code)
                           .where(st.c.id == station_id)).first()
        if row is None:
            raise NotFound(f"station {station_id[:60]!r} not found")
        _in_scope(principal, row.commune_code, "station")
        dt = m.Datastream.__table__
        ds = kpi_sql.fetch(conn, select(dt.c.id, dt.c.station_id, dt.c.name, dt.c.parameter, dt.c.unit)
                          .where(dt.c.station_id == row.id).order_by(dt.c.id))
        ds["code"] = [parameters.kpi_parameter(p) for p in ds["parameter"]] if len(ds) else pd.Series([], dtype=object)
        lead = timedelta(hours=11) if row.kind == "air" else timedelta(0)  # NowCast needs 12 hours
        obs = environment_sql.load_observations(conn, ds["id"].astype(str).tolist(), start - lead, now)
    kind = row.kind
    props = row.properties if isinstance(row.properties, dict) else {}
    obs = obs.assign(datastream_id=obs["datastream_id"].astype(str)).sort_values("phenomenon_time", kind="stable")
    series, categories = [], []
    if kind == "air" and len(obs):
        aqi_series, categories = _aqi_history(obs, ds, start, now, tz, lang)
        series.append(aqi_series)
    in_range = obs[obs["phenomenon_time"] >= pd.Timestamp(start)]
    for d in ds.sort_values("code", kind="stable").itertuples(index=False):
        pts = in_range[in_range["datastream_id"] == str(d.id)]
        values = pts["result"].astype(float).to_numpy()
        unit = d.unit or ""
        if d.code == "water_level":
            values = np.array([parameters.water_level_metres(v, unit) for v in values], dtype=float)
            unit = "m"
        elif d.code in environment.INSECT_LEVELS:
            unit = t("sm.param_unit.insects", lang)
        times = [iso_local(x.to_pydatetime(), tz) for x in pts["phenomenon_time"]]
        series.append({"parameter": d.code, "label": _param_label(d.code, d.name, lang), "unit": unit,
                       "points": [[a, round(float(v), 4)] for a, v in zip(times, values) if np.isfinite(v)],
                       "thresholds": _thresholds(d.code, unit, kind, props, lang)})
    if kind == "water":
        categories = _wqi_history(in_range, ds, wqi_mod.station_formula(props), tz, lang)
    elif kind in ("iot_water", "insect"):
        categories = _level_history(in_range, ds, props, tz, lang)
    return {"id": str(row.id), "name": row.name, "kind": kind, "range": rng,
            "range_label": t(f"sm.range.{rng}", lang), "series": series, "categories": categories,
            "empty_text": t("sm.series.empty", lang)}


def _param_label(code: str, name: str | None, lang: str) -> str:
    key = f"sm.param.{LEVEL_PARAMS.get(code, code)}"
    label = t(key, lang)
    return label if label != key else (name or code)


def _thresholds(code: str, unit: str, kind: str, props: dict, lang: str) -> list[dict]:
    out = []
    if code in environment.AIR_LIMITS_QCVN05_2023 and kind == "air":
        try:
            factor = float(environment.to_ugm3(1.0, unit or "µg/m³", code))
        except ValueError:
            return []
        for averaging, lim in environment.AIR_LIMITS_QCVN05_2023[code].items():
            out.append({"label": t("sm.thr.qcvn05", lang).format(avg=t(f"sm.avg.{averaging}", lang)),
                        "value": round(lim.value / factor, 4), "kind": "max"})
    elif code in environment.WATER_LIMITS_QCVN08_2023_B and kind in ("water", "iot_water"):
        spec = environment.WATER_LIMITS_QCVN08_2023_B[code]
        if code == "do" and unit.strip() == "%":
            return []
        label = t("sm.thr.qcvn08", lang)
        if spec["kind"] == "range":
            out += [{"label": label, "value": spec["low"], "kind": "min"},
                    {"label": label, "value": spec["high"], "kind": "max"}]
        else:
            out.append({"label": label, "value": spec["value"], "kind": spec["kind"]})
    elif code == "salinity":
        out = [{"label": t(f"sm.lvl.salinity.{name}", lang).format(threshold=text.num(v, lang, 1) + " ‰"),
                "value": v, "kind": "max"} for name, v, _sev in environment.SALINITY_LEVELS]
    elif code == "water_level":
        levels = props.get("alarm_levels")
        if isinstance(levels, (list, tuple)) and 1 <= len(levels) <= 3:
            for i, v in enumerate(levels):
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    continue
                out.append({"label": t(f"sm.lvl.water_level.{environment.WATER_LEVEL_NAMES[i]}", lang).format(
                    threshold=text.num(v, lang, 2) + " m"), "value": v, "kind": "max"})
    elif code in environment.INSECT_LEVELS:
        out = [{"label": t(f"sm.lvl.insects.{name}", lang).format(
            threshold=f"{text.num(v, lang)} {t('sm.param_unit.insects', lang)}"), "value": v,
                "kind": "max"} for name, v, _sev in environment.INSECT_LEVELS[code]]
    return out


def _aqi_history(obs: pd.DataFrame, ds: pd.DataFrame, start: datetime, now: datetime, tz, lang: str):
    """Hourly VN_AQI (QĐ 1459, NowCast for PM) over the range: a series and the categories."""
    grid = air_grid.AirGrid(obs, ds, pd.Timestamp(start) - pd.Timedelta(hours=11), pd.Timestamp(now))
    sid = str(ds["station_id"].iloc[0]) if len(ds) else ""
    rows = grid.hourly_aqi(sid, grid.hours) if sid in grid.values else []
    s0 = pd.Timestamp(start).floor("h")
    points, cats = [], []
    for r in rows:
        if r["hour"] < s0 or r["aqi"] is None:
            continue
        at = iso_local(r["hour"].to_pydatetime(), tz)
        c = aqi_mod.category(r["aqi"])
        points.append([at, r["aqi"]])
        cats.append([at, c.key, c.hex, c.name_vi if lang == "vi" else c.name_en])
    thresholds = [{"label": (c.name_vi if lang == "vi" else c.name_en), "value": c.high, "kind": "max"}
                  for c in aqi_mod.CATEGORIES[:-1]]
    return ({"parameter": "aqi", "label": t("sm.param.aqi", lang), "unit": "", "points": points,
             "thresholds": thresholds}, cats)


def _wqi_history(obs: pd.DataFrame, ds: pd.DataFrame, formula: int, tz, lang: str) -> list[list]:
    """VN_WQI (QĐ 1460) of each sample: the values of one sampling time."""
    codes = dict(zip(ds["id"].astype(str), ds["code"]))
    units = dict(zip(ds["id"].astype(str), ds["unit"]))
    wanted = set(wqi_mod.PARAMETER_GROUP) | {"temperature"}
    out = []
    for at, grp in obs.groupby("phenomenon_time", sort=True):
        sample = {}
        for dsid, v in zip(grp["datastream_id"], grp["result"].astype(float)):
            code = codes.get(dsid)
            if code == "do" and str(units.get(dsid) or "").strip() == "%":
                code = "do_pct"
            if code in wanted or code == "do_pct":
                sample[code] = v
        res = wqi_mod.compute(sample, formula)
        if res.value is None or res.category is None:
            continue
        c = res.category
        out.append([iso_local(at.to_pydatetime(), tz), c.key, c.hex, c.name_vi if lang == "vi" else c.name_en])
    return out


def _level_history(obs: pd.DataFrame, ds: pd.DataFrame, props: dict, tz, lang: str) -> list[list]:
    """The alarm level each reading of the station's main parameter reached (salinity first,
    else water level, else the insect count)."""
    codes = dict(zip(ds["id"].astype(str), ds["code"]))
    units = dict(zip(ds["id"].astype(str), ds["unit"]))
    present = {codes.get(x) for x in obs["datastream_id"].unique()}
    main = next((c for c in ("salinity", "water_level", *environment.INSECT_LEVELS) if c in present), None)
    if main is None:
        return []
    sel = obs[obs["datastream_id"].map(codes) == main]
    values = sel["result"].astype(float).tolist()
    if main == "water_level":
        values = [parameters.water_level_metres(v, units.get(d)) for v, d in zip(values, sel["datastream_id"])]
    rows = pd.DataFrame({"station_id": "s", "parameter": main, "at": sel["phenomenon_time"].tolist(), "value": values})
    if main == "salinity":
        res = environment.salinity_alerts(rows)
    elif main == "water_level":
        res = environment.water_level_alerts(rows, pd.DataFrame({"id": ["s"], "properties": [props]}))
    else:
        res = environment.insect_alerts(rows)
    param = LEVEL_PARAMS.get(main, main)
    out = []
    for r in res:
        if r["no_levels"]:
            key, colour, label = "no_levels", NO_LEVELS_COLOUR, t("sm.lvl.no_levels", lang)
        elif r["level"] is None:
            key, colour, label = "normal", LEVEL_COLOURS[None], t(f"sm.lvl.below.{param}", lang)
        else:
            key, colour = r["level"], LEVEL_COLOURS.get(r["severity"], LEVEL_COLOURS["warning"])
            label = t(f"sm.lvl.{param}.{r['level']}", lang).format(
                threshold=f"{text.num(r['threshold'], lang, 0 if param == 'insects' else 2)} "
                          f"{t(f'sm.param_unit.{param}', lang)}")
        out.append([iso_local(pd.Timestamp(r["at"]).to_pydatetime(), tz), key, colour, label])
    return out
