"""Throw-away PostgreSQL databases for tests (IOC_TEST_DATABASE_URL names the server).

A module of its own, not conftest.py: several conftest modules exist and `from conftest
import …` would pick whichever pytest loaded first."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ioc.db.session import make_engine

PG_URL = os.environ.get("IOC_TEST_DATABASE_URL")


def pg_admin(statement: str) -> None:
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def create_pg_database(prefix: str = "ioc_test", *, fast: bool = False) -> str:
    """Create a database on the test server; returns its URL. `fast`: no fsync per commit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    if fast:
        pg_admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
