"""A world made once per module from the upstream simulator through the connectors (see
world.py): SQLite, the session's redis-server, and the environment for `ioc` subprocesses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from world import FROZEN_AT, HISTORY_DAYS, fill  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory, redis_server):
    """(settings, env) of a database filled from a frozen simulator."""
    import redis

    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.kpi import periods
    from simulator.testing import running_simulator

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    periods.clear_cache()
    d = tmp_path_factory.mktemp("briefing-world")
    url = f"sqlite:///{d / 'ioc.db'}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    with running_simulator(history_days=HISTORY_DAYS, frozen=True, frozen_at=FROZEN_AT, seed=13, scale=0.3) as sim:
        settings = fill(sim, url, redis_server.url, d)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({"IOC_DATA_DIR": str(d), "IOC_DATABASE_URL": url, "IOC_REDIS_URL": redis_server.url,
                "IOC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
    yield settings, env
    periods.clear_cache()


@pytest.fixture
def views(world):
    from ioc.views.read import ReadModel

    settings, _env = world
    rm = ReadModel.from_settings(settings)
    yield rm
    rm.store.r.close()
