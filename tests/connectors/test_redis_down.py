"""Acceptance: Redis down never stops the history.

With an unreachable Redis every source still polls into SQL (ok result, redis_ok False);
`ioc store rebuild` then restores Redis `latest` from SQL exactly as a normal run (Redis up
from the start) leaves it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

import connectors.environment as environment_mod
from connector_harness import (
    assert_cameras_reconciled,
    assert_environment_reconciled,
    assert_hotline_reconciled,
    assert_procedures_reconciled,
    cli_env,
    connector,
    fast_control,
    ioc,
    normalise,
    settings_for,
)
from ioc.db.migrate import upgrade
from ioc.db.session import make_engine
from ioc.live_store import SOURCES, LiveStore
from simulator.testing import running_simulator

WINDOW = timedelta(hours=6, minutes=30)


@pytest.fixture(scope="module")
def sim():
    with running_simulator(history_days=3, frozen=True, seed=13, scale=0.3) as s:
        fast_control(s)
        yield s


@pytest.fixture
def first_run_window(monkeypatch, sim):
    sim_now = sim.now().astimezone(timezone.utc)
    monkeypatch.setattr(environment_mod, "FIRST_RUN", datetime.now(timezone.utc) - (sim_now - WINDOW))
    return sim_now - WINDOW


def test_redis_down_then_store_rebuild(sim, mdb, db_url_shared, redis_url, locator, tmp_path, first_run_window):
    url, engine = mdb
    settings = settings_for(sim, tmp_path)
    down = LiveStore.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    for source in SOURCES:
        t0 = time.monotonic()
        result = connector(source, settings, engine, down, locator).poll_once()
        assert result.ok, result.error
        assert not result.redis_ok
        assert result.new > 0
        assert time.monotonic() - t0 < 30  # a dead Redis costs a refused connection, not a hang
    assert_hotline_reconciled(sim, engine)
    assert_cameras_reconciled(sim, engine)
    assert_procedures_reconciled(sim, engine)
    assert_environment_reconciled(sim, engine, first_run_window)

    # a normal run, Redis up, into its own database and key prefix
    normal_engine = make_engine(f"sqlite:///{tmp_path / 'normal.db'}")
    upgrade(normal_engine)
    normal = LiveStore.from_url(redis_url, prefix="normal")
    for source in SOURCES:
        result = connector(source, settings, normal_engine, normal, locator).poll_once()
        assert result.ok and result.redis_ok, result.error
    normal_engine.dispose()

    rebuilt = ioc("store", "rebuild", env=cli_env(sim, tmp_path, db_url_shared, redis_url), cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    store = LiveStore.from_url(redis_url, prefix="ioc")
    for source in SOURCES:
        ours = {k: normalise(v) for k, v in store.latest(source).items()}
        theirs = {k: normalise(v) for k, v in normal.latest(source).items()}
        assert ours and ours == theirs, source
        assert store.cursor(source) == normal.cursor(source)  # the cursor mirror too


def test_rebuild_with_redis_unreachable_is_one_line(mdb, db_url_shared, tmp_path):
    failed = ioc("store", "rebuild", env=cli_env(None, tmp_path, db_url_shared, "redis://127.0.0.1:9/0"), cwd=tmp_path)
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    assert "cannot reach Redis" in failed.stderr.strip().splitlines()[-1]


@pytest.fixture
def own_sim():
    """A simulator of its own: this test moves the clock, the module's `sim` must stand still."""
    with running_simulator(history_days=3, frozen=True, seed=13, scale=0.3) as s:
        fast_control(s)
        yield s


def test_live_state_refills_itself_after_an_outage_and_a_restart(own_sim, db, locator, tmp_path):
    """A connector whose Redis writes failed, or that finds a restarted (here: emptied) Redis,
    rebuilds its source's `latest` from SQL at the end of its next poll: no `ioc store rebuild`."""
    sim = own_sim
    import importlib
    import os
    import signal

    from sqlalchemy.orm import Session

    from ioc.redis_server import _free_port, start_own_redis

    port = _free_port()
    own = start_own_redis(tmp_path / "r1", port=port)
    settings = settings_for(sim, tmp_path)
    store = LiveStore.from_url(own.url, prefix="heal", socket_connect_timeout=0.5, socket_timeout=2)
    conns = {s: connector(s, settings, db, store, locator) for s in ("cameras", "procedures")}

    def sql_live(source):
        with Session(db) as s:
            return {k: normalise(v) for k, v in importlib.import_module(f"connectors.{source}").live_from_sql(s).items()}

    try:
        for c in conns.values():
            assert c.poll_once().redis_ok
        os.kill(own.process.pid, signal.SIGKILL)  # an outage: the next polls' writes fail
        own.process.wait()
        sim.advance(12)
        changed = set()
        for source, c in conns.items():
            res = c.poll_once()
            assert res.ok and not res.redis_ok
            if res.new + res.updated:
                changed.add(source)
        assert "cameras" in changed
        own = start_own_redis(tmp_path / "r1", port=port)  # back, from its AOF: the outage's writes missing
        for source, c in conns.items():
            if source in changed:
                assert {k: normalise(v) for k, v in store.latest(source).items()} != sql_live(source)
            assert c.poll_once().redis_ok
            assert {k: normalise(v) for k, v in store.latest(source).items()} == sql_live(source), source
        own.stop()  # a restart between two polls, no write failed: an empty server with a new run id
        own = start_own_redis(tmp_path / "r2", port=port)
        for source, c in conns.items():
            assert c.poll_once().redis_ok
            assert {k: normalise(v) for k, v in store.latest(source).items()} == sql_live(source), source
    finally:
        own.stop()
