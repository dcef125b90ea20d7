"""Mailing a briefing that passed its checks to a configured list, through a configured SMTP
server (settings IOC_SMTP_HOST, IOC_SMTP_PORT, IOC_SMTP_STARTTLS, IOC_SMTP_USERNAME,
IOC_SMTP_PASSWORD, IOC_SMTP_FROM, IOC_BRIEFING_RECIPIENTS; docs/briefings.md).

Without a host and recipients nothing is mailed. Only a briefing whose SQL record says ``done``
and whose file exists can be sent: a failed or partial one never is. Each attempt is recorded
on the briefing's row (``mail_status`` pending → sent | failed → … | gave-up, ``mail_attempts``,
``mail_error``, ``mail_at``); a failed one is tried again after 1, 2, 4 … minutes (at most an
hour), ``MAX_ATTEMPTS`` times in all, by the briefing scheduler (:func:`due`).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ioc.db import models as m
from ioc.errors import UserError
from ioc.views.briefing_list import briefing_file
from ioc.views.briefing_text import TITLE, period_label

log = logging.getLogger("ioc.briefings.mail")

TIMEOUT_S = 30
MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
RETRYING = ("pending", "failed")


@dataclass(frozen=True)
class MailConfig:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings) -> MailConfig | None:
        if not settings.smtp_host or not settings.recipients:
            return None
        return cls(host=settings.smtp_host.strip(), port=settings.smtp_port, sender=settings.smtp_from.strip(),
                   recipients=settings.recipients, starttls=settings.smtp_starttls,
                   username=settings.smtp_username or None, password=settings.smtp_password)


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


def message(cfg: MailConfig, row: m.Briefing, pdf: bytes, filename: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{TITLE[row.kind]} — {period_label(row.kind, row.last_day, 'vi')}"
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="ioc.dongthap")
    msg.set_content(f"{row.summary or ''}\n\nBản tin đầy đủ (PDF, {row.pages} trang) đính kèm; "
                    "đã qua kiểm tra tự động trước khi gửi.\n\nTrung tâm Điều hành thông minh tỉnh Đồng Tháp")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


def _send(cfg: MailConfig, msg: EmailMessage) -> None:
    with smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT_S) as smtp:
        if cfg.starttls:
            smtp.starttls()
        if cfg.username:
            smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        smtp.send_message(msg, from_addr=cfg.sender, to_addrs=list(cfg.recipients))


def send_briefing(views, record_id: int, cfg: MailConfig, *, now: datetime | None = None) -> None:
    """Mail one briefing that passed its checks and record the outcome on its row; a server
    that refuses is a one-line UserError (the row says ``failed`` and when, so it is retried)."""
    path = briefing_file(views, record_id)
    if path is None:
        raise UserError(f"briefing {record_id} did not pass its checks (or its file is gone): not mailed")
    now = now or datetime.now(timezone.utc)
    with Session(views.engine()) as s:
        row = s.get(m.Briefing, record_id)
        msg = message(cfg, row, path.read_bytes(), path.name)
        attempts = (row.mail_attempts or 0) + 1
    try:
        _send(cfg, msg)
    except (OSError, smtplib.SMTPException) as e:
        error = " ".join(str(e).split())[:300]  # the server's words; never the password
        status = "gave-up" if attempts >= MAX_ATTEMPTS else "failed"
        _record(views.engine(), record_id, status=status, attempts=attempts, error=error, at=now)
        raise UserError(f"cannot mail briefing {record_id} through {cfg.host}:{cfg.port} (attempt {attempts} of "
                        f"{MAX_ATTEMPTS}): {error}") from None
    _record(views.engine(), record_id, status="sent", attempts=attempts, error=None, at=now)


def _record(engine, record_id: int, *, status: str, attempts: int, error: str | None, at: datetime) -> None:
    with Session(engine) as s:
        s.execute(update(m.Briefing).where(m.Briefing.id == record_id)
                  .values(mail_status=status, mail_attempts=attempts, mail_error=error, mail_at=at))
        s.commit()


def due(engine, now: datetime) -> list[int]:
    """Briefings that passed and are to be mailed, whose last attempt is older than its backoff."""
    b = m.Briefing
    with Session(engine) as s:
        rows = s.execute(select(b.id, b.mail_attempts, b.mail_at)
                         .where(b.status == "done", b.mail_status.in_(RETRYING)).order_by(b.id)).all()
    out = []
    for rid, attempts, at in rows:
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        if not attempts or at is None or now - at >= backoff(attempts):
            out.append(rid)
    return out


def still_due(engine, record_id: int) -> bool:
    with Session(engine) as s:
        return s.scalar(select(m.Briefing.mail_status).where(m.Briefing.id == record_id)) in RETRYING
