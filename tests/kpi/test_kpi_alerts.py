"""Alert engine: de-duplication, hysteresis, acknowledgement, no-data handling."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.kpi import alerts
from ioc.kpi.alerts import AlertState, acknowledge, evaluate, threshold_condition

T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def run(values, raise_at=4.0, clear_at=3.0, **kw):
    """Feed salinity values through the engine; return the state name after each round."""
    states, out, events = {}, [], []
    for i, v in enumerate(values):
        cond = threshold_condition("salinity:w1", "salinity", v, raise_at, clear_at, severity="critical")
        states, ev = evaluate(states, [cond], T0 + timedelta(hours=i), **kw)
        events.extend(ev)
        out.append(states["salinity:w1"].state if "salinity:w1" in states else "ok")
    return out, states, events


def test_raise_after_two_and_clear_after_two():
    seq, _, events = run([5, 5, 5, 2, 2, 2])
    assert seq == ["pending", "active", "active", "active", "ok", "ok"]
    assert [e.kind for e in events] == ["raised", "cleared"]


def test_hysteresis_band_does_not_flap():
    # 3.5 is between clear (3) and raise (4): an active alert stays active, and it never clears
    seq, _, events = run([5, 5, 3.5, 4.1, 3.5, 3.9, 3.5])
    assert seq == ["pending", "active", "active", "active", "active", "active", "active"]
    assert [e.kind for e in events] == ["raised"]


def test_pending_reset_by_false():
    seq, _, _ = run([5, 2, 5, 2, 5])
    assert seq == ["pending", "ok", "pending", "ok", "pending"]


def test_no_data_neither_raises_nor_clears():
    seq, states, _ = run([5, None, 5, None, 2, None, 2])
    # None does not count for raising nor reset it; same for clearing
    assert seq == ["pending", "pending", "active", "active", "active", "active", "ok"]
    seq, states, _ = run([None, None, None])
    assert seq == ["ok", "ok", "ok"]
    seq, _, _ = run([float("nan"), 5, 5])
    assert seq == ["ok", "pending", "active"]


def test_acknowledgement_sticks_until_clear_and_reraise():
    states = {}
    cond = lambda v: threshold_condition("k", "r", v, 4, 3)  # noqa: E731
    for i, v in enumerate([5, 5]):
        states, _ = evaluate(states, [cond(v)], T0 + timedelta(hours=i))
    states = acknowledge(states, "k", "operator1", T0 + timedelta(hours=2))
    states, _ = evaluate(states, [cond(6)], T0 + timedelta(hours=3))
    assert states["k"].acked_by == "operator1"
    for i, v in enumerate([1, 1]):
        states, _ = evaluate(states, [cond(v)], T0 + timedelta(hours=4 + i))
    assert "k" not in states
    for i, v in enumerate([5, 5]):
        states, _ = evaluate(states, [cond(v)], T0 + timedelta(hours=6 + i))
    assert states["k"].state == "active" and states["k"].acked_by is None


def test_acknowledge_errors():
    with pytest.raises(KeyError):
        acknowledge({}, "nope", "x", T0)


def test_dedup_and_escalation():
    c1 = threshold_condition("k", "r", 5, 4, 3, severity="warning")
    c2 = threshold_condition("k", "r", 5, 4, 3, severity="critical")
    states, ev = evaluate({}, [c1, c2], T0, raise_after=1)
    assert len(states) == 1 and states["k"].severity == "critical"
    states, ev = evaluate(states, [threshold_condition("k", "r", 5, 4, 3, severity="warning")], T0, raise_after=1)
    assert [e.kind for e in ev] == ["deescalated"] and states["k"].state == "active"


def test_absent_keys():
    states, _ = evaluate({}, [threshold_condition("k", "r", 5, 4)], T0, raise_after=1)
    held, _ = evaluate(states, [], T0)
    assert held["k"].state == "active"
    cleared, ev = evaluate(states, [], T0, absent="clear", clear_after=1)
    assert cleared == {} and ev[0].kind == "cleared"


def test_state_round_trip():
    states, _ = evaluate({}, [threshold_condition("k", "r", 5, 4)], T0, raise_after=1)
    d = states["k"].to_dict()
    assert d["first_at"] == T0.isoformat()
    assert AlertState.from_dict(d) == states["k"]


def test_rules():
    now = T0
    off = alerts.offline_condition("cam1", "offline", now - timedelta(hours=2), now)
    assert off.raising and off.value == 2.0 and off.key == "offline:cam1"
    assert alerts.offline_condition("cam1", "offline", now - timedelta(minutes=5), now).raising is False
    assert alerts.offline_condition("cam1", "online", None, now).clearing is True
    unk = alerts.offline_condition("cam1", "unknown", None, now)
    assert unk.raising is None and unk.clearing is None

    surge = alerts.overdue_surge_condition("province", 20, 10.0)
    assert surge.raising  # 20 ≥ max(15, 15)
    assert alerts.overdue_surge_condition("province", 12, 10.0).raising is False
    assert alerts.overdue_surge_condition("province", None, 10.0).raising is None

    src = {c.key: c for c in alerts.stale_source_conditions({"hotline": "stale", "cameras": "failing",
                                                             "env": "ok", "proc": None})}
    assert src["source:hotline"].raising and src["source:hotline"].severity == "warning"
    assert src["source:cameras"].severity == "critical"
    assert src["source:env"].clearing is True
    assert src["source:proc"].raising is None

    nd = alerts.no_data_condition("air1", None, now, timedelta(hours=3))
    assert nd.raising and nd.key == "no_data:air1"
    assert alerts.no_data_condition("air1", now - timedelta(hours=1), now, timedelta(hours=3)).clearing


def test_threshold_validation():
    with pytest.raises(ValueError):
        threshold_condition("k", "r", 1, raise_at=4, clear_at=5)
    with pytest.raises(ValueError):
        alerts.Condition("k", "r", "urgent", 1, "", True, False)
    below = threshold_condition("k", "r", 1.0, raise_at=2, clear_at=3, above=False)  # e.g. DO too low
    assert below.raising and not below.clearing


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 10)), max_size=40))
def test_engine_never_flaps_faster_than_hysteresis(values):
    seq, _, events = run(values)
    kinds = [e.kind for e in events]
    # raised and cleared alternate, starting with raised
    assert all(k == ("raised" if i % 2 == 0 else "cleared") for i, k in enumerate(kinds))
    # an alert only becomes active after two raising values in a row (ignoring None)
    for i, s in enumerate(seq):
        if s == "active" and (i == 0 or seq[i - 1] not in ("active", "pending")):
            raise AssertionError(f"activated without pending at {i}: {seq}")
