"""Wall displays (docs/security.md § Wall displays). ``ioc devices add NAME`` makes a one-time
enrolment link (valid ENROL_VALID); the display that opens it and confirms receives a random
credential in a long-lived cookie, bound to read-only wall access (the ``device`` role: /wall and
its data only). ``ioc devices revoke NAME`` refuses the credential from its next request on: the
guard reads the device's row at every request, and the wall shows "Thiết bị đã bị thu hồi"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from ioc.auth import audit
from ioc.auth.roles import DEVICE, Principal
from ioc.auth.secret import new_token, sha256
from ioc.auth.users import AccountError
from ioc.db import models as m

DEVICES_T = m.Device.__table__
ENROL_VALID = timedelta(hours=24)
TOUCH_EVERY = timedelta(minutes=1)
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


@dataclass(frozen=True)
class DeviceRow:
    id: int
    name: str
    state: str  # pending | expired | enrolled | revoked
    created_at: datetime
    enrolled_at: datetime | None
    revoked_at: datetime | None
    last_seen_at: datetime | None


def _row(r, now: datetime) -> DeviceRow:
    if r.revoked_at is not None:
        state = "revoked"
    elif r.enrolled_at is not None:
        state = "enrolled"
    elif r.enrol_expires_at is not None and r.enrol_expires_at < now:
        state = "expired"
    else:
        state = "pending"
    return DeviceRow(r.id, r.name, state, r.created_at, r.enrolled_at, r.revoked_at, r.last_seen_at)


def _name(name: str) -> str:
    n = (name or "").strip().lower()
    if not n or len(n) > 100 or not set(n) <= NAME_CHARS:
        raise AccountError(f"bad device name {name[:40]!r}: letters a-z, digits and . _ - (at most 100)")
    return n


def add(engine: Engine, name: str, by: str = "cli") -> tuple[DeviceRow, str]:
    """A new device and the token of its one-time enrolment link (``/enrol/<token>``)."""
    n = _name(name)
    token = new_token()
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        if conn.execute(select(DEVICES_T.c.id).where(DEVICES_T.c.name == n)).first():
            raise AccountError(f"device {n!r} exists already (ioc devices list); a revoked one stays listed: "
                            "choose another name")
        conn.execute(DEVICES_T.insert().values(name=n, enrol_hash=sha256(token), enrol_expires_at=now + ENROL_VALID,
                                               created_at=now, created_by=by[:100]))
        audit.record(conn, by, "device.add", n)
    return get(engine, n), token


def get(engine: Engine, name: str) -> DeviceRow:
    n = _name(name)
    with engine.connect() as conn:
        r = conn.execute(select(DEVICES_T).where(DEVICES_T.c.name == n)).first()
    if r is None:
        raise AccountError(f"no device {n!r} (ioc devices list)")
    return _row(r, datetime.now(timezone.utc))


def listing(engine: Engine) -> list[DeviceRow]:
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        return [_row(r, now) for r in conn.execute(select(DEVICES_T).order_by(DEVICES_T.c.name))]


def pending(engine: Engine, token: str) -> DeviceRow | None:
    """The device an enrolment link is for, while the link can still be used."""
    if not token or len(token) > 200:
        return None
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        r = conn.execute(select(DEVICES_T).where(DEVICES_T.c.enrol_hash == sha256(token))).first()
    if r is None:
        return None
    row = _row(r, now)
    return row if row.state == "pending" else None


def enrol(engine: Engine, token: str, client: str = "") -> tuple[DeviceRow, str] | None:
    """Use an enrolment link once: the device's credential token (for its cookie), or None when the
    link is unknown, used, expired or the device revoked."""
    row = pending(engine, token)
    if row is None:
        return None
    credential = new_token()
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        done = conn.execute(update(DEVICES_T).where(DEVICES_T.c.id == row.id, DEVICES_T.c.enrol_hash == sha256(token))
                            .values(enrol_hash=None, enrol_expires_at=None, credential_hash=sha256(credential),
                                    enrolled_at=now, last_seen_at=now)).rowcount
        if not done:  # opened twice at once: the other request won
            return None
        audit.record(conn, f"device:{row.name}", "device.enrol", row.name, client=client[:64])
    return get(engine, row.name), credential


def revoke(engine: Engine, name: str, by: str = "cli") -> DeviceRow:
    row = get(engine, name)
    if row.state == "revoked":
        return row
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(update(DEVICES_T).where(DEVICES_T.c.id == row.id)
                     .values(revoked_at=now, enrol_hash=None, enrol_expires_at=None))
        audit.record(conn, by, "device.revoke", row.name)
    return get(engine, row.name)


def resolve(engine: Engine, credential: str, now: datetime | None = None) -> Principal | str | None:
    """The device's principal; "revoked" for a revoked device's credential; None when unknown."""
    if not credential or len(credential) > 200:
        return None
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        r = conn.execute(select(DEVICES_T.c.id, DEVICES_T.c.name, DEVICES_T.c.revoked_at, DEVICES_T.c.last_seen_at)
                         .where(DEVICES_T.c.credential_hash == sha256(credential))).first()
    if r is None:
        return None
    if r.revoked_at is not None:
        return "revoked"
    if r.last_seen_at is None or now - r.last_seen_at >= TOUCH_EVERY:
        with engine.begin() as conn:
            conn.execute(update(DEVICES_T).where(DEVICES_T.c.id == r.id).values(last_seen_at=now))
    return Principal(role=DEVICE, name=f"device:{r.name}", device_id=r.id)
