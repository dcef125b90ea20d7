"""/healthz and the product as `ioc up` runs it: real processes, real Redis, real HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from ioc.settings import load_settings
from ioc.web.app import create_app


def test_healthz_reports_both_stores(redis_url, sqlite_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(redis_url=redis_url, database_url=sqlite_url)
    client = create_app(settings).server.test_client()
    res = client.get("/healthz")
    assert res.status_code == 200, res.json
    assert res.json["status"] == "ok"
    assert res.json["redis"]["ok"] and res.json["database"]["ok"]


def test_healthz_says_degraded_when_redis_is_down(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(redis_url="redis://127.0.0.1:1/0", database_url=sqlite_url)
    res = create_app(settings).server.test_client().get("/healthz")
    assert res.status_code == 503
    assert res.json["redis"]["ok"] is False and res.json["database"]["ok"] is True


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ioc_up_starts_own_redis_serves_healthz_and_stops_cleanly(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env |= {"IOC_DATA_DIR": str(tmp_path / "var"), "IOC_WEB_PORT": str(port), "IOC_SIM_PORT": str(_free_port())}
    proc = subprocess.Popen([sys.executable, "-m", "ioc", "up", "--no-demo"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        body = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                res = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                body = res.json()
                if res.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert body and body["status"] == "ok", body
        assert body["redis"]["url"].startswith("unix://")  # its own redis-server, no IOC_REDIS_URL
        assert (tmp_path / "var" / "redis" / "appendonlydir").is_dir()  # AOF persistence on

        # supervised: kill -9 the redis-server; it comes back with the data (AOF)
        import psutil
        import redis

        sock = tmp_path / "var" / "redis" / "redis.sock"
        client = redis.Redis(unix_socket_path=str(sock))
        client.set("ioc:test:kept", "yes")
        time.sleep(1.5)  # appendfsync everysec
        victim = next(p for p in psutil.process_iter(["cmdline"]) if str(sock) in " ".join(p.info["cmdline"] or []))
        victim.kill()
        deadline = time.monotonic() + 30
        back = None
        while time.monotonic() < deadline:
            try:
                back = redis.Redis(unix_socket_path=str(sock), socket_timeout=1).get("ioc:test:kept")
                if back:
                    break
            except redis.RedisError:
                pass
            time.sleep(0.5)
        assert back == b"yes"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists() or not _answers(tmp_path)


def _answers(tmp_path):
    from ioc.redis_server import ping

    return ping(f"unix://{tmp_path / 'var' / 'redis' / 'redis.sock'}")
