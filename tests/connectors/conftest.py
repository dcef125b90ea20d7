"""Fixtures of the connector acceptance tests.

* `locator`: the spatial assigner over the shared boundary files (built once).
* `mdb`: one migrated database per test module and dialect (SQLite; PostgreSQL when
  IOC_TEST_DATABASE_URL is set); `db` empties its data tables before each test, which is
  much faster than migrating a fresh database per test.
* `store`: a LiveStore on the session's real redis-server, flushed per test.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from connector_harness import truncate
from pgtools import PG_URL, create_pg_database, drop_pg_database
from ioc.db.migrate import upgrade
from ioc.db.session import make_engine
from ioc.live_store import LiveStore

@pytest.fixture(scope="module", autouse=True)
def _one_ssl_context():
    """httpx loads the CA bundle (~30 ms) for every Client it builds; these tests build
    hundreds (plain http to 127.0.0.1 all of them), so they share one default context."""
    import httpx._transports.default as transport

    original = transport.create_ssl_context
    shared = {}

    def cached(verify=True, cert=None, trust_env=True):
        if verify is True and cert is None:
            if "ctx" not in shared:
                shared["ctx"] = original(verify=True, trust_env=trust_env)
            return shared["ctx"]
        return original(verify=verify, cert=cert, trust_env=trust_env)

    transport.create_ssl_context = cached
    yield
    transport.create_ssl_context = original


@pytest.fixture(scope="session")
def locator():
    from geo.assign import SpatialAssigner, default_boundary_paths
    from ioc.settings import load_settings

    paths = default_boundary_paths(load_settings())
    if not paths:
        pytest.skip("no boundary files: outside_province cannot be checked")
    return SpatialAssigner.from_files(paths)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def mdb(request, tmp_path_factory):
    """(url, engine) of a migrated database shared by one module's tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'ioc.db'}"
    else:
        if not PG_URL:
            pytest.skip("IOC_TEST_DATABASE_URL not set: no PostgreSQL for this run")
        url = create_pg_database("ioc_conn", fast=True)
    engine = make_engine(url)
    upgrade(engine)
    yield url, engine
    engine.dispose()
    if make_url(url).get_backend_name() == "postgresql":
        drop_pg_database(url)


@pytest.fixture
def db(mdb):
    url, engine = mdb
    truncate(engine)
    return engine


@pytest.fixture
def db_url_shared(mdb):
    url, engine = mdb
    truncate(engine)
    return url


@pytest.fixture
def store(redis_url):
    s = LiveStore.from_url(redis_url, prefix="ioc")
    yield s
    s.r.close()
