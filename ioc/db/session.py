"""Engine and session factory: SQLite under IOC_DATA_DIR by default, PostgreSQL when configured."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from ioc.errors import UserError


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine, turning a malformed URL into one clear line."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(
            f"malformed database URL {url!r}: expected e.g. sqlite:///var/ioc.db or "
            "postgresql+psycopg://user@host/db (IOC_DATABASE_URL)"
        ) from None
    if parsed.drivername == "postgresql":  # psycopg 3 is the driver we ship
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                from pathlib import Path

                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    except (NoSuchModuleError, ArgumentError) as err:
        raise UserError(f"unsupported database URL {url!r}: {err} (IOC_DATABASE_URL)") from None
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the web workers read while a connector writes; NORMAL sync is safe with WAL.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
