"""Vietnamese display formats: 1.234,5 for numbers, dd/mm/yyyy in Asia/Ho_Chi_Minh for dates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def format_number(value: float | int | None, decimals: int = 0, *, lang: str = "vi", empty: str = "—") -> str:
    """1234.5 -> '1.234,5' (vi) or '1,234.5' (en). None -> an explicit dash, never 0."""
    if value is None:
        return empty
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def format_percent(value: float | None, decimals: int = 1, *, lang: str = "vi") -> str:
    """0.9964 -> '99,6 %'. Takes a share (0–1)."""
    if value is None:
        return "—"
    return f"{format_number(value * 100, decimals, lang=lang)} %"


def format_date(value: datetime | None, tz: ZoneInfo = DEFAULT_TZ) -> str:
    return "—" if value is None else value.astimezone(tz).strftime("%d/%m/%Y")


def format_datetime(value: datetime | None, tz: ZoneInfo = DEFAULT_TZ, *, seconds: bool = False) -> str:
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")
