"""Mailing a briefing that passed its checks to a configured list, through a configured SMTP
server. Configured by environment (docs/briefings.md):

    IOC_SMTP_HOST, IOC_SMTP_PORT (25), IOC_SMTP_STARTTLS (0/1), IOC_SMTP_USERNAME,
    IOC_SMTP_PASSWORD, IOC_SMTP_FROM, IOC_BRIEFING_RECIPIENTS (comma-separated addresses)

Without IOC_SMTP_HOST and IOC_BRIEFING_RECIPIENTS nothing is mailed. Only a briefing whose SQL
record says ``done`` and whose file exists can be sent: a failed or partial one never is.
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ioc.errors import UserError
from ioc.views.briefing_list import briefing_file

TIMEOUT_S = 30


@dataclass(frozen=True)
class MailConfig:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls, env: dict | None = None) -> MailConfig | None:
        env = os.environ if env is None else env
        host = (env.get("IOC_SMTP_HOST") or "").strip()
        rcpt = tuple(a.strip() for a in (env.get("IOC_BRIEFING_RECIPIENTS") or "").split(",") if a.strip())
        if not host or not rcpt:
            return None
        try:
            port = int(env.get("IOC_SMTP_PORT") or 25)
        except ValueError:
            raise UserError(f"invalid setting IOC_SMTP_PORT: {env.get('IOC_SMTP_PORT')!r} is not a port") from None
        bad = [a for a in rcpt if "@" not in a]
        if bad:
            raise UserError(f"invalid setting IOC_BRIEFING_RECIPIENTS: {', '.join(bad)} is not an address")
        return cls(host=host, port=port, sender=(env.get("IOC_SMTP_FROM") or "ioc@localhost").strip(),
                   recipients=rcpt, starttls=(env.get("IOC_SMTP_STARTTLS") or "0").strip() in ("1", "true", "yes"),
                   username=env.get("IOC_SMTP_USERNAME") or None, password=env.get("IOC_SMTP_PASSWORD") or None)


def message(cfg: MailConfig, result, pdf: bytes, filename: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{result.title} — {result.period_label}"
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="ioc.dongthap")
    msg.set_content(f"{result.narrative}\n\nBản tin đầy đủ (PDF, {result.pages} trang) đính kèm; "
                    "đã qua kiểm tra tự động trước khi gửi.\n\nTrung tâm Điều hành thông minh tỉnh Đồng Tháp")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


def send_briefing(views, result, cfg: MailConfig) -> None:
    """Mail a briefing that passed its checks; one-line UserError when the server refuses."""
    path = briefing_file(views, result.record_id)
    if path is None:
        raise UserError(f"briefing {result.record_id} did not pass its checks (or its file is gone): not mailed")
    msg = message(cfg, result, path.read_bytes(), path.name)
    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT_S) as smtp:
            if cfg.starttls:
                smtp.starttls()
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        raise UserError(f"cannot mail briefing {result.record_id} through {cfg.host}:{cfg.port}: "
                        f"{' '.join(str(e).split())[:200]}") from None
