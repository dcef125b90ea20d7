"""Acceptance: one poller per source across connector instances (Redis lease).

Two instances (two holder ids) against one Redis: only the lease holder polls; when the
holder dies without releasing the lease, the standby takes over within two poll intervals
(the lease lives 1.5 intervals and is renewed every third of that while held; a standby
looks every quarter interval).
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from sqlalchemy import text

from connector_harness import cli_env, connector, fast_control, ioc_popen, settings_for
from ioc.live_store import LiveStore
from simulator.testing import running_simulator

INTERVAL = 0.5
# The lease lives in Redis; the database plays no part, so SQLite is enough here.
pytestmark = pytest.mark.parametrize("mdb", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(history_days=2, frozen=True, seed=3, scale=0.2) as s:
        fast_control(s)
        yield s


class Counting:
    """Wraps a connector's poll_once to record when it polled."""

    def __init__(self, conn):
        self.times: list[float] = []
        self.sinces: list = []
        inner = conn.poll_once

        def poll_once(**kw):
            self.times.append(time.monotonic())
            self.sinces.append(kw.get("since"))
            return inner(**kw)

        conn.poll_once = poll_once


def start(conn, holder: str) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=conn.run_forever, args=(stop, holder), daemon=True, name=holder).start()
    return stop


def wait_for(predicate, timeout: float, step: float = 0.01) -> float:
    """Seconds until predicate() holds (AssertionError after timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def test_only_the_holder_polls_and_a_standby_takes_over(sim, db, store, redis_url, tmp_path):
    settings = settings_for(sim, tmp_path, hotline_interval=INTERVAL)
    a = connector("hotline", settings, db, LiveStore.from_url(redis_url, prefix="ioc"), None)  # two hosts:
    b = connector("hotline", settings, db, LiveStore.from_url(redis_url, prefix="ioc"), None)  # two clients
    assert a.lease_ttl_ms == 750
    polls_a, polls_b = Counting(a), Counting(b)
    stop_a = start(a, "A")
    wait_for(lambda: store.lease_holder("hotline") == "A", 5)
    stop_b = start(b, "B")
    try:
        time.sleep(4 * INTERVAL)
        assert len(polls_a.times) >= 3
        assert polls_b.times == []  # the standby never polls while the holder lives
        assert store.lease_holder("hotline") == "A"
        # the holder dies without releasing its lease
        a.store.release_lease = lambda *args: None
        stop_a.set()
        died = time.monotonic()
        took = wait_for(lambda: store.lease_holder("hotline") == "B" and polls_b.times, 5)
        print(f"takeover after {took:.3f} s")
        assert took <= 2 * INTERVAL, f"standby took {took:.2f} s"
        assert polls_b.times[0] - died <= 2 * INTERVAL
        n = len(polls_a.times)
        time.sleep(2 * INTERVAL)
        assert len(polls_a.times) == n  # and the dead one stays quiet
        stop_b.set()
        assert wait_for(lambda: store.lease_holder("hotline") is None, 5) < 0.5  # a clean stop releases it at once
    finally:
        stop_a.set()
        stop_b.set()


def test_a_killed_holder_process_is_replaced(sim, mdb, db_url_shared, redis_url, store, tmp_path):
    """The holder is `ioc connectors poll hotline` (no --once: it runs for ever); SIGKILL it."""
    url, engine = mdb
    env = cli_env(sim, tmp_path, db_url_shared, redis_url, IOC_HOTLINE_INTERVAL=INTERVAL)
    proc = ioc_popen("connectors", "poll", "hotline", env=env, cwd=tmp_path)
    standby = None
    try:
        wait_for(lambda: store.lease_holder("hotline") is not None, 30, step=0.05)
        holder = store.lease_holder("hotline")
        b = connector("hotline", settings_for(sim, tmp_path, hotline_interval=INTERVAL), engine, store, None)
        polls_b = Counting(b)
        standby = start(b, "B")

        def runs() -> int:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM source_runs")).scalar_one()

        before = runs()
        time.sleep(4 * INTERVAL)
        assert runs() >= before + 2  # the process polls …
        assert polls_b.times == [] and store.lease_holder("hotline") == holder  # … the standby does not
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        took = wait_for(lambda: store.lease_holder("hotline") == "B" and polls_b.times, 5)
        print(f"takeover after {took:.3f} s")
        assert took <= 2 * INTERVAL, f"standby took {took:.2f} s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if standby is not None:
            standby.set()


def test_run_forever_reconciles_every_reconcile_every(sim, db, store, tmp_path):
    conn = connector("hotline", settings_for(sim, tmp_path, hotline_interval=0.05), db, store, None)
    conn.reconcile_every = 0.4
    polls = Counting(conn)
    stop = start(conn, "R")
    try:
        time.sleep(1.5)
    finally:
        stop.set()
    sinces = polls.sinces
    assert sinces[0] is None  # the first poll is an ordinary one
    reconciles = [s for s in sinces if s is not None]
    assert 2 <= len(reconciles) <= 4
    window = conn.reconcile_window
    assert window.days == 7
    assert all(abs((s - (polls_time_utc() - window)).total_seconds()) < 5 for s in reconciles)


def polls_time_utc():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
