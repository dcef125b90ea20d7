"""Environment as OGC SensorThings API v1.1, over real HTTP (httpx and frost-sta-client)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import frost_sta_client as fsc
import httpx
import pytest

S = "/sta/v1.1"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # furl, inside frost-sta-client


def test_root_document(client):
    body = client.get(S).json()
    names = [x["name"] for x in body["value"]]
    for n in ("Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors", "ObservedProperties",
              "Observations", "FeaturesOfInterest"):
        assert n in names
    assert all(x["url"].startswith("http://127.0.0.1") for x in body["value"])
    assert "serverSettings" in body


def test_entity_counts_and_kinds(client):
    things = client.get(f"{S}/Things", params={"$top": 1000, "$count": "true"}).json()
    assert things["@iot.count"] == 107 and len(things["value"]) == 107
    kinds = [t["properties"]["station_type"] for t in things["value"]]
    assert kinds.count("water_iot") == 6 and kinds.count("insect_trap") == 15
    assert kinds.count("air") >= 10
    ds = client.get(f"{S}/Datastreams", params={"$top": 0, "$count": "true"}).json()
    assert ds["@iot.count"] > 700 and ds["value"] == []
    units = client.get(f"{S}/Datastreams", params={
        "$filter": "Thing/properties/station_type eq 'air'", "$top": 1000, "$select": "id,name,unitOfMeasurement"}).json()
    assert units["value"] and all(d["unitOfMeasurement"]["symbol"] == "µg/m³" for d in units["value"])
    for d in units["value"]:
        assert set(d["unitOfMeasurement"]) == {"name", "symbol", "definition"}
    ops = {o["name"] for o in client.get(f"{S}/ObservedProperties", params={"$top": 100}).json()["value"]}
    assert {"PM2.5", "PM10", "NO2", "SO2", "CO", "O3", "pH", "DO", "BOD5", "COD", "N-NH4", "N-NO3", "P-PO4",
            "TSS", "Coliform", "Mực nước", "Độ mặn", "Mật độ rầy nâu vào đèn"} <= ops
    assert client.get(f"{S}/Sensors").json()["value"]
    foi = client.get(f"{S}/FeaturesOfInterest(1)").json()
    assert foi["feature"]["type"] == "Point"


def test_navigation_and_self_links(client):
    t = client.get(f"{S}/Things(1)").json()
    assert t["@iot.id"] == 1 and t["@iot.selfLink"].endswith("/Things(1)")
    ds = client.get(t["Datastreams@iot.navigationLink"]).json()["value"]
    assert ds and all(d["@iot.selfLink"].endswith(f"/Datastreams({d['@iot.id']})") for d in ds)
    assert client.get(f"{S}/Things(1)/Locations").json()["value"][0]["location"]["type"] == "Point"
    d5 = client.get(f"{S}/Datastreams(5)/Thing").json()
    assert "Datastreams@iot.navigationLink" in d5
    assert client.get(f"{S}/Datastreams(5)/ObservedProperty").json()["name"]
    obs = client.get(f"{S}/Datastreams(5)/Observations", params={"$top": 1}).json()["value"][0]
    assert client.get(obs["@iot.selfLink"]).json() == obs
    assert client.get(f"{S}/Observations({obs['@iot.id']})/Datastream").json()["@iot.id"] == 5
    assert client.get(f"{S}/Things(1)/Datastreams({ds[0]['@iot.id']})").status_code == 200
    assert client.get(f"{S}/Things(1)/Datastreams(800)").status_code == 404
    assert client.get(f"{S}/Things(9999)").status_code == 404
    r = client.get(f"{S}/Nothing")
    assert r.status_code == 404 and r.json()["code"] == 404
    assert client.get(f"{S}/Things(1)/name").json() == {"name": t["name"]}
    assert client.get(f"{S}/Things(1)/name/$value").text == t["name"]


def test_filters(client, sim):
    r = client.get(f"{S}/Things", params={"$filter": "id eq 3"}).json()["value"]
    assert [t["@iot.id"] for t in r] == [3]
    name = r[0]["name"]
    r = client.get(f"{S}/Things", params={"$filter": f"name eq '{name}'"}).json()["value"]
    assert [t["@iot.id"] for t in r] == [3]
    r = client.get(f"{S}/Things", params={"$filter": "substringof('rầy nâu', name) and id gt 100"}).json()["value"]
    assert r and all(t["@iot.id"] > 100 and "rầy nâu" in t["name"] for t in r)
    r = client.get(f"{S}/Things", params={"$filter": "startswith(name, 'Bẫy') or id eq 1", "$top": 200}).json()
    assert len(r["value"]) == 16
    now = sim.now().astimezone(timezone.utc)
    t1 = (now - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    t2 = (now - timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    obs = client.get(f"{S}/Datastreams(1)/Observations", params={
        "$filter": f"phenomenonTime gt {t1} and phenomenonTime le {t2}", "$orderby": "phenomenonTime asc",
        "$top": 1000}).json()["value"]
    times = [o["phenomenonTime"] for o in obs]
    every = client.get(f"{S}/Datastreams(1)/Observations", params={"$top": 10000}).json()["value"]
    assert times == [o["phenomenonTime"] for o in every if t1 < o["phenomenonTime"] <= t2]
    assert 0 < len(times) <= 20
    # offsets other than Z, encoded as %2B
    t1_local = (now - timedelta(hours=30)).astimezone(timezone(timedelta(hours=7))).isoformat()
    same = client.get(f"{S}/Datastreams(1)/Observations", params={
        "$filter": f"phenomenonTime gt {t1_local} and phenomenonTime le {t2}", "$top": 1000}).json()["value"]
    assert [o["@iot.id"] for o in same] == [o["@iot.id"] for o in obs]
    big = client.get(f"{S}/Datastreams(1)/Observations", params={"$filter": "result gt 30", "$top": 1000}).json()
    assert big["value"] and all(o["result"] > 30 for o in big["value"])
    one = obs[0]["@iot.id"]
    r = client.get(f"{S}/Observations", params={"$filter": f"id eq {one}"}).json()["value"]
    assert [o["@iot.id"] for o in r] == [one]
    r = client.get(f"{S}/Observations", params={"$filter": "Datastream/id eq 2", "$top": 5}).json()["value"]
    assert all(o["Datastream@iot.navigationLink"].endswith("/Datastream") for o in r)
    ids = {o["@iot.id"] // 10_000_000 for o in r}
    assert ids == {2}


def test_bad_queries_are_400(client):
    for params in ({"$filter": "name eq"}, {"$filter": "foo(name)"}, {"$top": "x"}, {"$orderby": "id sideways"},
                   {"$bogus": "1"}, {"$skip": "-1"}):
        r = client.get(f"{S}/Things", params=params)
        assert r.status_code == 400, params
        assert r.json()["type"] == "error"
    # an unencoded '+' in a timestamp arrives as a space: rejected, as a real server does
    r = client.get(f"{S}/Datastreams(1)/Observations?$filter=phenomenonTime gt 2025-01-01T00:00:00+07:00")
    assert r.status_code == 400
    r = client.get(f"{S}/Observations", params={"$orderby": "result desc"})
    assert r.status_code == 400


def test_orderby_top_skip_count_and_next_links(client):
    r = client.get(f"{S}/Things", params={"$orderby": "id desc", "$top": 3}).json()
    assert [t["@iot.id"] for t in r["value"]] == [107, 106, 105]
    r = client.get(f"{S}/Datastreams(3)/Observations", params={"$orderby": "phenomenonTime desc", "$top": 5,
                                                                "$skip": 2, "$count": "true"}).json()
    times = [o["phenomenonTime"] for o in r["value"]]
    assert times == sorted(times, reverse=True) and len(times) == 5
    assert r["@iot.count"] > 300  # 20 days hourly, less outages and the publication delay
    # $top is clamped to the server maximum (10,000)
    assert len(client.get(f"{S}/Observations", params={"$top": 20000}).json()["value"]) == 10_000
    # following nextLinks returns exactly the full collection
    full = client.get(f"{S}/Datastreams(7)/Observations", params={"$top": 10000, "$count": "true"}).json()
    ids, url, params = [], f"{S}/Datastreams(7)/Observations", {"$top": 37, "$count": "true"}
    while url:
        body = client.get(url, params=params).json()
        assert body["@iot.count"] == full["@iot.count"]
        ids += [o["@iot.id"] for o in body["value"]]
        url, params = body.get("@iot.nextLink"), None
    assert ids == [o["@iot.id"] for o in full["value"]]
    assert len(ids) == full["@iot.count"]


def test_global_observations_by_time_across_datastreams(client, sim):
    now = sim.now().astimezone(timezone.utc)
    since = (now - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {"$filter": f"phenomenonTime gt {since}", "$orderby": "phenomenonTime asc", "$top": 400,
              "$count": "true", "$expand": "Datastream($select=id)"}
    body = client.get(f"{S}/Observations", params=params).json()
    total = body["@iot.count"]
    seen, url, p = [], f"{S}/Observations", params
    while url:
        body = client.get(url, params=p).json()
        seen += body["value"]
        url, p = body.get("@iot.nextLink"), None
    assert len(seen) == total > 500
    times = [o["phenomenonTime"] for o in seen]
    assert times == sorted(times)
    assert len({o["@iot.id"] for o in seen}) == total
    assert all("Datastream" in o and set(o["Datastream"]) == {"@iot.id"} for o in seen)


def test_expand_and_select(client):
    t = client.get(f"{S}/Things(2)", params={
        "$expand": "Locations,Datastreams($select=id,name;$top=2;$count=true;$expand=ObservedProperty($select=name))",
        "$select": "id,name"}).json()
    assert set(t) == {"@iot.id", "name", "Locations", "Datastreams", "Datastreams@iot.count", "Datastreams@iot.nextLink"}
    assert len(t["Datastreams"]) == 2 and t["Datastreams@iot.count"] == 6
    assert set(t["Datastreams"][0]) == {"@iot.id", "name", "ObservedProperty"}
    assert t["Locations"][0]["location"]["type"] == "Point"
    nxt = client.get(t["Datastreams@iot.nextLink"]).json()
    assert len(nxt["value"]) == 2
    r = client.get(f"{S}/Things", params={"$expand": "Datastreams/ObservedProperty", "$top": 1}).json()["value"][0]
    assert r["Datastreams"][0]["ObservedProperty"]["name"]
    d = client.get(f"{S}/Datastreams(1)", params={
        "$expand": "Observations($orderby=phenomenonTime desc;$top=1)"}).json()
    latest = d["Observations"][0]
    assert d["phenomenonTime"].split("/")[1] == latest["phenomenonTime"]
    assert client.get(f"{S}/Things", params={"$expand": "Nope"}).status_code == 400


def test_values_are_plausible(client):
    def latest(ds_filter):
        ds = client.get(f"{S}/Datastreams", params={"$filter": ds_filter, "$top": 500, "$select": "id"}).json()["value"]
        out = []
        for d in ds[:6]:
            v = client.get(f"{S}/Datastreams({d['@iot.id']})/Observations",
                           params={"$top": 48, "$orderby": "phenomenonTime desc"}).json()["value"]
            out += [o["result"] for o in v]
        return out

    pm = latest("ObservedProperty/name eq 'PM2.5'")
    assert pm and 2 < sum(pm) / len(pm) < 150
    ph = latest("ObservedProperty/name eq 'pH'")
    assert ph and all(4.5 < x < 9 for x in ph)
    lvl = latest("ObservedProperty/name eq 'Mực nước'")
    assert lvl and all(-200 < x < 600 for x in lvl) and all(isinstance(x, int) for x in lvl)
    bph = latest("ObservedProperty/name eq 'Mật độ rầy nâu vào đèn'")
    assert bph and all(isinstance(x, int) and x >= 0 for x in bph)


def test_frost_client_reads_things_datastreams_observations(sim):
    svc = fsc.SensorThingsService(sim.environment_url)
    things = list(svc.things().query().top(50).list())
    assert len(things) == 107  # the client follows @iot.nextLink
    assert things[0].name and things[0].id == 1
    ds = list(svc.datastreams().query().filter("Thing/id eq 1").list())
    assert len(ds) == 6 and ds[0].unit_of_measurement.symbol == "µg/m³"
    obs = list(svc.observations().query().filter("Datastream/id eq 1").orderby("phenomenonTime", "ASC")
               .top(100).list())
    assert len(obs) > 300
    assert all(isinstance(o.result, float) for o in obs)
    assert [o.phenomenon_time for o in obs] == sorted(o.phenomenon_time for o in obs)
    t = svc.things().find(5)
    assert t.id == 5


def test_basic_auth_when_configured():
    from simulator.testing import running_simulator

    with running_simulator(history_days=1, frozen=True, sta_username="ioc", sta_password="pw") as s:
        assert httpx.get(s.environment_url + "/Things").status_code == 401
        assert httpx.get(s.environment_url + "/Things", auth=("ioc", "pw")).status_code == 200


def test_new_and_late_data_appear_when_the_clock_moves(fresh):
    model = fresh.app.state.sim.environment.m
    with httpx.Client(base_url=fresh.base_url) as c:
        def count(path):
            return c.get(f"{S}/{path}", params={"$top": 0, "$count": "true"}).json()["@iot.count"]

        before = count("Observations")
        now = fresh.advance(3)
        after = count("Observations")
        assert after > before + 100  # ~240 hourly datastreams
        expected = len(model.series(0, 0, 10**9, int(now.timestamp())))
        assert count("Datastreams(1)/Observations") == expected
        last = c.get(f"{S}/Observations", params={"$orderby": "phenomenonTime desc", "$top": 1}).json()
        ts = datetime.fromisoformat(last["value"][0]["phenomenonTime"].replace("Z", "+00:00"))
        assert ts < fresh.now()  # never in the future


def test_late_data_is_backfilled_after_an_outage():
    """A 'delayed' outage hides its hours until the link returns, then they appear (late data)."""
    from simulator.config import SimConfig
    from simulator.server import Simulator

    sim = Simulator(SimConfig(history_days=60, frozen=True))
    m = sim.environment.m
    now = sim.ctx.now()
    for station in range(len(m.stations)):
        s, e, lost = m.outages(station, m.h_min, now // 3600 - 200)
        delayed = [(a, b) for a, b, lo in zip(s.tolist(), e.tolist(), lost.tolist()) if not lo and b - a >= 2]
        ds = int(m.ds_of_station[station][0])
        if delayed and m.ds_step[ds] == 1:
            a, b = delayed[0]
            during = (a + b) // 2 * 3600 + int(m.ds_lag[ds]) + 60  # inside the outage
            hidden = m.series(ds, a, b - 1, during)
            shown = m.series(ds, a, b - 1, b * 3600 + int(m.ds_lag[ds]) + 60)
            assert len(hidden) == 0 and len(shown) > 0
            return
    pytest.fail("no delayed outage found in 60 days")
