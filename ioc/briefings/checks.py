"""Checks of a rendered briefing, made on the PDF itself (not on what we meant to draw):

* ``pages``: between MIN_PAGES and MAX_PAGES, and every page renders with ink on it;
* ``sections``: every section's anchor is in the PDF and its title in the extracted text;
* ``figures``: each figure the view has data for is found at its anchor (position; size from
  ``charts.FIGURES``), rendered, and has ink there — a chart coloured data marks (bars), the
  map filled communes (a chart without any value is a sentence instead, not checked for ink);
* ``values``: every expected KPI value (the view's formatted figures) is in the text;
* ``fonts``: every font is embedded (no reader-side substitution of Vietnamese letters);
* ``privacy``: none of the given personal strings (reporters' names, phones) is in the text.

``check_pdf`` returns a list of results; a briefing passes when all of them pass.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass

from ioc.briefings.charts import FIGURES
from ioc.views.briefing import SECTION_TITLES

MIN_PAGES, MAX_PAGES = 3, 40
RENDER_SCALE = 1.0  # 72 dpi: enough to count pixels, fast
# Share of a chart's box in coloured pixels (bars), of the map's box in non-white pixels (communes).
CHART_MIN_COLOURED = 0.01
MAP_MIN_FILLED = 0.15
PAGE_MIN_INK = 0.002
PT_PER_MM = 72 / 25.4


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " "))


def extract_text(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages]


def _coloured_share(arr, box) -> float:
    x0, y0, x1, y1 = box
    region = arr[y0:y1, x0:x1, :3].astype("int16")
    if region.size == 0:
        return 0.0
    spread = region.max(axis=2) - region.min(axis=2)
    return float((spread > 40).mean())


def _filled_share(arr, box) -> float:
    x0, y0, x1, y1 = box
    region = arr[y0:y1, x0:x1, :3]
    if region.size == 0:
        return 0.0
    return float((region.min(axis=2) < 245).mean())


def check_pdf(data: bytes, *, expected_values: list[str], personal: tuple[str, ...] = (),
              figures: list[str] | None = None) -> list[CheckResult]:
    """``figures``: the ids that must be drawn with ink (default: every one of FIGURES)."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    results: list[CheckResult] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        n_pages = len(reader.pages)
    except Exception as e:  # noqa: BLE001 - an unreadable file is a failed check, not a traceback
        return [CheckResult("pdf", False, f"the PDF cannot be read: {e}")]
    results.append(CheckResult("pages", MIN_PAGES <= n_pages <= MAX_PAGES,
                               f"{n_pages} pages (expected {MIN_PAGES}–{MAX_PAGES})"))
    texts = [p.extract_text() or "" for p in reader.pages]
    full = _norm(" ".join(texts))
    dests = {}
    for name, d in reader.named_destinations.items():
        try:
            dests[str(name)] = (reader.get_destination_page_number(d), float(d.left or 0), float(d.top or 0))
        except Exception:  # noqa: BLE001
            continue

    missing = [k for k, title in SECTION_TITLES.items() if f"sec-{k}" not in dests or _norm(title) not in full]
    results.append(CheckResult("sections", not missing, "all present" if not missing else
                               "missing: " + ", ".join(SECTION_TITLES[k] for k in missing)))

    doc = pdfium.PdfDocument(data)
    bitmaps = {}

    def page_array(i: int):
        if i not in bitmaps:
            bitmaps[i] = doc[i].render(scale=RENDER_SCALE).to_numpy()
        return bitmaps[i]

    blank = []
    for i in range(n_pages):
        arr = page_array(i)
        h, w = arr.shape[:2]
        if _filled_share(arr, (0, 0, w, h)) < PAGE_MIN_INK:
            blank.append(str(i + 1))
    results.append(CheckResult("pages_render", not blank, "every page has content" if not blank else
                               "blank page(s): " + ", ".join(blank)))

    for fig_id in (list(FIGURES) if figures is None else figures):
        kind, w_mm, h_mm = FIGURES[fig_id]
        if fig_id not in dests:
            results.append(CheckResult(f"figure:{fig_id}", False, "not in the PDF"))
            continue
        page, left, top = dests[fig_id]
        arr = page_array(page)
        ph = arr.shape[0]
        s = RENDER_SCALE
        # PDF points, origin bottom-left → pixels, origin top-left
        box = (int(left * s), int(ph - top * s), int((left + w_mm * PT_PER_MM) * s), int(ph - (top - h_mm * PT_PER_MM) * s))
        if kind == "map":
            share = _filled_share(arr, box)
            ok = share >= MAP_MIN_FILLED
            detail = f"{share:.1%} of the map's box filled (at least {MAP_MIN_FILLED:.0%} expected), page {page + 1}"
        else:
            share = _coloured_share(arr, box)
            ok = share >= CHART_MIN_COLOURED
            detail = f"{share:.1%} of the chart's box in data colours (at least {CHART_MIN_COLOURED:.0%}), page {page + 1}"
        results.append(CheckResult(f"figure:{fig_id}", ok, detail))
    doc.close()

    absent = [v for v in expected_values if _norm(v) not in full]
    results.append(CheckResult("values", not absent, f"{len(expected_values)} expected values found" if not absent
                               else "not in the text: " + ", ".join(absent)))

    not_embedded = []
    for page in reader.pages:
        fonts = ((page.get("/Resources") or {}).get("/Font") or {})
        for f in fonts.values():
            f = f.get_object()
            desc = f.get("/FontDescriptor")
            if desc is None and "/DescendantFonts" in f:
                desc = f["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            if not any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                not_embedded.append(str(f.get("/BaseFont")))
    results.append(CheckResult("fonts", not not_embedded, "all fonts embedded" if not not_embedded
                               else "not embedded: " + ", ".join(sorted(set(not_embedded)))))

    leaked = [s for s in personal if s and _norm(s) in full]
    results.append(CheckResult("privacy", not leaked, "no personal data found" if not leaked
                               else f"{len(leaked)} personal value(s) in the text"))
    return results


def failures(results: list[CheckResult]) -> list[str]:
    return [f"{r.name}: {r.detail}" for r in results if not r.ok]



