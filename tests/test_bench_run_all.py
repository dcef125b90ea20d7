"""bench/run_all writes docs/performance.md from the benches' own figures; run for real on two
cheap benches so that the script cannot rot, and its comparisons checked on given figures."""

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.results import Figure, read_json  # noqa: E402
from bench.run_all import compare, num, write_doc  # noqa: E402


def test_quick_run_of_two_benches_writes_their_figures(tmp_path):
    out, logs = tmp_path / "performance.md", tmp_path / "logs"
    proc = subprocess.run([str(ROOT / "bench" / "run_all"), "--quick", "--only", "geo,sim_generate", "--no-soak",
                           "--out", str(out), "--logs", str(logs)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ) | {"PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = out.read_text()
    assert "Quick run, not the reference figures" in doc
    assert f"{os.cpu_count()} cores" in doc and "Git commit: `" in doc and "performance-web.md" in doc
    for bench in ("geo", "sim_generate"):
        figures = read_json(logs / f"{bench}.json")["figures"]
        assert len(figures) == 2
        for f in figures:  # every figure, with the value the bench measured
            assert f"| {f['name']} | {num(f['value'])} | {f['unit']} |" in doc
    assert "ingest" not in doc.split("## Benchmarks")[1]  # only what was asked for


def _doc(bench, figures, **extra):
    return {"bench": bench, "figures": [f.__dict__ for f in figures], "context": {}, "took": 12.0,
            "command": f"python bench/{bench}.py"} | extra


def test_headlines_against_the_ceilings_and_misses(tmp_path):
    ceilings = _doc("ceilings", [Figure("raw pipelined Redis HSET+XADD", 100_000, "records/s", better="higher"),
                                 Figure("bulk SQL insert, SQLite executemany", 400_000, "rows/s", better="higher"),
                                 Figure("bare endpoint p95, 200 viewers", 20.0, "ms")])
    ingest = _doc("ingest", [Figure("observations ingested", 31_000, "records/s", 20_000, better="higher"),
                             Figure("whole backfill", 200.0, "s", 180)])
    web = _doc("web", [Figure("wall poll p95, 200 viewers", 28.0, "ms", 150)])
    ceil = {f["name"]: f["value"] for f in ceilings["figures"]}
    assert compare("ingest", ingest["figures"][0], ceil, {}) == \
        "31 % of raw pipelined Redis; 7,8 % of SQLite executemany"
    assert compare("web", web["figures"][0], ceil, {}).startswith("1,4× a bare endpoint")
    assert compare("geo", Figure("x", 1.0, "s").__dict__, ceil, {}) is None

    out = tmp_path / "p.md"
    failed = _doc("map", [], failed="exit 1", tail=["Traceback …", "SystemExit: no Chromium"])
    write_doc(out, {"ceilings": ceilings, "ingest": ingest, "web": web, "map": failed}, ["ingest", "web", "map",
                                                                                         "drills"],
              quick=False, started=datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc), argv=[],
              skipped={"drills": "not present"}, mach={"cores": 2, "model": "CPU", "ram_gib": 8.0,
                                                        "load": (0.1, 0.2, 0.3), "python": "3", "kernel": "6"})
    doc = out.read_text()
    assert "Quick run" not in doc and "02/12/2026 16:00" in doc
    assert "**31 % of raw pipelined Redis; 7,8 % of SQLite executemany**" in doc
    missed = doc.split("## Missed targets")[1].split("##")[0]
    assert "whole backfill = 200 s**, target ≤ 180 s" in missed and "observations" not in missed
    assert "**map failed** (exit 1)" in missed and "SystemExit: no Chromium" in doc
    assert "| drills | — | not present |" in doc
