"""Hotline 1022 as Open311 GeoReport v2, over real HTTP."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import holidays
import numpy as np
import pytest

from simulator.config import SimConfig
from simulator.geo import ProvinceGeo
from simulator.server import Simulator

H = "/open311/v2"
KEY = "sim-hotline-key"


def test_services_are_vietnamese_categories(client):
    r = client.get(f"{H}/services.json")
    assert r.status_code == 200
    names = {s["service_name"] for s in r.json()}
    for n in ("Đất đai", "Bảo trợ xã hội", "An ninh trật tự", "Bảo hiểm xã hội", "Giao thông", "Trật tự đô thị",
              "Môi trường", "Sự cố hạ tầng", "Thủ tục hành chính", "Y tế", "Giáo dục", "Điện nước", "Khác"):
        assert n in names
    s = r.json()[0]
    assert set(s) >= {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert client.get(f"{H}/services/DATDAI.json").json()["service_code"] == "DATDAI"
    assert client.get(f"{H}/services/NOPE.json").status_code == 404


def _all(client, **params):
    out, page = [], 1
    while True:
        r = client.get(f"{H}/requests.json", params={**params, "page": page, "page_size": 50})
        assert r.status_code == 200, r.text
        items = r.json()
        out += items
        if len(items) < 50:
            return out
        page += 1


def test_default_window_paging_and_fields(client, sim):
    r = client.get(f"{H}/requests.json")
    assert r.status_code == 200
    everything = r.json()
    total = int(r.headers["X-Total-Count"])
    assert total == len(everything) > 50  # 20 days of history, all within the default 90 days
    paged = _all(client)
    assert [x["service_request_id"] for x in paged] == [x["service_request_id"] for x in everything]
    assert len({x["service_request_id"] for x in paged}) == total
    req = [x["requested_datetime"] for x in everything]
    assert req == sorted(req, reverse=True)  # newest first
    now = sim.now()
    for x in everything:
        for k in ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url", "notes",
                  "extended_attributes"):
            assert k in x
        assert x["status"] in ("open", "closed")
        assert x["requested_datetime"].endswith("+07:00")
        t = datetime.fromisoformat(x["requested_datetime"])
        u = datetime.fromisoformat(x["updated_datetime"])
        assert t <= u <= now
        ea = x["extended_attributes"]
        assert ea["channel"] in ("phone", "email", "zalo", "web", "chat", "app")
        assert ea["workflow_state"] in ("received", "assigned", "in_progress", "answered", "overdue", "reopened")
        assert ea["resolution_level"] in (1, 2, 3)
        assert len(ea["commune_code"]) == 5
        assert "reporter_phone" not in ea  # private without api_key
        assert (x["status"] == "closed") == (ea["workflow_state"] == "answered")
        assert [n["datetime"] for n in x["notes"]] == sorted(n["datetime"] for n in x["notes"])
        assert x["notes"][-1]["datetime"] == x["updated_datetime"] or ea["workflow_state"] == "overdue"
        assert len(x["description"]) <= 4000


def test_private_fields_with_api_key(client):
    items = client.get(f"{H}/requests.json", params={"api_key": KEY, "page_size": 200}).json()
    phones = [x["extended_attributes"]["reporter_phone"] for x in items]
    real = [p for p in phones if p]
    assert real and all(p.startswith("0") and len(p) == 10 and p.isdigit() for p in real)
    names = [x["extended_attributes"]["reporter_name"] for x in items if x["extended_attributes"]["reporter_name"]]
    assert any(n.split()[0] in ("Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ") for n in names)


def test_date_window_and_span_limit(client, sim):
    now = sim.now()
    start, end = now - timedelta(days=5), now - timedelta(days=2)
    items = _all(client, start_date=start.isoformat(), end_date=end.isoformat())
    assert items
    for x in items:
        assert start <= datetime.fromisoformat(x["requested_datetime"]) <= end
    r = client.get(f"{H}/requests.json", params={"start_date": (now - timedelta(days=91)).isoformat(),
                                                  "end_date": now.isoformat()})
    assert r.status_code == 400
    body = r.json()
    assert isinstance(body, list) and body[0]["code"] == 400 and "90" in body[0]["description"]
    r = client.get(f"{H}/requests.json", params={"start_date": "yesterday"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    r = client.get(f"{H}/requests.json", params={"start_date": end.isoformat(), "end_date": start.isoformat()})
    assert r.status_code == 400


def test_status_code_and_id_filters(client):
    everything = client.get(f"{H}/requests.json").json()
    opened = client.get(f"{H}/requests.json", params={"status": "open"}).json()
    closed = client.get(f"{H}/requests.json", params={"status": "closed"}).json()
    assert opened and closed
    assert all(x["status"] == "open" for x in opened) and all(x["status"] == "closed" for x in closed)
    assert len(opened) + len(closed) == len(everything)
    both = client.get(f"{H}/requests.json", params={"status": "open,closed"}).json()
    assert len(both) == len(everything)
    land = client.get(f"{H}/requests.json", params={"service_code": "DATDAI,TTHC"}).json()
    assert land and all(x["service_code"] in ("DATDAI", "TTHC") for x in land)
    assert client.get(f"{H}/requests.json", params={"service_code": "XYZ"}).status_code == 400
    assert client.get(f"{H}/requests.json", params={"status": "pending"}).status_code == 400
    ids = [everything[0]["service_request_id"], everything[5]["service_request_id"], "PA0000000000"]
    got = client.get(f"{H}/requests.json", params={"service_request_id": ",".join(ids),
                                                   "status": "closed" if everything[0]["status"] == "open" else "open"})
    assert {x["service_request_id"] for x in got.json()} == set(ids[:2])  # id overrides other filters


def test_page_size_limit_and_single(client):
    assert client.get(f"{H}/requests.json", params={"page_size": 1001}).status_code == 400
    assert client.get(f"{H}/requests.json", params={"page_size": 1000}).status_code == 200
    assert client.get(f"{H}/requests.json", params={"page": 0}).status_code == 400
    one = client.get(f"{H}/requests.json", params={"page_size": 1}).json()[0]
    r = client.get(f"{H}/requests/{one['service_request_id']}.json")
    assert r.status_code == 200 and r.json() == [one]
    r = client.get(f"{H}/requests/PA9901019999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert client.get(f"{H}/requests.json", params={"jurisdiction_id": "hanoi.gov.vn"}).status_code == 404
    assert client.get(f"{H}/requests.json", params={"jurisdiction_id": "dongthap.gov.vn"}).status_code == 200


def test_post_needs_api_key_and_creates(client):
    form = {"service_code": "MOITRUONG", "lat": "10.46", "long": "105.63",
            "description": "Khói từ lò đốt trấu gây ô nhiễm khu dân cư.", "first_name": "Lan", "last_name": "Nguyễn Thị"}
    r = client.post(f"{H}/requests.json", data=form)
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    r = client.post(f"{H}/requests.json", data={**form, "api_key": "wrong"})
    assert r.status_code == 403
    r = client.post(f"{H}/requests.json", data={**form, "api_key": KEY, "service_code": "NOPE"})
    assert r.status_code == 400
    r = client.post(f"{H}/requests.json", data={"api_key": KEY, "service_code": "MOITRUONG"})
    assert r.status_code == 400  # no location
    r = client.post(f"{H}/requests.json", data={**form, "api_key": KEY})
    assert r.status_code == 201
    rid = r.json()[0]["service_request_id"]
    got = client.get(f"{H}/requests/{rid}.json", params={"api_key": KEY}).json()[0]
    assert got["description"] == form["description"] and got["status"] == "open"
    assert got["lat"] == 10.46 and got["extended_attributes"]["reporter_name"] == "Nguyễn Thị Lan"
    assert rid in {x["service_request_id"] for x in client.get(f"{H}/requests.json").json()}


def _working_days_after(d: date, n: int) -> date:
    vn = holidays.country_holidays("VN", years=range(d.year, d.year + 2))
    while n:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in vn:
            n -= 1
    return d


def test_deadline_is_15_working_days(client):
    for x in client.get(f"{H}/requests.json", params={"page_size": 60}).json():
        t = datetime.fromisoformat(x["requested_datetime"])
        e = datetime.fromisoformat(x["expected_datetime"])
        assert e.date() == _working_days_after(t.date(), 15)
        assert e.time() == t.time()


def test_locations_inside_province_and_addresses(client):
    geo = ProvinceGeo(None, 1)
    items = client.get(f"{H}/requests.json").json()
    with_xy = [x for x in items if x["lat"] is not None]
    share = 1 - len(with_xy) / len(items)
    assert 0.08 < share < 0.35  # about 20 % without coordinates
    assert all(geo.contains(x["long"], x["lat"]) for x in with_xy)
    addrs = [x["address"] for x in items]
    assert all(a.endswith(("tỉnh Đồng Tháp", "tỉnh Tiền Giang")) for a in addrs)
    assert any(("huyện " in a or "thành phố " in a or "thị xã " in a) for a in addrs)  # pre-2025 form
    new_form = [x for x in items if ("Xã " in x["address"] or "Phường " in x["address"])
                and "huyện " not in x["address"] and "thành phố " not in x["address"]]
    assert all(x["requested_datetime"] >= "2025-07-01" for x in new_form)  # only after the reform
    if any(x["requested_datetime"] >= "2025-07-01" for x in items):
        assert new_form


@pytest.fixture(scope="module")
def year():
    return Simulator(SimConfig(seed=3, history_days=365))


def test_yearly_volume_and_answer_rate(year):
    h = year.hotline
    stats = h.stats()
    assert 3000 <= stats["tickets"] <= 4200
    assert stats["open"] / stats["tickets"] < 0.02  # ~99 % answered
    c = h.store.cols
    t = c["t_recv"]
    hours = ((t + 7 * 3600) % 86400) // 3600
    assert (hours < 6).mean() < 0.03  # few at night
    wd = ((t + 7 * 3600) // 86400 + 3) % 7
    per_day = np.bincount(wd, minlength=7)
    assert per_day[6] < 0.5 * per_day[0]  # Sundays are quiet
