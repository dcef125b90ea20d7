"""Acceptance: one poller per source across connector instances (Redis lease).

Two instances (two holder ids) against one Redis: only the lease holder polls; when the
holder dies without releasing the lease, the standby takes over within two poll intervals
(the lease lives 1.5 intervals and is renewed every third of that while held; a standby
looks every quarter interval).

No assertion here depends on how fast the machine is: the tests count what happened (every
poll was made by the lease holder; the standby's failed looks before it took over, which a
slow machine can only make fewer) and wait with generous time-outs. A loaded machine may
delay a takeover, never fail these tests for it.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from connector_harness import cli_env, connector, fast_control, ioc_popen, settings_for
from ioc.live_store import LiveStore
from simulator.testing import running_simulator

INTERVAL = 1.0  # lease 1.5 s, renewed every 0.5 s: a thread starved longer than that would lose it
PROCESS_INTERVAL = 2.0  # a separate process may be descheduled longer on a loaded machine
WAIT = 60.0  # generous time-out of every wait: reached only when something is broken
# The lease lives in Redis; the database plays no part, so SQLite is enough here.
pytestmark = pytest.mark.parametrize("mdb", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(history_days=2, frozen=True, seed=3, scale=0.2) as s:
        fast_control(s)
        yield s


class Counting:
    """Wraps a connector's poll_once and lease calls: when it polled (monotonic and UTC), with
    which `since`, who held the lease as the poll began, and every lease attempt it made."""

    def __init__(self, conn, holder: str | None = None, store=None):
        self.times: list[float] = []
        self.walls: list = []
        self.sinces: list = []
        self.holders: list = []  # the lease holder seen as each poll began
        self.attempts: list[tuple[float, bool]] = []  # (monotonic time, got it) of the main loop's looks
        self.renewed: list[float] = []  # when any of its threads last got or renewed the lease (after the call)
        inner = conn.poll_once

        def poll_once(**kw):
            from datetime import datetime, timezone

            self.times.append(time.monotonic())
            self.walls.append(datetime.now(timezone.utc))
            self.sinces.append(kw.get("since"))
            if store is not None:
                self.holders.append(store.lease_holder(conn.source))
            return inner(**kw)

        conn.poll_once = poll_once
        if holder is not None:
            acquire = conn.store.acquire_lease

            def counted(source, who, ttl_ms):
                got = acquire(source, who, ttl_ms)
                if threading.current_thread().name == holder:  # the main loop, not the keeper
                    self.attempts.append((time.monotonic(), got))
                if got:
                    self.renewed.append(time.monotonic())
                return got

            conn.store.acquire_lease = counted


def start(conn, holder: str) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=conn.run_forever, args=(stop, holder), daemon=True, name=holder).start()
    return stop


def wait_for(predicate, timeout: float = WAIT, step: float = 0.01) -> float:
    """Seconds until predicate() holds (AssertionError after timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def looks_before_takeover(polls: "Counting", since: float) -> int:
    """The standby's failed lease looks after `since`, up to its first success. Looks are at
    least a quarter interval apart and the dead holder's lease ends 1.5 intervals after its
    last renewal, so at most 6 fail (7 allowing for clock granularity), on any machine (a slow
    one makes fewer)."""
    n = 0
    for at, got in polls.attempts:
        if at < since:
            continue
        if got:
            return n
        n += 1
    raise AssertionError("the standby never took the lease")


MAX_FAILED_LOOKS = 7  # 1.5 intervals of lease ÷ a look every quarter interval, + 1 for clock granularity


def test_only_the_holder_polls_and_a_standby_takes_over(sim, db, store, redis_url, tmp_path):
    settings = settings_for(sim, tmp_path, hotline_interval=INTERVAL)
    a = connector("hotline", settings, db, LiveStore.from_url(redis_url, prefix="ioc"), None)  # two hosts:
    b = connector("hotline", settings, db, LiveStore.from_url(redis_url, prefix="ioc"), None)  # two clients
    assert a.lease_ttl_ms == 1500
    polls_a, polls_b = Counting(a, "A", store), Counting(b, "B", store)
    stop_a = start(a, "A")
    wait_for(lambda: store.lease_holder("hotline") == "A")
    stop_b = start(b, "B")
    try:
        wait_for(lambda: len(polls_a.times) >= 3 and len(polls_b.attempts) >= 3)
        assert polls_b.times == []  # the standby looked, and never polled while the holder lived
        assert store.lease_holder("hotline") == "A"
        # the holder dies without releasing its lease
        a.store.release_lease = lambda *args: None
        stop_a.set()
        wait_for(lambda: store.lease_holder("hotline") == "B" and polls_b.times)
        # counted from A's last renewal: a poll under way when it was stopped renews the lease
        failed = looks_before_takeover(polls_b, max(polls_a.renewed))
        print(f"takeover after {failed} failed looks")
        assert failed <= MAX_FAILED_LOOKS
        n = len(polls_a.times)
        wait_for(lambda: len(polls_b.times) >= 2)
        assert len(polls_a.times) in (n, n + 1)  # the dead one stays quiet (a poll under way may end)
        assert set(polls_a.holders) == {"A"} and set(polls_b.holders) == {"B"}  # only ever the holder
        stop_b.set()
        wait_for(lambda: store.lease_holder("hotline") is None)  # a clean stop releases it
    finally:
        stop_a.set()
        stop_b.set()


def test_a_killed_holder_process_is_replaced(sim, mdb, db_url_shared, redis_url, store, tmp_path):
    """The holder is `ioc connectors poll hotline` (no --once: it runs for ever); SIGKILL it."""
    url, engine = mdb
    env = cli_env(sim, tmp_path, db_url_shared, redis_url, IOC_HOTLINE_INTERVAL=PROCESS_INTERVAL)
    proc = ioc_popen("connectors", "poll", "hotline", env=env, cwd=tmp_path)
    standby = None
    try:
        wait_for(lambda: store.lease_holder("hotline") is not None, step=0.05)
        holder = store.lease_holder("hotline")
        b = connector("hotline", settings_for(sim, tmp_path, hotline_interval=PROCESS_INTERVAL), engine,
                      LiveStore.from_url(redis_url, prefix="ioc"), None)
        polls_b = Counting(b, "B", store)
        standby = start(b, "B")

        def runs() -> int:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM source_runs")).scalar_one()

        before = runs()
        wait_for(lambda: runs() >= before + 2 and len(polls_b.attempts) >= 3, step=0.05)  # the process polls …
        now_holder = store.lease_holder("hotline")  # … the standby does not
        assert polls_b.times == [] and now_holder == holder, (
            f"standby polled {len(polls_b.times)} times; lease {holder!r} → {now_holder!r}; "
            f"its looks {polls_b.attempts}; process log: {(tmp_path / 'ioc.err').read_text()[-1500:]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        died = time.monotonic()
        wait_for(lambda: store.lease_holder("hotline") == "B" and polls_b.times)
        failed = looks_before_takeover(polls_b, died)
        print(f"takeover after {failed} failed looks")
        assert failed <= MAX_FAILED_LOOKS
        assert set(polls_b.holders) == {"B"}
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
    started = time.monotonic()
    stop = start(conn, "R")
    try:
        wait_for(lambda: sum(s is not None for s in polls.sinces) >= 2)
    finally:
        stop.set()
    assert polls.sinces[0] is None  # the first poll is an ordinary one
    reconciles = [(t, w, s) for t, w, s in zip(polls.times, polls.walls, polls.sinces) if s is not None]
    # never more often than reconcile_every: the k-th comes at least k × reconcile_every after
    # the start (a slow machine only spaces them further)
    assert all(t - started >= k * conn.reconcile_every for k, (t, _, _) in enumerate(reconciles, 1))
    window = conn.reconcile_window
    assert window.days == 7
    # each reconciliation reads the window back from its own start (its poll began just after)
    assert all(timedelta(0) <= w - window - s < timedelta(seconds=60) for _, w, s in reconciles)
