"""Drill 2 — PostgreSQL restarted under the product.

    .venv/bin/python -m bench.drills.postgres_restart [--mode immediate|fast] [--json FILE]

An own PostgreSQL cluster (``initdb`` into a temp dir as the ``postgres`` user, trust auth,
its own port: bench/drills/stack.py ``OwnPostgres``) holds the product's history; the
product runs on it with the simulator at 60×, polls every 3–5 s. Then:

1. ingest for ``--before`` seconds;
2. ``pg_ctl stop -m immediate`` (a crash: no checkpoint, WAL replay at start; ``-m fast`` for
   an orderly one), ``--down`` seconds down (default 10: the connectors' polls meet it, so it
   happens under load; ``--down 0`` is a plain ``pg_ctl restart``), ``pg_ctl start``;
3. time until every source has recorded a successful poll that started after the restart
   (``source_runs`` in SQL) and ``/healthz`` answers 200 — ingest continues;
4. freeze the simulator's clock and reconcile SQL with its records: nothing lost, nothing
   twice (an in-flight batch is rolled back with its cursor, so the next poll reads it again);
5. no process we started died (connectors, KPI scheduler, web).

Recovery target: 30 s — one failed poll's back-off (≤ 2 intervals here) plus one poll
after the restart, with room for a busy machine; the restart itself is timed separately.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.drills.reconcile import settle, totals  # noqa: E402
from bench.drills.stack import SOURCES, DrillAborted, OwnPostgres, Stack, bounded, report, say  # noqa: E402
from bench.results import Figure, add_json_arg, write_json  # noqa: E402

RECOVERY_TARGET_S = 30.0


def polls_since(url: str, since: datetime) -> dict[str, int]:
    """Successful polls per source that started after ``since`` (the SQL record of runs)."""
    from sqlalchemy import func, select

    from ioc.db import models as m
    from ioc.db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(select(m.SourceRun.source, func.count()).where(m.SourceRun.ok.is_(True),
                                                                            m.SourceRun.started_at > since)
                             .group_by(m.SourceRun.source)).all()
        return dict(rows)
    finally:
        engine.dispose()


def polls_failed(url: str, since: datetime) -> int:
    """Failed polls recorded after ``since`` (a poll that met the outage records itself once
    the database is back, or logs that it could not)."""
    from sqlalchemy import func, select

    from ioc.db import models as m
    from ioc.db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return int(c.scalar(select(func.count()).where(m.SourceRun.ok.is_(False),
                                                            m.SourceRun.finished_at > since)) or 0)
    finally:
        engine.dispose()


def run(a) -> list[Figure]:
    pg = OwnPostgres()
    stack = None
    figures: list[Figure] = []
    try:
        with bounded(a.timeout):
            say(f"drill 2: PostgreSQL restarted (-m {a.mode}) under the product")
            pg.init()
            pg.start()
            say(f"  own PostgreSQL on 127.0.0.1:{pg.port} (data {pg.data})")
            stack = Stack(database_url=pg.url, history_days=2, speed=60, replay_hours=6)
            stack.start()
            time.sleep(a.before)
            t = time.monotonic()
            stopped = datetime.now(timezone.utc)
            pg.restart(a.mode, a.down)
            restart_s = time.monotonic() - t
            restarted = datetime.now(timezone.utc)  # polls counted as "back" start after this
            say(f"  PostgreSQL stopped (-m {a.mode}), {a.down:g} s down, started again: {restart_s:.1f} s in all")
            t0 = time.monotonic()
            healthy = sources_back = None
            while time.monotonic() - t0 < a.recover_timeout and (healthy is None or sources_back is None):
                try:
                    if healthy is None and stack.get("/healthz").status_code == 200:
                        healthy = time.monotonic() - t0
                    if sources_back is None and all(polls_since(pg.url, restarted).get(s) for s in SOURCES):
                        sources_back = time.monotonic() - t0
                except Exception:  # noqa: BLE001 - still restarting
                    pass
                time.sleep(0.5)
            def secs(x):
                return "never" if x is None else f"{x:.1f} s"

            say(f"  after the restart: /healthz 200 after {secs(healthy)}; every source polled successfully "
                f"again after {secs(sources_back)}")
            time.sleep(a.after)
            diffs, took = settle(stack, a.settle)
            for d in diffs.values():
                say("  " + d.line())
            lost, dups, stale, extra = totals(diffs)
            dead = stack.dead()
            # a poll during the outage cannot record itself in SQL: it says so in the log
            failed_polls = polls_failed(pg.url, stopped) + stack.log_lines("connectors", "could not record the run")
            say(f"  SQL against the simulator after {took:.0f} s of settling: lost {lost}, duplicates {dups}, "
                f"stale {stale}, extra {extra}; polls that failed during the outage: {failed_polls}; "
                f"processes that died: {dead or 'none'}")
            recovery = None if healthy is None or sources_back is None else max(healthy, sources_back)
            figures = [
                Figure("restart seconds", restart_s, "s", note=f"stop -m {a.mode}, {a.down:g} s down, start"),
                Figure("polls that met the outage", failed_polls, "polls", 1 if a.down > 0 else None, "higher",
                       note="failed polls recorded after the restart: the outage happened under load"),
                Figure("recovery seconds", recovery, "s", RECOVERY_TARGET_S,
                       note="restart done → healthz 200 and a successful poll of every source"),
                Figure("records lost", lost, "records", 0),
                Figure("duplicates", dups, "records", 0),
                Figure("stale records", stale, "records", 0),
                Figure("process crashed", len(dead), "processes", 0, note=str(dead) if dead else ""),
            ]
    except DrillAborted as e:
        say(f"  ABORTED: {e}")
        figures.append(Figure("finished within the time limit", 0, "bool", 1, "higher", note=str(e)))
    finally:
        if stack is not None:
            stack.stop()
            stack.cleanup(a.keep)
        pg.stop()
        pg.cleanup(a.keep)
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("immediate", "fast"), default="immediate")
    ap.add_argument("--down", type=float, default=10, help="seconds PostgreSQL stays down (0: pg_ctl restart)")
    ap.add_argument("--before", type=float, default=20, help="seconds of ingest before the restart")
    ap.add_argument("--after", type=float, default=15, help="seconds of ingest after recovery")
    ap.add_argument("--recover-timeout", type=float, default=120)
    ap.add_argument("--settle", type=float, default=90)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--keep", action="store_true")
    add_json_arg(ap)
    a = ap.parse_args(argv)
    started = time.time()
    try:
        figures = run(a)
    except KeyboardInterrupt:
        say("interrupted: everything the drill started was stopped")
        return 130
    ok = report(f"drill 2 (PostgreSQL restart -m {a.mode})", figures)
    write_json(a.json, "drill-postgres-restart", figures, started=started, context={"mode": a.mode, "passed": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
