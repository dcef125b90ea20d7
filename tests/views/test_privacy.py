"""Personal data: masked for everyone, unmasked only for a principal with ``pii`` and a reason,
each unmasked view or export in the append-only access log (ioc/views/privacy.py, ioc/pii.py)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from flask import Flask, g, request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from test_map_world import PII, RANGE, world  # noqa: F401

from ioc import pii
from ioc.views import mapdata as md
from ioc.views import privacy
from ioc.views.privacy import NOBODY, PiiDenied, Principal
from ioc.web import map_api

CLERK = Principal(name="lan", role="sector", sectors=("hotline",))
OFFICER = Principal(name="minh", role="sector", sectors=("hotline",), pii=True)
ADMIN = Principal(name="root", role="admin")
Q = "&".join(f"{k}={v}" for k, v in RANGE.items())


def test_masks():
    assert pii.mask_name("Nguyễn Văn Bí Mật") == "N. V. B. M."
    assert pii.mask_phone("0909 123 456") == "*******456"
    assert pii.mask_email("an.nguyen@example.vn") == "a***@***.vn"
    assert pii.mask_address("Số 12 Nguyễn Huệ, Khóm 3, Phường Cao Lãnh, tỉnh Đồng Tháp") == \
        "***, Phường Cao Lãnh, tỉnh Đồng Tháp"
    assert pii.mask_address("Số 12 đường Bí Mật") == "***"
    said = pii.scrub("Gọi 0909123456 hoặc +84 909 123 456, thư an@x.vn, camera rtsp://u:p@10.0.0.5/live, "
                     "http://admin:pw@cam.local/snap.jpg, mã PA2612010001", names=("Bí Mật",))
    for raw in ("0909123456", "909 123 456", "an@x.vn", "rtsp://", "admin:pw", "u:p@"):
        assert raw not in said, raw
    assert "PA2612010001" in said and "http://***@cam.local/snap.jpg" in said


def test_outside_a_request_nobody_sees_personal_data():
    assert privacy.current_principal() is NOBODY and NOBODY.pii is False


def test_a_ticket_is_masked_without_the_permission(world):
    d = md.ticket_detail(world, "PA001", "vi")
    blob = json.dumps(d, ensure_ascii=False)
    assert not any(s in blob for s in PII)
    assert d["person"] == {"reporter_name": "N. V. B. M.", "reporter_phone": "*******456", "reporter_email": None,
                           "address": "***", "description": None, "masked": True}
    with pytest.raises(PiiDenied):
        privacy.reveal_for(CLERK, True, "xác minh phản ánh")
    with pytest.raises(PiiDenied):
        privacy.reveal_for(NOBODY, True, "xác minh phản ánh")
    with pytest.raises(ValueError):
        privacy.reveal_for(OFFICER, True, "  x ")
    assert privacy.reveal_for(OFFICER, False, None) is None
    assert _log(world) == []


def _log(views) -> list[dict]:
    return privacy.access_log(views.engine(), ADMIN)


def _client(views, principal_of: dict):
    """The map endpoints behind a stand-in for the access-control layer: the principal named
    by a header is put where ioc/auth puts the logged-in user's."""
    app = Flask("privacy-test")

    @app.before_request
    def who():
        p = principal_of.get(request.headers.get("X-Test-User", ""))
        if p is not None:
            g.ioc_principal = p

    map_api.register(app, views)
    return app.test_client()


def test_reveal_through_the_endpoints_is_checked_and_logged(world):
    cl = _client(world, {"lan": CLERK, "minh": OFFICER})
    url = "/api/map/ticket/PA001?reveal=1&reason=g%E1%BB%8Di%20l%E1%BA%A1i%20ng%C6%B0%E1%BB%9Di%20ph%E1%BA%A3n%20%C3%A1nh"
    assert cl.get(url).status_code == 403  # nobody logged in
    assert cl.get(url, headers={"X-Test-User": "lan"}).status_code == 403  # no pii permission
    res = cl.get("/api/map/ticket/PA001?reveal=1", headers={"X-Test-User": "minh"})
    assert res.status_code == 400 and "reason" in res.json["error"]
    assert _log(world) == []  # refused asks leave no trace of data shown

    res = cl.get(url, headers={"X-Test-User": "minh"})
    assert res.status_code == 200
    who = res.json["person"]
    assert (who["reporter_name"], who["reporter_phone"], who["address"], who["description"], who["masked"]) == \
        (PII[0], PII[1], PII[2], PII[3], False)
    (entry,) = _log(world)
    assert (entry["actor"], entry["role"], entry["action"], entry["surface"], entry["record_kind"]) == \
        ("minh", "sector", "view", "map.ticket", "ticket")
    assert entry["record_ids"] == ["PA001"] and entry["record_count"] == 1 and entry["reason"] == "gọi lại người phản ánh"

    # a list page: the personal columns only when revealed, the page's tickets logged
    plain = cl.get(f"/api/map/list.json?commune=10001&kind=tickets&{Q}", headers={"X-Test-User": "minh"}).json
    assert "reporter_name" not in [c["id"] for c in plain["columns"]]
    shown = cl.get(f"/api/map/list.json?commune=10001&kind=tickets&reveal=true&reason=ki%E1%BB%83m%20tra&{Q}",
                   headers={"X-Test-User": "minh"}).json
    assert [c["id"] for c in shown["columns"]][-3:] == ["reporter_name", "reporter_phone", "address"]
    assert shown["rows"] and all(r["reporter_phone"] == PII[1] for r in shown["rows"])
    page = _log(world)[0]
    assert page["surface"] == "map.list" and page["record_ids"] == [r["id"] for r in shown["rows"]]

    # the CSV export: every exported ticket logged before the file is written
    res = cl.get(f"/api/map/export.csv?commune=10001&kind=tickets&reveal=1&reason=b%C3%A1o%20c%C3%A1o&{Q}",
                 headers={"X-Test-User": "minh"})
    assert res.status_code == 200
    rows = list(csv.reader(io.StringIO(res.data.decode("utf-8-sig"))))
    assert rows[0][-3:] == ["Người phản ánh", "Điện thoại", "Địa chỉ"] and rows[1][-2] == PII[1]
    export = _log(world)[0]
    assert export["action"] == "export" and export["surface"] == "map.export.csv"
    assert [md.safe_cell(i) for i in export["record_ids"]] == [r[0] for r in rows[1:]] and export["record_count"] == len(rows) - 1
    # without reveal the same export holds none of it
    res = cl.get(f"/api/map/export.csv?commune=10001&kind=tickets&{Q}", headers={"X-Test-User": "minh"})
    assert not any(s in res.data.decode("utf-8-sig") for s in PII)


def test_the_access_log_is_for_admins_and_append_only(world):
    reveal = privacy.reveal_for(OFFICER, True, "kiểm tra định kỳ")
    privacy.log_access(world.engine(), reveal, action="view", surface="test", kind="ticket", ids=["PA001"],
                       communes=["10001"])
    with pytest.raises(PiiDenied):
        privacy.access_log(world.engine(), OFFICER)
    assert [e["record_ids"] for e in _log(world)] == [["PA001"]]
    for sql in ("UPDATE pii_access_log SET reason = 'changed'", "DELETE FROM pii_access_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with world.engine().begin() as conn:
                conn.execute(text(sql))
    assert _log(world)[0]["reason"] == "kiểm tra định kỳ"


def test_audit_list_command(world):
    from typer.testing import CliRunner

    from ioc.cli import app
    from ioc.errors import UserError

    reveal = privacy.reveal_for(OFFICER, True, "xác minh hiện trường")
    privacy.log_access(world.engine(), reveal, action="export", surface="map.export.xlsx", kind="ticket",
                       ids=["PA001", "PA002"], communes=["10001"])
    url = world.engine().url.render_as_string(hide_password=False)
    res = CliRunner().invoke(app, ["audit", "list", "--json"], env={"IOC_DATABASE_URL": url})
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)
    assert entry["actor"] == "minh" and entry["record_ids"] == ["PA001", "PA002"]
    assert entry["reason"] == "xác minh hiện trường"
    res = CliRunner().invoke(app, ["audit", "list", "--since", "yesterday"], env={"IOC_DATABASE_URL": url})
    assert isinstance(res.exception, UserError) and "bad --since" in str(res.exception)  # one line, exit 2 in main()


def test_the_map_page_reveals_only_with_the_permission_and_a_reason(world):
    """The ticket panel of /map (layouts/map.py): masked for everyone; a principal with pii gets
    a reason box, and the page's reveal shows the data and logs it; others are told why not."""
    from layouts import map_panel as pm
    from test_map_page import text_of

    app = Flask("page-test")
    sel = {"kind": "ticket", "id": "PA001"}
    with app.test_request_context():
        _, _, body, _ = pm.object_section(world, sel, "24h", "vi")
        words = text_of(body)
        assert "N. V. B. M." in words and "*******456" in words and not any(s in words for s in PII)
        assert "Lý do xem thông tin cá nhân" not in str(body)  # no reason box without the permission
        shown = pm.reveal_section(world, sel, "gọi lại cho người dân", "vi")
        assert not any(s in text_of(shown) for s in PII) and "không có quyền" in text_of(shown)
        g.ioc_principal = OFFICER
        _, _, body, _ = pm.object_section(world, sel, "24h", "vi")
        assert "map-reveal-go" in str(body)
        assert "ít nhất 5 ký tự" in text_of(pm.reveal_section(world, sel, "", "vi"))
        assert _log(world) == []
        shown = text_of(pm.reveal_section(world, sel, "gọi lại cho người dân", "vi"))
        assert all(s in shown for s in PII) and "đã được ghi nhật ký" in shown
    (entry,) = _log(world)
    assert (entry["actor"], entry["surface"], entry["record_ids"], entry["reason"]) == \
        ("minh", "map.ticket", ["PA001"], "gọi lại cho người dân")
