"""The web app's GET /metrics (docs/monitoring.md): what it counts, who may read it, the sources'
gauges read at scrape time from a real Redis, and several real gunicorn workers summed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ioc.auth.testing import ensure_user, sign_in
from ioc.db.migrate import upgrade
from ioc.db.session import make_engine
from ioc.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = {"Origin": "http://localhost"}


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels…): value} of an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, *sorted(s.labels.items()))] = s.value
    return out


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, *sorted(labels.items())), 0.0)


def _database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'ioc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _app(tmp_path, redis_url="redis://127.0.0.1:1/0", **settings):
    from ioc.web.app import create_app

    url = _database(tmp_path)
    ensure_user(url, "m-admin", "admin")
    return create_app(load_settings(redis_url=redis_url, database_url=url, data_dir=tmp_path, **settings))


def scrape(client, **kw) -> dict:
    res = client.get("/metrics", **kw)
    assert res.status_code == 200, res.data[:300]
    return samples(res.get_data(as_text=True))


def test_a_callback_and_requests_are_counted_and_timed(tmp_path):
    app = _app(tmp_path)
    admin = app.server.test_client()
    assert sign_in(admin, "m-admin").status_code == 303
    admin.get("/")  # Dash adds its pages' callbacks at the first request
    before = scrape(admin)
    key = next(k for k in app.callback_map if "map-basemap-note.children" in k.strip(".").split("..."))
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in key.strip(".").split("...")]
    body = {"output": key, "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": [{"id": "lang", "property": "data", "value": "vi"}], "changedPropIds": [], "state": []}
    name = ",".join(o["id"] for o in outputs)
    assert admin.post("/_dash-update-component", json=body, headers=ORIGIN).status_code == 200
    # a callback the app does not have: refused by the guard, counted under "unknown", not under its name
    bogus = dict(body, output="made-up.children", outputs={"id": "made-up", "property": "children"})
    assert admin.post("/_dash-update-component", json=bogus, headers=ORIGIN).status_code == 403
    assert admin.get("/api/ping").status_code == 200
    after = scrape(admin)

    def rose(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert rose("ioc_web_callback_duration_seconds_count", callback=name) == 1
    assert rose("ioc_web_callback_duration_seconds_count", callback="unknown") == 1
    assert not any(k[0].startswith("ioc_web_callback") and ("callback", "made-up") in k for k in after)
    assert rose("ioc_web_requests_total", route="callback", status="200") == 1
    assert rose("ioc_web_requests_total", route="callback", status="403") == 1
    assert rose("ioc_web_requests_total", route="api", status="200") == 1
    assert rose("ioc_web_requests_total", route="metrics", status="200") == 1  # the first scrape
    assert rose("ioc_web_request_duration_seconds_count", route="callback") == 2
    assert rose("ioc_web_callback_duration_seconds_sum", callback=name) > 0
    assert value(after, "ioc_web_sessions_active") == 1  # the admin's
    assert value(after, "process_resident_memory_bytes") > 10e6
    assert value(after, "ioc_live_store_up") == 0  # Redis unreachable here: said, not raised


def test_who_may_read_metrics(tmp_path):
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = _app(tmp_path, metrics_allow="10.1.0.0/16, 2001:db8::/32", metrics_token="scrape-secret-1")
    anonymous, admin = app.server.test_client(), app.server.test_client()
    assert sign_in(admin, "m-admin").status_code == 303
    outside = {"REMOTE_ADDR": "203.0.113.5"}

    def status(client, remote, headers=None):
        return client.get("/metrics", environ_base={"REMOTE_ADDR": remote}, headers=headers or {}).status_code

    assert status(anonymous, "127.0.0.1") == 200 and status(anonymous, "::1") == 200  # loopback
    res = anonymous.get("/metrics", environ_base=outside)
    assert res.status_code == 403 and res.json["reason"] == "metrics_forbidden"
    assert status(admin, "203.0.113.5") == 403  # a signed-in person is not a scraper
    assert status(anonymous, "10.1.200.3") == 200 and status(anonymous, "10.2.0.1") == 403  # IOC_METRICS_ALLOW
    assert status(anonymous, "2001:db8::7") == 200
    assert status(anonymous, "203.0.113.5", {"Authorization": "Bearer scrape-secret-1"}) == 200
    assert status(anonymous, "203.0.113.5", {"Authorization": "Bearer wrong"}) == 403
    # a reverse proxy on this machine: loopback, but the forwarding header says it is someone else
    assert status(anonymous, "127.0.0.1", {"X-Forwarded-For": "198.51.100.7"}) == 403
    assert status(anonymous, "127.0.0.1", {"X-Forwarded-For": "198.51.100.7",
                                           "Authorization": "Bearer scrape-secret-1"}) == 200
    # with ProxyFix on, the forwarded address is the client's and the rule applies to it
    app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_for=1)
    assert status(anonymous, "127.0.0.1", {"X-Forwarded-For": "10.1.0.9"}) == 200
    assert status(anonymous, "127.0.0.1", {"X-Forwarded-For": "198.51.100.7"}) == 403
    assert load_settings(metrics_token="scrape-secret-1").masked()["metrics_token"] == "***"
    with pytest.raises(Exception, match="IOC_METRICS_ALLOW"):
        load_settings(metrics_allow="10.0.0.0/8, intranet")


def test_source_gauges_are_read_at_scrape_time(tmp_path, redis_url):
    from ioc.live_store import LiveStore

    store = LiveStore.from_url(redis_url, prefix="ioc")
    now = datetime.now(timezone.utc)
    store.set_health("hotline", {"last_success": (now - timedelta(seconds=30)).isoformat(),
                                 "newest_upstream": (now - timedelta(minutes=10)).isoformat(),
                                 "interval_seconds": "60", "consecutive_failures": "0"})
    store.set_health("cameras", {"last_success": (now - timedelta(hours=1)).isoformat(), "interval_seconds": "30",
                                 "consecutive_failures": "4"})
    store.count_quarantined({("hotline", "outside_province"): 3, ("hotline", "missing_id"): 1})
    client = _app(tmp_path, redis_url=redis_url).server.test_client()
    first = scrape(client)
    assert value(first, "ioc_live_store_up") == 1
    lag = value(first, "ioc_source_lag_seconds", source="hotline")
    assert 600 <= lag < 660
    assert ("ioc_source_lag_seconds", ("source", "cameras")) not in first  # never read a record: no lag
    assert value(first, "ioc_source_state", source="hotline", state="fresh") == 1
    assert value(first, "ioc_source_state", source="hotline", state="stale") == 0
    assert value(first, "ioc_source_state", source="cameras", state="failing") == 1
    assert value(first, "ioc_source_state", source="procedures", state="unknown") == 1
    assert value(first, "ioc_source_consecutive_failures", source="cameras") == 4
    assert abs(value(first, "ioc_source_last_success_timestamp_seconds", source="hotline")
               - (now.timestamp() - 30)) < 1
    assert value(first, "ioc_source_quarantined_records", source="hotline", reason="outside_province") == 3
    time.sleep(1.1)
    assert value(scrape(client), "ioc_source_lag_seconds", source="hotline") >= lag + 1  # computed now, not stored
    store.r.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gunicorn_workers_are_summed(tmp_path, redis_url):
    """The product's own gunicorn line (config hooks included): requests answered by both
    workers, and every scrape — whichever worker answers it — counts them all."""
    url = _database(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOC_", "PROMETHEUS_"))}
    env |= {"IOC_DATA_DIR": str(tmp_path / "var"), "IOC_DATABASE_URL": url, "IOC_REDIS_URL": redis_url,
            "PYTHONPATH": str(ROOT)}
    stale = tmp_path / "var" / "metrics" / "web-999999999"  # a dead run's folder
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"x")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:ioc.web.gunicorn_conf",
                             "ioc.web.wsgi:server", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    answered = 0
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # a bare connection: no request a slow boot could leave half-counted
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.3)

        def one(_):
            with httpx.Client(timeout=120) as c:  # a connection per request: the workers take turns
                return c.get(f"{base}/healthz").status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(one, range(80)))
        answered = len(statuses)
        folder = tmp_path / "var" / "metrics" / f"web-{proc.pid}"
        pids = {f.stem.split("_")[1] for f in folder.glob("counter_*.db")}
        assert len(pids) == 2, f"requests reached {len(pids)} worker(s): {sorted(folder.iterdir())}"
        assert not stale.exists()  # a dead run's folder is removed at start
        seen = []
        for _ in range(6):
            found = samples(httpx.get(f"{base}/metrics", timeout=10).text)
            seen.append(value(found, "ioc_web_requests_total", route="health", status=str(statuses[0])))
        assert seen == [answered] * 6, (seen, answered)
        roles = [k for k in found if k[0] == "ioc_web_process_resident_memory_bytes"]
        assert sorted(dict(k[1:])["role"] for k in roles) == ["master", "worker", "worker"]
        assert value(found, "ioc_live_store_up") == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err.decode(), err.decode()[-2000:]


def test_multiproc_folder_is_emptied_at_start(tmp_path, monkeypatch):
    from ioc.web.gunicorn_conf import prepare_multiproc_dir

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # recorded as unset: restored so after the test
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    mine = tmp_path / "metrics" / f"web-{os.getpid()}"
    mine.mkdir(parents=True)
    (mine / "counter_5.db").write_bytes(b"old")
    live = tmp_path / "metrics" / f"web-{os.getppid()}"  # a run whose master is alive: kept
    live.mkdir()
    folder = prepare_multiproc_dir(tmp_path)
    assert folder == mine and os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(mine)
    assert list(mine.iterdir()) == [] and live.is_dir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "given"))  # the operator's choice wins
    assert prepare_multiproc_dir(tmp_path) == tmp_path / "given"


def test_ioc_up_refuses_two_processes_on_one_port(tmp_path, monkeypatch):
    import ioc.cli
    from typer.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("IOC_")]:
        monkeypatch.delenv(var)
    monkeypatch.setattr(ioc.cli, "prepare_stores", lambda *a, **k: pytest.fail("started despite the clash"))
    res = CliRunner().invoke(ioc.cli.app, ["up", "--port", "9102"], env={"IOC_DATA_DIR": str(tmp_path)})
    assert res.exit_code != 0
    assert isinstance(res.exception, Exception) and "IOC_KPI_METRICS_PORT" in str(res.exception)
    assert "port 9102" in str(res.exception)
