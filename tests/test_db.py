from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from ioc.db.migrate import current_revision, head_revision, upgrade
from ioc.db.models import Base, Ticket


def test_migrations_reach_head_and_match_the_models(engine):
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert upgrade(engine) == (head_revision(engine), head_revision(engine))  # idempotent


def test_datetimes_round_trip_as_aware_utc(engine):
    hcm = timezone(timedelta(hours=7))
    at = datetime(2026, 3, 1, 8, 30, tzinfo=hcm)
    with Session(engine) as s:
        s.add(Ticket(external_id="T1", status="open", requested_at=at, updated_at=at))
        s.commit()
    with Session(engine) as s:
        got = s.scalars(select(Ticket)).one()
    assert got.requested_at == at
    assert got.requested_at.tzinfo is not None and got.requested_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(engine):
    with Session(engine) as s:
        s.add(Ticket(external_id="T2", status="open", requested_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1)))
        with pytest.raises(Exception, match="naive"):
            s.commit()
