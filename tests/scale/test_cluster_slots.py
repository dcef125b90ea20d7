"""Every multi-key command, transaction and script of the product touches one hash slot, so it
runs on Redis Cluster (docs/data-model.md § Redis Cluster slots).

Against a real redis-server in cluster mode owning all 16384 slots, used with a plain client:
it runs single-key commands as any Redis does and refuses with CROSSSLOT what a cluster
refuses. The product swallows Redis errors in places (connectors keep ingesting into SQL), so
besides checking the results, each test reads the server's own count of CROSSSLOT refusals
(INFO errorstats), which must stay 0."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from ioc.live_store import SOURCES, Change, LiveStore
from redis_nodes import cleanup, crossslot_errors, start_cluster_node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    d = tmp_path_factory.mktemp("cluster")
    n = start_cluster_node(d)
    yield n
    n.stop()
    cleanup(d)


@pytest.fixture
def store(node):
    c = node.client()
    c.flushall()
    c.config_resetstat()
    s = LiveStore.from_url(node.url, prefix="ioc")
    yield s
    s.r.close()


def test_the_server_refuses_what_a_cluster_refuses(node, store):
    """The check can fail: a transaction across two slots (what `_flush` did before) is refused."""
    pipe = store.r.pipeline(transaction=True)
    pipe.incr(store.key("source_version", "hotline"))
    pipe.incr(store.key("version"))
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    with pytest.raises(redis.ResponseError, match="same slot"):  # CROSSSLOT
        store.r.mget(["ioc:a", "ioc:b"])
    assert crossslot_errors(node) >= 2


def test_live_store_paths_use_one_slot_each(node, store):
    changes = [Change(f"T{i}", {"id": f"T{i}", "n": i}, "new", "2026-11-25T03:00:00Z") for i in range(30)]
    assert store.apply_changes("hotline", changes, chunk=7) == 30
    store.apply_changes("hotline", [Change("T1", {}, "removed", "2026-11-25T03:01:00Z")])
    assert store.latest_count("hotline") == 29
    store.replace_latest("cameras", {"C1": {"status": "online"}, "C2": {"status": "offline"}})
    store.replace_latest("environment", {})
    assert store.latest("cameras") == {"C1": {"status": "online"}, "C2": {"status": "offline"}}
    assert store.version() == 8  # 5 chunks of 7 + 1 removal on hotline, 2 rebuilds: once each
    store.bump_version("procedures")
    store.set_health("hotline", {"state": "fresh"})
    assert store.all_health()["hotline"] == {"state": "fresh"}
    store.set_cursor("hotline", "2026-11-25T03:00:00Z")
    store.count_quarantined({("hotline", "invalid_lat"): 2, ("cameras", "unparseable"): 1})
    assert store.quarantine_counts() == {"hotline:invalid_lat": 2, "cameras:unparseable": 1}
    assert len(store.recent_events("hotline", 5)) == 5
    for owner in (*SOURCES, "kpi"):
        assert store.acquire_lease(owner, "a", 5000) and not store.acquire_lease(owner, "b", 5000)
        store.release_lease(owner, "a")
        assert store.lease_holder(owner) is None
    store.set_snapshot({"data_version": 3}, 3)
    assert store.snapshot() == {"data_version": 3} and store.snapshot_version() == 3
    store.set_alerts({"aqi:S1": {"severity": "warning"}})
    store.set_alerts({})
    store.publish_views({"tiles": b'{"a":1}', "map": b'{"b":2}'}, {"tiles": "d1", "map": "d2", "meta": "now"})
    assert store.views("tiles", "map", "focus") == [{"a": 1}, {"b": 2}, None]
    assert store.view_versions() == {"tiles": "d1", "map": "d2", "meta": "now"}
    store.sample_series({"hotline": 3.0, "cameras": 95.5}, minute=1000, keep_minutes=60)
    assert store.series(["hotline", "cameras"], 0) == {"hotline": [(1000, 3.0)], "cameras": [(1000, 95.5)]}
    store.period_cache_set("abc", b"{}", 60)
    assert store.period_cache_get("abc") == b"{}"
    assert crossslot_errors(node) == 0


def test_connectors_kpi_scheduler_and_briefing_locks_on_a_cluster(node, store, tmp_path):
    """The product's own paths end to end: every source polled from the simulator into SQL and
    Redis, the KPI scheduler's rounds (snapshot, alerts, views) and its lease, the briefing
    scheduler's slot and mail locks."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "briefings"))
    from world import FROZEN_AT, fill  # the briefing tests' world: connectors + KPI rounds

    from connectors.registry import Runtime
    from ioc.briefings.scheduler import LOCK_TTL, Scheduler
    from ioc.kpi.orchestrator import Orchestrator
    from ioc.views.read import ReadModel
    from simulator.testing import running_simulator
    from sqlalchemy.orm import Session

    url = f"sqlite:///{tmp_path / 'ioc.db'}"
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine

    upgrade(make_engine(url))
    with running_simulator(history_days=3, frozen=True, frozen_at=FROZEN_AT, seed=5, scale=0.2) as sim:
        settings = fill(sim, url, node.url, tmp_path, history_days=2)
    rt = Runtime(settings)
    for source in SOURCES:  # what the connectors mirrored is what SQL holds
        import importlib

        with Session(rt.engine) as s:
            sql = importlib.import_module(f"connectors.{source}").live_from_sql(s)
        assert sql and rt.store.latest(source) == {k: _json(v) for k, v in sql.items()}, source
        assert rt.store.health(source).get("last_success"), source
    orch = Orchestrator(rt.engine, rt.store, settings)
    assert orch.hold_lease("host-a") and not Orchestrator(rt.engine, rt.store, settings).hold_lease("host-b")
    assert orch.recompute(force=True)
    views = ReadModel(rt.store, settings, engine=rt.engine)
    assert views.store.view_versions().get("meta") and views.versions()["tiles"]
    sched = Scheduler(views, daily=None, weekly=None)
    assert sched._acquire("day:2026-11-24", LOCK_TTL) and not Scheduler(views, daily=None, weekly=None)._acquire(
        "day:2026-11-24", LOCK_TTL)
    sched._release("day:2026-11-24")
    assert sched._acquire("mail:7", timedelta(minutes=5))
    sched._release("mail:7")
    assert rt.store.r.get(sched._lock("mail:7")) is None
    assert crossslot_errors(node) == 0
    rt.engine.dispose()


def _json(value):
    import orjson

    return orjson.loads(orjson.dumps(value))
