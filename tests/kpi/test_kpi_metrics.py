"""`ioc kpi run`'s /metrics (docs/monitoring.md): a real process scraped over HTTP, and a build
that cannot be published counted as a failure."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _samples(text: str) -> dict:
    return {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples if not s.labels}


def test_kpi_run_serves_its_builds(sqlite_url, redis_url, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOC_", "PROMETHEUS_"))}
    env |= {"IOC_DATABASE_URL": sqlite_url, "IOC_REDIS_URL": redis_url, "IOC_DATA_DIR": str(tmp_path),
            "IOC_KPI_METRICS_PORT": str(port), "PYTHONPATH": str(ROOT), "IOC_LOG_LEVEL": "WARNING"}
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "ioc", "kpi", "run", "--periodic", "1", "--period-refresh", "0",
                             "--rollup-refresh", "0"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    found: dict = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and found.get("ioc_kpi_builds_total", 0) < 2:
            try:
                found = _samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert found.get("ioc_kpi_builds_total", 0) >= 2, found  # the first build and a periodic one: it rises
    assert found["ioc_kpi_build_duration_seconds_count"] == found["ioc_kpi_builds_total"]
    assert found["ioc_kpi_build_failures_total"] == 0
    assert started <= found["ioc_kpi_last_success_timestamp_seconds"] <= time.time()  # one of this run's builds
    assert found["process_resident_memory_bytes"] > 10e6
    assert b"Traceback" not in err, err.decode()[-2000:]


def test_a_build_that_cannot_be_published_is_a_failure(sqlite_url):
    from ioc.db.session import make_engine
    from ioc.kpi.metrics import KpiMetrics
    from ioc.kpi.orchestrator import Orchestrator
    from ioc.live_store import LiveStore

    registry = CollectorRegistry()
    engine = make_engine(sqlite_url)
    dead = LiveStore.from_url("redis://127.0.0.1:1/0", prefix="ioc", socket_timeout=0.2, socket_connect_timeout=0.2)
    orch = Orchestrator(engine, dead, periodic=60.0, metrics=KpiMetrics(registry))
    assert orch.recompute(force=True) is False
    assert registry.get_sample_value("ioc_kpi_builds_total") == 1
    assert registry.get_sample_value("ioc_kpi_build_failures_total") == 1
    assert registry.get_sample_value("ioc_kpi_build_duration_seconds_count") == 1
    assert registry.get_sample_value("ioc_kpi_last_success_timestamp_seconds") == 0
    engine.dispose()
