"""Signed-in browsers: ``auth_sessions`` rows, one SQL read per request (docs/security.md §
Sessions). A session ends after IOC_SESSION_IDLE_MINUTES without a request and
IOC_SESSION_MAX_HOURS after the login, at logout, and when its user is disabled, changes role or
password. ``last_seen_at`` is written at most once a minute per session (the idle clock's
grain), so a page's one-second polls do not turn into one write a second."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from ioc.auth.roles import Principal
from ioc.auth.secret import keyed, new_token
from ioc.auth.users import USERS, row_of
from ioc.db import models as m

SESSIONS = m.AuthSession.__table__
TOUCH_EVERY = timedelta(minutes=1)


def create(engine: Engine, key: bytes, user_id: int, client: str | None) -> str:
    """A new session for the user; returns the token for the cookie (SQL keeps its keyed hash)."""
    token = new_token()
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(SESSIONS.insert().values(id=keyed(key, token), user_id=user_id, created_at=now, last_seen_at=now,
                                              client=(client or "")[:64]))
    return token


def resolve(engine: Engine, key: bytes, token: str, idle: timedelta, max_age: timedelta,
            now: datetime | None = None) -> Principal | None:
    """The principal of a live session, or None (unknown, expired, user disabled)."""
    if not token or len(token) > 200:
        return None
    now = now or datetime.now(timezone.utc)
    sid = keyed(key, token)
    with engine.connect() as conn:
        r = conn.execute(select(SESSIONS.c.created_at, SESSIONS.c.last_seen_at, USERS)
                         .join(USERS, USERS.c.id == SESSIONS.c.user_id).where(SESSIONS.c.id == sid)).first()
    if r is None:
        return None
    if not r.active or now - r.created_at > max_age or now - r.last_seen_at > idle:
        end(engine, key, token)
        return None
    if now - r.last_seen_at >= TOUCH_EVERY:
        with engine.begin() as conn:
            conn.execute(update(SESSIONS).where(SESSIONS.c.id == sid).values(last_seen_at=now))
    return row_of(r).principal(session_id=sid)


def end(engine: Engine, key: bytes, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(SESSIONS).where(SESSIONS.c.id == keyed(key, token)))


def prune(engine: Engine, idle: timedelta, max_age: timedelta, now: datetime | None = None) -> int:
    """Remove the sessions that can no longer be used (done at each login)."""
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        res = conn.execute(delete(SESSIONS).where((SESSIONS.c.last_seen_at < now - idle)
                                                  | (SESSIONS.c.created_at < now - max_age)))
    return res.rowcount or 0


def count_active(engine: Engine, idle: timedelta, max_age: timedelta, now: datetime | None = None) -> int:
    """Sessions still usable now (monitoring: /metrics)."""
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(SESSIONS).where(
            SESSIONS.c.last_seen_at >= now - idle, SESSIONS.c.created_at >= now - max_age)).scalar_one()
