"""`ioc users …`, `ioc devices …` and the first administrator of `ioc up`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import ioc.cli
from ioc.errors import UserError


def _run(monkeypatch, tmp_path, *args, stdin: str | None = None, env: dict | None = None):
    monkeypatch.chdir(tmp_path)
    full = {"IOC_DATA_DIR": str(tmp_path / "var"), "IOC_REDIS_URL": "redis://127.0.0.1:1/0", **(env or {})}
    return CliRunner().invoke(ioc.cli.app, list(args), input=stdin, env=full)


def test_users_add_list_set_role_disable(monkeypatch, tmp_path):
    res = _run(monkeypatch, tmp_path, "users", "add", "Lan", "--role", "sector", "--sector", "hotline", "--sector",
               "cameras", "--commune", "30316", "--pii", "--password-stdin", stdin="correct horse battery\n")
    assert res.exit_code == 0, res.output
    assert "User lan added: role sector, sectors hotline, cameras, communes 30316, pii" in res.output
    listed = json.loads(_run(monkeypatch, tmp_path, "users", "list", "--json").output)
    assert [(u["username"], u["role"], u["sectors"], u["communes"], u["pii"], u["active"]) for u in listed] == [
        ("lan", "sector", ["hotline", "cameras"], ["30316"], True, True)]
    assert _run(monkeypatch, tmp_path, "users", "set-role", "lan", "--role", "leader", "--no-pii").exit_code == 0
    assert _run(monkeypatch, tmp_path, "users", "disable", "lan").exit_code == 0
    listed = json.loads(_run(monkeypatch, tmp_path, "users", "list", "--json").output)
    assert [(u["role"], u["pii"], u["active"]) for u in listed] == [("leader", False, False)]
    assert "correct horse" not in (tmp_path / "var" / "ioc.db").read_bytes().decode("latin-1")


def test_user_mistakes_are_one_line_and_exit_2(monkeypatch, tmp_path):
    cases = [(["users", "add", "x1", "--role", "boss", "--password-stdin"], "unknown role 'boss'"),
             (["users", "add", "x2", "--role", "sector", "--password-stdin"], "needs at least one --sector"),
             (["users", "add", "x3", "--role", "sector", "--sector", "parks", "--password-stdin"], "unknown sector"),
             (["users", "add", "x4", "--role", "leader", "--password-stdin"], "too short"),
             (["users", "disable", "nobody"], "no user 'nobody'"),
             (["users", "add", "x5", "--role", "leader"], "--password-stdin")]
    for args, words in cases:
        res = _run(monkeypatch, tmp_path, *args, stdin="short\n")
        # `ioc` (ioc.cli.main) prints a UserError as one line and exits 2
        assert isinstance(res.exception, UserError) and words in str(res.exception), (args, res.output)
        assert "\n" not in str(res.exception)


def test_devices_add_prints_a_one_time_link_and_revoke_ends_it(monkeypatch, tmp_path):
    res = _run(monkeypatch, tmp_path, "devices", "add", "wall-1", "--base-url", "https://ioc.example.vn/")
    assert res.exit_code == 0, res.output
    link = res.output.splitlines()[0]
    assert link.startswith("https://ioc.example.vn/enrol/") and len(link.rsplit("/", 1)[1]) >= 40
    assert isinstance(_run(monkeypatch, tmp_path, "devices", "add", "wall-1").exception, UserError)
    assert _run(monkeypatch, tmp_path, "devices", "revoke", "wall-1").exit_code == 0
    listed = json.loads(_run(monkeypatch, tmp_path, "devices", "list", "--json").output)
    assert [(d["name"], d["state"]) for d in listed] == [("wall-1", "revoked")]


def test_the_first_admin_gets_a_one_time_password_or_ioc_admin_password(monkeypatch, tmp_path):
    from ioc.auth import users
    from ioc.auth.cli import first_admin
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.settings import load_settings

    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}")
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    line = first_admin(settings, engine)
    password = line.split("password ", 1)[1].split()[0]
    assert users.authenticate(engine, "admin", password).role == "admin"
    assert first_admin(settings, engine) is None  # once only
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # the key file: its owner only
    other = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'b.db'}")
    engine2 = make_engine(other.effective_database_url)
    upgrade(engine2)
    monkeypatch.setenv("IOC_ADMIN_PASSWORD", "chosen by the operator")
    assert "IOC_ADMIN_PASSWORD" in first_admin(other, engine2)
    assert users.authenticate(engine2, "admin", "chosen by the operator") is not None
    engine.dispose()
    engine2.dispose()
