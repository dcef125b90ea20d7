"""Failed logins, counted in SQL so every web worker (and every machine behind one database)
sees the same counts (docs/security.md § Throttling).

Within WINDOW, a user name with USER_LIMIT failures, or a client address with CLIENT_LIMIT, is
refused without the password being checked until its oldest failure in the window is WINDOW old.
A successful login clears the user name's failures, not the address's."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from ioc.db import models as m

FAILURES = m.LoginFailure.__table__
WINDOW = timedelta(minutes=15)
USER_LIMIT = 5
CLIENT_LIMIT = 20
KEEP = timedelta(days=1)


def wait_seconds(engine: Engine, username: str, client: str, now: datetime | None = None) -> int:
    """0 when a login may be tried, else the seconds until it may."""
    now = now or datetime.now(timezone.utc)
    since = now - WINDOW
    waits = []
    with engine.connect() as conn:
        for column, value, limit in ((FAILURES.c.username, username[:100], USER_LIMIT),
                                     (FAILURES.c.client, client[:64], CLIENT_LIMIT)):
            count, oldest = conn.execute(select(func.count(), func.min(FAILURES.c.at))
                                         .where(column == value, FAILURES.c.at >= since)).one()
            if count >= limit:
                waits.append((oldest + WINDOW - now).total_seconds())
    return max(1, math.ceil(max(waits))) if waits else 0


def failed(engine: Engine, username: str, client: str, now: datetime | None = None) -> None:
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(FAILURES.insert().values(at=now, username=username[:100], client=client[:64]))
        conn.execute(delete(FAILURES).where(FAILURES.c.at < now - KEEP))


def succeeded(engine: Engine, username: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(FAILURES).where(FAILURES.c.username == username[:100]))

