"""Ceilings: what the machine itself can do, measured in the same run as the product's figures,
so that bench/run_all can say how close the product comes ("ingest at 31 % of raw pipelined
Redis", "wall p95 at 1,4× a bare endpoint").

    .venv/bin/python bench/ceilings.py                         # all three
    .venv/bin/python bench/ceilings.py --only redis,sql --json /tmp/ceilings.json
    .venv/bin/python bench/ceilings.py --quick                 # small sizes (smoke check)

* ``redis``: records/s of raw pipelined writes on a redis-server of its own: per record one HSET
  (the latest state) and one XADD (the event), as ioc.live_store.LiveStore.apply_changes writes a
  connector batch, but with no validation, SQL or JSON of a real record (a fixed 80-byte value);
  pipelines of 5,000 records, as there.
* ``sql``: rows/s of bulk inserts of observation-shaped rows (datastream, time, value) into a
  scratch table: SQLite executemany (a temp file, one transaction), and — when ``--pg`` (default
  the local server) is reachable — PostgreSQL executemany and COPY into a throw-away database.
* ``endpoint``: a minimal Flask app (``hello_app``: every path answers a small JSON) under
  gunicorn with the same worker count and flags as bench/web.py starts the product, driven by
  bench/web.py's own load generator: (a) the paced wall model (each viewer one poll a second,
  ``--viewers`` of them over ``--seconds``), p50/p95 per level; (b) saturated: ``--concurrency``
  requests always in flight for ``--seconds``, requests/s and p95.

Each ceiling is one function writing bench/results.py figures. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, pct, wait_for  # noqa: E402
from bench.results import Figure, add_json_arg, write_json  # noqa: E402

DEFAULT_PG = os.environ.get("IOC_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
VALUE = b'{"id":"CAM-00001","status":"online","value":12.5,"time":"2026-01-01T00:00:00+00:00"}'
CHUNK = 5_000


# --- raw pipelined Redis ----------------------------------------------------------------------------


def redis_ceiling(n: int = 200_000) -> list[Figure]:
    import redis

    from ioc.redis_server import start_own_redis

    work = Path(tempfile.mkdtemp(prefix="ioc-ceiling-redis-"))
    own = start_own_redis(work / "redis", port=free_port())
    try:
        r = redis.Redis.from_url(own.url)
        latest, events = "ceiling:latest", "ceiling:events"
        t = time.perf_counter()
        pipe = r.pipeline(transaction=True)
        for i in range(n):
            pipe.hset(latest, str(i), VALUE)
            pipe.xadd(events, {"id": str(i), "kind": "updated", "at": "2026-01-01T00:00:00+00:00"},
                      maxlen=100_000, approximate=True)
            if i % CHUNK == CHUNK - 1:
                pipe.execute()
        pipe.execute()
        rate = n / (time.perf_counter() - t)
        r.close()
    finally:
        own.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"raw pipelined Redis (own redis-server, HSET + XADD per record, pipelines of {CHUNK:,}): "
          f"{rate:,.0f} records/s ({n:,} records)", flush=True)
    return [Figure("raw pipelined Redis HSET+XADD", round(rate), "records/s", better="higher",
                   note=f"{n:,} records, own redis-server")]


# --- bulk SQL -------------------------------------------------------------------------------------------


def _rows(n: int) -> list[tuple]:
    return [(f"ST-{i % 800:03d}-pm25", f"2025-01-01 {i // 800 % 24:02d}:{i % 60:02d}:00.{i:06d}", i * 0.5)
            for i in range(n)]


def _sqlite(n: int) -> float:
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        con = sqlite3.connect(Path(tmp) / "ceiling.db")
        con.execute("CREATE TABLE obs (id INTEGER PRIMARY KEY, datastream_id TEXT, phenomenon_time TEXT, "
                    "result REAL)")
        rows = _rows(n)
        t = time.perf_counter()
        with con:
            con.executemany("INSERT INTO obs (datastream_id, phenomenon_time, result) VALUES (?, ?, ?)", rows)
        rate = n / (time.perf_counter() - t)
        con.close()
    return rate


def _pg(url: str, n: int) -> tuple[float, float]:
    """(executemany rows/s, COPY rows/s) in a throw-away database on the server of ``url``."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"ioc_ceiling_{uuid.uuid4().hex[:8]}"
    base = make_url(url)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(base.set(drivername="postgresql", database=name)
                             .render_as_string(hide_password=False)) as con:
            con.execute("CREATE TABLE obs (id bigserial PRIMARY KEY, datastream_id text, "
                        "phenomenon_time timestamptz, result double precision)")
            rows = [(d, t + "+00", v) for d, t, v in _rows(n)]
            t0 = time.perf_counter()
            with con.cursor() as cur:
                cur.executemany("INSERT INTO obs (datastream_id, phenomenon_time, result) VALUES (%s, %s, %s)",
                                rows)
            con.commit()
            many = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            with con.cursor() as cur:
                with cur.copy("COPY obs (datastream_id, phenomenon_time, result) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
            con.commit()
            copy = n / (time.perf_counter() - t0)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return many, copy


def sql_ceiling(n: int = 200_000, pg: str | None = DEFAULT_PG) -> list[Figure]:
    rate = _sqlite(n)
    print(f"bulk SQL insert, SQLite executemany (one transaction): {rate:,.0f} rows/s ({n:,} rows)", flush=True)
    out = [Figure("bulk SQL insert, SQLite executemany", round(rate), "rows/s", better="higher", note=f"{n:,} rows")]
    if pg:
        where = pg.split("@")[-1]
        try:
            many, copy = _pg(pg, n)
        except Exception as err:  # noqa: BLE001 - "if reachable": say why not and carry on
            why = f"PostgreSQL at {where} not reachable: {type(err).__name__}: {str(err).strip()[:120]}"
            print(f"bulk SQL insert, PostgreSQL: not measured ({why})", flush=True)
            out += [Figure("bulk SQL insert, PostgreSQL executemany", None, "rows/s", better="higher", note=why),
                    Figure("bulk SQL insert, PostgreSQL COPY", None, "rows/s", better="higher", note=why)]
        else:
            print(f"bulk SQL insert, PostgreSQL ({where}): executemany {many:,.0f} rows/s, COPY {copy:,.0f} rows/s",
                  flush=True)
            out += [Figure("bulk SQL insert, PostgreSQL executemany", round(many), "rows/s", better="higher",
                           note=f"{n:,} rows, {where}"),
                    Figure("bulk SQL insert, PostgreSQL COPY", round(copy), "rows/s", better="higher",
                           note=f"{n:,} rows, {where}")]
    return out


# --- a bare endpoint --------------------------------------------------------------------------------------


def hello_app():
    """The smallest Flask app: every path answers a small JSON (so the wall model's polls and pings
    find an answer); gunicorn 'bench.ceilings:hello_app()'."""
    from flask import Flask, jsonify

    app = Flask("ioc-ceiling-hello")

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def hello(path):  # noqa: ARG001
        return jsonify(hello="world")

    return app


def _saturate(port: int, concurrency: int, seconds: float) -> tuple[int, list[float], int]:
    """``concurrency`` requests always in flight for ``seconds``: (answered, ms each, errors)."""
    from bench.web import Http

    http = Http("127.0.0.1", port, timeout=10)
    ms: list[float] = []
    errors = 0

    async def worker(stop: float):
        nonlocal errors
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                status, _ = await http.request("GET", "/api/views/wall?lang=vi&focus=&have=")
            except Exception:  # noqa: BLE001
                errors += 1
                continue
            if status == 200:
                ms.append((time.perf_counter() - t) * 1000)
            else:
                errors += 1

    async def run():
        stop = time.monotonic() + seconds
        await asyncio.gather(*[worker(stop) for _ in range(concurrency)])

    asyncio.run(run())
    return len(ms), ms, errors


def _paced(port: int, viewers: int, seconds: float, clients: int) -> dict:
    """bench/web.py's virtual walls (run_viewers) against the bare app, over ``clients`` processes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from bench.web import WallModel, run_viewers

    model = WallModel("vi", [])
    ramp = 10.0
    with ProcessPoolExecutor(clients, mp_context=get_context("spawn")) as pool:
        list(pool.map(time.sleep, [0.01] * clients))
        start = time.monotonic() + 1.0
        measure_from = start + ramp + 3.0
        stop_at = measure_from + seconds
        offsets = [ramp * i / viewers for i in range(viewers)]
        parts = [f.result() for f in [pool.submit(run_viewers, port, model, offsets[k::clients], start, measure_from,
                                                  stop_at, 3600.0, 5.0) for k in range(clients)]]
    wall = [x for p in parts for x in p["ms"].get("wall", [])]
    errors = sum(sum(p["errors"].values()) + p["unfinished"] for p in parts)
    return {"wall": wall, "errors": errors}


def endpoint_ceiling(viewers: list[int], seconds: float = 30, workers: int = 2, concurrency: int = 16,
                     clients: int = 2) -> list[Figure]:
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="ioc-ceiling-web-"))
    log = open(work / "gunicorn.log", "wb")
    env = dict(os.environ) | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "bench.ceilings:hello_app()", "--workers", str(workers),
                             "--bind", f"127.0.0.1:{port}", "--timeout", "60", "--log-level", "warning"],
                            env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    out = []
    try:
        import httpx

        wait_for("the bare gunicorn", lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                 .status_code == 200, 60, 0.2)
        for n in viewers:
            r = _paced(port, n, seconds, clients)
            p50, p95 = pct(r["wall"], 50), pct(r["wall"], 95)
            print(f"bare endpoint (Flask 'hello', gunicorn {workers} sync workers), {n} virtual walls for {seconds:g} s "
                  f"(bench/web.py's load generator): p50 {p50:.1f} ms, p95 {p95:.1f} ms, {len(r['wall']):,} polls, "
                  f"{r['errors']} errors", flush=True)
            out += [Figure(f"bare endpoint p95, {n} viewers", round(p95, 1), "ms",
                           note=f"p50 {p50:.1f} ms, {len(r['wall']):,} polls, {r['errors']} errors"),
                    Figure(f"bare endpoint p50, {n} viewers", round(p50, 1), "ms")]
        done, ms, errors = _saturate(port, concurrency, seconds)
        rate, p95 = done / seconds, pct(ms, 95)
        print(f"bare endpoint saturated ({concurrency} requests in flight for {seconds:g} s): {rate:,.0f} requests/s, "
              f"p95 {p95:.1f} ms, {errors} errors", flush=True)
        out += [Figure("bare endpoint requests/s (saturated)", round(rate), "requests/s", better="higher",
                       note=f"{concurrency} in flight, p95 {p95:.1f} ms, {errors} errors"),
                Figure("bare endpoint p95 (saturated)", round(p95, 1), "ms")]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    return out


CEILINGS = ("redis", "sql", "endpoint")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(CEILINGS), help=f"comma list of {', '.join(CEILINGS)}")
    ap.add_argument("--quick", action="store_true", help="small sizes and short windows (a smoke check)")
    ap.add_argument("--records", type=int, default=200_000, help="records / rows for redis and sql")
    ap.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL server URL for the sql ceiling ('' = skip)")
    ap.add_argument("--viewers", default="200", help="virtual walls against the bare endpoint (comma list)")
    ap.add_argument("--seconds", type=float, default=30, help="window of each endpoint measurement")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (as bench/web.py)")
    ap.add_argument("--clients", type=int, default=2, help="load-generator processes (as bench/web.py)")
    add_json_arg(ap)
    a = ap.parse_args()
    started = time.time()
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    unknown = set(only) - set(CEILINGS)
    if unknown:
        ap.error(f"unknown ceilings: {sorted(unknown)}")
    records = 20_000 if a.quick else a.records
    seconds = 5 if a.quick else a.seconds
    figures: list[Figure] = []
    if "redis" in only:
        figures += redis_ceiling(records)
    if "sql" in only:
        figures += sql_ceiling(records, a.pg or None)
    if "endpoint" in only:
        figures += endpoint_ceiling([int(v) for v in a.viewers.split(",")], seconds, a.workers, clients=a.clients)
    write_json(a.json, "ceilings", figures, started=started,
               context={"records": records, "seconds": seconds, "viewers": a.viewers, "workers": a.workers})


if __name__ == "__main__":
    main()
