"""Parameter vocabulary: the connectors' stored parameter codes and the KPI modules' names.

Connectors normalise ``Datastream.parameter`` to short codes (nh4, no3, po4, insects …);
the KPI modules use the QĐ 1460 / QCVN names (n_nh4, n_no3, p_po4, insect_count …). Both
spellings are accepted; this is the one place that maps them.
"""

from __future__ import annotations

PARAMETER_ALIASES: dict[str, str] = {
    "nh4": "n_nh4", "n-nh4": "n_nh4", "nh4_n": "n_nh4", "ammonium": "n_nh4",
    "no3": "n_no3", "n-no3": "n_no3", "no3_n": "n_no3", "nitrate": "n_no3",
    "no2_water": "n_no2", "n-no2": "n_no2", "nitrite": "n_no2",
    "po4": "p_po4", "p-po4": "p_po4", "po4_p": "p_po4", "phosphate": "p_po4",
    "ecoli": "e_coli", "e.coli": "e_coli",
    "insects": "insect_count", "insect": "insect_count", "bph": "insect_count",
    "temp": "temperature", "water_temperature": "temperature",
    "level": "water_level",
    "pm2.5": "pm25", "pm2_5": "pm25",
}


def kpi_parameter(code: str | None) -> str | None:
    """The KPI modules' name for a stored parameter code (lower-case, aliases mapped)."""
    if code is None:
        return None
    c = str(code).strip().lower()
    return PARAMETER_ALIASES.get(c, c)


def water_level_metres(value: float | None, unit: str | None) -> float | None:
    """Water levels are stored in cm (normalised unit); alarm levels are in metres."""
    if value is None:
        return None
    u = (unit or "").strip().lower()
    if u == "cm":
        return value / 100.0
    if u == "mm":
        return value / 1000.0
    return value
