"""Drill 1 — Redis killed (SIGKILL) and restarted in the middle of ingest.

    .venv/bin/python -m bench.drills.redis_restart [--outage 15] [--quick] [--json FILE]

Starts the product (bench/drills/stack.py) with its own redis-server, the simulator's clock at
60× so the connectors write all the time, polls every 3–5 s. Then:

1. ingest for ``--before`` seconds, all sources fresh on the wall (read over HTTP);
2. ``kill -9`` the redis-server; for ``--outage`` seconds watch ``/healthz`` and the wall's
   read model (``GET /api/views/versions``): they must say the live store is down;
3. restart redis-server on the same port and directory (it reloads its AOF, as after a
   crash); time until ``/healthz`` answers 200, every source is "fresh" on the wall again and
   the KPI snapshot was recomputed after the restart (``generated_at`` later than it);
4. freeze the simulator's clock and reconcile SQL with its records: nothing lost, nothing
   twice; count the entities whose Redis ``latest`` differs from SQL (the live state);
5. no process we started died.

Recovery target: 30 s. What bounds recovery is one poll of every source after the restart
(intervals ≤ 5 s here, plus the back-off the failed polls earned: ≤ 2 intervals) and one
snapshot build (the scheduler sees the version move within 0.2 s; a build takes a few seconds
on SQLite); 30 s leaves room for a busy 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.drills.reconcile import live_mismatch, settle, totals  # noqa: E402
from bench.drills.stack import SOURCES, DrillAborted, Stack, bounded, report, say  # noqa: E402
from bench.results import Figure, add_json_arg, write_json  # noqa: E402

RECOVERY_TARGET_S = 30.0


def watch_outage(stack: Stack, seconds: float) -> dict:
    """What /healthz and the wall's read model said while Redis was down."""
    seen = {"healthz": set(), "badges_store": set(), "errors": 0, "samples": 0}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen["samples"] += 1
        try:
            seen["healthz"].add(stack.get("/healthz").status_code)
            seen["badges_store"].add(stack.badges()["store"])
        except Exception:  # noqa: BLE001 - the web answering nothing is a finding too
            seen["errors"] += 1
        time.sleep(0.5)
    return seen


def wait_recovered(stack: Stack, restarted: datetime, timeout: float) -> dict:
    """Seconds from the restart until each sign of recovery (None: not within ``timeout``)."""
    t0 = time.monotonic()
    marks: dict[str, float | None] = {"healthz 200": None, "store up on the wall": None,
                                      "all sources fresh on the wall": None, "snapshot recomputed": None}
    store = stack.store()
    while time.monotonic() - t0 < timeout and any(v is None for v in marks.values()):
        now = time.monotonic() - t0
        try:
            if marks["healthz 200"] is None and stack.get("/healthz").status_code == 200:
                marks["healthz 200"] = now
            b = stack.badges()
            if marks["store up on the wall"] is None and b["store"] == "up":
                marks["store up on the wall"] = now
            if (marks["all sources fresh on the wall"] is None and b["store"] == "up"
                    and all(b["sources"].get(s) == "fresh" for s in SOURCES) and b["figures"] == "fresh"):
                marks["all sources fresh on the wall"] = now
            if marks["snapshot recomputed"] is None:
                snap = store.snapshot() or {}
                at = snap.get("generated_at")
                if at and datetime.fromisoformat(at) > restarted:
                    marks["snapshot recomputed"] = now
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.25)
    return marks


def run(a) -> list[Figure]:
    stack = Stack(history_days=2, speed=60, replay_hours=6)
    figures: list[Figure] = []
    try:
        with bounded(a.timeout):
            say(f"drill 1: Redis killed and restarted mid-ingest (outage {a.outage:g} s)")
            stack.start()
            wait_for_fresh = time.monotonic()
            while time.monotonic() - wait_for_fresh < 120:
                b = stack.badges()
                if all(b["sources"].get(s) == "fresh" for s in SOURCES):
                    break
                time.sleep(1)
            say(f"  before: wall says {stack.badges()}")
            time.sleep(a.before)
            v0 = stack.store().version()
            say(f"  ingesting: data version {v0:,}; kill -9 redis-server (pid {stack.redis.process.pid})")
            stack.kill_redis()
            seen = watch_outage(stack, a.outage)
            say(f"  during the outage ({seen['samples']} looks): /healthz {sorted(seen['healthz'])}, wall store "
                f"{sorted(seen['badges_store'])}, web errors {seen['errors']}")
            stack.start_redis()
            restarted = datetime.now(timezone.utc)
            say(f"  redis-server restarted from its AOF (pid {stack.redis.process.pid}); data version "
                f"{stack.store().version():,} after the reload")
            marks = wait_recovered(stack, restarted, a.recover_timeout)
            for k, v in marks.items():
                say(f"  recovered: {k:<30} {'not within %d s' % a.recover_timeout if v is None else f'{v:5.1f} s'}")
            recovery = None if any(v is None for v in marks.values()) else max(marks.values())
            diffs, took = settle(stack, a.settle)
            lost, dups, stale, extra = totals(diffs)
            for d in diffs.values():
                say("  " + d.line())
            live = live_mismatch(stack)
            say(f"  SQL against the simulator after {took:.0f} s of settling: lost {lost}, duplicates {dups}, "
                f"stale {stale}, extra {extra}")
            say(f"  Redis `latest` entities differing from SQL: {live} (0 = the live state is whole again)")
            dead = stack.dead()
            say(f"  processes that died: {dead or 'none'}; connectors logged 'Redis write failed' "
                f"{stack.log_lines('connectors', 'Redis write failed')}×")
            down_seen = 503 in seen["healthz"] and "down" in seen["badges_store"]
            figures = [
                Figure("outage shown (healthz 503 and wall 'store down')", 1.0 if down_seen else 0.0, "bool", 1, "higher"),
                Figure("recovery seconds", recovery, "s", RECOVERY_TARGET_S,
                       note="restart → healthz 200, all sources fresh on the wall, snapshot recomputed"),
                Figure("records lost", lost, "records", 0),
                Figure("duplicates", dups, "records", 0),
                Figure("stale records", stale, "records", 0, note="older version in SQL than upstream"),
                Figure("live entities differing from SQL", sum(live.values()), "entities", 0,
                       note=", ".join(f"{k} {v}" for k, v in live.items())),
                Figure("process crashed", len(dead), "processes", 0, note=str(dead) if dead else ""),
            ]
    except DrillAborted as e:
        say(f"  ABORTED: {e}")
        figures.append(Figure("finished within the time limit", 0, "bool", 1, "higher", note=str(e)))
    finally:
        stack.stop()
        stack.cleanup(a.keep)
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=float, default=20, help="seconds of ingest before the kill")
    ap.add_argument("--outage", type=float, default=15, help="seconds Redis stays down")
    ap.add_argument("--recover-timeout", type=float, default=120)
    ap.add_argument("--settle", type=float, default=90, help="seconds SQL may take to match the simulator")
    ap.add_argument("--quick", action="store_true", help="short: 3 s before, 6 s outage (tests)")
    ap.add_argument("--timeout", type=float, default=600, help="the whole drill, start-up included")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, database)")
    add_json_arg(ap)
    a = ap.parse_args(argv)
    if a.quick:
        a.before, a.outage = 3, 6
    started = time.time()
    try:
        figures = run(a)
    except KeyboardInterrupt:
        say("interrupted: everything the drill started was stopped")
        return 130
    ok = report("drill 1 (Redis restart)", figures)
    write_json(a.json, "drill-redis-restart", figures, started=started,
               context={"outage_s": a.outage, "quick": a.quick, "passed": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
