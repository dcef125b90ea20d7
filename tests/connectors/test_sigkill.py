"""Acceptance: a connector process killed with SIGKILL in the middle of a run loses nothing
and duplicates nothing once it is started again.

`ioc connectors …` runs as a subprocess against a simulator (thread mode, in this process)
slowed by a latency fault; the test watches the rows land in SQL, kills the process after
some batches were committed, restarts it to completion and compares SQL with the upstream.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from connector_harness import (
    aware,
    cli_env,
    fast_control,
    ioc,
    ioc_popen,
    sql_rows,
    upstream_dossiers,
    upstream_observations,
    upstream_tickets,
    utc,
)
from ioc.db import models as m
from simulator.testing import running_simulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim():
    # 20 days × 6: ~1,100 tickets (2 pages of 1,000), ~17,000 dossiers (2 pages of 10,000).
    with running_simulator(history_days=20, frozen=True, seed=5, scale=6) as s:
        fast_control(s)
        yield s


@pytest.fixture(scope="module")
def sim_env():
    # 2 days of observations: ~12,000, two pages of 10,000 in the first run.
    with running_simulator(history_days=2, frozen=True, seed=5, scale=0.2) as s:
        fast_control(s)
        yield s


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def run_and_kill(args, env, cwd, engine, table: str, *, enough: int, timeout: float = 60) -> int:
    """Start `ioc *args`, SIGKILL it once `table` holds at least `enough` rows; returns the
    row count at the kill (the process must not have finished by itself)."""
    proc = ioc_popen(*args, env=env, cwd=cwd)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"finished before the kill: {(cwd / 'ioc.err').read_text()[-2000:]}"
            n = count(engine, table)
            if n >= enough:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                assert proc.returncode == -signal.SIGKILL
                return n
            time.sleep(0.05)
        raise AssertionError(f"{table} never reached {enough} rows")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_hotline_poll_killed_then_restarted(sim, mdb, db_url_shared, redis_url, tmp_path):
    url, engine = mdb
    env = cli_env(sim, tmp_path, db_url_shared, redis_url)
    upstream = upstream_tickets(sim)
    assert len(upstream) > 1000  # more than one page
    sim.set_faults("hotline", kind="latency", ms=500)
    try:
        at_kill = run_and_kill(["connectors", "poll", "hotline", "--once"], env, tmp_path, engine, "tickets", enough=1)
    finally:
        sim.clear_faults()
    assert 0 < at_kill < len(upstream)
    done = ioc("connectors", "poll", "hotline", "--once", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    tickets = sql_rows(engine, m.Ticket)
    assert len(tickets) == len({t.external_id for t in tickets})  # no duplicates
    assert {t.external_id: (t.status, aware(t.updated_at)) for t in tickets} == {
        i: (t["status"], utc(t["updated_datetime"])) for i, t in upstream.items()}
    with Session(engine) as s:  # the history of every ticket exactly once
        dup = s.execute(select(m.TicketStatusChange.ticket_external_id, m.TicketStatusChange.at,
                               m.TicketStatusChange.state, func.count()).group_by(
            m.TicketStatusChange.ticket_external_id, m.TicketStatusChange.at, m.TicketStatusChange.state)
            .having(func.count() > 1)).all()
    assert not dup
    assert count(engine, "ticket_status_changes") == sum(len(t["notes"]) for t in upstream.values())


def test_procedures_backfill_killed_then_resumed_from_its_cursor(sim, mdb, db_url_shared, redis_url, tmp_path):
    url, engine = mdb
    env = cli_env(sim, tmp_path, db_url_shared, redis_url)
    day = (sim.now() - timedelta(days=25)).date()
    since = datetime.combine(day, datetime.min.time(), tzinfo=timezone(timedelta(hours=7)))
    upstream = upstream_dossiers(sim, since)
    assert len(upstream) > 10_000  # more than one page
    sim.set_faults("procedures", kind="latency", ms=500)
    try:
        at_kill = run_and_kill(["connectors", "backfill", "procedures", "--since", day.isoformat()], env, tmp_path,
                               engine, "dossiers", enough=1)
    finally:
        sim.clear_faults()
    assert 0 < at_kill < len(upstream)
    with Session(engine) as s:
        assert s.scalar(select(m.SourceCursor.cursor).where(m.SourceCursor.source == "procedures"))  # committed
    # an ordinary poll carries on from the cursor the killed backfill committed
    done = ioc("connectors", "poll", "procedures", "--once", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    dossiers = sql_rows(engine, m.Dossier)
    assert {d.id: (d.status, aware(d.updated_at)) for d in dossiers} == {
        i: (str(d["TrangThaiHoSo"]), utc(d["updated_at"])) for i, d in upstream.items()}


def test_environment_poll_killed_then_restarted(sim_env, mdb, db_url_shared, redis_url, tmp_path):
    sim = sim_env
    url, engine = mdb
    env = cli_env(sim, tmp_path, db_url_shared, redis_url)
    early = datetime.now(timezone.utc) - timedelta(days=7)  # the first run reads the last 7 days
    sim.set_faults("environment", kind="latency", ms=400)
    try:
        at_kill = run_and_kill(["connectors", "poll", "environment", "--once"], env, tmp_path, engine,
                               "observations", enough=1)
    finally:
        sim.clear_faults()
    done = ioc("connectors", "poll", "environment", "--once", "--json", env=env, cwd=tmp_path)
    late = datetime.now(timezone.utc) - timedelta(days=7)
    assert done.returncode == 0, done.stderr
    widest, narrowest = upstream_observations(sim, early), upstream_observations(sim, late)
    assert 0 < at_kill < len(narrowest)
    rows = sql_rows(engine, m.Observation)
    ours = {(o.datastream_id, aware(o.phenomenon_time)): round(o.result, 4) for o in rows}
    assert len(ours) == len(rows)  # no duplicates
    assert set(narrowest) <= set(ours) <= set(widest)
    assert all(ours[k] == round(v, 4) for k, v in widest.items() if k in ours)
