"""A reconciliation whose window starts after the cursor (the connector was down longer than
`reconcile_window`) must still read from the cursor: nothing the cursor has not reached is
skipped, and the cursor does not jump over it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import connector_harness
from connector_harness import (
    assert_environment_reconciled,
    assert_hotline_reconciled,
    assert_procedures_reconciled,
    connector,
    fast_control,
    settings_for,
)
from simulator.testing import running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator(history_days=2, frozen=True, seed=17, scale=2) as s:
        fast_control(s)
        yield s


@pytest.mark.parametrize("source", ["hotline", "procedures", "environment"])
def test_reconcile_window_after_the_cursor_skips_nothing(source, sim, db, store, locator, tmp_path):
    conn = connector(source, settings_for(sim, tmp_path), db, store, locator)
    first = conn.poll_once()
    assert first.ok, first.error
    sim.advance(6)  # six hours of new data while the connector was "down" (6 tests: 36 h < the 48 h to wall time)
    again = conn.poll_once(since=datetime.now(timezone.utc))  # a window that starts after all of it
    assert again.ok, again.error
    assert again.new + again.updated > 0
    connector_harness._truth.clear()  # the upstream moved: read it again
    if source == "hotline":
        assert_hotline_reconciled(sim, db)
    elif source == "procedures":
        assert_procedures_reconciled(sim, db, waits=False)
    else:
        assert_environment_reconciled(sim, db, sim.now() - timedelta(days=5))


def test_a_reconciliation_reads_a_stream_we_hold_nothing_of_as_a_first_run_would(sim, db, store, locator, tmp_path):
    """A stream with nothing stored (a station whose outage ends with a backlog of late data, or
    a stream our history lost) is read from the first-run window, not from the reconciliation's
    start: once we hold its newest value, polls start there and never go back for what lies
    before the window."""
    from sqlalchemy import delete

    from ioc.db import models as m

    settings = settings_for(sim, tmp_path)
    assert connector("environment", settings, db, store, locator).poll_once().ok
    stream = "1"
    with db.begin() as c:
        gone = c.execute(delete(m.Observation.__table__).where(m.Observation.datastream_id == stream)).rowcount
    assert gone > 0
    later = connector("environment", settings, db, store, locator)  # a restart: marks read from SQL
    res = later.poll_once(since=datetime.now(timezone.utc))  # a window that starts after all upstream data
    assert res.ok, res.error
    assert res.new == gone
    connector_harness._truth.clear()
    assert_environment_reconciled(sim, db, sim.now() - timedelta(days=5))
