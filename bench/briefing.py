"""Briefing benchmark at province scale: time and size of a daily and a weekly briefing.

    .venv/bin/python bench/briefing.py              # simulator scale 1, 16 days of history
    .venv/bin/python bench/briefing.py --runs 5 --scale 2

Fills a throw-away SQLite database and its own redis-server from the upstream simulator
through the product's connectors (scale 1 = the province: 2,565 cameras, 107 monitoring
points, ≈ 140 dossiers and ≈ 10 hotline requests a day; tests/briefings/world.py), then builds
each briefing ``--runs`` times exactly as `ioc briefing build` does (figures, view, render,
checks, file and SQL record) and prints the median and best time, the split by step, the PDF's
size and pages, and the machine's load average. The first run of each period reads the raw
history with nothing cached (the period queries' caches emptied, in the process and in Redis);
later runs find closed days in those caches, as the scheduler's 07:00 run does after the KPI
scheduler has warmed them.

Target (docs/briefings.md): ≤ 15 s for each briefing on 2 cores. Printed as measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "briefings"))

TARGET_S = 15.0


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.2f} {b:.2f} {c:.2f} on {os.cpu_count()} cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--keep", action="store_true", help="Keep the temp folder (its path is printed).")
    from bench.results import Figure, add_json_arg, write_json

    add_json_arg(ap)
    args = ap.parse_args()
    started = time.time()
    figures: list[Figure] = []

    from world import DAY, FROZEN_AT, HISTORY_DAYS, fill

    from ioc.briefings.build import build
    from ioc.db.migrate import upgrade
    from ioc.db.session import make_engine
    from ioc.kpi import periods
    from ioc.redis_server import start_own_redis
    from ioc.views.read import ReadModel
    from simulator.testing import running_simulator

    tmp = Path(tempfile.mkdtemp(prefix="bench-briefing-"))
    own = start_own_redis(tmp / "redis")
    try:
        url = f"sqlite:///{tmp / 'ioc.db'}"
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        t0 = time.monotonic()
        with running_simulator(history_days=HISTORY_DAYS, frozen=True, frozen_at=FROZEN_AT, seed=1,
                               scale=args.scale) as sim:
            settings = fill(sim, url, own.url, tmp)
        print(f"data: simulator scale {args.scale:g}, {HISTORY_DAYS} days, filled in {time.monotonic() - t0:.1f} s "
              f"({load()})")
        views = ReadModel.from_settings(settings)
        for period in ("day", "week"):
            periods.clear_cache()  # nothing cached for the first run: neither in the process nor in Redis
            stale = list(views.store.r.scan_iter(f"{settings.redis_prefix}:kpi:period:*"))
            if stale:
                views.store.r.delete(*stale)
            runs = []
            for i in range(args.runs):
                marks: list[tuple[str, float]] = []
                start = time.monotonic()
                res = build(views, period, DAY, out=str(tmp / f"{period}-{i}.pdf"),
                            progress=lambda step: marks.append((step, time.monotonic())))
                total = time.monotonic() - start
                marks.append(("end", start + total))
                split = {}
                for (step, at), (_next, nxt) in zip(marks, marks[1:]):
                    split[step] = split.get(step, 0.0) + nxt - at
                runs.append((total, res, split))
                print(f"  {period} run {i + 1}: {total:.2f} s, {res.size / 1024:.0f} KiB, {res.pages} pages, "
                      f"{res.status}; " + ", ".join(f"{k} {v:.2f}" for k, v in split.items()) + f" ({load()})")
            times = [r[0] for r in runs]
            med = statistics.median(times)
            res = runs[-1][1]
            verdict = "met" if med <= TARGET_S else "MISSED"
            print(f"{period}: median {med:.2f} s, best {min(times):.2f} s, first (nothing cached) {times[0]:.2f} s; "
                  f"{res.size / 1024:.0f} KiB, {res.pages} pages — target ≤ {TARGET_S:g} s {verdict} ({load()})")
            figures.append(Figure(f"{period} briefing (median)", round(med, 2), "s", TARGET_S,
                                  note=f"first (nothing cached) {times[0]:.2f} s; {res.size / 1024:.0f} KiB, "
                                       f"{res.pages} pages; {args.runs} runs"))
        views.store.r.close()
    finally:
        own.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    write_json(args.json, "briefing", figures, started=started, context={"scale": args.scale, "runs": args.runs})


if __name__ == "__main__":
    main()
