"""`ioc briefing schedule`'s metrics (docs/monitoring.md): the outcomes of each tick, and the last
success read from SQL at scrape time."""

from __future__ import annotations

from datetime import datetime, time, timezone

from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from ioc.briefings import scheduler as sch
from ioc.briefings.metrics import BriefingMetrics
from ioc.db import models as m


def test_outcomes_and_last_success(views, tmp_path):
    from ioc.briefings.build import build

    registry = CollectorRegistry()
    metrics = BriefingMetrics(registry, views.engine())

    def runs(outcome):
        return registry.get_sample_value("ioc_briefing_runs_total", {"kind": "daily", "outcome": outcome})

    # 08:00 local on 02/01/2024: the briefing of 01/01/2024, before the world's history: a real build that fails
    s = sch.Scheduler(views, daily=time(7, 0), weekly=None, catch_up_days=0, metrics=metrics,
                      build=lambda v, p, d, **kw: build(v, p, d, out=str(tmp_path / "x.pdf"), **kw),
                      clock=lambda: datetime(2024, 1, 2, 1, 0, tzinfo=timezone.utc))
    assert [o for _s, o in s.tick()] == ["failed"]
    assert [o for _s, o in s.tick()] == ["backing-off"]
    assert (runs("made"), runs("failed"), runs("skipped")) == (0, 1, 1)
    assert registry.get_sample_value("ioc_briefing_last_success_timestamp_seconds", {"kind": "daily"}) is None

    finished = datetime(2024, 2, 2, 1, 5, tzinfo=timezone.utc)

    def recorded(v, period, last_day, **kw):  # what a passing build leaves in SQL, without the PDF
        with Session(v.engine()) as ses, ses.begin():
            ses.add(m.Briefing(kind="daily", period_start=finished, period_end=finished, status="done",
                               created_at=finished, last_day=last_day, finished_at=finished))

    s.build, s.clock = recorded, lambda: datetime(2024, 2, 2, 1, 0, tzinfo=timezone.utc)
    assert [o for _s, o in s.tick()] == ["made"]
    assert [o for _s, o in s.tick()] == ["done-before"]  # nothing to do: not counted
    assert (runs("made"), runs("failed"), runs("skipped")) == (1, 1, 1)
    assert registry.get_sample_value("ioc_briefing_last_success_timestamp_seconds",
                                     {"kind": "daily"}) == finished.timestamp()
