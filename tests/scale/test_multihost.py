"""Several hosts on one PostgreSQL and one Redis (docs/deployment.md § Several hosts).

1. Two of every process (web, connectors, `ioc kpi run`, `ioc briefing schedule`): each source
   is polled by one process at a time, once per interval (the SQL record of poll runs never
   overlaps nor comes back sooner than the interval allows); one KPI scheduler leads; the due
   briefing is made once; both web servers answer the same figures to a signed-in user.
2. A Sentinel failover while the connectors ingest: nothing is lost (SQL equals the
   simulator's own records; Redis's latest state equals SQL's) and the web's figures are fresh
   again by themselves, without a restart.

The simulator's clock is frozen: data appears only when the test moves it, so "SQL equals the
upstream" is an exact check."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import func, select

from multihost import INTERVALS, Hosts, PgDatabase, pg_server_url, signed_in, wait_until
from redis_nodes import start_sentinel_set

pytestmark = pytest.mark.slow
SIM_BEHIND = timedelta(minutes=20)  # as tests/browser: hourly AQI stays current
USER = "scale-admin"


@pytest.fixture(scope="module")
def sim():
    from connector_harness import fast_control
    from simulator.testing import running_simulator

    frozen_at = (datetime.now(timezone.utc) - SIM_BEHIND).replace(microsecond=0).isoformat()
    with running_simulator(mode="process", frozen=True, frozen_at=frozen_at, history_days=2, scale=0.2, seed=7) as s:
        fast_control(s)
        yield s


@pytest.fixture
def pg():
    db = PgDatabase(pg_server_url())
    db.create()
    yield db
    db.drop()


def _engine(url):
    from ioc.db.session import make_engine

    return make_engine(url)


def test_two_of_every_process_share_the_work(sim, pg, tmp_path):
    from ioc.auth.testing import ensure_user
    from ioc.db import models as m
    from ioc.live_store import SOURCES, LiveStore
    from ioc.redis_server import start_own_redis
    from multihost import free_port

    redis = start_own_redis(tmp_path / "redis", port=free_port())
    hosts = Hosts.make(tmp_path, pg.url, sim, {"IOC_REDIS_URL": redis.url}, IOC_BRIEFING_DAILY="00:00",
                       IOC_BRIEFING_WEEKLY="off", IOC_BRIEFING_CATCH_UP_DAYS="0")
    engine = _engine(pg.url)
    store = LiveStore.from_url(redis.url)
    try:
        hosts.start(web=2, connectors=2, kpi=2, briefings=2, briefing_args=("--every", "2"))
        hosts.wait_web()
        ensure_user(pg.url, USER, "admin")
        yesterday = (datetime.now(hosts_tz()) - timedelta(days=1)).date()

        def briefing_made():
            hosts.check_alive()
            with engine.connect() as c:
                return c.execute(select(func.count()).select_from(m.Briefing).where(
                    m.Briefing.last_day == yesterday, m.Briefing.status == "done")).scalar()

        wait_until(briefing_made, 100, 1.0, f"the daily briefing of {yesterday} made")
        started = time.monotonic()
        wait_until(lambda: hosts.check_alive() or time.monotonic() - started > 8, 20, 0.5, "8 s more of polling")

        # each source: one poller at a time, never sooner than the interval allows
        with engine.connect() as c:
            runs = c.execute(select(m.SourceRun.source, m.SourceRun.started_at, m.SourceRun.finished_at)
                             .order_by(m.SourceRun.started_at)).all()
        for source in SOURCES:
            mine = [(s, f) for src, s, f in runs if src == source]
            assert len(mine) >= 3, f"{source}: only {len(mine)} polls"
            gaps = [(b[0] - a[1]).total_seconds() for a, b in zip(mine, mine[1:])]
            # the next poll is scheduled interval × 0.9–1.1 after the last ended; a second poller
            # polling too would leave a gap near 0 or a negative one (an overlap)
            assert min(gaps) >= 0.9 * INTERVALS[source] - 0.05, (source, [round(g, 2) for g in gaps])

        # the KPI schedulers: one leads, the other stands by
        leads = [n for n in ("kpi-a", "kpi-b") if "leads (lease" in hosts.logs(n)]
        assert len(leads) == 1, leads
        assert store.lease_holder("kpi")
        with engine.connect() as c:
            dup = c.execute(select(m.Alert.key).where(m.Alert.state == "active").group_by(m.Alert.key)
                            .having(func.count() > 1)).all()
        assert not dup, f"alerts raised twice: {dup}"

        # the briefing: one row for its slot, made by one of the two schedulers
        with engine.connect() as c:
            rows = c.execute(select(m.Briefing.status).where(m.Briefing.kind == "daily",
                                                             m.Briefing.last_day == yesterday)).all()
        assert [r.status for r in rows] == ["done"], rows
        made = [n for n in ("briefings-a", "briefings-b") if f"briefing day:{yesterday}" in hosts.logs(n)
                and "made" in hosts.logs(n)]
        assert len(made) == 1, made

        # the two web servers: a session made on one works on the other; same figures from both
        a_url, b_url = hosts.web_urls()
        with signed_in(a_url, USER) as a:
            b = a.__class__(base_url=b_url, cookies=a.cookies, timeout=30)

            def same_answer():
                first = orjson.loads(a.get("/api/views/wall", params={"lang": "vi"}).content)
                other = orjson.loads(b.get("/api/views/wall", params={"lang": "vi"}).content)
                again = orjson.loads(a.get("/api/views/wall", params={"lang": "vi"}).content)
                return first == again and first == other and first

            answer = wait_until(same_answer, 30, 0.5, "the same /api/views/wall from both web servers")
            assert answer["panels"]["tiles"] and b.get("/api/views/versions").json()["versions"]["tiles"]
            b.close()
    except BaseException:
        hosts.dump_logs()
        raise
    finally:
        hosts.stop()
        store.r.close()
        engine.dispose()
        redis.stop()


def hosts_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")


def test_sentinel_failover_during_ingest_loses_nothing(sim, pg, tmp_path):
    import connector_harness as h
    from ioc.db import models as m
    from ioc.live_store import LiveStore
    from ioc.settings import load_settings

    sset = start_sentinel_set(tmp_path / "sentinel")
    redis_env = {"IOC_REDIS_SENTINELS": sset.addresses, "IOC_REDIS_SENTINEL_MASTER": sset.name}
    hosts = Hosts.make(tmp_path, pg.url, sim, redis_env)
    engine = _engine(pg.url)
    store = LiveStore.for_settings(load_settings(redis_sentinels=sset.addresses, redis_sentinel_master=sset.name,
                                                 redis_prefix="ioc"))
    try:
        hosts.start(web=1, connectors=2, kpi=1)
        hosts.wait_web()
        ensure_fresh = _fresh_checker(hosts, store)
        wait_until(ensure_fresh, 90, 1.0, "fresh figures before the failover")

        # ingest: the upstream moves 90 s every second (18 min in all: it stays behind the wall
        # clock, so nothing is refused as from the future); the master is switched mid-way
        old_port = None
        for step in range(12):
            sim.advance(0.025)
            if step == 4:
                old_port = sset.failover()
                failed_over_at = datetime.now(timezone.utc)
            time.sleep(1.0)
        new_port = sset.wait_promoted(old_port)
        last_move = datetime.now(timezone.utc)
        hosts.check_alive()  # nothing crashed

        def polled_since_last_move():
            with engine.connect() as c:
                got = dict(c.execute(select(m.SourceRun.source, func.count()).where(
                    m.SourceRun.started_at > last_move, m.SourceRun.ok.is_(True)).group_by(m.SourceRun.source)).all())
            return all(got.get(s, 0) >= 1 for s in INTERVALS)

        wait_until(polled_since_last_move, 60, 0.5, "a poll of every source after the upstream's last move")
        h._truth.clear()
        h.assert_hotline_reconciled(sim, engine)
        # cameras: status and its change time (`last_seen` is a heartbeat the incremental read
        # does not follow; tests/connectors checks it after full reads)
        up = h.upstream_cameras.uncached(sim)
        ours = {c.id: (c.status, h.aware(c.updated_at)) for c in h.sql_rows(engine, m.Camera)}
        assert ours == {i: (c["status"], h.utc(c["updated_at"])) for i, c in up.items()}
        h.assert_procedures_reconciled(sim, engine, waits=False)
        assert sset.master_port() == new_port != old_port

        def latest_matches_sql():
            for source in ("hotline", "cameras", "procedures", "environment"):
                h.assert_latest_matches_sql(source, engine, store)
            return True

        # a connector that takes a source over refills Redis from SQL at once and one lease TTL
        # (≤ 4.5 s here) later; the last error is in the message if it never does
        wait_until(latest_matches_sql, 20, 1.0, "Redis latest equal to SQL's latest state")

        # the web recovers by itself: fresh figures from a snapshot made after the failover
        t0 = time.monotonic()
        wait_until(lambda: ensure_fresh(after=failed_over_at), 60, 0.5, "fresh figures after the failover")
        print(f"figures fresh again {time.monotonic() - t0:.1f} s after the connectors caught up")
    except BaseException:
        hosts.dump_logs()
        with engine.connect() as c:  # what the connectors set aside, to tell a loss from a refusal
            print(c.execute(select(m.QuarantineRecord.source, m.QuarantineRecord.record_id,
                                   m.QuarantineRecord.reason)).all())
        raise
    finally:
        hosts.stop()
        store.r.close()
        engine.dispose()
        sset.stop()


def _fresh_checker(hosts, store):
    """The web's own view of freshness (``/api/views/versions``: every source and the snapshot
    fresh) and, with ``after``, a snapshot generated after that moment."""
    client = signed_in_lazy(hosts)

    def check(after: datetime | None = None) -> bool:
        hosts.check_alive()
        badges = client().get("/api/views/versions").json()["versions"]["badges"]
        if not badges.startswith("fresh|fresh,fresh,fresh,fresh|"):
            return False
        if after is None:
            return True
        meta = store.view_versions().get("meta")
        return bool(meta) and datetime.fromisoformat(meta) > after

    return check


def signed_in_lazy(hosts):
    from ioc.auth.testing import ensure_user

    held = {}

    def get():
        if "c" not in held:
            ensure_user(hosts.env["IOC_DATABASE_URL"], USER, "admin")
            held["c"] = signed_in(hosts.web_urls()[0], USER)
        return held["c"]

    return get
