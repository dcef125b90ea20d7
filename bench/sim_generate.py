"""How long building the simulated data takes, its memory, and the figures it lands on.

    .venv/bin/python bench/sim_generate.py            # scale 1 and 10, 365 days, one process each
    .venv/bin/python bench/sim_generate.py --one 10 365
    .venv/bin/python bench/sim_generate.py --scales 1 --days 30 --json /tmp/sim.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import Figure, add_json_arg, read_json, write_json  # noqa: E402


def one(scale: float, days: float) -> list[Figure]:
    import numpy as np
    import psutil

    from simulator.config import SimConfig
    from simulator.server import Simulator

    t = time.perf_counter()
    sim = Simulator(SimConfig(scale=scale, history_days=days))
    build = time.perf_counter() - t
    rss = psutil.Process().memory_info().rss / 2**20
    now = sim.ctx.now()
    h = sim.hotline.stats()
    cams = sim.cameras.stats()
    p = sim.procedures
    n = p.stats()["dossiers"]
    idx = np.arange(n)
    st = p.state(idx, now)
    c = p.store.cols
    online = float(np.mean(c["channel"][:n] == 2))
    done = c["t_finish"][:n] <= now
    ok = (c["t_finish"][:n] <= c["deadline"][:n] + st["wait"]) & (st["n_supp"] <= 1)
    on_time = float(ok[done].mean())
    env = sim.environment.m
    obs_per_year = sum(int(8766 // s) for s in env.ds_step.tolist())
    print(f"scale={scale:g} history_days={days:g}: build {build:.2f}s, RSS {rss:.0f} MiB")
    print(f"  hotline  {h['tickets']:,} tickets, {1 - h['open'] / max(1, h['tickets']):.2%} answered, "
          f"{h['overdue']} overdue now")
    print(f"  cameras  {cams['cameras']:,}: offline {cams['offline'] / cams['cameras']:.1%}, "
          f"degraded {cams['degraded']}, unknown {cams['unknown']}")
    print(f"  environment {len(env.stations)} stations, {env.n_ds} datastreams, ~{obs_per_year:,} observations/year")
    in_progress = np.isin(st["status"], [2, 4])
    overdue = int((in_progress & (c["deadline"][:n] + st["wait"] < now)).sum())
    fee = p.p_fee[c["proc"][:n]]
    print(f"  procedures {n:,} dossiers, online {online:.1%}, on time {on_time:.1%}, "
          f"overdue now {overdue} of {int(in_progress.sum())} in progress; paid online {c['paid'][:n][fee].mean():.1%} "
          f"of fee-bearing, electronic result {c['e_result'][:n][done].mean():.1%} of finished, "
          f"digitised {c['digitised'][:n].mean():.1%}, re-used {c['reused'][:n].mean():.1%}")
    return [Figure(f"build, scale {scale:g}, {days:g} days", round(build, 2), "s",
                   note=f"{h['tickets']:,} tickets, {n:,} dossiers, {cams['cameras']:,} cameras"),
            Figure(f"RSS after the build, scale {scale:g}", round(rss), "MiB")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=2, type=float, metavar=("SCALE", "DAYS"))
    ap.add_argument("--scales", default="1,10", help="comma list of scales, each in its own process")
    ap.add_argument("--days", type=float, default=365, help="history of each build")
    add_json_arg(ap)
    a = ap.parse_args()
    started = time.time()
    if a.one:
        write_json(a.json, "sim_generate", one(*a.one), started=started)
        return
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in a.scales.split(","):
            out = Path(tmp) / f"{scale}.json"
            subprocess.run([sys.executable, __file__, "--one", scale, f"{a.days:g}", "--json", str(out)], check=True)
            figures += [Figure(**{k: v for k, v in f.items() if k != "met"}) for f in read_json(out)["figures"]]
    write_json(a.json, "sim_generate", figures, started=started, context={"days": a.days})


if __name__ == "__main__":
    main()
