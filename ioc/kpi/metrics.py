"""Prometheus metrics of ``ioc kpi run`` (docs/monitoring.md), served on IOC_KPI_METRICS_PORT by
ioc.metrics_server. A build is one recompute of the snapshot, its alerts and the published views."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# an incremental build takes ~10-100 ms, a full one on a large history seconds
BUILD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class KpiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.builds = Counter("ioc_kpi_builds_total", "Snapshot builds (recomputes), failed ones included.",
                              registry=registry)
        self.failures = Counter("ioc_kpi_build_failures_total", "Builds that failed or could not be published "
                                "(a database part missing, Redis down).", registry=registry)
        self.duration = Histogram("ioc_kpi_build_duration_seconds", "Duration of a build, publishing included.",
                                  buckets=BUILD_BUCKETS, registry=registry)
        self.last_success = Gauge("ioc_kpi_last_success_timestamp_seconds",
                                  "When the last successful build was published (Unix time).", registry=registry)

    def build_done(self, ok: bool, seconds: float) -> None:
        self.builds.inc()
        self.duration.observe(seconds)
        if ok:
            self.last_success.set(time.time())
        else:
            self.failures.inc()
