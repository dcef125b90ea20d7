"""Speed of the geography hot paths the connectors lean on (tests count the work instead):

* 100,000 points → district / commune / inside the province (SpatialAssigner.assign_points),
  over the boundary files of ../shared/geo (or the shipped communes);
* 20,000 distinct addresses → commune (UnitMatcher.match_many on a fresh matcher).

    .venv/bin/python bench/geo.py [--repeat 3]

Prints the best and worst of the repeats; say how busy the machine was (uptime) beside them.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import Figure, add_json_arg, write_json  # noqa: E402


def main() -> None:
    import numpy as np

    from geo.assign import SpatialAssigner, default_boundary_paths
    from geo.names import fold
    from geo.units import UnitMatcher, all_units
    from ioc.settings import load_settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--addresses", type=int, default=20_000)
    add_json_arg(ap)
    args = ap.parse_args()
    started = time.time()

    paths = default_boundary_paths(load_settings())
    if not paths:
        sys.exit("no boundary files (../shared/geo or geo/data)")
    assigner = SpatialAssigner.from_files(paths)
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(105.0, 107.0, args.points), rng.uniform(9.9, 11.2, args.points)
    assigner.assign_points(lons[:10], lats[:10])  # warm up
    points = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        assigner.assign_points(lons, lats)
        points.append(time.perf_counter() - t)

    units = all_units()
    communes = [u.name for u in units if u.level == "commune"]
    districts = [u.name for u in units if u.level == "district_pre2025"]
    r = random.Random(7)
    addrs = []
    for _ in range(args.addresses):
        a = (f"Số {r.randint(1, 999)} đường {r.randint(1, 300)}, ấp {r.randint(1, 9)}, "
             f"{r.choice(communes)}, {r.choice(districts)}, tỉnh Đồng Tháp")
        addrs.append(fold(a) if r.random() < 0.3 else a)
    matching = []
    for _ in range(args.repeat):
        fresh = UnitMatcher(units)  # no warm cache
        t = time.perf_counter()
        fresh.match_many(addrs)
        matching.append(time.perf_counter() - t)

    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"assign_points, {args.points:,} points: best {min(points):.3f} s, worst {max(points):.3f} s "
          f"({args.repeat} runs)")
    print(f"match_many, {args.addresses:,} addresses:  best {min(matching):.3f} s, worst {max(matching):.3f} s "
          f"({args.repeat} runs)")
    write_json(args.json, "geo", [
        Figure(f"assign_points, {args.points:,} points (best)", round(min(points), 3), "s",
               note=f"worst {max(points):.3f} s of {args.repeat}"),
        Figure(f"match_many, {args.addresses:,} addresses (best)", round(min(matching), 3), "s",
               note=f"worst {max(matching):.3f} s of {args.repeat}"),
    ], started=started, context={"load": list(load)})


if __name__ == "__main__":
    main()
