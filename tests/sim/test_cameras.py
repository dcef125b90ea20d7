"""Camera registry over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from simulator.geo import ProvinceGeo

C = "/cameras/api/v1"
TOKEN = "sim-camera-token"


def _all(client, **params):
    out, page = [], 0
    while True:
        r = client.get(f"{C}/cameras", params={**params, "page": page, "itemsPerPage": 500})
        assert r.status_code == 200
        body = r.json()
        out += body["items"]
        page += 1
        if page >= body["pageCount"]:
            return out, body


def test_paging_covers_registry(client):
    r = client.get(f"{C}/cameras")
    body = r.json()
    assert body["itemCount"] == 2565 and len(body["items"]) == 100  # default itemsPerPage
    assert body["pageCount"] == 26
    items, _ = _all(client)
    ids = [x["id"] for x in items]
    assert len(ids) == len(set(ids)) == 2565
    assert ids == sorted(ids)
    assert client.get(f"{C}/cameras", params={"itemsPerPage": 5001}).status_code == 400
    assert client.get(f"{C}/cameras", params={"itemsPerPage": 5000}).json()["pageCount"] == 1
    last = client.get(f"{C}/cameras", params={"page": 99, "itemsPerPage": 100}).json()
    assert last["items"] == [] and last["itemCount"] == 2565


def test_fields_status_mix_and_places(client):
    items, _ = _all(client)
    x = items[0]
    for k in ("id", "name", "lat", "lon", "address", "commune_code", "commune_name", "owner_agency", "vms_type",
              "vms_ref", "hls_url", "snapshot_url", "status", "status_reason", "last_seen", "fps", "updated_at"):
        assert k in x
    assert "rtsp_url" not in x
    status = [i["status"] for i in items]
    assert set(status) <= {"online", "offline", "degraded", "unknown"}
    off = status.count("offline") / len(status)
    assert 0.04 <= off <= 0.09, off
    assert 0 < status.count("degraded") < 0.03 * len(status)
    owners = {i["owner_agency"] for i in items}
    assert "Công an tỉnh Đồng Tháp" in owners and "Sở Giao thông vận tải" in owners
    assert any(o.startswith("Công an xã") for o in owners) and any(o.startswith("UBND Xã") for o in owners)
    geo = ProvinceGeo(None, 1)
    with_xy = [i for i in items if i["lat"] is not None]
    assert len(with_xy) > 0.98 * len(items)
    assert all(geo.contains(i["lon"], i["lat"]) for i in with_xy)
    for i in items:
        assert i["updated_at"].endswith("+07:00")
        assert (i["fps"] == 0) == (i["status"] in ("offline", "unknown"))


def test_secret_rtsp_only_with_token(client):
    r = client.get(f"{C}/cameras", params={"itemsPerPage": 3}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert all(i["rtsp_url"].startswith("rtsp://") for i in r.json()["items"])
    r = client.get(f"{C}/cameras", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    one = client.get(f"{C}/cameras/CAM-000010", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert one["id"] == "CAM-000010" and "rtsp_url" in one
    assert client.get(f"{C}/cameras/CAM-999999").status_code == 404


def test_etag_and_304(client):
    r = client.get(f"{C}/cameras", params={"itemsPerPage": 50})
    etag = r.headers["ETag"]
    r2 = client.get(f"{C}/cameras", params={"itemsPerPage": 50}, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b""
    r3 = client.get(f"{C}/cameras", params={"itemsPerPage": 50, "page": 1}, headers={"If-None-Match": etag})
    assert r3.status_code == 200


def test_updated_since_and_filters(client, sim):
    now = sim.now()
    since = now - timedelta(hours=6)
    items, body = _all(client, updated_since=since.isoformat())
    assert 0 < body["itemCount"] < 2565
    assert all(datetime.fromisoformat(i["updated_at"]) >= since for i in items)
    everything, _ = _all(client)
    expected = [i["id"] for i in everything if datetime.fromisoformat(i["updated_at"]) >= since]
    assert [i["id"] for i in items] == expected
    off, _ = _all(client, status="offline")
    assert off and all(i["status"] == "offline" for i in off)
    code = everything[0]["commune_code"]
    sub, _ = _all(client, commune_code=code)
    assert sub and all(i["commune_code"] == code for i in sub)
    assert client.get(f"{C}/cameras", params={"updated_since": "bad"}).status_code == 400
    assert client.get(f"{C}/cameras", params={"status": "broken"}).status_code == 400


def test_media_urls_answer(client):
    x = client.get(f"{C}/cameras", params={"status": "online", "itemsPerPage": 1}).json()["items"][0]
    r = httpx.get(x["snapshot_url"])
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    r = httpx.get(x["hls_url"])
    assert r.status_code == 200 and r.text.startswith("#EXTM3U")


def test_status_changes_over_time_and_flappers(fresh):
    with httpx.Client(base_url=fresh.base_url) as c:
        def snapshot():
            return {i["id"]: i for i in c.get(f"{C}/cameras", params={"itemsPerPage": 5000}).json()["items"]}

        a = snapshot()
        assert len(a) == 513  # 2565 × 0.2
        seen_change = 0
        for _ in range(4):
            fresh.advance(5 / 60)
            b = snapshot()
            changed = [k for k in a if a[k]["status"] != b[k]["status"]]
            seen_change += len(changed)
            for k in changed:
                assert b[k]["updated_at"] > a[k]["updated_at"]
            for k in a:  # updated_at never goes back
                assert b[k]["updated_at"] >= a[k]["updated_at"]
            a = b
        assert seen_change >= 5  # the ten flapping cameras go on and off every few minutes
