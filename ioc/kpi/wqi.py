"""Vietnam Water Quality Index (VN_WQI) per QĐ 1460/QĐ-TCMT (2019).

CONFIDENCE — read before relying on a number. The structure below (5 parameter groups,
the product formula, the ≥ 3 groups incl. group IV with ≥ 3 parameters rule, the DO
saturation polynomial, the category ranges and colours) follows QĐ 1460 as we know it.
The breakpoint tables were written from memory of the decision and of QCVN 08-MT:2015/
BTNMT (whose columns A1/A2/B1/B2 the decision's breakpoints follow) and could not be
checked against the decision's text here. Every table carries a ``confidence`` label;
verify against QĐ 1460 Bảng 1–4 before claiming conformance. Tables are plain data
(:data:`TABLES`), so a corrected table can be passed to :func:`compute`.

Formula (QĐ 1460, Điều/Mục "Công thức tính VN_WQI")::

    VN_WQI = (WQI_I/100) × (WQI_II/100) × (WQI_III/100)
             × [ (1/k) Σ WQI_IV,a × (1/l) Σ WQI_V,b ] ^ (1/2)

* WQI_I = pH sub-index; WQI_II, WQI_III = the lowest sub-index in the pesticide and the
  heavy-metal group (our reading: these groups act as penalty factors);
  WQI_IV, WQI_V = means of the group's sub-indices (k, l = number of parameters).
* A group not measured drops out: its factor is omitted; if group V is missing the
  bracket is the group-IV mean alone (the geometric mean of the available IV/V means —
  our interpretation for 3-group sets such as I + III + IV).
* At least 3 of the 5 groups, one of them group IV with ≥ 3 parameters; else no value.
* Sub-indices lie in 10..100 (values beyond the last breakpoint score 10); the result
  is rounded half up to an integer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from numbers import Real

import pandas as pd

from ioc.kpi.aqi import Category

__all__ = [
    "CATEGORIES",
    "GROUPS",
    "TABLES",
    "WQICategory",
    "WQIResult",
    "category",
    "compute",
    "do_saturation",
    "do_percent_saturation",
    "parameter_sub_index",
    "wqi_frame",
]

Q_FLOOR = 10.0  # QĐ 1460: lowest sub-index (QĐ 879/2011 used 1)


@dataclass(frozen=True)
class Table:
    """Breakpoints of a "higher concentration is worse" parameter.

    ``points`` = ((BP, q), …) with q decreasing 100 → …; values ≤ the first BP score
    100; between BPs q is linear; above the last BP q = ``above`` (10).
    Equal consecutive BPs (e.g. N-NH4 0.3/0.3) make a step: a value exactly at the BP
    takes the better q, anything above takes the next segment.
    """

    unit: str
    points: tuple[tuple[float, float], ...]
    above: float = Q_FLOOR
    confidence: str = "low"
    note: str = ""


# Group IV (except DO) and group V — QĐ 1460 Bảng 3 as recalled; columns q = 100/75/50/25
# correspond to QCVN 08-MT:2015 A1/A2/B1/B2 limits.
TABLES: dict[str, Table] = {
    "bod5": Table("mg/L", ((4, 100), (6, 75), (15, 50), (25, 25), (50, 10)), confidence="medium",
                  note="same figures as QĐ 879/2011 and QCVN 08-MT:2015"),
    "cod": Table("mg/L", ((10, 100), (15, 75), (30, 50), (50, 25), (150, 10)), confidence="medium",
                 note="q=10 point 150 mg/L uncertain (QĐ 879 used 80)"),
    "toc": Table("mg/L", ((4, 100), (6, 75), (15, 50), (25, 25), (50, 10)), confidence="low",
                 note="assumed to mirror BOD5; verify"),
    "n_nh4": Table("mg/L", ((0.3, 100), (0.3, 75), (0.9, 50), (0.9, 25), (5, 10)), confidence="low",
                   note="QCVN 08-MT:2015 A1=A2=0.3, B1=B2=0.9 → steps; q=10 point uncertain"),
    "n_no3": Table("mg/L", ((2, 100), (5, 75), (10, 50), (15, 25), (20, 10)), confidence="low"),
    "n_no2": Table("mg/L", ((0.05, 100), (0.05, 75), (0.05, 50), (0.05, 25)), confidence="low",
                   note="QCVN 08-MT:2015 0.05 in all columns → binary 100 / 10"),
    "p_po4": Table("mg/L", ((0.1, 100), (0.2, 75), (0.3, 50), (0.5, 25), (6, 10)), confidence="medium"),
    "coliform": Table("MPN/100mL", ((2500, 100), (5000, 75), (7500, 50), (10000, 25)), confidence="medium",
                      note="> 10000 scores 10"),
    "e_coli": Table("MPN/100mL", ((20, 100), (50, 75), (100, 50), (200, 25)), confidence="medium",
                    note="> 200 scores 10"),
    # Group II pesticides (µg/L) — QCVN 08-MT:2015 limit equal in all columns → 100 / 10.
    "aldrin": Table("µg/L", ((0.1, 100),), confidence="low"),
    "bhc": Table("µg/L", ((0.02, 100),), confidence="low"),
    "dieldrin": Table("µg/L", ((0.1, 100),), confidence="low"),
    "ddts": Table("µg/L", ((1.0, 100),), confidence="low", note="p,p'-DDT + DDD + DDE"),
    "heptachlor": Table("µg/L", ((0.2, 100),), confidence="low", note="heptachlor + heptachlor epoxide"),
    # Group III heavy metals (mg/L) — QCVN 08-MT:2015 A1/A2/B1/B2 → 100/75/50/25, above → 10.
    "as": Table("mg/L", ((0.01, 100), (0.02, 75), (0.05, 50), (0.1, 25)), confidence="low"),
    "cd": Table("mg/L", ((0.005, 100), (0.005, 75), (0.01, 50), (0.01, 25)), confidence="low"),
    "pb": Table("mg/L", ((0.02, 100), (0.02, 75), (0.05, 50), (0.05, 25)), confidence="low"),
    "cr6": Table("mg/L", ((0.01, 100), (0.02, 75), (0.04, 50), (0.05, 25)), confidence="low"),
    "cu": Table("mg/L", ((0.1, 100), (0.2, 75), (0.5, 50), (1.0, 25)), confidence="low"),
    "zn": Table("mg/L", ((0.5, 100), (1.0, 75), (1.5, 50), (2.0, 25)), confidence="low"),
    "hg": Table("mg/L", ((0.001, 100), (0.001, 75), (0.001, 50), (0.002, 25)), confidence="low"),
}

# pH (group I): < 5.5 → 10; 5.5–6 → 50..100; 6–8.5 → 100; 8.5–9 → 100..50; > 9 → 10.
# Confidence: medium (same shape as QĐ 879/2011 with the floor 10).
PH_POINTS = ((5.5, 50.0), (6.0, 100.0), (8.5, 100.0), (9.0, 50.0))
# DO % saturation (group IV): ≤ 20 → 10 (exactly 20 → 25); 20–88 rising 25..100;
# 88–112 → 100; 112–200 falling 100..25; > 200 → 10. Confidence: medium-high.
DO_POINTS = ((20.0, 25.0), (50.0, 50.0), (75.0, 75.0), (88.0, 100.0), (112.0, 100.0),
             (125.0, 75.0), (150.0, 50.0), (200.0, 25.0))

GROUPS: dict[str, tuple[str, ...]] = {
    "I": ("ph",),
    "II": ("aldrin", "bhc", "dieldrin", "ddts", "heptachlor"),
    "III": ("as", "cd", "pb", "cr6", "cu", "zn", "hg"),
    "IV": ("do", "bod5", "cod", "toc", "n_nh4", "n_no3", "n_no2", "p_po4"),
    "V": ("coliform", "e_coli"),
}
PARAMETER_GROUP = {p: g for g, ps in GROUPS.items() for p in ps}
# Inputs accepted besides the parameters themselves.
AUXILIARY = ("temperature", "do_mg_l", "do_pct")
# Plausibility: values outside are rejected (reason given), not scored.
PLAUSIBLE = {"ph": (0.0, 14.0), "temperature": (-5.0, 50.0), "do_mg_l": (0.0, 30.0),
             "do_pct": (0.0, 400.0)}


def do_saturation(temperature_c: float) -> float:
    """Saturated dissolved oxygen (mg/L) at temperature T (°C), QĐ 1460 / QĐ 879:
    DO_bh = 14.652 − 0.41022·T + 0.0079910·T² − 0.000077774·T³."""
    t = float(temperature_c)
    return 14.652 - 0.41022 * t + 0.0079910 * t**2 - 0.000077774 * t**3


def do_percent_saturation(do_mg_l: float, temperature_c: float) -> float:
    """DO % saturation = DO measured / DO_bh(T) × 100."""
    return float(do_mg_l) / do_saturation(temperature_c) * 100.0


def _interp(points: tuple[tuple[float, float], ...], c: float) -> float:
    for (x0, q0), (x1, q1) in zip(points, points[1:], strict=False):
        if x0 < c <= x1 and x1 > x0:
            return q0 + (q1 - q0) / (x1 - x0) * (c - x0)
    raise AssertionError("unreachable")  # pragma: no cover


def _table_q(table: Table, c: float) -> float:
    pts = table.points
    if c <= pts[0][0]:
        return float(pts[0][1])
    if c > pts[-1][0]:
        return float(table.above)
    return _interp(pts, c)


def _ph_q(ph: float) -> float:
    if ph < 5.5 or ph > 9.0:
        return Q_FLOOR
    if ph == 5.5:
        return 50.0
    return _interp(PH_POINTS, ph)


def _do_q(pct: float) -> float:
    if pct < 20.0 or pct > 200.0:
        return Q_FLOOR
    if pct == 20.0:
        return 25.0
    return _interp(DO_POINTS, pct)


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name}: NaN (no data is not a value)")
    if math.isinf(v):
        raise ValueError(f"{name}: infinite value {value!r}")
    if v < 0:
        raise ValueError(f"{name}: negative value {value!r}")
    lo_hi = PLAUSIBLE.get(name)
    if lo_hi and not lo_hi[0] <= v <= lo_hi[1]:
        raise ValueError(f"{name}: {value!r} outside the plausible range {lo_hi}")
    return v


def parameter_sub_index(parameter: str, value: float, tables: Mapping[str, Table] | None = None) -> float:
    """Sub-index (10..100, unrounded) of one parameter.

    ``parameter``: ``ph``, ``do`` (value = % saturation), or a key of :data:`TABLES`.
    Raises ``ValueError`` naming the parameter for an unknown parameter or a
    negative/NaN/implausible value.
    """
    tabs = TABLES if tables is None else tables
    if parameter == "ph":
        return _ph_q(_number("ph", value))
    if parameter == "do":
        return _do_q(_number("do_pct", value))
    if parameter not in tabs:
        raise ValueError(
            f"unknown WQI parameter {parameter!r}; expected ph, do or one of {', '.join(tabs)}"
        )
    return _table_q(tabs[parameter], _number(parameter, value))


# --- categories -------------------------------------------------------------------------


@dataclass(frozen=True)
class WQICategory(Category):
    """A VN_WQI band: the AQI category's fields plus the water use it allows."""

    use_vi: str


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


# QĐ 1460 Bảng (mức đánh giá). Uses as we recall them (medium confidence).
CATEGORIES: tuple[WQICategory, ...] = tuple(
    WQICategory(k, vi, en, rgb, _hex(rgb), lo, hi, use)
    for k, vi, en, rgb, lo, hi, use in (
        ("very_good", "Rất tốt", "Very good", (51, 51, 255), 91, 100, "Sử dụng tốt cho cấp nước sinh hoạt"),
        ("good", "Tốt", "Good", (0, 228, 0), 76, 90, "Cấp nước sinh hoạt, cần xử lý phù hợp"),
        ("medium", "Trung bình", "Medium", (255, 255, 0), 51, 75, "Tưới tiêu và mục đích tương đương"),
        ("bad", "Xấu", "Bad", (255, 126, 0), 26, 50, "Giao thông thủy và mục đích tương đương"),
        ("poor", "Kém", "Poor", (255, 0, 0), 10, 25, "Nước ô nhiễm nặng, cần xử lý trong tương lai"),
        ("very_polluted", "Ô nhiễm rất nặng", "Heavily polluted", (126, 0, 35), 0, 9,
         "Nước nhiễm độc, cần khắc phục, xử lý"),
    )
)


def category(wqi: float | None) -> WQICategory | None:
    """Category of a VN_WQI value (rounded half up first); None for no data."""
    if wqi is None:
        return None
    if isinstance(wqi, bool) or not isinstance(wqi, Real) or math.isnan(wqi):
        return None
    if wqi < 0 or wqi > 100:
        raise ValueError(f"VN_WQI must lie in 0..100, got {wqi!r}")
    v = int(math.floor(float(wqi) + 0.5))
    for cat in CATEGORIES:
        if v >= cat.low:
            return cat
    return CATEGORIES[-1]


# --- computation ------------------------------------------------------------------------


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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["category"] = self.category.key if self.category else None
        return d


def _missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    return isinstance(v, float) and math.isnan(v)


def compute(sample: Mapping[str, float | None], tables: Mapping[str, Table] | None = None) -> WQIResult:
    """VN_WQI of one sample (one station, one sampling time).

    ``sample`` keys: ``ph``; ``do_mg_l`` + ``temperature`` (°C) or ``do_pct``
    (% saturation; ``do`` is accepted as an alias of ``do_mg_l``); ``bod5, cod, toc,
    n_nh4, n_no3, n_no2, p_po4`` (mg/L); ``coliform, e_coli`` (MPN/100 mL); metals
    ``as, cd, pb, cr6, cu, zn, hg`` (mg/L); pesticides ``aldrin, bhc, dieldrin, ddts,
    heptachlor`` (µg/L). None/NaN = not measured. Invalid values are listed in
    ``rejected`` (not scored); other keys are listed in ``ignored``.
    Never raises for bad values; ``value`` is None with ``reason`` when the rule of
    QĐ 1460 (≥ 3 groups incl. group IV with ≥ 3 parameters) is not met.
    """
    if not isinstance(sample, Mapping):
        raise TypeError(f"sample must be a mapping of parameter → value, got {type(sample).__name__}")
    tabs = TABLES if tables is None else tables
    res = WQIResult(value=None, raw=None, category=None, reason=None)
    data = dict(sample)
    if "do" in data and "do_mg_l" not in data:
        data["do_mg_l"] = data.pop("do")
    known = set(PARAMETER_GROUP) | set(AUXILIARY)
    for key in data:
        if key not in known:
            res.ignored.append(str(key))

    # DO → % saturation
    do_pct = None
    if not _missing(data.get("do_pct")):
        try:
            do_pct = _number("do_pct", data["do_pct"])
        except ValueError as err:
            res.rejected["do_pct"] = str(err)
    elif not _missing(data.get("do_mg_l")):
        try:
            mg = _number("do_mg_l", data["do_mg_l"])
            if _missing(data.get("temperature")):
                res.rejected["do_mg_l"] = "do_mg_l: temperature needed for % saturation"
            else:
                t = _number("temperature", data["temperature"])
                do_pct = do_percent_saturation(mg, t)
        except ValueError as err:
            res.rejected.setdefault("do_mg_l", str(err))
    res.do_pct = do_pct

    for param, group in PARAMETER_GROUP.items():
        if param == "do":
            if do_pct is not None:
                res.parameters["do"] = _do_q(do_pct)
            continue
        raw = data.get(param)
        if _missing(raw):
            continue
        try:
            res.parameters[param] = parameter_sub_index(param, raw, tabs)
        except ValueError as err:
            res.rejected[param] = str(err)

    by_group: dict[str, list[float]] = {}
    for param, q in res.parameters.items():
        by_group.setdefault(PARAMETER_GROUP[param], []).append(q)
    for g in GROUPS:
        qs = by_group.get(g)
        if not qs:
            continue
        if g in ("IV", "V"):
            res.groups[g] = sum(qs) / len(qs)
        else:  # I has one parameter; II, III: the lowest (penalty factor)
            res.groups[g] = min(qs)
    res.groups_used = [g for g in GROUPS if g in res.groups]

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

    factor = 1.0
    for g in ("I", "II", "III"):
        if g in res.groups:
            factor *= res.groups[g] / 100.0
    means = [res.groups[g] for g in ("IV", "V") if g in res.groups]
    bracket = math.prod(means) ** (1.0 / len(means))
    raw_value = factor * bracket
    res.raw = raw_value
    res.value = int(math.floor(raw_value + 0.5))
    res.category = category(res.value)
    return res


def wqi_frame(samples: pd.DataFrame, tables: Mapping[str, Table] | None = None) -> pd.DataFrame:
    """VN_WQI for many samples: one row per sample (columns = parameter keys).

    Returns a DataFrame with the same index and object columns ``wqi`` (int/None),
    ``category`` (key/None), ``reason`` (str/None), ``groups_used`` (list).
    """
    if not isinstance(samples, pd.DataFrame):
        raise TypeError(f"samples must be a DataFrame, got {type(samples).__name__}")
    rows = []
    for _, row in samples.iterrows():
        r = compute({str(k): (None if _missing(v) else v) for k, v in row.items()}, tables)
        rows.append((r.value, r.category.key if r.category else None, r.reason, r.groups_used))
    cols = ["wqi", "category", "reason", "groups_used"]
    return pd.DataFrame(
        {c: pd.Series([r[i] for r in rows], index=samples.index, dtype=object) for i, c in enumerate(cols)},
        index=samples.index,
    )
