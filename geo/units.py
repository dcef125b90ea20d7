"""Administrative units of Đồng Tháp and a matcher from free text to unit codes.

Units (126 in all):

* the province (code ``"82"``, level ``province``), from ``vietnam_provinces``;
* its 102 current communes and wards (level ``commune``; code = the national 5-digit
  code as text, e.g. ``"30112"`` for Xã Mỹ Hiệp), from ``vietnam_provinces``;
* the 23 district-level units that existed until 2025-06-30 (level ``district_pre2025``):
  12 of old Đồng Tháp and 11 of old Tiền Giang. Their code is ``"old-d:"`` + the national
  pre-2025 district code (``old-d:873`` = Huyện Cao Lãnh), so the two Châu Thành districts
  get different codes (``old-d:877`` Đồng Tháp, ``old-d:821`` Tiền Giang). ``parent_code``
  holds the old province's name ("Đồng Tháp" or "Tiền Giang"), ``valid_to`` "2025-06-30".

:class:`UnitMatcher` resolves a unit name or a whole address to a current commune when the
text names one, else to a pre-2025 district; see docs/geography.md for the rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.names import (
    COMMUNE_KINDS,
    DISTRICT_KINDS,
    PREFIX_WORDS,
    ParsedName,
    best_fuzzy,
    fold,
    loose_key,
    parse_name,
)

__all__ = [
    "OLD_DISTRICTS",
    "OLD_PROVINCES",
    "PROVINCE_CODE",
    "MatchResult",
    "SyncResult",
    "Unit",
    "UnitMatcher",
    "all_units",
    "commune_codes",
    "current_communes",
    "old_province_of_commune",
    "sync_units",
]

PROVINCE_CODE = "82"
PRE2025_VALID_TO = "2025-06-30"
OLD_DT = "Đồng Tháp"
OLD_TG = "Tiền Giang"
OLD_PROVINCES = (OLD_DT, OLD_TG)

# National pre-2025 district codes (Tổng cục Thống kê), names as of 2025-06-30.
# Gò Công became a city (thành phố) in late 2024; it was a thị xã before.
OLD_DISTRICTS: tuple[tuple[str, str, str, str], ...] = (
    # (gso code, division type, name without prefix, old province)
    ("866", "thành phố", "Cao Lãnh", OLD_DT),
    ("867", "thành phố", "Sa Đéc", OLD_DT),
    ("868", "thành phố", "Hồng Ngự", OLD_DT),
    ("869", "huyện", "Tân Hồng", OLD_DT),
    ("870", "huyện", "Hồng Ngự", OLD_DT),
    ("871", "huyện", "Tam Nông", OLD_DT),
    ("872", "huyện", "Tháp Mười", OLD_DT),
    ("873", "huyện", "Cao Lãnh", OLD_DT),
    ("874", "huyện", "Thanh Bình", OLD_DT),
    ("875", "huyện", "Lấp Vò", OLD_DT),
    ("876", "huyện", "Lai Vung", OLD_DT),
    ("877", "huyện", "Châu Thành", OLD_DT),
    ("815", "thành phố", "Mỹ Tho", OLD_TG),
    ("816", "thành phố", "Gò Công", OLD_TG),
    ("817", "thị xã", "Cai Lậy", OLD_TG),
    ("818", "huyện", "Tân Phước", OLD_TG),
    ("819", "huyện", "Cái Bè", OLD_TG),
    ("820", "huyện", "Cai Lậy", OLD_TG),
    ("821", "huyện", "Châu Thành", OLD_TG),
    ("822", "huyện", "Chợ Gạo", OLD_TG),
    ("823", "huyện", "Gò Công Tây", OLD_TG),
    ("824", "huyện", "Gò Công Đông", OLD_TG),
    ("825", "huyện", "Tân Phú Đông", OLD_TG),
)
OLD_DISTRICT_PREFIX = "old-d:"

# Pre-2025 provinces that no longer exist under that name, plus common aliases; with the
# 34 current provinces they let the matcher notice an address in another province.
_OTHER_PROVINCE_NAMES = (
    "Hà Giang", "Yên Bái", "Bắc Kạn", "Hòa Bình", "Vĩnh Phúc", "Bắc Giang", "Hải Dương",
    "Thái Bình", "Hà Nam", "Nam Định", "Quảng Bình", "Quảng Nam", "Kon Tum", "Bình Định",
    "Phú Yên", "Ninh Thuận", "Đắk Nông", "Bình Thuận", "Bình Phước", "Bình Dương",
    "Bà Rịa - Vũng Tàu", "Bà Rịa Vũng Tàu", "Long An", "Bến Tre", "Trà Vinh", "Kiên Giang",
    "Hậu Giang", "Sóc Trăng", "Bạc Liêu", "HCM", "TPHCM", "TP HCM", "Sài Gòn",
)

_DIVISION_ORDER = {"thành phố": 0, "thị xã": 1, "quận": 2, "huyện": 3}


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    level: str  # province | commune | district_pre2025
    division_type: str | None
    parent_code: str | None
    norm_name: str
    valid_to: str | None = None
    old_province: str | None = None  # for communes and old districts
    tone: str = ""

    def as_row(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "division_type": self.division_type,
            "parent_code": self.parent_code,
            "norm_name": self.norm_name,
            "valid_to": self.valid_to,
        }


def old_province_of_commune(code: str | int) -> str | None:
    """Old province (before 2025-07-01) a current commune's code comes from.

    National commune codes are allocated by old province: old Tiền Giang 28xxx, old
    Đồng Tháp 29xxx–30xxx; each new commune kept the code of one of its predecessors.
    """
    try:
        n = int(str(code).strip())
    except (TypeError, ValueError):
        return None
    if 28000 <= n < 29000:
        return OLD_TG
    if 29000 <= n < 31000:
        return OLD_DT
    return None


def _unit(code, name, level, division_type, parent, valid_to=None, old_province=None) -> Unit:
    parsed = parse_name(name)
    return Unit(code, name, level, division_type, parent, parsed.key, valid_to, old_province, parsed.tone)


def current_communes() -> list[Unit]:
    """The 102 current communes and wards of province 82 (from vietnam_provinces)."""
    from vietnam_provinces import ProvinceCode, Ward

    out = []
    for ward in Ward.iter_by_province(ProvinceCode(int(PROVINCE_CODE))):
        code = str(ward.code.value)
        out.append(
            _unit(code, ward.name, "commune", ward.division_type.value, PROVINCE_CODE,
                  old_province=old_province_of_commune(code))
        )
    return out


def all_units() -> list[Unit]:
    """Province + 102 communes + 23 pre-2025 districts, in that order."""
    from vietnam_provinces import Province, ProvinceCode

    province = Province.from_code(ProvinceCode(int(PROVINCE_CODE)))
    units = [_unit(PROVINCE_CODE, province.name, "province", province.division_type.value, None)]
    units += current_communes()
    for gso, dtype, name, old in OLD_DISTRICTS:
        units.append(
            _unit(f"{OLD_DISTRICT_PREFIX}{gso}", f"{dtype.capitalize()} {name}", "district_pre2025",
                  dtype, old, PRE2025_VALID_TO, old)
        )
    return units


def commune_codes() -> frozenset[str]:
    return frozenset(u.code for u in current_communes())


@dataclass(frozen=True, slots=True)
class SyncResult:
    inserted: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def sync_units(session: Session, *, commit: bool = True) -> SyncResult:
    """Upsert the 126 units into ``admin_units``; running it again changes nothing.

    Rows of other codes (units a deployment added itself) are left alone.
    """
    from ioc.db.models import AdminUnit

    units = all_units()
    existing = {
        row.code: row
        for row in session.scalars(select(AdminUnit).where(AdminUnit.code.in_([u.code for u in units])))
    }
    inserted = updated = unchanged = 0
    try:
        for unit in units:
            values = unit.as_row()
            row = existing.get(unit.code)
            if row is None:
                session.add(AdminUnit(**values))
                inserted += 1
                continue
            changed = False
            for key, value in values.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
                    changed = True
            updated += changed
            unchanged += not changed
        if commit:
            session.commit()
        else:
            session.flush()
    except Exception:
        session.rollback()
        raise
    return SyncResult(inserted, updated, unchanged)


# --- matching --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Outcome of matching a text to a unit.

    ``method`` is "address_commune" (a current commune was found; ``district_code`` is
    also set when the text names an old district), "address_district" (only a pre-2025
    district) or "none". ``ambiguous`` lists the candidate codes when the text names a
    unit that could be several (e.g. "huyện Châu Thành" with no province), and
    ``other_province`` is True when the text names a province other than Đồng Tháp /
    Tiền Giang (nothing is matched then).
    """

    commune_code: str | None = None
    district_code: str | None = None
    method: str = "none"
    matched: str | None = None
    ambiguous: tuple[str, ...] = ()
    other_province: bool = False


NO_MATCH = MatchResult()

# Split an address into segments: commas, semicolons, slashes, pipes, new lines, " - ".
_SEGMENT_SPLIT = re.compile(r"[,;/|\n\r\t]+|\s[-–—]\s")
# Split also before an administrative word in the middle of a segment (addresses written
# without commas): "ấp 3 xã Mỹ Hiệp huyện Cao Lãnh".
_INNER_SPLIT = re.compile(
    r"\s+(?=(?:xã|phường|huyện|quận|tỉnh|thị\s+trấn|thị\s+xã|thành\s+phố|tp\.|tx\.|tt\.)(?:\s|$))",
    re.IGNORECASE,
)
_STREETISH = re.compile(r"^(?:ap|khom|to|so|duong|hem|kp|khu|quoc lo|ql|tinh lo|tl|thon|xom|lo)\b")


@dataclass(frozen=True, slots=True)
class _Segment:
    text: str
    parsed: ParsedName
    communes: tuple[Unit, ...]
    districts: tuple[Unit, ...]
    province: str | None  # "Đồng Tháp" / "Tiền Giang" when the segment names one
    other_province: bool


class UnitMatcher:
    """Free text → current commune code or pre-2025 district code.

    Build it once (``UnitMatcher.default()`` or ``UnitMatcher.from_session(session)``) and
    reuse it: normalised names and per-segment results are cached, so 100,000 addresses
    take a few seconds (``match_many`` also de-duplicates whole addresses).
    """

    def __init__(self, units: Iterable[Unit], *, cache_size: int = 200_000) -> None:
        self.units: dict[str, Unit] = {}
        self._key: dict[str, dict[str, list[Unit]]] = {"commune": defaultdict(list), "district": defaultdict(list)}
        self._loose: dict[str, dict[str, list[Unit]]] = {"commune": defaultdict(list), "district": defaultdict(list)}
        for unit in units:
            self.units[unit.code] = unit
            level = {"commune": "commune", "district_pre2025": "district"}.get(unit.level)
            if level is None:
                continue
            self._key[level][unit.norm_name].append(unit)
            self._loose[level][loose_key(unit.norm_name)].append(unit)
        self._key = {k: dict(v) for k, v in self._key.items()}
        self._loose = {k: dict(v) for k, v in self._loose.items()}
        self.commune_codes = frozenset(u.code for u in self.units.values() if u.level == "commune")
        self.district_codes = frozenset(u.code for u in self.units.values() if u.level == "district_pre2025")
        self._our_provinces = {parse_name(OLD_DT).key: OLD_DT, parse_name(OLD_TG).key: OLD_TG}
        self._other_provinces = self._other_province_keys()
        self._seg_cache: dict[tuple[str, bool], _Segment] = {}
        self._cache: dict[str, MatchResult] = {}
        self._cache_size = cache_size

    @classmethod
    def default(cls) -> UnitMatcher:
        """A matcher over the built-in units (no database needed)."""
        global _DEFAULT
        if _DEFAULT is None:
            _DEFAULT = cls(all_units())
        return _DEFAULT

    @classmethod
    def from_session(cls, session: Session) -> UnitMatcher:
        """A matcher over the units stored in ``admin_units`` (the built-in ones if empty)."""
        from ioc.db.models import AdminUnit

        rows = session.scalars(select(AdminUnit)).all()
        if not rows:
            return cls.default()
        units = []
        for r in rows:
            parsed = parse_name(r.name)
            old = r.parent_code if r.level == "district_pre2025" else (
                old_province_of_commune(r.code) if r.level == "commune" else None)
            units.append(Unit(r.code, r.name, r.level, r.division_type, r.parent_code,
                              r.norm_name or parsed.key, r.valid_to, old, parsed.tone))
        return cls(units)

    # -- name lookups ---------------------------------------------------------------

    def _other_province_keys(self) -> frozenset[str]:
        from vietnam_provinces import Province

        names = [p.name for p in Province.iter_all()] + list(_OTHER_PROVINCE_NAMES)
        keys = {parse_name(n).key for n in names}
        keys |= {k.replace(" ", "") for k in keys}
        return frozenset(keys - set(self._our_provinces) - {""})

    def _lookup(self, parsed: ParsedName, level: str, *, fuzzy: bool) -> tuple[Unit, ...]:
        index, loose = self._key[level], self._loose[level]
        readings = [(parsed.key, parsed.tone)]
        if parsed.unprefixed:
            readings.append((parsed.unprefixed, parsed.unprefixed_tone))
        for key, tone in readings:
            if not key:
                continue
            found = index.get(key) or loose.get(loose_key(key))
            if found:
                if len(found) > 1 and parsed.accented:
                    exact = [u for u in found if u.tone == tone]
                    if exact:
                        found = exact
                return tuple(found)
        if fuzzy and parsed.key and not _STREETISH.match(parsed.key) and not any(c.isdigit() for c in parsed.key):
            best = best_fuzzy(parsed.key, index)
            if best:
                return tuple(index[best])
        return ()

    def candidates(
        self,
        name: str,
        level: str,
        *,
        old_province: str | None = None,
        division_type: str | None = None,
        fuzzy: bool = True,
    ) -> tuple[Unit, ...]:
        """Units of ``level`` ("commune" or "district") a unit name may denote.

        ``old_province`` and ``division_type`` (e.g. "Huyện", "Thị xã") narrow the list
        when they can; a filter that would leave nothing is ignored.
        """
        parsed = parse_name(name)
        found = self._lookup(parsed, level, fuzzy=fuzzy)
        found = _narrow_by_kind(found, parsed.kind, level)
        if division_type:
            found = _narrow_by_kind(found, parse_name(f"{division_type} x").kind, level)
        if old_province:
            found = _narrow_by_province(found, self._province_of(old_province))
        return found

    def _province_of(self, text: str | None) -> str | None:
        if not text:
            return None
        return self._our_provinces.get(parse_name(text).key)

    # -- address matching -------------------------------------------------------------

    def _segment(self, text: str, *, fuzzy: bool) -> _Segment:
        cached = self._seg_cache.get((text, fuzzy))
        if cached is not None:
            return cached
        parsed = parse_name(text)
        kind = parsed.kind
        province = other = None
        communes: tuple[Unit, ...] = ()
        districts: tuple[Unit, ...] = ()
        if parsed.key in self._our_provinces and kind in (None, "tinh"):
            province = self._our_provinces[parsed.key]
        elif kind in (None, "tinh", "thanh pho") and parsed.key in self._other_provinces:
            other = True  # "tỉnh An Giang", "TP. Hồ Chí Minh", "Long An"
        if province is None:
            fz = fuzzy and kind is not None
            if kind is None or kind in COMMUNE_KINDS or parsed.ascii_prefix:
                communes = _narrow_by_kind(self._lookup(parsed, "commune", fuzzy=fz), kind, "commune")
            if kind is None or kind in DISTRICT_KINDS or parsed.ascii_prefix:
                districts = _narrow_by_kind(self._lookup(parsed, "district", fuzzy=fz), kind, "district")
            if kind in COMMUNE_KINDS and not parsed.ascii_prefix:
                districts = ()
            if kind in DISTRICT_KINDS and not parsed.ascii_prefix:
                communes = ()
        if communes or districts:
            other = False
        seg = _Segment(text, parsed, communes, districts, province, bool(other))
        if len(self._seg_cache) < self._cache_size:
            self._seg_cache[(text, fuzzy)] = seg
        return seg

    def match(self, text: object) -> MatchResult:
        """Resolve a unit name or an address. Never raises; unknown text gives method "none"."""
        if not isinstance(text, str):
            if text is None:
                return NO_MATCH
            try:
                text = str(text)
            except Exception:  # noqa: BLE001
                return NO_MATCH
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        try:
            result = self._match(text)
        except Exception:  # noqa: BLE001 - a matcher bug must not stop an ingestion run
            result = NO_MATCH
        if len(self._cache) < self._cache_size:
            self._cache[text] = result
        return result

    def match_many(self, texts: Sequence[object] | Iterable[object]):
        """Match many texts at once → pandas DataFrame (commune_code, district_code, method, matched)."""
        import pandas as pd

        keys = [_text_key(t) for t in texts]
        index = pd.RangeIndex(len(keys))
        seen: dict[str, MatchResult] = {}
        rows = []
        for key in keys:
            result = seen.get(key)
            if result is None:
                result = seen[key] = self.match(key)
            rows.append(result)
        columns = {
            "commune_code": [r.commune_code for r in rows],
            "district_code": [r.district_code for r in rows],
            "method": [r.method for r in rows],
            "matched": [r.matched for r in rows],
        }
        # object dtype keeps None as None (pandas 3 would otherwise infer str with NaN).
        return pd.DataFrame({k: pd.Series(v, dtype=object, index=index) for k, v in columns.items()})

    def _split(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFC", text)
        parts: list[str] = []
        for chunk in _SEGMENT_SPLIT.split(text):
            for piece in _INNER_SPLIT.split(chunk):
                piece = piece.strip(" .:-–—()[]\"'")
                if piece:
                    parts.append(piece)
        return parts

    def _match(self, text: str) -> MatchResult:
        result = self._resolve(self._split(text))
        if result.method == "none" and not result.other_province and not result.ambiguous:
            # No separators the splitter understood ("to 5 khom 2 xa my hiep huyen cao lanh"):
            # scan the folded words for "prefix + known name" runs.
            pieces = self._scan(text)
            if pieces:
                result = self._resolve(pieces)
        return result

    def _scan(self, text: str) -> list[str]:
        words = fold(text).split()
        pieces: list[str] = []
        i = 0
        while i < len(words):
            kind, n = _prefix_at(words, i)
            if kind is None:
                i += 1
                continue
            start = i + n
            best = None
            for end in range(min(len(words), start + 5), start, -1):
                name = " ".join(words[start:end])
                if (name in self._key["commune"] or name in self._key["district"]
                        or name in self._our_provinces or name in self._other_provinces):
                    best = end
                    break
            if best is None:
                i = start
                continue
            pieces.append(" ".join(words[i:best]))
            i = best
        return pieces

    def _resolve(self, pieces: list[str]) -> MatchResult:
        if not pieces:
            return NO_MATCH
        single = len(pieces) == 1
        segs = [self._segment(p, fuzzy=single or parse_name(p).kind is not None) for p in pieces]

        provinces = {s.province for s in segs if s.province}
        if any(s.other_province for s in segs) and not provinces:
            return MatchResult(method="none", other_province=True)
        tg_hint = OLD_TG in provinces and OLD_DT not in provinces
        dt_hint = OLD_DT in provinces and OLD_TG not in provinces

        # Explicitly prefixed segments first ("xã …", "huyện …").
        district_seg = next((s for s in segs if s.districts and s.parsed.kind in DISTRICT_KINDS), None)
        commune_seg = next((s for s in segs if s.communes and s.parsed.kind in COMMUNE_KINDS), None)
        if commune_seg is None:
            unprefixed = [s for s in segs if s.communes and s.parsed.kind is None]
            only_commune = [s for s in unprefixed if not s.districts]
            both = [s for s in unprefixed if s.districts]
            if only_commune:
                commune_seg = only_commune[0]
            elif both and not tg_hint:
                # Words that name both a current commune and an old district ("Mỹ Tho"):
                # the commune, unless the address is in the old format (names Tiền Giang).
                # Two such segments: the first is the commune, the second the district.
                commune_seg = both[0]
                if district_seg is None and len(both) > 1:
                    district_seg = both[1]
        if district_seg is None:
            district_seg = next((s for s in segs if s.districts and s is not commune_seg), None)
            if district_seg is None and commune_seg is not None and commune_seg.districts:
                district_seg = commune_seg  # "Mỹ Tho": the ward and the old city of that name

        ambiguous: list[str] = []
        district = None
        if district_seg is not None:
            cands = district_seg.districts
            if len(cands) > 1:
                hint = OLD_TG if tg_hint else OLD_DT if dt_hint else None
                cands = _narrow_by_province(cands, hint)
            if len(cands) > 1 and commune_seg is not None and len(commune_seg.communes) == 1:
                cands = _narrow_by_province(cands, commune_seg.communes[0].old_province)
            if len(cands) == 1:
                district = cands[0]
            elif district_seg is not commune_seg:
                ambiguous += [u.code for u in cands]

        commune = None
        if commune_seg is not None:
            cands = commune_seg.communes
            if len(cands) > 1 and district is not None:
                cands = _narrow_by_province(cands, district.old_province)
            if len(cands) > 1 and tg_hint:
                cands = _narrow_by_province(cands, OLD_TG)
            if len(cands) == 1:
                commune = cands[0]
            else:
                ambiguous += [u.code for u in cands]
            if commune is not None and district is not None and district.old_province != commune.old_province:
                if district_seg is commune_seg:
                    district = None  # the district reading of the same words contradicts
        if commune is not None:
            return MatchResult(commune.code, district.code if district else None, "address_commune",
                               commune_seg.text, tuple(ambiguous))
        if district is not None:
            return MatchResult(None, district.code, "address_district", district_seg.text, tuple(ambiguous))
        return MatchResult(ambiguous=tuple(dict.fromkeys(ambiguous)))


_DEFAULT: UnitMatcher | None = None


def _text_key(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        import pandas as pd

        if pd.isna(value) is True:
            return ""
    except (TypeError, ValueError):
        pass
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return ""


def _prefix_at(words: list[str], i: int) -> tuple[str | None, int]:
    for n in (2, 1):
        kind = PREFIX_WORDS.get(tuple(words[i:i + n]))
        if kind is not None and len(words[i:i + n]) == n:
            return kind, n
    return None, 0


def _narrow_by_kind(units: tuple[Unit, ...], kind: str | None, level: str) -> tuple[Unit, ...]:
    if len(units) < 2 or not kind:
        return tuple(units)
    if level == "commune":
        wanted = {"xa": {"xã"}, "phuong": {"phường"}}.get(kind)
    else:
        wanted = {"huyen": {"huyện"}, "thanh pho": {"thành phố", "thị xã"},
                  "thi xa": {"thành phố", "thị xã"}}.get(kind)
    if not wanted:
        return tuple(units)
    narrowed = tuple(u for u in units if (u.division_type or "").lower() in wanted)
    return narrowed or tuple(units)


def _narrow_by_province(units: tuple[Unit, ...], old_province: str | None) -> tuple[Unit, ...]:
    if len(units) < 2 or not old_province:
        return tuple(units)
    narrowed = tuple(u for u in units if u.old_province == old_province)
    return narrowed or tuple(units)


def division_rank(division_type: str | None) -> int:
    """Sort key: thành phố / thị xã before huyện (used to pair same-name polygons)."""
    return _DIVISION_ORDER.get((division_type or "").lower(), 9)
