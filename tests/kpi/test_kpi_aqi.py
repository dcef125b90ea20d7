"""VN_AQI (QĐ 1459/QĐ-TCMT): sub-indices, NowCast, hourly and daily AQI, categories."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc.kpi import aqi
from ioc.kpi.aqi import NotApplicable, category, daily_aqi, hourly_aqi, nowcast, sub_index

# --- sub_index ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pollutant", "c", "expected"),
    [
        # PM2.5 35: segment 25–50 → I 50–100: (100−50)/(50−25)·(35−25) + 50 = 2·10 + 50 = 70
        ("pm25", 35, 70),
        # PM10 100: segment 50–150 → 50–100: 50/100·(100−50) + 50 = 75
        ("pm10", 100, 75),
        # CO 20000: segment 10000–30000 → 50–100: 50/20000·10000 + 50 = 75
        ("co", 20000, 75),
        # O3 1h 180: segment 160–200 → 50–100: 50/40·20 + 50 = 75
        ("o3_1h", 180, 75),
        # O3 8h 110: segment 100–120 → 50–100: 50/20·10 + 50 = 75
        ("o3_8h", 110, 75),
        # SO2 237.5: segment 125–350 → 50–100: 50/225·112.5 + 50 = 75
        ("so2", 237.5, 75),
        # NO2 950: segment 700–1200 → 150–200: 50/500·250 + 150 = 175
        ("no2", 950, 175),
        # breakpoints map exactly
        ("pm25", 0, 0),
        ("pm25", 25, 50),
        ("pm25", 500, 500),
        ("o3_8h", 400, 300),
        ("pm10", 600, 500),
    ],
)
def test_sub_index_worked_examples(pollutant, c, expected):
    assert sub_index(pollutant, c) == expected


def test_rounding_is_half_up():
    # PM2.5 25.25: 2·(25.25 − 25) + 50 = 50.5 → 51 (Python round() would give 50)
    assert sub_index("pm25", 25.25) == 51
    # PM2.5 0.25: 2·0.25 = 0.5 → 1
    assert sub_index("pm25", 0.25) == 1
    assert aqi.round_half_up(2.5) == 3
    assert aqi.round_half_up(2.4999) == 2


def test_above_top_breakpoint_is_500_and_flagged():
    assert sub_index("pm25", 750) == 500
    d = aqi.sub_index_detail("co", 1e6)
    assert d.value == 500 and d.capped


def test_o3_8h_above_400_not_applicable():
    with pytest.raises(NotApplicable, match="o3_8h"):
        sub_index("o3_8h", 400.01)
    assert issubclass(NotApplicable, ValueError)


@pytest.mark.parametrize("bad", ["pm2.5", "PM25", "o3", "nox", ""])
def test_unknown_pollutant_names_it(bad):
    with pytest.raises(ValueError, match="unknown pollutant"):
        sub_index(bad, 10)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), None, "12", True])
def test_bad_concentration_names_input(bad):
    with pytest.raises(ValueError, match="pm10"):
        sub_index("pm10", bad)


@settings(deadline=None)
@given(
    pollutant=st.sampled_from(aqi.POLLUTANTS),
    c=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**7)),
)
def test_sub_index_defined_outcomes(pollutant, c):
    try:
        v = sub_index(pollutant, c)
    except ValueError:
        assert c != c or c < 0 or math.isinf(c) or (pollutant == "o3_8h" and c > 400)
        return
    assert isinstance(v, int) and 0 <= v <= 500


@settings(deadline=None)
@given(
    pollutant=st.sampled_from([p for p in aqi.POLLUTANTS if p != "o3_8h"]),
    a=st.floats(0, 200000, allow_nan=False),
    b=st.floats(0, 200000, allow_nan=False),
)
def test_sub_index_monotonic(pollutant, a, b):
    lo, hi = sorted((a, b))
    assert sub_index(pollutant, lo) <= sub_index(pollutant, hi)


# --- NowCast --------------------------------------------------------------------------


def test_nowcast_worked_example_w_floor_half():
    hourly = [35, 40, 45, 30, None, 25, 20, 30, 40, 50, 45, 40]  # c1 (latest) first, c5 missing
    # Cmin = 20, Cmax = 50 → w* = 0.4 < 0.5 → w = 0.5
    # weights w^(i−1) for i = 1..12 without i = 5:
    #   1, .5, .25, .125, —, .03125, .015625, .0078125, .00390625, .001953125, .0009765625, .00048828125
    # Σ w·c = 35 + 20 + 11.25 + 3.75 + 0.78125 + 0.3125 + 0.234375 + 0.15625 + 0.09765625
    #         + 0.0439453125 + 0.01953125 = 71.6455078125
    # Σ w   = 1.93701171875
    # NowCast = 71.6455078125 / 1.93701171875 = 36.98764809…
    assert nowcast(hourly) == pytest.approx(71.6455078125 / 1.93701171875, rel=1e-12)
    assert nowcast(hourly) == pytest.approx(36.987648, abs=1e-6)
    # AQI: 2·(36.9876 − 25) + 50 = 73.975 → 74
    assert sub_index("pm25", nowcast(hourly)) == 74


def test_nowcast_worked_example_w_above_half():
    # c = 30, 25, 20 → w* = 20/30 = 2/3 > 1/2 → w = 2/3
    # Σ w·c = 30 + 25·2/3 + 20·4/9 = (270 + 150 + 80)/9 = 500/9
    # Σ w   = 1 + 2/3 + 4/9 = 19/9  → NowCast = 500/19 = 26.3157…
    assert nowcast([30, 25, 20]) == pytest.approx(500 / 19)


def test_nowcast_missing_latest_hour_keeps_positions():
    # c1 missing: c2 = 40 (weight w^1), c3 = 20 (weight w^2), w = max(20/40, .5) = .5
    # (40·.5 + 20·.25)/(.5 + .25) = 25/.75 = 33.33…
    assert nowcast([None, 40, 20]) == pytest.approx(100 / 3)
    assert nowcast([np.nan, 40, 20]) == pytest.approx(100 / 3)


def test_nowcast_needs_two_of_first_three():
    assert nowcast([10, None, None, 50, 50]) is None
    assert nowcast([None, None, 10, 50]) is None
    assert nowcast([10]) is None
    assert nowcast([]) is None
    assert nowcast([10, None, 12]) is not None


def test_nowcast_uses_only_12_hours():
    base = [10.0] * 12
    assert nowcast(base + [1000.0]) == pytest.approx(10.0)


def test_nowcast_all_zero_is_zero():
    assert nowcast([0, 0, 0]) == 0.0


def test_nowcast_negative_names_position():
    with pytest.raises(ValueError, match="c2"):
        nowcast([10, -1, 10])
    with pytest.raises(ValueError, match="c3"):
        nowcast([10, 10, float("inf")])
    with pytest.raises(TypeError):
        nowcast("12")


@settings(deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.just(float("nan")), st.floats(min_value=-5, max_value=1e5)),
        max_size=15,
    )
)
def test_nowcast_defined_outcomes(values):
    try:
        r = nowcast(values)
    except ValueError:
        assert any(v is not None and v == v and v < 0 for v in values[:12])
        return
    used = [v for v in values[:12] if v is not None and v == v]
    if r is None:
        assert sum(v is not None and v == v for v in values[:3]) < 2
    else:
        assert min(used) - 1e-9 <= r <= max(used) + 1e-9


# --- categories -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key", "rgb"),
    [
        (0, "good", (0, 228, 0)),
        (50, "good", (0, 228, 0)),
        (51, "moderate", (255, 255, 0)),
        (100, "moderate", (255, 255, 0)),
        (101, "poor", (255, 126, 0)),
        (150, "poor", (255, 126, 0)),
        (151, "bad", (255, 0, 0)),
        (200, "bad", (255, 0, 0)),
        (201, "very_bad", (143, 63, 151)),
        (300, "very_bad", (143, 63, 151)),
        (301, "hazardous", (126, 0, 35)),
        (500, "hazardous", (126, 0, 35)),
        (650, "hazardous", (126, 0, 35)),
        (50.5, "moderate", (255, 255, 0)),  # 50.5 rounds half up to 51
    ],
)
def test_category(value, key, rgb):
    cat = category(value)
    assert cat.key == key and cat.rgb == rgb
    assert cat.hex == "#{:02X}{:02X}{:02X}".format(*rgb)


def test_category_names_and_no_data():
    assert [c.name_vi for c in aqi.CATEGORIES] == ["Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu", "Nguy hại"]
    assert category(None) is None
    assert category(float("nan")) is None
    with pytest.raises(ValueError):
        category(-1)


# --- hourly_aqi -----------------------------------------------------------------------


def _hours(n, start="2025-03-01 00:00"):
    return pd.date_range(start, periods=n, freq="h", tz="UTC")


def test_hourly_aqi_nowcast_and_max():
    idx = _hours(3)
    df = pd.DataFrame({"pm25": [20.0, 25.0, 30.0], "no2": [np.nan, np.nan, 150.0]}, index=idx)
    r = hourly_aqi(df)
    assert list(r.index) == list(idx)
    # hour 0: only c1 of PM2.5 → no NowCast; no NO2 → no AQI at all
    assert r.iloc[0]["pm25"] is None and r.iloc[0]["aqi"] is None and r.iloc[0]["dominant"] is None
    # hour 2: NowCast(30, 25, 20) = 500/19 = 26.316 → 2·1.316 + 50 = 52.63 → 53
    # NO2 150 → 50/100·50 + 50 = 75 → AQI 75, dominant no2
    last = r.iloc[2]
    assert last["pm25"] == 53
    assert last["nowcast_pm25"] == pytest.approx(500 / 19)
    assert last["no2"] == 75 and last["aqi"] == 75 and last["dominant"] == "no2"
    assert isinstance(last["aqi"], int)


def test_hourly_aqi_missing_rows_are_gaps():
    idx = _hours(6)
    df = pd.DataFrame({"pm25": [10.0, 10, 10, 10, 10, 10]}, index=idx).drop(idx[[3, 4]])
    r = hourly_aqi(df)
    assert len(r) == 6  # full hourly range restored
    assert r.iloc[3]["pm25"] is not None  # c1 missing, c2 c3 present
    assert r.iloc[4]["pm25"] is None  # c1, c2 missing
    assert r.iloc[5]["pm25"] is None  # c2, c3 missing


def test_hourly_aqi_bad_values_are_dropped_and_named():
    idx = _hours(3)
    df = pd.DataFrame({"so2": [-5.0, 1e9, 100.0], "co": [1000.0, 1000.0, 1000.0]}, index=idx)
    r = hourly_aqi(df)
    assert r.iloc[0]["so2"] is None and r.iloc[0]["invalid"] == "so2"
    assert r.iloc[1]["so2"] is None and r.iloc[1]["invalid"] == "so2"
    assert r.iloc[2]["so2"] == 40 and r.iloc[2]["invalid"] is None  # 50/125·100 = 40


def test_hourly_aqi_empty_and_no_data():
    empty = hourly_aqi(pd.DataFrame(columns=["pm25"]))
    assert len(empty) == 0 and "aqi" in empty.columns
    idx = _hours(2)
    r = hourly_aqi(pd.DataFrame({"pm25": [np.nan, np.nan]}, index=idx))
    assert r["aqi"].tolist() == [None, None]


def test_hourly_aqi_rejects_bad_frames():
    idx = _hours(2)
    with pytest.raises(ValueError, match="nox"):
        hourly_aqi(pd.DataFrame({"nox": [1, 2]}, index=idx))
    with pytest.raises(ValueError, match="naive"):
        hourly_aqi(pd.DataFrame({"pm25": [1, 2]}, index=idx.tz_localize(None)))
    with pytest.raises(ValueError, match="whole hours"):
        hourly_aqi(pd.DataFrame({"pm25": [1, 2]}, index=idx + pd.Timedelta(minutes=5)))
    with pytest.raises(ValueError, match="duplicate"):
        hourly_aqi(pd.DataFrame({"pm25": [1, 2]}, index=[idx[0], idx[0]]))


frame_values = st.one_of(
    st.none(),
    st.sampled_from([float("nan"), float("inf"), -float("inf")]),
    st.floats(min_value=-100, max_value=1e7),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(st.fixed_dictionaries({c: frame_values for c in aqi.FRAME_COLUMNS}), min_size=0, max_size=30),
    drop=st.sets(st.integers(0, 29)),
)
def test_hourly_aqi_defined_outcomes(data, drop):
    idx = _hours(len(data))
    df = pd.DataFrame(data, index=idx, columns=list(aqi.FRAME_COLUMNS))
    df = df.drop(index=[idx[i] for i in drop if i < len(idx)])
    r = hourly_aqi(df)
    # to_dict("records") keeps None (pandas 3 iterrows would infer a str dtype → NaN)
    for row in r.to_dict("records"):
        subs = [row[c] for c in aqi.FRAME_COLUMNS if row[c] is not None]
        for s in subs:
            assert isinstance(s, int) and 0 <= s <= 500
        if subs:
            assert row["aqi"] == max(subs) and row["dominant"] in aqi.FRAME_COLUMNS
        else:
            assert row["aqi"] is None and row["dominant"] is None
    for row in daily_aqi(df).to_dict("records"):
        assert row["aqi"] is None or (isinstance(row["aqi"], int) and 0 <= row["aqi"] <= 500)
        assert row["hours"] >= 1


# --- daily_aqi ------------------------------------------------------------------------


def _local_day(n=24):
    # local 2025-03-01 00:00 (UTC+7) = 2025-02-28 17:00 UTC
    return pd.date_range("2025-02-28 17:00", periods=n, freq="h", tz="UTC")


def test_daily_aqi_rules():
    idx = _local_day()
    o3 = [130.0] * 24
    o3[12] = 180.0
    no2 = [100.0] * 24
    no2[5] = 250.0
    df = pd.DataFrame({"pm25": [40.0] * 24, "no2": no2, "o3": o3}, index=idx)
    d = daily_aqi(df)
    assert len(d) == 1
    row = d.iloc[0]
    assert d.index[0].isoformat() == "2025-03-01"
    # PM2.5 24-h mean 40 → 2·15 + 50 = 80
    assert row["pm25"] == 80
    # NO2 highest 1-h 250 → segment 200–700: 50/500·50 + 100 = 105
    assert row["no2"] == 105
    # O3: 1-h max 180 → 75; 8-h max (7·130 + 180)/8 = 136.25 → 100 + 50/50·16.25 = 116.25 → 116
    assert row["o3"] == 116
    assert row["aqi"] == 116 and row["dominant"] == "o3"
    assert row["hours"] == 24


def test_daily_aqi_skips_8h_above_400_and_incomplete_pm():
    idx = _local_day()
    df = pd.DataFrame({"o3": [450.0] * 24, "pm10": [80.0] * 10 + [np.nan] * 14}, index=idx)
    row = daily_aqi(df).iloc[0]
    # 8-h means of 450 are skipped; 1-h 450 → 200 + 100/400·50 = 212.5 → 213
    assert row["o3"] == 213
    # only 10 valid PM10 hours (< 18) → no daily PM10
    assert row["pm10"] is None


def test_daily_aqi_empty():
    assert len(daily_aqi(pd.DataFrame(columns=["pm25"]))) == 0
