"""Environmental thresholds, level alerts, station offline."""

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from ioc.kpi import aqi, environment as env

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
NOW = datetime(2025, 3, 2, 0, 0, tzinfo=timezone.utc)


def datastreams():
    return pd.DataFrame({
        "id": ["d-pm", "d-no2", "d-co", "d-sal", "d-lvl", "d-bod", "d-ph", "d-ins"],
        "station_id": ["air1", "air1", "air1", "w1", "w1", "ws", "ws", "trap"],
        "parameter": ["pm25", "no2", "co", "salinity", "water_level", "bod5", "ph", "insect_count"],
        "unit": ["µg/m³", "ppb", "mg/m³", "‰", "m", "mg/L", "", "count"],
    })


def air_obs():
    # local day 2025-03-01 = 2025-02-28 17:00 … 2025-03-01 16:00 UTC, two readings per hour
    hours = pd.date_range("2025-02-28 17:00", periods=24, freq="h", tz="UTC")
    rows = []
    for i, h in enumerate(hours):
        rows.append(("d-pm", h, 60.0))
        rows.append(("d-pm", h + timedelta(minutes=30), 40.0))  # hourly mean 50 → 24 h mean 50 (= limit)
        rows.append(("d-no2", h, 120.0 if i != 3 else 200.0))  # ppb; ×46.0055/24.45 → 225.8 / 376.3 µg/m³
        rows.append(("d-co", h, 5.0))  # mg/m³ → 5000 µg/m³
    return pd.DataFrame(rows, columns=["datastream_id", "phenomenon_time", "result"])


def test_hourly_means_and_units():
    hm = env.hourly_means(air_obs(), datastreams())
    pm = hm[hm["parameter"] == "pm25"]
    assert len(pm) == 24 and (pm["value"] == 50.0).all() and (pm["n"] == 2).all()
    wide = env.air_station_hourly(hm, "air1")
    assert wide["co"].iloc[0] == pytest.approx(5000.0)
    assert wide["no2"].iloc[0] == pytest.approx(120 * 46.0055 / 24.45)
    # feeds hourly_aqi directly
    r = aqi.hourly_aqi(wide)
    assert r.iloc[-1]["pm25"] == 100  # NowCast of constant 50 = 50 → AQI 100


def test_air_exceedances():
    ex = env.air_exceedances(env.hourly_means(air_obs(), datastreams()))
    keys = {(e["parameter"], e["averaging"]) for e in ex}
    # NO2 1 h: 200 ppb = 376.3 µg/m³ > 200 and 120 ppb = 225.8 > 200 → all 24 hours
    no2_1h = next(e for e in ex if e["parameter"] == "no2" and e["averaging"] == "1h")
    assert no2_1h["exceed_count"] == 24 and no2_1h["date"] == date(2025, 3, 1)
    assert no2_1h["max_value"] == pytest.approx(200 * 46.0055 / 24.45, abs=1e-3)
    assert ("no2", "24h") in keys  # 24 h mean ≈ 232 > 100
    assert ("pm25", "24h") not in keys  # 50 is not above 50
    assert not any(e["parameter"] == "co" for e in ex)  # 5000 < 10000 (8 h), < 30000 (1 h)


def test_air_exceedances_empty():
    assert env.air_exceedances(env.hourly_means(air_obs().iloc[0:0], datastreams())) == []


def test_unit_conversion_errors():
    with pytest.raises(ValueError, match="furlongs"):
        env.to_ugm3(1.0, "furlongs", "pm25")
    with pytest.raises(ValueError):
        env.to_ugm3(1.0, "ppb", "pm25")  # ppb makes no sense for particles


def test_water_exceedances():
    obs = pd.DataFrame({
        "datastream_id": ["d-bod", "d-bod", "d-ph", "d-ph", "d-bod"],
        "phenomenon_time": [T("2025-03-01"), T("2025-03-02"), T("2025-03-01"), T("2025-03-02"), T("2025-03-03")],
        "result": [4.0, 9.0, 7.0, 9.1, -1.0],
    })
    ex = env.water_exceedances(obs, datastreams())
    assert [(e["parameter"], e["value"]) for e in ex] == [("bod5", 9.0), ("ph", 9.1)]
    assert ex[1]["limit"] == [6.0, 8.5]


def level_obs():
    return pd.DataFrame({
        "datastream_id": ["d-sal", "d-sal", "d-lvl", "d-ins"],
        "phenomenon_time": [T("2025-03-01 20:00"), T("2025-03-01 23:00"), T("2025-03-01 23:00"), T("2025-03-01 12:00")],
        "result": [1.0, 4.2, 2.3, 1500.0],
    })


def test_salinity_and_level_alerts():
    latest = env.latest_values(level_obs(), datastreams())
    sal = env.salinity_alerts(latest, as_of=NOW)
    assert sal[0]["value"] == 4.2 and sal[0]["level"] == "alert" and sal[0]["severity"] == "critical"
    stale = env.salinity_alerts(latest, as_of=NOW + timedelta(hours=12))
    assert stale[0]["stale"] and stale[0]["level"] is None
    stations = pd.DataFrame({"id": ["w1"], "properties": [{"alarm_levels": [1.8, 2.1, 2.4]}]})
    wl = env.water_level_alerts(latest, stations, as_of=NOW)
    assert wl[0]["level"] == "bao_dong_2" and wl[0]["threshold"] == 2.1
    no_levels = env.water_level_alerts(latest, None, as_of=NOW)
    assert no_levels[0]["no_levels"] and no_levels[0]["level"] is None
    ins = env.insect_alerts(latest, as_of=NOW)
    assert ins[0]["level"] == "warning"


def test_stations_offline():
    stations = pd.DataFrame({
        "id": ["air1", "w1", "ws", "trap", "ghost"],
        "name": ["A", "W", "S", "Trap", "Ghost"],
        "kind": ["air", "iot_water", "water", "insect", "air"],
    })
    off = env.stations_offline(stations, datastreams(), level_obs(), NOW)
    ids = [o["station_id"] for o in off]
    # w1 last 23:00 → 1 h ago (online); ws manual sampling → skipped; trap 12 h (< 36 h) online;
    # air1 never reported and ghost has no datastream → offline, never seen
    assert ids == ["air1", "ghost"]
    assert off[0]["last_at"] is None and off[0]["hours_since"] is None
    off = env.stations_offline(stations, datastreams(), level_obs(), NOW + timedelta(hours=5))
    assert "w1" in [o["station_id"] for o in off]
    w1 = next(o for o in off if o["station_id"] == "w1")
    assert w1["hours_since"] == 6.0 and w1["max_age_hours"] == 3.0


def test_nan_and_inf_results_are_ignored():
    obs = pd.DataFrame({"datastream_id": ["d-sal", "d-sal"], "phenomenon_time": [T("2025-03-01"), T("2025-03-01 01:00")],
                        "result": [2.0, np.inf]})
    latest = env.latest_values(obs, datastreams())
    assert latest["value"].tolist() == [2.0]
