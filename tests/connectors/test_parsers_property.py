"""Property-based: the connectors' parse functions against arbitrary JSON-like payloads and
mutations of real simulator records.

* parse_page-style functions never raise: every raw record ends in the batch or in the
  quarantine (with a reason code and a reason);
* parse functions raise only the documented errors: QuarantineError or pydantic's
  ValidationError (connectors.base.parser turns anything else into QuarantineError);
* what they accept fits the SQL columns it is written to (no over-long text, no NULL in a
  NOT NULL column, finite numbers) and serialises to JSON for Redis.
"""

from __future__ import annotations

import copy
import math
import os
from types import SimpleNamespace

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import String

from connectors.base import Batch, QuarantineError
from connectors.cameras import CamerasConnector
from connectors.environment import EnvironmentConnector
from connectors.hotline import HotlineConnector
from connectors.procedures import ProceduresConnector
from connector_harness import CAMERA_TOKEN, HOTLINE_KEY
from ioc.db import models as m
from ioc.records import CameraRecord, DatastreamRecord, DossierRecord, ObservationRow, StationRecord, TicketRecord
from ioc.settings import load_settings
from simulator.testing import running_simulator

DOCUMENTED = (QuarantineError, ValidationError)
# IOC_HYPOTHESIS_EXAMPLES=2000 for a longer hunt; no example database is written to the tree.
SETTINGS = settings(max_examples=int(os.environ.get("IOC_HYPOTHESIS_EXAMPLES", "120")), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# --- real records, fetched once ------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    with running_simulator(history_days=2, frozen=True, seed=21, scale=0.2) as sim:
        get = lambda url, **kw: httpx.get(url, timeout=30, **kw).json()  # noqa: E731
        return SimpleNamespace(
            tickets=get(sim.hotline_url + "/requests.json", params={"api_key": HOTLINE_KEY})[:40],
            cameras=get(sim.cameras_url + "/cameras", params={"itemsPerPage": 40},
                        headers={"Authorization": f"Bearer {CAMERA_TOKEN}"})["items"],
            dossiers=get(sim.procedures_url + "/dossiers", params={"page_size": 40})["items"],
            things=get(sim.environment_url + "/Things?$expand=Locations&$top=200")["value"],
            datastreams=get(sim.environment_url + "/Datastreams?$expand=ObservedProperty,Thing($select=id)&$top=2000")["value"],
            observations=get(sim.environment_url + "/Observations?$top=60&$orderby=id%20desc"
                             "&$expand=Datastream($select=id)")["value"],
        )


def _settings():
    return load_settings(hotline_url="http://x", cameras_url="http://x", environment_url="http://x",
                         procedures_url="http://x")


def make(cls, locator):
    return cls(_settings(), None, None, client=SimpleNamespace(), locator=locator)


def environment(real, locator):
    """An environment connector that knows the real Things and Datastreams."""
    conn = make(EnvironmentConnector, locator)
    for t in real.things:
        conn._stations[str(t["@iot.id"])] = conn.parse_thing(t)
    for d in real.datastreams:
        conn.parse_datastream(d)
    return conn


# --- strategies ----------------------------------------------------------------------------

interesting = st.sampled_from([
    "", " ", "2025-03-14", "2025-03-14T08:00:00", "2025-03-14T08:00:00+07:00", "2025-03-14T01:00:00Z",
    "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00+00:00", "2025-02-30T00:00:00Z", "yesterday", "NaN",
    "<script>alert(1)</script>", "x" * 5000, "🙂", "\x00", "1e400", "-0", "open", "closed", "online", "CLOSED",
    10**30, -1, 0, 1.5, True, False, [], {}, [1, 2], {"@iot.id": 1},
])
scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40) | interesting)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=10)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, records):
    """A real record with one to four of its values replaced, removed or wrongly typed."""
    rec = copy.deepcopy(draw(st.sampled_from(records)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(rec) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = rec
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(values | interesting))  # never share a drawn list/dict
    return rec


def payloads(records):
    return mutated(records) | values


# --- what an accepted record must satisfy --------------------------------------------------

TABLES = {TicketRecord: m.Ticket, CameraRecord: m.Camera, DossierRecord: m.Dossier, StationRecord: m.Station,
          DatastreamRecord: m.Datastream}


def fits_sql(rec) -> None:
    if isinstance(rec, ObservationRow):
        assert math.isfinite(rec.result) and rec.phenomenon_time.tzinfo is not None
        assert len(rec.datastream_id) <= 100 and (rec.upstream_id is None or len(rec.upstream_id) <= 100)
        return
    table = TABLES[type(rec)].__table__
    row = rec.model_dump(exclude={"history", "factor"})
    for name, value in row.items():
        col = table.c[name]
        if value is None:
            assert col.nullable or col.default is not None, f"{name} is NULL"
        elif isinstance(col.type, String) and col.type.length:
            assert len(value) <= col.type.length, f"{name}: {len(value)} > {col.type.length}"
        if isinstance(value, float):
            assert math.isfinite(value), name
    orjson.dumps(rec.as_json())  # the live record can go to Redis


def check_batch(batch: Batch, kind: str, n: int) -> None:
    assert batch.fetched == n
    assert len(batch.records[kind]) + len(batch.quarantined) == n
    for rec in batch.records[kind]:
        fits_sql(rec)
    for q in batch.quarantined:
        assert isinstance(q.reason_code, str) and q.reason_code and isinstance(q.reason, str) and q.reason


def parse_or_documented(fn, raw):
    try:
        rec = fn(raw)
    except DOCUMENTED:
        return None
    return rec


# --- the properties ------------------------------------------------------------------------


@pytest.mark.parametrize("with_locator", [True, False], ids=["locator", "no-locator"])
def test_hotline(real, locator, with_locator):
    conn = make(HotlineConnector, locator if with_locator else None)

    @SETTINGS
    @given(page=st.lists(payloads(real.tickets), max_size=6), raw=payloads(real.tickets))
    def prop(page, raw):
        check_batch(conn.parse_page(page, set()), "tickets", len(page))
        rec = parse_or_documented(conn.parse, raw)
        if rec is not None:
            fits_sql(rec)

    prop()


@pytest.mark.parametrize("with_locator", [True, False], ids=["locator", "no-locator"])
def test_cameras(real, locator, with_locator):
    conn = make(CamerasConnector, locator if with_locator else None)

    @SETTINGS
    @given(page=st.lists(payloads(real.cameras), max_size=6), raw=payloads(real.cameras))
    def prop(page, raw):
        check_batch(conn.parse_page(page), "cameras", len(page))
        rec = parse_or_documented(conn.parse, raw)
        if rec is not None:
            fits_sql(rec)

    prop()


@pytest.mark.parametrize("with_locator", [True, False], ids=["locator", "no-locator"])
def test_procedures(real, locator, with_locator):
    conn = make(ProceduresConnector, locator if with_locator else None)

    @SETTINGS
    @given(page=st.lists(payloads(real.dossiers), max_size=6), raw=payloads(real.dossiers))
    def prop(page, raw):
        check_batch(conn.parse_page(page, skip=set()), "dossiers", len(page))
        rec = parse_or_documented(conn.parse, raw)
        if rec is not None:
            fits_sql(rec)

    prop()


def test_environment_things_and_datastreams(real, locator):
    @SETTINGS
    @given(thing=payloads(real.things), stream=payloads(real.datastreams))
    def prop(thing, stream):
        conn = environment(real, locator)
        rec = parse_or_documented(conn.parse_thing, thing)
        if rec is not None:
            fits_sql(rec)
        out = parse_or_documented(conn.parse_datastream, stream)
        if out is not None:
            ds, end = out
            fits_sql(ds)
            assert end is None or end.tzinfo is not None
            assert math.isfinite(ds.factor) and ds.factor > 0

    prop()


def test_environment_observations(real, locator):
    conn = environment(real, locator)
    stream_ids = sorted({str(o["Datastream"]["@iot.id"]) for o in real.observations})

    @SETTINGS
    @given(page=st.lists(payloads(real.observations), max_size=6), raw=payloads(real.observations),
           ds_id=st.none() | st.sampled_from(stream_ids) | st.text(max_size=5))
    def prop(page, raw, ds_id):
        check_batch(conn.parse_observations(page, ds_id), "observations", len(page))
        row = parse_or_documented(lambda r: conn.parse_observation(r, ds_id), raw)
        if row is not None:
            fits_sql(row)

    prop()


def test_real_records_parse_cleanly(real, locator):
    """The unmutated records are all accepted (the properties above are not vacuous)."""
    assert not make(HotlineConnector, locator).parse_page(real.tickets, set()).quarantined
    assert not make(CamerasConnector, locator).parse_page(real.cameras).quarantined
    assert not make(ProceduresConnector, locator).parse_page(real.dossiers, skip=set()).quarantined
    conn = environment(real, locator)
    assert len(conn._streams) == len(real.datastreams)
    assert not conn.parse_observations(real.observations, None).quarantined


def test_dossier_wait_longer_than_its_life_is_quarantined(real, locator):
    """A waiting time in minutes sent as hours is caught when it exceeds the dossier's life."""
    conn = make(ProceduresConnector, locator)
    raw = copy.deepcopy(real.dossiers[0])
    raw["NgayTiepNhan"], raw["updated_at"] = "2026-11-02T08:00:00+07:00", "2026-11-05T08:00:00+07:00"  # 72 h
    raw["thoi_gian_cho_bo_sung"] = 70.0
    assert conn.parse(raw).supplement_wait_hours == 70.0
    raw["thoi_gian_cho_bo_sung"] = 70.0 * 60
    with pytest.raises(QuarantineError) as err:
        conn.parse(raw)
    assert err.value.code == "implausible_wait" and "72.0 h" in str(err.value)


def test_dossier_received_in_the_future_is_refused_for_that(real, locator):
    """A future NgayTiepNhan is a future time, not an implausible wait (the all-faults drill
    found the wait check blaming a zero wait for it)."""
    conn = make(ProceduresConnector, locator)
    raw = copy.deepcopy(real.dossiers[0])
    raw["NgayTiepNhan"], raw["updated_at"] = "2099-11-02T08:00:00+07:00", "2026-11-05T08:00:00+07:00"
    raw["thoi_gian_cho_bo_sung"] = 0.0
    with pytest.raises(QuarantineError) as err:
        conn.parse(raw)
    assert err.value.code == "future_timestamp" and "NgayTiepNhan" in str(err.value)
