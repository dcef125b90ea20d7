"""The quarantine keeps one row per broken upstream record, however often it is read.

Real polls of the hotline connector against the simulator, whose `bad_records` fault with
`ids` keeps the same two records broken in every response (one without its id, one with
coordinates outside the province); SQLite, and PostgreSQL when IOC_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import column, func, insert, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector_harness import connector, settings_for, upstream_tickets
from connectors.quarantine import Quarantined, record_key
from ioc.db import models as m
from ioc.db.migrate import upgrade
from ioc.db.session import make_engine
from ioc.db.types import UTCDateTime
from pgtools import PG_URL, create_pg_database, drop_pg_database
from simulator.testing import running_simulator


@pytest.fixture(scope="module")
def sim():
    # a week at full scale: dozens of open tickets whatever the date (the connector reads
    # relative to the real clock, so the simulator's clock cannot be pinned to a fixed date)
    with running_simulator(history_days=7, frozen=True, seed=5, scale=1) as s:
        yield s


def _rows(engine) -> list[m.QuarantineRecord]:
    with Session(engine) as s:
        return list(s.scalars(select(m.QuarantineRecord).order_by(m.QuarantineRecord.record_key)))


def test_a_record_that_stays_broken_keeps_one_row(sim, db, store, locator, tmp_path):
    tickets = upstream_tickets(sim)
    # open tickets: every poll reads them again (the list of open tickets), the first poll twice
    # (its 90-day window, then the open list)
    broken = sorted(i for i, t in tickets.items() if t["status"] == "open")[:2]
    assert len(broken) == 2
    sim.set_faults("hotline", kind="bad_records", ids=broken, variants=["outside_province", "missing_id"])
    try:
        conn = connector("hotline", settings_for(sim, tmp_path), db, store, locator)
        first = conn.poll_once()
        assert first.ok, first.error
        after_first = _rows(db)
        second = conn.poll_once()
        assert second.ok, second.error
        fired = sim.faults()["counts"]["hotline"]
    finally:
        sim.clear_faults()
    assert fired["bad_records:outside_province"] >= 3 and fired["bad_records:missing_id"] >= 3
    assert (first.quarantined, second.quarantined) == (2, 2)
    rows = _rows(db)
    assert len(after_first) == len(rows) == 2
    by_reason = {r.reason_code: r for r in rows}
    assert set(by_reason) == {"outside_province", "missing_id"}
    assert by_reason["outside_province"].record_key == f"ticket:{broken[0]}"
    assert by_reason["outside_province"].record_id == broken[0]
    assert by_reason["missing_id"].record_key.startswith("ticket:sha256:") and by_reason["missing_id"].record_id is None
    assert [r.times_seen for r in rows] == [2, 2]
    for r in rows:
        assert r.first_seen_at < r.last_seen_at
    assert {r.id for r in rows} == {r.id for r in after_first}
    # Redis counts records (not sightings), as SQL holds them
    assert store.quarantine_counts() == {"hotline:outside_province": 1, "hotline:missing_id": 1}
    # the runs say 2 and 2 as well
    with Session(db) as s:
        assert s.scalars(select(m.SourceRun.quarantined).order_by(m.SourceRun.id)).all() == [2, 2]


def test_redis_counts_follow_sql_when_a_reason_changes_or_redis_forgets(sim, db, store, locator, tmp_path):
    ticket = sorted(i for i, t in upstream_tickets(sim).items() if t["status"] == "open")[0]  # read at every poll
    conn = connector("hotline", settings_for(sim, tmp_path), db, store, locator)
    for variant in ("outside_province", "future_timestamp"):
        sim.set_faults("hotline", kind="bad_records", ids=[ticket], variants=[variant])
        try:
            result = conn.poll_once()
        finally:
            sim.clear_faults()
        assert result.ok and result.quarantined == 1, result.error
    (row,) = _rows(db)
    assert (row.reason_code, row.times_seen) == ("future_timestamp", 2)
    assert store.quarantine_counts() == {"hotline:outside_province": 0, "hotline:future_timestamp": 1}
    # Redis loses its counts (a restart without AOF): the next poll sets them from SQL again
    store.r.delete(store.key("quarantine"))
    assert conn.poll_once().ok
    assert store.quarantine_counts() == {"hotline:future_timestamp": 1}


def test_identity_is_kind_and_id_else_a_digest_of_the_payload():
    a = Quarantined("7", "missing_name", "r", {"x": 1}, "thing")
    b = Quarantined(7, "unknown_datastream", "r", {"y": 2}, "observation")
    assert record_key(a) == "thing:7" and record_key(b) == "observation:7"  # SensorThings ids per entity set
    c = Quarantined(None, "missing_id", "r", {"b": 1, "a": [1, 2]}, "ticket")
    d = Quarantined("", "missing_id", "r", {"a": [1, 2], "b": 1}, "ticket")
    assert record_key(c) == record_key(d)  # same payload, other key order: same record
    assert record_key(c).startswith("ticket:sha256:") and len(record_key(c)) == len("ticket:sha256:") + 64
    e = Quarantined(None, "missing_id", "r", {"a": [1, 3], "b": 1}, "ticket")
    assert record_key(e) != record_key(c)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_db(request, tmp_path):
    """An empty database at revision 0003 (before the quarantine kept one row per record)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        if not PG_URL:
            pytest.skip("IOC_TEST_DATABASE_URL not set: no PostgreSQL for this run")
        url = create_pg_database("ioc_q0004", fast=True)
    engine = make_engine(url)
    upgrade(engine, "0003")
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_pg_database(url)


def test_migration_merges_the_sightings_of_one_record(old_db):
    """Rows written one per sighting before revision 0004 become one row per record."""
    engine = old_db
    old = table("quarantine", column("source"), column("record_id"), column("reason_code"), column("reason"),
                column("payload"), column("received_at", UTCDateTime()))
    t0 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    legacy = [  # (source, record_id, reason_code, payload, minutes after t0)
        ("hotline", "PA1", "outside_province", '{"service_request_id":"PA1","lat":0}', 0),
        ("hotline", "PA1", "outside_province", '{"service_request_id":"PA1","lat":0}', 1),
        ("hotline", "PA1", "outside_province", '{"service_request_id":"PA1","lat":1}', 2),
        ("hotline", None, "missing_id", '{"b":1,"a":2}', 0),
        ("hotline", None, "missing_id", '{"b":1,"a":2}', 2),
        ("environment", "5", "thing_missing_name", '{"@iot.id":5}', 0),
        ("environment", "5", "unknown_datastream", '{"@iot.id":5}', 1),
    ]
    with engine.begin() as c:
        for source, rid, code, payload, minutes in legacy:
            c.execute(insert(old).values(source=source, record_id=rid, reason_code=code, reason="why", payload=payload,
                                         received_at=t0 + timedelta(minutes=minutes)))
    upgrade(engine)
    rows = {(r.source, r.record_key): r for r in _rows(engine)}
    assert set(rows) == {("hotline", "ticket:PA1"), ("environment", "thing:5"), ("environment", "observation:5"),
                         ("hotline", record_key(Quarantined(None, "missing_id", "", {"a": 2, "b": 1}, "ticket")))}
    pa1 = rows[("hotline", "ticket:PA1")]
    assert pa1.times_seen == 3 and pa1.payload.endswith('"lat":1}')  # the newest copy
    assert (pa1.first_seen_at, pa1.last_seen_at) == (t0, t0 + timedelta(minutes=2))
    assert [r.times_seen for k, r in sorted(rows.items()) if k[0] == "environment"] == [1, 1]
    # the unique key holds from now on
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(insert(m.QuarantineRecord.__table__).values(
            source="hotline", record_key="ticket:PA1", reason_code="x", reason="x", payload="{}",
            first_seen_at=t0, last_seen_at=t0, times_seen=1))
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(m.QuarantineRecord)) == 4


# --- redaction: no personal data, stream address or credential in the quarantine --------------


def test_quarantined_tickets_keep_no_personal_data(sim, db, store, locator, tmp_path):
    """A real poll with the API key (so the upstream sends reporters' names and phones): the
    refused records are stored with their id and reason, their personal fields redacted."""
    tickets = upstream_tickets(sim)
    broken = sorted(i for i, t in tickets.items() if t["status"] == "open"
                    and (t.get("extended_attributes") or {}).get("reporter_phone"))[:2]
    assert len(broken) == 2
    personal = [v for i in broken for v in (tickets[i]["address"], tickets[i]["extended_attributes"]["reporter_phone"],
                                            tickets[i]["extended_attributes"]["reporter_name"]) if v]
    sim.set_faults("hotline", kind="bad_records", ids=broken, variants=["outside_province"])
    try:
        result = connector("hotline", settings_for(sim, tmp_path), db, store, locator).poll_once()
    finally:
        sim.clear_faults()
    assert result.ok and result.quarantined == 2, result.error
    rows = _rows(db)
    assert sorted(r.record_id for r in rows) == broken and {r.reason_code for r in rows} == {"outside_province"}
    for r in rows:
        assert '"reporter_phone":"[redacted]"' in r.payload and '"address":"[redacted]"' in r.payload
        assert not any(v in r.payload for v in personal), r.payload
        assert r.record_id in r.payload  # the id stays


def test_redaction_of_payloads_and_stored_text():
    from connectors.quarantine import truncate_payload
    from connectors.redaction import redact_stored

    camera = {"id": "CAM-7", "name": "Ngã tư <b>Cao Lãnh</b>", "hls_url": "https://vms.local/live/7.m3u8",
              "snapshot_url": "http://admin:Secr3t@10.1.2.3/snap.jpg", "api_token": "T0KEN",
              "status_reason": "mất kết nối tới rtsp://admin:pw@10.1.2.3:554/ch1", "nested": [{"password": "x"}]}
    text = truncate_payload(camera)
    for raw in ("m3u8", "Secr3t", "admin:", "T0KEN", "rtsp://", '"x"'):
        assert raw not in text, raw
    assert '"id":"CAM-7"' in text and "Cao Lãnh" in text
    # a stored text cut short (no longer JSON) is redacted in place
    cut = '{"service_request_id":"PA1","address":"Số 12 Lê Lợi","extended_attributes":{"reporter_name":"Trần Thị B",' \
          '"reporter_phone":"0912345678","note":"gọi 0987 654 321'
    out = redact_stored(cut)
    assert not any(raw in out for raw in ("Lê Lợi", "Trần Thị B", "0912345678", "0987 654 321")), out
    assert '"service_request_id":"PA1"' in out
    assert redact_stored(out) == out  # idempotent


def test_migration_and_command_redact_rows_stored_before(tmp_path, monkeypatch):
    """Rows written raw by an older version: revision 0007 redacts them on upgrade; a row
    written raw later is redacted by ``ioc connectors quarantine --redact``; ``--json`` never
    prints personal data whatever a row holds."""
    import json as _json

    from typer.testing import CliRunner

    from ioc.cli import app

    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = make_engine(url)
    upgrade(engine, "0005_briefings")
    t0 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    raw = '{"service_request_id":"PA1","address":"Số 12 Lê Lợi","extended_attributes":{"reporter_phone":"0912345678"}}'
    q = m.QuarantineRecord.__table__
    row = dict(source="hotline", record_key="ticket:PA1", record_id="PA1", reason_code="outside_province",
               reason="point lies outside", payload=raw, first_seen_at=t0, last_seen_at=t0, times_seen=1)
    with engine.begin() as c:
        c.execute(insert(q).values(**row))
    upgrade(engine)
    (stored,) = _rows(engine)
    assert "0912345678" not in stored.payload and "Lê Lợi" not in stored.payload and '"PA1"' in stored.payload

    with engine.begin() as c:  # as an old process still running might write it
        c.execute(insert(q).values(**{**row, "record_key": "ticket:PA2", "record_id": "PA2",
                                      "payload": raw.replace("PA1", "PA2")}))
    env = {"IOC_DATABASE_URL": url}
    shown = CliRunner().invoke(app, ["connectors", "quarantine", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "0912345678" not in shown.stdout and "Lê Lợi" not in shown.stdout
    assert {r["record_id"] for r in _json.loads(shown.stdout)["records"]} == {"PA1", "PA2"}
    assert any("0912345678" in r.payload for r in _rows(engine))  # shown redacted, still stored raw
    done = CliRunner().invoke(app, ["connectors", "quarantine", "--redact"], env=env)
    assert done.exit_code == 0 and "redacted 1 stored payload" in done.stdout
    assert not any("0912345678" in r.payload for r in _rows(engine))
    engine.dispose()


def _raw_digest_key(payload) -> str:
    """The key an older version gave a record without an id: a digest of its raw payload."""
    import hashlib

    import orjson

    return "ticket:sha256:" + hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


GUESS = {"description": "ngập nước", "reporter_phone": "0912345678", "address": "Số 12 Lê Lợi"}


def test_the_key_of_a_record_without_an_id_cannot_confirm_a_phone_number():
    """Hashing a guessed payload (the same record with a guessed phone number) must not give
    the stored key: the key is a digest of the redacted payload."""
    key = record_key(Quarantined(None, "missing_id", "r", GUESS, "ticket"))
    assert key != _raw_digest_key(GUESS)
    other_phone = record_key(Quarantined(None, "missing_id", "r", {**GUESS, "reporter_phone": "0987654321"}, "ticket"))
    assert other_phone == key  # the phone number does not change the key: nothing to confirm by hashing
    assert record_key(Quarantined(None, "missing_id", "r", {**GUESS, "description": "cháy"}, "ticket")) != key


def test_migration_0009_rekeys_rows_stored_with_a_digest_of_the_raw_payload(tmp_path):
    """Rows keyed by a raw digest (before revision 0009) get the key of their redacted payload;
    two that differ only in personal data become one row; rows with an id keep theirs."""
    from connectors.quarantine import truncate_payload

    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = make_engine(url)
    upgrade(engine, "0008_briefing_mail")
    t0 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    q = m.QuarantineRecord.__table__
    other = {**GUESS, "reporter_phone": "0987654321"}
    with engine.begin() as c:
        for i, (payload, key) in enumerate(((GUESS, _raw_digest_key(GUESS)), (other, _raw_digest_key(other)),
                                            ({"service_request_id": "PA1"}, "ticket:PA1"))):
            c.execute(insert(q).values(source="hotline", record_key=key, record_id=None if i < 2 else "PA1",
                                       reason_code="missing_id", reason="why", payload=truncate_payload(payload),
                                       first_seen_at=t0 + timedelta(minutes=i), last_seen_at=t0 + timedelta(minutes=i),
                                       times_seen=2))
    upgrade(engine)
    rows = {r.record_key: r for r in _rows(engine)}
    new_key = record_key(Quarantined(None, "missing_id", "r", GUESS, "ticket"))
    assert set(rows) == {new_key, "ticket:PA1"}
    merged = rows[new_key]
    assert merged.times_seen == 4 and merged.first_seen_at == t0 and merged.last_seen_at == t0 + timedelta(minutes=1)
    assert "0912345678" not in merged.payload and "0987654321" not in merged.payload
    # the next poll's sighting of the same broken record updates that row
    from connectors.quarantine import store

    with Session(engine) as s:
        store(s, "hotline", [Quarantined(None, "missing_id", "again", GUESS, "ticket")], t0 + timedelta(hours=1), set())
        s.commit()
    assert {r.record_key: r.times_seen for r in _rows(engine)} == {new_key: 5, "ticket:PA1": 2}
    engine.dispose()
