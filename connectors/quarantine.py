"""The quarantine: upstream records refused at the boundary, one row per record.

A record's identity is its source, its kind (ticket, camera, thing, datastream, observation,
procedure, dossier: SensorThings numbers Things and Observations separately, so an id alone
is ambiguous within a source) and its upstream id; a record without a usable id is known by
a SHA-256 digest of its raw payload (keys sorted). ``record_key`` holds ``kind:id`` or
``kind:sha256:<hex>`` and (source, record_key) is unique, so a broken record that stays
broken updates its one row (reason, payload, last seen, times seen) at each poll instead of
adding another.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ioc.db import models as m

MAX_PAYLOAD = 2_000  # characters of a quarantined record kept for admins
KEY_CHUNK = 500  # keys per IN (...) lookup


@dataclass
class Quarantined:
    record_id: str | None
    reason_code: str
    reason: str
    payload: Any
    kind: str  # ticket | camera | thing | datastream | observation | procedure | dossier


def truncate_payload(payload: Any) -> str:
    """A safe, bounded text copy of a raw record for the quarantine."""
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
    rid = usable_id(q.record_id)
    return f"{q.kind}:{rid}" if rid is not None else f"{q.kind}:sha256:{payload_digest(q.payload)}"


def store(session: Session, source: str, items: list[Quarantined], now: datetime, counted: set[str]) -> Counter:
    """Upsert a batch's quarantined records in the caller's transaction.

    ``counted`` holds the keys this poll has already counted (updated here): a record read
    twice in one poll (a window page and the open-ticket list) is one more poll that saw it,
    not two. Returns the change of the per-(reason_code) record counts (+1 for a new record,
    −1/+1 when a known record's reason changed), for Redis's ``quarantine:counts``."""
    latest: dict[str, Quarantined] = {}
    for q in items:
        latest[record_key(q)] = q  # the same record twice in a batch: its last copy
    if not latest:
        return Counter()
    table = m.QuarantineRecord.__table__
    keys = list(latest)
    known: dict[str, str] = {}
    for i in range(0, len(keys), KEY_CHUNK):
        rows = session.execute(select(table.c.record_key, table.c.reason_code).where(
            table.c.source == source, table.c.record_key.in_(keys[i:i + KEY_CHUNK])))
        known.update({k: r for k, r in rows})
    delta: Counter = Counter()
    values = []
    for key, q in latest.items():
        code = q.reason_code[:64]
        if key not in known:
            delta[code] += 1
        elif known[key] != code:
            delta[known[key]] -= 1
            delta[code] += 1
        values.append({"source": source, "record_key": key, "record_id": usable_id(q.record_id),
                       "reason_code": code, "reason": q.reason[:1000], "payload": truncate_payload(q.payload),
                       "first_seen_at": now, "last_seen_at": now,
                       "times_seen": 0 if key in counted and key in known else 1})
        counted.add(key)
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    session.execute(insert.on_conflict_do_update(
        index_elements=[table.c.source, table.c.record_key],
        set_={"record_id": insert.excluded.record_id, "reason_code": insert.excluded.reason_code,
              "reason": insert.excluded.reason, "payload": insert.excluded.payload,
              "last_seen_at": insert.excluded.last_seen_at,
              "times_seen": table.c.times_seen + insert.excluded.times_seen}), values)
    return Counter({k: v for k, v in delta.items() if v})


__all__ = ["MAX_PAYLOAD", "Quarantined", "payload_digest", "record_key", "store", "truncate_payload", "usable_id"]
