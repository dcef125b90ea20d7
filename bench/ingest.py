"""Ingest benchmark: backfill a simulated year through the real connectors, over real HTTP,
into a real Redis and SQL; print records per second per source, peak RSS, steady-state poll
times. The machine's ceilings (pipelined Redis writes, bulk SQL inserts) are bench/ceilings.py's:
bench/run_all measures them in the same run and sets each figure beside them.

    .venv/bin/python bench/ingest.py                 # SQLite in a temp dir
    .venv/bin/python bench/ingest.py --pg postgresql://postgres@127.0.0.1:5432/postgres

Targets (issue 4, 2-core machine): ≥ 20,000 observations/s; whole backfill ≤ 3 min; a
steady-state poll ≤ 1 s per source; connector peak RSS ≤ 500 MB. Figures are printed, never
asserted. Each backfill runs as its own `ioc connectors backfill` process so its RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import Figure, add_json_arg, write_json  # noqa: E402
from simulator.testing import running_simulator  # noqa: E402


def run_measured(argv: list[str], env: dict) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS MiB of the process tree, last stdout line)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    out = proc.stdout.read().strip().splitlines()
    return proc.returncode, time.perf_counter() - t0, peak / 2**20, out[-1] if out else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", help="PostgreSQL server URL; a throw-away database is created on it")
    ap.add_argument("--days", type=float, default=365, help="simulated history (days)")
    ap.add_argument("--ticket-scale", type=float, default=30,
                    help="hotline volume multiplier (the simulator makes ~3,450 tickets/yr at scale 1: 30 ≈ 100k)")
    ap.add_argument("--scale", type=float, default=10, help="dossier volume multiplier (10 ≈ 510k a year)")
    ap.add_argument("--sequential", action="store_true", help="backfill one source after another")
    add_json_arg(ap)
    a = ap.parse_args()
    started = time.time()
    figures: list[Figure] = []

    work = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.redis_server import start_own_redis

    redis = start_own_redis(work / "redis")
    if a.pg:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = f"ioc_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(a.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        db_url = make_url(a.pg).set(database=name).render_as_string(hide_password=False)
    else:
        db_url = f"sqlite:///{work / 'ioc.db'}"
    upgrade(make_engine(db_url))
    print(f"database: {db_url.split('@')[-1]}   redis: {redis.url}   work dir: {work}")

    sims = {}
    t = time.perf_counter()
    # The simulator scales cameras with --scale, so each source gets the simulator that gives
    # the brief's volumes: 2,565 cameras (scale 1), ≥100k tickets, ≥500k dossiers; observations
    # do not scale (107 points, ~2.15 M a year).
    with running_simulator(mode="process", scale=a.ticket_scale, history_days=a.days, frozen=True) as hot, \
         running_simulator(mode="process", scale=1, history_days=a.days, frozen=True) as cam, \
         running_simulator(mode="process", scale=a.scale, history_days=a.days, frozen=True) as big:
        sims = {"hotline": hot, "cameras": cam, "environment": big, "procedures": big}
        print(f"simulators ready in {time.perf_counter() - t:.1f} s")
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | {
            "IOC_DATA_DIR": str(work), "IOC_DATABASE_URL": db_url, "IOC_REDIS_URL": redis.url,
            "IOC_HOTLINE_URL": hot.hotline_url, "IOC_HOTLINE_API_KEY": "sim-hotline-key",
            "IOC_CAMERAS_URL": cam.cameras_url, "IOC_CAMERAS_TOKEN": "sim-camera-token",
            "IOC_ENVIRONMENT_URL": big.environment_url, "IOC_PROCEDURES_URL": big.procedures_url,
            "IOC_LOG_LEVEL": "WARNING",
        }
        since = (datetime.now(timezone.utc) - timedelta(days=a.days + 3)).strftime("%Y-%m-%d")
        results = {}
        total_start = time.perf_counter()
        order = ("cameras", "hotline", "procedures", "environment")
        argv = {src: [sys.executable, "-m", "ioc", "connectors", "backfill", src, "--since", since] for src in order}
        if a.sequential:
            for src in order:
                results[src] = run_measured(argv[src], env)
        else:  # as `ioc connectors run` does: all sources at once, each its own process here
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(order)) as pool:
                futures = {src: pool.submit(run_measured, argv[src], env) for src in order}
                results = {src: f.result() for src, f in futures.items()}
        for source in order:
            code, secs, rss, last = results[source]
            counts = json.loads(last) if last.startswith("{") else {}
            results[source] = (code, secs, rss, counts)
            main_n = counts.get("fetched", 0)
            print(f"backfill {source:<12} exit {code}  {main_n:>10,} records  {secs:7.1f} s  "
                  f"{main_n / secs:>10,.0f} rec/s  peak RSS {rss:6.0f} MiB   {counts}")
            figures.append(Figure(f"backfill {source}", round(main_n / secs), "records/s", better="higher",
                                  note=f"{main_n:,} records in {secs:.1f} s, exit {code}"))
        total = time.perf_counter() - total_start
        mode = "sequential" if a.sequential else "4 sources concurrently"
        print(f"whole backfill ({mode}): {total:.1f} s (target ≤ 180 s)")
        figures.append(Figure("whole backfill", round(total, 1), "s", 180, note=f"{a.days:g} days, {mode}"))

        # steady state: one simulated hour passes, then one poll per source
        for s in {id(v): v for v in sims.values()}.values():
            s.advance(1)
        from connectors.registry import Runtime
        from ioc.settings import load_settings

        os.environ.update(env)
        rt = Runtime(load_settings())
        for source in ("hotline", "cameras", "environment", "procedures"):
            conn = rt.connector(source)
            conn.poll_once()  # warm: first poll of a new process loads per-stream marks, ETags
            for s in {id(v): v for v in sims.values()}.values():
                s.advance(1)
            t = time.perf_counter()
            res = conn.poll_once()
            took = time.perf_counter() - t
            print(f"steady poll {source:<12} {took:6.3f} s (target ≤ 1 s)  ok={res.ok}  {res.summary()}")
            figures.append(Figure(f"steady poll {source}", round(took, 3), "s", 1.0, note=f"ok={res.ok}"))

        obs = results["environment"]
        if obs[3].get("fetched"):
            print(f"observations: {obs[3]['fetched'] / obs[1]:,.0f}/s (target ≥ 20,000/s)")
            figures.append(Figure("observations ingested", round(obs[3]["fetched"] / obs[1]), "records/s", 20_000,
                                  better="higher", note="environment backfill"))
        peak = max(r[2] for r in results.values())
        print(f"connector peak RSS: {peak:.0f} MiB (target ≤ 500 MiB)")
        figures.append(Figure("connector peak RSS", round(peak), "MiB", 500))
    redis.stop()
    if a.pg:
        admin = make_engine(a.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    write_json(a.json, "ingest", figures, started=started,
               context={"database": "postgresql" if a.pg else "sqlite", "days": a.days, "scale": a.scale,
                        "ticket_scale": a.ticket_scale})


if __name__ == "__main__":
    main()
