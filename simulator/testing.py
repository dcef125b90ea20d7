"""Run a real simulator server for tests.

    from simulator.testing import running_simulator

    with running_simulator(history_days=7, frozen=True) as sim:
        httpx.get(sim.hotline_url + "/requests.json")
        sim.set_faults("hotline", kind="error", status=503, times=3)
        sim.advance(2)          # frozen clock: two more hours of data appear

``mode="thread"`` (default) runs uvicorn in a daemon thread of this process (fast, and
``sim.app.state.sim`` gives the in-process Simulator); ``mode="process"`` starts
``python -m simulator serve`` in a subprocess. Either way clients talk real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import httpx

from simulator.config import SimConfig


@dataclass
class SimHandle:
    base_url: str
    process: subprocess.Popen | None = None
    app: Any = None
    _client: httpx.Client = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self):
        self._client = httpx.Client(base_url=self.base_url, timeout=30)

    @property
    def hotline_url(self) -> str:
        return self.base_url + "/open311/v2"

    @property
    def cameras_url(self) -> str:
        return self.base_url + "/cameras/api/v1"

    @property
    def environment_url(self) -> str:
        return self.base_url + "/sta/v1.1"

    @property
    def procedures_url(self) -> str:
        return self.base_url + "/procedures/api/v1"

    # --------------------------------------------------------------- control
    def set_faults(self, source: str, **kw) -> dict:
        """Add one fault, e.g. ``set_faults("hotline", kind="error", status=503, times=3)``.
        Several at once: ``set_faults("all", faults=[{"kind": "latency", "ms": 50}, ...])``."""
        many = kw.pop("faults", None)
        body = [{"source": source, **f} for f in many] if many else {"source": source, **kw}
        r = self._client.post("/_control/faults", json=body)
        r.raise_for_status()
        return r.json()

    def clear_faults(self, source: str | None = None) -> dict:
        r = self._client.delete("/_control/faults", params={"source": source} if source else None)
        r.raise_for_status()
        return r.json()

    def faults(self) -> dict:
        """Active faults, counts per source and kind, and the log of injected records (with ids)."""
        return self._client.get("/_control/faults").json()

    def advance(self, hours: float) -> datetime:
        return self._clock({"advance_hours": hours})

    def set_time(self, when: str | datetime) -> datetime:
        return self._clock({"set": when.isoformat() if isinstance(when, datetime) else when})

    def now(self) -> datetime:
        return datetime.fromisoformat(self._client.get("/_control/clock").json()["now"])

    def info(self) -> dict:
        return self._client.get("/_control/info").json()

    def _clock(self, body: dict) -> datetime:
        r = self._client.post("/_control/clock", json=body)
        r.raise_for_status()
        return datetime.fromisoformat(r.json()["now"])

    def close(self) -> None:
        self._client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, deadline: float, proc: subprocess.Popen | None = None) -> None:
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"simulator exited with {proc.returncode}: {out[-2000:]}")
        try:
            if httpx.get(url + "/_control/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError as err:
            last = err
        time.sleep(0.05)
    raise TimeoutError(f"simulator at {url} did not answer: {last}")


@contextlib.contextmanager
def running_simulator(mode: str = "thread", startup_timeout: float = 60, **kwargs) -> Iterator[SimHandle]:
    """Start a simulator on a free port of 127.0.0.1; ``kwargs`` are SimConfig fields
    (seed, scale, speed, history_days, frozen, frozen_at, faults, ...)."""
    if mode == "process":
        yield from _process(startup_timeout, **kwargs)
        return
    if mode != "thread":
        raise ValueError("mode must be 'thread' or 'process'")
    import uvicorn

    from simulator.server import build_app

    app = build_app(SimConfig(**kwargs))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"simulator:{port}")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    handle = SimHandle(url, app=app)
    try:
        _wait(url, time.monotonic() + startup_timeout)
        yield handle
    finally:
        handle.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _process(startup_timeout: float, **kwargs) -> Iterator[SimHandle]:
    port = free_port()
    args = [sys.executable, "-m", "simulator", "serve", "--port", str(port)]
    flags = {"seed": "--seed", "speed": "--speed", "scale": "--scale", "history_days": "--history-days",
             "replay_hours": "--replay-hours", "frozen_at": "--frozen-at", "geo_dir": "--geo-dir"}
    faults = kwargs.pop("faults", None)
    for k, v in kwargs.items():
        if k == "frozen":
            if v:
                args.append("--frozen")
        elif k in flags:
            if v is not None:
                args += [flags[k], str(v)]
        else:
            raise TypeError(f"process mode does not support {k!r}")
    if faults:
        if isinstance(faults, dict):
            raise TypeError("process mode takes faults as a list of 'SOURCE:KIND[=VALUE]' strings")
        for f in faults:
            args += ["--fault", f]
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    handle = SimHandle(url, process=proc)
    try:
        _wait(url, time.monotonic() + startup_timeout, proc)
        yield handle
    finally:
        handle.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
