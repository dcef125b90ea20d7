"""The briefing scheduler: slots in Asia/Ho_Chi_Minh, a missed 07:00 run caught up once (not
twice) with two scheduler processes running, retries with backoff counted in SQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cli_run import run_ioc
from ioc.briefings import scheduler as sch
from ioc.db import models as m

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def test_due_slots_daily_and_weekly_in_local_time():
    # Wednesday 25/11/2026 06:59 local: today's 07:00 not yet due; looking back two days
    # reaches Monday 23/11 and its weekly slot (07:30: the 7 days ending Sunday 22/11)
    now = datetime(2026, 11, 24, 23, 59, tzinfo=timezone.utc)
    slots = sch.due_slots(now, TZ, daily=time(7, 0), weekly=(0, time(7, 30)), catch_up_days=2)
    assert [(s.period, s.last_day.isoformat(), s.due.isoformat()) for s in slots] == [
        ("day", "2026-11-22", "2026-11-23T07:00:00+07:00"),
        ("week", "2026-11-22", "2026-11-23T07:30:00+07:00"),
        ("day", "2026-11-23", "2026-11-24T07:00:00+07:00"),
    ]
    later = sch.due_slots(now + timedelta(minutes=1), TZ, daily=time(7, 0), weekly=None, catch_up_days=0)
    assert [s.key for s in later] == ["day:2026-11-24"]
    assert sch.due_slots(now, TZ, daily=None, weekly=None, catch_up_days=5) == []
    assert sch.parse_weekly("mon@07:30") == (0, time(7, 30)) and sch.parse_daily("off") is None
    with pytest.raises(Exception, match="DAY@HH:MM"):
        sch.parse_weekly("monday 7:30")
    assert [sch.backoff(n).total_seconds() for n in (1, 2, 3, 10)] == [120, 240, 480, 3600]


def test_missed_run_is_caught_up_once_with_two_schedulers(world):
    _settings, env = world
    # the scheduler was down at 07:00 on 22/11; two replicas come back at 09:00
    args = [sys.executable, "-m", "ioc", "briefing", "schedule", "--once", "--now", "2026-11-22T09:00+07:00",
            "--weekly", "off", "--catch-up-days", "0"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    outcomes = sorted(json.loads(o[0].strip().splitlines()[-1])[0]["outcome"] for o in outs)
    assert outcomes[0] in ("done-before", "locked") and outcomes[1] == "made", outcomes
    again = run_ioc(*args[3:], env=env)  # a third look, in this process: nothing left to make
    assert json.loads(again.stdout.strip().splitlines()[-1]) == [
        {"slot": "day:2026-11-21", "due": "2026-11-22T07:00:00+07:00", "outcome": "done-before"}]
    from ioc.db.session import make_engine

    eng = make_engine(env["IOC_DATABASE_URL"])
    with Session(eng) as s:
        rows = s.execute(select(m.Briefing.status).where(m.Briefing.kind == "daily",
                                                          m.Briefing.last_day == date(2026, 11, 21))).all()
    eng.dispose()
    assert rows == [("done",)]  # made once, not twice


def test_failed_attempts_back_off_and_are_counted_in_sql(views, tmp_path):
    from ioc.briefings.build import build

    # 08:00 local on 02/01/2024: the briefing of 01/01/2024, long before the world's history (no
    # source has figures for it): a real build that fails and is recorded, without rendering a PDF
    now = {"t": datetime(2024, 1, 2, 1, 0, tzinfo=timezone.utc)}
    calls = []

    def counting_build(v, period, last_day, **kw):
        calls.append(last_day)
        return build(v, period, last_day, out=str(tmp_path / "x.pdf"), **kw)

    s = sch.Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, build=counting_build,
                      clock=lambda: now["t"])
    assert [o for _s, o in s.tick()] == ["failed"]
    assert [o for _s, o in s.tick()] == ["backing-off"]  # 2 minutes before the second attempt
    with Session(views.engine()) as ses:  # the 2 minutes pass
        ses.execute(update(m.Briefing).where(m.Briefing.last_day == date(2024, 1, 1))
                    .values(finished_at=datetime.now(timezone.utc) - timedelta(minutes=3)))
        ses.commit()
    assert [o for _s, o in s.tick()] == ["failed"]
    assert [o for _s, o in s.tick()] == ["backing-off"]  # now 4 minutes
    done, failed, _last = sch.attempts(views.engine(), sch.Slot("day", now["t"], date(2024, 1, 1)))
    assert not done and failed == 2 and calls == [date(2024, 1, 1)] * 2


def test_a_refusal_before_the_database_backs_off_too(views, tmp_path):
    from ioc.briefings.build import build

    wall = {"t": datetime.now(timezone.utc)}
    calls = []
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")

    def refused_build(v, period, last_day, **kw):  # an output folder that cannot be created
        calls.append(last_day)
        return build(v, period, last_day, out=str(a_file / "x.pdf"), **kw)

    at = datetime(2026, 11, 19, 1, 0, tzinfo=timezone.utc)  # 08:00 local on 19/11: the briefing of 18/11
    s = sch.Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, build=refused_build,
                      clock=lambda: at, wall=lambda: wall["t"])
    assert [o for _s, o in s.tick()] == ["failed"]
    assert [o for _s, o in s.tick()] == ["backing-off"]  # not tried again on the next look
    wall["t"] += timedelta(minutes=1)
    assert [o for _s, o in s.tick()] == ["backing-off"]
    wall["t"] += timedelta(minutes=2)  # 2 minutes after the first refusal
    assert [o for _s, o in s.tick()] == ["failed"]
    wall["t"] += timedelta(minutes=3)
    assert [o for _s, o in s.tick()] == ["backing-off"]  # now 4 minutes
    assert len(calls) == 2
    with Session(views.engine()) as ses:  # nothing reached SQL
        assert ses.scalars(select(m.Briefing).where(m.Briefing.last_day == date(2026, 11, 18))).all() == []


def test_a_fresh_start_waits_for_the_sources_first_data(views, tmp_path):
    """`ioc up` on a fresh machine: the scheduler looks before the connectors' first poll has
    ended. It waits (no failed row), then makes the briefing once the sources have data."""
    views.settings = views.settings.model_copy(update={"hotline_url": "http://sim.test/open311/v2",
                                                       "cameras_url": "http://sim.test/cameras/api/v1"})
    health = views.store.health("cameras")
    views.store.r.delete(views.store.key("health", "cameras"))  # its first poll is still running
    at = datetime(2026, 11, 18, 1, 0, tzinfo=timezone.utc)  # the briefing of 17/11
    s = sch.Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, clock=lambda: at)
    assert [o for _s, o in s.tick()] == ["waiting"]
    assert [o for _s, o in s.tick()] == ["waiting"]
    with Session(views.engine()) as ses:
        assert ses.scalars(select(m.Briefing).where(m.Briefing.last_day == date(2026, 11, 17))).all() == []
    views.store.set_health("cameras", health)  # the first poll ended
    assert [o for _s, o in s.tick()] == ["made"]
    assert [o for _s, o in s.tick()] == ["done-before"]


def test_the_first_data_wait_ends(views):
    views.settings = views.settings.model_copy(update={"procedures_url": "http://sim.test/p"})
    health = views.store.health("procedures")
    views.store.r.delete(views.store.key("health", "procedures"))  # configured, never polled
    wall = {"t": datetime.now(timezone.utc)}
    s = sch.Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, wall=lambda: wall["t"])
    assert s.waiting_for() == ["procedures"]
    wall["t"] += sch.FIRST_DATA_WAIT
    assert s.waiting_for() == []  # made anyway: the briefing says which source has no figures
    views.store.set_health("procedures", health)
