"""Acceptance: `ioc connectors …` as a user runs it (subprocess, IOC_* environment)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from connector_harness import (
    aware,
    cli_env,
    fast_control,
    ioc,
    sql_rows,
    upstream_dossiers,
    upstream_tickets,
    utc,
)
from ioc.db import models as m
from simulator.testing import running_simulator

SUMMARY_KEYS = {"source", "fetched", "new", "updated", "unchanged", "quarantined"}
# The command line is the subject here; both databases are covered by the other modules.
pytestmark = pytest.mark.parametrize("mdb", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(history_days=4, frozen=True, seed=9, scale=0.5) as s:
        fast_control(s)
        yield s


def last_json_line(stdout: str) -> dict:
    line = stdout.strip().splitlines()[-1]
    return json.loads(line)


def assert_one_line_reason(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), stderr
    for n in needles:
        assert n in last, last


def test_poll_once_json_then_status(sim, mdb, db_url_shared, redis_url, tmp_path):
    url, engine = mdb
    env = cli_env(sim, tmp_path, db_url_shared, redis_url)
    done = ioc("connectors", "poll", "hotline", "--once", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = last_json_line(done.stdout)
    assert set(summary) == SUMMARY_KEYS and summary["source"] == "hotline"
    upstream = upstream_tickets(sim)
    assert summary["new"] == len(upstream) and summary["quarantined"] == 0
    assert {t.external_id: aware(t.updated_at) for t in sql_rows(engine, m.Ticket)} == {
        i: utc(t["updated_datetime"]) for i, t in upstream.items()}

    status = ioc("connectors", "status", "--json", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    rows = {r["source"]: r for r in json.loads(status.stdout)}
    assert set(rows) == {"hotline", "cameras", "environment", "procedures"}
    assert rows["hotline"]["state"] == "fresh" and rows["hotline"]["consecutive_failures"] == 0
    assert rows["hotline"]["records_last_run"] == summary["fetched"]
    assert {rows[s]["state"] for s in ("cameras", "environment", "procedures")} == {"unknown"}

    # the same source, upstream now unreachable: exit 1, one line on stderr, health says so
    down = cli_env(sim, tmp_path, db_url_shared, redis_url, IOC_HOTLINE_URL="http://127.0.0.1:9/open311/v2")
    failed = ioc("connectors", "poll", "hotline", "--once", "--json", env=down, cwd=tmp_path)
    assert failed.returncode != 0
    assert_one_line_reason(failed.stderr, "hotline poll failed", "127.0.0.1:9")
    rows = {r["source"]: r for r in json.loads(ioc("connectors", "status", "--json", env=env, cwd=tmp_path).stdout)}
    assert rows["hotline"]["state"] == "late"  # failing now, with a recent success
    assert rows["hotline"]["consecutive_failures"] == 1 and "127.0.0.1:9" in rows["hotline"]["last_error"]


def test_unreachable_upstream_from_the_start(mdb, db_url_shared, redis_url, tmp_path):
    env = cli_env(None, tmp_path, db_url_shared, redis_url, IOC_PROCEDURES_URL="http://127.0.0.1:9/procedures/api/v1")
    failed = ioc("connectors", "poll", "procedures", "--once", env=env, cwd=tmp_path)
    assert failed.returncode == 1
    assert_one_line_reason(failed.stderr, "procedures poll failed", "Connect")
    rows = {r["source"]: r for r in json.loads(ioc("connectors", "status", "--json", env=env, cwd=tmp_path).stdout)}
    assert rows["procedures"]["state"] == "failing"


def test_not_configured_and_unknown_source(mdb, db_url_shared, redis_url, tmp_path):
    env = cli_env(None, tmp_path, db_url_shared, redis_url)
    missing = ioc("connectors", "poll", "cameras", "--once", env=env, cwd=tmp_path)
    assert missing.returncode == 2
    assert_one_line_reason(missing.stderr, "IOC_CAMERAS_URL")
    unknown = ioc("connectors", "poll", "weather", "--once", env=env, cwd=tmp_path)
    assert unknown.returncode == 2
    assert_one_line_reason(unknown.stderr, "unknown source")


def test_backfill_procedures_since_a_date(sim, mdb, db_url_shared, redis_url, tmp_path):
    url, engine = mdb
    env = cli_env(sim, tmp_path, db_url_shared, redis_url)
    day = (sim.now() - timedelta(days=2)).date()
    done = ioc("connectors", "backfill", "procedures", "--since", day.isoformat(), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = last_json_line(done.stdout)
    assert set(summary) == SUMMARY_KEYS and summary["source"] == "procedures"
    since = datetime.combine(day, datetime.min.time(), tzinfo=timezone(timedelta(hours=7)))
    upstream = upstream_dossiers(sim, since)
    assert summary["new"] == len(upstream) > 0
    assert {d.id: aware(d.updated_at) for d in sql_rows(engine, m.Dossier)} == {
        i: utc(d["updated_at"]) for i, d in upstream.items()}
    # the batch noted which UTC days of history it changed, for the daily KPI rollups
    touched = {aware(t.lo).date() for t in sql_rows(engine, m.HistoryTouch) if t.domain == "procedures"}
    assert {aware(d.received_at).date() for d in sql_rows(engine, m.Dossier)} <= touched
    bad = ioc("connectors", "backfill", "procedures", "--since", "14/03/2025", env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert_one_line_reason(bad.stderr, "YYYY-MM-DD")


def test_quarantine_listing(sim, mdb, db_url_shared, redis_url, tmp_path):
    env = cli_env(sim, tmp_path, db_url_shared, redis_url)
    sim.set_faults("procedures", kind="bad_records", rate=0.05, variants=["missing_id"])
    try:
        done = ioc("connectors", "poll", "procedures", "--once", "--json", env=env, cwd=tmp_path)
    finally:
        log = sim.faults()
        sim.clear_faults()
    injected = log["counts"]["procedures"]["bad_records:missing_id"]
    in_feed = sum(1 for e in log["injected"] if e["path"].endswith("/dossiers"))  # the rest: the catalogue
    assert done.returncode == 0, done.stderr
    assert last_json_line(done.stdout)["quarantined"] == injected
    listed = ioc("connectors", "quarantine", "--json", "--source", "procedures", "--limit", "1000", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    counts = {c["reason_code"]: c["count"] for c in body["counts"]}
    assert counts["missing_id"] == in_feed and sum(counts.values()) == injected
    assert len(body["records"]) == injected
    assert all(r["reason"] and r["payload"] for r in body["records"])
    rows = {r["source"]: r for r in json.loads(ioc("connectors", "status", "--json", env=env, cwd=tmp_path).stdout)}
    assert rows["procedures"]["quarantined"] == injected
