"""The sector map judges a 1022 ticket's state in SQL (ioc/views/map_filters.py: answered,
overdue, the 15-working-day cut-off) so that lists page and sort in the database. These
tests hold that SQL to the definition, ``ioc.kpi.hotline.metrics``, on random tickets around
weekends and the Tết holidays, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from ioc.db import models as m
from ioc.kpi import hotline, tickets as kpi_tickets
from ioc.views.map_filters import overdue_cutoff, status_sql

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# around Tết 2026 (17/02) and an ordinary spring: long holidays move the 15-working-day deadline
NOWS = [datetime(2026, 3, 9, 2, 30, tzinfo=timezone.utc), datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc),
        datetime(2026, 6, 10, 3, 0, tzinfo=timezone.utc), datetime(2026, 5, 4, 1, 0, 0, 1, tzinfo=timezone.utc)]

_ticket = st.tuples(
    st.integers(0, 60 * 24 * 60),  # requested: minutes before now
    st.one_of(st.none(), st.integers(-30 * 24 * 60, 30 * 24 * 60)),  # expected_at: minutes from now
    st.one_of(st.none(), st.integers(-60 * 24 * 60, 5 * 24 * 60)),  # answered_at: minutes from now (may be later)
    st.sampled_from(["open", "closed", " Closed ", "OPEN"]),
)


@given(st.lists(_ticket, min_size=1, max_size=25), st.sampled_from(NOWS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ticket_states_in_sql_equal_the_hotline_definition(engine, tickets, now):
    rows = []
    for i, (req_min, exp_min, ans_min, status) in enumerate(tickets):
        req = now - timedelta(minutes=req_min, microseconds=i)
        rows.append({"source": "hotline", "external_id": f"T{i}", "status": status, "requested_at": req,
                     "updated_at": req, "expected_at": None if exp_min is None else now + timedelta(minutes=exp_min),
                     "answered_at": None if ans_min is None else now + timedelta(minutes=ans_min),
                     "reopened_count": 0})
    with engine.begin() as c:
        c.execute(delete(m.Ticket))
        c.execute(insert(m.Ticket), rows)
        got = dict(c.execute(select(m.Ticket.external_id, status_sql(now, TZ))).all())
    for r in rows:
        df = pd.DataFrame([{k: r[k] for k in ("external_id", "status", "requested_at", "expected_at", "answered_at",
                                               "reopened_count")}])
        for col in ("requested_at", "expected_at", "answered_at"):
            df[col] = pd.to_datetime(df[col], utc=True)
        ref = hotline.metrics(df, now, tz=TZ)
        want = "closed" if ref["answered"] else ("overdue" if ref["overdue"] else "open")
        assert got[r["external_id"]] == want, (r, ref)


@pytest.mark.parametrize("now", NOWS)
def test_the_cutoff_is_where_the_deadline_reaches_now(now):
    cut = overdue_cutoff(now, TZ)
    us = pd.Timestamp(cut).value // 1000
    req = pd.Series(pd.DatetimeIndex(np.array([us - 1, us], dtype="datetime64[us]")).tz_localize("UTC"))
    df = pd.DataFrame({"requested_at": req, "expected_at": pd.Series(pd.NaT, index=req.index,
                                                                     dtype="datetime64[us, UTC]")})
    dl = kpi_tickets.ticket_deadlines(df, TZ).tolist()
    assert dl[0] < pd.Timestamp(now) <= dl[1]
