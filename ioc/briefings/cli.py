"""`ioc briefing …`: make a daily or weekly PDF briefing, list the stored ones.

    ioc briefing build --period day --date 2026-11-23 [--out FILE.pdf]
    ioc briefing list [--json]
    ioc briefing schedule [--daily 07:00] [--weekly mon@07:30] [--once]   the scheduler (Procfile)

Bad input is one line on stderr, exit 2; a briefing that fails its checks, exit 1; a briefing
that passed but whose mail was refused (recorded, retried by the scheduler), exit 3.
"""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ioc.errors import UserError

app = typer.Typer(help="Daily and weekly PDF briefings.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

class MailFailed(UserError):
    """Made and passed, but the mail was refused (recorded; the scheduler retries): exit 3."""

    exit_code = 3


STEP_LABEL = {"font": "phông chữ", "figures": "số liệu kỳ", "trend": "xu hướng 7 ngày", "tables": "bảng",
              "map": "bản đồ", "render": "dựng PDF", "checks": "kiểm tra", "store": "lưu"}


def _views():
    from ioc.settings import load_settings
    from ioc.views.read import ReadModel

    return ReadModel.from_settings(load_settings())


@app.command()
def build(
    period: str = typer.Option(..., "--period", help="day | week"),
    date_: Optional[str] = typer.Option(None, "--date", help="The day, or the last day of the week, YYYY-MM-DD "
                                                              "(default: yesterday)."),
    out_file: Optional[str] = typer.Option(None, "--out", help="Write the PDF here (default: "
                                                              "IOC_DATA_DIR/briefings/)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary (no progress bar)."),
    mail: bool = typer.Option(False, "--mail", help="Mail it to IOC_BRIEFING_RECIPIENTS if it passes its checks."),
) -> None:
    """Build, check and store one briefing, with a progress bar on stderr (on a terminal)."""
    from datetime import datetime, timedelta

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ioc.briefings.build import STEPS, build as run_build

    from ioc.briefings.mail import MailConfig, send_briefing

    views = _views()
    mail_cfg = MailConfig.from_settings(views.settings) if mail else None
    if mail and mail_cfg is None:
        raise UserError("--mail needs IOC_SMTP_HOST and IOC_BRIEFING_RECIPIENTS")
    if date_ is None:
        date_ = (datetime.now(views.tz).date() - timedelta(days=1)).isoformat()
    with Progress(TextColumn("[bold]bản tin[/] {task.fields[step]}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("briefing", total=len(STEPS), step="")

        def progress(step: str) -> None:
            bar.update(task, completed=STEPS.index(step), step=STEP_LABEL.get(step, step))

        res = run_build(views, period, date_, out=out_file, progress=progress, mail=mail_cfg is not None)
        bar.update(task, completed=len(STEPS))
    if mail_cfg is not None:
        try:
            send_briefing(views, res.record_id, mail_cfg)
        except UserError as e:
            raise MailFailed(f"briefing {res.record_id} passed its checks and is stored at {res.path}, but {e}; "
                             "the briefing scheduler retries it") from None
    summary = {"id": res.record_id, "status": res.status, "path": str(res.path), "pages": res.pages,
               "size_bytes": res.size, "seconds": round(res.seconds, 2),
               "mailed": list(mail_cfg.recipients) if mail_cfg else [], "checks": [r.as_dict() for r in res.checks]}
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    out.print(f"briefing {res.record_id}: {res.status}, {res.pages} pages, {res.size:,} bytes, "
              f"{res.seconds:.1f} s → {res.path}", highlight=False, soft_wrap=True)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON."),
             limit: int = typer.Option(20, min=1, max=500, help="Newest first, this many.")) -> None:
    """The stored briefings, newest first."""
    from ioc.views.briefing_list import briefings

    rows = briefings(_views(), limit=limit)
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, default=str))
        return
    table = Table("id", "kỳ", "trạng thái", "trang", "lập lúc", "tệp / lý do")
    for r in rows:
        table.add_row(str(r.id), r.period_label, r.status_label, r.pages_text, r.made_at,
                      r.path if r.downloadable else (r.reason or ""))
    out.print(table)


@app.command()
def schedule(
    daily: Optional[str] = typer.Option(None, "--daily", help="Local time of the daily briefing (of yesterday), "
                                                              "HH:MM, or off (default: IOC_BRIEFING_DAILY)."),
    weekly: Optional[str] = typer.Option(None, "--weekly", help="Day and local time of the weekly briefing (of the "
                                                                "7 days before), DAY@HH:MM, or off (default: "
                                                                "IOC_BRIEFING_WEEKLY)."),
    catch_up_days: Optional[int] = typer.Option(None, "--catch-up-days", min=0, max=31,
                                                help="Make missed briefings due this many days back (default: "
                                                     "IOC_BRIEFING_CATCH_UP_DAYS)."),
    every: float = typer.Option(30.0, "--every", min=1.0, help="Seconds between looks at the schedule."),
    once: bool = typer.Option(False, "--once", help="Look once, make what is due, print a JSON line, exit."),
    now: Optional[str] = typer.Option(None, "--now", help="With --once: look as if it were this time "
                                                          "(ISO 8601 with offset), e.g. to catch up by hand."),
) -> None:
    """The briefing scheduler: cron-like in IOC_TIMEZONE, one run across replicas (Redis lock),
    missed runs caught up once, retries with backoff. Runs until SIGTERM / SIGINT."""
    import signal
    import threading
    from datetime import datetime, timezone

    from ioc.briefings import slots
    from ioc.briefings.mail import MailConfig
    from ioc.briefings.scheduler import Scheduler

    clock = lambda: datetime.now(timezone.utc)  # noqa: E731
    if now is not None:
        if not once:
            raise UserError("--now needs --once")
        try:
            at = datetime.fromisoformat(now)
        except ValueError:
            raise UserError(f"bad --now {now!r}: use ISO 8601 with an offset, e.g. 2026-11-24T09:00+07:00") from None
        if at.tzinfo is None:
            raise UserError(f"--now {now!r} needs an offset, e.g. +07:00")
        clock = lambda: at  # noqa: E731
    views = _views()
    from ioc.settings import configure_logging

    configure_logging(views.settings)  # IOC_LOG_LEVEL, and no secret in any log line
    settings = views.settings
    d, w, c = slots.from_settings(settings)
    if daily is not None:
        d = slots.parse_daily(daily)
    if weekly is not None:
        w = slots.parse_weekly(weekly)
    if catch_up_days is not None:
        c = catch_up_days
    sched = Scheduler(views, daily=d, weekly=w, catch_up_days=c, clock=clock, mail=MailConfig.from_settings(settings))
    if once:
        done = sched.tick()
        print(json.dumps([{"slot": s.key, "due": s.due.isoformat(), "outcome": o} for s, o in done]
                         + [{"mail": rid, "outcome": o} for rid, o in sched.mailed]))
        return
    from ioc import metrics_server
    from ioc.briefings.metrics import BriefingMetrics

    registry = metrics_server.new_registry()
    sched.metrics = BriefingMetrics(registry, views.engine())
    http = metrics_server.serve("briefings", settings, registry)  # IOC_BRIEFINGS_METRICS_PORT
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    err.print(f"briefing scheduler: daily {d.strftime('%H:%M') if d else 'off'}, weekly "
              f"{(list(slots.DOW)[w[0]] + '@' + w[1].strftime('%H:%M')) if w else 'off'}, catch-up {c} days, "
              f"mail {'to ' + str(len(sched.mail.recipients)) + ' recipient(s)' if sched.mail else 'off'}",
              highlight=False)
    try:
        sched.run(stop, every=every)
    finally:
        if http is not None:
            http.shutdown()


__all__ = ["app", "UserError"]
