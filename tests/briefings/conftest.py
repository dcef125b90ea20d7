"""One world per session, a private copy per module.

The world (world.py: the frozen simulator polled through the connectors, then the KPI
scheduler's alert rounds) takes ≈ 15 s to make, so it is made once per session as a template:
its SQLite file and its Redis keys (prefix ``tpl``, kept as DUMP blobs in memory so a later
FLUSHALL of the shared redis-server cannot lose them). Each test module gets its own copy
(the file copied, the keys restored under its own prefix, its own data folder): a module's
briefings, failed rows and scheduler locks never reach another module's, and a copy costs
well under a second."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from world import FROZEN_AT, HISTORY_DAYS, fill  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PREFIX = "tpl"
_copies = itertools.count(1)


@dataclass(frozen=True)
class Template:
    db_file: Path
    redis_keys: dict[bytes, tuple[bytes, int]]  # key (with the template's prefix) → (DUMP, PTTL or 0)


@pytest.fixture(scope="session")
def briefing_template(tmp_path_factory, redis_server) -> Template:
    """The world, made once: a database filled from a frozen simulator, and its Redis state."""
    import redis

    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from simulator.testing import running_simulator

    d = tmp_path_factory.mktemp("briefing-template")
    url = f"sqlite:///{d / 'ioc.db'}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    client = redis.Redis.from_url(redis_server.url)
    for k in client.scan_iter(f"{TEMPLATE_PREFIX}:*"):
        client.delete(k)
    with running_simulator(history_days=HISTORY_DAYS, frozen=True, frozen_at=FROZEN_AT, seed=13, scale=0.3) as sim:
        fill(sim, url, redis_server.url, d, redis_prefix=TEMPLATE_PREFIX)
    keys = {}
    for k in client.scan_iter(f"{TEMPLATE_PREFIX}:*"):
        ttl = client.pttl(k)
        keys[k] = (client.dump(k), max(ttl, 0))
    client.close()
    return Template(d / "ioc.db", keys)


@pytest.fixture(scope="module")
def world(briefing_template, tmp_path_factory, redis_server):
    """(settings, env) of this module's copy of the world."""
    import redis

    from ioc.kpi import periods
    from ioc.settings import load_settings

    n = next(_copies)
    prefix = f"bw{n}"
    d = tmp_path_factory.mktemp(f"briefing-world-{n}")
    shutil.copyfile(briefing_template.db_file, d / "ioc.db")
    client = redis.Redis.from_url(redis_server.url)
    for k in client.scan_iter(f"{prefix}:*"):
        client.delete(k)
    for k, (blob, ttl) in briefing_template.redis_keys.items():
        client.restore(prefix.encode() + k[len(TEMPLATE_PREFIX):], ttl, blob, replace=True)
    client.close()
    periods.clear_cache()
    url = f"sqlite:///{d / 'ioc.db'}"
    settings = load_settings(data_dir=d, database_url=url, redis_url=redis_server.url, redis_prefix=prefix,
                             log_level="WARNING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({"IOC_DATA_DIR": str(d), "IOC_DATABASE_URL": url, "IOC_REDIS_URL": redis_server.url,
                "IOC_REDIS_PREFIX": prefix, "IOC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
    yield settings, env
    periods.clear_cache()


@pytest.fixture
def views(world):
    from ioc.views.read import ReadModel

    settings, _env = world
    rm = ReadModel.from_settings(settings)
    yield rm
    rm.store.r.close()

