"""Prometheus metrics of ``ioc connectors run`` (docs/monitoring.md), served on
IOC_CONNECTORS_METRICS_PORT by ioc.metrics_server. Only the process that polls a source counts
it: a standby's counters stay at 0 and its ``ioc_connector_lease_held`` says why."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

# a poll takes from ~50 ms (nothing new) to minutes (a first run reading 90 days of history)
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ingested = Counter("ioc_connector_records_ingested_total",
                                "Upstream records written to SQL by polls, by outcome (new, updated, unchanged).",
                                ["source", "outcome"], registry=registry)
        self.quarantined = Counter("ioc_connector_records_quarantined_total",
                                   "Records quarantined by polls, by reason (each poll counts a record once).",
                                   ["source", "reason"], registry=registry)
        self.errors = Counter("ioc_connector_poll_errors_total", "Polls that failed.", ["source"], registry=registry)
        self.duration = Histogram("ioc_connector_poll_duration_seconds", "Duration of a poll, failed ones included.",
                                  ["source"], buckets=POLL_BUCKETS, registry=registry)
        self._lock = threading.Lock()
        self._newest: dict[str, datetime] = {}
        self._last_success: dict[str, float] = {}
        self._lease: dict[str, bool] = {}
        registry.register(_StateCollector(self))

    def poll_done(self, source: str, result, seconds: float, by_reason: dict[str, int],
                  newest: datetime | None) -> None:
        self.duration.labels(source).observe(seconds)
        for outcome in ("new", "updated", "unchanged"):
            self.ingested.labels(source, outcome).inc(getattr(result, outcome))
        for reason, n in by_reason.items():
            self.quarantined.labels(source, reason).inc(n)
        if not result.ok:
            self.errors.labels(source).inc()
        self.errors.labels(source)  # the series exists (at 0) from the first poll on
        with self._lock:
            if result.ok:
                self._last_success[source] = time.time()
            if newest is not None and (source not in self._newest or newest > self._newest[source]):
                self._newest[source] = newest

    def lease(self, source: str, held: bool) -> None:
        with self._lock:
            self._lease[source] = held

    def snapshot(self):
        with self._lock:
            return dict(self._newest), dict(self._last_success), dict(self._lease)


class _StateCollector:
    """Gauges computed when scraped: the lag grows while nothing new arrives."""

    def __init__(self, m: ConnectorMetrics) -> None:
        self.m = m

    def collect(self):
        newest, last, lease = self.m.snapshot()
        now = datetime.now(timezone.utc)
        lag = GaugeMetricFamily("ioc_connector_lag_seconds", "Age of the newest upstream record this process has "
                                "read, now.", labels=["source"])
        for source, at in sorted(newest.items()):
            lag.add_metric([source], round((now - at).total_seconds(), 1))
        ok = GaugeMetricFamily("ioc_connector_last_success_timestamp_seconds",
                               "When this process's last successful poll of the source ended (Unix time).",
                               labels=["source"])
        for source, at in sorted(last.items()):
            ok.add_metric([source], at)
        held = GaugeMetricFamily("ioc_connector_lease_held", "1 while this process holds the source's lease "
                                 "(it polls), 0 while another one does.", labels=["source"])
        for source, yes in sorted(lease.items()):
            held.add_metric([source], 1 if yes else 0)
        yield from (lag, ok, held)
