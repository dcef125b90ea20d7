"""What every fault drill starts: the product as `ioc up` runs it, in a temp dir, on loopback
ports of its own, with a Redis (and, for drill 2, a PostgreSQL) the drill may kill.

* ``Stack``: its own ``redis-server`` (TCP port, AOF in the work dir: ``kill_redis`` /
  ``start_redis`` reload it as a crash and restart would), a database (SQLite in the work dir,
  or a URL), the upstream simulator (``python -m simulator serve``), ``ioc connectors run``,
  ``ioc kpi run`` and gunicorn with one worker; polls at drill speed (``INTERVALS``).
* ``OwnPostgres``: an ``initdb`` cluster in a temp dir, run as the ``postgres`` user when we
  are root (PostgreSQL refuses root), trust auth, its own port; ``restart(mode)``.
* ``bounded(seconds)``: SIGALRM after the drill's ``--timeout`` raises ``DrillAborted``, SIGINT
  (Ctrl-C) and SIGTERM raise ``KeyboardInterrupt``, so the drill's ``finally`` stops everything
  it started.

Every child runs in its own process group (``start_new_session``) and is stopped by group.
Helpers the benches share (``free_port``, ``wait_for``) come from bench/common.py rather
than written again.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import free_port, product_env, wait_for  # noqa: E402

SOURCES = ("hotline", "cameras", "environment", "procedures")
# Polls at drill speed: every source several times a minute (production: 30–120 s).
INTERVALS = {"hotline": 3.0, "cameras": 3.0, "environment": 5.0, "procedures": 4.0}


class DrillAborted(Exception):
    """The drill's --timeout passed."""


@contextlib.contextmanager
def bounded(seconds: float):
    """Raise DrillAborted after ``seconds`` and KeyboardInterrupt on SIGTERM, inside the block."""

    def on_alarm(*_):
        raise DrillAborted(f"the drill's time limit of {seconds:.0f} s passed")

    def on_term(*_):
        raise KeyboardInterrupt

    old_alarm = signal.signal(signal.SIGALRM, on_alarm)
    old_term = signal.signal(signal.SIGTERM, on_term)
    old_int = signal.signal(signal.SIGINT, on_term)  # also when started with SIGINT ignored (a `&` job)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def say(text: str) -> None:
    print(text, flush=True)


def report(name: str, figures) -> bool:
    """Print each figure against its target and the verdict: PASS when every figure was
    measured and meets its target."""
    ok = bool(figures) and all(f.met is not False and f.value is not None for f in figures)
    for f in figures:
        mark = "ok" if f.met else ("—" if f.met is None else "MISSED")
        say(f"  {mark:<6} {f.name}: {f.value if f.value is None else round(f.value, 2)} {f.unit} "
            f"(target {f.target}){'  ' + f.note if f.note else ''}")
    say(f"{name}: {'PASS' if ok else 'FAIL'}")
    return ok


class Stack:
    def __init__(self, *, database_url: str | None = None, history_days: float = 3, speed: float = 1.0,
                 replay_hours: float | None = None, scale: float = 1.0, seed: int = 1, web: bool = True,
                 scheduler: bool = True, extra_env: dict | None = None, prefix: str = "ioc-drill-") -> None:
        self.work = Path(tempfile.mkdtemp(prefix=prefix))
        self.db_url = database_url or f"sqlite:///{self.work / 'ioc.db'}"
        self.sim_args = ["--seed", str(seed), "--history-days", str(history_days), "--speed", str(speed),
                         "--scale", str(scale)]
        if replay_hours is not None:
            self.sim_args += ["--replay-hours", str(replay_hours)]
        self.want_web, self.want_scheduler = web, scheduler
        self.extra_env = extra_env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list = []
        self.redis = None
        self.redis_port = free_port()
        self.sim_port = free_port()
        self.sim = f"http://127.0.0.1:{self.sim_port}"
        self.web_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.headers: dict[str, str] = {}

    # --- start ---------------------------------------------------------------------------------

    def start(self, *, wait_first_data: bool = True) -> None:
        from ioc.db.migrate import upgrade
        from ioc.db.session import make_engine
        from ioc.settings import load_settings

        t0 = time.monotonic()
        self.start_redis()
        self.env = product_env(self.work, self.db_url, self.redis.url, self.sim) | {
            f"IOC_{s.upper()}_INTERVAL": str(v) for s, v in INTERVALS.items()} | self.extra_env
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("IOC_")})
        self.settings = load_settings()
        engine = make_engine(self.db_url)
        upgrade(engine)
        from geo.setup import prepare_geography

        prepare_geography(engine, self.settings)
        engine.dispose()
        py = sys.executable
        self.spawn("simulator", [py, "-m", "simulator", "serve", "--port", str(self.sim_port), *self.sim_args])
        wait_for("the simulator", lambda: httpx.get(self.sim + "/_control/health", timeout=2).status_code == 200, 120)
        self.spawn("connectors", [py, "-m", "ioc", "connectors", "run"])
        if self.want_scheduler:
            self.spawn("scheduler", [py, "-m", "ioc", "kpi", "run"])
        if wait_first_data:
            store = self.store()
            wait_for("every source's first successful poll",
                     lambda: all(store.health(s).get("last_success") for s in SOURCES), 600, 1.0)
            if self.want_scheduler:
                wait_for("the scheduler's first views", lambda: "tiles" in store.view_versions(), 300)
        if self.want_web:
            self.spawn("web", [py, "-m", "gunicorn", "ioc.web.wsgi:server", "--workers", "1",
                               "--bind", f"127.0.0.1:{self.web_port}", "--timeout", "60", "--log-level", "warning"])
            wait_for("gunicorn", lambda: httpx.get(self.base + "/healthz", timeout=5).status_code in (200, 503), 120)
            from ioc.auth.testing import cookie_header, enrol_link, http_cookies

            self.headers = {"Cookie": cookie_header(http_cookies(self.base, enrol_path=enrol_link(self.db_url,
                                                                                                  "drill-wall")))}
        say(f"stack ready in {time.monotonic() - t0:.0f} s (work dir {self.work}, redis {self.redis.url}, "
            f"database {self.db_url.split('@')[-1]}, simulator {self.sim}" + (f", web {self.base})" if self.want_web
                                                                              else ")"))

    def spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.work / f"{name}.log", "ab")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(argv, env=self.env, cwd=self.work, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    # --- Redis: killed and restarted from its AOF ------------------------------------------------

    def start_redis(self) -> None:
        from ioc.redis_server import start_own_redis

        self.redis = start_own_redis(self.work / "redis", port=self.redis_port)

    def kill_redis(self) -> None:
        """SIGKILL: no shutdown, no final fsync (AOF is fsynced every second)."""
        os.kill(self.redis.process.pid, signal.SIGKILL)
        self.redis.process.wait(timeout=10)

    def store(self):
        from ioc.live_store import LiveStore

        return LiveStore.from_url(self.redis.url, self.settings.redis_prefix)

    # --- reading the product as a person would ---------------------------------------------------

    def get(self, path: str, timeout: float = 5.0) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers, timeout=timeout)

    def badges(self) -> dict:
        """The wall's freshness, from the read model over HTTP (``GET /api/views/versions``):
        {"store": "up"|"down", "figures": fresh|stale|unknown, "sources": {src: state}, "published": …}."""
        token = self.get("/api/views/versions").json()["versions"]["badges"]
        if token == "store-down":
            return {"store": "down", "figures": None, "sources": {}, "published": None}
        parts = token.split("|")
        states = [s.split("@", 1)[0] for s in parts[1].split(",")]
        return {"store": "up", "figures": parts[0], "sources": dict(zip(SOURCES, states)), "published": parts[-1]}

    def sim_records(self, source: str) -> dict:
        return httpx.get(self.sim + "/_control/records", params={"source": source}, timeout=120).json()["records"]

    def sim_post(self, path: str, body) -> dict:
        r = httpx.post(self.sim + path, json=body, timeout=30)
        r.raise_for_status()
        return r.json()

    def sim_get(self, path: str) -> dict:
        r = httpx.get(self.sim + path, timeout=30)
        r.raise_for_status()
        return r.json()

    def sim_delete(self, path: str) -> dict:
        r = httpx.delete(self.sim + path, timeout=30)
        r.raise_for_status()
        return r.json()

    def dead(self) -> dict[str, int]:
        """Processes we started that have exited: name → exit code."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def log_lines(self, name: str, needle: str) -> int:
        path = self.work / f"{name}.log"
        return sum(needle in line for line in path.read_text(errors="replace").splitlines()) if path.exists() else 0

    # --- stop --------------------------------------------------------------------------------------

    def stop(self) -> None:
        for name in ("web", "scheduler", "briefings", "connectors", "simulator"):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for p in self.procs.values():  # anything else started by spawn
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        self.procs = {}
        if self.redis is not None and self.redis.process is not None and self.redis.process.poll() is None:
            self.redis.stop()
        for log in self.logs:
            log.close()
        self.logs = []

    def cleanup(self, keep: bool = False) -> None:
        if keep:
            say(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class OwnPostgres:
    """A throw-away PostgreSQL cluster: initdb in a temp dir, trust auth, 127.0.0.1:<port>."""

    BIN = Path("/usr/local/bin")

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ioc-drill-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.BIN / argv[0]), *argv[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True,
                              start_new_session=True)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                    "fsync = on\nmax_connections = 50\nshared_buffers = 64MB\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w", "-t", "60", "start")

    def restart(self, mode: str = "immediate", down: float = 0.0) -> None:
        """``pg_ctl restart -m mode``; with ``down`` > 0: stop, stay down that long, start."""
        if down <= 0:
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w", "-t", "60", "-m", mode,
                      "restart")
            return
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop")
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-m", "fast", "stop", timeout=60)

    def cleanup(self, keep: bool = False) -> None:
        if keep:
            say(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
