"""Dossier feed and procedure catalogue over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import numpy as np
import pytest

from simulator.config import SimConfig
from simulator.server import Simulator

P = "/procedures/api/v1"
FIELDS = {"MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "MaCoQuan", "TenCoQuan", "commune_code",
          "KenhThucHien", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "TrangThaiHoSo", "so_lan_yeu_cau_bo_sung",
          "thoi_gian_cho_bo_sung", "thanh_toan_truc_tuyen", "co_ket_qua_dien_tu", "da_so_hoa", "tai_su_dung_du_lieu",
          "danh_gia_hai_long", "co_khieu_nai", "updated_at"}


def _all(client, size=700, **params):
    out, page = [], 1
    while True:
        r = client.get(f"{P}/dossiers", params={**params, "page": page, "page_size": size})
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["items"]
        if page * size >= body["total"]:
            return out, body
        page += 1


def test_paging_order_and_fields(client):
    first = client.get(f"{P}/dossiers").json()
    assert first["page"] == 1 and first["page_size"] == 1000 and first["total"] > 1500
    items, body = _all(client)
    assert len(items) == body["total"]
    codes = [x["MaHoSo"] for x in items]
    assert len(set(codes)) == len(codes)
    keys = [(x["updated_at"], x["MaHoSo"]) for x in items]
    assert keys == sorted(keys)  # by update time, then MaHoSo
    for x in items:
        assert set(x) == FIELDS
        assert x["KenhThucHien"] in (1, 2, 3, None)
        assert x["TrangThaiHoSo"] in range(1, 11)
        assert x["NgayTiepNhan"].endswith("+07:00")
        assert x["NgayTiepNhan"] <= x["updated_at"]
        assert (x["NgayKetThucXuLy"] is None) == (x["TrangThaiHoSo"] not in (9, 10))
        assert x["danh_gia_hai_long"] in (None, 1, 2, 3, 4, 5)
        assert isinstance(x["thoi_gian_cho_bo_sung"], float)
        assert x["MaHoSo"].startswith(x["MaCoQuan"] + "-")
    assert client.get(f"{P}/dossiers", params={"page_size": 10001}).status_code == 400
    assert client.get(f"{P}/dossiers", params={"page_size": 10000}).status_code == 200
    r = client.get(f"{P}/dossiers", params={"page": 0})
    assert r.status_code == 400 and r.json()["error"]["code"] == 400


def test_updated_since_and_filters(client, sim):
    everything, _ = _all(client, size=5000)
    since = sim.now() - timedelta(days=2)
    recent, body = _all(client, updated_since=since.isoformat())
    assert 0 < body["total"] < len(everything)
    assert [x["MaHoSo"] for x in recent] == [x["MaHoSo"] for x in everything
                                             if datetime.fromisoformat(x["updated_at"]) >= since]
    until = since + timedelta(hours=12)
    window, _ = _all(client, updated_since=since.isoformat(), updated_until=until.isoformat())
    assert all(since <= datetime.fromisoformat(x["updated_at"]) <= until for x in window)
    code = everything[0]["MaTTHC"]
    same, _ = _all(client, MaTTHC=code)
    assert same and all(x["MaTTHC"] == code for x in same)
    cc = everything[0]["commune_code"]
    same, _ = _all(client, commune_code=cc)
    assert same and all(x["commune_code"] == cc for x in same)
    assert client.get(f"{P}/dossiers", params={"updated_since": "last week"}).status_code == 400
    one = everything[-1]
    assert client.get(f"{P}/dossiers/{one['MaHoSo']}").json() == one
    assert client.get(f"{P}/dossiers/000.00.00.H20-000000-0000").status_code == 404


def test_catalogue(client):
    body = client.get(f"{P}/procedures").json()
    assert body["total"] == 1605 and len(body["items"]) == 1605
    levels = [x["muc_do_truc_tuyen"] for x in body["items"]]
    assert levels.count("toan_trinh") == 763 and levels.count("mot_phan") == 214
    x = body["items"][0]
    assert set(x) >= {"MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "muc_do_truc_tuyen", "co_phi"}
    assert len({x["MaTTHC"] for x in body["items"]}) == 1605
    assert client.get(f"{P}/procedures/{x['MaTTHC']}").json() == x
    assert client.get(f"{P}/procedures/9.999999").status_code == 404
    sub = client.get(f"{P}/procedures", params={"MaLinhVuc": "HT"}).json()
    assert sub["items"] and all(i["MaLinhVuc"] == "HT" for i in sub["items"])


def test_api_key_when_configured():
    from simulator.testing import running_simulator

    with running_simulator(history_days=1, frozen=True, procedures_api_key="k1") as s:
        assert httpx.get(s.procedures_url + "/dossiers").status_code == 401
        assert httpx.get(s.procedures_url + "/dossiers", headers={"X-API-Key": "k1"}).status_code == 200


@pytest.fixture(scope="module")
def year():
    return Simulator(SimConfig(seed=5, history_days=365))


def test_yearly_figures(year):
    """Volumes and shares the QĐ 766 indicators will see (DOMAIN.md)."""
    pr = year.procedures
    now = year.ctx.now()
    n = pr.stats()["dossiers"]
    assert 45_000 <= n <= 56_000
    items = pr.render(np.arange(n), now)
    online = np.mean([x["KenhThucHien"] == 2 for x in items])
    assert 0.86 <= online <= 0.95
    done = [x for x in items if x["NgayKetThucXuLy"]]
    on_time = np.mean([
        x["so_lan_yeu_cau_bo_sung"] <= 1 and datetime.fromisoformat(x["NgayKetThucXuLy"])
        <= datetime.fromisoformat(x["NgayHenTra"]) + timedelta(hours=x["thoi_gian_cho_bo_sung"])
        for x in done])
    assert 0.92 <= on_time <= 0.975, on_time
    rated = [x["danh_gia_hai_long"] for x in items if x["danh_gia_hai_long"]]
    assert 0.3 < len(rated) / n < 0.6
    assert 0 < np.mean([x["co_khieu_nai"] for x in items]) < 0.01
