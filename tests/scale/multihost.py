"""A product deployed as on several hosts, in subprocesses on this machine: two web servers
(gunicorn, one worker each, two ports), two connector processes, two KPI schedulers and two
briefing schedulers, on one PostgreSQL and one Redis (a URL, or Sentinel), against the
simulator (``python -m simulator serve``, frozen clock). The commands are the ones
docs/deployment.md § Several hosts runs under systemd."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "tests" / "connectors"))
sys.path.insert(0, str(ROOT / "tests" / "briefings"))

from iocbrowser import Proc, free_port, wait_until  # noqa: E402

# Poll intervals (s): the lease lives 1.5 intervals; a process on this loaded 2-core machine must
# not be descheduled that long (tests/connectors/test_lease.py uses 2 s for processes too).
INTERVALS = {"hotline": 2.0, "cameras": 2.0, "environment": 3.0, "procedures": 3.0}
SECRET_KEY = "scale-test-secret-key-0123456789"  # the same on every web host (docs/deployment.md)
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_server_url() -> str:
    """The PostgreSQL server to create a throw-away database on, or skip saying why."""
    url = os.environ.get("IOC_TEST_DATABASE_URL") or PG_DEFAULT
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3) as c:
            c.execute("select 1")
    except Exception as err:  # noqa: BLE001 - any failure means: no server for this test
        pytest.skip(f"no PostgreSQL reachable at {url.split('@')[-1]} ({type(err).__name__}): the multi-host test "
                    "needs one (set IOC_TEST_DATABASE_URL)")
    return url


@dataclass
class PgDatabase:
    server: str
    name: str = field(default_factory=lambda: f"ioc_scale_{uuid.uuid4().hex[:8]}")

    @property
    def url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.server).set(database=self.name).render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        from sqlalchemy import text

        from ioc.db.session import make_engine

        eng = make_engine(self.server, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(sql))
        eng.dispose()

    def create(self) -> str:
        from geo.setup import prepare_geography
        from ioc.db.migrate import upgrade
        from ioc.db.session import make_engine
        from ioc.settings import load_settings

        self._admin(f'CREATE DATABASE "{self.name}"')
        self._admin(f'ALTER DATABASE "{self.name}" SET synchronous_commit = off')
        eng = make_engine(self.url)
        upgrade(eng)  # `ioc db upgrade`, once per release, before the processes start
        prepare_geography(eng, load_settings(database_url=self.url))  # the default boundaries, as `ioc up`
        eng.dispose()
        return self.url

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class Hosts:
    root: Path
    env: dict[str, str]
    procs: dict[str, Proc] = field(default_factory=dict)
    web_ports: list[int] = field(default_factory=list)

    @classmethod
    def make(cls, root: Path, db_url: str, sim, redis_env: dict[str, str], **extra: str) -> "Hosts":
        from connector_harness import CAMERA_TOKEN, HOTLINE_KEY

        (root / "logs").mkdir(parents=True, exist_ok=True)
        (root / "shared").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        env |= {
            "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
            # shared storage of every host: the briefing PDFs the web hosts offer for download
            "IOC_DATA_DIR": str(root / "shared"),
            "IOC_DATABASE_URL": db_url, "IOC_SECRET_KEY": SECRET_KEY, "IOC_LOG_LEVEL": "INFO",
            "IOC_HOTLINE_URL": sim.hotline_url, "IOC_HOTLINE_API_KEY": HOTLINE_KEY,
            "IOC_CAMERAS_URL": sim.cameras_url, "IOC_CAMERAS_TOKEN": CAMERA_TOKEN,
            "IOC_ENVIRONMENT_URL": sim.environment_url, "IOC_PROCEDURES_URL": sim.procedures_url,
            **{f"IOC_{s.upper()}_INTERVAL": str(v) for s, v in INTERVALS.items()},
            **redis_env, **extra,
        }
        return cls(root, env)

    def start(self, *, web: int = 2, connectors: int = 2, kpi: int = 2, briefings: int = 0,
              briefing_args: tuple[str, ...] = ()) -> None:
        py = sys.executable
        for host in "ab"[:connectors]:
            self._start(f"connectors-{host}", [py, "-m", "ioc", "connectors", "run"])
        for host in "ab"[:kpi]:
            self._start(f"kpi-{host}", [py, "-m", "ioc", "kpi", "run"])
        for host in "ab"[:briefings]:
            self._start(f"briefings-{host}", [py, "-m", "ioc", "briefing", "schedule", *briefing_args])
        for host in "ab"[:web]:
            port = free_port()
            self.web_ports.append(port)
            self._start(f"web-{host}", [py, "-m", "gunicorn", "ioc.web.wsgi:server", "-w", "1", "-b",
                                        f"127.0.0.1:{port}", "--timeout", "60", "--log-level", "warning"])

    def _start(self, name: str, argv: list[str]) -> None:
        p = Proc(name, argv, self.env, self.root / "logs" / f"{name}.log")
        p.start()
        self.procs[name] = p

    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.web_ports]

    def check_alive(self) -> None:
        for p in self.procs.values():
            if p.process is not None and p.process.poll() is not None:
                raise RuntimeError(f"{p.name} exited with {p.process.returncode}:\n{p.tail()}")

    def wait_web(self, timeout: float = 90) -> None:
        import httpx

        for url in self.web_urls():
            def up(url=url):
                self.check_alive()
                return httpx.get(url + "/healthz", timeout=5).status_code == 200

            wait_until(up, timeout, 0.3, f"{url}/healthz")

    def logs(self, name: str) -> str:
        return self.procs[name].log.read_text(errors="replace")

    def stop(self) -> None:
        for p in self.procs.values():
            p.signal(signal.SIGTERM)
        for p in self.procs.values():
            p.wait_stopped(timeout=15)

    def dump_logs(self, n: int = 30) -> None:
        for p in self.procs.values():
            print(f"\n----- {p.name} -----\n{p.tail(n)}", file=sys.stderr)


def signed_in(url: str, user: str):
    import httpx

    from ioc.auth.testing import http_cookies

    return httpx.Client(base_url=url, cookies=http_cookies(url, user), timeout=30)
