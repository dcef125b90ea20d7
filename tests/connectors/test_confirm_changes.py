"""A stored observation's value changes only when two reads agree (connectors/environment.py
`_confirmed`). Fault drill 3 found the gap: a reconciliation read a damaged copy (a unit slip,
÷1000, still a plausible value) in the oldest hour of its window, wrote it over the good value,
and no later read covered that hour again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector_harness import connector, fast_control, settings_for
from ioc.db import models as m
from simulator.testing import running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator(history_days=2, frozen=True, seed=23, scale=1) as s:
        fast_control(s)
        yield s


def stored(engine) -> dict:
    with Session(engine) as s:
        return {(o.datastream_id, o.phenomenon_time): (o.result, o.upstream_id)
                for o in s.scalars(select(m.Observation))}


def test_a_damaged_reconciliation_read_leaves_the_stored_value(sim, db, store, locator, tmp_path):
    conn = connector("environment", settings_for(sim, tmp_path), db, store, locator)
    first = conn.poll_once()
    assert first.ok, first.error
    before = stored(db)
    # two observations that a unit slip changes (non-zero), spoiled in every list response
    ids = sorted(uid for value, uid in before.values() if value and uid)[:2]
    assert len(ids) == 2
    sim.set_faults("environment", kind="bad_records", ids=ids, variants=["wrong_unit"])
    try:
        again = conn.poll_once(since=sim.now() - timedelta(days=3))  # reads the whole history again
    finally:
        log = sim.faults()
        sim.clear_faults()
    assert again.ok, again.error
    spoiled = {str(e["id"]) for e in log["injected"] if e["kind"] == "bad_records" and e.get("variant") == "wrong_unit"}
    assert spoiled == set(ids), "the fault never reached the observations"
    after = stored(db)
    assert after == before  # the entity read (Observations(id)) disagreed: the good values stay
    assert again.updated == 0


def test_a_stored_value_two_reads_contradict_is_mended(sim, db, store, locator, tmp_path):
    conn = connector("environment", settings_for(sim, tmp_path), db, store, locator)
    assert conn.poll_once().ok
    before = stored(db)
    key, (value, _uid) = next((k, v) for k, v in sorted(before.items()) if v[0])
    with Session(db) as s, s.begin():  # an earlier damaged read that was stored
        s.execute(update(m.Observation).where(m.Observation.datastream_id == key[0],
                                              m.Observation.phenomenon_time == key[1]).values(result=value / 1000))
    again = conn.poll_once(since=sim.now() - timedelta(days=3))
    assert again.ok, again.error
    assert again.updated == 1  # the list read and the entity read agree: the upstream's value is written
    assert stored(db) == before


# --- tickets and dossiers: a reconciliation's change needs a second read (Connector.confirm_changes)

LISTS = {"hotline": "/requests.json", "procedures": "/dossiers"}  # list paths, not single-record ones
TABLES = {"hotline": (m.Ticket, "external_id"), "procedures": (m.Dossier, "id")}


def rows(engine, source) -> dict:
    """Every stored column of each record by its upstream id (tickets' surrogate key left out)."""
    model, key = TABLES[source]
    cols = [c.name for c in model.__table__.c if c.name != "id" or key == "id"]
    with Session(engine) as s:
        return {getattr(r, key): {c: getattr(r, c) for c in cols} for r in s.scalars(select(model))}


@pytest.mark.parametrize("source", ["hotline", "procedures"])
def test_a_skewed_reconciliation_read_leaves_the_stored_records(source, sim, db, store, locator, tmp_path):
    conn = connector(source, settings_for(sim, tmp_path), db, store, locator)
    first = conn.poll_once()
    assert first.ok, first.error
    before = rows(db, source)
    assert before
    # the reconciliation's list responses carry every record 30 minutes late; single reads are true
    sim.set_faults(source, kind="clock_skew", minutes=30, path=LISTS[source])
    try:
        again = conn.poll_once(since=sim.now() - timedelta(days=3))
    finally:
        log = sim.faults()
        sim.clear_faults()
    assert again.ok, again.error
    skews = [e["path"] for e in log["injected"] if e["kind"] == "clock_skew"]
    assert skews and all(p.endswith(LISTS[source]) for p in skews)
    assert again.updated == 0  # no second read agreed: nothing was rewritten
    assert rows(db, source) == before


@pytest.mark.parametrize("source", ["hotline", "procedures"])
def test_a_stored_record_two_reads_contradict_is_mended(source, sim, db, store, locator, tmp_path):
    conn = connector(source, settings_for(sim, tmp_path), db, store, locator)
    assert conn.poll_once().ok
    before = rows(db, source)
    model, key = TABLES[source]
    victim = sorted(before)[0]
    with Session(db) as s, s.begin():  # an earlier copy read under a skewed clock was stored
        s.execute(update(model).where(getattr(model, key) == victim)
                  .values(updated_at=before[victim]["updated_at"] + timedelta(minutes=30)))
    assert rows(db, source) != before
    again = conn.poll_once(since=sim.now() - timedelta(days=3))
    assert again.ok, again.error
    assert again.updated == 1  # the list read and the single read agree: the upstream's copy is written
    assert rows(db, source) == before
