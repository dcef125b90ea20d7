"""Acceptance: every source under every fault the simulator has, over real HTTP, with a real
Redis, on SQLite and PostgreSQL.

Each case polls with the fault on (a failed poll is an ok=False result with a clear error,
never an exception; health says failing; quarantined records are stored with a reason and
counted in Redis), clears the fault, polls again — and, for the faults that damage or hide
records (bad_records, clock_skew), runs the reconciliation poll `poll_once(since=…)` — then
asserts that SQL equals the upstream read independently (same ids, same update times and
statuses, nothing lost or duplicated) and that Redis `latest` equals what SQL implies.

One simulator for the module (frozen clock, a few days of history, small pages so that
paging faults bite); the database is emptied before each case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import connectors.cameras as cameras_mod
import connectors.environment as environment_mod
import connectors.hotline as hotline_mod
import connectors.procedures as procedures_mod
from connector_harness import (
    assert_cameras_reconciled,
    assert_environment_reconciled,
    assert_hotline_reconciled,
    assert_latest_matches_sql,
    assert_procedures_reconciled,
    connector,
    fast_control,
    settings_for,
)
from ioc.db import models as m
from ioc.records import MAX_TEXT
from simulator.testing import running_simulator

SOURCES = ("hotline", "cameras", "environment", "procedures")
ENV_WINDOW = timedelta(hours=6, minutes=30)  # observations polled: sim now − 6.5 h … now


@pytest.fixture(scope="module")
def sim():
    # Its own process: the simulator works on the second core while the connector works here.
    with running_simulator(mode="process", history_days=5, frozen=True, seed=11, scale=0.3) as s:
        fast_control(s)
        yield s


@pytest.fixture(scope="module")
def sim_now(sim) -> datetime:
    return sim.now().astimezone(timezone.utc)


@pytest.fixture(autouse=True)
def small_pages(monkeypatch, sim_now):
    """Pages small enough that every source reads several; a first run that reaches back just
    far enough for the whole (small) history, and 6.5 hours of observations."""
    monkeypatch.setattr(hotline_mod, "PAGE_SIZE", 7)
    monkeypatch.setattr(cameras_mod, "PAGE_SIZE", 150)
    monkeypatch.setattr(procedures_mod, "PAGE_SIZE", 60)
    monkeypatch.setattr(environment_mod, "TOP", 1000)
    monkeypatch.setattr(environment_mod, "FIRST_RUN", datetime.now(timezone.utc) - (sim_now - ENV_WINDOW))
    catalogue = procedures_mod.ProceduresConnector.fetch_catalogue

    def whole_catalogue(self):  # the catalogue shares PAGE_SIZE; read it in one page
        monkeypatch.setattr(procedures_mod, "PAGE_SIZE", 10_000)
        try:
            return catalogue(self)
        finally:
            monkeypatch.setattr(procedures_mod, "PAGE_SIZE", 60)

    monkeypatch.setattr(procedures_mod.ProceduresConnector, "fetch_catalogue", whole_catalogue)


@dataclass
class Case:
    name: str
    spec: dict
    fails: str | None = None  # the poll fails with this in its error
    reconcile: bool = False  # records are damaged or hidden: the reconciliation poll brings them back
    retry_after: float | None = None
    quarantines: bool = False
    timeout: float = 2.0
    only: tuple = SOURCES
    transport: bool = False  # the faulted poll writes nothing: SQLite is enough to show it
    after_requests: int = 0  # switch the fault on only after this many requests of the poll

    @property
    def databases(self) -> tuple:
        return ("sqlite",) if self.transport else ("sqlite", "postgresql")


def bad(variant: str, **kw) -> Case:
    quarantines = variant in ("missing_id", "outside_province", "future_timestamp")
    return Case(f"bad_records:{variant}", {"kind": "bad_records", "rate": 0.1, "variants": [variant]},
                reconcile=True, quarantines=quarantines, **kw)


CASES = [
    Case("latency", {"kind": "latency", "ms": 40}, transport=True),
    Case("timeout", {"kind": "timeout", "seconds": 1.5}, fails="timeout", timeout=0.3, transport=True),
    Case("error500", {"kind": "error", "status": 500}, fails="HTTP 500", transport=True),
    Case("error503", {"kind": "error", "status": 503, "retry_after": 2}, fails="HTTP 503", retry_after=2, transport=True),
    Case("error429", {"kind": "error", "status": 429, "retry_after": 3}, fails="HTTP 429", retry_after=3, transport=True),
    # fails once, the retry succeeds: a partial failure inside a poll that then writes everything
    Case("error503_once", {"kind": "error", "status": 503, "retry_after": 1, "times": 1}, retry_after=1),
    # … and on the third request: some batches are committed before the poll fails
    Case("error500_later", {"kind": "error", "status": 500}, fails="HTTP 500", after_requests=3),
    Case("truncated", {"kind": "truncated"}, fails="malformed JSON", transport=True),
    Case("malformed", {"kind": "malformed"}, fails="malformed JSON", transport=True),
    bad("missing_id"),
    bad("outside_province", only=("hotline", "cameras", "environment")),  # dossiers have no coordinates
    bad("future_timestamp"),
    bad("wrong_unit", only=("environment", "procedures")),  # tickets and cameras have no units
    bad("huge_string"),
    bad("script"),
    Case("duplicates", {"kind": "duplicates", "rate": 0.1}),
    Case("out_of_order", {"kind": "out_of_order", "count": 2}),
    Case("clock_skew+90", {"kind": "clock_skew", "minutes": 90}, reconcile=True),
    Case("clock_skew-90", {"kind": "clock_skew", "minutes": -90}, reconcile=True),
    Case("shifting_pages+3", {"kind": "shifting_pages", "count": 3}),
    # Records vanish between pages: the read falls short of the announced total, is tried
    # again, and the poll fails without moving the cursor (the dossier feed's keyset paging
    # is immune: see below).
    Case("shifting_pages-3", {"kind": "shifting_pages", "count": -3}, fails="paging lost records",
         only=("hotline", "cameras", "environment")),
    Case("shifting_pages-3", {"kind": "shifting_pages", "count": -3}, only=("procedures",)),
]


def reconciled(source: str, sim, engine, sim_now: datetime, reconcile: bool) -> None:
    if source == "hotline":
        assert_hotline_reconciled(sim, engine)
    elif source == "cameras":
        assert_cameras_reconciled(sim, engine)
    elif source == "procedures":
        assert_procedures_reconciled(sim, engine)
    else:
        assert_environment_reconciled(sim, engine, reconcile_since(source, sim_now) if reconcile else sim_now - ENV_WINDOW)


def reconcile_since(source: str, sim_now: datetime) -> datetime:
    """The window the test reconciles: the whole (small) history; for observations the polled
    window plus two hours, so rows written under a −90 min skew lie inside it."""
    return {"environment": sim_now - ENV_WINDOW - timedelta(hours=2)}.get(source, sim_now - timedelta(days=6))


def quarantine_in_sql(engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.execute(select(m.QuarantineRecord.source, m.QuarantineRecord.reason_code, func.count())
                         .group_by(m.QuarantineRecord.source, m.QuarantineRecord.reason_code)).all()
    return {f"{a}:{b}": n for a, b, n in rows}


def _params():
    for db in ("sqlite", "postgresql"):
        for s in SOURCES:
            for c in CASES:
                if s in c.only and db in c.databases:
                    yield pytest.param(db, s, c, id=f"{db}-{s}-{c.name}",
                                       marks=[pytest.mark.postgres] if db == "postgresql" else [])


# Transport faults fail the poll before anything is written, so they run on SQLite only; every
# case that writes under a fault runs on both databases.
@pytest.mark.parametrize(("mdb", "source", "case"), list(_params()), indirect=["mdb"])
def test_fault_then_recovery(source, case, sim, sim_now, db, store, locator, tmp_path):
    conn = connector(source, settings_for(sim, tmp_path), db, store, locator, timeout=case.timeout)
    if case.after_requests:
        get = conn.client.get

        def later(*args, **kwargs):
            if conn.client.requests == case.after_requests:
                sim.set_faults(source, **case.spec)
            return get(*args, **kwargs)

        conn.client.get = later
    else:
        sim.set_faults(source, **case.spec)
    try:
        faulted = conn.poll_once()
    finally:
        log = sim.faults()
        sim.clear_faults()
    fired = log["counts"].get(source, {})
    if source == "procedures" and case.spec["kind"] == "shifting_pages":
        # The dossier feed is read by keyset (updated_since = the last update seen, page 1):
        # pages never shift under it, so this fault has nothing to bite on.
        assert not fired
    else:
        assert fired, f"the {case.name} fault never fired on {source}"

    # --- with the fault on: a result, never an exception --------------------------------
    health = store.health(source)
    if case.fails:
        assert not faulted.ok
        assert case.fails in faulted.error
        assert health["state"] == "failing"
        assert health["consecutive_failures"] == "1"
        assert case.fails in health["last_error"]
        if case.retry_after:
            assert faulted.retry_after == case.retry_after
            assert max(conn.sleeps) >= case.retry_after  # the client honoured Retry-After
            assert conn.next_delay(faulted) >= case.retry_after  # and so does the next poll
    else:
        assert faulted.ok, faulted.error
        assert health["state"] == "fresh"
        if case.retry_after:
            assert conn.sleeps and max(conn.sleeps) >= case.retry_after
    in_sql = quarantine_in_sql(db)
    assert sum(in_sql.values()) == faulted.quarantined
    assert store.quarantine_counts() == in_sql  # Redis counts what SQL holds
    if case.quarantines:
        assert faulted.quarantined >= 1
    with Session(db) as s:
        for q in s.scalars(select(m.QuarantineRecord)):
            assert q.source == source and q.reason_code and q.reason and q.payload
    if case.name in ("bad_records:huge_string", "bad_records:script"):
        _assert_texts_sanitised(db)

    # --- fault cleared: the next poll (and the reconciliation) restores the exact upstream ---
    after = conn.poll_once()
    assert after.ok, after.error
    if case.reconcile:
        again = conn.poll_once(since=reconcile_since(source, sim_now))
        assert again.ok, again.error
        assert again.quarantined == 0
    reconciled(source, sim, db, sim_now, case.reconcile)
    assert_latest_matches_sql(source, db, store)
    health = store.health(source)
    assert health["state"] == "fresh" and health["consecutive_failures"] == "0"


def _assert_texts_sanitised(engine) -> None:
    with Session(engine) as s:
        for model, cols in ((m.Ticket, ("description", "address")), (m.Camera, ("name", "address")),
                            (m.Station, ("name",)), (m.Datastream, ("name",)), (m.Dossier, ("agency",))):
            for row in s.scalars(select(model)):
                for c in cols:
                    v = getattr(row, c)
                    assert v is None or (len(v) <= MAX_TEXT and "<script" not in v), (model.__name__, c, v[:80])


@pytest.mark.parametrize("source", SOURCES)
def test_reconciling_a_healthy_upstream_changes_nothing(source, sim, sim_now, db, store, locator, tmp_path):
    """Authoritative writes compare every column: without a fault they find nothing to do
    (no churn of rows, events or versions every hour)."""
    conn = connector(source, settings_for(sim, tmp_path), db, store, locator)
    first = conn.poll_once()
    assert first.ok and first.new > 0, first.error
    version = store.version()
    again = conn.poll_once(since=reconcile_since(source, sim_now) if source != "environment" else sim_now - ENV_WINDOW)
    assert again.ok, again.error
    assert (again.new, again.updated, again.quarantined) == (0, 0, 0)
    assert store.version() == version
    reconciled(source, sim, db, sim_now, False)
