"""The simulated clock, determinism, and the command line."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx
import numpy as np
from typer.testing import CliRunner

from simulator.cli import app as cli_app
from simulator.clock import SimClock
from simulator.config import SimConfig
from simulator.server import Simulator
from simulator.testing import running_simulator


class FakeWall:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_clock_speed_one_is_wall_time():
    w = FakeWall(1_800_000_000)
    c = SimClock(1.0, wall=w)
    assert c.now() == w.t
    w.t += 3600
    assert c.now() == w.t


def test_fast_clock_replays_then_meets_wall_time():
    w = FakeWall(1_800_000_000)
    start = w.t
    c = SimClock(60.0, wall=w)  # replay defaults to 6 h
    assert c.now() == start - 6 * 3600
    w.t += 180  # 3 wall minutes = 3 simulated hours
    assert c.now() == start - 3 * 3600
    w.t = start + 600  # 10 wall minutes: would be 4 h ahead, capped at wall time
    assert c.now() == w.t
    c2 = SimClock(10.0, replay_hours=1, wall=FakeWall(start))
    assert c2.now() == start - 3600


def test_frozen_clock_moves_only_when_told_and_never_past_wall():
    w = FakeWall(1_800_000_000)
    c = SimClock(1.0, frozen_at=w.t - 10 * 3600, wall=w)
    w.t += 5000
    assert c.now() == 1_800_000_000 - 10 * 3600
    assert c.advance(2) == 1_800_000_000 - 8 * 3600
    assert c.advance(100) == w.t  # capped
    c.set(1_700_000_000)
    assert c.now() == 1_700_000_000
    c.freeze(False)
    w.t += 60
    assert c.now() == 1_700_000_060


def test_control_clock_and_new_data(tmp_path):
    start = (datetime.now().astimezone() - timedelta(days=6)).replace(minute=0, second=0, microsecond=0)
    with running_simulator(history_days=2, frozen=True, frozen_at=start.isoformat(), seed=11) as s:
        with httpx.Client(base_url=s.base_url) as c:
            assert abs((s.now() - start).total_seconds()) < 1
            n0 = s.info()["stats"]["hotline"]["tickets"]
            d0 = c.get("/procedures/api/v1/dossiers", params={"page_size": 1}).json()["total"]
            now = s.advance(72)
            assert now - start == timedelta(hours=72)
            assert s.info()["stats"]["hotline"]["tickets"] > n0
            assert c.get("/procedures/api/v1/dossiers", params={"page_size": 1}).json()["total"] > d0
            r = c.post("/_control/clock", json={"set": (start - timedelta(hours=12)).isoformat()})
            assert r.status_code == 200 and r.json()["frozen"] is True
            assert c.post("/_control/clock", json={"set": "tomorrow"}).status_code == 400
            assert s.info()["stats"]["hotline"]["tickets"] <= n0  # back in time: fewer tickets exist


def _snapshot(sim: Simulator) -> tuple:
    now = sim.ctx.now()
    h = sim.hotline
    n = h.stats()["tickets"]
    tickets = h.render(np.arange(n), now, True, "")
    p = sim.procedures
    dossiers = p.render(np.arange(p.stats()["dossiers"]), now)
    obs = sim.environment.m.values(np.arange(50), np.full(50, now // 3600 - 3))
    cams = sim.cameras.view(now)["status"]
    return tickets, dossiers, obs.tolist(), cams.tolist()


def test_same_seed_same_data_and_days_do_not_depend_on_history():
    at = "2026-03-10T12:00:00+07:00"
    a = _snapshot(Simulator(SimConfig(seed=4, history_days=10, frozen=True, frozen_at=at)))
    b = _snapshot(Simulator(SimConfig(seed=4, history_days=10, frozen=True, frozen_at=at)))
    assert a == b
    c = _snapshot(Simulator(SimConfig(seed=5, history_days=10, frozen=True, frozen_at=at)))
    assert c[0] != a[0] and c[1] != a[1] and c[2] != a[2]
    longer = _snapshot(Simulator(SimConfig(seed=4, history_days=20, frozen=True, frozen_at=at)))
    ids = {t["service_request_id"] for t in a[0]}
    assert [t for t in longer[0] if t["service_request_id"] in ids] == a[0]


def test_timestamps_never_in_the_future_with_a_fast_clock():
    with running_simulator(history_days=2, speed=3600, scale=0.3) as s:
        time.sleep(0.3)
        with httpx.Client(base_url=s.base_url) as c:
            wall = datetime.now().astimezone()
            tickets = c.get("/open311/v2/requests.json").json()
            assert max(datetime.fromisoformat(t["updated_datetime"]) for t in tickets) <= wall
            for t in tickets:
                for n in t["notes"]:
                    assert datetime.fromisoformat(n["datetime"]) <= wall
            d = c.get("/procedures/api/v1/dossiers", params={"page_size": 10000}).json()["items"]
            assert max(datetime.fromisoformat(x["updated_at"]) for x in d) <= wall
            cams = c.get("/cameras/api/v1/cameras", params={"itemsPerPage": 5000}).json()["items"]
            assert max(datetime.fromisoformat(x["last_seen"]) for x in cams) <= wall
            obs = c.get("/sta/v1.1/Observations", params={"$orderby": "phenomenonTime desc", "$top": 5}).json()
            assert datetime.fromisoformat(obs["value"][0]["phenomenonTime"].replace("Z", "+00:00")) <= wall


def test_cli_help_and_bad_fault():
    runner = CliRunner()
    r = runner.invoke(cli_app, ["serve", "--help"])
    assert r.exit_code == 0 and "--history-days" in r.output and "--fault" in r.output
    r = runner.invoke(cli_app, ["serve", "--fault", "hotline:explode"])
    assert r.exit_code != 0


def test_cli_serve_prints_urls_and_serves():
    with running_simulator(mode="process", history_days=1, frozen=True, seed=2,
                           faults=["cameras:latency=10"]) as s:
        line = s.process.stdout.readline().decode()
        for part in ("/open311/v2", "/cameras/api/v1", "/sta/v1.1", "/procedures/api/v1"):
            assert s.base_url + part in line
        assert httpx.get(s.cameras_url + "/cameras").status_code == 200
        assert s.faults()["counts"]["cameras"]["latency"] == 1
