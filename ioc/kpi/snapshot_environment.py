"""The snapshot's environment part: VN_AQI per air station (now and the last hours),
VN_WQI per water station, today's air exceedances, water exceedances of the latest
values, salinity, water-level and insect alerts, stations offline.

The rules are :mod:`ioc.kpi.aqi`, :mod:`ioc.kpi.wqi` and :mod:`ioc.kpi.environment`; the
air stations run on :class:`ioc.kpi.air_grid.AirGrid`. The newest value of every
datastream and the last hours of air observations are kept in memory and followed on the
``environment`` change stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ioc.db import models as m
from ioc.kpi import air_grid, aqi, environment, environment_sql, parameters, sql, stream, wqi
from ioc.kpi.dates import local_day, micros, ts
from ioc.kpi.jsonable import iso, plain

LATEST_NEW_ROWS_MAX = 20_000  # more new observations than this since the last build: reload instead


def round2(v, n=2):
    return None if v is None else round(float(v), n)


def category_json(cat) -> dict | None:
    if cat is None:
        return None
    return {"key": cat.key, "name_vi": cat.name_vi, "name_en": cat.name_en, "hex": cat.hex, "rgb": list(cat.rgb)}


def empty() -> dict:
    return {"has_data": False, "stations": {"total": None, "by_kind": {}, "offline": None, "datastreams": None},
            "air": [], "water": [], "exceedances": {"air_today": [], "water_latest": []}, "salinity": [],
            "water_level": [], "insects": [], "offline": []}


@dataclass(frozen=True)
class LatestRead:
    """What one refresh of the newest values read, for the air window of the same build."""

    new_rows: tuple[int, pd.DataFrame] | None  # (rows after this observation id, the rows)
    moved_without_events: bool  # the version moved but no event said what: reload the window too


class EnvironmentPart:
    """Computes the environment part; keeps the catalogue, the newest value of every
    datastream and the air window in memory."""

    def __init__(self, engine: Engine, store, zone, opts) -> None:
        self.engine = engine
        self.zone = zone
        self.opts = opts  # the builder's options (closed_ttl, air_hours), read at each build
        self.follow = stream.StreamFollower(store, "environment")
        self._catalogue_held: tuple | None = None
        self._latest_map: dict[str, tuple[int, float]] | None = None  # datastream → (µs, value)
        self._latest_loaded = 0.0
        self._latest_max_id = 0
        self._air: dict | None = None
        # memos of per-station results keyed by their inputs (a hit is the same computation)
        self._aqi_memo: dict = {}
        self._iso_memo: dict[int, str] = {}
        self._wqi_memo: dict = {}

    @property
    def latest_map(self) -> dict[str, tuple[int, float]]:
        """The newest value held per datastream: ``{id: (µs since 1970 UTC, value)}``."""
        return dict(self._latest_map or {})

    def _catalogue(self, conn) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
        """Stations and datastreams, re-read only when their signature changes, with what
        every build derives from them (station kinds, air streams, water-station streams)."""
        sig = environment_sql.environment_signature(conn)
        hit = self._catalogue_held
        if hit is not None and hit[0] == sig:
            return hit[1], hit[2], hit[3], hit[4]
        stations = environment_sql.load_stations(conn)
        stations["id"] = stations["id"].astype(str)
        ds = environment_sql.load_datastreams(conn)
        ds["station_id"] = ds["station_id"].astype(str)
        info = {r["id"]: {"name": plain(r["name"]), "kind": plain(r["kind"]), "commune_code": plain(r["commune_code"]),
                          "lat": plain(r["lat"]), "lon": plain(r["lon"])} for r in stations.to_dict("records")}
        kinds = dict(zip(stations["id"].tolist(), stations["kind"].tolist()))
        ds_kind = ds["station_id"].map(kinds)
        ds["water_station"] = ds_kind.isin(["water", "iot_water"]).to_numpy(dtype=bool)
        derived = {
            "kinds": kinds,
            "air_ids": ds.loc[(ds["code"].isin(environment.AIR_PARAMETERS) & (ds_kind == "air")).to_numpy(dtype=bool),
                              "id"].tolist(),
            "by_kind": {str(k): int(v) for k, v in stations["kind"].value_counts().sort_index().items()},
            "wqi_formula": dict(zip(stations["id"].tolist(), map(wqi.station_formula, stations["properties"]))),
        }
        self._catalogue_held = (sig, stations, ds, info, derived)
        return stations, ds, info, derived

    def _latest_values(self, conn, now: datetime, moved: bool) -> LatestRead:
        """Newest observation per datastream (``{id: (µs since 1970 UTC, value)}``), kept in
        memory and refreshed from the ``environment`` change stream (event id = datastream id).
        Returns what the air window can reuse of this read (:class:`LatestRead`)."""
        mono = time.monotonic()
        ids = None
        moved_without_events = False
        new_rows = None
        if self._latest_map is not None and mono - self._latest_loaded <= self.opts.closed_ttl:
            ids = self.follow.changes()
            if ids == [] and moved:
                ids = None
                moved_without_events = True
        o = m.Observation.__table__
        if ids:
            # Rows written since the last read (ids above the highest seen): one primary-key
            # range instead of a newest-per-stream probe for every changed stream (800 of
            # them each hour). Streams that changed without a new row (a value corrected in
            # place, rows removed by a reconciliation) are probed as before.
            d = sql.dialect_name(conn)
            new = sql.fetch(conn, select(o.c.id, o.c.datastream_id, sql.tcol(o.c.phenomenon_time, d,
                                                                                    "phenomenon_time"), o.c.result)
                               .where(o.c.id > self._latest_max_id, o.c.phenomenon_time <= now)
                               .order_by(o.c.id).limit(LATEST_NEW_ROWS_MAX + 1), ("phenomenon_time",))
            if len(new) > LATEST_NEW_ROWS_MAX:
                ids = None  # a backfill: reload
            else:
                new_rows = (self._latest_max_id, new)  # the air window reads the same rows
                self._merge_latest(conn, now, sorted(set(ids)), new)
        if ids is None:
            self.follow.mark()
            self._latest_max_id = int(conn.execute(select(func.max(o.c.id))).scalar() or 0)  # before the read
            self._latest_map = {}
            self._put_latest(environment_sql.load_latest_observations(conn, now))
            self._latest_loaded = mono
        return LatestRead(new_rows, moved_without_events)

    def _put_latest(self, df: pd.DataFrame, *, only_newer: bool = False) -> None:
        """Rows (datastream_id, phenomenon_time, result) into the newest-value map; with
        ``only_newer`` a row older than the value held does not replace it (a late hour)."""
        if not len(df):
            return
        t = micros(df["phenomenon_time"])
        order = np.argsort(t, kind="stable")  # equal times: the later row wins, as before
        mp = self._latest_map
        for ds_id, at, value in zip(df["datastream_id"].to_numpy(dtype=object)[order], t[order].tolist(),
                                    df["result"].to_numpy(dtype=float)[order].tolist()):
            key = str(ds_id)
            held = mp.get(key) if only_newer else None
            if held is None or at >= held[0]:
                mp[key] = (at, value)

    def _latest_joined(self, ds: pd.DataFrame) -> pd.DataFrame:
        """The catalogue's datastreams that have a newest value, with ``at`` and ``value``
        (in catalogue order)."""
        mp = self._latest_map or {}
        held = [mp.get(i) for i in ds["id"].to_numpy(dtype=object).tolist()]
        has = np.fromiter((h is not None for h in held), dtype=bool, count=len(held))
        got = [h for h in held if h is not None]
        at = np.fromiter((h[0] for h in got), dtype=np.int64, count=len(got)).astype("datetime64[us]")
        out = ds.rename(columns={"id": "datastream_id"})[has].reset_index(drop=True)
        out["at"] = pd.DatetimeIndex(at).tz_localize("UTC")
        out["value"] = np.fromiter((h[1] for h in got), dtype=float, count=len(got))
        return out

    def _merge_latest(self, conn, now: datetime, changed: list[str], new: pd.DataFrame) -> None:
        if len(new):
            self._latest_max_id = max(self._latest_max_id, int(new["id"].max()))
        with_rows = set(new["datastream_id"].astype(str).tolist())
        self._put_latest(new, only_newer=True)
        rest = sorted(set(changed) - with_rows)
        if rest:  # changed without a new row: the stream's newest row as SQL has it now (or none)
            for key in rest:
                self._latest_map.pop(key, None)
            self._put_latest(environment_sql.load_latest_observations(conn, now, rest))

    def _air_window(self, conn, air_ids: list, since: pd.Timestamp, now: datetime, latest: LatestRead) -> pd.DataFrame:
        """Air observations since ``since``, kept in memory: each build appends the rows
        written since the last read (``observations.id`` above the highest seen — new
        and late-arriving hours alike), taken from this build's ``latest`` read when it read
        them; a value corrected in place keeps its id and is picked up by the full reload
        every ``closed_ttl`` seconds (or at once when the version moved without events)."""
        o = m.Observation.__table__
        mono = time.monotonic()
        w = self._air
        if (w is None or mono - w["loaded"] > self.opts.closed_ttl or w["ids"] != tuple(air_ids)
                or since < w["since"] or latest.moved_without_events):
            top = conn.execute(select(func.max(o.c.id))).scalar() or 0
            obs = environment_sql.load_observations(conn, air_ids, since.to_pydatetime(), now)
            self._air = {"since": since, "loaded": mono, "ids": tuple(air_ids), "obs": obs,
                         "max_id": max(int(top), int(obs["id"].max()) if len(obs) else 0)}
            return obs
        shared = latest.new_rows
        if shared is not None and shared[0] == w["max_id"]:  # the rows the latest values just read
            new = shared[1]
            pt = new["phenomenon_time"]
            new = new[(new["datastream_id"].isin(air_ids) & (pt >= since) & (pt <= ts(now))).to_numpy(dtype=bool)]
            w["max_id"] = max(w["max_id"], int(shared[1]["id"].max()) if len(shared[1]) else 0)
        else:
            new = environment_sql.load_observations(conn, air_ids, since.to_pydatetime(), now, after_id=w["max_id"])
        obs = w["obs"]
        if len(new):
            w["max_id"] = max(w["max_id"], int(new["id"].max()))
            # a row for a (stream, time) already held replaces it; checked against a key set
            # rather than a drop_duplicates over the whole window each build
            keys = w.get("keys")
            if keys is None:
                keys = w["keys"] = set(zip(obs["datastream_id"].tolist(), micros(obs["phenomenon_time"]).tolist()))
            nk = list(zip(new["datastream_id"].tolist(), micros(new["phenomenon_time"]).tolist()))
            obs = pd.concat([obs, new], ignore_index=True)
            if len(set(nk)) < len(nk) or not keys.isdisjoint(nk):
                obs = obs.drop_duplicates(["datastream_id", "phenomenon_time"], keep="last")
            keys.update(nk)
        t = micros(obs["phenomenon_time"])
        keep = (t >= since.value // 1000) & (t <= ts(now).value // 1000)
        if not keep.all():
            obs = obs[keep].reset_index(drop=True)
            w.pop("keys", None)  # rebuilt from what is kept
        w["obs"] = obs
        w["since"] = since
        return w["obs"]

    def compute(self, now: datetime, *, moved: bool) -> dict:
        """The part at ``now``; ``moved``: the source's version changed since the last call."""
        n = ts(now)
        with sql.connect(self.engine) as conn:
            stations, ds, info, derived = self._catalogue(conn)
            if len(stations) == 0:
                return empty()
            latest = self._latest_values(conn, now, moved)
            air_ids = derived["air_ids"]
            hours = self.opts.air_hours + 11  # NowCast needs 11 hours of history
            air_obs = self._air_window(conn, air_ids, n.floor("h") - pd.Timedelta(hours=hours), now, latest)
        lv = self._latest_joined(ds)
        latest_kpi = lv.assign(parameter=lv["code"])[["station_id", "parameter", "unit", "at", "value"]]
        kinds = derived["kinds"]

        grid = air_grid.AirGrid(air_obs, ds, n - pd.Timedelta(hours=hours + 1), n)
        air = self._air_section(grid, n, info, kinds)
        water = self._water_section(lv, info, kinds, derived["wqi_formula"])
        today = local_day(n, self.zone)
        air_ex = grid.exceedances(today, today, self.zone)
        wq = lv[lv["water_station"].to_numpy(dtype=bool)]
        water_ex = environment_sql.water_exceedances_latest(wq)
        sal = environment.salinity_alerts(latest_kpi[latest_kpi["parameter"] == "salinity"], as_of=n)
        level_rows = latest_kpi[latest_kpi["parameter"] == "water_level"].copy()
        if len(level_rows):
            level_rows["value"] = [parameters.water_level_metres(v, u)
                                   for v, u in zip(level_rows["value"].tolist(), level_rows["unit"].tolist(),
                                                   strict=True)]
            level_rows["unit"] = "m"
        levels = environment.water_level_alerts(level_rows, stations, as_of=n)
        insects = environment.insect_alerts(latest_kpi[latest_kpi["parameter"].isin(list(environment.INSECT_LEVELS))],
                                            as_of=n)
        offline = environment_sql.stations_offline_latest(stations, ds, self._latest_map, n)

        def named(rows):
            out = []
            for r in rows:
                r = {k: plain(v) for k, v in r.items()}
                r["station_name"] = info.get(str(r.get("station_id")), {}).get("name")
                out.append(r)
            return out

        by_kind = derived["by_kind"]
        return {
            "has_data": True,
            "stations": {"total": int(len(stations)), "by_kind": by_kind, "offline": len(offline),
                         "datastreams": int(len(ds))},
            "air": air,
            "water": water,
            "exceedances": {"air_today": named(air_ex), "water_latest": named(water_ex)},
            "salinity": named(sal),
            "water_level": named(levels),
            "insects": named(insects),
            "offline": named(offline),
        }

    def _air_section(self, grid: air_grid.AirGrid, n: pd.Timestamp, info: dict, kinds: dict) -> list[dict]:
        max_age = environment.DEFAULT_MAX_AGE_BY_KIND["air"]
        out = []
        memo = self._aqi_memo
        if len(memo) > 20_000:
            memo.clear()
        for sid in sorted(k for k, v in kinds.items() if v == "air"):
            base = {"station_id": sid, **info[sid], "hour": None, "aqi": None, "category": None, "dominant": None,
                    "nowcast_pm25": None, "nowcast_pm10": None, "sub_indices": None, "current": False,
                    "last": None, "trend": []}
            if sid not in grid.values:
                out.append(base)
                continue
            rows = grid.hourly_aqi(sid, self.opts.air_hours, memo=memo)
            base["trend"] = [{"hour": self._hour_iso(r["hour"]), "aqi": r["aqi"]} for r in rows]
            with_value = [r for r in rows if r["aqi"] is not None]
            if not with_value:
                out.append(base)
                continue
            r = with_value[-1]
            cat = category_json(aqi.category(r["aqi"]))
            base["last"] = {"hour": iso(r["hour"]), "aqi": r["aqi"], "dominant": r["dominant"], "category": cat}
            current = n - r["hour"] <= max_age
            base["current"] = bool(current)
            if current:
                base.update(hour=iso(r["hour"]), aqi=r["aqi"], category=cat, dominant=r["dominant"],
                            nowcast_pm25=round2(r["nowcast_pm25"]), nowcast_pm10=round2(r["nowcast_pm10"]),
                            sub_indices={p: r[p] for p in ("pm25", "pm10", "no2", "so2", "co", "o3")})
            out.append(base)
        return out

    def _hour_iso(self, h: pd.Timestamp) -> str:
        memo = self._iso_memo
        hit = memo.get(h.value)
        if hit is None:
            if len(memo) > 10_000:
                memo.clear()
            hit = memo[h.value] = iso(h)
        return hit

    def _water_section(self, lv: pd.DataFrame, info: dict, kinds: dict, formulas: dict) -> list[dict]:
        """VN_WQI per water station from its newest values: one sample = the newest value
        of each parameter measured within 24 h of the station's newest one."""
        wq_params = set(wqi.PARAMETER_GROUP) | {"temperature", "do_pct"}
        sel = lv[lv["code"].isin(wq_params).to_numpy(dtype=bool)]
        by_station: dict[str, list] = {}
        ats = micros(sel["at"])
        for sid, code, unit, at, value in zip(sel["station_id"].tolist(), sel["code"].tolist(), sel["unit"].tolist(),
                                              ats.tolist(), sel["value"].tolist()):
            by_station.setdefault(sid, []).append((code, unit, int(at), float(value)))
        out = []
        day_us = 24 * 3600 * 1_000_000
        memo = self._wqi_memo
        for sid in sorted(k for k, v in kinds.items() if v in ("water", "iot_water")):
            rows = by_station.get(sid)
            if not rows:
                if kinds[sid] != "iot_water":  # level/salinity gauges: no WQI expected
                    out.append({"station_id": sid, **info[sid], "sampled_at": None, "oldest_value_at": None,
                                "wqi": None, "category": None, "reason": "no water-quality parameters measured",
                                "groups": {}, "parameters": {}, "groups_used": [], "rejected": {}, "do_pct": None,
                                "values": {}})
                continue
            key = (formulas[sid], tuple(sorted(rows)))  # formula 3/4 or 5, per station (QĐ 1460)
            hit = memo.get(sid)
            if hit is None or hit[0] != key:  # the WQI of the same values is the same: computed once
                newest = max(r[2] for r in rows)
                sample, times = {}, []
                for code, unit, at, value in rows:
                    if at < newest - day_us:
                        continue
                    if code == "do" and str(unit or "").strip() == "%":
                        code = "do_pct"
                    sample[code] = value
                    times.append(at)
                hit = memo[sid] = (key, wqi.compute(sample, formulas[sid]), sample,
                                   iso(pd.Timestamp(newest, unit="us", tz="UTC")),
                                   iso(pd.Timestamp(min(times), unit="us", tz="UTC")))
            _key, res, sample, sampled_at, oldest_at = hit
            # a new record each build: nothing the memo holds is shared with a snapshot
            out.append({"station_id": sid, **info[sid], "sampled_at": sampled_at, "oldest_value_at": oldest_at,
                        "wqi": res.value,
                        "category": category_json(res.category), "reason": res.reason,
                        "groups": {k: round2(v) for k, v in res.groups.items()},
                        "parameters": {k: round2(v) for k, v in res.parameters.items()},
                        "groups_used": list(res.groups_used), "rejected": dict(res.rejected),
                        "do_pct": round2(res.do_pct), "values": {k: round2(v, 4) for k, v in sample.items()}})
        return out
