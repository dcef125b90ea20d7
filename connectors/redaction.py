"""Quarantined payloads without personal data, stream addresses or credentials.

The quarantine keeps a refused record so an admin can see why it was refused; it does not
need who reported it. Before a payload is stored (connectors/quarantine.py) every field named
as personal data, a stream address or a secret (ioc/pii.py) becomes ``[redacted]`` at any
depth, and phone numbers, e-mail addresses, credentials in URLs and stream addresses are
masked inside every other text. The record's id and the reason stay. ``redact_stored`` does
the same to a payload already stored as text (migration 0007, ``ioc connectors quarantine
--redact``), including a truncated one that is no longer JSON.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ioc.pii import PERSON_FIELDS, REDACTED, STREAM_FIELDS, is_secret_field, scrub

_MAX_DEPTH = 50


def _sensitive(key: str) -> bool:
    low = key.lower()
    return low in PERSON_FIELDS or low in STREAM_FIELDS or low.endswith("_url") or is_secret_field(low)


def redact(payload: Any, _depth: int = 0) -> Any:
    """A copy of a raw upstream record with personal data, stream addresses and secrets removed."""
    if _depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(payload, dict):
        return {k: (REDACTED if isinstance(k, str) and _sensitive(k) and v not in (None, "")
                    else redact(v, _depth + 1)) for k, v in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [redact(v, _depth + 1) for v in payload]
    if isinstance(payload, str):
        return scrub(payload)
    return payload


# "key": "value" pairs of sensitive keys in a text that is no longer whole JSON (truncated)
_PAIR = re.compile(r'"([A-Za-z0-9_]{1,64})"\s*:\s*("(?:[^"\\]|\\.)*"?)')


def redact_stored(text: str | None) -> str | None:
    """A stored payload text redacted: parsed and redacted when it is JSON, else each
    sensitive ``"key": "value"`` pair and every pattern masked in place."""
    if not text:
        return text
    try:
        return orjson.dumps(redact(orjson.loads(text))).decode()
    except orjson.JSONDecodeError:
        pass

    def pair(m: re.Match) -> str:
        return f'"{m.group(1)}": "{REDACTED}"' if _sensitive(m.group(1)) else m.group(0)

    return scrub(_PAIR.sub(pair, text))


def redact_rows(conn) -> int:
    """Redact every stored quarantine payload and reason on a connection (migration 0007 once;
    ``ioc connectors quarantine --redact`` for rows written by an older version since).
    Plain table text so the migration does not depend on the ORM models. Returns rows changed."""
    import sqlalchemy as sa

    q = sa.table("quarantine", sa.column("id", sa.Integer), sa.column("payload", sa.Text),
                 sa.column("reason", sa.Text))
    changed = 0
    for rid, payload, reason in conn.execute(sa.select(q.c.id, q.c.payload, q.c.reason)).all():
        new, why = redact_stored(payload), scrub(reason)
        if (new, why) != (payload, reason):
            conn.execute(q.update().where(q.c.id == rid).values(payload=new, reason=why))
            changed += 1
    return changed


__all__ = ["redact", "redact_rows", "redact_stored"]
