"""The benchmarks' shared product stack (bench/common.py ``Stack``: own Redis, SQLite, the
simulator, connectors, KPI scheduler, briefing scheduler, gunicorn) still starts and serves:
a half-minute soak (bench/soak.py) at province scale with /wall open in headless Chromium. No test
started that stack before, and a broken name in it went unnoticed until bench/web.py and
bench/soak.py died at start-up. The figures are the bench's business; here: it ran, every
process it started was sampled and stayed up, the logs are clean, the wall was answered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.results import read_json

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser


@pytest.mark.timeout(300)
def test_a_short_soak_starts_the_bench_stack_and_samples_every_process(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "0.5", "--scale", "1", "--history-days", "1",
         "--sample-every", "5", "--last-minutes", "0.5", "--json", str(out)],
        cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=280)
    log = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, log
    doc = read_json(out)
    figures = {f["name"]: f for f in doc["figures"]}
    names = doc["context"]["names"]
    for name in ("simulator", "connectors", "scheduler", "briefings", "redis", "chromium (wall)", "web",
                 "web worker 1", "web worker 2"):  # the scheduler is `ioc kpi run`; gunicorn's master and workers
        assert name in names, f"{name} not sampled: {names}\n{log}"
    assert len(doc["context"]["rss"]) >= 6  # a sample every 5 s for half a minute
    assert figures["processes that exited"]["value"] == 0, log
    assert figures["error lines in the logs"]["value"] == 0, figures["error lines in the logs"]["note"]
    assert figures["wall's last answered poll before the end"]["value"] is not None, log
