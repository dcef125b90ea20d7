"""A database filled from the upstream simulator through the product's own connectors, for the
briefing tests and by hand (``python tests/briefings/world.py DIR``).

The simulator's clock is frozen at ``FROZEN_AT`` (10:00 on 25/11/2026 in Đồng Tháp), so the
day 24/11 and the week 18–24/11 are complete and the same seed always gives the same data."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

FROZEN_AT = "2026-11-25T03:00:00+00:00"
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
DAY = "2026-11-23"  # a Monday; the week is 17–23/11
HOTLINE_KEY = "sim-hotline-key"
CAMERA_TOKEN = "sim-camera-token"
HISTORY_DAYS = 16
COMMUNES_FILE = Path(__file__).resolve().parents[2] / "geo" / "data" / "communes_2025_dong_thap.geojson"
SOURCES = ("hotline", "cameras", "environment", "procedures")


def fill(sim, db_url: str, redis_url: str, data_dir: Path, history_days: int = HISTORY_DAYS,
         redis_prefix: str = "ioc"):
    """Poll every source once from ``sim`` into the database and Redis; run the KPI scheduler's
    alert rounds so that the alerts table holds episodes. Returns the settings used."""
    from connectors.registry import Runtime, make_locator
    from ioc.kpi.orchestrator import Orchestrator
    from ioc.settings import load_settings

    settings = load_settings(data_dir=data_dir, database_url=db_url, redis_url=redis_url,
                             hotline_url=sim.hotline_url, hotline_api_key=HOTLINE_KEY,
                             cameras_url=sim.cameras_url, cameras_token=CAMERA_TOKEN,
                             environment_url=sim.environment_url, procedures_url=sim.procedures_url,
                             redis_prefix=redis_prefix, log_level="WARNING")
    rt = Runtime(settings)
    import_communes(rt.engine)
    rt.locator = make_locator(rt.engine)
    since = sim.now() - timedelta(days=history_days)
    for source in SOURCES:
        res = rt.connector(source).poll_once(since=since)
        if not res.ok:
            raise RuntimeError(f"{source}: {res.error}")
    orch = Orchestrator(rt.engine, rt.store, settings)
    for _ in range(3):  # alerts are raised after two rounds
        orch.recompute(force=True)
    rt.engine.dispose()
    return settings


def import_communes(engine) -> None:
    """The 102 communes shipped in geo/data, as `ioc geo import` would."""
    from sqlalchemy.orm import Session

    from geo.boundaries import import_boundaries
    from geo.units import sync_units

    with Session(engine) as session:
        sync_units(session)
        import_boundaries(COMMUNES_FILE, session)
        session.commit()


if __name__ == "__main__":  # by hand: a world in DIR, with its own Redis
    import time

    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.redis_server import start_own_redis
    from simulator.testing import running_simulator

    out = Path(sys.argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{out / 'ioc.db'}"
    upgrade(make_engine(url))
    own = start_own_redis(out / "redis", port=None)
    t0 = time.monotonic()
    with running_simulator(history_days=HISTORY_DAYS, frozen=True, frozen_at=FROZEN_AT, seed=13, scale=0.3) as sim:
        fill(sim, url, own.url, out)
    print(f"filled {url} in {time.monotonic() - t0:.1f}s; redis {own.url} (left running, pid in {out}/redis)")
