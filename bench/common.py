"""What the benchmarks that start the product share: the stack as `ioc up` starts it (Stack), the
wall's sign-in, headless Chromium, percentiles, and how busy the machine was (MachineLoad).

bench/web.py, bench/soak.py and bench/ceilings.py use it; bench/map.py takes MachineLoad and
wait_until_quiet from here (its own stack has no simulator, its Chromium other flags, and its
percentile rounds differently: its printed figures are kept as they were).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

# --- small helpers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q: float) -> float:
    """The q-th percentile (0-100), nearest rank; nan for no values."""
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v), max(1, math.ceil(q / 100 * len(v)))) - 1]


def dist(values, unit: str = "ms", scale: float = 1.0, digits: int = 0) -> str:
    if not values:
        return "no samples"
    f = f"{{:,.{digits}f}}"
    return (f"n={len(values):,}  p50 {f.format(pct(values, 50) * scale)}  p95 {f.format(pct(values, 95) * scale)}  "
            f"p99 {f.format(pct(values, 99) * scale)}  max {f.format(max(values) * scale)} {unit}")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def product_env(work: Path, db_url: str, redis_url: str, sim_url: str) -> dict[str, str]:
    """This process's environment without its IOC_* settings, plus those of a bench product
    whose four upstreams are the simulator at ``sim_url``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | {
        "PYTHONPATH": str(ROOT), "IOC_DATA_DIR": str(work), "IOC_DATABASE_URL": db_url,
        "IOC_REDIS_URL": redis_url, "IOC_LOG_LEVEL": "WARNING",
        "IOC_HOTLINE_URL": sim_url + "/open311/v2", "IOC_HOTLINE_API_KEY": "sim-hotline-key",
        "IOC_CAMERAS_URL": sim_url + "/cameras/api/v1", "IOC_CAMERAS_TOKEN": "sim-camera-token",
        "IOC_ENVIRONMENT_URL": sim_url + "/sta/v1.1", "IOC_PROCEDURES_URL": sim_url + "/procedures/api/v1",
        # /metrics on, as in production, on ports of its own: a second stack (a drill beside a
        # bench, two drills in the tests) would find 9101–9103 taken and log an error
        **{f"IOC_{p}_METRICS_PORT": str(free_port()) for p in ("CONNECTORS", "KPI", "BRIEFINGS")},
    }


def wait_for(what: str, check, timeout: float, every: float = 0.5):
    t = time.monotonic()
    while True:
        try:
            got = check()
        except Exception:
            got = None
        if got:
            return got
        if time.monotonic() - t > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class MachineLoad:
    """CPU the whole machine used during a part, and how much of it was not ours (the machine may
    be shared): ours = this process and every process it started, recursively."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.t = time.monotonic()
        self.sys0 = psutil.cpu_times()
        self.ours0 = self._ours()

    def _ours(self) -> dict[int, float]:
        out = {}
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                c = p.cpu_times()
                out[p.pid] = c.user + c.system + c.children_user + c.children_system
            except psutil.Error:
                pass
        return out

    def figures(self) -> tuple[float, float, float]:
        """(cores busy, of which ours, of which others) on average since creation."""
        dt = time.monotonic() - self.t
        s1 = psutil.cpu_times()
        busy = sum(getattr(s1, f) - getattr(self.sys0, f) for f in ("user", "nice", "system", "irq", "softirq",
                                                                 "steal") if hasattr(s1, f))
        ours1 = self._ours()
        ours = sum(v - self.ours0.get(pid, 0.0) for pid, v in ours1.items())
        return busy / dt, ours / dt, max(0.0, busy - ours) / dt

    def report(self) -> str:
        busy, ours, other = self.figures()
        return (f"machine during this part: {busy:.2f} of {os.cpu_count()} cores busy on average, "
                f"{ours:.2f} by this benchmark and what it started, {other:.2f} by other processes; "
                f"load average {os.getloadavg()[0]:.1f}")


BUSY_MAX = 0.3  # cores other processes may use for the machine to count as quiet


def wait_until_quiet(minutes: float, busy_max: float = BUSY_MAX, window: float = 5.0, needed: int = 3) -> None:
    """On a shared machine: wait (at most `minutes`) until processes other than ours use less
    than `busy_max` cores over `needed` consecutive windows of `window` seconds."""
    if minutes <= 0:
        return
    deadline = time.monotonic() + minutes * 60
    calm = 0
    while time.monotonic() < deadline:
        load = MachineLoad()
        time.sleep(window)
        other = load.figures()[2]
        calm = calm + 1 if other < busy_max else 0
        if calm >= needed:
            print(f"  machine quiet ({other:.2f} cores used by other processes)", flush=True)
            return
    print(f"  the machine did not become quiet within {minutes:g} min; measuring anyway", flush=True)


# --- the product, started as `ioc up` starts it ------------------------------------------------------


class Stack:
    """Redis, SQLite + boundaries, simulator, connectors, scheduler and gunicorn in a temp dir."""

    def __init__(self, history_days: float, workers: int = 2, *, sim_args: tuple[str, ...] = (),
                 briefings: bool = False, prefix: str = "ioc-bench-web-") -> None:
        self.work = Path(tempfile.mkdtemp(prefix=prefix))
        self.history_days = history_days
        self.workers = workers
        self.sim_args = tuple(sim_args)  # e.g. ("--scale", "10"): bench/soak.py's volume
        self.briefings = briefings  # also `ioc briefing schedule`, as the Procfile (bench/soak.py)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list = []
        self.redis = None
        self.web_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.access_log = self.work / "access.log"

    def start(self) -> None:
        from ioc.db.migrate import upgrade
        from ioc.db.session import make_engine
        from ioc.redis_server import start_own_redis
        from ioc.settings import load_settings

        t0 = time.perf_counter()
        self.redis = start_own_redis(self.work / "redis", port=free_port())
        self.db_url = f"sqlite:///{self.work / 'ioc.db'}"
        sim_port = free_port()
        sim = self.sim_url = f"http://127.0.0.1:{sim_port}"
        self._env = product_env(self.work, self.db_url, self.redis.url, sim)
        if not self.briefings:  # no briefing scheduler: no briefing is due (none would be overdue)
            self._env |= {"IOC_BRIEFING_DAILY": "off", "IOC_BRIEFING_WEEKLY": "off"}
        os.environ.update({k: v for k, v in self._env.items() if k.startswith("IOC_")})
        self.settings = load_settings()
        engine = make_engine(self.db_url)
        upgrade(engine)
        from geo.setup import prepare_geography

        prepare_geography(engine, self.settings)
        engine.dispose()
        py = sys.executable
        self.spawn("simulator", [py, "-m", "simulator", "serve", "--port", str(sim_port),
                                 "--history-days", str(self.history_days), *self.sim_args])
        wait_for("the simulator", lambda: _get(sim + "/_control/health", 2).status_code == 200, 120)
        self.spawn("connectors", [py, "-m", "ioc", "connectors", "run"])
        self.spawn("scheduler", [py, "-m", "ioc", "kpi", "run"])
        if self.briefings:
            self.spawn("briefings", [py, "-m", "ioc", "briefing", "schedule"])
        store = self.store()
        print(f"waiting for the connectors' first reads ({self.history_days:g} days of history) …", flush=True)
        wait_for("every source's first successful poll",
                 lambda: all(store.health(s).get("last_success") for s in ("hotline", "cameras", "environment",
                                                                          "procedures")), 1800, 1.0)
        wait_for("the scheduler's first views", lambda: "tiles" in store.view_versions(), 300)
        self.spawn("web", [py, "-m", "gunicorn", "ioc.web.wsgi:server", "--workers", str(self.workers),
                           "--bind", f"127.0.0.1:{self.web_port}", "--timeout", "60", "--log-level", "warning",
                           "--access-logfile", str(self.access_log),
                           "--access-logformat", '%(t)s %(m)s %(U)s %(s)s %(B)s %(D)s'])
        wait_for("gunicorn", lambda: _get(self.base + "/healthz", 5).status_code == 200, 120)
        from ioc.auth.testing import cookie_header, enrol_link, ensure_user, http_cookies

        ensure_user(self.db_url, BENCH_USER, "admin")
        AUTH_HEADERS["Cookie"] = cookie_header(http_cookies(self.base, enrol_path=enrol_link(self.db_url,
                                                                                               "bench-walls")))
        for _ in range(2 * self.workers):  # each worker's first request builds its read model
            _get(self.base + "/api/views/versions", 10)
        print(f"stack ready in {time.perf_counter() - t0:.0f} s  (work dir {self.work}, web {self.base}, "
              f"redis {self.redis.url})", flush=True)

    def spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.work / f"{name}.log", "wb")
        self.logs.append(log)
        self.procs[name] = subprocess.Popen(argv, env=self._env, cwd=self.work, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # its own process group: stopped as one

    def store(self):
        from ioc.live_store import LiveStore

        return LiveStore.from_url(self.redis.url, self.settings.redis_prefix)

    def web_pids(self) -> list[int]:
        """gunicorn's workers (children of the master we started)."""
        try:
            return [c.pid for c in psutil.Process(self.procs["web"].pid).children()]
        except (KeyError, psutil.Error):
            return []

    def stop(self) -> None:
        for name in ("web", "briefings", "scheduler", "connectors", "simulator"):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # the group we started (gunicorn's workers with it)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        for log in self.logs:
            log.close()
        self.logs = []

    def check_alive(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is not None]


# Every data route needs a principal (docs/security.md): the virtual walls send a wall display's
# cookie, enrolled through its one-time link like a real wall (Stack.start sets it).
AUTH_HEADERS: dict[str, str] = {}
BENCH_USER = "bench-admin"  # the Chromium of /m signs in through /login as this admin


def _set_auth(headers: dict[str, str]) -> None:
    AUTH_HEADERS.update(headers)


def _get(url: str, timeout: float):
    import httpx

    return httpx.get(url, timeout=timeout, headers=AUTH_HEADERS)


def _enrol(driver, stack, name: str) -> None:
    """A benchmark Chromium that opens /wall: enrolled as a wall display (ioc.auth.testing)."""
    from ioc.auth.testing import browser_enrol, enrol_link

    browser_enrol(driver, stack.base, enrol_link(stack.db_url, name))


# --- the browser --------------------------------------------------------------------------------------


# --- the browser --------------------------------------------------------------------------------------


def chromium(work: Path, *, perf_log: bool = False, width: int = 1920, height: int = 1080):
    """Headless Debian Chromium with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = Path(tempfile.mkdtemp(prefix="chrome-", dir=work))
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--enable-precise-memory-info", "--js-flags=--expose-gc"):
        opts.add_argument(flag)
    if perf_log:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))


def perf_events(driver, method_prefix: str = "Network."):
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method", "").startswith(method_prefix):
            yield msg["method"], msg.get("params", {})


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


