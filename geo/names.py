"""Vietnamese place-name normalisation.

Three keys are derived from a name, from strict to loose:

* ``tone_key``  — lowercase, prefix-free, with every diacritic kept but the tone mark moved
  to the end of its syllable as a digit ("Hoà" and "Hòa" both give ``hoa2``), so names
  that differ only by tone ("Tân Thành" / "Tân Thạnh") stay apart;
* ``normalize_name`` — lowercase, accent-free ASCII, prefix-free (the key stored in
  ``admin_units.norm_name``);
* ``loose_key`` — ``normalize_name`` with ``y`` read as ``i`` ("Mỹ Quý" = "Mỹ Quí").

Administrative prefixes (xã, phường, huyện, TP., …) are recognised and dropped; the kind
of prefix is returned by :func:`split_prefix` so a matcher can tell "Phường Mỹ Tho" from
"Xã Mỹ Thọ". A prefix followed only by a number is kept in canonical form ("P.1",
"Phường 01", "P1" → ``phuong 1``) because the number alone names nothing.

Every function here accepts arbitrary text (including ``None``) and never raises.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "COMMUNE_KINDS",
    "PREFIX_WORDS",
    "DISTRICT_KINDS",
    "PROVINCE_KINDS",
    "ParsedName",
    "best_fuzzy",
    "fold",
    "loose_key",
    "normalize_name",
    "parse_name",
    "split_prefix",
    "tone_key",
]

# Letters that look like đ/Đ: Đ U+0110, đ U+0111, Ð U+00D0 (Icelandic eth, used by GADM),
# ð U+00F0, Ɖ U+0189, ɖ U+0256.
_D_MAP = str.maketrans({"Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Ɖ": "D", "ɖ": "d"})

# Combining tone marks (Vietnamese has five besides the level tone).
_TONES = {"\u0300": "2", "\u0301": "1", "\u0303": "4", "\u0309": "3", "\u0323": "5"}
# The same tones, when typed with the Windows-1258 / legacy combining variants.
_TONES.update({"\u0340": "2", "\u0341": "1"})

_SEP_RE = re.compile(r"[^\w]+", re.UNICODE)
_GLUED_NUM_RE = re.compile(r"^(p|q|f)(\d+)$")  # "p1", "q10", "f3" (phường written as F)

# Prefix kind → canonical word used in keys when only a number follows.
COMMUNE_KINDS = frozenset({"xa", "phuong", "thi tran"})
DISTRICT_KINDS = frozenset({"huyen", "quan", "thanh pho", "thi xa"})
PROVINCE_KINDS = frozenset({"tinh"})

# Folded token sequences → prefix kind. Longest first when matching.
_PREFIXES: dict[tuple[str, ...], str] = {
    ("thanh", "pho"): "thanh pho",
    ("thi", "xa"): "thi xa",
    ("thi", "tran"): "thi tran",
    ("t", "p"): "thanh pho",
    ("t", "x"): "thi xa",
    ("t", "t"): "thi tran",
    ("tp",): "thanh pho",
    ("tx",): "thi xa",
    ("tt",): "thi tran",
    ("xa",): "xa",
    ("x",): "xa",
    ("phuong",): "phuong",
    ("p",): "phuong",
    ("f",): "phuong",
    ("huyen",): "huyen",
    ("h",): "huyen",
    ("quan",): "quan",
    ("q",): "quan",
    ("tinh",): "tinh",
}
# Prefixes the address scanner looks for in comma-less folded text (no single letters).
PREFIX_WORDS: dict[tuple[str, ...], str] = {
    k: v for k, v in _PREFIXES.items() if not (len(k) == 1 and len(k[0]) == 1) and k[0] != "t"
}
# The accented spelling of each folded prefix word. A token written WITH diacritics must
# carry exactly these to count as a prefix: "Phương Thịnh" is a name, "Phường 1" is not.
_ACCENTED = {
    "thanh": "thành",
    "pho": "phố",
    "thi": "thị",
    "xa": "xã",
    "tran": "trấn",
    "phuong": "phường",
    "huyen": "huyện",
    "quan": "quận",
    "tinh": "tỉnh",
}


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_D_MAP))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _as_text(text: object) -> str:
    if isinstance(text, str):
        return text
    if text is None:
        return ""
    try:
        return str(text)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break matching
        return ""


def fold(text: str) -> str:
    """Lowercase ASCII-ish form: diacritics removed, đ/Ð → d, punctuation → single spaces."""
    return _fold(_as_text(text))


@lru_cache(maxsize=200_000)
def _fold(text: str) -> str:
    folded = _strip_marks(text).casefold()
    # casefold may produce combining marks again (rare letters); strip once more.
    folded = "".join(ch for ch in unicodedata.normalize("NFD", folded) if not unicodedata.combining(ch))
    return " ".join(_SEP_RE.sub(" ", folded).replace("_", " ").split())


def _tone_token(token: str) -> str:
    decomposed = unicodedata.normalize("NFD", token.translate(_D_MAP_KEEP))
    tone = ""
    kept = []
    for ch in decomposed:
        if ch in _TONES:
            tone = _TONES[ch]
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)) + tone


# For the tone key, keep đ as a letter distinct from d, but unify its look-alikes.
_D_MAP_KEEP = str.maketrans({"Ð": "Đ", "ð": "đ", "Ɖ": "Đ", "ɖ": "đ"})


def _raw_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text.translate(_D_MAP_KEEP)).casefold()
    return _SEP_RE.sub(" ", text).replace("_", " ").split()


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A name split into its administrative prefix and keys.

    ``kind`` is the canonical prefix ("xa", "phuong", "huyen", "thanh pho", …) or None.
    ``ascii_prefix`` is True when the prefix was written without diacritics, so it might
    also be the first word of a name ("phuong thinh" = Phương Thịnh or phường Thịnh).
    ``unprefixed`` is the folded key without removing anything (only set in that case).
    """

    kind: str | None
    key: str  # folded, prefix-free (= normalize_name)
    tone: str  # tone key, prefix-free
    accented: bool  # the text carried diacritics (so ``tone`` is meaningful)
    ascii_prefix: bool = False
    unprefixed: str | None = None
    unprefixed_tone: str | None = None


_AMBIGUOUS_ASCII = frozenset({"xa", "phuong", "huyen", "quan", "tinh"})


def _canon_number(token: str) -> str:
    if token.isascii() and token.isdigit() and len(token) < 10:
        return str(int(token))
    return token


def parse_name(text: str) -> ParsedName:
    """Split ``text`` into (prefix kind, folded key, tone key). Never raises."""
    return _parse(_as_text(text))


@lru_cache(maxsize=200_000)
def _parse(text: str) -> ParsedName:
    raw = _raw_tokens(text)
    folded = [_fold(t) for t in raw]
    # Tokens that fold to several words ("ß"→"ss" is one, but e.g. "ǆ") are rare; keep 1:1.
    pairs = [(r, f) for r, f in zip(raw, folded, strict=True) if f]
    raw = [r for r, _ in pairs]
    folded = [f.replace(" ", "") for _, f in pairs]
    accented = any(r != f for r, f in zip(raw, folded, strict=True))

    # Glued numbers: "p1" → "p 1".
    if folded:
        m = _GLUED_NUM_RE.match(folded[0])
        if m and raw[0].isascii():
            raw = [m.group(1), m.group(2), *raw[1:]]
            folded = [m.group(1), m.group(2), *folded[1:]]

    kind = None
    n_prefix = 0
    ascii_prefix = False
    for words, k in sorted(_PREFIXES.items(), key=lambda kv: -len(kv[0])):
        n = len(words)
        if len(folded) < n or tuple(folded[:n]) != words:
            continue
        written = raw[:n]
        if all(w.isascii() for w in written):
            # Unaccented "xa", "phuong", "huyen", "quan", "tinh" may also be the first
            # syllable of a name (Xá, Phương, Huyền, Quán, Tịnh): remember both readings.
            ascii_prefix = n == 1 and words[0] in _AMBIGUOUS_ASCII
        elif not all(
            w == _ACCENTED.get(f, f) for w, f in zip(written, folded[:n], strict=True)
        ):
            continue  # accented but not the prefix word: "Phương", "Thạnh", "Xà" …
        kind, n_prefix = k, n
        break

    rest_raw, rest_folded = raw[n_prefix:], folded[n_prefix:]
    if kind and not rest_folded:  # the text is only a prefix ("Xã"): keep it as the name
        kind, rest_raw, rest_folded, ascii_prefix = None, raw, folded, False
    rest_folded = [_canon_number(t) for t in rest_folded]
    rest_raw = [_canon_number(t) for t in rest_raw]
    if kind and len(rest_folded) == 1 and rest_folded[0].isdigit():
        # "Phường 1" / "P.1": the number alone names nothing; keep a canonical prefix.
        key = f"{kind} {rest_folded[0]}"
        tone = key
    else:
        key = " ".join(rest_folded)
        tone = " ".join(_tone_token(t) for t in rest_raw)
    unprefixed = unprefixed_tone = None
    if ascii_prefix:
        unprefixed = " ".join(_canon_number(t) for t in folded)
        unprefixed_tone = unprefixed
    return ParsedName(kind, key, tone, accented, ascii_prefix, unprefixed, unprefixed_tone)


def split_prefix(text: str) -> tuple[str | None, str]:
    """``("xa", "my hiep")`` for "Xã Mỹ Hiệp"; ``(None, key)`` when there is no prefix."""
    parsed = parse_name(text)
    return parsed.kind, parsed.key


def normalize_name(text: str) -> str:
    """Accent-free, lowercase, prefix-free key of a place name.

    >>> normalize_name("Huyện Tháp Muời")
    'thap muoi'
    >>> normalize_name("TP. Sa Ðéc")
    'sa dec'
    >>> normalize_name("P.1")
    'phuong 1'
    """
    return parse_name(text).key


def tone_key(text: str) -> str:
    """Prefix-free key keeping diacritics, with tone placement normalised."""
    return parse_name(text).tone


def loose_key(key: str) -> str:
    """A folded key with ``y`` read as ``i`` (Quý/Quí, Mỹ/Mĩ)."""
    return key.replace("y", "i")


def best_fuzzy(
    key: str,
    choices: Iterable[str] | Mapping[str, object],
    *,
    cutoff: float = 0.86,
    margin: float = 0.04,
) -> str | None:
    """The single close match of ``key`` among ``choices``, or None when unsure.

    A match is accepted only when it scores at least ``cutoff`` and beats every other
    choice by ``margin`` — an edit-distance guess must never pick between two real places.
    Keys shorter than 4 letters are never fuzzed.
    """
    if not key or len(key) < 4:
        return None
    scored: list[tuple[float, str]] = []
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(key)
    for choice in choices:
        if abs(len(choice) - len(key)) > max(2, len(key) // 4):
            continue
        matcher.set_seq1(choice)
        if matcher.real_quick_ratio() < cutoff - margin or matcher.quick_ratio() < cutoff - margin:
            continue
        scored.append((matcher.ratio(), choice))
    if not scored:
        return None
    scored.sort(reverse=True)
    best_score, best = scored[0]
    if best_score < cutoff:
        return None
    if len(scored) > 1 and scored[1][0] > best_score - margin:
        return None
    return best
