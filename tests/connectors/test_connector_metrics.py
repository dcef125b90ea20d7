"""`ioc connectors run`'s /metrics (docs/monitoring.md): a real process polling the simulator,
scraped over HTTP, its counters compared with what SQL recorded."""

from __future__ import annotations

import signal
import socket
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector_harness import cli_env, fast_control, ioc_popen, upstream_tickets
from ioc.db import models as m
from simulator.testing import running_simulator

pytestmark = pytest.mark.parametrize("mdb", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(history_days=4, frozen=True, seed=9, scale=0.5) as s:
        fast_control(s)
        yield s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[tuple, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, *sorted(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(found, name, **labels) -> float:
    return found.get((name, *sorted(labels.items())), 0.0)


def sql_truth(engine) -> dict:
    with Session(engine) as s:
        runs = s.execute(select(func.count(), func.sum(m.SourceRun.new), func.sum(m.SourceRun.updated),
                                func.sum(m.SourceRun.unchanged), func.sum(m.SourceRun.quarantined))
                         .where(m.SourceRun.source == "hotline")).one()
        failed = s.scalar(select(func.count()).where(m.SourceRun.source == "hotline", m.SourceRun.ok.is_(False)))
        tickets = s.scalar(select(func.count()).select_from(m.Ticket))
    return {"polls": runs[0], "new": runs[1] or 0, "updated": runs[2] or 0, "unchanged": runs[3] or 0,
            "quarantined": runs[4] or 0, "failed": failed, "tickets": tickets}


def test_ingested_and_quarantined_counters_equal_what_sql_holds(sim, mdb, db_url_shared, redis_url, tmp_path):
    url, engine = mdb
    tickets = upstream_tickets(sim)
    broken = sorted(i for i, t in tickets.items() if t["status"] == "open")[:2]
    sim.set_faults("hotline", kind="bad_records", ids=broken, variants=["missing_id"])
    port = _free_port()
    env = cli_env(sim, tmp_path, db_url_shared, redis_url, IOC_HOTLINE_INTERVAL="1.5",
                  IOC_CONNECTORS_METRICS_PORT=str(port))
    proc = ioc_popen("connectors", "run", "--source", "hotline", env=env, cwd=tmp_path)
    try:
        found, deadline = {}, time.monotonic() + 120
        while time.monotonic() < deadline:  # until the counters have risen over three polls
            try:
                found = scrape(port)
            except httpx.HTTPError:
                found = {}
            if value(found, "ioc_connector_poll_duration_seconds_count", source="hotline") >= 3:
                break
            assert proc.poll() is None, (tmp_path / "ioc.err").read_text()
            time.sleep(0.3)
        assert value(found, "ioc_connector_poll_duration_seconds_count", source="hotline") >= 3, found
        # a scrape and SQL agree at a moment no poll ended in between (same poll count on both sides)
        for _ in range(50):
            before = scrape(port)
            truth = sql_truth(engine)
            after = scrape(port)
            polls = value(after, "ioc_connector_poll_duration_seconds_count", source="hotline")
            if polls == value(before, "ioc_connector_poll_duration_seconds_count", source="hotline") == truth["polls"]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("never a quiet moment between polls")
        lease = value(after, "ioc_connector_lease_held", source="hotline")
        lag = value(after, "ioc_connector_lag_seconds", source="hotline")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        sim.clear_faults()
    for outcome in ("new", "updated", "unchanged"):
        assert value(after, "ioc_connector_records_ingested_total", source="hotline", outcome=outcome) == truth[outcome]
    assert truth["new"] == truth["tickets"] > 0  # every ticket stored was counted once, as new
    assert truth["unchanged"] > 0  # the later polls re-read the open tickets
    quarantined = value(after, "ioc_connector_records_quarantined_total", source="hotline", reason="missing_id")
    assert quarantined == truth["quarantined"] == 2 * polls  # both broken records, once per poll
    assert value(after, "ioc_connector_poll_errors_total", source="hotline") == truth["failed"] == 0
    assert lease == 1
    assert lag > 0
    assert value(after, "ioc_connector_last_success_timestamp_seconds", source="hotline") > time.time() - 60
    assert value(after, "process_resident_memory_bytes") > 10e6
    assert "Traceback" not in (tmp_path / "ioc.err").read_text()
