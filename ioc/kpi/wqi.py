"""Vietnam Water Quality Index (VN_WQI) as QĐ 1460/QĐ-TCMT (12/11/2019) computes it.

Source: the decision's guideline ("Hướng dẫn kỹ thuật tính toán và công bố chỉ số chất lượng
nước Việt Nam"), summarised in ../shared/reference/DOMAIN.md. Section, formula and table
numbers below are the decision's own:

* §2.1: data needs at least 3 of the 5 groups, group IV among them with at least 3 parameters.
* §2.2.a: sub-index (WQI_SI) of each parameter — Bảng 1 (groups IV and V), Bảng 2 (group III
  metals), Bảng 3 (DO % saturation), Bảng 4 (pH), the unnumbered pesticide table (group II);
  linear between breakpoints (formulas 1 and 2 are the same line); a value equal to a
  breakpoint takes that breakpoint's q (Ghi chú under Bảng 2).
* §2.2.b: formula 3 (all groups), formula 4 (no group V), formula 5 (weights of Bảng 5 for
  water bodies where organic pollution matters); the result is rounded to an integer.
* §1.4: the categories and colours.

Where the text is silent we chose, and say so next to the choice: a group I/II/III not
measured drops out (factor 1); formula 5 without group V is formula 4; rounding is half up;
the plausibility limits of :data:`PLAUSIBLE`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from numbers import Real

import pandas as pd

from ioc.kpi.aqi import Category
from ioc.kpi.values import measured_number

__all__ = [
    "CATEGORIES",
    "FORMULA_STANDARD",
    "FORMULA_WEIGHTED",
    "GROUPS",
    "TABLES",
    "WQICategory",
    "WQIResult",
    "category",
    "combine",
    "compute",
    "do_percent_saturation",
    "do_saturation",
    "parameter_sub_index",
    "station_formula",
]

Q_FLOOR = 10.0  # the lowest sub-index of every table (QĐ 879/2011 used 1)
Q_TOP = 100.0

# --- Bảng 1, Bảng 2 and the pesticide table, cell by cell as printed ----------------------
# Cells for q = 100, 75, 50, 25, 10. "≤X" / "<X": the q = 100 limit (with "<X" the next cell
# is X itself, so the index steps from 100 to 75 at X); "-": no breakpoint; "≥X": q falls
# linearly from 25 to 10 at X and stays 10 above; ">X": 10 as soon as the value exceeds X.
Q_COLUMNS = (100.0, 75.0, 50.0, 25.0, 10.0)

BANG_1: dict[str, tuple[str, ...]] = {  # groups IV and V; mg/L, Coliform and E. coli MPN/100 mL
    "bod5": ("≤4", "6", "15", "25", "≥50"),
    "cod": ("≤10", "15", "30", "50", "≥150"),
    "toc": ("≤4", "6", "15", "25", "≥50"),
    "n_nh4": ("<0.3", "0.3", "0.6", "0.9", "≥5"),
    "n_no3": ("≤2", "5", "10", "15", ">15"),
    "n_no2": ("≤0.05", "-", "-", "-", ">0.05"),
    "p_po4": ("≤0.1", "0.2", "0.3", "0.5", "≥4"),
    "coliform": ("≤2500", "5000", "7500", "10000", ">10000"),
    "e_coli": ("≤20", "50", "100", "200", ">200"),
}
BANG_2: dict[str, tuple[str, ...]] = {  # group III heavy metals, mg/L
    "as": ("≤0.01", "0.02", "0.05", "0.1", ">0.1"),
    "cd": ("<0.005", "0.005", "0.008", "0.01", "≥0.1"),
    "pb": ("<0.02", "0.02", "0.04", "0.05", "≥0.5"),
    "cr6": ("≤0.01", "0.02", "0.04", "0.05", "≥0.1"),
    "cu": ("≤0.1", "0.2", "0.5", "1.0", "≥2"),
    "zn": ("≤0.5", "1.0", "1.5", "2.0", "≥3"),
    "hg": ("<0.001", "0.001", "0.0015", "0.002", "≥0.01"),
}
# Group II pesticides (µg/L): 100 at or below the limit, 10 above it.
PESTICIDE_LIMITS: dict[str, float] = {"aldrin": 0.1, "bhc": 0.02, "dieldrin": 0.1, "ddts": 1.0, "heptachlor": 0.2}

UNITS = {**{p: "mg/L" for p in (*BANG_1, *BANG_2)}, "coliform": "MPN/100mL", "e_coli": "MPN/100mL",
         **{p: "µg/L" for p in PESTICIDE_LIMITS}}


@dataclass(frozen=True)
class Table:
    """One parameter's breakpoints: ``points`` ((BP, q), …) in rising BP; a value below the
    first BP scores ``below``, above the last one ``above``; between two BPs q is linear."""

    points: tuple[tuple[float, float], ...]
    below: float
    above: float = Q_FLOOR


def _table_from_row(name: str, cells: tuple[str, ...]) -> Table:
    """A printed row → its breakpoints; a row that does not read as described above raises."""
    if len(cells) != len(Q_COLUMNS):
        raise ValueError(f"{name}: {len(cells)} cells, expected {len(Q_COLUMNS)}")
    first, *middle, last = cells
    points: list[tuple[float, float]] = []
    if first.startswith("≤"):
        points.append((float(first[1:]), Q_TOP))
    elif not first.startswith("<"):
        raise ValueError(f"{name}: the q = 100 cell must read ≤X or <X, got {first!r}")
    for cell, q in zip(middle, Q_COLUMNS[1:-1], strict=True):
        if cell != "-":
            points.append((float(cell), q))
    if first.startswith("<") and points[0][0] != float(first[1:]):
        raise ValueError(f"{name}: '<X' must be followed by X at q = 75")
    if last.startswith("≥"):
        points.append((float(last[1:]), Q_FLOOR))
    elif not (last.startswith(">") and float(last[1:]) == points[-1][0]):
        raise ValueError(f"{name}: the q = 10 cell must read ≥X or >X (X = the last breakpoint), got {last!r}")
    bps = [bp for bp, _ in points]
    if bps != sorted(set(bps)):
        raise ValueError(f"{name}: breakpoints must rise, got {bps}")
    return Table(tuple(points), below=Q_TOP)


TABLES: dict[str, Table] = {
    **{p: _table_from_row(p, row) for p, row in {**BANG_1, **BANG_2}.items()},
    **{p: Table(((limit, Q_TOP),), below=Q_TOP) for p, limit in PESTICIDE_LIMITS.items()},
}
# Bảng 4 (pH) and Bảng 3 (DO % saturation): 10 below the first and above the last breakpoint.
PH_TABLE = Table(((5.5, 50.0), (6.0, 100.0), (8.5, 100.0), (9.0, 50.0)), below=Q_FLOOR)
DO_TABLE = Table(((20.0, 25.0), (50.0, 50.0), (75.0, 75.0), (88.0, 100.0), (112.0, 100.0),
                  (125.0, 75.0), (150.0, 50.0), (200.0, 25.0)), below=Q_FLOOR)

GROUPS: dict[str, tuple[str, ...]] = {  # §2.1.b
    "I": ("ph",),
    "II": tuple(PESTICIDE_LIMITS),
    "III": tuple(BANG_2),
    "IV": ("do", "bod5", "cod", "toc", "n_nh4", "n_no3", "n_no2", "p_po4"),
    "V": ("coliform", "e_coli"),
}
PARAMETER_GROUP = {p: g for g, ps in GROUPS.items() for p in ps}
# Inputs accepted besides the parameters themselves.
AUXILIARY = ("temperature", "do_mg_l", "do_pct")
# §2.1.a asks for data already cleared of erroneous values; the text sets no limits. Ours:
# values outside these ranges (or negative) are rejected with a reason, not scored.
PLAUSIBLE = {"ph": (0.0, 14.0), "temperature": (-5.0, 50.0), "do_mg_l": (0.0, 30.0),
             "do_pct": (0.0, 400.0)}

FORMULA_STANDARD = 3  # formula 3; formula 4 when group V is not measured
FORMULA_WEIGHTED = 5  # formula 5, Bảng 5 weights: group IV 2, group V 1


def do_saturation(temperature_c: float) -> float:
    """Saturated dissolved oxygen (mg/L) at the water temperature T (°C), §2.2.a, DO step 1:
    DO_bh = 14.652 − 0.41022·T + 0.0079910·T² − 0.000077774·T³."""
    t = float(temperature_c)
    return 14.652 - 0.41022 * t + 0.0079910 * t**2 - 0.000077774 * t**3


def do_percent_saturation(do_mg_l: float, temperature_c: float) -> float:
    """DO % saturation = DO measured / DO_bh(T) × 100 (§2.2.a, DO step 1)."""
    return float(do_mg_l) / do_saturation(temperature_c) * 100.0


def _sub_index(table: Table, c: float) -> float:
    pts = table.points
    if c < pts[0][0]:
        return table.below
    if c > pts[-1][0]:
        return table.above
    for (bp_i, q_i), (bp_next, q_next) in zip(pts, pts[1:], strict=False):
        if c == bp_i:  # "Cp equal to a BP: WQI_SI is that BP's q"
            return q_i
        if c < bp_next:  # formula 1 (formula 2 is the same line written from the other end)
            return (q_i - q_next) / (bp_next - bp_i) * (bp_next - c) + q_next
    return pts[-1][1]  # c is the last breakpoint


def _number(name: str, value) -> float:
    v = measured_number(name, value)
    lo_hi = PLAUSIBLE.get(name)
    if lo_hi and not lo_hi[0] <= v <= lo_hi[1]:
        raise ValueError(f"{name}: {value!r} outside the plausible range {lo_hi}")
    return v


def parameter_sub_index(parameter: str, value: float) -> float:
    """WQI_SI (10..100, unrounded) of one parameter.

    ``parameter``: ``ph`` (Bảng 4), ``do`` (value = % saturation, Bảng 3) or a key of
    :data:`TABLES` (Bảng 1, Bảng 2, pesticides). Raises ``ValueError`` naming the parameter
    for an unknown parameter or a negative/NaN/implausible value.
    """
    if parameter == "ph":
        return _sub_index(PH_TABLE, _number("ph", value))
    if parameter == "do":
        return _sub_index(DO_TABLE, _number("do_pct", value))
    if parameter not in TABLES:
        raise ValueError(
            f"unknown WQI parameter {parameter!r}; expected ph, do or one of {', '.join(TABLES)}"
        )
    return _sub_index(TABLES[parameter], _number(parameter, value))


# --- categories -------------------------------------------------------------------------


@dataclass(frozen=True)
class WQICategory(Category):
    """A VN_WQI band: the AQI category's fields plus the water use Bảng 7 says it suits."""

    use_vi: str


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


# Ranges, names and colours: §1.4. (Bảng 7 calls 26–50 "Kém" and 10–25 "Ô nhiễm nặng"; we
# use §1.4's names, as the agencies do.) Uses: Bảng 7.
CATEGORIES: tuple[WQICategory, ...] = tuple(
    WQICategory(k, vi, en, rgb, _hex(rgb), lo, hi, use)
    for k, vi, en, rgb, lo, hi, use in (
        ("very_good", "Rất tốt", "Very good", (51, 51, 255), 91, 100,
         "Sử dụng tốt cho mục đích cấp nước sinh hoạt"),
        ("good", "Tốt", "Good", (0, 228, 0), 76, 90,
         "Sử dụng cho mục đích cấp nước sinh hoạt nhưng cần các biện pháp xử lý phù hợp"),
        ("medium", "Trung bình", "Medium", (255, 255, 0), 51, 75,
         "Sử dụng cho mục đích tưới tiêu và các mục đích tương đương khác"),
        ("bad", "Xấu", "Bad", (255, 126, 0), 26, 50,
         "Sử dụng cho giao thông thủy và các mục đích tương đương khác"),
        ("poor", "Kém", "Poor", (255, 0, 0), 10, 25,
         "Nước ô nhiễm nặng, cần các biện pháp xử lý trong tương lai"),
        ("very_polluted", "Ô nhiễm rất nặng", "Heavily polluted", (126, 0, 35), 0, 9,
         "Nước nhiễm độc, cần có biện pháp khắc phục, xử lý"),
    )
)


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def category(wqi: float | None) -> WQICategory | None:
    """Category of a VN_WQI value (rounded half up first, as the index is published as an
    integer); None for no data."""
    if wqi is None:
        return None
    if isinstance(wqi, bool) or not isinstance(wqi, Real) or math.isnan(wqi):
        return None
    if wqi < 0 or wqi > 100:
        raise ValueError(f"VN_WQI must lie in 0..100, got {wqi!r}")
    v = _round_half_up(float(wqi))
    for cat in CATEGORIES:
        if v >= cat.low:
            return cat
    return CATEGORIES[-1]


# --- the index --------------------------------------------------------------------------


def _group_value(group: str, qs: list[float]) -> float:
    """WQI of one group: I its only parameter; II and III the geometric mean (formula 3:
    (∏ WQI_II)^(1/n), (∏ WQI_III)^(1/m)); IV and V the arithmetic mean."""
    if group in ("II", "III"):
        return math.prod(qs) ** (1.0 / len(qs))
    return sum(qs) / len(qs)


def combine(groups: Mapping[str, float], formula: int = FORMULA_STANDARD) -> tuple[float, int]:
    """Unrounded VN_WQI from the group values (``{"I": …, "IV": …}``, group IV required) and
    the number of the formula applied (3, 4 or 5)::

        formula 3:  (WQI_I/100)·(WQI_II/100)·(WQI_III/100) · [WQI_IV · WQI_V]^(1/2)
        formula 4:  (WQI_I/100)·(WQI_II/100)·(WQI_III/100) · WQI_IV            (no group V)
        formula 5:  (WQI_I/100)·(WQI_II/100)·(WQI_III/100) · [WQI_IV² · WQI_V]^(1/3)

    A group I/II/III not measured drops out (factor 1: the text is silent). Formula 5
    without group V falls back to formula 4 (silent too: with one group left the weights
    have nothing to weigh).
    """
    if formula not in (FORMULA_STANDARD, FORMULA_WEIGHTED):
        raise ValueError(f"formula must be {FORMULA_STANDARD} or {FORMULA_WEIGHTED}, got {formula!r}")
    factor = math.prod(groups[g] / 100.0 for g in ("I", "II", "III") if g in groups)
    iv = groups["IV"]
    if "V" not in groups:
        return factor * iv, 4
    if formula == FORMULA_WEIGHTED:
        return factor * (iv * iv * groups["V"]) ** (1.0 / 3.0), 5
    return factor * math.sqrt(iv * groups["V"]), 3


def station_formula(properties: Mapping | None) -> int:
    """The formula a station asks for: ``Station.properties["wqi_formula"] = 5`` selects
    formula 5; no value or any other value gives the standard formula 3 (or 4)."""
    value = properties.get("wqi_formula") if isinstance(properties, Mapping) else None
    if isinstance(value, bool):
        return FORMULA_STANDARD
    return FORMULA_WEIGHTED if value in (FORMULA_WEIGHTED, str(FORMULA_WEIGHTED)) else FORMULA_STANDARD


@dataclass
class WQIResult:
    value: int | None
    raw: float | None
    category: WQICategory | None
    reason: str | None  # why there is no value (None when value is set)
    groups: dict[str, float] = field(default_factory=dict)  # group → WQI_group
    parameters: dict[str, float] = field(default_factory=dict)  # parameter → sub-index
    groups_used: list[str] = field(default_factory=list)
    do_pct: float | None = None  # DO % saturation used
    rejected: dict[str, str] = field(default_factory=dict)  # input → reason
    ignored: list[str] = field(default_factory=list)  # inputs that are not WQI parameters
    formula: int | None = None  # the decision's formula applied (3, 4 or 5); None without a value

    def to_dict(self) -> dict:
        d = asdict(self)
        d["category"] = self.category.key if self.category else None
        return d


def _missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    return isinstance(v, float) and math.isnan(v)


def _do_pct(data: dict, res: WQIResult) -> float | None:
    """DO % saturation from ``do_pct``, else from ``do_mg_l`` and ``temperature``."""
    if not _missing(data.get("do_pct")):
        try:
            return _number("do_pct", data["do_pct"])
        except ValueError as err:
            res.rejected["do_pct"] = str(err)
            return None
    if _missing(data.get("do_mg_l")):
        return None
    try:
        mg = _number("do_mg_l", data["do_mg_l"])
        if _missing(data.get("temperature")):
            res.rejected["do_mg_l"] = "do_mg_l: temperature needed for % saturation"
            return None
        return do_percent_saturation(mg, _number("temperature", data["temperature"]))
    except ValueError as err:
        res.rejected["do_mg_l"] = str(err)
        return None


def compute(sample: Mapping[str, float | None], formula: int = FORMULA_STANDARD) -> WQIResult:
    """VN_WQI of one sample (one station, one sampling time).

    ``sample`` keys: ``ph``; ``do_mg_l`` + ``temperature`` (°C) or ``do_pct``
    (% saturation; ``do`` is accepted as an alias of ``do_mg_l``); ``bod5, cod, toc,
    n_nh4, n_no3, n_no2, p_po4`` (mg/L); ``coliform, e_coli`` (MPN/100 mL); metals
    ``as, cd, pb, cr6, cu, zn, hg`` (mg/L); pesticides ``aldrin, bhc, dieldrin, ddts,
    heptachlor`` (µg/L). None/NaN = not measured. Invalid values are listed in
    ``rejected`` (not scored); other keys are listed in ``ignored``.
    ``formula``: :data:`FORMULA_STANDARD` (3, or 4 without group V) or
    :data:`FORMULA_WEIGHTED` (5) — see :func:`station_formula`.
    Never raises for bad values; ``value`` is None with ``reason`` when §2.1's rule
    (≥ 3 groups incl. group IV with ≥ 3 parameters) is not met.
    """
    if not isinstance(sample, Mapping):
        raise TypeError(f"sample must be a mapping of parameter → value, got {type(sample).__name__}")
    if formula not in (FORMULA_STANDARD, FORMULA_WEIGHTED):
        raise ValueError(f"formula must be {FORMULA_STANDARD} or {FORMULA_WEIGHTED}, got {formula!r}")
    res = WQIResult(value=None, raw=None, category=None, reason=None)
    data = dict(sample)
    if "do" in data and "do_mg_l" not in data:
        data["do_mg_l"] = data.pop("do")
    known = set(PARAMETER_GROUP) | set(AUXILIARY)
    res.ignored = [str(k) for k in data if k not in known]

    res.do_pct = _do_pct(data, res)
    for param in PARAMETER_GROUP:
        if param == "do":
            if res.do_pct is not None:
                res.parameters["do"] = _sub_index(DO_TABLE, res.do_pct)
            continue
        if _missing(data.get(param)):
            continue
        try:
            res.parameters[param] = parameter_sub_index(param, data[param])
        except ValueError as err:
            res.rejected[param] = str(err)

    by_group: dict[str, list[float]] = {}
    for param, q in res.parameters.items():
        by_group.setdefault(PARAMETER_GROUP[param], []).append(q)
    res.groups = {g: _group_value(g, by_group[g]) for g in GROUPS if g in by_group}
    res.groups_used = list(res.groups)

    n_iv = len(by_group.get("IV", []))
    if n_iv < 3:
        res.reason = f"group IV has {n_iv} parameter(s); QĐ 1460 needs at least 3"
        return res
    if len(res.groups_used) < 3:
        res.reason = (
            f"only {len(res.groups_used)} group(s) measured ({', '.join(res.groups_used)}); "
            "QĐ 1460 needs at least 3 of the 5 groups"
        )
        return res

    res.raw, res.formula = combine(res.groups, formula)
    res.value = _round_half_up(res.raw)  # "rounded to an integer"; halves: up (silent)
    res.category = category(res.value)
    return res
