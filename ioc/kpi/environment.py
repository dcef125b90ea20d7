"""Environmental monitoring KPIs from Station / Datastream / Observation rows.

Inputs are the SQL rows as DataFrames:

* ``observations``: ``datastream_id, phenomenon_time, result``;
* ``datastreams``: ``id, station_id, parameter, unit``;
* ``stations``: ``id, name, kind (air | water | iot_water | insect), properties, commune_code``.

Parameter codes expected in ``Datastream.parameter`` (normalised by the connector):
air ``pm25 pm10 no2 so2 co o3``; water ``ph do bod5 cod toc tss n_nh4 n_no3 n_no2 p_po4
coliform e_coli as cd pb hg``, ``water_level`` (m), ``salinity`` (‰); insect traps
``insect_count`` (or any code given in ``levels``).

Reference values (QCVN, salinity, insects) are plain data here, each with its source and
our confidence; all are overridable by argument. See docs/kpis.md § Environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioc.kpi.values import as_utc, py, require_columns, utc_series
from ioc.kpi.calendar import DEFAULT_TZ

__all__ = [
    "AIR_LIMITS_QCVN05_2023",
    "DEFAULT_MAX_AGE_BY_KIND",
    "DEFAULT_OFFLINE_MAX_AGE",
    "INSECT_LEVELS",
    "SALINITY_LEVELS",
    "WATER_LIMITS_QCVN08_2023_B",
    "Limit",
    "air_exceedances",
    "air_station_hourly",
    "hourly_means",
    "insect_alerts",
    "latest_values",
    "level_alerts",
    "limit_value",
    "outside_limit",
    "salinity_alerts",
    "stations_offline",
    "to_ugm3",
    "water_exceedances",
    "water_level_alerts",
]

AIR_PARAMETERS = ("pm25", "pm10", "no2", "so2", "co", "o3")


@dataclass(frozen=True)
class Limit:
    value: float
    confidence: str
    note: str = ""


# QCVN 05:2023/BTNMT, Bảng 1 (ambient air, µg/m³; 25 °C, 1 atm). Averaging period → limit.
# The 1-hour/8-hour/24-hour figures below equal QCVN 05:2013 except PM10 24 h, which we
# believe the 2023 revision lowered from 150 to 100. Not checked against the text here.
AIR_LIMITS_QCVN05_2023: dict[str, dict[str, Limit]] = {
    "so2": {"1h": Limit(350, "high"), "24h": Limit(125, "high")},
    "no2": {"1h": Limit(200, "high"), "24h": Limit(100, "medium")},
    "co": {"1h": Limit(30000, "high"), "8h": Limit(10000, "high")},
    "o3": {"1h": Limit(200, "high"), "8h": Limit(120, "medium", "2013 value; 2023 may be 100")},
    "pm10": {"24h": Limit(100, "medium", "QCVN 05:2013 had 150")},
    "pm25": {"24h": Limit(50, "high")},
}

# QCVN 08:2023/BTNMT, surface water. Default line = level B ("mức B") of the
# classification table for rivers/canals (pH, BOD5, COD, DO, TSS, coliform) and the
# health-protection table for nutrients/metals. LOW confidence overall: written from
# memory, verify against the regulation before publishing exceedances.
# kind "max": value > limit exceeds; "min": value < limit exceeds; "range": outside.
WATER_LIMITS_QCVN08_2023_B: dict[str, dict] = {
    "ph": {"kind": "range", "low": 6.0, "high": 8.5, "unit": "", "confidence": "medium"},
    "bod5": {"kind": "max", "value": 6.0, "unit": "mg/L", "confidence": "medium"},
    "cod": {"kind": "max", "value": 15.0, "unit": "mg/L", "confidence": "medium"},
    "toc": {"kind": "max", "value": 6.0, "unit": "mg/L", "confidence": "low"},
    "do": {"kind": "min", "value": 5.0, "unit": "mg/L", "confidence": "medium"},
    "tss": {"kind": "max", "value": 100.0, "unit": "mg/L", "confidence": "low"},
    "coliform": {"kind": "max", "value": 5000.0, "unit": "MPN/100mL", "confidence": "low"},
    "n_nh4": {"kind": "max", "value": 0.3, "unit": "mg/L", "confidence": "low"},
    "n_no3": {"kind": "max", "value": 10.0, "unit": "mg/L", "confidence": "low"},
    "n_no2": {"kind": "max", "value": 0.05, "unit": "mg/L", "confidence": "low"},
    "as": {"kind": "max", "value": 0.01, "unit": "mg/L", "confidence": "medium"},
    "cd": {"kind": "max", "value": 0.005, "unit": "mg/L", "confidence": "medium"},
    "pb": {"kind": "max", "value": 0.02, "unit": "mg/L", "confidence": "medium"},
    "hg": {"kind": "max", "value": 0.001, "unit": "mg/L", "confidence": "medium"},
}

# Salinity (‰ ≈ g/L ≈ PSU). Advisory defaults, not a regulation: 4 ‰ is the figure
# Mekong-delta agricultural advisories (MARD / Southern Institute of Water Resources
# Research bulletins) give for salinity that damages rice; 2 ‰ harms young rice and
# sensitive crops; 1 ‰ is the usual "stop taking water for fruit trees / domestic
# supply" caution line. Ordered ascending: (name, threshold, severity).
SALINITY_LEVELS: tuple[tuple[str, float, str], ...] = (
    ("watch", 1.0, "info"),
    ("warning", 2.0, "warning"),
    ("alert", 4.0, "critical"),
)

# Insect light-trap counts per trap and night. PLACEHOLDER levels for the demo: the
# plant-protection sub-department sets real levels per species and season.
INSECT_LEVELS: dict[str, tuple[tuple[str, float, str], ...]] = {
    "insect_count": (("warning", 1000.0, "warning"), ("alert", 3000.0, "critical")),
}

# Flood alarm levels (báo động I/II/III) are per gauge; they are set by QĐ 05/2020/
# QĐ-TTg for official hydrological stations. No default: pass ``levels_by_station`` or
# put ``alarm_levels: [I, II, III]`` (m) in Station.properties.
WATER_LEVEL_NAMES = ("bao_dong_1", "bao_dong_2", "bao_dong_3")
WATER_LEVEL_SEVERITY = ("info", "warning", "critical")

# A station is offline when its newest observation is older than this (our choices:
# hourly telemetry gets 3 h, nightly insect traps 36 h; manual water sampling (kind
# "water") is periodic and is never "offline").
DEFAULT_OFFLINE_MAX_AGE = timedelta(hours=3)  # a station kind not listed below

DEFAULT_MAX_AGE_BY_KIND: dict[str, timedelta | None] = {
    "air": timedelta(hours=3),
    "iot_water": timedelta(hours=3),
    "insect": timedelta(hours=36),
    "water": None,
}

# Gas conversion at 25 °C, 1 atm: µg/m³ = ppb × M / 24.45.
_MOLAR_MASS = {"no2": 46.0055, "so2": 64.066, "co": 28.010, "o3": 47.997}


def to_ugm3(values: pd.Series | float, unit: str | None, parameter: str):
    """Convert an air concentration to µg/m³ from µg/m³, mg/m³, ppb or ppm.

    Raises ValueError naming the unit when it cannot be converted.
    """
    u = (unit or "").strip().lower().replace("³", "3").replace("μ", "u").replace("µ", "u")
    if u in ("ug/m3", "ugm-3", "ug m-3"):
        return values
    if u in ("mg/m3", "mgm-3", "mg m-3"):
        return values * 1000.0
    if u in ("ppb", "ppm") and parameter in _MOLAR_MASS:
        factor = _MOLAR_MASS[parameter] / 24.45 * (1000.0 if u == "ppm" else 1.0)
        return values * factor
    raise ValueError(f"cannot convert {parameter} from unit {unit!r} to µg/m³")


def _join(observations: pd.DataFrame, datastreams: pd.DataFrame) -> pd.DataFrame:
    require_columns(observations, ("datastream_id", "phenomenon_time", "result"), "observations")
    require_columns(datastreams, ("id", "station_id", "parameter"), "datastreams")
    ds = datastreams[[c for c in ("id", "station_id", "parameter", "unit") if c in datastreams.columns]]
    ds = ds.rename(columns={"id": "datastream_id"})
    ds = ds.assign(datastream_id=ds["datastream_id"].astype(str))
    obs = observations[["datastream_id", "phenomenon_time", "result"]].copy()
    obs["datastream_id"] = obs["datastream_id"].astype(str)
    obs["phenomenon_time"] = utc_series(obs["phenomenon_time"], "phenomenon_time")
    obs["result"] = pd.to_numeric(obs["result"], errors="coerce").astype(float)
    out = obs.merge(ds, on="datastream_id", how="inner")
    if "unit" not in out.columns:
        out["unit"] = None
    return out


def hourly_means(observations: pd.DataFrame, datastreams: pd.DataFrame) -> pd.DataFrame:
    """Hourly means per station and parameter.

    Returns a long DataFrame ``station_id, parameter, unit, hour (UTC hour start),
    value, n`` (n = observations averaged). NaN/inf results are dropped first.
    """
    df = _join(observations, datastreams)
    df = df[np.isfinite(df["result"])]
    cols = ["station_id", "parameter", "unit", "hour", "value", "n"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.assign(hour=df["phenomenon_time"].dt.floor("h"), unit=df["unit"].fillna(""))
    g = df.groupby(["station_id", "parameter", "unit", "hour"], sort=True)["result"]
    out = g.agg(value="mean", n="count").reset_index()
    return out[cols]


def air_station_hourly(hourly: pd.DataFrame, station_id: str) -> pd.DataFrame:
    """Wide hourly frame for :func:`ioc.kpi.aqi.hourly_aqi`: columns pm25 … o3 (µg/m³,
    converted with :func:`to_ugm3`), index = UTC hour. ``hourly`` is :func:`hourly_means`
    output. A parameter with an unconvertible unit is left out (its column all NaN)."""
    require_columns(hourly, ("station_id", "parameter", "hour", "value"), "hourly")
    df = hourly[(hourly["station_id"].astype(str) == str(station_id)) & hourly["parameter"].isin(AIR_PARAMETERS)]
    if "unit" not in df.columns:
        df = df.assign(unit="µg/m³")
    parts: dict[str, list[pd.Series]] = {}
    for (param, unit), grp in df.groupby(["parameter", "unit"], dropna=False):
        try:
            vals = to_ugm3(grp["value"].astype(float), unit if isinstance(unit, str) and unit else "µg/m³", param)
        except ValueError:
            continue  # unconvertible unit: left out rather than mixed in
        parts.setdefault(param, []).append(
            pd.Series(vals.to_numpy(), index=pd.DatetimeIndex(grp["hour"]).tz_convert("UTC"))
        )
    frames = {p: pd.concat(ss).groupby(level=0).mean() for p, ss in parts.items()}
    wide = pd.DataFrame(frames).reindex(columns=list(AIR_PARAMETERS))
    if len(wide) == 0:
        wide.index = pd.DatetimeIndex([], tz="UTC")
    wide.index.name = "hour"
    return wide.sort_index().astype(float)


def air_exceedances(
    hourly: pd.DataFrame,
    limits: Mapping[str, Mapping[str, Limit]] = AIR_LIMITS_QCVN05_2023,
    tz: str | ZoneInfo = DEFAULT_TZ,
    min_hours_24h: int = 18,
    min_hours_8h: int = 6,
) -> list[dict]:
    """Exceedances of the air limits per station, parameter, averaging period and local day.

    ``hourly`` is :func:`hourly_means` output. 1 h: every hourly mean; 8 h: rolling means
    of 8 consecutive hours (≥ ``min_hours_8h`` valid); 24 h: the local-day mean
    (≥ ``min_hours_24h`` valid hours). Returns ``[{station_id, parameter, averaging,
    date, max_value, limit, exceed_count, first_at}]`` for days with ≥ 1 exceedance
    (``first_at`` = start of the first exceeding period; None for 24 h).
    """
    require_columns(hourly, ("station_id", "parameter", "hour", "value"), "hourly")
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    out: list[dict] = []
    for station in sorted(hourly["station_id"].astype(str).unique()):
        wide = air_station_hourly(hourly, station)
        if wide.empty:
            continue
        full = pd.date_range(wide.index.min(), wide.index.max(), freq="h", tz="UTC")
        wide = wide.reindex(full)
        wide = wide.mask(wide < 0)
        days = pd.Series(wide.index.tz_convert(zone).date, index=wide.index)
        for param, per in limits.items():
            if param not in wide.columns or wide[param].isna().all():
                continue
            series = wide[param]
            for averaging, lim in per.items():
                if averaging == "1h":
                    vals = series
                elif averaging == "8h":
                    vals = series.rolling(8, min_periods=min_hours_8h).mean()
                    vals.index = vals.index - pd.Timedelta(hours=7)  # label = window start
                elif averaging == "24h":
                    grp = series.groupby(days)
                    means = grp.mean().where(grp.count() >= min_hours_24h)
                    for day, v in means.dropna().items():
                        if v > lim.value:
                            out.append({"station_id": station, "parameter": param, "averaging": "24h",
                                        "date": day, "max_value": round(float(v), 3),
                                        "limit": lim.value, "exceed_count": 1, "first_at": None})
                    continue
                else:
                    raise ValueError(f"unknown averaging period {averaging!r} for {param}")
                exceed = vals[vals > lim.value]
                if exceed.empty:
                    continue
                ex_days = pd.Series(exceed.index.tz_convert(zone).date, index=exceed.index)
                for day, grp in exceed.groupby(ex_days):
                    out.append({"station_id": station, "parameter": param, "averaging": averaging,
                                "date": day, "max_value": round(float(grp.max()), 3),
                                "limit": lim.value, "exceed_count": int(len(grp)),
                                "first_at": grp.index[0].to_pydatetime()})
    return out


def water_exceedances(
    observations: pd.DataFrame,
    datastreams: pd.DataFrame,
    limits: Mapping[str, Mapping] = WATER_LIMITS_QCVN08_2023_B,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict]:
    """Surface-water observations outside the limits (default QCVN 08:2023 level B).

    Returns ``[{station_id, parameter, at, value, limit, kind, unit}]`` where ``limit`` is
    the number (or ``[low, high]`` for a range). Negative/NaN results are not judged.
    """
    df = _join(observations, datastreams)
    if start is not None:
        df = df[df["phenomenon_time"] >= as_utc(start, "start")]
    if end is not None:
        df = df[df["phenomenon_time"] < as_utc(end, "end")]
    df = df[np.isfinite(df["result"]) & (df["result"] >= 0)]  # negatives are not judged
    out = []
    for row in df.sort_values(["station_id", "phenomenon_time"], kind="stable").itertuples(index=False):
        spec = limits.get(row.parameter)
        if not spec:
            continue
        v = float(row.result)
        if outside_limit(spec, np.array([v]))[0]:
            out.append({"station_id": str(row.station_id), "parameter": row.parameter,
                        "at": row.phenomenon_time.to_pydatetime(), "value": v, "limit": limit_value(spec),
                        "kind": spec["kind"], "unit": spec.get("unit")})
    return out


def outside_limit(spec: Mapping, values: np.ndarray) -> np.ndarray:
    """The QCVN 08 test of one parameter's limit: ``max`` exceeded when value > limit,
    ``min`` when value < limit, ``range`` when outside [low, high]."""
    kind = spec["kind"]
    if kind == "max":
        return values > spec["value"]
    if kind == "min":
        return values < spec["value"]
    if kind == "range":
        return ~((spec["low"] <= values) & (values <= spec["high"]))
    raise ValueError(f"unknown limit kind {kind!r}")


def limit_value(spec: Mapping):
    """The limit as reported: the number, or ``[low, high]`` for a range."""
    return [spec["low"], spec["high"]] if spec["kind"] == "range" else spec["value"]


def latest_values(
    observations: pd.DataFrame,
    datastreams: pd.DataFrame,
    parameters: Sequence[str] | None = None,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Newest finite observation per station and parameter (at or before ``as_of``).

    Returns ``station_id, parameter, unit, at, value``.
    """
    df = _join(observations, datastreams)
    if parameters is not None:
        df = df[df["parameter"].isin(list(parameters))]
    if as_of is not None:
        df = df[df["phenomenon_time"] <= as_utc(as_of, "as_of")]
    df = df[np.isfinite(df["result"])]
    cols = ["station_id", "parameter", "unit", "at", "value"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.sort_values("phenomenon_time", kind="stable")
    last = df.groupby(["station_id", "parameter"], sort=True).tail(1)
    last = last.rename(columns={"phenomenon_time": "at", "result": "value"})
    return last[cols].sort_values(["station_id", "parameter"]).reset_index(drop=True)


def level_alerts(
    latest: pd.DataFrame,
    parameter: str,
    levels: Sequence[tuple[str, float, str]] | None = None,
    levels_by_station: Mapping[str, Sequence[tuple[str, float, str]]] | None = None,
    as_of: datetime | None = None,
    max_age: timedelta | None = None,
) -> list[dict]:
    """Compare the latest value of ``parameter`` at each station with ascending levels.

    ``latest`` is :func:`latest_values` output. Levels are ``(name, threshold,
    severity)`` ascending; the highest level reached (value ≥ threshold) is reported.
    A station with a stale value (older than ``max_age`` at ``as_of``) is reported
    with ``level=None, stale=True`` — an old value never raises or clears an alert.
    A station without levels gets ``no_levels=True``. Returns one dict per station:
    ``{station_id, parameter, value, at, level, threshold, severity, stale, no_levels}``.
    """
    require_columns(latest, ("station_id", "parameter", "at", "value"), "latest")
    rows = latest[latest["parameter"] == parameter]
    now = as_utc(as_of, "as_of") if as_of is not None else None
    out = []
    # column lists, not itertuples: this runs on every snapshot
    for sid, at, value in zip(rows["station_id"].tolist(), rows["at"].tolist(), rows["value"].tolist()):
        sid = str(sid)
        lv = (levels_by_station or {}).get(sid, levels)
        at = pd.Timestamp(at)
        stale = bool(now is not None and max_age is not None and now - at > max_age)
        rec = {"station_id": sid, "parameter": parameter, "value": py(value),
               "at": at.to_pydatetime(), "level": None, "threshold": None, "severity": None,
               "stale": stale, "no_levels": not lv}
        if lv and not stale and rec["value"] is not None:
            for name, threshold, severity in sorted(lv, key=lambda t: t[1]):
                if rec["value"] >= threshold:
                    rec.update(level=name, threshold=threshold, severity=severity)
        out.append(rec)
    return out


def salinity_alerts(latest: pd.DataFrame, levels=SALINITY_LEVELS, levels_by_station=None,
                    as_of: datetime | None = None, max_age: timedelta | None = timedelta(hours=6)) -> list[dict]:
    """:func:`level_alerts` for ``salinity`` (‰) with :data:`SALINITY_LEVELS`."""
    if as_of is None:
        max_age = None
    return level_alerts(latest, "salinity", levels, levels_by_station, as_of, max_age)


def _station_water_levels(stations: pd.DataFrame | None) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    if stations is None or "properties" not in stations.columns:
        return out
    for sid, props in zip(stations["id"].tolist(), stations["properties"].tolist()):
        props = props if isinstance(props, Mapping) else {}
        lv = props.get("alarm_levels")
        if isinstance(lv, Sequence) and not isinstance(lv, str) and 1 <= len(lv) <= 3:
            try:
                out[str(sid)] = tuple(
                    (WATER_LEVEL_NAMES[i], float(v), WATER_LEVEL_SEVERITY[i]) for i, v in enumerate(lv)
                )
            except (TypeError, ValueError):
                continue
    return out


def water_level_alerts(latest: pd.DataFrame, stations: pd.DataFrame | None = None,
                       levels_by_station: Mapping | None = None, as_of: datetime | None = None,
                       max_age: timedelta | None = timedelta(hours=6)) -> list[dict]:
    """:func:`level_alerts` for ``water_level`` (m) against per-station alarm levels
    (``levels_by_station`` first, else Station.properties ``alarm_levels`` = [I, II, III])."""
    per = _station_water_levels(stations)
    per.update(levels_by_station or {})
    if as_of is None:
        max_age = None
    return level_alerts(latest, "water_level", None, per, as_of, max_age)


def insect_alerts(latest: pd.DataFrame, levels: Mapping[str, Sequence] = INSECT_LEVELS,
                  as_of: datetime | None = None, max_age: timedelta | None = timedelta(hours=36)) -> list[dict]:
    """Latest trap counts against per-parameter levels (default :data:`INSECT_LEVELS`)."""
    if as_of is None:
        max_age = None
    out = []
    for param, lv in levels.items():
        out.extend(level_alerts(latest, param, lv, None, as_of, max_age))
    return out


def stations_offline(
    stations: pd.DataFrame,
    datastreams: pd.DataFrame,
    observations: pd.DataFrame,
    as_of: datetime,
    max_age_by_kind: Mapping[str, timedelta | None] = DEFAULT_MAX_AGE_BY_KIND,
    default_max_age: timedelta | None = DEFAULT_OFFLINE_MAX_AGE,
) -> list[dict]:
    """Stations whose newest observation is older than their kind's max age.

    ``observations`` needs ``datastream_id, phenomenon_time`` (result unused; a
    pre-aggregated frame of the newest time per datastream works too). A station with
    no observation at all is offline with ``last_at=None``. Kinds mapped to None are
    skipped. Returns ``[{station_id, name, kind, commune_code, last_at, hours_since,
    max_age_hours}]``, longest silence first (never-seen last).
    """
    require_columns(stations, ("id",), "stations")
    require_columns(datastreams, ("id", "station_id"), "datastreams")
    require_columns(observations, ("datastream_id", "phenomenon_time"), "observations")
    now = as_utc(as_of, "as_of")
    obs = observations[["datastream_id", "phenomenon_time"]].copy()
    obs["datastream_id"] = obs["datastream_id"].astype(str)
    obs["phenomenon_time"] = utc_series(obs["phenomenon_time"], "phenomenon_time")
    obs = obs[obs["phenomenon_time"] <= now]
    last_ds = obs.groupby("datastream_id")["phenomenon_time"].max()
    ds = datastreams.assign(id=datastreams["id"].astype(str), station_id=datastreams["station_id"].astype(str))
    ds = ds.assign(last=ds["id"].map(last_ds))
    last_station = ds.groupby("station_id")["last"].max() if len(ds) else pd.Series(dtype=object)
    out = []
    for row in stations.itertuples(index=False):
        sid = str(row.id)
        kind = getattr(row, "kind", None)
        max_age = max_age_by_kind.get(kind, default_max_age) if kind is not None else default_max_age
        if max_age is None:
            continue
        last = last_station.get(sid) if len(last_station) else None
        last = None if last is None or pd.isna(last) else pd.Timestamp(last)
        if last is not None and now - last <= max_age:
            continue
        out.append({
            "station_id": sid,
            "name": py(getattr(row, "name", None)),
            "kind": kind,
            "commune_code": py(getattr(row, "commune_code", None)),
            "last_at": last.to_pydatetime() if last is not None else None,
            "hours_since": round((now - last).total_seconds() / 3600.0, 2) if last is not None else None,
            "max_age_hours": round(max_age.total_seconds() / 3600.0, 2),
        })
    out.sort(key=lambda r: (r["last_at"] is None, r["last_at"] or now))
    return out
