"""Each fault switch and its visible effect, over real HTTP."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import orjson
import pytest

from simulator.faults import FaultError, normalise, parse_fault_arg
from simulator.geo import ProvinceGeo
from simulator.testing import running_simulator

H = "/open311/v2/requests.json"
C = "/cameras/api/v1/cameras"
OBS = "/sta/v1.1/Datastreams(1)/Observations"
D = "/procedures/api/v1/dossiers"


def test_latency(client, sim):
    sim.set_faults("hotline", kind="latency", ms=300, times=1)
    t = time.perf_counter()
    assert client.get(H).status_code == 200
    assert time.perf_counter() - t >= 0.3  # a lower bound: a busy machine only adds to it
    client.get(H)
    # times=1: the second request is not delayed (counted, not timed: CI machines are slow)
    assert sim.faults()["counts"]["hotline"]["latency"] == 1


def test_timeout_then_recovery(client, sim):
    sim.set_faults("cameras", kind="timeout", seconds=3, times=1)
    with pytest.raises(httpx.ReadTimeout):
        client.get(C, timeout=0.5)
    assert client.get(C, timeout=5).status_code == 200


def test_error_500_for_the_next_3_requests_then_recover(client, sim):
    sim.set_faults("environment", kind="error", status=500, times=3)
    codes = [client.get(OBS, params={"$top": 1}).status_code for _ in range(5)]
    assert codes == [500, 500, 500, 200, 200]
    r = client.get("/sta/v1.1/Things")  # other sources untouched
    assert r.status_code == 200
    report = sim.faults()
    assert report["active"][0]["remaining"] == 0 and report["active"][0]["fired"] == 3


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after(client, sim, status):
    sim.set_faults("procedures", kind=f"error{status}", retry_after=7, times=1)
    r = client.get(D)
    assert r.status_code == status and r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == status
    assert client.get(D).status_code == 200


def test_error_body_formats(client, sim):
    sim.set_faults("all", kind="error", status=500, times=4)
    assert client.get(H).json()[0]["code"] == 500  # Open311: [{"code", "description"}]
    assert client.get(C).json()["status"] == 500
    assert client.get(OBS).json()["type"] == "error"
    assert client.get(D).json()["error"]["code"] == 500


def test_probability(client, sim):
    sim.set_faults("hotline", kind="error", status=500, probability=0.5)
    codes = [client.get("/open311/v2/services.json").status_code for _ in range(40)]
    assert 8 <= codes.count(500) <= 32


def test_truncated_and_malformed(client, sim):
    clean = client.get(D, params={"page_size": 50}).content
    sim.set_faults("procedures", kind="truncated", times=1)
    r = client.get(D, params={"page_size": 50})
    assert r.status_code == 200 and len(r.content) < len(clean)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)
    sim.set_faults("procedures", kind="malformed", times=1)
    r = client.get(D, params={"page_size": 50})
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)
    assert orjson.loads(client.get(D, params={"page_size": 50}).content)["items"]


def test_bad_records_hotline_are_reported_with_ids(client, sim):
    clean = client.get(H, params={"page_size": 100}).json()
    sim.set_faults("hotline", kind="bad_records", rate=0.1, times=1)
    bad = client.get(H, params={"page_size": 100}).json()
    log = [e for e in sim.faults()["injected"] if e["kind"] == "bad_records"]
    assert len(log) == 10
    variants = {e["variant"] for e in log}
    assert {"missing_id", "outside_province", "future_timestamp", "huge_string", "script"} <= variants
    by_id = {x.get("service_request_id"): x for x in bad}
    geo = ProvinceGeo(None, 1)
    wall = datetime.now(timezone.utc)
    for e in log:
        if e["variant"] == "missing_id":
            assert e["id"] not in by_id
            continue
        x = by_id[e["id"]]
        if e["variant"] == "outside_province":
            assert not geo.contains(x["long"], x["lat"])
        elif e["variant"] == "future_timestamp":
            assert datetime.fromisoformat(x["requested_datetime"]) > wall
        elif e["variant"] == "huge_string":
            assert len(x["description"]) >= 100_000
        elif e["variant"] == "script":
            assert "<script>" in x["description"]
    assert sum(1 for x in bad if "service_request_id" not in x) == sum(e["variant"] == "missing_id" for e in log)
    assert len(bad) == len(clean)


def test_bad_records_variants_per_source(client, sim):
    clean = client.get(OBS, params={"$top": 100}).json()["value"]
    sim.set_faults("environment", kind="bad_records", rate=0.05, variants=["wrong_unit"], times=1)
    bad = client.get(OBS, params={"$top": 100}).json()["value"]
    changed = [(a, b) for a, b in zip(clean, bad) if a != b]
    assert len(changed) == 5
    assert all(abs(b["result"] * 1000 - a["result"]) < 1e-6 for a, b in changed)
    ids = {e["id"] for e in sim.faults()["injected"] if e["kind"] == "bad_records"}
    assert ids == {a["@iot.id"] for a, _ in changed}
    sim.set_faults("environment", kind="bad_records", rate=1, variants=["wrong_unit"], times=1)
    ds = client.get("/sta/v1.1/Datastreams", params={"$filter": "Thing/id eq 1"}).json()["value"]
    assert {d["unitOfMeasurement"]["symbol"] for d in ds} == {"mg/m³"}
    sim.set_faults("cameras", kind="bad_records", rate=0.5, variants=["outside_province", "missing_id"], times=1)
    cams = client.get(C, params={"itemsPerPage": 10}).json()["items"]
    assert sum("id" not in x for x in cams) == 2 or sum("id" not in x for x in cams) == 3
    sim.set_faults("procedures", kind="bad_records", rate=0.02, variants=["future_timestamp"], times=1)
    items = client.get(D, params={"page_size": 100}).json()["items"]
    wall = datetime.now(timezone.utc)
    assert sum(datetime.fromisoformat(x["NgayTiepNhan"]) > wall for x in items) == 2


def test_duplicates_within_and_across_pages(client, sim):
    p1 = client.get(H, params={"page_size": 40, "page": 1}).json()
    sim.set_faults("hotline", kind="duplicates", mode="within", rate=0.1, times=1)
    dup = client.get(H, params={"page_size": 40, "page": 1}).json()
    ids = [x["service_request_id"] for x in dup]
    assert len(ids) == 44 and len(set(ids)) == 40
    sim.set_faults("hotline", kind="duplicates", mode="across", across=3, times=1)
    p2 = client.get(H, params={"page_size": 40, "page": 2}).json()
    assert [x["service_request_id"] for x in p2[:3]] == [x["service_request_id"] for x in p1[-3:]]
    counts = sim.faults()["counts"]["hotline"]
    assert counts["duplicates"] == 7


def test_out_of_order_older_version_after_newer(client, sim):
    sim.set_faults("procedures", kind="out_of_order", count=2, times=1)
    items = client.get(D, params={"page_size": 300}).json()["items"]
    seen: dict[str, str] = {}
    older = 0
    for x in items:
        if x["MaHoSo"] in seen and x["updated_at"] < seen[x["MaHoSo"]]:
            older += 1
        seen.setdefault(x["MaHoSo"], x["updated_at"])
    assert older == 2
    sim.set_faults("hotline", kind="out_of_order", count=1, times=1)
    items = client.get(H, params={"page_size": 200}).json()
    last = items[-1]
    first = next(x for x in items if x["service_request_id"] == last["service_request_id"])
    assert first is not last and last["updated_datetime"] < first["updated_datetime"]
    sim.set_faults("environment", kind="out_of_order", count=3, times=1)
    times = [o["phenomenonTime"] for o in client.get(OBS, params={"$top": 50}).json()["value"]]
    assert times != sorted(times)


def test_clock_skew(client, sim):
    clean = client.get(C, params={"itemsPerPage": 5}).json()["items"]
    sim.set_faults("cameras", kind="clock_skew", minutes=90, times=1)
    skew = client.get(C, params={"itemsPerPage": 5}).json()["items"]
    for a, b in zip(clean, skew):
        d = datetime.fromisoformat(b["updated_at"]) - datetime.fromisoformat(a["updated_at"])
        assert d == timedelta(minutes=90)
    clean = client.get(OBS, params={"$top": 3}).json()["value"]
    sim.set_faults("environment", kind="clock_skew", minutes=-30, times=1)
    skew = client.get(OBS, params={"$top": 3}).json()["value"]
    assert skew[0]["phenomenonTime"] != clean[0]["phenomenonTime"]
    assert skew[0]["phenomenonTime"].endswith("Z")


def test_shifting_pages(client, sim):
    p1 = client.get(D, params={"page_size": 50, "page": 1}).json()["items"]
    sim.set_faults("procedures", kind="shifting_pages", count=4, times=1)
    p2 = client.get(D, params={"page_size": 50, "page": 2}).json()["items"]
    assert [x["MaHoSo"] for x in p2[:4]] == [x["MaHoSo"] for x in p1[-4:]]
    full = client.get(OBS, params={"$top": 40}).json()["value"]
    sim.set_faults("environment", kind="shifting_pages", count=5, times=1)
    page2 = client.get(OBS, params={"$top": 20, "$skip": 20}).json()["value"]
    assert [o["@iot.id"] for o in page2[:5]] == [o["@iot.id"] for o in full[15:20]]


def test_clear_faults(client, sim):
    sim.set_faults("all", kind="error", status=500)
    assert client.get(C).status_code == 500
    report = sim.clear_faults()
    assert report["active"] == [] and report["injected"] == []
    assert client.get(C).status_code == 200
    assert client.post("/_control/faults", json={"source": "nowhere", "kind": "error"}).status_code == 400
    assert client.post("/_control/faults", json={"source": "hotline", "kind": "explode"}).status_code == 400


def test_cli_fault_syntax():
    assert parse_fault_arg("hotline:error=503,retry_after=2,times=3") == (
        "hotline", {"kind": "error", "value": 503, "retry_after": 2, "times": 3})
    src, spec = parse_fault_arg("environment:bad_records=0.1,variants=wrong_unit+missing_id")
    f = normalise(src, spec, 1, 1)
    assert f.params["rate"] == 0.1 and f.params["variants"] == ["wrong_unit", "missing_id"]
    assert normalise(*parse_fault_arg("all:latency=250"), 1, 1).params["ms"] == 250
    assert normalise(*parse_fault_arg("cameras:truncated=0.3"), 1, 1).probability == 0.3
    for bad in ("hotline", "moon:error", "hotline:nope", "hotline:error=200"):
        with pytest.raises(FaultError):
            normalise(*parse_fault_arg(bad), 1, 1)


def test_faults_from_config():
    with running_simulator(history_days=1, frozen=True, faults=["hotline:error=503,times=1,retry_after=2"]) as s:
        r = httpx.get(s.hotline_url + "/services.json")
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        assert httpx.get(s.hotline_url + "/services.json").status_code == 200
