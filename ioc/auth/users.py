"""People who sign in: ``users`` rows (docs/security.md). Every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from ioc.auth import audit
from ioc.auth.passwords import hash_password, needs_rehash, verify
from ioc.auth.roles import Principal, check_scope
from ioc.db import models as m

USERS = m.User.__table__
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


class AccountError(ValueError):
    """A user command that cannot be done, said in one line."""


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    role: str
    sectors: tuple[str, ...]
    communes: tuple[str, ...]
    pii: bool
    active: bool
    created_at: datetime

    def principal(self, session_id: str | None = None) -> Principal:
        return Principal(role=self.role, name=self.username, user_id=self.id, sectors=self.sectors,
                         communes=self.communes, pii=self.pii, session_id=session_id)


def row_of(r) -> UserRow:
    return UserRow(id=r.id, username=r.username, role=r.role, sectors=tuple(r.sectors or ()),
                   communes=tuple(r.communes or ()), pii=bool(r.pii), active=bool(r.active), created_at=r.created_at)


def normalise(username: str) -> str:
    name = (username or "").strip().lower()
    if not name or len(name) > 100 or not set(name) <= NAME_CHARS:
        raise AccountError(f"bad user name {username[:40]!r}: letters a-z, digits and . _ - @ (at most 100)")
    return name


def add(engine: Engine, username: str, role: str, password: str, *, sectors=(), communes=(), pii: bool = False,
        by: str = "cli") -> UserRow:
    name = normalise(username)
    sectors, communes = list(dict.fromkeys(sectors)), list(dict.fromkeys(communes))
    try:
        check_scope(role, sectors, communes)
        hashed = hash_password(password)
    except ValueError as err:
        raise AccountError(str(err)) from None
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        if conn.execute(select(USERS.c.id).where(USERS.c.username == name)).first():
            raise AccountError(f"user {name!r} exists already (ioc users set-role / ioc users disable)")
        conn.execute(USERS.insert().values(username=name, display_name=name, role=role, password_hash=hashed,
                                           active=True, created_at=now, updated_at=now, sectors=sectors,
                                           communes=communes, pii=pii))
        audit.record(conn, by, "user.add", name, role=role, sectors=sectors, communes=communes, pii=pii)
    return get(engine, name)


def get(engine: Engine, username: str) -> UserRow:
    name = normalise(username)
    with engine.connect() as conn:
        r = conn.execute(select(USERS).where(USERS.c.username == name)).first()
    if r is None:
        raise AccountError(f"no user {name!r} (ioc users list)")
    return row_of(r)


def listing(engine: Engine) -> list[UserRow]:
    with engine.connect() as conn:
        return [row_of(r) for r in conn.execute(select(USERS).order_by(USERS.c.username))]


def _change(engine: Engine, username: str, action: str, by: str, values: dict, **details) -> UserRow:
    user = get(engine, username)
    with engine.begin() as conn:
        conn.execute(update(USERS).where(USERS.c.id == user.id)
                     .values(**values, updated_at=datetime.now(timezone.utc)))
        if action in ("user.disable", "user.set_role", "user.password"):  # signed out everywhere
            conn.execute(m.AuthSession.__table__.delete().where(m.AuthSession.__table__.c.user_id == user.id))
        audit.record(conn, by, action, user.username, **details)
    return get(engine, user.username)


def disable(engine: Engine, username: str, by: str = "cli") -> UserRow:
    return _change(engine, username, "user.disable", by, {"active": False})


def enable(engine: Engine, username: str, by: str = "cli") -> UserRow:
    return _change(engine, username, "user.enable", by, {"active": True})


def set_role(engine: Engine, username: str, role: str, *, sectors=(), communes=(), pii: bool | None = None,
             by: str = "cli") -> UserRow:
    sectors, communes = list(dict.fromkeys(sectors)), list(dict.fromkeys(communes))
    try:
        check_scope(role, sectors, communes)
    except ValueError as err:
        raise AccountError(str(err)) from None
    values = {"role": role, "sectors": sectors, "communes": communes}
    if pii is not None:
        values["pii"] = pii
    return _change(engine, username, "user.set_role", by, values, role=role, sectors=sectors, communes=communes,
                   pii=pii)


def set_password(engine: Engine, username: str, password: str, by: str = "cli") -> UserRow:
    try:
        hashed = hash_password(password)
    except ValueError as err:
        raise AccountError(str(err)) from None
    return _change(engine, username, "user.password", by, {"password_hash": hashed})


def authenticate(engine: Engine, username: str, password: str) -> UserRow | None:
    """The active user with this name and password, else None (the same time either way)."""
    try:
        name = normalise(username)
    except AccountError:
        verify(None, password)
        return None
    with engine.connect() as conn:
        r = conn.execute(select(USERS).where(USERS.c.username == name)).first()
    if not verify(r.password_hash if r is not None else None, password) or not r.active:
        return None
    if needs_rehash(r.password_hash):
        with engine.begin() as conn:
            conn.execute(update(USERS).where(USERS.c.id == r.id).values(password_hash=hash_password(password)))
    return row_of(r)


def has_admin(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(USERS.c.id).where(USERS.c.role == "admin", USERS.c.active.is_(True))).first() \
            is not None
