"""An app of the product with access control on (a migrated SQLite database, Redis unreachable:
the checks run before any data is read) and one user of each role, per test module."""

from __future__ import annotations

import pytest

from ioc.auth.testing import ensure_user, sign_in

ROLES_USERS = {
    "admin": {},
    "operator": {},
    "leader": {},
    "sector": {"sectors": ("hotline", "cameras", "environment", "procedures")},
}


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory):
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.settings import load_settings
    from ioc.web.app import create_app

    tmp = tmp_path_factory.mktemp("auth")
    url = f"sqlite:///{tmp / 'ioc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    settings = load_settings(redis_url="redis://127.0.0.1:1/0", database_url=url, data_dir=tmp)
    for role, scope in ROLES_USERS.items():
        ensure_user(url, f"u-{role}", role, **scope)
    app = create_app(settings)
    app.server.test_client().get("/")  # Dash adds its pages' callbacks at the first request
    return app


@pytest.fixture(scope="module")
def clients(auth_app):
    """A signed-in test client per role, and one of nobody."""
    out = {"anonymous": auth_app.server.test_client()}
    for role in ROLES_USERS:
        c = auth_app.server.test_client()
        assert sign_in(c, f"u-{role}").status_code == 303
        out[role] = c
    return out


@pytest.fixture
def db_url_of(auth_app):
    return auth_app.server.config["IOC_SETTINGS"].effective_database_url
