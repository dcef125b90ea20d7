"""VN_WQI (QĐ 1460/QĐ-TCMT) — structure, interpolation and the ≥ 3 groups rule."""

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.kpi import wqi


def test_do_saturation_formula():
    # 14.652 − 0.41022·25 + 0.0079910·625 − 0.000077774·15625 = 8.17565625 mg/L
    assert wqi.do_saturation(25) == pytest.approx(8.17565625)
    assert wqi.do_percent_saturation(6.0, 25) == pytest.approx(600 / 8.17565625)


@pytest.mark.parametrize(
    ("param", "value", "q"),
    [
        ("ph", 7.0, 100),
        ("ph", 5.75, 75),  # 50 + 50/0.5·0.25
        ("ph", 8.75, 75),  # 100 − 50/0.5·0.25
        ("ph", 5.0, 10),
        ("ph", 9.5, 10),
        ("do", 100, 100),
        ("do", 150, 50),
        ("do", 20, 25),
        ("do", 35, 37.5),  # 25 + 25/30·15
        ("do", 10, 10),
        ("do", 250, 10),
        ("bod5", 5, 87.5),  # 100 − 25/2·1
        ("bod5", 3, 100),
        ("bod5", 60, 10),
        ("n_nh4", 0.3, 100),
        ("n_nh4", 0.6, 62.5),  # equal BPs 0.3/0.3 → segment (0.3, 75)–(0.9, 50)
        ("n_no2", 0.05, 100),
        ("n_no2", 0.06, 10),
        ("coliform", 3000, 95),
        ("coliform", 10001, 10),
        ("as", 0.015, 87.5),
        ("aldrin", 0.2, 10),
    ],
)
def test_parameter_sub_index(param, value, q):
    assert wqi.parameter_sub_index(param, value) == pytest.approx(q)


def test_parameter_sub_index_errors_name_input():
    with pytest.raises(ValueError, match="turbidity"):
        wqi.parameter_sub_index("turbidity", 3)
    with pytest.raises(ValueError, match="bod5"):
        wqi.parameter_sub_index("bod5", -1)
    with pytest.raises(ValueError, match="ph"):
        wqi.parameter_sub_index("ph", 15)


def test_worked_example_groups_I_IV_V():
    sample = {"ph": 7.0, "do_mg_l": 6.0, "temperature": 25.0, "bod5": 5, "cod": 12,
              "n_nh4": 0.2, "p_po4": 0.15, "coliform": 3000, "salinity": 0.3}
    r = wqi.compute(sample)
    do_pct = 600 / 8.17565625  # 73.388 % → q = 50 + (73.388 − 50) = 73.388
    q_do = do_pct
    # IV: DO 73.388, BOD5 87.5, COD 90 (100 − 25/5·2), N-NH4 100, P-PO4 87.5 (100 − 25/0.1·0.05)
    iv = (q_do + 87.5 + 90 + 100 + 87.5) / 5
    v = 95.0  # coliform 3000: 100 − 25/2500·500
    expected = 1.0 * math.sqrt(iv * v)  # pH 7 → WQI_I = 100 → factor 1
    assert r.raw == pytest.approx(expected)
    assert r.value == 91 and r.category.key == "very_good"
    assert r.groups_used == ["I", "IV", "V"]
    assert r.ignored == ["salinity"]
    assert r.do_pct == pytest.approx(do_pct)
    assert r.to_dict()["category"] == "very_good"


def test_metals_are_penalty_factor_and_v_missing():
    sample = {"bod5": 5, "cod": 12, "n_nh4": 0.2, "as": 0.015, "pb": 0.01, "ph": 7.0}
    r = wqi.compute(sample)
    iv = (87.5 + 90 + 100) / 3
    # III = min(As 87.5, Pb 100) = 87.5 → factor 0.875; V missing → bracket = IV mean
    assert r.raw == pytest.approx(0.875 * iv)
    assert r.groups["III"] == pytest.approx(87.5)


def test_needs_group_iv_with_three_parameters():
    r = wqi.compute({"ph": 7, "bod5": 5, "cod": 12, "coliform": 100})
    assert r.value is None and "group IV" in r.reason
    r = wqi.compute({"ph": 7, "bod5": 5, "cod": 12, "do_mg_l": 6.0, "coliform": 100})
    # DO without temperature cannot be turned into % saturation → rejected, IV has 2
    assert r.value is None and "do_mg_l" in r.rejected


def test_needs_three_groups():
    r = wqi.compute({"bod5": 5, "cod": 12, "n_nh4": 0.2, "coliform": 100})
    assert r.value is None and "at least 3" in r.reason
    assert r.groups_used == ["IV", "V"]


def test_bad_values_rejected_not_scored():
    r = wqi.compute({"ph": -1, "bod5": -2, "cod": float("nan"), "n_nh4": "x"})
    assert set(r.rejected) == {"ph", "bod5", "n_nh4"}
    assert r.value is None


def test_empty_sample():
    r = wqi.compute({})
    assert r.value is None and r.reason


@pytest.mark.parametrize(("v", "key"), [(100, "very_good"), (91, "very_good"), (90, "good"), (76, "good"),
                                         (75, "medium"), (51, "medium"), (50, "bad"), (26, "bad"),
                                         (25, "poor"), (10, "poor"), (9, "very_polluted"), (0, "very_polluted")])
def test_categories(v, key):
    assert wqi.category(v).key == key
    assert wqi.category(91).rgb == (51, 51, 255)


def test_wqi_frame():
    df = pd.DataFrame([
        {"ph": 7.0, "bod5": 5, "cod": 12, "n_nh4": 0.2, "coliform": 3000},
        {"ph": None, "bod5": 5, "cod": None, "n_nh4": None, "coliform": None},
    ])
    out = wqi.wqi_frame(df)
    assert out.loc[0, "wqi"] is not None and out.loc[0, "category"] is not None
    assert out.loc[1, "wqi"] is None and "group IV" in out.loc[1, "reason"]


_values = st.one_of(st.none(), st.just(float("nan")), st.just(float("inf")), st.floats(-10, 1e6),
                    st.integers(-5, 20000), st.text(max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*wqi.PARAMETER_GROUP, *wqi.AUXILIARY, "tss", "junk"]), _values))
def test_compute_defined_outcomes(sample):
    r = wqi.compute(sample)
    if r.value is None:
        assert isinstance(r.reason, str) and r.reason
    else:
        assert isinstance(r.value, int) and 0 <= r.value <= 100
        assert r.category is not None and r.reason is None
        assert len(r.groups_used) >= 3 and "IV" in r.groups_used
    for q in r.parameters.values():
        assert 10 <= q <= 100
