"""Signing in and out: the /login page, cookies, the forms' CSRF token, throttling shared by
every worker (two apps on one database), idle and absolute expiry, disabled users."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from ioc.auth import throttle
from ioc.auth.testing import PASSWORD, ensure_user, sign_in
from ioc.db import models as m
from ioc.db.session import make_engine

ORIGIN = {"Origin": "http://localhost"}


def _csrf(res) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', res.get_data(as_text=True)).group(1)


def test_the_login_page_is_vietnamese_with_an_english_switch(auth_app):
    c = auth_app.server.test_client()
    res = c.get("/login")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and 'name="username"' in html and 'name="password"' in html
    assert "Đăng nhập" in html and "Mật khẩu" in html and "Tên đăng nhập" in html and 'lang="vi"' in html
    en = c.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in en and "Password" in en and 'lang="en"' in en


def test_a_page_sends_a_browser_to_login_and_back_after_it(auth_app):
    c = auth_app.server.test_client()
    res = c.get("/briefings?x=1")
    assert res.status_code == 303 and res.headers["Location"] == "/login?next=%2Fbriefings%3Fx%3D1"
    page = c.get(res.headers["Location"])
    res = c.post("/login", data={"username": "u-leader", "password": PASSWORD, "csrf": _csrf(page),
                                 "next": "/briefings?x=1"}, headers=ORIGIN)
    assert res.status_code == 303 and res.headers["Location"] == "/briefings?x=1"
    assert c.get("/briefings").status_code == 200
    # data routes answer 401 with a reason, never a login page
    anon = auth_app.server.test_client().get("/api/map/options.json")
    assert anon.status_code == 401 and anon.json["reason"] == "login_required"


def test_next_never_leaves_the_site(auth_app):
    c = auth_app.server.test_client()
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page = c.get("/login")
        res = c.post("/login", data={"username": "u-admin", "password": PASSWORD, "csrf": _csrf(page), "next": bad},
                     headers=ORIGIN)
        assert res.status_code == 303 and res.headers["Location"] == "/", bad


def test_session_cookie_flags(auth_app):
    c = auth_app.server.test_client()
    res = sign_in(c, "u-operator")
    cookie = next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("ioc_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert "Max-Age=43200" in cookie  # IOC_SESSION_MAX_HOURS
    https = auth_app.server.test_client()
    page = https.get("/login", base_url="https://localhost")
    res = https.post("/login", base_url="https://localhost", headers={"Origin": "https://localhost"},
                     data={"username": "u-operator", "password": PASSWORD, "csrf": _csrf(page)})
    cookie = next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("ioc_session="))
    assert "Secure" in cookie  # IOC_COOKIE_SECURE=auto under HTTPS


def test_the_form_token_and_the_origin_are_checked(auth_app):
    c = auth_app.server.test_client()
    c.get("/login")
    res = c.post("/login", data={"username": "u-admin", "password": PASSWORD, "csrf": "forged" * 5}, headers=ORIGIN)
    assert res.status_code == 400 and "ioc_session" not in res.headers.get("Set-Cookie", "")
    page = c.get("/login")
    res = c.post("/login", data={"username": "u-admin", "password": PASSWORD, "csrf": _csrf(page)},
                 headers={"Origin": "https://evil.example"})
    assert res.status_code == 403


def test_wrong_passwords_are_throttled_per_user_across_workers(auth_app, db_url_of):
    from ioc.web.app import create_app

    ensure_user(db_url_of, "u-brute", "operator")
    other_worker = create_app(auth_app.server.config["IOC_SETTINGS"]).server.test_client()
    workers = [auth_app.server.test_client(), other_worker]
    for i in range(throttle.USER_LIMIT):
        res = sign_in(workers[i % 2], "u-brute", "wrong password here")
        assert res.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in res.get_data(as_text=True)
    for c in workers:  # the right password is refused too now, in both workers
        res = sign_in(c, "u-brute", PASSWORD)
        assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
        assert "Đăng nhập sai quá nhiều lần" in res.get_data(as_text=True)
    engine = make_engine(db_url_of)
    with engine.begin() as conn:  # the window passes
        conn.execute(update(m.LoginFailure.__table__).values(at=datetime.now(timezone.utc) - throttle.WINDOW))
    assert sign_in(workers[0], "u-brute", PASSWORD).status_code == 303
    engine.dispose()


def test_many_names_from_one_address_are_throttled(auth_app, db_url_of):
    engine = make_engine(db_url_of)
    try:
        for i in range(throttle.CLIENT_LIMIT):
            throttle.failed(engine, f"guess-{i}", "10.9.9.9")
        assert throttle.wait_seconds(engine, "someone-new", "10.9.9.9") > 0
        assert throttle.wait_seconds(engine, "someone-new", "10.9.9.8") == 0
    finally:
        engine.dispose()


def test_sessions_end_when_idle_too_long_or_too_old_or_at_logout(auth_app, db_url_of):
    engine = make_engine(db_url_of)
    sessions = m.AuthSession.__table__
    settings = auth_app.server.config["IOC_SETTINGS"]
    try:
        for column, age in (("last_seen_at", timedelta(minutes=settings.session_idle_minutes, seconds=5)),
                            ("created_at", timedelta(hours=settings.session_max_hours, seconds=5))):
            c = auth_app.server.test_client()
            sign_in(c, "u-admin")
            assert c.get("/api/ping").status_code == 200
            with engine.begin() as conn:
                conn.execute(update(sessions).values(**{column: datetime.now(timezone.utc) - age}))
            assert c.get("/api/ping").status_code == 401, column
        c = auth_app.server.test_client()
        sign_in(c, "u-admin")
        page = c.get("/logout")
        assert "Đăng xuất" in page.get_data(as_text=True)
        res = c.post("/logout", data={"csrf": _csrf(page)}, headers=ORIGIN)
        assert res.status_code == 200 and "Bạn đã đăng xuất." in res.get_data(as_text=True)
        assert c.get("/api/ping").status_code == 401
    finally:
        engine.dispose()


def test_a_disabled_user_is_out_at_the_next_request(auth_app, db_url_of):
    from ioc.auth import users

    ensure_user(db_url_of, "u-leaving", "leader")
    c = auth_app.server.test_client()
    assert sign_in(c, "u-leaving").status_code == 303 and c.get("/api/ping").status_code == 200
    engine = make_engine(db_url_of)
    users.disable(engine, "u-leaving")
    assert c.get("/api/ping").status_code == 401
    assert sign_in(c, "u-leaving").status_code == 401
    engine.dispose()


def test_passwords_are_argon2id_and_the_audit_log_has_the_logins(auth_app, db_url_of):
    from sqlalchemy import select

    engine = make_engine(db_url_of)
    with engine.connect() as conn:
        hashed = conn.execute(select(m.User.__table__.c.password_hash)
                              .where(m.User.__table__.c.username == "u-admin")).scalar()
        actions = set(conn.execute(select(m.AuditLog.__table__.c.action)).scalars())
    engine.dispose()
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert {"user.add", "login"} <= actions


def test_the_principal_tells_role_scope_and_pii(auth_app, db_url_of):
    from ioc.auth import ANONYMOUS, current_principal

    assert current_principal() is ANONYMOUS and ANONYMOUS.pii is False
    ensure_user(db_url_of, "u-pii", "sector", sectors=("hotline",), communes=("30316",), pii=True)
    c = auth_app.server.test_client()
    sign_in(c, "u-pii")
    token = c.get_cookie("ioc_session").value
    with auth_app.server.test_request_context("/api/map/options.json", headers={"Cookie": f"ioc_session={token}"}):
        assert auth_app.server.config["IOC_GUARD"].check() is None
        p = current_principal()
    assert (p.role, p.name, p.sectors, p.communes, p.pii) == ("sector", "u-pii", ("hotline",), ("30316",), True)
