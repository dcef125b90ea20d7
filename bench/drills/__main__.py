"""Run the fault drills one after another (docs/operations-drills.md).

    .venv/bin/python -m bench.drills                      # all four, drill 3 for 10 minutes (~25 min)
    .venv/bin/python -m bench.drills --quick              # drill 1 short, drill 3 for 2 minutes
    .venv/bin/python -m bench.drills --only 1,4 --json-dir var/drills

Each drill prints what it did, what it saw and PASS/FAIL with its figures; with ``--json-dir``
each writes ``drill-N.json`` there (bench/results.py); with ``--json FILE`` their figures go into
one document, a "drill N passed" figure per drill first (bench/run_all reads it). Exit status: 0
when every drill passed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.drills import all_faults, briefing_full, postgres_restart, redis_restart  # noqa: E402
from bench.results import Figure, add_json_arg, read_json, write_json  # noqa: E402

DRILLS = {
    "1": ("Redis restarted mid-ingest", redis_restart.main),
    "2": ("PostgreSQL restarted", postgres_restart.main),
    "3": ("every simulator fault, then exact reconciliation", all_faults.main),
    "4": ("briefing folder full", briefing_full.main),
}


def main(argv=None) -> int:
    # no abbreviations: `--json` must never be taken for `--json-dir`
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)
    ap.add_argument("--only", default="1,2,3,4", help="comma list of drill numbers")
    ap.add_argument("--quick", action="store_true", help="drill 1 --quick, drill 3 --minutes 2")
    ap.add_argument("--minutes", type=float, default=None, help="drill 3's fault window (default 10; 2 with --quick)")
    ap.add_argument("--json-dir", type=Path, help="write drill-N.json here")
    add_json_arg(ap)
    a = ap.parse_args(argv)
    started = time.time()
    json_dir = a.json_dir or (Path(tempfile.mkdtemp(prefix="ioc-drills-")) if a.json else None)
    results = {}
    for n in [x.strip() for x in a.only.split(",") if x.strip()]:
        if n not in DRILLS:
            ap.error(f"unknown drill {n!r}: choose from {', '.join(DRILLS)}")
        title, fn = DRILLS[n]
        args = []
        if n == "1" and a.quick:
            args.append("--quick")
        if n == "3":
            args += ["--minutes", str(a.minutes or (2 if a.quick else 10))]
        if json_dir:
            json_dir.mkdir(parents=True, exist_ok=True)
            args += ["--json", str(json_dir / f"drill-{n}.json")]
        print(f"\n=== drill {n}: {title} ===", flush=True)
        t = time.monotonic()
        code = fn(args)
        results[n] = (code == 0, time.monotonic() - t)
        if code == 130:  # Ctrl-C: the drill stopped what it started; stop here too
            break
    print("\n=== summary ===")
    for n, (ok, secs) in results.items():
        print(f"drill {n} ({DRILLS[n][0]}): {'PASS' if ok else 'FAIL'} in {secs:.0f} s")
    if a.json:
        write_json(a.json, "drills", combined(results, json_dir), started=started)
    return 0 if all(ok for ok, _ in results.values()) else 1


def combined(results: dict, json_dir: Path) -> list[Figure]:
    """Each drill's pass/fail, then its own figures named after it."""
    figures = []
    for n, (ok, secs) in results.items():
        figures.append(Figure(f"drill {n} passed", 1.0 if ok else 0.0, "bool", 1, "higher",
                              f"{DRILLS[n][0]}, {secs:.0f} s"))
        path = json_dir / f"drill-{n}.json"
        for f in read_json(path)["figures"] if path.exists() else []:
            figures.append(Figure(f"drill {n}: {f['name']}", f["value"], f["unit"], f["target"], f["better"],
                                  f["note"]))
    return figures


if __name__ == "__main__":
    sys.exit(main())
