"""Personal data in the read model: who may see it unmasked, the masking, and the access log.

A ticket's reporter (name, phone number, e-mail) and its exact address are shown **masked**
to everyone ("N. V. A.", "*******678", "***, Phường Cao Lãnh, tỉnh Đồng Tháp"; ioc/pii.py) and
its description (the reporter's own words) not at all; all of them **unmasked** only to a
principal with the ``pii`` permission and, for a sector user, the hotline sector (``may_reveal``)
who asks for it with a reason (``reveal_for``), and only for tickets of the principal's communes
(``log_access`` refuses the others before writing anything). Every unmasked view or export is
written to ``pii_access_log`` (who, when, which records, why) before the data leaves the read
model; admins read it (``access_log``, ``ioc audit list``); the app has no path that updates
or deletes it, and the database refuses both (migration 0007).

``Principal`` is what a request is allowed; the access-control layer (ioc/auth/) puts the
logged-in user's on ``flask.g.ioc_principal``; without one, a request is ``NOBODY``: no
personal data. docs/security.md § Personal data, § Audit of personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert, select

from ioc.auth.roles import ANONYMOUS, Principal
from ioc.db import models as m
from ioc.pii import mask_address, mask_email, mask_name, mask_phone

MIN_REASON = 5  # characters: "xác minh" is enough, "x" is not
MAX_REASON = 500
ADMIN = "admin"


# One principal type for the whole product: the access-control layer's (ioc/auth/roles.py).
NOBODY = ANONYMOUS
CLI = Principal(role=ADMIN, name="cli")  # a shell on the server: the operator who runs `ioc …`


class PiiDenied(PermissionError):
    """The principal may not see this (HTTP 403 with this one line)."""


def current_principal() -> Principal:
    """The request's principal (set by the access-control layer on ``flask.g.ioc_principal``),
    else NOBODY."""
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - flask is a dependency of the web app only
        return NOBODY
    if not has_request_context():
        return NOBODY
    return g.get("ioc_principal") or NOBODY


@dataclass(frozen=True)
class Reveal:
    """Permission, checked, to show personal data unmasked, and why."""

    principal: Principal
    reason: str


HOTLINE = "hotline"  # the sector whose records (1022 tickets) hold personal data


def may_reveal(principal: Principal) -> bool:
    """May this principal ask for personal data unmasked at all: a named person with ``pii``
    and, for a sector user, the hotline sector (the reporters are the hotline's)."""
    return (bool(principal.pii and principal.name)
            and (principal.role != "sector" or HOTLINE in principal.sectors))


def reveal_for(principal: Principal, requested: bool, reason: str | None) -> Reveal | None:
    """None (masked) unless unmasked data is requested; then the principal must pass
    ``may_reveal`` (PiiDenied) and give a reason (ValueError). Which records: ``log_access``."""
    if not requested:
        return None
    if not principal.pii or not principal.name:
        raise PiiDenied("showing personal data needs the pii permission")
    if not may_reveal(principal):
        raise PiiDenied("showing a 1022 reporter's personal data needs the hotline sector")
    why = " ".join(str(reason or "").split())
    if len(why) < MIN_REASON:
        raise ValueError(f"a reason (at least {MIN_REASON} characters) is required to show personal data")
    return Reveal(principal, why[:MAX_REASON])


def person(row, reveal: Reveal | None) -> dict:
    """A ticket's personal fields (``reporter_name``, ``reporter_phone``, ``reporter_email``,
    ``address``, ``description``) from a row or mapping: masked unless revealed, with
    ``masked`` saying which."""
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k, None))
    name, phone, email = get("reporter_name"), get("reporter_phone"), get("reporter_email")
    address, description = get("address"), get("description")
    if reveal is not None:
        return {"reporter_name": name, "reporter_phone": phone, "reporter_email": email, "address": address,
                "description": description, "masked": False}
    # the description is the reporter's own words (names, numbers, places): withheld whole
    return {"reporter_name": mask_name(name), "reporter_phone": mask_phone(phone), "reporter_email": mask_email(email),
            "address": mask_address(address), "description": None, "masked": True}


def log_access(engine, reveal: Reveal, *, action: str, surface: str, kind: str, ids: Sequence[str],
               communes: Sequence[str | None]) -> None:
    """One row of the access log, committed before the data is handed over (so an answer with
    personal data never exists without its row). ``communes``: those of the records shown; each
    must be one of the principal's (``Principal.commune_allowed``), else PiiDenied and no row."""
    outside = sorted({str(c) for c in communes if not reveal.principal.commune_allowed(c)})
    if outside:
        raise PiiDenied(f"personal data of commune {outside[0][:10]!r} is outside your communes")
    ids = [str(i) for i in ids]
    with engine.begin() as conn:
        conn.execute(insert(m.PiiAccess.__table__).values(
            at=datetime.now(timezone.utc), actor=str(reveal.principal.name)[:100],
            role=(reveal.principal.role or None) and str(reveal.principal.role)[:32], action=action[:16],
            surface=surface[:100], record_kind=kind[:32], record_ids=ids, record_count=len(ids),
            reason=reveal.reason))


def access_log(engine, principal: Principal, *, actor: str | None = None, since: datetime | None = None,
               limit: int = 100) -> list[dict]:
    """The newest entries of the access log (admins only: PiiDenied otherwise)."""
    if principal.role != ADMIN:
        raise PiiDenied("the personal-data access log is for admins")
    t = m.PiiAccess.__table__
    q = select(t).order_by(t.c.at.desc(), t.c.id.desc()).limit(max(1, min(int(limit), 10_000)))
    if actor:
        q = q.where(t.c.actor == actor)
    if since is not None:
        q = q.where(t.c.at >= since)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


__all__ = ["ADMIN", "CLI", "NOBODY", "PiiDenied", "Principal", "Reveal", "access_log", "current_principal",
           "log_access", "may_reveal", "person", "reveal_for"]
