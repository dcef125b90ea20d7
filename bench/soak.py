"""Soak: the whole product at 10× province volume for half an hour with the wall open; does
memory stay flat, do the logs stay clean, does the wall keep updating?

    .venv/bin/python bench/soak.py                      # 30 minutes, simulator --scale 10
    .venv/bin/python bench/soak.py --minutes 3 --json /tmp/soak.json

Starts the product as `ioc up` does (bench/common.py Stack: own Redis, SQLite with the
boundaries, the upstream simulator, `ioc connectors run`, `ioc kpi run`, `ioc briefing schedule`,
gunicorn with 2 workers) with the simulator at ``--scale`` (10 = ten times the province's
tickets, dossiers and cameras: 25,650 cameras, ≈ 510,000 dossiers a year; docs/simulator.md) and
its clock at wall speed, so the data moves as it would in production. Nothing is injected.
/wall is open in headless Chromium, enrolled as a wall display (ioc.auth.testing).

Every ``--sample-every`` seconds: the RSS of each process (the processes started here, each
gunicorn worker on its own, Redis, the Chromium of the wall with its children), the data
version (``ioc:version``) and how often the wall's tile figures have changed in the DOM.

Printed at the end, and written with ``--json``:

* the RSS table over time and, per process, its verdict. Rule: flat when the median RSS of
  the last third of the samples is less than 10 % above the median of the first third
  (the first sample, taken at start-up, is left out of the thirds);
* ERROR / CRITICAL / Traceback lines in every process's log (target 0), with examples;
* whether the wall was still updating: its tile figures (``.tile-value``, ``.tile-sub`` of
  ``#wall-tile-*``) changed in the DOM during the last ``--last-minutes``, and its poll
  (``GET /api/views/wall``) was answered in the last minute.

Figures are printed, never asserted. Every process started here is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import MachineLoad, Stack, _enrol, chromium, cpu_model, wait_for  # noqa: E402
from bench.results import Figure, add_json_arg, write_json  # noqa: E402

GROWTH_MAX = 10.0  # % growth of the last third over the first third that still counts as flat
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")
TILES = '[id^="wall-tile-"] .tile-value, [id^="wall-tile-"] .tile-sub'
# the wall's tile figures as one text; every change of it is stamped with Date.now()
WATCH_JS = """
const sel = arguments[0];
const sig = () => [...document.querySelectorAll(sel)].map(e => e.textContent).join('|');
window.__soak = {changes: [], last: sig()};
new MutationObserver(() => {
  const s = sig();
  if (s !== window.__soak.last) { window.__soak.last = s; window.__soak.changes.push(Date.now()); }
}).observe(document.body, {subtree: true, childList: true, characterData: true});
performance.setResourceTimingBufferSize(100000);
"""
# end (epoch ms) of the wall's last answered poll
LAST_POLL_JS = """
const polls = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/views/wall'));
const p = polls[polls.length - 1];
return p && p.responseEnd > 0 ? performance.timeOrigin + p.responseEnd : null;
"""


def rss_mib(proc: psutil.Process, with_children: bool) -> float | None:
    try:
        procs = [proc, *proc.children(recursive=True)] if with_children else [proc]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20
    except psutil.Error:
        return None


class Sampler:
    """One row per sample: {process name: RSS MiB}; gunicorn's workers each on their own
    (named by start order; a worker that was replaced shows as a new name)."""

    def __init__(self, stack: Stack, driver) -> None:
        self.stack, self.driver = stack, driver
        self.workers: dict[int, str] = {}
        self.rows: list[tuple[float, dict[str, float | None], dict]] = []

    def processes(self) -> dict[str, tuple[psutil.Process, bool]]:
        out = {}
        for name, p in self.stack.procs.items():
            try:
                out[name] = (psutil.Process(p.pid), name != "web")  # the web master alone; its workers below
            except psutil.Error:
                pass
        for pid in sorted(self.stack.web_pids()):
            if pid not in self.workers:
                self.workers[pid] = f"web worker {len(self.workers) + 1}"
            try:
                out[self.workers[pid]] = (psutil.Process(pid), False)
            except psutil.Error:
                pass
        redis = self.stack.redis.process if self.stack.redis is not None else None
        if redis is not None:
            out["redis"] = (psutil.Process(redis.pid), False)
        try:
            out["chromium (wall)"] = (psutil.Process(self.driver.service.process.pid), True)
        except (AttributeError, psutil.Error):
            pass
        return out

    def sample(self, t_min: float, extra: dict) -> None:
        row = {name: rss_mib(p, kids) for name, (p, kids) in self.processes().items()}
        self.rows.append((t_min, row, extra))

    def names(self) -> list[str]:
        return list(dict.fromkeys(n for _, row, _ in self.rows for n in row))


def judge(values: list[float]) -> tuple[float, float, float] | None:
    """(median of the first third, of the last third, growth %) of the samples after the first."""
    vals = [v for v in values[1:] if v is not None]
    if len(vals) < 3:
        return None
    k = len(vals) // 3
    first, last = statistics.median(vals[:k]), statistics.median(vals[-k:])
    return first, last, (last / first - 1) * 100 if first else float("nan")


def log_errors(work: Path) -> dict[str, list[str]]:
    """ERROR / CRITICAL / Traceback lines of each process's log in the stack's work dir."""
    out = {}
    logs = sorted(work.glob("*.log")) + sorted((work / "redis").glob("*.log"))
    for log in logs:
        if log.name == "access.log":
            continue
        lines = [x for x in log.read_text(errors="replace").splitlines() if ERROR_LINE.search(x)]
        out[log.stem] = lines
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30, help="how long the soak runs (after start-up)")
    ap.add_argument("--scale", type=float, default=10, help="simulator volume (1 = the province)")
    ap.add_argument("--history-days", type=float, default=14, help="simulated history the connectors read first")
    ap.add_argument("--sample-every", type=float, default=30, help="seconds between RSS samples")
    ap.add_argument("--last-minutes", type=float, default=5,
                    help="the wall must have changed a tile figure within this many final minutes")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    add_json_arg(ap)
    a = ap.parse_args()

    started = time.time()
    stack = Stack(a.history_days, a.workers, sim_args=("--scale", f"{a.scale:g}"), briefings=True,
                  prefix="ioc-bench-soak-")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    driver = None
    figures: list[Figure] = []
    context: dict = {}
    try:
        print(f"soak, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}: {os.cpu_count()} cores ({cpu_model()}), "
              f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM; simulator scale {a.scale:g}, "
              f"{a.minutes:g} min, a sample every {a.sample_every:g} s", flush=True)
        stack.start()
        store = stack.store()
        from bench.common import _get

        stats = _get(stack.sim_url + "/_control/info", 10).json().get("stats", {})
        volume = {k: v for src in ("hotline", "cameras", "procedures") for k, v in (stats.get(src) or {}).items()
                  if k in ("tickets", "cameras", "dossiers")}
        print("simulator volume: " + ", ".join(f"{v:,} {k}" for k, v in volume.items()), flush=True)
        context["volume"] = volume
        driver = chromium(stack.work)
        _enrol(driver, stack, f"bench-soak-wall-{time.monotonic_ns()}")
        driver.get(stack.base + "/wall")
        wait_for("the wall's tiles", lambda: driver.find_elements("css selector", TILES), 60)
        driver.execute_script(WATCH_JS, TILES)
        sampler = Sampler(stack, driver)
        load = MachineLoad()
        t0 = time.monotonic()
        v0 = store.version()
        print(f"wall open; soaking for {a.minutes:g} min (data version {v0})", flush=True)
        k = 0
        while True:
            at = k * a.sample_every
            if at > a.minutes * 60 + 1e-6:
                break
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            changes = driver.execute_script("return window.__soak.changes.length")
            sampler.sample(at / 60, {"version": store.version(), "tile_changes": changes})
            dead = stack.check_alive()
            if dead:
                print(f"  processes that exited: {dead}", flush=True)
            if k % max(1, round(300 / a.sample_every)) == 0:  # a line every ~5 min while it runs
                print(f"  {at / 60:5.1f} min: data version {store.version()}, {changes} tile changes so far", flush=True)
            k += 1
        end_ms = time.time() * 1000
        changes = driver.execute_script("return window.__soak.changes")
        last_poll = driver.execute_script(LAST_POLL_JS)
        machine = load.report()
        dead = stack.check_alive()

        # --- the table
        names = sampler.names()
        width = max(9, *(len(n) for n in names))
        print(f"\nRSS (MiB) every {a.sample_every:g} s; 'version' = ioc:version, 'tiles' = tile-figure changes seen "
              "in the wall's DOM so far")
        print(f"{'min':>5} {'version':>8} {'tiles':>6} " + " ".join(f"{n[:width]:>{width}}" for n in names))
        for t_min, row, extra in sampler.rows:
            print(f"{t_min:5.1f} {extra['version']:>8} {extra['tile_changes']:>6} " + " ".join(
                f"{row[n]:>{width}.0f}" if row.get(n) is not None else f"{'–':>{width}}" for n in names))

        print(f"\nflat = median RSS of the last third of the samples < {GROWTH_MAX:g} % above the median of the "
              "first third (the start-up sample left out)")
        verdicts = {}
        for n in names:
            j = judge([row.get(n) for _, row, _ in sampler.rows])
            if j is None:
                print(f"  {n:<{width}} too few samples to judge")
                figures.append(Figure(f"RSS growth {n}", None, "%", GROWTH_MAX, note="too few samples"))
                continue
            first, last, growth = j
            flat = growth < GROWTH_MAX
            verdicts[n] = flat
            print(f"  {n:<{width}} {first:7.0f} → {last:7.0f} MiB  {growth:+6.1f} %  {'flat' if flat else 'GROWING'}")
            figures.append(Figure(f"RSS growth {n}", round(growth, 1), "%", GROWTH_MAX,
                                  note=f"{first:.0f} → {last:.0f} MiB (median first → last third)"))
        total_end = sum(v for v in sampler.rows[-1][1].values() if v is not None)
        figures.append(Figure("RSS of all processes at the end", round(total_end), "MiB"))

        errors = log_errors(stack.work)
        n_err = sum(len(v) for v in errors.values())
        print(f"\nERROR / CRITICAL / Traceback lines per log: "
              + ", ".join(f"{name} {len(lines)}" for name, lines in errors.items()) + f"  (total {n_err}, target 0)")
        for name, lines in errors.items():
            for line in lines[:3]:
                print(f"  {name}: {line[:200]}")
        figures.append(Figure("error lines in the logs", n_err, "lines", 0,
                              note=", ".join(f"{n} {len(x)}" for n, x in errors.items() if x) or "none"))

        window_ms = a.last_minutes * 60_000
        recent = [c for c in changes if c >= end_ms - window_ms]
        poll_age = max(0.0, (end_ms - last_poll) / 1000) if last_poll else None  # may land after end_ms
        version_moved = sampler.rows[-1][2]["version"] - v0
        updating = bool(recent) and poll_age is not None and poll_age < 60
        last_change = f" (the last {(end_ms - recent[-1]) / 1000:.0f} s before the end)" if recent else ""
        poll = (f"its last poll answered {poll_age:.1f} s before the end" if poll_age is not None
                else "no answered poll seen")
        print(f"\nthe wall: {len(changes)} tile-figure changes in the DOM over the run, {len(recent)} in the last "
              f"{a.last_minutes:g} min{last_change}; {poll}")
        print(f"data version moved by {version_moved} over the run; the wall still updating at the end: "
              f"{'yes' if updating else 'NO'}")
        figures.append(Figure(f"wall tile changes in the last {a.last_minutes:g} min", len(recent), "changes", 1,
                              better="higher", note=f"{len(changes)} over the run"))
        figures.append(Figure("wall's last answered poll before the end", round(poll_age, 1) if poll_age is not None
                              else None, "s", 60))
        if dead:
            print(f"processes that exited during the soak: {dead}")
        figures.append(Figure("processes that exited", len(dead), "processes", 0, note=", ".join(dead)))
        print(machine)
        context |= {"minutes": a.minutes, "scale": a.scale, "sample_every": a.sample_every,
                   "rule": f"median RSS of the last third < {GROWTH_MAX:g} % above the first third",
                   "machine": machine, "names": names,
                   "rss": [[round(t, 2), {n: (round(v) if v is not None else None) for n, v in row.items()}, extra]
                           for t, row, extra in sampler.rows]}
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what was started", flush=True)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
        stack.stop()
        if a.keep:
            print(f"kept {stack.work}")
        else:
            shutil.rmtree(stack.work, ignore_errors=True)
    write_json(a.json, "soak", figures, started=started, context=context)


if __name__ == "__main__":
    main()
