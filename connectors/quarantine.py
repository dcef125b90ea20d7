"""The quarantine: upstream records refused at the boundary, one row per record.

A record's identity is its source, its kind (ticket, camera, thing, datastream, observation,
procedure, dossier: SensorThings numbers Things and Observations separately, so an id alone
is ambiguous within a source) and its upstream id; a record without a usable id is known by
a SHA-256 digest of its **redacted** payload (keys sorted). ``record_key`` holds ``kind:id`` or
``kind:sha256:<hex>`` and (source, record_key) is unique, so a broken record that stays
broken updates its one row (reason, payload, last seen, times seen) at each poll instead of
adding another.

Payloads are kept redacted (connectors/redaction.py): no reporter's name, phone, e-mail or
address, no camera stream address, no credential — the id and the reason say what was refused
and why. The digest of a record without an id is taken from the redacted payload, never the
raw one: a digest of a payload holding a phone number would let anyone with the table confirm
a guessed number by hashing guesses. So two records that differ only in personal data are one
row (the last one seen). Keys made from raw payloads before are rewritten (``rekey_rows``,
migration 0009).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.redaction import redact
from ioc.db import models as m
from ioc.pii import scrub

MAX_PAYLOAD = 2_000  # characters of a quarantined record kept for admins


@dataclass
class Quarantined:
    record_id: str | None
    reason_code: str
    reason: str
    payload: Any
    kind: str  # ticket | camera | thing | datastream | observation | procedure | dossier


def truncate_payload(payload: Any) -> str:
    """A safe, bounded, redacted text copy of a raw record for the quarantine."""
    payload = redact(payload)
    try:
        text = orjson.dumps(payload, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(payload)
    return text if len(text) <= MAX_PAYLOAD else text[:MAX_PAYLOAD] + f"… [{len(text)} chars]"


def payload_digest(payload: Any) -> str:
    """SHA-256 of the raw payload with its keys sorted (the same record in another key order
    is the same record)."""
    try:
        text = orjson.dumps(payload, default=str, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        text = repr(payload).encode()
    return hashlib.sha256(text).hexdigest()


def usable_id(record_id) -> str | None:
    """The upstream id as text, or None when there is none worth keying on."""
    if record_id is None or isinstance(record_id, bool) or not isinstance(record_id, (str, int)):
        return None
    text = str(record_id).strip()
    return text[:200] or None


def record_key(q: Quarantined) -> str:
    """``kind:id``, or ``kind:sha256:<digest of the redacted payload>`` for a record without an id."""
    rid = usable_id(q.record_id)
    return f"{q.kind}:{rid}" if rid is not None else f"{q.kind}:sha256:{payload_digest(redact(q.payload))}"


DIGEST_MARK = ":sha256:"


def stored_digest_key(record_key_: str, payload: str | None) -> str:
    """The key a stored row without an id gets now, from its stored (redacted, maybe truncated)
    payload: the digest ``record_key`` makes of the same record when it is whole JSON."""
    kind = record_key_.split(DIGEST_MARK, 1)[0]
    try:
        data = redact(orjson.loads(payload or ""))
    except orjson.JSONDecodeError:  # truncated: the stored text is all there is
        from connectors.redaction import redact_stored

        return f"{kind}{DIGEST_MARK}{hashlib.sha256((redact_stored(payload) or '').encode()).hexdigest()}"
    return f"{kind}{DIGEST_MARK}{payload_digest(data)}"


def rekey_rows(conn) -> int:
    """Give every stored row keyed by a digest the key of its redacted payload (rows keyed from
    raw payloads before: migration 0009, and ``ioc connectors quarantine --redact``); rows that
    become one record are merged (first and last seen, times seen added up, the newest payload).
    Plain table text so the migration does not depend on the ORM models. Returns rows changed."""
    import sqlalchemy as sa

    from ioc.db.types import UTCDateTime

    q = sa.table("quarantine", sa.column("id", sa.Integer), sa.column("source", sa.String),
                 sa.column("record_key", sa.String), sa.column("payload", sa.Text),
                 sa.column("first_seen_at", UTCDateTime()), sa.column("last_seen_at", UTCDateTime()),
                 sa.column("times_seen", sa.Integer))
    rows = conn.execute(sa.select(q).where(q.c.record_key.contains(DIGEST_MARK, autoescape=True))).all()
    groups: dict[tuple[str, str], list] = {}
    for r in rows:
        groups.setdefault((r.source, stored_digest_key(r.record_key, r.payload)), []).append(r)
    changed = 0
    for (_source, key), same in groups.items():
        if len(same) == 1 and same[0].record_key == key:
            continue
        keep = max(same, key=lambda r: (r.last_seen_at, r.id))
        others = [r.id for r in same if r.id != keep.id]
        if others:
            conn.execute(q.delete().where(q.c.id.in_(others)))
        conn.execute(q.update().where(q.c.id == keep.id).values(
            record_key=key, first_seen_at=min(r.first_seen_at for r in same),
            times_seen=sum(r.times_seen or 0 for r in same)))
        changed += len(same)
    return changed


def store(session: Session, source: str, items: list[Quarantined], now: datetime, counted: set[str]) -> None:
    """Upsert a batch's quarantined records in the caller's transaction.

    ``counted`` holds the keys this poll has already stored (updated here): a record read
    twice in one poll (a window page and the open-ticket list) is one more poll that saw it,
    not two, so only its first sighting in a poll adds to ``times_seen``."""
    latest: dict[str, Quarantined] = {}
    for q in items:
        latest[record_key(q)] = q  # the same record twice in a batch: its last copy
    first, again = [], []
    for key, q in latest.items():
        (again if key in counted else first).append(
            {"source": source, "record_key": key, "record_id": usable_id(q.record_id),
             "reason_code": q.reason_code[:64], "reason": scrub(q.reason)[:1000], "payload": truncate_payload(q.payload),
             "first_seen_at": now, "last_seen_at": now, "times_seen": 1})
        counted.add(key)
    table = m.QuarantineRecord.__table__
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    for rows, seen in ((first, table.c.times_seen + 1), (again, table.c.times_seen)):
        if rows:
            session.execute(insert.on_conflict_do_update(
                index_elements=[table.c.source, table.c.record_key],
                set_={"record_id": insert.excluded.record_id, "reason_code": insert.excluded.reason_code,
                      "reason": insert.excluded.reason, "payload": insert.excluded.payload,
                      "last_seen_at": insert.excluded.last_seen_at, "times_seen": seen}), rows)


def counts(session: Session, source: str) -> dict[str, int]:
    """Quarantined records of a source by reason code, as SQL holds them."""
    t = m.QuarantineRecord.__table__
    return dict(session.execute(select(t.c.reason_code, func.count()).where(t.c.source == source)
                                .group_by(t.c.reason_code)).all())


__all__ = ["MAX_PAYLOAD", "Quarantined", "counts", "payload_digest", "record_key", "rekey_rows", "store",
           "stored_digest_key", "truncate_payload", "usable_id"]
