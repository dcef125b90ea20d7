"""CSV and XLSX files of a list, exactly as filtered and sorted on screen.

A cell that a spreadsheet would read as a formula — text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (OWASP "CSV injection") — is written with a leading single
quote, so it stays text. Every cell is text as the list shows it (dates dd/mm/yyyy HH:mm,
numbers 1.234,5). CSV is UTF-8 with a byte-order mark so that Excel reads Vietnamese."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XLSX (XML 1.0)


def safe_cell(value) -> str:
    """The cell's text, made inert: a leading quote before = + - @ tab CR."""
    s = "" if value is None else str(value)
    s = _CONTROL.sub("", s)
    if s.startswith(FORMULA_START):
        s = "'" + s
    return s


def to_csv(columns: Sequence[Mapping], rows: Iterable[Mapping]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([safe_cell(c["name"]) for c in columns])
    ids = [c["id"] for c in columns]
    for r in rows:
        w.writerow([safe_cell(r.get(i)) for i in ids])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(columns: Sequence[Mapping], rows: Iterable[Mapping], sheet: str = "IOC") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "IOC")
    bold = Font(bold=True)
    head = []
    for c in columns:
        cell = WriteOnlyCell(ws, value=safe_cell(c["name"]))
        cell.font = bold
        cell.data_type = "s"
        head.append(cell)
    ws.append(head)
    ids = [c["id"] for c in columns]
    for r in rows:
        cells = []
        for i in ids:
            cell = WriteOnlyCell(ws, value=safe_cell(r.get(i)))
            cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename(*parts: str, ext: str) -> str:
    """An ASCII file name from its parts ("phan-anh-1022_28249_2026-11-03_2026-12-02.csv")."""
    words = []
    for p in parts:
        a = unicodedata.normalize("NFKD", str(p).replace("đ", "d").replace("Đ", "D"))
        a = a.encode("ascii", "ignore").decode()
        a = re.sub(r"[^A-Za-z0-9.-]+", "-", a).strip("-").lower()
        if a:
            words.append(a)
    return "_".join(words)[:120] + "." + ext


def content_disposition(name: str) -> str:
    return f'attachment; filename="{name}"'
