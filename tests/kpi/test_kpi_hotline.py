"""Hotline 1022 KPIs."""

from datetime import datetime, timezone

import pandas as pd
import pytest

from ioc.kpi import hotline

UTC = timezone.utc
T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731

COLUMNS = ["external_id", "service_name", "channel", "status", "agency", "commune_code",
           "requested_at", "expected_at", "answered_at", "reopened_count"]


def tickets():
    rows = [
        # on time: 15-working-day default deadline, answered after 48 h
        ("T1", "Đất đai", "phone", "closed", "Sở TNMT", "29251",
         T("2025-03-03 02:00"), None, T("2025-03-05 02:00"), 0),
        # late: answered 72 h after, expected_at was after 24 h
        ("T2", "Đất đai", "zalo", "closed", "Sở TNMT", None,
         T("2025-03-03 02:00"), T("2025-03-04 02:00"), T("2025-03-06 02:00"), 1),
        # overdue: open, expected 10 March, judged at 31 March
        ("T3", "Giao thông", "phone", "open", "Sở GTVT", "29251",
         T("2025-03-03 02:00"), T("2025-03-10 02:00"), None, 0),
        # in progress, deadline 15 working days after 25 March → mid April: not overdue
        ("T4", "Môi trường", "web", "open", None, "29251",
         T("2025-03-25 02:00"), None, None, 0),
        # closed without an answer time
        ("T5", "Môi trường", "web", "closed", "Sở TNMT", "29254",
         T("2025-03-10 02:00"), None, None, 2),
        # outside the period
        ("T6", "Đất đai", "phone", "closed", "Sở TNMT", "29251",
         T("2025-02-20 02:00"), None, T("2025-02-21 02:00"), 0),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


START, END = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)


def test_summary_counts():
    s = hotline.summary(tickets(), START, END)
    assert s["received"] == 5
    assert s["answered"] == 3  # T1, T2, T5
    assert s["answered_time_unknown"] == 1  # T5
    assert s["in_progress"] == 2  # T3, T4
    assert s["overdue"] == 1  # T3
    assert s["answered_late"] == 1  # T2
    assert s["late"] == 2
    assert s["on_time"] == 1
    assert s["on_time_pct"] == 50.0  # 1 on time of 2 answered with a known time
    assert s["answered_pct"] == 60.0
    assert s["median_hours_to_answer"] == 60.0  # median(48, 72)
    assert s["reopened_tickets"] == 2 and s["reopen_events"] == 3


def test_default_deadline_is_15_working_days():
    d = hotline.deadlines(tickets().iloc[[0]])
    # Monday 3 March 09:00 local + 15 working days (no holidays) = Monday 24 March 09:00 local
    assert d.iloc[0] == T("2025-03-24 02:00")


def test_as_of_before_answer():
    s = hotline.summary(tickets(), START, END, as_of=datetime(2025, 3, 4, 12, tzinfo=UTC))
    # at 4 March 12:00 UTC only T1, T2, T3 exist; T1 (answered 5 March) not yet answered;
    # T2 not yet answered and past its expected_at (4 March 02:00) → overdue
    assert s["received"] == 3
    assert s["answered"] == 0
    assert s["overdue"] == 1
    assert s["on_time_pct"] is None


def test_breakdowns():
    s = hotline.summary(tickets(), START, END)
    by = s["by"]
    assert set(by) == {"service_name", "channel", "commune_code", "agency"}
    assert by["service_name"]["Đất đai"]["received"] == 2
    assert by["commune_code"]["unknown"]["received"] == 1
    assert by["agency"]["unknown"]["received"] == 1
    assert by["channel"]["web"]["on_time_pct"] is None  # nothing answered with a time


def test_empty_is_none_not_zero():
    empty = tickets().iloc[0:0]
    s = hotline.summary(empty, START, END)
    assert s["received"] == 0
    assert s["on_time_pct"] is None and s["median_hours_to_answer"] is None
    assert s["answered_pct"] is None
    assert s["by"]["channel"] == {}


def test_status_changes_count_reopenings():
    changes = pd.DataFrame({
        "ticket_external_id": ["T1", "T1", "T1", "T1", "T3"],
        "at": [T("2025-03-03 03:00"), T("2025-03-05 02:00"), T("2025-03-06 02:00"), T("2025-03-07 02:00"),
               T("2025-03-03 03:00")],
        "state": ["open", "closed", "open", "closed", "open"],
    })
    s = hotline.summary(tickets(), START, END, status_changes=changes)
    assert s["reopened_tickets"] == 1 and s["reopen_events"] == 1


def test_compare():
    cur = hotline.summary(tickets(), START, END)
    prev = hotline.summary(tickets(), datetime(2025, 2, 1, tzinfo=UTC), START)
    c = hotline.compare(cur, prev)
    assert c["received"] == {"current": 5, "previous": 1, "delta": 4, "delta_pct": 400.0}
    assert c["overdue"]["previous"] == 0 and c["overdue"]["delta_pct"] is None
    assert c["on_time_pct"]["current"] == 50.0 and c["on_time_pct"]["previous"] == 100.0
    assert c["on_time_pct"]["delta"] == -50.0
    assert "period" not in c
    assert c["by"]["service_name"]["Giao thông"]["received"]["previous"] is None


def test_bad_input():
    with pytest.raises(ValueError, match="answered_at"):
        hotline.summary(tickets().drop(columns=["answered_at"]), START, END)
    with pytest.raises(ValueError, match="naive"):
        hotline.summary(tickets(), datetime(2025, 3, 1), END)
    with pytest.raises(ValueError, match="before"):
        hotline.summary(tickets(), END, START)


def test_flag_steps_give_ticket_flags_at_every_instant():
    """The map's per-point steps (``flag_steps``, read by ``flags_at_step`` and mirrored in
    assets/sector_map.js) say what ``ticket_flags`` says at each instant: random tickets, times
    on and between the instants, closed with and without an answer time, missing deadlines."""
    import numpy as np

    from ioc.kpi.dates import NAT_US

    rng = np.random.default_rng(11)
    instants = np.cumsum(rng.integers(1, 50, 40)).astype(np.int64)
    n = 3000

    def times(missing: float) -> np.ndarray:
        # on an instant, 1 µs either side of one, or anywhere (before the first to after the last)
        t = np.where(rng.random(n) < 0.5, rng.choice(instants, n) + rng.integers(-1, 2, n),
                     rng.integers(instants[0] - 60, instants[-1] + 60, n))
        return np.where(rng.random(n) < missing, NAT_US, t).astype(np.int64)

    answered, deadline = times(0.3), times(0.2)
    requested = np.full(n, instants[0] - 100, dtype=np.int64)
    closed = rng.random(n) < 0.4
    a_from, d_from = hotline.flag_steps(answered, deadline, closed, instants)
    seen = set()
    for k, at in enumerate(instants):
        want = hotline.ticket_flags(requested, answered, deadline, closed, np.zeros(n), int(at))
        got_answered, got_overdue = hotline.flags_at_step(a_from, d_from, k)
        assert (got_answered == want["answered"]).all() and (got_overdue == want["overdue"]).all(), k
        seen |= {(bool(a), bool(o)) for a, o in zip(got_answered, got_overdue)}
    assert seen == {(True, False), (False, True), (False, False)}  # every state occurs
