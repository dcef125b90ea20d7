"""GET /_control/records: what each source serves now, fault-free, as the public APIs serve it."""

from __future__ import annotations

from datetime import datetime, timedelta


def _all_pages(client, path, params, items=lambda r: r.json(), page0=1):
    out, page = [], page0
    while True:
        r = client.get(path, params=params | {"page": page})
        assert r.status_code == 200
        got = items(r)
        out += got
        if not got or len(got) < int(params.get("page_size") or params.get("itemsPerPage")):
            return out
        page += 1


def test_records_equal_what_the_apis_serve_and_ignore_faults(fresh):
    import httpx

    with httpx.Client(base_url=fresh.base_url, timeout=60) as c:
        # the hotline's store begins at local midnight of the history's first day: ask from a day before
        start = (datetime.fromisoformat(fresh.info()["history_start"]) - timedelta(days=1)).isoformat()
        tickets = _all_pages(c, "/open311/v2/requests.json", {"start_date": start, "page_size": 1000})
        cams = _all_pages(c, "/cameras/api/v1/cameras", {"itemsPerPage": 5000}, lambda r: r.json()["items"], 0)
        dossiers = _all_pages(c, "/procedures/api/v1/dossiers", {"page_size": 10000}, lambda r: r.json()["items"])
        obs = c.get("/sta/v1.1/Datastreams(1)/Observations", params={"$top": 10000}).json()["value"]
        fresh.set_faults("all", kind="bad_records", rate=0.5)
        fresh.set_faults("all", kind="error", status=503, probability=1.0)
        rec = {s: c.get("/_control/records", params={"source": s}).json()["records"]
               for s in ("hotline", "cameras", "procedures", "environment")}
        assert c.get("/_control/records", params={"source": "nowhere"}).status_code == 400
        assert not fresh.faults()["counts"]  # the control API never fires a fault
    assert rec["hotline"] == {t["service_request_id"]: [t["updated_datetime"], t["status"]] for t in tickets}
    assert rec["cameras"] == {x["id"]: [x["updated_at"], x["status"]] for x in cams}
    assert rec["procedures"] == {d["MaHoSo"]: [d["updated_at"], d["TrangThaiHoSo"]] for d in dossiers}
    assert len(rec["hotline"]) > 0 and len(rec["procedures"]) > 0 and len(rec["cameras"]) > 0
    served = [(int(datetime.fromisoformat(o["phenomenonTime"].replace("Z", "+00:00")).timestamp()) // 3600,
               o["result"]) for o in obs]
    mine = rec["environment"].get("1", [])
    assert len(mine) == len(served) > 0
    assert all(h == sh and abs(v - r) <= 1e-9 * max(1, abs(r)) for (h, v), (sh, r) in zip(mine, served))
