"""Mailing through a local SMTP server (aiosmtpd): a briefing that passed its checks goes out
once with its PDF; a failed one never does; a refused delivery is recorded and retried with
backoff until the server accepts it."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from datetime import datetime, time, timedelta, timezone

import pytest

from cli_run import run_ioc
from world import DAY

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []
        self.refuse = 0  # refuse this many deliveries first (a server busy or down for a while)

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
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


def _config(views, mail_env):
    from ioc.briefings.mail import MailConfig

    return MailConfig.from_settings(views.settings.model_copy(update={
        "smtp_host": mail_env["IOC_SMTP_HOST"], "smtp_port": int(mail_env["IOC_SMTP_PORT"]),
        "smtp_from": mail_env["IOC_SMTP_FROM"], "briefing_recipients": mail_env["IOC_BRIEFING_RECIPIENTS"]}))


def _pdf_part(msg):
    return next(p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf")


def test_build_mail_sends_the_checked_pdf(world, smtp, tmp_path):
    inbox, mail_env = smtp
    _settings, env = world
    out = tmp_path / "w.pdf"
    res = run_ioc("briefing", "build", "--period", "week", "--date", DAY, "--out", str(out), "--mail", "--json",
                  env=env | mail_env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["mailed"] == ["lanhdao@dongthap.test",
                                                                        "vanphong@dongthap.test"]
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["lanhdao@dongthap.test", "vanphong@dongthap.test"]
    assert msg["Subject"] == "Bản tin điều hành hằng tuần — Tuần 17/11/2026 – 23/11/2026"
    assert "Trong tuần 17/11/2026 – 23/11/2026, Tổng đài 1022 tiếp nhận" in msg.get_body(("plain",)).get_content()
    assert _pdf_part(msg).get_content() == out.read_bytes()
    rows = json.loads(run_ioc("briefing", "list", "--json", env=env).stdout)
    assert rows[0]["mail"] == "Đã gửi thư"  # the outcome, on the briefing's row


def test_build_mail_refused_is_one_line_exit_3_and_recorded(world, smtp, tmp_path):
    inbox, mail_env = smtp
    _settings, env = world
    inbox.refuse = 1
    res = run_ioc("briefing", "build", "--period", "day", "--date", DAY, "--out", str(tmp_path / "d.pdf"), "--mail",
                  env=env | mail_env)
    assert res.returncode == 3 and "Traceback" not in res.stderr
    line = res.stderr.strip()
    assert "\n" not in line and "passed its checks and is stored" in line and "451" in line, line
    assert "the briefing scheduler retries it" in line
    rows = json.loads(run_ioc("briefing", "list", "--json", env=env).stdout)
    assert rows[0]["status"] == "done" and rows[0]["mail"] == "Gửi thư lỗi, sẽ thử lại"
    assert inbox.messages == []


def test_a_failed_briefing_is_never_mailed(views, smtp, tmp_path):
    from ioc.briefings.build import BriefingFailed, build
    from ioc.briefings.mail import due, send_briefing
    from ioc.errors import UserError
    from ioc.views.briefing_list import briefings

    inbox, mail_env = smtp
    cfg = _config(views, mail_env)
    with pytest.raises(BriefingFailed):
        build(views, "day", DAY, out=str(tmp_path / "d.pdf"), blank_figures=("fig-hotline-trend",), mail=True)
    row = briefings(views, limit=1)[0]
    assert row.id not in due(views.engine(), datetime.now(timezone.utc))  # never queued
    with pytest.raises(UserError, match="did not pass its checks"):
        send_briefing(views, row.id, cfg)  # even when asked by its id
    assert inbox.messages == []


def test_scheduler_mails_once_across_replicas(views, smtp):
    from ioc.briefings.scheduler import Scheduler

    inbox, mail_env = smtp
    cfg = _config(views, mail_env)
    at = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)  # 08:00 local on 20/11: the briefing of 19/11

    def replica():
        return Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, clock=lambda: at, mail=cfg)

    first, second = replica(), replica()
    assert [o for _s, o in first.tick()] == ["made"]
    assert [o for _s, o in second.tick()] == ["done-before"]
    assert [o for _s, o in first.tick()] == ["done-before"]
    assert len(inbox.messages) == 1
    assert inbox.messages[0][1]["Subject"] == "Bản tin điều hành hằng ngày — Ngày 19/11/2026"


def test_a_refused_mail_is_retried_with_backoff_until_accepted(views, smtp):
    from sqlalchemy.orm import Session

    from ioc.briefings import mail
    from ioc.briefings.scheduler import Scheduler
    from ioc.db import models as m

    inbox, mail_env = smtp
    with Session(views.engine()) as ses:  # this module's earlier refused mail is not this test's: out of the queue
        ses.query(m.Briefing).filter(m.Briefing.mail_status.in_(mail.RETRYING)).update({"mail_status": "gave-up"})
        ses.commit()
    inbox.refuse = 2  # the server refuses twice, then accepts
    wall = {"t": datetime.now(timezone.utc)}
    at = datetime(2026, 11, 17, 1, 0, tzinfo=timezone.utc)  # the briefing of 16/11
    s = Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, clock=lambda: at, wall=lambda: wall["t"],
                  mail=_config(views, mail_env))

    def row():
        with Session(views.engine()) as ses:
            return ses.query(m.Briefing).filter(m.Briefing.last_day == datetime(2026, 11, 16).date()).one()

    assert [o for _s, o in s.tick()] == ["made"]
    first = row()
    assert s.mailed == [(first.id, "failed")]
    assert (first.mail_status, first.mail_attempts) == ("failed", 1) and "451" in first.mail_error
    s.tick()
    assert s.mailed == []  # backing off: 1 minute
    wall["t"] += mail.backoff(1)
    s.tick()
    assert s.mailed == [(first.id, "failed")] and row().mail_attempts == 2
    wall["t"] += mail.backoff(1)
    s.tick()
    assert s.mailed == []  # now 2 minutes
    wall["t"] += mail.backoff(2)
    s.tick()
    assert s.mailed == [(first.id, "sent")]
    done = row()
    assert (done.mail_status, done.mail_attempts, done.mail_error) == ("sent", 3, None)
    assert len(inbox.messages) == 1 and inbox.messages[0][1]["Subject"] == (
        "Bản tin điều hành hằng ngày — Ngày 16/11/2026")
    wall["t"] += timedelta(hours=2)
    s.tick()
    assert s.mailed == [] and len(inbox.messages) == 1  # sent once
