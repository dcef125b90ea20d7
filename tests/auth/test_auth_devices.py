"""Wall displays: a one-time enrolment link, a credential for the wall only, revocation at the
next request with the "Thiết bị đã bị thu hồi" answer the wall's script shows."""

from __future__ import annotations

from ioc.auth import devices
from ioc.auth.testing import enrol, enrol_link
from ioc.db.session import make_engine


def test_a_link_enrols_one_device_once_for_the_wall_only(auth_app, db_url_of):
    path = enrol_link(db_url_of, "wall-a")
    wall = auth_app.server.test_client()
    page = wall.get(path)
    assert page.status_code == 200 and "wall-a" in page.get_data(as_text=True)
    res = enrol(wall, path)
    assert res.status_code == 303 and res.headers["Location"] == "/wall"
    cookie = next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("ioc_device="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and f"Max-Age={400 * 86400}" in cookie
    assert wall.get("/wall").status_code == 200
    assert wall.get("/api/views/wall").status_code == 200
    for url in ("/", "/map", "/briefings", "/m"):  # pages: an "access denied" page, no data
        assert wall.get(url).status_code == 403, url
    for url in ("/api/map/options.json", "/api/map/communes.json", "/api/briefings/1.pdf", "/m/parts"):
        assert wall.get(url).status_code == 403, url
    # the link is spent: a second browser opening it gets nothing
    other = auth_app.server.test_client()
    assert other.get(path).status_code == 404
    assert enrol(other, path).status_code == 404 if other.get(path).status_code == 200 else True
    assert other.get("/api/views/wall").status_code == 401


def test_a_revoked_device_is_refused_at_its_next_request(auth_app, db_url_of):
    wall = auth_app.server.test_client()
    enrol(wall, enrol_link(db_url_of, "wall-b"))
    assert wall.get("/api/views/wall").status_code == 200
    engine = make_engine(db_url_of)
    devices.revoke(engine, "wall-b")
    res = wall.get("/api/views/wall")
    assert res.status_code == 403 and res.json["reason"] == "device_revoked"
    assert res.json["error"] == "Thiết bị đã bị thu hồi"
    page = wall.get("/wall")  # the nightly reload: the same words, server-rendered
    assert page.status_code == 403 and "Thiết bị đã bị thu hồi" in page.get_data(as_text=True)
    assert [d.state for d in devices.listing(engine) if d.name == "wall-b"] == ["revoked"]
    engine.dispose()


def test_an_expired_or_unknown_link_enrols_nothing(auth_app, db_url_of):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from ioc.db import models as m

    path = enrol_link(db_url_of, "wall-c")
    engine = make_engine(db_url_of)
    with engine.begin() as conn:
        conn.execute(update(m.Device.__table__).where(m.Device.__table__.c.name == "wall-c")
                     .values(enrol_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    c = auth_app.server.test_client()
    assert c.get(path).status_code == 404
    assert "hết hạn" in c.get(path).get_data(as_text=True)
    assert c.get("/enrol/not-a-token").status_code == 404
    assert [d.state for d in devices.listing(engine) if d.name == "wall-c"] == ["expired"]
    engine.dispose()
