"""The briefing's font: a TrueType font with full Vietnamese coverage, embedded in the PDF.

Found in ``IOC_BRIEFING_FONT_DIR`` when set, else among Debian's packages (fonts-dejavu-core,
fonts-noto-core). Without one the briefing is not made: a PDF in a fallback font would turn
"Bản tin" into boxes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ioc.errors import UserError

# (regular, bold) file names, most preferred first
CANDIDATES = (
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
)
SEARCH_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts")
# Letters a Vietnamese briefing cannot do without (every tone mark on every vowel shape we print).
VIETNAMESE = "ĐđăâêôơưẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹ"


@dataclass(frozen=True)
class Font:
    family: str
    regular: Path
    bold: Path


def _find(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        if not d.is_dir():
            continue
        direct = d / name
        if direct.is_file():
            return direct
        for hit in d.rglob(name):
            return hit
    return None


def covers_vietnamese(path: Path) -> bool:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as f:
        cmap = f.getBestCmap() or {}
    return all(ord(ch) in cmap for ch in VIETNAMESE)


def find_font(font_dir: str | os.PathLike | None = None) -> Font:
    """The font to embed, from ``font_dir`` (the setting IOC_BRIEFING_FONT_DIR) when given, else
    Debian's font folders; raises UserError (one line) when none with Vietnamese coverage exists."""
    configured = str(font_dir) if font_dir else None
    dirs = [Path(configured)] if configured else [Path(d) for d in SEARCH_DIRS]
    for regular, bold in CANDIDATES:
        r = _find(regular, dirs)
        if r is None:
            continue
        if not covers_vietnamese(r):
            continue
        b = _find(bold, dirs) or r
        return Font(family="IOC Briefing", regular=r, bold=b)
    where = configured or ", ".join(SEARCH_DIRS)
    raise UserError(f"no font with Vietnamese letters found in {where}: install fonts-dejavu-core or "
                    "fonts-noto-core, or set IOC_BRIEFING_FONT_DIR to a folder holding NotoSans-Regular.ttf "
                    "or DejaVuSans.ttf")
