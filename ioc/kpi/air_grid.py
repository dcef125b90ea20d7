"""Air observations on one hourly numpy grid: hourly and daily VN_AQI and QCVN 05
exceedances of every air station in a few array passes.

The rules are :mod:`ioc.kpi.aqi` (sub-indices, NowCast, the station maximum — called here
for the arithmetic) and :func:`ioc.kpi.environment.air_exceedances`; :class:`AirGrid` only
arranges the data so they run per array instead of per hour. Checked against the plain
functions on random data (tests/kpi/test_fast_paths.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioc.kpi import aqi
from ioc.kpi.dates import ts
from ioc.kpi.environment import AIR_LIMITS_QCVN05_2023, AIR_PARAMETERS, Limit, to_ugm3

def _hour_row(h: pd.Timestamp, arr: np.ndarray, lo: int, pos: int) -> dict:
    """One hour's VN_AQI row from the station's hourly array (columns pm25 pm10 no2 so2 co
    o3): NowCast over rows lo..pos for PM, the hour's own value for the gases."""
    subs: dict[str, int | None] = {}
    nowcasts: dict[str, float | None] = {}
    for j, p in ((0, "pm25"), (1, "pm10")):
        window = arr[lo:pos + 1, j][::-1]
        nc = aqi.nowcast_value([None if x != x else float(x) for x in window])
        nowcasts[p] = nc
        subs[p] = aqi.sub_or_none(p, nc) if nc is not None else None
    for j, p, key in ((2, "no2", "no2"), (3, "so2", "so2"), (4, "co", "co"), (5, "o3", "o3_1h")):
        subs[p] = aqi.sub_or_none(key, arr[pos, j])
    value, dominant = aqi.station_max(subs)
    return {"hour": h, **subs, "aqi": value, "dominant": dominant,
            "nowcast_pm25": nowcasts["pm25"], "nowcast_pm10": nowcasts["pm10"]}


class AirGrid:
    """Hourly means (µg/m³) of every air station on one UTC hourly grid, as numpy:
    ``values[sid]`` is an (hours × 6) array in :data:`aqi.FRAME_COLUMNS` order with NaN
    for missing, invalid (negative, infinite, above :data:`aqi.PLAUSIBLE_MAX`) or
    unconvertible values. ``first``/``last`` are each station's first and last hour with
    data — the range the per-station functions reindex to, so results match them."""

    COLS = aqi.FRAME_COLUMNS

    def __init__(self, observations: pd.DataFrame, datastreams: pd.DataFrame, start: pd.Timestamp,
                 end: pd.Timestamp) -> None:
        self.start = ts(start).floor("h")
        self.hours = int((ts(end).floor("h") - self.start) / pd.Timedelta(hours=1)) + 1
        self.grid = pd.date_range(self.start, periods=self.hours, freq="h", tz="UTC")
        self.values: dict[str, np.ndarray] = {}
        self.raw: dict[str, np.ndarray] = {}  # negatives masked only (what air_exceedances judges)
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self._days_cache: tuple | None = None  # (zone key, day codes, 8-hour label codes, days)
        self._hours_list: list[pd.Timestamp] | None = None
        if len(observations) == 0:
            return
        ds = datastreams[datastreams["code"].isin(AIR_PARAMETERS)]
        if ds.empty:
            return
        # integer code per (station, parameter, unit); unconvertible units dropped
        triples: dict[tuple, int] = {}
        ds_code: dict[str, int] = {}
        factor: list[float] = []
        for i, st, c, u in zip(*(ds[k].to_numpy(dtype=object).tolist() for k in ("id", "station_id", "code", "unit"))):
            u = u or ""
            try:
                f = float(to_ugm3(1.0, u if u else "µg/m³", c))
            except ValueError:
                continue
            key = (str(st), c, u)
            if key not in triples:
                triples[key] = len(triples)
                factor.append(f)
            ds_code[str(i)] = triples[key]
        # hash lookup of each row's datastream (Series.map with a dict goes row by row)
        pos = pd.Index(list(ds_code)).get_indexer(observations["datastream_id"].astype(str))
        codes = np.where(pos >= 0, np.asarray(list(ds_code.values()) + [0], dtype=float)[pos], np.nan)
        res = observations["result"].to_numpy(dtype=float)
        t = observations["phenomenon_time"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        hour = (t - self.start.value // 1000) // 3_600_000_000
        keep = ~np.isnan(codes) & np.isfinite(res) & (hour >= 0) & (hour < self.hours)
        if not keep.any():
            return
        codes = codes[keep].astype(np.int64)
        hour = hour[keep]
        res = res[keep] * np.asarray(factor)[codes]
        # hourly mean per (station, parameter, unit), then across units (as air_station_hourly)
        n_t = len(triples)
        flat = codes * self.hours + hour
        sums = np.bincount(flat, weights=res, minlength=n_t * self.hours)
        cnts = np.bincount(flat, minlength=n_t * self.hours)
        with np.errstate(invalid="ignore", divide="ignore"):
            unit_means = (sums / cnts).reshape(n_t, self.hours)
        has = (cnts > 0).reshape(n_t, self.hours)
        by_sp: dict[tuple[str, int], list[int]] = {}
        for (st, c, _u), k in triples.items():
            by_sp.setdefault((st, self.COLS.index(c)), []).append(k)
        stations: dict[str, np.ndarray] = {}
        for (st, j), ks in by_sp.items():
            if not has[ks].any():
                continue
            arr = stations.setdefault(st, np.full((self.hours, len(self.COLS)), np.nan))
            if len(ks) == 1:
                arr[:, j] = unit_means[ks[0]]
            else:
                with np.errstate(invalid="ignore"):
                    arr[:, j] = np.nanmean(np.where(has[ks], unit_means[ks], np.nan), axis=0)
        ceil = np.array([aqi.PLAUSIBLE_MAX[c] for c in self.COLS])
        for st in sorted(stations):
            arr = stations[st]
            present = np.flatnonzero(~np.isnan(arr).all(axis=1))
            if not len(present):
                continue
            self.raw[st] = np.where(arr < 0, np.nan, arr)
            self.values[st] = np.where((arr < 0) | np.isinf(arr) | (arr > ceil), np.nan, arr)
            self.first[st] = int(present[0])
            self.last[st] = int(present[-1])

    def _local_days(self, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray, list[date]]:
        """Per grid hour: local day code (and the day code of the hour − 7 h, the label
        of an 8-hour window ending there); codes index the returned list of dates."""
        hit = self._days_cache
        if hit is not None and hit[0] == zone.key:
            return hit[1], hit[2], hit[3]
        d1 = pd.Index(self.grid.tz_convert(zone).date)
        d8 = pd.Index((self.grid - pd.Timedelta(hours=7)).tz_convert(zone).date)
        uniq = sorted(set(d1) | set(d8))
        pos = {d: i for i, d in enumerate(uniq)}
        c1 = np.array([pos[d] for d in d1], dtype=np.int64)
        c8 = np.array([pos[d] for d in d8], dtype=np.int64)
        self._days_cache = (zone.key, c1, c8, uniq)
        return c1, c8, uniq

    def hourly_aqi(self, sid: str, last_n: int, memo: dict | None = None) -> list[dict]:
        """Hourly VN_AQI rows (:func:`ioc.kpi.aqi.hourly_aqi`: hour, sub-indices, aqi, dominant,
        NowCasts) of the station's last ``last_n`` hours (of its range)."""
        if sid not in self.values:
            return []
        arr = self.values[sid]
        a, b = self.first[sid], self.last[sid]
        out = []
        hours = self._hours_list
        if hours is None:
            hours = self._hours_list = list(self.grid)  # Timestamps once, not one index lookup per row
        for pos in range(max(a, b - last_n + 1), b + 1):
            lo = max(a, pos - 11)
            key = None
            h = hours[pos]
            if memo is not None:
                key = (sid, h.value, arr[lo:pos + 1, :2].tobytes(), arr[pos, 2:].tobytes())
                hit = memo.get(key)
                if hit is not None:
                    out.append(hit)
                    continue
            row = _hour_row(h, arr, lo, pos)
            if key is not None:
                memo[key] = row
            out.append(row)
        return out

    def daily_aqi(self, sid: str, tz: str | ZoneInfo, min_pm_hours: int = aqi.DAILY_PM_MIN_HOURS,
                  min_o3_8h_hours: int = aqi.O3_8H_MIN_HOURS) -> dict[date, dict]:
        """:func:`aqi.daily_aqi` of one station: ``{local date: {pm25 … o3, aqi,
        dominant, hours}}`` — day reductions with bincount over the grid."""
        if sid not in self.values:
            return {}
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
        c1, _c8, uniq = self._local_days(zone)
        a, b = self.first[sid], self.last[sid]
        v = self.values[sid][a:b + 1]
        d = c1[a:b + 1]
        nd = len(uniq)
        ok = ~np.isnan(v)
        hours = np.bincount(d, weights=ok.any(axis=1).astype(float), minlength=nd)
        o3_8h = pd.Series(v[:, 5]).rolling(8, min_periods=min_o3_8h_hours).mean().to_numpy()
        o3_8h = np.where(o3_8h <= aqi.BREAKPOINTS["o3_8h"][-1], o3_8h, np.nan)

        def day_max(x):
            m_ = np.full(nd, -np.inf)
            good = ~np.isnan(x)
            np.maximum.at(m_, d[good], x[good])
            return np.where(np.isinf(m_), np.nan, m_)

        cnt = {j: np.bincount(d[ok[:, j]], minlength=nd) for j in range(6)}
        out: dict[date, dict] = {}
        for k in np.flatnonzero(hours > 0):
            out[uniq[k]] = {}
        if not out:
            return {}
        pm_mean = {}
        for j, p in ((0, "pm25"), (1, "pm10")):
            pm_mean[p] = {k: float(pd.Series(v[(d == k) & ok[:, j], j]).mean())
                          for k in np.flatnonzero(cnt[j] >= min_pm_hours)}
        maxes = {j: day_max(v[:, j]) for j in (2, 3, 4, 5)}
        m8 = day_max(o3_8h)
        for k in np.flatnonzero(hours > 0):
            subs: dict[str, int | None] = {}
            for p in ("pm25", "pm10"):
                subs[p] = aqi.sub_or_none(p, pm_mean[p][k]) if k in pm_mean[p] else None
            for j, p in ((2, "no2"), (3, "so2"), (4, "co")):
                subs[p] = aqi.sub_or_none(p, float(maxes[j][k])) if cnt[j][k] else None
            a1 = aqi.sub_or_none("o3_1h", float(maxes[5][k])) if cnt[5][k] else None
            a8 = aqi.sub_or_none("o3_8h", float(m8[k])) if not np.isnan(m8[k]) else None
            cands = [x for x in (a1, a8) if x is not None]
            subs["o3"] = max(cands) if cands else None
            value, dominant = aqi.station_max(subs)
            out[uniq[k]] = {**subs, "aqi": value, "dominant": dominant, "hours": int(hours[k])}
        return out

    def exceedances(self, first_day: date, last_day: date, tz: str | ZoneInfo,
                    limits: Mapping[str, Mapping[str, Limit]] = AIR_LIMITS_QCVN05_2023, min_hours_24h: int = 18,
                    min_hours_8h: int = 6) -> list[dict]:
        """:func:`ioc.kpi.environment.air_exceedances` of every station for the local days
        ``first_day`` … ``last_day``: the same rows in the same order (station, pollutant,
        averaging, day), one numpy pass per limit over all stations. Like the definition,
        negative values count as missing and implausibly high ones are kept."""
        sids = sorted(self.raw)
        if not sids:
            return []
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
        c1, c8, uniq = self._local_days(zone)
        inday = np.array([first_day <= d <= last_day for d in uniq], dtype=bool)
        pos = np.arange(self.hours)
        first = np.array([self.first[s] for s in sids])[:, None]
        last = np.array([self.last[s] for s in sids])[:, None]
        inrange = (pos[None, :] >= first) & (pos[None, :] <= last)  # each station's own first..last hour
        raw = np.stack([self.raw[s] for s in sids])
        at8 = self.grid - pd.Timedelta(hours=7)  # an 8-hour mean is labelled by its window's start
        rows: list[list[dict]] = [[] for _ in sids]
        for param, per in limits.items():
            if param not in self.COLS:
                continue
            v = np.where(inrange, raw[:, :, self.COLS.index(param)], np.nan)
            has = ~np.isnan(v).all(axis=1)
            for averaging, lim in per.items():
                if averaging == "24h":
                    for i in np.flatnonzero(has):
                        ok = ~np.isnan(v[i]) & inday[c1]
                        for k in np.flatnonzero(np.bincount(c1[ok], minlength=len(uniq)) >= min_hours_24h):
                            mean = float(np.mean(v[i][ok & (c1 == k)]))
                            if mean > lim.value:
                                rows[i].append({"station_id": sids[i], "parameter": param, "averaging": "24h",
                                                "date": uniq[k], "max_value": round(mean, 3), "limit": lim.value,
                                                "exceed_count": 1, "first_at": None})
                    continue
                if averaging == "1h":
                    vals, days, at = v, c1, self.grid
                elif averaging == "8h":
                    vals, days, at = np.where(inrange, rolling_mean(v, 8, min_hours_8h), np.nan), c8, at8
                else:
                    raise ValueError(f"unknown averaging period {averaging!r} for {param}")
                with np.errstate(invalid="ignore"):
                    ex = inday[days][None, :] & (vals > lim.value)
                for i in np.flatnonzero(has & ex.any(axis=1)):
                    hit = np.flatnonzero(ex[i])
                    for k in np.unique(days[hit]):
                        w = hit[days[hit] == k]
                        rows[i].append({"station_id": sids[i], "parameter": param, "averaging": averaging,
                                        "date": uniq[k], "max_value": round(float(np.max(vals[i, w])), 3),
                                        "limit": lim.value, "exceed_count": int(len(w)),
                                        "first_at": at[w[0]].to_pydatetime()})
        return [r for per_station in rows for r in per_station]



def rolling_mean(col: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """``Series(col).rolling(window, min_periods).mean()`` in numpy (NaN = missing): the
    mean of the present values of each trailing window, NaN with fewer than
    ``min_periods`` of them (equal to pandas' up to float rounding in the last bits)."""
    col = np.asarray(col, dtype=float)  # 1-d, or 2-d with one series per row
    pad = np.concatenate([np.full(col.shape[:-1] + (window - 1,), np.nan), col], axis=-1)
    win = np.lib.stride_tricks.sliding_window_view(pad, window, axis=-1)
    present = (~np.isnan(win)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(win, axis=-1) / present
    return np.where(present >= min_periods, mean, np.nan)
