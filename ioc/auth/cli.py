"""`ioc users …` and `ioc devices …` (docs/security.md). Passwords come from standard input
(``--password-stdin``, one line) or a hidden prompt, never from the command line (it would stay
in the shell's history and in ``ps``)."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ioc.errors import UserError

users_app = typer.Typer(help="People who sign in to the dashboard, and their roles.", no_args_is_help=True)
devices_app = typer.Typer(help="Wall displays: enrolment links and revocation.", no_args_is_help=True)
out = Console()


def _engine():
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.settings import load_settings

    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)  # the tables exist before the first user
    return settings, engine


def _do(fn, *args, **kwargs):
    from ioc.auth.users import AccountError

    try:
        return fn(*args, **kwargs)
    except AccountError as err:
        raise UserError(str(err)) from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("give the password on standard input with --password-stdin")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _fmt(dt) -> str:
    from ioc.formatting import format_datetime
    from ioc.settings import get_settings

    return format_datetime(dt, get_settings().tz) if dt else ""


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="Sign-in name (a-z, digits, . _ - @)."),
    role: str = typer.Option(..., "--role", help="admin, operator, leader or sector."),
    sector: Optional[list[str]] = typer.Option(None, "--sector", help="hotline, cameras, environment, procedures "
                                               "(sector role; repeat for several)."),
    commune: Optional[list[str]] = typer.Option(None, "--commune", help="5-digit commune code (sector role; repeat)."),
    pii: bool = typer.Option(False, "--pii", help="May see reporters' personal data unmasked (audited)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Add a user."""
    from ioc.auth import users

    _settings, engine = _engine()
    user = _do(users.add, engine, username, role, _password(password_stdin), sectors=sector or [],
               communes=commune or [], pii=pii)
    out.print(f"User {user.username} added: role {user.role}" + (f", sectors {', '.join(user.sectors)}"
                                                                 if user.sectors else "")
              + (f", communes {', '.join(user.communes)}" if user.communes else "") + (", pii" if user.pii else ""))


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...)) -> None:
    """Disable a user: signed out at once, cannot sign in again (the row and its audit trail stay)."""
    from ioc.auth import users

    _settings, engine = _engine()
    user = _do(users.disable, engine, username)
    out.print(f"User {user.username} disabled; their sessions are ended.")


@users_app.command("enable")
def users_enable(username: str = typer.Argument(...)) -> None:
    """Enable a disabled user again."""
    from ioc.auth import users

    _settings, engine = _engine()
    user = _do(users.enable, engine, username)
    out.print(f"User {user.username} enabled.")


@users_app.command("set-role")
def users_set_role(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help="admin, operator, leader or sector."),
    sector: Optional[list[str]] = typer.Option(None, "--sector", help="Sectors (sector role)."),
    commune: Optional[list[str]] = typer.Option(None, "--commune", help="Communes (sector role)."),
    pii: Optional[bool] = typer.Option(None, "--pii/--no-pii", help="Grant or withdraw personal data (default: keep)."),
) -> None:
    """Change a user's role and scope (their sessions end: the new rights apply at the next sign-in)."""
    from ioc.auth import users

    _settings, engine = _engine()
    user = _do(users.set_role, engine, username, role, sectors=sector or [], communes=commune or [], pii=pii)
    out.print(f"User {user.username}: role {user.role}" + (f", sectors {', '.join(user.sectors)}" if user.sectors
                                                           else "") + (f", communes {', '.join(user.communes)}"
                                                                       if user.communes else "")
              + (", pii" if user.pii else ", no pii"))


@users_app.command("set-password")
def users_set_password(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Set a user's password (their sessions end)."""
    from ioc.auth import users

    _settings, engine = _engine()
    user = _do(users.set_password, engine, username, _password(password_stdin))
    out.print(f"Password of {user.username} changed; their sessions are ended.")


@users_app.command("list")
def users_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The users, their roles and scope."""
    from ioc.auth import users

    _settings, engine = _engine()
    rows = users.listing(engine)
    if as_json:
        out.print_json(json.dumps([{"username": u.username, "role": u.role, "sectors": list(u.sectors),
                                    "communes": list(u.communes), "pii": u.pii, "active": u.active,
                                    "created_at": u.created_at.isoformat()} for u in rows], ensure_ascii=False))
        return
    table = Table("user", "role", "sectors", "communes", "pii", "active", "created", title="Users")
    for u in rows:
        table.add_row(u.username, u.role, ", ".join(u.sectors), ", ".join(u.communes), "yes" if u.pii else "",
                      "yes" if u.active else "disabled", _fmt(u.created_at))
    out.print(table)


def base_url(settings, given: str | None) -> str:
    if given:
        return given.rstrip("/")
    host = "localhost" if settings.web_host in ("0.0.0.0", "127.0.0.1", "::") else settings.web_host
    return f"http://{host}:{settings.web_port}"


@devices_app.command("add")
def devices_add(
    name: str = typer.Argument(..., help="The display's name, e.g. wall-1 (a-z, digits, . _ -)."),
    url: Optional[str] = typer.Option(None, "--base-url", help="The dashboard's address as the display reaches "
                                      "it (default: from IOC_WEB_HOST/IOC_WEB_PORT)."),
) -> None:
    """Make a one-time enrolment link for a wall display (valid 24 h): open it on the display."""
    from ioc.auth import devices

    settings, engine = _engine()
    device, token = _do(devices.add, engine, name)
    # the link is the credential until used: printed once, on standard output only
    print(f"{base_url(settings, url)}/enrol/{token}")
    print(f"Open this link once on the display {device.name!r} (valid 24 h); it then shows /wall only.",
          file=sys.stderr)


@devices_app.command("revoke")
def devices_revoke(name: str = typer.Argument(...)) -> None:
    """Revoke a wall display: refused from its next request, it shows "Thiết bị đã bị thu hồi"."""
    from ioc.auth import devices

    _settings, engine = _engine()
    device = _do(devices.revoke, engine, name)
    out.print(f"Device {device.name} revoked.")


@devices_app.command("list")
def devices_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The wall displays and their state (pending, expired, enrolled, revoked)."""
    from ioc.auth import devices

    _settings, engine = _engine()
    rows = devices.listing(engine)
    if as_json:
        out.print_json(json.dumps([{"name": d.name, "state": d.state, "created_at": d.created_at.isoformat(),
                                    "enrolled_at": d.enrolled_at and d.enrolled_at.isoformat(),
                                    "revoked_at": d.revoked_at and d.revoked_at.isoformat(),
                                    "last_seen_at": d.last_seen_at and d.last_seen_at.isoformat()} for d in rows]))
        return
    table = Table("device", "state", "created", "enrolled", "revoked", "last seen", title="Wall displays")
    for d in rows:
        table.add_row(d.name, d.state, _fmt(d.created_at), _fmt(d.enrolled_at), _fmt(d.revoked_at),
                      _fmt(d.last_seen_at))
    out.print(table)


def first_admin(settings, engine) -> str | None:
    """``ioc up`` / ``ioc web`` on a database without an active admin: create ``admin`` with
    IOC_ADMIN_PASSWORD, else a random password. Returns the line to print (the random password is
    shown this once), or None when an admin exists. Enrols no device."""
    import os
    import secrets

    from ioc.auth import users
    from ioc.auth.secret import secret_key

    secret_key(settings)  # made once here, before the web workers start
    if users.has_admin(engine):
        return None
    given = os.environ.get("IOC_ADMIN_PASSWORD")
    password = given or secrets.token_urlsafe(12)
    name = "admin"
    try:
        users.get(engine, name)
        name = f"admin-{secrets.token_hex(2)}"  # an "admin" user of another role or disabled: keep it as it is
    except users.AccountError:
        pass
    _do(users.add, engine, name, "admin", password, by="ioc up")
    if given:
        return f"First administrator created: user {name!r}, password from IOC_ADMIN_PASSWORD."
    return (f"First administrator created: user {name!r}, password {password}  (shown once: sign in at /login, "
            f"then `ioc users set-password {name} --password-stdin`)")
