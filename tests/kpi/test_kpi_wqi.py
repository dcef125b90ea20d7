"""VN_WQI as QĐ 1460/QĐ-TCMT computes it: every sub-index table at and between its
breakpoints, the group rules and formulas 3, 4 and 5, the decision's worked example (§2.3),
the ≥ 3 groups rule, and formula 5 chosen per station (Station.properties) in the snapshot.

The expected values below are typed from the decision's tables independently of the tables
in ioc/kpi/wqi.py, so a mistyped row fails here."""

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.kpi import wqi


def test_do_saturation_formula():
    # 14.652 − 0.41022·25 + 0.0079910·625 − 0.000077774·15625 = 8.17565625 mg/L
    assert wqi.do_saturation(25) == pytest.approx(8.17565625)
    assert wqi.do_percent_saturation(6.0, 25) == pytest.approx(600 / 8.17565625)


# (parameter, value, q): at each breakpoint its q; half-way between two breakpoints the mean
# of their q (the line of formulas 1 and 2); below the first and beyond the last the end values.
BANG_1_CASES = [
    # BOD5 ≤4 | 6 | 15 | 25 | ≥50
    ("bod5", 0, 100), ("bod5", 4, 100), ("bod5", 5, 87.5), ("bod5", 6, 75), ("bod5", 10.5, 62.5),
    ("bod5", 15, 50), ("bod5", 20, 37.5), ("bod5", 25, 25), ("bod5", 37.5, 17.5), ("bod5", 50, 10),
    ("bod5", 80, 10),
    # COD ≤10 | 15 | 30 | 50 | ≥150
    ("cod", 10, 100), ("cod", 12.5, 87.5), ("cod", 15, 75), ("cod", 22.5, 62.5), ("cod", 30, 50),
    ("cod", 40, 37.5), ("cod", 50, 25), ("cod", 100, 17.5), ("cod", 150, 10), ("cod", 151, 10),
    # TOC ≤4 | 6 | 15 | 25 | ≥50
    ("toc", 4, 100), ("toc", 5, 87.5), ("toc", 6, 75), ("toc", 15, 50), ("toc", 20, 37.5), ("toc", 25, 25),
    ("toc", 37.5, 17.5), ("toc", 50, 10), ("toc", 51, 10),
    # N-NH4 <0.3 | 0.3 | 0.6 | 0.9 | ≥5: steps from 100 to 75 at 0.3; 50 at 0.6
    ("n_nh4", 0.299, 100), ("n_nh4", 0.3, 75), ("n_nh4", 0.45, 62.5), ("n_nh4", 0.6, 50),
    ("n_nh4", 0.75, 37.5), ("n_nh4", 0.9, 25), ("n_nh4", 2.95, 17.5), ("n_nh4", 5, 10), ("n_nh4", 6, 10),
    # N-NO3 ≤2 | 5 | 10 | 15 | >15: 10 as soon as it exceeds 15
    ("n_no3", 2, 100), ("n_no3", 3.5, 87.5), ("n_no3", 5, 75), ("n_no3", 7.5, 62.5), ("n_no3", 10, 50),
    ("n_no3", 12.5, 37.5), ("n_no3", 15, 25), ("n_no3", 15.01, 10), ("n_no3", 20, 10),
    # N-NO2 ≤0.05 | - | - | - | >0.05
    ("n_no2", 0.01, 100), ("n_no2", 0.05, 100), ("n_no2", 0.0501, 10), ("n_no2", 1, 10),
    # P-PO4 ≤0.1 | 0.2 | 0.3 | 0.5 | ≥4
    ("p_po4", 0.1, 100), ("p_po4", 0.15, 87.5), ("p_po4", 0.2, 75), ("p_po4", 0.25, 62.5), ("p_po4", 0.3, 50),
    ("p_po4", 0.4, 37.5), ("p_po4", 0.5, 25), ("p_po4", 2.25, 17.5), ("p_po4", 4, 10), ("p_po4", 5, 10),
    # Coliform ≤2,500 | 5,000 | 7,500 | 10,000 | >10,000 (MPN/100 mL)
    ("coliform", 2500, 100), ("coliform", 3000, 95), ("coliform", 5000, 75), ("coliform", 6250, 62.5),
    ("coliform", 7500, 50), ("coliform", 8750, 37.5), ("coliform", 10000, 25), ("coliform", 10001, 10),
    # E. coli ≤20 | 50 | 100 | 200 | >200
    ("e_coli", 20, 100), ("e_coli", 35, 87.5), ("e_coli", 50, 75), ("e_coli", 75, 62.5), ("e_coli", 100, 50),
    ("e_coli", 150, 37.5), ("e_coli", 200, 25), ("e_coli", 201, 10),
]
BANG_2_CASES = [
    # As ≤0.01 | 0.02 | 0.05 | 0.1 | >0.1
    ("as", 0.01, 100), ("as", 0.015, 87.5), ("as", 0.02, 75), ("as", 0.035, 62.5), ("as", 0.05, 50),
    ("as", 0.075, 37.5), ("as", 0.1, 25), ("as", 0.1001, 10), ("as", 1, 10),
    # Cd <0.005 | 0.005 | 0.008 | 0.01 | ≥0.1
    ("cd", 0.004, 100), ("cd", 0.005, 75), ("cd", 0.0065, 62.5), ("cd", 0.008, 50), ("cd", 0.009, 37.5),
    ("cd", 0.01, 25), ("cd", 0.055, 17.5), ("cd", 0.1, 10), ("cd", 0.2, 10),
    # Pb <0.02 | 0.02 | 0.04 | 0.05 | ≥0.5
    ("pb", 0.019, 100), ("pb", 0.02, 75), ("pb", 0.03, 62.5), ("pb", 0.04, 50), ("pb", 0.045, 37.5),
    ("pb", 0.05, 25), ("pb", 0.275, 17.5), ("pb", 0.5, 10), ("pb", 1, 10),
    # Cr6+ ≤0.01 | 0.02 | 0.04 | 0.05 | ≥0.1
    ("cr6", 0.01, 100), ("cr6", 0.015, 87.5), ("cr6", 0.02, 75), ("cr6", 0.03, 62.5), ("cr6", 0.04, 50),
    ("cr6", 0.045, 37.5), ("cr6", 0.05, 25), ("cr6", 0.075, 17.5), ("cr6", 0.1, 10), ("cr6", 0.2, 10),
    # Cu ≤0.1 | 0.2 | 0.5 | 1.0 | ≥2
    ("cu", 0.1, 100), ("cu", 0.15, 87.5), ("cu", 0.2, 75), ("cu", 0.35, 62.5), ("cu", 0.5, 50),
    ("cu", 0.75, 37.5), ("cu", 1.0, 25), ("cu", 1.5, 17.5), ("cu", 2, 10), ("cu", 3, 10),
    # Zn ≤0.5 | 1.0 | 1.5 | 2.0 | ≥3
    ("zn", 0.5, 100), ("zn", 0.75, 87.5), ("zn", 1.0, 75), ("zn", 1.25, 62.5), ("zn", 1.5, 50),
    ("zn", 1.75, 37.5), ("zn", 2.0, 25), ("zn", 2.5, 17.5), ("zn", 3, 10), ("zn", 4, 10),
    # Hg <0.001 | 0.001 | 0.0015 | 0.002 | ≥0.01
    ("hg", 0.0009, 100), ("hg", 0.001, 75), ("hg", 0.00125, 62.5), ("hg", 0.0015, 50), ("hg", 0.00175, 37.5),
    ("hg", 0.002, 25), ("hg", 0.006, 17.5), ("hg", 0.01, 10), ("hg", 0.02, 10),
]
PESTICIDE_CASES = [  # µg/L: ≤ limit → 100, > limit → 10
    ("aldrin", 0, 100), ("aldrin", 0.1, 100), ("aldrin", 0.11, 10),
    ("bhc", 0.02, 100), ("bhc", 0.021, 10),
    ("dieldrin", 0.1, 100), ("dieldrin", 0.1001, 10),
    ("ddts", 1.0, 100), ("ddts", 1.01, 10),
    ("heptachlor", 0.2, 100), ("heptachlor", 0.21, 10),
]
BANG_3_4_CASES = [
    # Bảng 4, pH: <5.5 → 10; 5.5 → 50; 6–8.5 → 100; 9 → 50; >9 → 10
    ("ph", 5.4, 10), ("ph", 5.5, 50), ("ph", 5.75, 75), ("ph", 6, 100), ("ph", 7.2, 100), ("ph", 8.5, 100),
    ("ph", 8.75, 75), ("ph", 9, 50), ("ph", 9.01, 10), ("ph", 3, 10),
    # Bảng 3, DO % saturation: <20 → 10; 20 → 25; 50; 75; 88–112 → 100; 125; 150; 200 → 25; >200 → 10
    ("do", 19.9, 10), ("do", 20, 25), ("do", 35, 37.5), ("do", 50, 50), ("do", 62.5, 62.5), ("do", 75, 75),
    ("do", 81.5, 87.5), ("do", 88, 100), ("do", 100, 100), ("do", 112, 100), ("do", 118.5, 87.5),
    ("do", 125, 75), ("do", 137.5, 62.5), ("do", 150, 50), ("do", 175, 37.5), ("do", 200, 25),
    ("do", 200.1, 10),
]


@pytest.mark.parametrize(("param", "value", "q"), BANG_1_CASES + BANG_2_CASES + PESTICIDE_CASES + BANG_3_4_CASES)
def test_parameter_sub_index(param, value, q):
    assert wqi.parameter_sub_index(param, value) == pytest.approx(q)


def test_every_parameter_of_every_table_is_checked():
    checked = {c[0] for c in BANG_1_CASES + BANG_2_CASES + PESTICIDE_CASES + BANG_3_4_CASES}
    assert checked == set(wqi.PARAMETER_GROUP)


@pytest.mark.parametrize("row", [
    ("≤4", "6", "15", "25"),  # a cell missing
    ("4", "6", "15", "25", "≥50"),  # q = 100 without ≤ or <
    ("<0.3", "0.4", "0.6", "0.9", "≥5"),  # "<X" not followed by X
    ("≤2", "5", "10", "15", ">20"),  # ">X" is not the last breakpoint
    ("≤2", "5", "10", "15", "20"),  # the q = 10 cell without ≥ or >
    ("≤4", "15", "6", "25", "≥50"),  # breakpoints do not rise
])
def test_a_mistyped_row_is_refused(row):
    with pytest.raises(ValueError):
        wqi._table_from_row("x", row)


def test_parameter_sub_index_errors_name_input():
    with pytest.raises(ValueError, match="turbidity"):
        wqi.parameter_sub_index("turbidity", 3)
    with pytest.raises(ValueError, match="bod5"):
        wqi.parameter_sub_index("bod5", -1)
    with pytest.raises(ValueError, match="ph"):
        wqi.parameter_sub_index("ph", 15)


# --- the decision's worked example (§2.3) -----------------------------------------------

EXAMPLE = {"ph": 7.2, "cu": 0.05, "as": 0.02, "temperature": 27.5, "do_mg_l": 5.7, "bod5": 20.0, "cod": 25.0,
           "n_nh4": 0.2, "p_po4": 0.3, "aldrin": 0.05, "dieldrin": 0.05, "coliform": 10000}


def test_worked_example_sub_indices_as_printed():
    r = wqi.compute(EXAMPLE)
    # the sub-indices §2.3.a prints
    printed = {"ph": 100, "cu": 100, "as": 75, "n_nh4": 100, "p_po4": 50, "coliform": 25, "aldrin": 100,
               "dieldrin": 100}
    assert {k: r.parameters[k] for k in printed} == pytest.approx(printed)
    # and the rest, by formulas 1–2 and Bảng 1, Bảng 3:
    do_sat = 14.652 - 0.41022 * 27.5 + 0.0079910 * 27.5**2 - 0.000077774 * 27.5**3  # 7.7967 mg/L
    assert r.do_pct == pytest.approx(5.7 / do_sat * 100)  # 73.11 %
    assert r.parameters["do"] == pytest.approx(50 + (73.10797 - 50) * 25 / 25, abs=1e-4)
    assert r.parameters["bod5"] == pytest.approx(37.5)  # 20 between 15 (50) and 25 (25)
    assert r.parameters["cod"] == pytest.approx(75 - 25 * 10 / 15)  # 25 between 15 (75) and 30 (50): 58.33


def test_worked_example_gives_35_and_40_not_the_printed_16_and_19():
    # QĐ 1460 §2.3 prints VN_WQI = 16 (and 19 with the weights of Bảng 5), but its own
    # sub-indices put through its formulas 3 and 5 give 35 and 40: a known error in the text
    # (../shared/reference/DOMAIN.md, "The decision's worked example"). We assert what the
    # formulas give.
    iv = (73.10797 + 37.5 + 58.33333 + 100 + 50) / 5  # DO, BOD5, COD, N-NH4, P-PO4: 63.79
    factor = 1.0 * 1.0 * math.sqrt(100 * 75) / 100  # I: pH 100; II: Aldrin, Dieldrin 100; III: √(Cu·As)
    r = wqi.compute(EXAMPLE)
    assert r.groups == pytest.approx({"I": 100, "II": 100, "III": 86.6025, "IV": iv, "V": 25}, abs=1e-3)
    assert r.raw == pytest.approx(factor * math.sqrt(iv * 25), abs=1e-4)  # 34.58
    assert (r.value, r.formula, r.category.key) == (35, 3, "bad")
    w = wqi.compute(EXAMPLE, wqi.FORMULA_WEIGHTED)
    assert w.raw == pytest.approx(factor * (iv * iv * 25) ** (1 / 3), abs=1e-4)  # 40.43
    assert (w.value, w.formula, w.category.key) == (40, 5, "bad")


# --- group rules and formulas -----------------------------------------------------------


def test_groups_ii_and_iii_are_geometric_means_not_the_lowest():
    sample = {"ph": 7.0, "bod5": 5, "cod": 12, "n_nh4": 0.2, "as": 0.015, "pb": 0.01, "cd": 0.009,
              "aldrin": 0.2, "dieldrin": 0.05}
    r = wqi.compute(sample)
    assert r.groups["III"] == pytest.approx((87.5 * 100 * 37.5) ** (1 / 3))  # As, Pb, Cd
    assert r.groups["II"] == pytest.approx(math.sqrt(10 * 100))  # Aldrin above its limit, Dieldrin not
    iv = (87.5 + 90 + 100) / 3
    # no group V: formula 4, the IV mean alone
    assert r.raw == pytest.approx(r.groups["II"] / 100 * r.groups["III"] / 100 * iv)
    assert r.formula == 4


def test_group_v_is_the_mean_of_coliform_and_e_coli():
    r = wqi.compute({"bod5": 5, "cod": 12, "n_nh4": 0.2, "coliform": 3000, "e_coli": 150, "ph": 7})
    assert r.groups["V"] == pytest.approx((95 + 37.5) / 2)


@pytest.mark.parametrize(("groups", "formula", "raw", "applied"), [
    ({"I": 100, "IV": 80, "V": 20}, 3, 40.0, 3),  # √(80·20)
    ({"I": 50, "IV": 80, "V": 20}, 3, 20.0, 3),  # pH factor 0.5
    ({"I": 100, "IV": 80, "V": 20}, 5, (80 * 80 * 20) ** (1 / 3), 5),  # 50.4
    ({"I": 100, "III": 50, "IV": 80}, 3, 40.0, 4),  # no group V: formula 4
    ({"I": 100, "III": 50, "IV": 80}, 5, 40.0, 4),  # formula 5 without group V: formula 4
    ({"II": 10, "III": 100, "IV": 90, "V": 90}, 3, 9.0, 3),  # group I not measured: factor 1
])
def test_combine(groups, formula, raw, applied):
    got, used = wqi.combine(groups, formula)
    assert got == pytest.approx(raw) and used == applied


def test_only_formulas_3_and_5_can_be_asked_for():
    with pytest.raises(ValueError, match="formula"):
        wqi.compute(EXAMPLE, 4)
    with pytest.raises(ValueError, match="formula"):
        wqi.combine({"IV": 50}, 1)


@pytest.mark.parametrize(("props", "formula"), [
    ({"wqi_formula": 5}, 5), ({"wqi_formula": "5"}, 5), ({"wqi_formula": 3}, 3), ({"wqi_formula": 4}, 3),
    ({"wqi_formula": "weighted"}, 3), ({"wqi_formula": True}, 3), ({}, 3), (None, 3), ("5", 3),
])
def test_station_formula(props, formula):
    assert wqi.station_formula(props) == formula


def test_rounding_half_up_and_no_value_reasons():
    r = wqi.compute({"ph": 7.0, "bod5": 4, "cod": 10, "n_nh4": 0.1, "coliform": 6250})
    assert r.raw == pytest.approx(math.sqrt(100 * 62.5))  # 79.06 → 79
    assert r.value == 79 and r.category.key == "good"
    assert r.to_dict()["category"] == "good" and r.to_dict()["formula"] == 3


def test_docs_example_groups_i_iv_v():
    sample = {"ph": 7.0, "do_mg_l": 6.0, "temperature": 25.0, "bod5": 5, "cod": 12,
              "n_nh4": 0.2, "p_po4": 0.15, "coliform": 3000, "salinity": 0.3}
    r = wqi.compute(sample)
    do_pct = 600 / 8.17565625  # 73.388 % → q = 50 + (73.388 − 50) = 73.388
    iv = (do_pct + 87.5 + 90 + 100 + 87.5) / 5  # DO, BOD5, COD, N-NH4 (< 0.3), P-PO4
    assert r.raw == pytest.approx(math.sqrt(iv * 95))  # Coliform 3000 → 95
    assert r.value == 91 and r.category.key == "very_good"
    assert r.groups_used == ["I", "IV", "V"]
    assert r.ignored == ["salinity"]
    assert r.do_pct == pytest.approx(do_pct)


# --- the ≥ 3 groups rule (§2.1) and bad input ------------------------------------------


def test_needs_group_iv_with_three_parameters():
    r = wqi.compute({"ph": 7, "bod5": 5, "cod": 12, "coliform": 100})
    assert r.value is None and "group IV" in r.reason and r.formula is None
    r = wqi.compute({"ph": 7, "bod5": 5, "cod": 12, "do_mg_l": 6.0, "coliform": 100})
    # DO without temperature cannot be turned into % saturation → rejected, IV has 2
    assert r.value is None and "do_mg_l" in r.rejected
    r = wqi.compute({"ph": 7, "bod5": 5, "cod": 12, "do_pct": 90, "coliform": 100})
    assert r.value is not None and r.parameters["do"] == 100  # % saturation given directly


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


# --- categories (§1.4) ------------------------------------------------------------------


@pytest.mark.parametrize(("v", "key"), [(100, "very_good"), (91, "very_good"), (90.5, "very_good"),
                                         (90.49, "good"), (90, "good"), (76, "good"), (75.5, "good"),
                                         (75, "medium"), (51, "medium"), (50.5, "medium"), (50, "bad"),
                                         (26, "bad"), (25, "poor"), (10, "poor"), (9.5, "poor"),
                                         (9.49, "very_polluted"), (9, "very_polluted"), (0, "very_polluted")])
def test_categories(v, key):
    assert wqi.category(v).key == key


def test_category_colours_and_names():
    assert [(c.name_vi, c.rgb, c.low, c.high) for c in wqi.CATEGORIES] == [
        ("Rất tốt", (51, 51, 255), 91, 100), ("Tốt", (0, 228, 0), 76, 90), ("Trung bình", (255, 255, 0), 51, 75),
        ("Xấu", (255, 126, 0), 26, 50), ("Kém", (255, 0, 0), 10, 25), ("Ô nhiễm rất nặng", (126, 0, 35), 0, 9)]
    assert wqi.category(None) is None and wqi.category(float("nan")) is None
    with pytest.raises(ValueError):
        wqi.category(101)


_values = st.one_of(st.none(), st.just(float("nan")), st.just(float("inf")), st.floats(-10, 1e6),
                    st.integers(-5, 20000), st.text(max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*wqi.PARAMETER_GROUP, *wqi.AUXILIARY, "tss", "junk"]), _values),
       st.sampled_from([wqi.FORMULA_STANDARD, wqi.FORMULA_WEIGHTED]))
def test_compute_defined_outcomes(sample, formula):
    r = wqi.compute(sample, formula)
    if r.value is None:
        assert isinstance(r.reason, str) and r.reason and r.formula is None
    else:
        assert isinstance(r.value, int) and 0 <= r.value <= 100
        assert r.category is not None and r.reason is None
        assert len(r.groups_used) >= 3 and "IV" in r.groups_used
        assert r.formula == (4 if "V" not in r.groups else formula)
    for q in r.parameters.values():
        assert 10 <= q <= 100


# --- formula 5 chosen per station, end to end -----------------------------------------


def test_the_connector_keeps_the_things_wqi_formula():
    """Station.properties["wqi_formula"] comes from the SensorThings Thing's properties."""
    from types import SimpleNamespace

    from connectors.environment import EnvironmentConnector
    from ioc.settings import load_settings

    conn = EnvironmentConnector(load_settings(environment_url="http://x"), None, None, client=SimpleNamespace(),
                                locator=None)
    thing = {"@iot.id": 7, "name": "Điểm quan trắc nước mặt", "Locations": [],
             "properties": {"station_type": "water_periodic", "wqi_formula": 5}}
    rec = conn.parse_thing(thing)
    assert rec.properties["wqi_formula"] == 5 and wqi.station_formula(rec.properties) == 5


def test_the_station_formula_reaches_the_snapshot_and_the_station_history(redis_server, tmp_path):
    """Two stations with the same samples; Station.properties wqi_formula = 5 on one of them.
    Newest sample (the worked example): the snapshot shows 35 (formula 3) and 40 (formula 5).
    A day earlier, Coliform 7,500: 48.9 → 49, Xấu (formula 3) against 50.9 → 51, Trung bình
    (formula 5) in the station page's category history."""
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from ioc.db import models as m
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.kpi.snapshot import build_snapshot
    from ioc.live_store import LiveStore
    from ioc.views.map_details import station_series

    now = datetime(2026, 5, 20, 3, 0, tzinfo=timezone.utc)
    engine = make_engine(f"sqlite:///{tmp_path / 'ioc.db'}")
    upgrade(engine)
    units = {"ph": "pH", "temperature": "°C", "coliform": "MPN/100mL", "aldrin": "µg/L", "dieldrin": "µg/L"}
    samples = ((now - timedelta(days=3), {**EXAMPLE, "coliform": 7500}), (now - timedelta(days=2), EXAMPLE))
    with Session(engine) as s, s.begin():
        for sid, props in (("W3", {}), ("W5", {"wqi_formula": 5})):
            s.add(m.Station(id=sid, name=f"Trạm {sid}", kind="water", commune_code="29251", updated_at=now,
                            properties=props))
            s.flush()
            for p in EXAMPLE:
                code = "do" if p == "do_mg_l" else p
                s.add(m.Datastream(id=f"{sid}-{code}", station_id=sid, name=code, parameter=code,
                                   unit=units.get(code, "mg/L"), updated_at=now))
                s.flush()
                for at, sample in samples:
                    s.add(m.Observation(datastream_id=f"{sid}-{code}", phenomenon_time=at, result=sample[p]))
    store = LiveStore.from_url(redis_server.url, prefix="wqiformula")
    try:
        snap = build_snapshot(engine, store, None, now=now)
        views = SimpleNamespace(tz=ZoneInfo("Asia/Ho_Chi_Minh"), clock=lambda: now, engine=lambda: engine)
        history = {sid: [c[1] for c in station_series(views, sid, "7d", "vi")["categories"]] for sid in ("W3", "W5")}
    finally:
        for k in store.r.scan_iter("wqiformula*"):
            store.r.delete(k)
        store.r.close()
        engine.dispose()
    water = {w["station_id"]: w for w in snap["environment"]["water"]}
    assert water["W3"]["wqi"] == 35 and water["W5"]["wqi"] == 40
    assert water["W5"]["groups_used"] == ["I", "II", "III", "IV", "V"]
    assert history == {"W3": ["bad", "bad"], "W5": ["medium", "bad"]}
