"""Idempotent, guarded writes on SQLite and PostgreSQL."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.writer import load_cursor, record_touches, save_cursor, upsert_guarded, upsert_observations
from ioc.db import models as m
from ioc.records import ObservationRecord, TicketRecord

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def ticket(i, updated, status="open"):
    return TicketRecord(external_id=f"T{i}", status=status, requested_at=T0, updated_at=updated)


def row(rec):
    return rec.model_dump(exclude={"history"})


def write(engine, records):
    with Session(engine) as s, s.begin():
        return upsert_guarded(s, m.Ticket, records, key="external_id", guard="updated_at", to_row=row,
                              scope={"source": "hotline"}).counts


def test_new_updated_unchanged_and_no_regression(engine):
    c = write(engine, [ticket(1, T0), ticket(2, T0)])
    assert (c.new, c.updated, c.unchanged) == (2, 0, 0)
    c = write(engine, [ticket(1, T0), ticket(2, T0 + timedelta(hours=1), "closed")])
    assert (c.new, c.updated, c.unchanged) == (0, 1, 1)
    # an out-of-order (older) version must not move the ticket back to open
    c = write(engine, [ticket(2, T0 + timedelta(minutes=30), "open")])
    assert (c.new, c.updated, c.unchanged) == (0, 0, 1)
    with Session(engine) as s:
        assert s.scalar(select(m.Ticket.status).where(m.Ticket.external_id == "T2")) == "closed"
        assert s.scalar(select(func.count()).select_from(m.Ticket)) == 2


def test_duplicates_within_a_batch_keep_the_newest(engine):
    c = write(engine, [ticket(3, T0), ticket(3, T0 + timedelta(hours=2), "closed"), ticket(3, T0 + timedelta(hours=1))])
    assert (c.new, c.unchanged) == (1, 2)
    with Session(engine) as s:
        assert s.scalar(select(m.Ticket.status).where(m.Ticket.external_id == "T3")) == "closed"


def test_observations_are_keyed_by_stream_and_time(engine):
    obs = [ObservationRecord(datastream_id="ds1", phenomenon_time=T0 + timedelta(hours=h), result=float(h)) for h in range(5)]
    with Session(engine) as s, s.begin():
        c = upsert_observations(s, obs + obs[:2]).counts
    assert (c.new, c.unchanged) == (5, 2)
    corrected = ObservationRecord(datastream_id="ds1", phenomenon_time=T0, result=9.5)
    with Session(engine) as s, s.begin():
        c = upsert_observations(s, [corrected, obs[1]]).counts
    assert (c.new, c.updated, c.unchanged) == (0, 1, 1)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(m.Observation)) == 5


def test_cursor_round_trip(engine):
    with Session(engine) as s, s.begin():
        assert load_cursor(s, "hotline") is None
        save_cursor(s, "hotline", "a")
    with Session(engine) as s, s.begin():
        save_cursor(s, "hotline", "b")
    with Session(engine) as s:
        assert load_cursor(s, "hotline") == "b"


def test_bulk_observation_times_match_the_orm_form(engine):
    """The driver-level bulk insert binds times exactly as UTCDateTime does: a range query
    finds them, and on SQLite the stored text equals what the ORM writes."""
    at = datetime(2026, 3, 2, 8, 30, tzinfo=timezone(timedelta(hours=7)))  # 01:30 UTC, local offset on input
    with Session(engine) as s, s.begin():
        upsert_observations(s, [ObservationRecord(datastream_id="bulk", phenomenon_time=at, result=1.0)])
        s.add(m.Observation(datastream_id="orm", phenomenon_time=at, result=2.0))
    with Session(engine) as s:
        t = m.Observation.__table__
        got = s.execute(select(t.c.datastream_id, t.c.phenomenon_time).where(
            t.c.phenomenon_time >= at, t.c.phenomenon_time <= at).order_by(t.c.datastream_id)).all()
        assert [(d, p) for d, p in got] == [("bulk", at), ("orm", at)]
        if engine.dialect.name == "sqlite":
            raw = dict(s.connection().exec_driver_sql("SELECT datastream_id, phenomenon_time FROM observations").all())
            assert raw["bulk"] == raw["orm"] == "2026-03-02 01:30:00.000000"


def test_custom_plans_lets_the_original_error_through(engine):
    """A failing lookup inside custom_plans surfaces its own error, not one about an
    aborted transaction raised by resetting the plan mode."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from connectors.writer import custom_plans

    with Session(engine) as s, pytest.raises(DBAPIError) as err:
        with s.begin(), custom_plans(s):
            s.execute(text("SELECT * FROM no_such_table"))
    assert "no_such_table" in str(err.value) and "aborted" not in str(err.value)


def test_touched_times_hold_old_and_new_values_and_are_noted_per_utc_day(engine):
    first = [ticket(7, T0), ticket(8, T0)]
    with Session(engine) as s, s.begin():
        w = upsert_guarded(s, m.Ticket, first, key="external_id", guard="updated_at", to_row=row,
                           scope={"source": "hotline"}, touch=("requested_at",))
    assert w.touched == [T0, T0]
    moved = TicketRecord(external_id="T7", status="open", requested_at=T0 - timedelta(days=3),
                         updated_at=T0 + timedelta(hours=1))
    with Session(engine) as s, s.begin():
        w = upsert_guarded(s, m.Ticket, [moved, ticket(8, T0)], key="external_id", guard="updated_at", to_row=row,
                           scope={"source": "hotline"}, touch=("requested_at",))
        # the row moved from T0 to three days before: both days are touched; T8 is unchanged
        assert sorted(t.astimezone(timezone.utc) for t in w.touched) == [T0 - timedelta(days=3), T0]
        assert record_touches(s, "procedures", w.touched + [None, T0 + timedelta(minutes=5)]) == 2
    with Session(engine) as s:
        rows = s.execute(select(m.HistoryTouch.lo, m.HistoryTouch.hi).order_by(m.HistoryTouch.lo)).all()
    assert [(lo.astimezone(timezone.utc), hi.astimezone(timezone.utc)) for lo, hi in rows] == [
        (T0 - timedelta(days=3), T0 - timedelta(days=3)), (T0, T0 + timedelta(minutes=5))]
