"""Words about a stored briefing, in the chosen language (texts in ioc/i18n.py): which briefing
("Bản tin ngày 01/12/2026"), its period ("Tuần 25/11/2026 – 01/12/2026"), and why an attempt
failed, from the ``reason`` code its build recorded and the names of the checks it failed.
Shared by /briefings, `ioc briefing list` and the briefing alert on the ticker and /m."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from ioc.i18n import STRINGS, t

TITLE = {"daily": "Bản tin điều hành hằng ngày", "weekly": "Bản tin điều hành hằng tuần"}  # the PDF's and the mail's
# the codes ioc.briefings.build records in briefings.reason
REASONS = ("checks", "no_data", "not_begun", "input", "figures", "write", "overdue")  # overdue: the snapshot's, no record


def _dm(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def period_label(kind: str, last_day: date, lang: str) -> str:
    if kind == "weekly":
        return t("briefings.weekly", lang).format(first=_dm(last_day - timedelta(days=6)), last=_dm(last_day))
    return t("briefings.daily", lang).format(day=_dm(last_day))


def what(kind: str, last_day: date, lang: str) -> str:
    """The briefing by name: "Bản tin ngày 01/12/2026", "Bản tin tuần 25/11/2026 – 01/12/2026"."""
    if kind == "weekly":
        return t("briefings.what.weekly", lang).format(first=_dm(last_day - timedelta(days=6)), last=_dm(last_day))
    return t("briefings.what.daily", lang).format(day=_dm(last_day))


def check_name(name: str, lang: str) -> str:
    key = f"briefings.check.{name}"
    return t(key, lang) if key in STRINGS else name


def reason(code: str | None, failed_checks: Iterable[str], detail: str | None, lang: str) -> str | None:
    """Why an attempt failed, as a phrase ("không đạt kiểm tra: bản đồ trống"); the stored
    English ``detail`` when the attempt predates reason codes."""
    if code == "checks":
        names = [check_name(n, lang) for n in failed_checks] or ["?"]
        return t("briefings.reason.checks", lang).format(checks=", ".join(names))
    if code == "write":
        # the system's words after "cannot write PATH: " (e.g. "No space left on device")
        why = (detail or "").rsplit(": ", 1)[-1] if detail else ""
        return t("briefings.reason.write", lang).format(detail=why)
    if code in REASONS:
        return t(f"briefings.reason.{code}", lang)
    return detail


def failed_check_names(checks: Iterable[dict] | None) -> list[str]:
    return [c.get("name", "?") for c in (checks or []) if not c.get("ok")]


def capitalised(text: str | None) -> str | None:
    return text[:1].upper() + text[1:] if text else text
