"""Backfill through real HTTP from a simulator subprocess and time it.

    .venv/bin/python bench/sim_backfill.py --scale 10 --history-days 365

Reads every dossier (page_size 10,000), every ticket (90-day windows, page_size 1,000),
the camera registry, and observations (per datastream, $top=10,000) until --observations
are read. Prints counts, seconds and the server's RSS. Only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import Figure, add_json_arg, write_json  # noqa: E402
from simulator.testing import running_simulator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10)
    ap.add_argument("--history-days", type=float, default=365)
    ap.add_argument("--observations", type=int, default=1_000_000)
    add_json_arg(ap)
    a = ap.parse_args()
    started = time.time()
    t0 = time.perf_counter()
    with running_simulator(mode="process", scale=a.scale, history_days=a.history_days, frozen=True) as sim:
        startup = time.perf_counter() - t0
        c = httpx.Client(timeout=120)
        info = sim.info()
        results = {}

        t = time.perf_counter()
        n, page = 0, 1
        while True:
            r = c.get(sim.procedures_url + "/dossiers", params={"page": page, "page_size": 10_000})
            r.raise_for_status()
            items = r.json()["items"]
            n += len(items)
            if len(items) < 10_000:
                break
            page += 1
        results["dossiers"] = (n, time.perf_counter() - t)

        t = time.perf_counter()
        now = datetime.fromisoformat(info["now"])
        start = datetime.fromisoformat(info["history_start"])
        n = 0
        end = now
        while end > start:
            begin = max(start, end - timedelta(days=90))
            page = 1
            while True:
                r = c.get(sim.hotline_url + "/requests.json", params={
                    "start_date": begin.isoformat(), "end_date": end.isoformat(), "page": page, "page_size": 1000})
                r.raise_for_status()
                items = r.json()
                n += len(items)
                if len(items) < 1000:
                    break
                page += 1
            end = begin - timedelta(seconds=1)
        results["tickets"] = (n, time.perf_counter() - t)

        t = time.perf_counter()
        n, page = 0, 0
        while True:
            r = c.get(sim.cameras_url + "/cameras", params={"page": page, "itemsPerPage": 5000})
            body = r.json()
            n += len(body["items"])
            page += 1
            if page >= body["pageCount"]:
                break
        results["cameras"] = (n, time.perf_counter() - t)

        t = time.perf_counter()
        n, ds = 0, 1
        while n < a.observations:
            url = f"{sim.environment_url}/Datastreams({ds})/Observations"
            params = {"$orderby": "phenomenonTime asc", "$top": "10000",
                      "$select": "id,phenomenonTime,result"}
            while url:
                r = c.get(url, params=params)
                r.raise_for_status()
                body = r.json()
                n += len(body["value"])
                url, params = body.get("@iot.nextLink"), None
            ds += 1
            if ds > info["stats"]["environment"]["datastreams"]:
                break
        results["observations"] = (n, time.perf_counter() - t)
        import psutil

        rss = psutil.Process(sim.process.pid).memory_info().rss / 2**20
    total = sum(v[1] for v in results.values())
    print(f"scale={a.scale} history_days={a.history_days} startup={startup:.1f}s server_rss={rss:.0f}MiB")
    for k, (cnt, secs) in results.items():
        print(f"  {k:13s} {cnt:>10,d} in {secs:6.1f}s  ({cnt / max(secs, 1e-9):,.0f}/s)")
    print(f"  total read time {total:.1f}s")
    figures = [Figure(f"read {k} over HTTP", round(cnt / max(secs, 1e-9)), "records/s", better="higher",
                      note=f"{cnt:,} in {secs:.1f} s") for k, (cnt, secs) in results.items()]
    figures += [Figure("total read time", round(total, 1), "s"), Figure("simulator RSS", round(rss), "MiB"),
                Figure("simulator start-up", round(startup, 1), "s")]
    write_json(a.json, "sim_backfill", figures, started=started,
               context={"scale": a.scale, "history_days": a.history_days})


if __name__ == "__main__":
    main()
