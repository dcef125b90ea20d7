"""Prometheus metrics of ``ioc briefing schedule`` (docs/monitoring.md), served on
IOC_BRIEFINGS_METRICS_PORT by ioc.metrics_server.

``ioc_briefing_runs_total{kind,outcome}`` counts each due slot a tick looked at and did not find
already done: ``made``, ``failed`` (the attempt failed or was refused), ``skipped`` (backing off,
given up, another replica holds it, or waiting for the sources' first data). The last success comes
from SQL at scrape time, so it survives a restart and counts what any replica made.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ioc.db import models as m

# ioc.briefings.scheduler's outcomes → the metric's; "done-before" (nothing to do) is not counted
OUTCOMES = {"made": "made", "failed": "failed", "backing-off": "skipped", "gave-up": "skipped",
            "locked": "skipped", "waiting": "skipped"}


class BriefingMetrics:
    def __init__(self, registry: CollectorRegistry, engine) -> None:
        self.runs = Counter("ioc_briefing_runs_total", "Due briefings looked at, by kind (daily, weekly) and outcome "
                            "(made, failed, skipped).", ["kind", "outcome"], registry=registry)
        self.mails = Counter("ioc_briefing_mails_total", "Briefing mails sent or failed.", ["outcome"],
                             registry=registry)
        for kind in ("daily", "weekly"):
            for outcome in ("made", "failed", "skipped"):
                self.runs.labels(kind, outcome)  # every series exists from the start, at 0
        for outcome in ("sent", "failed"):
            self.mails.labels(outcome)
        registry.register(_LastSuccess(engine))

    def tick_done(self, outcomes, mailed) -> None:
        """``outcomes``: (kind, scheduler outcome) of the tick; ``mailed``: (briefing id, sent|failed)."""
        for kind, outcome in outcomes:
            if outcome in OUTCOMES:
                self.runs.labels(kind, OUTCOMES[outcome]).inc()
        for _rid, outcome in mailed:
            self.mails.labels(outcome).inc()


class _LastSuccess:
    def __init__(self, engine) -> None:
        self.engine = engine

    def collect(self):
        b = m.Briefing
        try:
            with Session(self.engine) as s:
                rows = s.execute(select(b.kind, func.max(b.finished_at)).where(b.status == "done")
                                 .group_by(b.kind)).all()
        except Exception:  # the database is down: the tick's errors say so; the gauge is left out
            return
        gauge = GaugeMetricFamily("ioc_briefing_last_success_timestamp_seconds",
                                  "When the newest briefing of the kind was made (Unix time).", labels=["kind"])
        for kind, at in rows:
            if at is not None:
                gauge.add_metric([kind], _utc(at).timestamp())
        yield gauge


def _utc(at):
    from datetime import timezone

    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
