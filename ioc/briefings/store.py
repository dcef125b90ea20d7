"""Where briefings go: the PDF under ``IOC_DATA_DIR/briefings`` (or ``--out``) and one row per
attempt in the SQL table ``briefings`` (status pending → done | failed, the checks, pages,
size). This module writes the table; pages read it through ``ioc.views.briefing_list``."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from ioc.briefings.slots import KIND
from ioc.db import models as m
from ioc.errors import UserError

FILE_PREFIX = {"day": "ban-tin-ngay", "week": "ban-tin-tuan"}


def default_folder(settings) -> Path:
    return Path(settings.data_dir) / "briefings"


def output_path(settings, period: str, last_day: date, out: str | os.PathLike | None) -> Path:
    """The file to write, its folder created and writable; one-line UserError otherwise."""
    path = Path(out) if out else default_folder(settings) / f"{FILE_PREFIX[period]}-{last_day.isoformat()}.pdf"
    if path.suffix.lower() != ".pdf":
        raise UserError(f"the output file must end in .pdf, got {str(path)!r}")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the output folder {folder}: {e.strerror or e}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"the output folder {folder} is not writable")
    return path.resolve()


def failed_path(path: Path) -> Path:
    """Where a briefing that failed its checks is kept for inspection (never offered for download)."""
    return path.with_name(path.stem + ".failed.pdf")


def start_record(engine, period: str, last_day: date, start: datetime | None, end: datetime | None) -> int:
    now = datetime.now(timezone.utc)
    with Session(engine) as s:
        row = m.Briefing(kind=KIND[period], last_day=last_day, period_start=start or now, period_end=end or now,
                         status="pending", created_at=now)
        s.add(row)
        s.commit()
        return row.id


def finish_record(engine, record_id: int, *, status: str, path: Path | None = None, error: str | None = None,
                  checks: list[dict] | None = None, pages: int | None = None, size: int | None = None,
                  start: datetime | None = None, end: datetime | None = None, reason: str | None = None,
                  summary: str | None = None, mail: bool = False) -> None:
    """``reason``: why it failed, a code (ioc.views.briefing_text.REASONS); ``mail``: a briefing
    that passed is to be mailed (``mail_status`` pending)."""
    values = dict(status=status, path=str(path) if path else None, error=error, checks=checks, pages=pages,
                  size_bytes=size, finished_at=datetime.now(timezone.utc), reason=reason, summary=summary)
    if mail and status == "done":
        values.update(mail_status="pending", mail_attempts=0)
    if start is not None and end is not None:
        values.update(period_start=start, period_end=end)
    with Session(engine) as s:
        s.execute(update(m.Briefing).where(m.Briefing.id == record_id).values(**values))
        s.commit()


def write_file(path: Path, data: bytes) -> None:
    """Write atomically (a temp file then rename): a reader never sees half a PDF; a full disk
    is one clear line."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
