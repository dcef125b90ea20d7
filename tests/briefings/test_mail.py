"""Mailing through a local SMTP server (aiosmtpd): a briefing that passed its checks goes out
once with its PDF; a failed one never does."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import subprocess
import sys
from datetime import datetime, time, timezone

import pytest

from world import DAY

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content,
                                                                                   policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    ctl = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield inbox, {"IOC_SMTP_HOST": "127.0.0.1", "IOC_SMTP_PORT": str(port), "IOC_SMTP_FROM": "ioc@dongthap.test",
                  "IOC_BRIEFING_RECIPIENTS": "lanhdao@dongthap.test, vanphong@dongthap.test"}
    ctl.stop()


def _pdf_part(msg):
    return next(p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf")


def test_build_mail_sends_the_checked_pdf(world, smtp, tmp_path):
    inbox, mail_env = smtp
    _settings, env = world
    out = tmp_path / "w.pdf"
    res = subprocess.run([sys.executable, "-m", "ioc", "briefing", "build", "--period", "week", "--date", DAY,
                          "--out", str(out), "--mail", "--json"], capture_output=True, text=True,
                         env=env | mail_env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["mailed"] == ["lanhdao@dongthap.test",
                                                                        "vanphong@dongthap.test"]
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["lanhdao@dongthap.test", "vanphong@dongthap.test"]
    assert msg["Subject"] == "Bản tin điều hành hằng tuần — Tuần 17/11/2026 – 23/11/2026"
    assert "Trong tuần 17/11/2026 – 23/11/2026, Tổng đài 1022 tiếp nhận" in msg.get_body(("plain",)).get_content()
    assert _pdf_part(msg).get_content() == out.read_bytes()


def test_a_failed_briefing_is_never_mailed(views, smtp, tmp_path):
    from ioc.briefings.build import BriefingFailed, BuildResult, build
    from ioc.briefings.mail import MailConfig, send_briefing
    from ioc.errors import UserError
    from ioc.views.briefing_list import briefings

    inbox, mail_env = smtp
    cfg = MailConfig.from_env(mail_env)
    with pytest.raises(BriefingFailed):
        build(views, "day", DAY, out=str(tmp_path / "d.pdf"), blank_figures=("fig-hotline-trend",))
    row = briefings(views, limit=1)[0]
    fake = BuildResult(row.id, "done", tmp_path / "d.failed.pdf")  # even if a caller says done
    with pytest.raises(UserError, match="did not pass its checks"):
        send_briefing(views, fake, cfg)
    assert inbox.messages == []


def test_scheduler_mails_once_across_replicas(views, smtp):
    from ioc.briefings.mail import MailConfig, send_briefing
    from ioc.briefings.scheduler import Scheduler

    inbox, mail_env = smtp
    cfg = MailConfig.from_env(mail_env)
    at = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)  # 08:00 local on 20/11: the briefing of 19/11

    def replica():
        return Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, clock=lambda: at,
                         on_done=lambda result, _slot: send_briefing(views, result, cfg))

    first, second = replica(), replica()
    assert [o for _s, o in first.tick()] == ["made"]
    assert [o for _s, o in second.tick()] == ["done-before"]
    assert [o for _s, o in first.tick()] == ["done-before"]
    assert len(inbox.messages) == 1
    assert inbox.messages[0][1]["Subject"] == "Bản tin điều hành hằng ngày — Ngày 19/11/2026"
