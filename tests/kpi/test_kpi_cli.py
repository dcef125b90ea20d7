"""`ioc kpi` as a user runs it: a real process against test stores (IOC_DATA_DIR,
IOC_DATABASE_URL, IOC_REDIS_URL); bad input is one line on stderr, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from ioc.db.session import make_engine
from ioc.kpi.orchestrator import Orchestrator

UTC = timezone.utc


def run_kpi(*args, env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | env
    return subprocess.run([sys.executable, "-m", "ioc", "kpi", *args], capture_output=True, text=True, env=full,
                          timeout=120)


@pytest.fixture
def stores(sqlite_url, live_store, tmp_path):
    from test_snapshot import fill, set_health  # tests/kpi is on sys.path (pytest's prepend import mode)

    engine = make_engine(sqlite_url)
    fill(engine)
    set_health(live_store, now=datetime.now(UTC), stale=())
    env = {"IOC_DATA_DIR": str(tmp_path / "var"), "IOC_DATABASE_URL": sqlite_url, "IOC_REDIS_URL": _url(live_store)}
    yield engine, live_store, env
    engine.dispose()


def _url(store) -> str:
    kw = store.r.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"


def test_json_snapshot_computed_then_served_from_redis(stores):
    engine, store, env = stores
    res = run_kpi("--json", env=env)
    assert res.returncode == 0, res.stderr
    snap = json.loads(res.stdout)
    assert snap["served_from"] == "computed"  # no snapshot in Redis yet
    assert snap["cameras"]["total"] == 4 and snap["hotline"]["has_data"] is True
    # the scheduler publishes one: the CLI reads it instead of recomputing
    Orchestrator(engine, store).recompute(force=True)
    res = run_kpi("--json", env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["served_from"] == "redis"


def test_json_period_day(stores):
    _engine, _store, env = stores
    res = run_kpi("--json", "--period", "day", "--date", "2026-05-20", env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["period"]["kind"] == "day" and out["period"]["first_day"] == "2026-05-20"
    assert out["hotline"]["figures"]["received"] == 4  # the hand-made day of tests/kpi/test_snapshot.py
    assert out["hotline"]["previous"]["received"] == 1
    assert out["procedures"]["province"]["counts"]["received"] == 0


BAD = [
    (["--json", "--period", "fortnight"], "unknown period 'fortnight'"),
    (["--json", "--period", "day", "--date", "2026-02-30"], "bad date '2026-02-30'"),
    (["--json", "--date", "2026-05-20"], "need --period"),
    (["--period", "custom", "--start", "2026-05-10", "--end", "2026-05-01"], "before its start"),
    (["ack", "no_such:alert", "--by", "tester"], "no active alert with key 'no_such:alert'"),
]


def test_bad_input_one_line_exit_2(stores):
    _engine, _store, env = stores
    full = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | env
    procs = [(subprocess.Popen([sys.executable, "-m", "ioc", "kpi", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=full), expect) for args, expect in BAD]
    for p, expect in procs:  # run side by side: each is a full interpreter start
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 2, (expect, stdout, stderr)
        assert "Traceback" not in stderr
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and expect in lines[0], stderr


def test_alerts_and_ack(stores, monkeypatch):
    from typer.testing import CliRunner

    from ioc.kpi.cli import app

    engine, store, env = stores
    orch = Orchestrator(engine, store, alert_interval=0.0)
    orch.recompute()
    orch.recompute()  # cameras 25 % online → raised after 2 evaluations
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    res = CliRunner().invoke(app, ["alerts", "--json"])
    assert res.exit_code == 0, res.output
    assert "cameras_online:province" in [a["key"] for a in json.loads(res.output)["active"]]
    res = CliRunner().invoke(app, ["alerts"])
    assert res.exit_code == 0 and "Active alerts (" in res.output and "warning" in res.output
    res = run_kpi("ack", "cameras_online:province", "--by", "Nguyễn Văn A", env=env)
    assert res.returncode == 0, res.stderr
    assert store.alerts()["cameras_online:province"]["acked_by"] == "Nguyễn Văn A"


def test_rollups_command_builds_then_has_nothing_to_do(sqlite_url, tmp_path):
    from datetime import timedelta

    from sqlalchemy.orm import Session

    from ioc.db import models as m

    engine = make_engine(sqlite_url)
    old = datetime.now(UTC) - timedelta(days=3)
    with Session(engine) as s, s.begin():
        s.add(m.Camera(id="R1", name="R1", status="online", updated_at=old, status_since=old))
        s.add(m.CameraStatusChange(camera_id="R1", at=old, status="online"))
        s.add(m.Dossier(id="D1", received_at=old, updated_at=old, agency="Sở X", commune_code="29251"))
    engine.dispose()
    env = {"IOC_DATA_DIR": str(tmp_path / "var"), "IOC_DATABASE_URL": sqlite_url}
    res = run_kpi("rollups", "--json", env=env)
    assert res.returncode == 0, res.stderr
    first = json.loads(res.stdout)
    assert set(first) == {"cameras", "environment", "procedures"}
    assert first["cameras"]["built"] in (3, 4)  # the change's local day up to yesterday
    assert first["procedures"]["built"] == first["cameras"]["built"] and first["environment"]["built"] == 0
    again = json.loads(run_kpi("rollups", "--json", env=env).stdout)
    assert all(r["built"] == 0 for r in again.values())
    # the progress-bar form prints one summary line per domain
    shown = run_kpi("rollups", "--rebuild", env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"procedures   {first['procedures']['built']} day(s) built" in shown.stdout


def test_period_tables_show_the_camera_availability(stores):
    _engine, _store, env = stores
    res = run_kpi("--period", "day", "--date", "2026-05-20", env=env)
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("Cameras: availability"))
    assert "—" not in line.split("(previous")[0] and " %" in line, line  # a figure, not "no data"
