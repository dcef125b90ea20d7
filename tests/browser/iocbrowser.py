"""Browser-test kit: a real product stack in subprocesses, headless Chromium, page helpers.

The stack is started the way ``ioc up`` starts it (same commands, same environment), but piece by
piece so a test can kill and restart only the web server:

    redis-server (own, TCP, temp dir)
    python -m ioc sim serve --frozen-at <wall now − 20 min> ...   the demo upstreams
    prepare: migrations + default boundaries (``ioc up``'s ``prepare_stores``)
    python -m ioc connectors run | python -m ioc kpi run | gunicorn ioc.web.wsgi:server

The simulator's clock is frozen 20 minutes behind the wall clock: the data only moves when a
test moves it (``stack.sim().advance(hours)``), which makes "the wall shows what the KPI says" and "a
change upstream reaches the wall" exact checks instead of races with the demo's live data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import httpx
import orjson

CHROMIUM = Path(os.environ.get("IOC_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("IOC_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

# The simulator's paths, as `ioc up` points the connectors at them.
SOURCE_PATHS = {"HOTLINE": "/open311/v2", "CAMERAS": "/cameras/api/v1", "ENVIRONMENT": "/sta/v1.1",
                "PROCEDURES": "/procedures/api/v1"}
# The frozen simulator clock starts this far behind the wall clock. Air values become visible 70-80 min
# after their hour starts (simulator/environment.py, KINDS) and an hourly AQI counts as current for 3 h
# (ioc.kpi.environment.DEFAULT_MAX_AGE_BY_KIND): behind + 80 min + up to 60 min into the hour must stay
# under 180 min at every minute of the wall clock. 60 min failed CI at 10:04 (the last visible hour
# was 3 h 04 min old, so the AQI tile had no figure); 20 min leaves 20 min to spare.
SIM_BEHIND = timedelta(minutes=20)
SIM_HISTORY_DAYS = 40  # covers the connectors' first-run windows that matter (35 days of dossiers)
WEB_WORKERS = 2  # as `ioc up`


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as err:  # noqa: BLE001 - keep polling, report the last error
            last_err = err
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s" + (f" (last error: {last_err!r})"
                                                                                if last_err else ""))
        time.sleep(interval)


# --------------------------------------------------------------------------- Vietnamese formats
def vn_number(value: float | int | None, decimals: int = 0) -> str:
    """1234.5 → '1.234,5' (thousands '.', decimal ','); None → '—'. Written independently of
    ioc.formatting on purpose: the test states the display rule, the product implements it."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.translate(str.maketrans({",": ".", ".": ","}))


def vn_percent(value_0_100: float | None, decimals: int = 1) -> str:
    """93.06 → '93,1 %' (the snapshot's percentages are 0–100)."""
    return "—" if value_0_100 is None else f"{vn_number(value_0_100, decimals)} %"


def expected_tiles(snap: dict) -> dict[str, str]:
    """The big figure each wall tile must show, from a KPI snapshot (``ioc kpi --json``)."""
    h = snap.get("hotline") or {}
    received = (((h.get("periods") or {}).get("today") or {}).get("figures") or {}).get("received")
    c = snap.get("cameras") or {}
    e = snap.get("environment") or {}
    air = [a for a in e.get("air") or [] if a.get("current") and a.get("aqi") is not None]
    p = snap.get("procedures") or {}
    prov = (p.get("this_month") or {}).get("province") or {}
    a = snap.get("alerts") or {}
    out = {
        "hotline": vn_number(received) if h.get("has_data") and received is not None else "—",
        "cameras": vn_percent(c.get("online_pct")) if c.get("has_data") else "—",
        "aqi": vn_number(max(x["aqi"] for x in air)) if air else "—",
        "qd766": (f"{vn_number(prov['score'], 1)} / {vn_number(prov['max_score'])}"
                  if p.get("has_data") and prov.get("score") is not None and prov.get("max_score") else "—"),
        "alerts": vn_number(a.get("total")) if a.get("available") and a.get("total") is not None else "—",
    }
    return out


# --------------------------------------------------------------------------- the stack
@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            out.write(f"\n===== start {datetime.now().isoformat()} {' '.join(self.argv)}\n".encode())
            out.flush()
            # own process group: stopping it stops gunicorn's workers too, and nothing else
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.log.parent, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        self.signal(sig)
        self.wait_stopped(timeout)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        """Signal the process group we started, if its leader still runs (never a reused id)."""
        p = self.process
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass

    def wait_stopped(self, timeout: float = 10.0) -> None:
        p = self.process
        if p is None:
            return
        signalled = p.returncode is None
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        if signalled:
            # stragglers of the group we just stopped (gunicorn workers whose master died first)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.process = None

    def tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


@dataclass
class Stack:
    root: Path
    web_port: int = field(default_factory=free_port)
    sim_port: int = field(default_factory=free_port)
    redis = None
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    user: str = "browser-admin"  # signed in by every test browser (ioc.auth.testing)
    _http: object = None

    # ------------------------------------------------------------------ urls and clients
    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def http(self):
        """An httpx client signed in as the stack's admin (for the product's data routes)."""
        if self._http is None:
            from ioc.auth.testing import http_cookies

            self._http = httpx.Client(cookies=http_cookies(self.web_url, self.user), timeout=30)
        return self._http

    def enrol_path(self, name: str) -> str:
        """A wall display's one-time enrolment path, as `ioc devices add NAME` prints it."""
        from ioc.auth.testing import enrol_link

        return enrol_link(self.env["IOC_DATABASE_URL"], name)

    def store(self):
        from ioc.live_store import LiveStore

        return LiveStore.from_url(self.redis.url, "ioc", socket_timeout=5)

    def sim(self):
        """A handle on the simulator's control API (simulator.testing.SimHandle)."""
        from simulator.testing import SimHandle

        return SimHandle(self.sim_url)

    # ------------------------------------------------------------------ start / stop
    def start(self, timeout: float = 120.0) -> None:
        from ioc.redis_server import start_own_redis

        t0 = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        self.redis = start_own_redis(self.root / "redis", port=free_port())
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        env |= {
            "PYTHONUNBUFFERED": "1",
            "IOC_DATA_DIR": str(self.root / "var"),
            "IOC_REDIS_URL": self.redis.url,
            "IOC_DATABASE_URL": f"sqlite:///{self.root / 'var' / 'ioc.db'}",
            "IOC_WEB_HOST": "127.0.0.1",
            "IOC_WEB_PORT": str(self.web_port),
            "IOC_SIM_PORT": str(self.sim_port),
            "IOC_HOTLINE_INTERVAL": "2",
            "IOC_CAMERAS_INTERVAL": "1",
            "IOC_ENVIRONMENT_INTERVAL": "2",
            "IOC_PROCEDURES_INTERVAL": "3",
            "IOC_LOG_LEVEL": "WARNING",
            # no briefing scheduler in this stack: no briefing is due (none would be overdue)
            "IOC_BRIEFING_DAILY": "off", "IOC_BRIEFING_WEEKLY": "off",
            # as `ioc up` in demo mode: the simulator fills every source
            **{f"IOC_{name}_URL": self.sim_url + path for name, path in SOURCE_PATHS.items()},
            "IOC_HOTLINE_API_KEY": "sim-hotline-key",
        }
        (self.root / "var").mkdir(exist_ok=True)
        self.env = env
        py = sys.executable
        frozen_at = (datetime.now(timezone.utc) - SIM_BEHIND).replace(microsecond=0).isoformat()
        self._add("simulator", [py, "-m", "ioc", "sim", "serve", "--port", str(self.sim_port), "--frozen-at",
                                frozen_at, "--history-days", str(SIM_HISTORY_DAYS)])
        # `ioc up`'s prepare step: migrations, administrative units, default boundaries
        self._add("prepare", [py, "-c", "from ioc.cli import prepare_stores; from ioc.settings import load_settings; "
                                        "prepare_stores(load_settings(), start_redis=False)"])
        self._add("connectors", [py, "-m", "ioc", "connectors", "run"])
        self._add("scheduler", [py, "-m", "ioc", "kpi", "run"])
        self._add("web", self.web_argv())
        try:
            self.procs["simulator"].start()
            self.procs["prepare"].start()
            prep = self.procs["prepare"].process
            wait_until(lambda: self._sim_ready(), 60, 0.1, "simulator answering /_control/health")
            self.timings["simulator"] = time.monotonic() - t0
            if prep.wait(timeout=90) != 0:
                raise RuntimeError(f"prepare step failed:\n{self.procs['prepare'].tail()}")
            self.timings["prepare"] = time.monotonic() - t0
            for name in ("connectors", "scheduler", "web"):
                self.procs[name].start()
            self.wait_web(timeout=60)
            self.timings["web"] = time.monotonic() - t0
            # every page needs a signed-in user (docs/security.md): one admin for the test browsers
            from ioc.auth.testing import ensure_user

            ensure_user(self.env["IOC_DATABASE_URL"], self.user, "admin")
            wait_until(self._figures_ready, max(5.0, timeout - (time.monotonic() - t0)), 0.5,
                       "a published KPI snapshot with data for all four sources")
            self.timings["ready"] = time.monotonic() - t0
        except BaseException:
            self.dump_logs()
            self.stop()
            raise

    def _add(self, name: str, argv: list[str]) -> None:
        self.procs[name] = Proc(name, argv, self.env, self.root / "logs" / f"{name}.log")

    def web_argv(self) -> list[str]:
        # the command line of `ioc web` / `ioc up` (ioc.cli._web_child)
        return [sys.executable, "-m", "gunicorn", "ioc.web.wsgi:server", "-w", str(WEB_WORKERS), "-b",
                f"127.0.0.1:{self.web_port}", "--timeout", "60", "--graceful-timeout", "10", "--log-level",
                "warning"]

    def _sim_ready(self) -> bool:
        self._check_alive("simulator")
        return httpx.get(self.sim_url + "/_control/health", timeout=2).status_code == 200

    def _check_alive(self, *names: str) -> None:
        for n in names:
            p = self.procs[n]
            if p.process is not None and p.process.poll() is not None:
                raise RuntimeError(f"{n} exited with {p.process.returncode}:\n{p.tail()}")

    def web_ready(self) -> bool:
        self._check_alive("web")
        try:
            return httpx.get(self.web_url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_web(self, timeout: float = 60) -> float:
        t0 = time.monotonic()
        wait_until(self.web_ready, timeout, 0.1, f"web server answering {self.web_url}/healthz")
        return time.monotonic() - t0

    def _figures_ready(self) -> bool:
        self._check_alive("simulator", "connectors", "scheduler", "web")
        store = self.store()
        try:
            if not store.view_versions().get("meta"):
                return False
            tiles = store.view("tiles") or {}
        finally:
            store.r.close()
        return all((tiles.get(k) or {}).get("has_data") for k in ("hotline", "cameras", "aqi", "qd766"))

    def kill_web(self) -> None:
        """A crash: SIGKILL to gunicorn's master and workers (its own process group)."""
        self.procs["web"].stop(signal.SIGKILL)

    def start_web(self) -> float:
        """Start the web server again on the same port; seconds until /healthz answers."""
        self.procs["web"].start()
        return self.wait_web()

    def stop(self) -> None:
        """Stop every process we started (all at once, then wait for each), then Redis."""
        procs = [self.procs[n] for n in ("web", "scheduler", "connectors", "simulator", "prepare") if n in self.procs]
        for p in procs:
            p.signal(signal.SIGTERM)
        for p in procs:
            p.wait_stopped(timeout=10)
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def dump_logs(self, n: int = 25, only_trouble: bool = False) -> None:
        """Print the tails of the processes' logs (with ``only_trouble``: of those that logged a
        traceback, an error or a warning)."""
        shown = False
        for name, p in self.procs.items():
            tail = p.tail(n)
            if not tail.strip():
                continue
            if only_trouble and not any(w in tail for w in ("Traceback", "ERROR", "Error", "WARNING")):
                continue
            shown = True
            print(f"\n----- {name} ({p.log}) -----\n{tail}", file=sys.stderr)
        if not shown:
            print(f"\n(stack logs: {self.root / 'logs'})", file=sys.stderr)

    # ------------------------------------------------------------------ the product's own answers
    def kpi_json(self) -> dict:
        """`python -m ioc kpi --json` against this stack."""
        res = subprocess.run([sys.executable, "-m", "ioc", "kpi", "--json"], env=self.env, cwd=self.root,
                             capture_output=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"ioc kpi --json exited {res.returncode}: {res.stderr.decode(errors='replace')[-2000:]}")
        return orjson.loads(res.stdout)

    def published_tiles(self) -> dict:
        store = self.store()
        try:
            return store.view("tiles") or {}
        finally:
            store.r.close()

    def version(self) -> int:
        store = self.store()
        try:
            return store.version()
        finally:
            store.r.close()


# --------------------------------------------------------------------------- the browser
@dataclass(frozen=True)
class Size:
    name: str
    width: int
    height: int
    mobile: bool = False  # phone emulation (touch, mobile viewport rules, device pixel ratio 3)


WALL_1080 = Size("1920x1080", 1920, 1080)
WALL_4K = Size("3840x2160", 3840, 2160)
PHONE = Size("390x844", 390, 844, mobile=True)
SIZES = (WALL_1080, WALL_4K, PHONE)


def forbid_selenium_manager() -> None:
    """Selenium Manager downloads drivers and browsers: never let it run (we pass both paths)."""
    from selenium.webdriver.common import selenium_manager

    def refuse(self, *args, **kwargs):
        raise RuntimeError("Selenium Manager must not run in the browser tests (it would try to download); "
                           f"the driver is {CHROMEDRIVER} and the browser {CHROMIUM}")

    selenium_manager.SeleniumManager.binary_paths = refuse


def new_driver(size: Size, profile_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    forbid_selenium_manager()
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--disable-default-apps", "--disable-extensions", "--mute-audio",
                f"--user-data-dir={profile_dir}", "--force-device-scale-factor=1",
                f"--window-size={size.width},{size.height}",
                # not Vietnamese on purpose: the language must come from the product's setting
                "--lang=en-US"):
        opts.add_argument(arg)
    if size.mobile:
        opts.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": size.width, "height": size.height, "pixelRatio": 3.0, "touch": True},
            "userAgent": ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/156.0.0.0 Mobile Safari/537.36"),
        })
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(str(CHROMEDRIVER), log_output=str(profile_dir.parent / f"chromedriver-{size.name}.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    if not size.mobile:
        # make the layout viewport exactly the wall's resolution (the window may include borders)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": size.width, "height": size.height, "deviceScaleFactor": 1, "mobile": False})
    return driver


class Browsers:
    """One Chromium per size for the whole test folder (each start costs 1–3 s)."""

    def __init__(self, root: Path, prepare: Callable[[object], None] | None = None) -> None:
        self.root = root
        self.prepare = prepare  # e.g. sign the new browser in
        self.drivers: dict[str, object] = {}

    def get(self, size: Size):
        d = self.drivers.get(size.name)
        if d is None:
            profile = self.root / f"profile-{size.name}"
            shutil.rmtree(profile, ignore_errors=True)
            profile.mkdir(parents=True)
            d = self.drivers[size.name] = new_driver(size, profile)
            d.ioc_size = size
            if self.prepare is not None:
                self.prepare(d)
        return d

    def quit(self) -> None:
        for d in self.drivers.values():
            try:
                d.quit()
            except Exception:  # noqa: BLE001
                pass
        self.drivers.clear()


# --------------------------------------------------------------------------- page helpers
IGNORED_CONSOLE = ("favicon.ico",)  # a missing favicon is not the page's fault


def console_errors(driver) -> list[dict]:
    """SEVERE browser-console entries since the last call (reading the log empties it)."""
    return [e for e in driver.get_log("browser")
            if e.get("level") == "SEVERE" and not any(s in e.get("message", "") for s in IGNORED_CONSOLE)]


def wait_dash_ready(driver, timeout: float = 30.0) -> None:
    """Until Dash has rendered the page's layout and no callback is in flight."""
    script = """
      const root = document.getElementById('react-entry-point');
      if (!root || document.querySelector('._dash-loading')) return false;
      const page = document.getElementById('_pages_content') || root;
      if (!page.children.length) return false;
      return !document.querySelector('[data-dash-is-loading="true"]');
    """
    settled_since = [None]

    def settled():
        if driver.execute_script(script):
            settled_since[0] = settled_since[0] or time.monotonic()
            return time.monotonic() - settled_since[0] >= 0.5
        settled_since[0] = None
        return False

    wait_until(settled, timeout, 0.1, "Dash page rendered and idle")


def tile_values(driver, prefix: str = "wall-tile") -> dict[str, str | None]:
    """Text of `#<prefix>-<key> .tile-value` for the five tiles (None when absent)."""
    return driver.execute_script("""
      const out = {};
      for (const k of ['hotline', 'cameras', 'aqi', 'qd766', 'alerts']) {
        const el = document.querySelector('#' + arguments[0] + '-' + k + ' .tile-value');
        out[k] = el ? el.innerText.trim() : null;
      }
      return out;
    """, prefix)


def page_metrics(driver) -> dict:
    return driver.execute_script("""
      const d = document.documentElement;
      return {scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, scrollHeight: d.scrollHeight,
              clientHeight: d.clientHeight, innerWidth: window.innerWidth, innerHeight: window.innerHeight,
              bodyText: (document.body.innerText || '').trim().length, dpr: window.devicePixelRatio};
    """)


def screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def open_wall(driver, stack, timeout: float = 20.0) -> dict[str, str | None]:
    """Load /wall and wait until every tile shows a figure; returns the five figures."""
    driver.get(stack.web_url + "/wall")
    wait_dash_ready(driver, timeout)
    return wait_until(lambda: (v := tile_values(driver)) and all(v.values()) and v, timeout, 0.2,
                      "all five wall tiles showing a figure")


def wall_state(driver) -> dict:
    """What a person looking at the wall would notice: the tiles, the banner, the amount of text,
    whether the page was reloaded since ``mark_page`` and any Dash error display."""
    return driver.execute_script("""
      const banner = document.getElementById('wall-banner');
      return {
        tiles: ['hotline', 'cameras', 'aqi', 'qd766', 'alerts'].map(k => {
          const el = document.querySelector('#wall-tile-' + k + ' .tile-value');
          return el ? el.innerText.trim() : null; }),
        banner_text: banner ? banner.innerText.trim() : null,
        banner_class: banner ? banner.className : null,
        banner_visible: !!(banner && banner.offsetParent !== null && banner.getBoundingClientRect().height > 0
                           && banner.innerText.trim()),
        text_chars: (document.body.innerText || '').trim().length,
        marked: window.__iocTestMark === true,
        error_display: !!document.querySelector('.dash-fe-error-top, .dash-error-card, .dash-fe-error__title'),
      };
    """)


def mark_page(driver) -> None:
    """Set a marker on the page's window: it disappears if the page reloads."""
    driver.execute_script("window.__iocTestMark = true;")


def inject_camera_change(stack, step_minutes: float = 2.0, max_steps: int = 90) -> tuple[dict, float, int, float]:
    """Move the simulator's frozen clock forward until the cameras' online share, printed with one
    decimal as the wall prints it (ioc.views.text.pct), differs from before (flapping cameras and
    outages change state as time passes; cameras also come back, so the net change can stay
    small for a while — at some hours of the seeded simulation within ±2 cameras for 3 simulated
    hours, which a fixed "> 0.1 %" threshold never crossed: up to 3 simulated hours). Returns (the
    simulator's camera stats, monotonic time of the change, data version before it, simulated
    minutes moved)."""
    from ioc.views.text import pct

    def shown(stats: dict) -> str:
        return pct(stats["online"] / stats["cameras"] * 100, "vi")

    sim = stack.sim()
    try:
        v0 = stack.version()
        base = sim.info()["stats"]["cameras"]
        for step in range(1, max_steps + 1):
            sim.advance(step_minutes / 60)
            t = time.monotonic()
            st = sim.info()["stats"]["cameras"]
            if shown(st) != shown(base):
                return st, t, v0, step * step_minutes
        raise AssertionError(f"the cameras' online share shown did not change in {max_steps * step_minutes:.0f} "
                             f"simulated minutes ({base['online']} → {st['online']} online, {shown(st)})")
    finally:
        sim.close()


def follow_change(driver, stack, v0: int, t_inject: float, old_text: str, timeout: float = 20.0,
                  online: int | None = None) -> dict:
    """After an injected camera change: times (s after the injection) at which Redis's data version
    moved, the published tile figure changed, and the wall's cameras tile showed it. With
    ``online`` (the simulator's count after the change), "published" waits for that count: the
    injection moves the clock in steps, and the connectors may publish a step in between."""
    seen: dict = {"version": None, "published": None, "wall": None, "published_text": None,
                  "published_online": None, "wall_text": None}
    deadline = t_inject + timeout
    while time.monotonic() < deadline:
        now = time.monotonic() - t_inject
        if seen["version"] is None and stack.version() > v0:
            seen["version"] = now
        if seen["published"] is None:
            cams = stack.published_tiles().get("cameras") or {}
            text = vn_percent(cams.get("online_pct")) if cams.get("has_data") else "—"
            if (text != old_text) if online is None else (cams.get("online") == online):
                seen["published"], seen["published_text"], seen["published_online"] = now, text, cams.get("online")
        shown = tile_values(driver)["cameras"]
        if seen["published_text"] is not None and shown == seen["published_text"]:
            seen["wall"], seen["wall_text"] = time.monotonic() - t_inject, shown
            return seen
        seen["wall_text"] = shown
        time.sleep(0.05)
    return seen


def restart_redis(stack, *, down_for: float, on_down: Callable[[], object] | None = None) -> object:
    """Stop the stack's Redis, wait, and start an empty one on the same port (what a Redis
    without persistence comes back as). Returns what ``on_down`` saw while Redis was away."""
    import shutil
    from urllib.parse import urlparse

    from ioc.redis_server import start_own_redis

    port = urlparse(stack.redis.url).port
    directory = stack.redis.directory
    stack.redis.stop()
    time.sleep(down_for)
    seen = on_down() if on_down else None
    shutil.rmtree(directory, ignore_errors=True)
    stack.redis = start_own_redis(directory, port=port)
    return seen


# --------------------------------------------------------------------------- the sector map /map
def kpi_period_json(stack, start: str, end: str) -> dict:
    """`python -m ioc kpi --json --period custom --start … --end …` against the stack."""
    res = subprocess.run([sys.executable, "-m", "ioc", "kpi", "--json", "--period", "custom", "--start", start, "--end",
                          end], env=stack.env, cwd=stack.root, capture_output=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"ioc kpi --period custom exited {res.returncode}: {res.stderr.decode(errors='replace')[-2000:]}")
    return orjson.loads(res.stdout)


def map_state(driver) -> dict:
    """What the map page shows: layers drawn, the layer control, filters, the panel, the list."""
    return driver.execute_script("""
      const q = s => document.querySelector(s), qa = s => [...document.querySelectorAll(s)];
      const txt = s => { const e = q(s); return e ? e.innerText.trim() : null; };
      const kpis = {};
      qa('#map-commune-head tr[id^="map-kpi-"]').forEach(tr => {
        kpis[tr.id.slice(8)] = [...tr.children].map(c => c.innerText.trim()); });
      const table = qa('#map-table tbody tr').map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))
                      .filter(r => r.length);
      const heads = qa('#map-table th.dash-header').map(th => th.innerText.trim());
      return {
        url: location.href, search: location.search,
        paths: qa('.sm-leaflet path.leaflet-interactive').length,
        tickets: qa('.sm-leaflet .sm-mk-ticket, .sm-leaflet .sm-mk-tcluster').length,
        cameras: qa('.sm-leaflet .sm-mk-camera, .sm-leaflet .sm-mk-camcluster').length,
        stations: qa('.sm-leaflet .sm-mk-station').length,
        overlays: qa('.leaflet-control-layers-overlays label').map(l => [l.innerText.trim().replace(/^[\\u200b-\\u200d\\u2060\\ufeff]/, ''),
                                                                       l.querySelector('input').checked]),
        legend: txt('#map-legend'), title: txt('#map-maptitle'),
        dates: qa('#map-dates, .dash-datepicker-end-date').map(e => e.value),
        status: txt('#map-status'), commune: txt('#map-commune'), sector: txt('#map-sector'), metric: txt('#map-metric'),
        panel_name: txt('#map-commune-head .sm-commune-name'), kpis: kpis,
        list_total: txt('#map-list-total'), list_heads: heads, rows: table,
        csv: (q('#map-export-csv') || {}).href || null, xlsx: (q('#map-export-xlsx') || {}).href || null,
        object: txt('#map-object:not(.sm-hidden)'), charts: qa('#map-object-body img.sm-chart').length,
        notice: txt('#map-notice'),
      };
    """)


def choose_option(driver, dropdown_id: str, value: str) -> None:
    """Pick a value in a Dash 4 dropdown the way a person does: open it, click the option."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, dropdown_id).click()
    opt = wait_until(lambda: driver.find_elements(
        By.CSS_SELECTOR, f'[role=option].dash-dropdown-option input[value="{value}"]'), 5, 0.1, f"option {value}")
    opt[0].find_element(By.XPATH, "./ancestor::label").click()
