"""Docs that cannot drift: every setting, Redis key and SQL table is documented, and every
setting docs/configuration.md documents has the default it says and does what it says."""

from __future__ import annotations

import logging
import os
import random
import re
import socket
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from ioc.db.models import Base
from ioc.live_store import KEYS
from ioc.settings import Settings, configure_logging, load_settings, redis_url_for

DOCS = Path(__file__).resolve().parent.parent / "docs"
ROW = re.compile(r"^\| `IOC_([A-Z_]+)` \| (.+?) \| (.+) \|$")


def documented() -> dict[str, tuple[str, str]]:
    """{field name: (default cell, meaning cell)} of docs/configuration.md's table."""
    rows = {}
    for line in (DOCS / "configuration.md").read_text().splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1).lower()] = (m.group(2), m.group(3))
    return rows


def test_every_setting_is_documented_and_every_documented_one_exists():
    rows = documented()
    assert set(rows) == set(Settings.model_fields), (
        f"missing from docs: {sorted(set(Settings.model_fields) - set(rows))}; "
        f"documented but not a setting: {sorted(set(rows) - set(Settings.model_fields))}")


def _parse_default(cell: str):
    if cell == "unset":
        return None
    m = re.fullmatch(r"`([^`]*)`", cell)
    assert m, f"a default is `value` or unset, not {cell!r}"
    return m.group(1)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_documented_default_is_the_real_default(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for var in [v for v in list(os.environ) if v.startswith("IOC_")]:
        monkeypatch.delenv(var)
    shown = _parse_default(documented()[name][0])
    actual = getattr(load_settings(), name)
    if shown is None:
        assert actual is None, f"IOC_{name.upper()} is documented unset but defaults to {actual!r}"
    elif isinstance(actual, float):
        assert float(shown) == actual
    elif isinstance(actual, Path):
        assert Path(shown) == actual
    else:
        assert str(actual) == shown, f"IOC_{name.upper()}: docs say {shown!r}, the code {actual!r}"


# --- what each setting does, observed ---------------------------------------------------------


def _connector(source: str, **kw):
    from connectors.registry import connector_class

    url = f"http://upstream.test/{source}"
    settings = load_settings(**{f"{source}_url": url}, **kw)
    conn = connector_class(source)(settings, None, None)
    assert conn.client.base_url == url  # IOC_<SOURCE>_URL is where it polls
    return conn


def _interval(source: str):
    def check(tmp_path):
        from connectors.base import RunResult

        random.seed(3)  # the jitter's draws: the bounds below hold for any, the seed keeps "some" honest
        conn = _connector(source, **{f"{source}_interval": 7.0})
        assert conn.interval == 7.0
        delays = [conn.next_delay(RunResult(source)) for _ in range(200)]
        assert 7.0 * 0.9 <= min(delays) and max(delays) <= 7.0 * 1.1  # ±10 % jitter
        failing = {}
        for failures in (1, 30):  # exponential (full jitter) back-off, up to 5 minutes (+10 %)
            conn._failures = failures
            failing[failures] = [conn.next_delay(RunResult(source, ok=False)) for _ in range(50)]
        assert max(failing[1]) <= 7.0 * 2 * 1.1
        assert max(failing[30]) <= 300 * 1.1 and max(failing[30]) > 100
    return check


def check_reconcile_interval(tmp_path):
    for source in ("hotline", "cameras", "environment", "procedures"):
        assert _connector(source).reconcile_every == 3600.0
        assert _connector(source, reconcile_interval=90.0).reconcile_every == 90.0


def _url(source: str):
    def check(tmp_path):
        _connector(source)
    return check


def _header(source: str, field: str, header: str, shown: str):
    def check(tmp_path):
        assert header not in _connector(source).client.client.headers
        conn = _connector(source, **{field: "s3cret"})
        assert conn.client.client.headers[header] == shown
    return check


def check_environment_credentials(tmp_path):
    import httpx

    conn = _connector("environment", environment_username="ioc", environment_password="pw")
    assert isinstance(conn.client.client.auth, httpx.BasicAuth)
    request = conn.client.client.build_request("GET", "http://upstream.test/environment/Things")
    assert next(conn.client.client.auth.auth_flow(request)).headers["Authorization"] == "Basic aW9jOnB3"
    assert _connector("environment").client.client.auth is None


def check_redis_url(tmp_path):
    assert redis_url_for(load_settings(redis_url="redis://h:6380/2")) == "redis://h:6380/2"
    own = redis_url_for(load_settings(data_dir=tmp_path))  # unset: our own, on a socket in data_dir
    assert own.startswith("unix://") and own.startswith(f"unix://{(tmp_path / 'redis').resolve()}")


def check_redis_sentinels(tmp_path):
    from ioc.errors import UserError
    from ioc.redis_client import describe, redis_client

    settings = load_settings(redis_sentinels=" s1:26379, 10.0.0.2:26380 ", redis_sentinel_master="dt",
                             redis_sentinel_password="s3ntinel-pw", redis_url="redis://:master-pw@-/3")
    assert settings.sentinels == [("s1", 26379), ("10.0.0.2", 26380)]
    assert describe(settings) == "sentinel://s1:26379,10.0.0.2:26380/dt"
    client = redis_client(settings)  # nothing is contacted until a command
    pool = client.connection_pool
    assert pool.service_name == "dt" and pool.connection_kwargs["password"] == "master-pw"
    assert pool.connection_kwargs["db"] == 3
    assert [s.connection_pool.connection_kwargs["password"] for s in pool.sentinel_manager.sentinels] == [
        "s3ntinel-pw"] * 2
    assert settings.masked()["redis_sentinel_password"] == "***"
    with pytest.raises(UserError, match="IOC_REDIS_SENTINELS.*'s1' is not host:port"):
        load_settings(redis_sentinels="s1, s2:1")
    assert load_settings(redis_sentinels=None).sentinels == []


def check_redis_prefix(tmp_path):
    from ioc.views.read import ReadModel

    views = ReadModel.from_settings(load_settings(redis_prefix="dt2", redis_url="redis://127.0.0.1:1/0"))
    assert views.store.key("quarantine") == "dt2:quarantine:counts"


def check_database_url(tmp_path):
    assert load_settings(database_url="postgresql://u@h/db").effective_database_url == "postgresql://u@h/db"


def check_data_dir(tmp_path):
    from ioc.redis_server import own_redis_dir

    s = load_settings(data_dir=tmp_path / "state")
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'state' / 'ioc.db').resolve()}"
    assert own_redis_dir(s) == (tmp_path / "state" / "redis").resolve()


def check_boundaries(tmp_path):
    from geo.assign import default_boundary_paths

    f = tmp_path / "mine.geojson"
    f.write_text('{"type": "FeatureCollection", "features": []}')
    assert default_boundary_paths(load_settings(boundaries=f)) == [f]
    assert default_boundary_paths(load_settings(boundaries=tmp_path / "nowhere")) == []


def check_timezone(tmp_path):
    from ioc.views.read import ReadModel

    views = ReadModel.from_settings(load_settings(timezone="Asia/Bangkok", redis_url="redis://127.0.0.1:1/0"))
    assert views.tz == ZoneInfo("Asia/Bangkok")  # what the pages format dates and days with


def check_log_level(tmp_path):
    ioc_logger = logging.getLogger("ioc")
    before = ioc_logger.level
    try:
        configure_logging(load_settings(log_level="DEBUG"))
        assert logging.getLogger("ioc.connectors").isEnabledFor(logging.DEBUG)
        configure_logging(load_settings(log_level="ERROR"))
        assert not logging.getLogger("ioc.web").isEnabledFor(logging.WARNING)
    finally:
        ioc_logger.setLevel(before)


class _Children:
    """Stands in for ioc.supervisor.Supervisor: records what `ioc up`/`ioc web` would start."""

    started: list = []

    def __init__(self, children):
        type(self).started = children

    def run(self, **_kw):
        pass


def _ioc(monkeypatch, tmp_path, *args, **env):
    import ioc.cli
    import ioc.supervisor

    monkeypatch.chdir(tmp_path)
    for var in [v for v in list(os.environ) if v.startswith("IOC_")]:
        monkeypatch.delenv(var)
    monkeypatch.setattr(ioc.cli, "prepare_stores", lambda settings, **kw: ("redis://127.0.0.1:1/0", None))
    monkeypatch.setattr(ioc.cli, "_first_admin", lambda settings: None)  # no database here (tests/auth covers it)
    monkeypatch.setattr(ioc.supervisor, "Supervisor", _Children)
    result = CliRunner().invoke(ioc.cli.app, list(args), env={f"IOC_{k.upper()}": str(v) for k, v in env.items()})
    assert result.exit_code == 0, result.output
    return {c.name: c for c in _Children.started}


def check_web_host_and_port(tmp_path, monkeypatch):
    web = _ioc(monkeypatch, tmp_path, "web", web_host="0.0.0.0", web_port=8123)["web"]
    assert web.argv[web.argv.index("-b") + 1] == "0.0.0.0:8123"


def check_sim_port(tmp_path, monkeypatch):
    children = _ioc(monkeypatch, tmp_path, "up", sim_port=8161)
    sim = children["simulator"]
    assert sim.argv[sim.argv.index("--port") + 1] == "8161" and sim.ready_port == 8161
    assert children["connectors"].env["IOC_HOTLINE_URL"] == "http://127.0.0.1:8161/open311/v2"


@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    """The dashboard with non-default settings (Redis unreachable, an empty database with one
    admin: the callbacks below need no data), and ``app.signed_in``: a test client signed in."""
    from ioc.auth.testing import ensure_user, sign_in
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.web.app import create_app

    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{tmp / 'ioc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    ensure_user(url, "doc-admin", "admin")
    settings = load_settings(language="en", wall_rotate_seconds=7, wall_playlist="worst_stations,hotline_overdue",
                             basemap_url="https://tiles.test/{z}/{x}/{y}.png", redis_url="redis://127.0.0.1:1/0",
                             database_url=url, data_dir=tmp)
    app = create_app(settings)
    app.signed_in = app.server.test_client()
    assert sign_in(app.signed_in, "doc-admin").status_code == 303
    return app


def _callback(app, output: str, inputs: dict) -> dict:
    """Run the server callback whose outputs include `output` as the browser would."""
    key = next(k for k in app.callback_map if output in k.strip(".").split("..."))
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in key.strip(".").split("...")]
    body = {"output": key, "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": [{"id": i.rsplit(".", 1)[0], "property": i.rsplit(".", 1)[1], "value": v}
                       for i, v in inputs.items()],
            "changedPropIds": list(inputs)[:1], "state": []}
    res = app.signed_in.post("/_dash-update-component", json=body, headers={"Origin": "http://localhost"})
    assert res.status_code == 200, res.data[:300]
    return res.json["response"]


def check_language(tmp_path, web_app):
    layout = web_app.signed_in.get("/_dash-layout").json
    stores = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "lang":
                stores.append(node["props"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(layout)
    assert stores and stores[0]["data"] == "en"  # a first visit shows this language


def check_wall_playlist_and_rotation(tmp_path, web_app):
    out = _callback(web_app, "wall-rotate.interval", {"wall-lang.data": None, "lang.data": None})
    assert out["wall-rotate"]["interval"] == 7000
    assert out["wall-texts"]["data"]["playlist"] == ["worst_stations", "hotline_overdue"]


def check_basemap_url(tmp_path, web_app):
    out = _callback(web_app, "map-basemap-note.children", {"lang.data": "vi"})
    assert out["map-basemap-note"]["children"] is None  # tiles configured: no "no basemap" note
    from ioc.i18n import t

    assert t("mp.no_basemap", "vi")  # … which is what an unset IOC_BASEMAP_URL shows


def _auth_app(tmp_path, **settings):
    """The app with access control and a signed-in admin's test client (tests/auth covers the rest)."""
    from ioc.auth.testing import ensure_user
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.web.app import create_app

    url = f"sqlite:///{tmp_path / 'auth.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    ensure_user(url, "doc-admin", "admin")
    app = create_app(load_settings(redis_url="redis://127.0.0.1:1/0", database_url=url, data_dir=tmp_path, **settings))
    return app, url


def _login(client, base_url: str = "http://localhost"):
    import re

    from ioc.auth.testing import PASSWORD

    page = client.get("/login", base_url=base_url)
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", base_url=base_url, headers={"Origin": base_url},
                       data={"username": "doc-admin", "password": PASSWORD, "csrf": token})


def check_secret_key(tmp_path):
    from sqlalchemy import select

    from ioc.auth.secret import keyed
    from ioc.db import models as m
    from ioc.db.session import make_engine

    app, url = _auth_app(tmp_path, secret_key="k" * 40)
    client = app.server.test_client()
    _login(client)
    token = client.get_cookie("ioc_session").value
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(m.AuthSession.__table__.c.id)).scalars().all()
    engine.dispose()
    assert keyed(b"k" * 40, token) in stored  # SQL keeps the token's HMAC under this key
    assert not (tmp_path / "secret_key").exists()  # no key file when the setting is given
    other, _ = _auth_app(tmp_path, secret_key="z" * 40)  # another key: the session is unknown
    other_client = other.server.test_client()
    other_client.set_cookie("ioc_session", token)
    assert other_client.get("/api/ping").status_code == 401


def check_session_idle_minutes(tmp_path):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from ioc.db import models as m
    from ioc.db.session import make_engine

    app, url = _auth_app(tmp_path, session_idle_minutes=5)
    client = app.server.test_client()
    _login(client)
    engine = make_engine(url)
    for minutes, status in ((4, 200), (6, 401)):
        with engine.begin() as conn:
            conn.execute(update(m.AuthSession.__table__)
                         .values(last_seen_at=datetime.now(timezone.utc) - timedelta(minutes=minutes)))
        assert client.get("/api/ping").status_code == status
    engine.dispose()


def check_session_max_hours(tmp_path):
    app, _url = _auth_app(tmp_path, session_max_hours=2)
    res = _login(app.server.test_client())
    assert "Max-Age=7200" in next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("ioc_session="))


def check_cookie_secure(tmp_path):
    for mode, base, secure in (("auto", "http://localhost", False), ("auto", "https://localhost", True),
                               ("always", "http://localhost", True), ("never", "https://localhost", False)):
        app, _url = _auth_app(tmp_path / mode / base[:5], cookie_secure=mode)
        res = _login(app.server.test_client(), base)
        cookie = next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("ioc_session="))
        assert ("Secure" in cookie) is secure, (mode, base)
def check_trusted_proxies(tmp_path):
    """Above 0 the client's address (what login throttling counts) and scheme (Secure cookies)
    are the proxy's X-Forwarded-For/-Proto; at 0 those headers are ignored (a client could forge them)."""
    from sqlalchemy import select

    from ioc.auth.testing import PASSWORD
    from ioc.auth.throttle import FAILURES
    from ioc.db.session import make_engine

    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "Origin": "http://localhost"}
    for hops, client, secure in ((0, "127.0.0.1", False), (1, "203.0.113.7", True)):
        app, url = _auth_app(tmp_path / str(hops), trusted_proxies=hops)
        c = app.server.test_client()

        def login(password):
            token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login", headers=forwarded).get_data(as_text=True))
            return c.post("/login", headers=forwarded,
                          data={"username": "doc-admin", "password": password, "csrf": token.group(1)})

        assert login("wrong-password-0").status_code == 401
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.execute(select(FAILURES.c.client)).scalars().all() == [client], hops
        engine.dispose()
        cookie = next(h for h in login(PASSWORD).headers.getlist("Set-Cookie") if h.startswith("ioc_session="))
        assert ("Secure" in cookie) is secure, hops


def check_snapshot_hosts(tmp_path):
    from ioc.views.map_details import snapshot_allowed

    registry = load_settings(cameras_url="http://cams.test:8080/api")
    assert snapshot_allowed("http://cams.test:8080/media/C1.png", registry)
    assert not snapshot_allowed("http://media.test:9000/C1.png", registry)
    assert not snapshot_allowed("http://cams.test:9000/C1.png", registry)  # another port of the same host
    listed = load_settings(cameras_url="http://cams.test:8080/api", snapshot_hosts="media.test:9000, img.test")
    assert snapshot_allowed("http://media.test:9000/C1.png", listed)
    assert snapshot_allowed("https://img.test/C1.png", listed) and snapshot_allowed("http://img.test/C1.png", listed)
    assert not snapshot_allowed("http://img.test:8443/C1.png", listed) and not snapshot_allowed("ftp://img.test/x", listed)
    with pytest.raises(Exception, match="IOC_SNAPSHOT_HOSTS"):
        load_settings(snapshot_hosts="http://media.test/")


def check_briefing_schedule(tmp_path):
    from datetime import time

    from ioc.briefings import slots

    assert slots.from_settings(load_settings()) == (time(7, 0), (0, time(7, 30)), 2)
    s = load_settings(briefing_daily="06:15", briefing_weekly="fri@17:00", briefing_catch_up_days=5)
    assert slots.from_settings(s) == (time(6, 15), (4, time(17, 0)), 5)
    assert slots.from_settings(load_settings(briefing_daily="off", briefing_weekly="off"))[:2] == (None, None)
    with pytest.raises(Exception, match="IOC_BRIEFING_WEEKLY"):
        load_settings(briefing_weekly="monday")


def check_briefing_font_dir(tmp_path):
    from ioc.briefings.fonts import find_font
    from ioc.errors import UserError

    with pytest.raises(UserError, match=f"no font with Vietnamese letters found in {tmp_path}"):
        find_font(load_settings(briefing_font_dir=tmp_path).briefing_font_dir)


class _Inbox:
    def __init__(self) -> None:
        self.sessions = []

    async def handle_DATA(self, server, session, envelope):
        self.sessions.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _smtp_server(**kw):
    import socket

    controller = pytest.importorskip("aiosmtpd.controller")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = _Inbox()
    ctl = controller.Controller(inbox, hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    return ctl, inbox, port


def check_mail(tmp_path):
    """Host, port, sender and recipients: a message reaches that server from that sender for
    those recipients; no host or no recipients: nothing is mailed."""
    from ioc.briefings.mail import MailConfig, _send
    from email.message import EmailMessage

    assert MailConfig.from_settings(load_settings()) is None
    assert MailConfig.from_settings(load_settings(smtp_host="mail.example")) is None  # no recipients
    ctl, inbox, port = _smtp_server()
    try:
        cfg = MailConfig.from_settings(load_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="ioc@dt.vn",
                                                     briefing_recipients="a@dt.vn, b@dt.vn"))
        msg = EmailMessage()
        msg["Subject"] = "x"
        msg.set_content("x")
        _send(cfg, msg)
    finally:
        ctl.stop()
    assert inbox.sessions == [("ioc@dt.vn", ["a@dt.vn", "b@dt.vn"])]
    with pytest.raises(Exception, match="IOC_BRIEFING_RECIPIENTS"):
        load_settings(briefing_recipients="a@dt.vn, nobody")


def check_smtp_starttls_and_login(tmp_path):
    """STARTTLS is asked for (a server without it refuses), the login is sent, and the password
    is never shown: not by `ioc config show`, not in the mail settings' repr."""
    import smtplib

    from ioc.briefings.mail import MailConfig, _send
    from email.message import EmailMessage

    msg = EmailMessage()
    msg.set_content("x")
    ctl, _inbox, port = _smtp_server()
    try:
        cfg = MailConfig.from_settings(load_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True,
                                                     briefing_recipients="a@dt.vn"))
        with pytest.raises(smtplib.SMTPNotSupportedError, match="STARTTLS"):
            _send(cfg, msg)
        cfg = MailConfig.from_settings(load_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_username="ioc",
                                                     smtp_password="s3cret-pw", briefing_recipients="a@dt.vn"))
        with pytest.raises(smtplib.SMTPNotSupportedError, match="AUTH"):  # it tried to log in
            _send(cfg, msg)
    finally:
        ctl.stop()
    assert "s3cret-pw" not in repr(cfg) and cfg.password.get_secret_value() == "s3cret-pw"
    assert load_settings(smtp_password="s3cret-pw").masked()["smtp_password"] == "***"


def check_metrics_access(tmp_path):
    """Loopback always; an address of IOC_METRICS_ALLOW; any address with the IOC_METRICS_TOKEN
    bearer (tests/test_metrics_web.py covers proxies)."""
    app, _url = _auth_app(tmp_path, metrics_allow="192.0.2.0/24", metrics_token="scrape-token-9")
    client = app.server.test_client()

    def status(addr, **headers):
        return client.get("/metrics", environ_base={"REMOTE_ADDR": addr}, headers=headers).status_code

    assert (status("127.0.0.1"), status("192.0.2.77"), status("198.51.100.1")) == (200, 200, 403)
    assert status("198.51.100.1", Authorization="Bearer scrape-token-9") == 200
    assert load_settings(metrics_token="scrape-token-9").masked()["metrics_token"] == "***"


def _metrics_port(process: str):
    def check(tmp_path):
        import httpx

        from ioc import metrics_server

        name = metrics_server.PORT_SETTINGS[process]
        registry = metrics_server.new_registry()
        assert metrics_server.serve(process, load_settings(**{name: 0}), registry) is None  # 0: off
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = metrics_server.serve(process, load_settings(**{name: port}, metrics_host="127.0.0.1"), registry)
        try:
            assert server.server_address == ("127.0.0.1", port)  # IOC_METRICS_HOST
            assert "process_resident_memory_bytes" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        finally:
            server.shutdown()
            server.server_close()
    return check


MEANINGS = {
    "redis_url": check_redis_url,
    "redis_prefix": check_redis_prefix,
    "redis_sentinels": check_redis_sentinels,
    "redis_sentinel_master": check_redis_sentinels,
    "redis_sentinel_password": check_redis_sentinels,
    "database_url": check_database_url,
    "data_dir": check_data_dir,
    "boundaries": check_boundaries,
    "timezone": check_timezone,
    "language": check_language,
    "hotline_url": _url("hotline"),
    "hotline_api_key": _header("hotline", "hotline_api_key", "X-API-Key", "s3cret"),
    "cameras_url": _url("cameras"),
    "cameras_token": _header("cameras", "cameras_token", "Authorization", "Bearer s3cret"),
    "snapshot_hosts": check_snapshot_hosts,
    "trusted_proxies": check_trusted_proxies,
    "environment_url": _url("environment"),
    "environment_username": check_environment_credentials,
    "environment_password": check_environment_credentials,
    "procedures_url": _url("procedures"),
    "procedures_api_key": _header("procedures", "procedures_api_key", "X-API-Key", "s3cret"),
    "hotline_interval": _interval("hotline"),
    "cameras_interval": _interval("cameras"),
    "environment_interval": _interval("environment"),
    "procedures_interval": _interval("procedures"),
    "reconcile_interval": check_reconcile_interval,
    "web_host": check_web_host_and_port,
    "web_port": check_web_host_and_port,
    "sim_port": check_sim_port,
    "wall_playlist": check_wall_playlist_and_rotation,
    "wall_rotate_seconds": check_wall_playlist_and_rotation,
    "basemap_url": check_basemap_url,
    "log_level": check_log_level,
    "secret_key": check_secret_key,
    "session_idle_minutes": check_session_idle_minutes,
    "session_max_hours": check_session_max_hours,
    "cookie_secure": check_cookie_secure,
    "briefing_daily": check_briefing_schedule,
    "briefing_weekly": check_briefing_schedule,
    "briefing_catch_up_days": check_briefing_schedule,
    "briefing_font_dir": check_briefing_font_dir,
    "briefing_recipients": check_mail,
    "smtp_host": check_mail,
    "smtp_port": check_mail,
    "smtp_from": check_mail,
    "smtp_starttls": check_smtp_starttls_and_login,
    "smtp_username": check_smtp_starttls_and_login,
    "smtp_password": check_smtp_starttls_and_login,
    "metrics_allow": check_metrics_access,
    "metrics_token": check_metrics_access,
    "metrics_host": _metrics_port("kpi"),
    "connectors_metrics_port": _metrics_port("connectors"),
    "kpi_metrics_port": _metrics_port("kpi"),
    "briefings_metrics_port": _metrics_port("briefings"),
}


def test_every_setting_has_a_check_of_its_meaning():
    assert set(MEANINGS) == set(Settings.model_fields)


@pytest.mark.parametrize("name", sorted(MEANINGS))
def test_setting_does_what_the_docs_say(name, tmp_path, request):
    check = MEANINGS[name]
    wanted = check.__code__.co_varnames[:check.__code__.co_argcount]
    check(**{arg: tmp_path if arg == "tmp_path" else request.getfixturevalue(arg) for arg in wanted})


# --- Redis keys and tables ----------------------------------------------------------------------


def test_every_redis_key_is_documented():
    text = (DOCS / "data-model.md").read_text()
    missing = [pattern for pattern, _t, _m in KEYS.values()
               if f"`{pattern.format(prefix='ioc', source='SOURCE', name='NAME')}`" not in text]
    assert not missing, f"Redis keys missing from docs/data-model.md: {missing}"


def test_every_table_is_documented():
    text = (DOCS / "data-model.md").read_text()
    missing = [name for name in Base.metadata.tables if f"`{name}`" not in text]
    assert not missing, f"tables missing from docs/data-model.md: {missing}"


def _schedule_options() -> dict:
    import typer.main

    from ioc.briefings.cli import app

    command = typer.main.get_command(app).commands["schedule"]
    return {opt: p for p in command.params for opt in getattr(p, "opts", ())}


def test_briefing_schedule_options_are_documented_with_their_settings():
    # docs/briefings.md § Schedule: each option of `ioc briefing schedule`, the setting it
    # overrides (with that setting's real default) or its own default
    text = (DOCS / "briefings.md").read_text(encoding="utf-8")
    section = text.split("## Schedule", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`--"):
            flag = re.match(r"`(--[a-z-]+)", cells[0]).group(1)
            default = re.match(r"`([^`]+)`|([0-9.]+)", cells[2])
            rows.append((flag, cells[1].strip("`"), default.group(1) or default.group(2)))
    options = _schedule_options()
    assert {r[0] for r in rows} == {o for o in options if o.startswith("--") and o not in ("--once", "--now", "--help")}
    for flag, setting, default in rows:
        param = options[flag]
        if setting:
            name = setting.removeprefix("IOC_").lower()
            assert name in Settings.model_fields, (flag, setting)
            assert param.default is None, flag  # unset: the setting decides
            assert str(Settings.model_fields[name].default) == default, (flag, setting, default)
        else:
            assert float(default) == param.default, (flag, default)


def test_briefing_settings_are_in_both_docs():
    text = (DOCS / "briefings.md").read_text(encoding="utf-8")
    names = [n for n in Settings.model_fields if n.startswith(("briefing_", "smtp_"))]
    assert len(names) == 11
    missing = [n for n in names if f"`IOC_{n.upper()}`" not in text]
    assert not missing, f"docs/briefings.md does not name {missing}"
