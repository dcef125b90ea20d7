"""Web benchmark: the live wall under many viewers, change-to-screen latency, the mobile view's
first load and the wall's JavaScript heap over time.

    .venv/bin/python bench/web.py                        # everything (parts 1-4, heap over 30 min)
    .venv/bin/python bench/web.py --viewers 20 --seconds 20 --changes 5 --minutes 2   # a quick run
    .venv/bin/python bench/web.py --viewers 50,100,150,200 --skip-heap --quiet-wait 10

Starts, in a temp dir and on free ports, the whole product as `ioc up` does: a real Redis, a
SQLite database with the boundaries, the upstream simulator (``--history-days`` of history,
clock at wall speed), `ioc connectors run`, `ioc kpi run` (the scheduler with its default
debounce) and the web app under gunicorn with 2 sync workers (as the Procfile). Once the
connectors have read every source and the scheduler has published the views, data changes the
way a connector changes it: every ``--change-every`` seconds a camera of the registry goes
offline or comes back, through the cameras connector's own write path (SQL transaction, then
the Redis pipeline that bumps ``ioc:version``); the scheduler republishes, panel tokens move.

1. Viewers (``--viewers``, a comma list runs several levels, each for ``--seconds``): virtual
   walls doing what assets/wall.js does (first checked against a real /wall in Chromium: its
   polls a second and their parameters): every second one ``GET /api/views/wall?lang=…&focus=…
   &have=<tag per panel>`` unless the previous poll is still in flight (the tick is skipped);
   a poll not answered within 4 s fails (counted as an error), and the next one asks for every
   panel (``have`` empty); a null tag keeps the panel's tag; the focus rotation changes the
   ``focus`` of the next poll every ``IOC_WALL_ROTATE_SECONDS``; and ``GET /api/ping`` (no work:
   the queue's and the client's share) every ``--ping-every`` seconds. Latency is measured per
   request by a lean asyncio HTTP/1.1 client (a connection per request, as gunicorn's sync
   workers close every connection; Chromium's Accept-Encoding), the time inside the worker from
   gunicorn's access log (``%(D)s``). Printed for all wall polls and for those that carried
   panel content. Target: p95 of the wall's update requests ≤ 150 ms at 200 viewers, no errors.
2. Change → screen: /wall in headless Chromium; ``--changes`` camera changes, each timed from
   its Redis write (``ioc:version`` bumped) to the cameras tile's new text in the DOM (a
   MutationObserver stamps ``Date.now()``), split into scheduler, wait for the wall's poll,
   the poll that brought the change and rendering. Target: p95 ≤ 2 s.
3. /m first load with an empty cache: wire bytes of the page and everything it loads (CDP
   Network events), first/largest contentful paint and the time the first card's figure is
   painted, on localhost and under Lighthouse's mobile throttling (150 ms RTT, 1.6 Mbit/s down,
   4× CPU), and whether a tap on the first card then opens its detail. Target: ≤ 1 MB
   compressed, usable ≤ 3 s.
4. Wall heap: ``JSHeapUsedSize`` (CDP Performance.getMetrics after HeapProfiler.collectGarbage)
   of an open /wall after 1 minute and after ``--minutes`` of live updates, sampled at every
   focus rotation step and compared for the same focus panel, with DOM nodes and listeners.

Every part also prints how busy the machine was and how much of it was other processes
(``--quiet-wait`` waits for a calm machine before each part). Figures are printed beside their
targets, never asserted. Every process started here is stopped on exit (also on Ctrl-C or
SIGTERM); the temp dir is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import math
import os
import random
import shutil
import signal
import statistics
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import brotli
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402  (the stack, browser and statistics the benches share)
    AUTH_HEADERS,
    BENCH_USER,
    BUSY_MAX,
    MachineLoad,
    Stack,
    _enrol,
    _set_auth,
    chromium,
    cpu_model,
    dist,
    pct,
    perf_events,
    verdict,
    wait_for,
    wait_until_quiet,
)
from bench.results import Figure, add_json_arg, write_json  # noqa: E402

PANELS = ("tiles", "alerts", "map", "focus", "badges")
ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends
TARGETS = {"update_p95_ms": 150, "change_p95_s": 2.0, "m_bytes": 1_000_000, "m_usable_s": 3.0}


# --- data changes, the way a connector makes them -------------------------------------------------


class CameraFlipper:
    """Data changes as the cameras connector makes them (SQL transaction, then the Redis pipeline
    that bumps ``ioc:version``): one camera of the registry goes offline, at the next change it
    comes back online, then the next camera of a pool of up to 200 does the same. A camera thus
    changes twice per pass over the pool, never often enough to count as flapping (4 changes
    an hour), and the cameras tile's counts change at every step."""

    POOL = 200

    def __init__(self, stack: Stack) -> None:
        from sqlalchemy import select

        from connectors.cameras import CamerasConnector
        from ioc.db import models as m
        from ioc.db.session import make_engine

        self.engine = make_engine(stack.db_url)
        self.store = stack.store()
        self.conn = CamerasConnector(stack.settings, self.engine, self.store, client=object())
        with self.engine.connect() as c:
            rows = c.execute(select(m.Camera).where(m.Camera.status == "online").order_by(m.Camera.id)
                             .limit(self.POOL)).all()
        if not rows:
            raise SystemExit("no online camera in the database: the cameras connector read nothing")
        self.pool = [dict(r._mapping) for r in rows]
        self.step = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flips = 0

    def flip(self) -> float:
        """One change; returns time.time() just after it landed in Redis."""
        from connectors.base import Batch
        from ioc.records import CameraRecord

        with self.lock:
            row = self.pool[(self.step // 2) % len(self.pool)]
            status = "offline" if self.step % 2 == 0 else "online"
            self.step += 1
            now = datetime.now(timezone.utc)
            fields = {k: row.get(k) for k in CameraRecord.model_fields if k in row}
            rec = CameraRecord(**(fields | {"status": status, "updated_at": now, "last_seen": now,
                                            "status_reason": None if status == "online" else "bench"}))
            batch = Batch(records={"cameras": [rec]}, fetched=1)
            written = self.conn._commit(batch, Counter())
            self.conn._mirror(written, batch)
            self.flips += 1
            return time.time()

    def start(self, every: float) -> None:
        """Flip every `every` seconds in a thread until stop()."""
        self._stop.clear()

        def loop():
            while not self._stop.wait(every):
                try:
                    self.flip()
                except Exception as err:  # keep changing; say what went wrong
                    print(f"  (camera flip failed: {err})", flush=True)

        self._thread = threading.Thread(target=loop, name="flipper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
            self._thread = None


def capture_wall_polls(stack: Stack, seconds: float = 6.0) -> dict:
    """What a real /wall asks: the URLs of its ``/api/views/wall`` polls over a few seconds (from
    its resource timings), so the virtual walls can be checked against assets/wall.js."""
    from urllib.parse import parse_qs, urlsplit

    driver = chromium(stack.work)
    try:
        _enrol(driver, stack, f"bench-wall-{time.monotonic_ns()}")
        driver.get(stack.base + "/wall")
        wait_for("the wall's tiles", lambda: driver.find_elements("css selector", "#wall-tile-cameras .tile-value"), 60)
        t0 = time.time()
        time.sleep(seconds)
        entries = driver.execute_script(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/views/wall'))"
            ".map(e => ({name: e.name, start: performance.timeOrigin + e.startTime}))")
    finally:
        driver.quit()
    if not entries:
        raise SystemExit("the wall sent no GET /api/views/wall: the benchmark's model of assets/wall.js is out of date")
    queries = [parse_qs(urlsplit(e["name"]).query, keep_blank_values=True) for e in entries]
    in_window = [e for e in entries if e["start"] / 1000 >= t0]
    return {"params": sorted({k for q in queries for k in q}), "lang": queries[-1].get("lang", [""])[0],
            "first": entries[0]["name"], "last": entries[-1]["name"],
            "per_second": len(in_window) / seconds}


# --- 1. viewers ------------------------------------------------------------------------------------


class Http:
    """A lean asyncio HTTP/1.1 client: one connection per request (gunicorn's sync workers close
    every connection), the browser's Accept-Encoding; returns (status, body bytes decoded)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    async def request(self, method: str, path: str, body: bytes | None = None,
                      headers: dict | None = None) -> tuple[int, bytes]:
        return await asyncio.wait_for(self._request(method, path, body, headers or {}), self.timeout)

    async def _request(self, method, path, body, headers) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: close",
                    f"Accept-Encoding: {ACCEPT_ENCODING}"]
            head += [f"{k}: {v}" for k, v in {**AUTH_HEADERS, **headers}.items()]
            if body is not None:
                head.append(f"Content-Length: {len(body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        sep = raw.find(b"\r\n\r\n")
        if sep < 0 or not raw.startswith(b"HTTP/1."):
            raise ConnectionError(f"malformed response ({len(raw)} bytes)")
        status = int(raw[9:12])
        hdrs = {}
        for line in raw[:sep].split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower()] = v.strip().lower()
        payload = raw[sep + 4:]
        if hdrs.get(b"transfer-encoding") == b"chunked":
            payload = _dechunk(payload)
        enc = hdrs.get(b"content-encoding")
        if enc == b"br":
            payload = brotli.decompress(payload)
        elif enc == b"gzip":
            payload = gzip.decompress(payload)
        elif enc == b"deflate":
            payload = zlib.decompress(payload)
        elif enc == b"zstd":
            payload = _zstd().decompress(payload)
        return status, payload


def _zstd():
    try:
        from compression import zstd  # Python ≥ 3.14
    except ImportError:
        from backports import zstd  # what Flask-Compress uses before 3.14
    return zstd


def _dechunk(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while True:
        j = data.index(b"\r\n", i)
        n = int(data[i:j].split(b";")[0], 16)
        if n == 0:
            return bytes(out)
        out += data[j + 2:j + 2 + n]
        i = j + 2 + n + 2


class WallModel:
    """The request a wall sends (assets/wall.js): ``GET /api/views/wall?lang=…&focus=…&have=…``,
    the query encoded as the browser's URLSearchParams does."""

    def __init__(self, lang: str, playlist: list[str]) -> None:
        self.lang, self.playlist = lang, playlist

    def path(self, have: dict[str, str], focus: str | None, full: bool) -> str:
        from urllib.parse import urlencode

        tags = [] if full else [f"{p}:{have[p]}" for p in PANELS if have.get(p)]
        return "/api/views/wall?" + urlencode({"lang": self.lang, "focus": focus or "", "have": ",".join(tags)})


class Samples:
    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.error_examples: dict[str, str] = {}
        self.bytes: dict[str, list[int]] = defaultdict(list)

    def add(self, kind: str, ms: float, size: int) -> None:
        self.ms[kind].append(ms)
        self.bytes[kind].append(size)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        self.error_examples.setdefault(kind, what)


POLL_TIMEOUT = 4.0  # assets/wall.js aborts a poll after 4 s (3 failures in a row show the banner)
DRAIN = 30.0  # after the window, how long answers to requests sent in it are still awaited


async def _timed(http: Http, samples: Samples, kind: str, method: str, path: str, body=None, headers=None,
                 record: bool = True, timeout: float | None = None):
    """Returns (ms, payload) or None on a failure (recorded as an error of `kind`)."""
    t = time.perf_counter()
    try:
        if timeout is None:
            status, payload = await http.request(method, path, body, headers)
        else:
            status, payload = await asyncio.wait_for(http.request(method, path, body, headers), timeout)
    except TimeoutError:
        if record:
            samples.error(kind, f"no answer within {timeout or http.timeout:g} s")
        return None
    except Exception as err:
        if record:
            samples.error(kind, f"{type(err).__name__}: {err}"[:200])
        return None
    ms = (time.perf_counter() - t) * 1000
    if status != 200:
        if record:
            samples.error(kind, f"HTTP {status}: {payload[:200]!r}")
        return None
    return ms, payload


async def viewer(http: Http, model: WallModel, samples: Samples, *, start: float, measure_from: float,
                 stop_at: float, rotate_s: float, ping_every: float, stats: Counter, pending: set) -> None:
    """One wall, as assets/wall.js: every second one ``GET /api/views/wall`` with the tags of what
    it shows, unless the previous poll is still in flight (then the tick does nothing); a poll
    not answered within 4 s fails; after a failure the next poll asks for everything (``have``
    empty); a null tag keeps the panel's tag; the focus rotation changes the ``focus`` parameter
    of the next poll (the Interval's n-th tick shows playlist[n % len], none before the first);
    a ping every `ping_every` s."""
    loop = asyncio.get_running_loop()
    state = {"have": {}, "focus": None, "focus_i": 0, "failures": 0, "full": False, "busy": False,
             "loaded": False}
    tick = start
    next_rotate = tick + rotate_s
    next_ping = tick + random.random() * ping_every

    def spawn(coro) -> None:
        task = loop.create_task(coro)
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def ping(record: bool) -> None:
        got = await _timed(http, samples, "ping", "GET", "/api/ping", record=record)
        if got and record:
            samples.add("ping", got[0], len(got[1]))

    async def poll(record: bool) -> None:
        full = state["full"]
        try:
            got = await _timed(http, samples, "wall", "GET", model.path(state["have"], state["focus"], full),
                               record=record, timeout=POLL_TIMEOUT)
        finally:
            state["busy"] = False
        if got is None:  # wall.js: a failure; three in a row show the banner; the next poll asks for all
            state["failures"] += 1
            state["full"] = True
            stats["failed polls"] += 1
            return
        ms, raw = got
        body = json.loads(raw)
        panels = body.get("panels") or {}
        kinds = ["content" if panels else "empty"]
        if not state["loaded"]:
            kinds.append("load")  # a wall's first poll: every panel
        elif full:
            kinds.append("recovery")  # the poll after a failed one: every panel
        state["loaded"] = True
        for p, tag in (body.get("tags") or {}).items():
            if tag is not None:
                state["have"][p] = tag
        state["failures"], state["full"] = 0, False
        for kind in kinds:
            stats[f"{kind} polls"] += 1
        for p in panels:
            stats[f"panel {p}"] += 1
        if record:
            for kind in ("wall", *kinds):
                samples.add(kind, ms, len(raw))

    while tick < stop_at:
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
        measuring = measure_from <= time.monotonic() < stop_at
        if tick >= next_ping:
            next_ping += ping_every
            spawn(ping(measuring))
        if tick >= next_rotate and model.playlist:
            next_rotate += rotate_s
            state["focus_i"] += 1
            state["focus"] = model.playlist[state["focus_i"] % len(model.playlist)]
        if state["busy"]:  # wall.js: never two polls at once
            if measuring:
                stats["skipped ticks"] += 1
        else:
            state["busy"] = True
            spawn(poll(measuring))
        tick += 1.0


def parse_access_log(path: Path, since: float, until: float) -> dict[str, list[float]]:
    """Server-side ms per request kind from gunicorn's access log (%(t)s %(m)s %(U)s %(s)s %(B)s %(D)s),
    for the requests logged (= finished) between `since` and `until` (epoch seconds)."""
    out: dict[str, list[float]] = defaultdict(list)
    if not path.exists():
        return out
    for line in path.read_text(errors="replace").splitlines():
        try:
            stamp, rest = line[1:].split("] ", 1)
            _method, url, _status, _size, micros = rest.split()
            at = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp()
        except ValueError:
            continue
        if not since <= at < until:
            continue
        kind = {"/api/views/wall": "wall", "/api/ping": "ping"}.get(url, "other")
        out[kind].append(int(micros) / 1000)
    return out


def accept_queue(port: int) -> int | None:
    """Connections waiting in the kernel for a gunicorn worker to accept them (the rx_queue of
    the listening socket in /proc/net/tcp)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if f[3] == "0A" and int(f[1].split(":")[1], 16) == port:
            return int(f[4].split(":")[1], 16)
    return None


SYSCALLS = {0: "read", 1: "write", 7: "poll", 20: "writev", 23: "select", 44: "sendto", 45: "recvfrom",
            202: "futex", 232: "epoll_wait", 270: "pselect6", 271: "ppoll", 288: "accept4", 43: "accept"}


class WorkerStates:
    """Samples, every 10 ms, what each gunicorn worker is doing: on a CPU (or waiting for one),
    or blocked in a system call, classified by the socket it waits on (the client's, Redis's,
    the listening socket). Linux only (/proc/<pid>/stat and /proc/<pid>/syscall)."""

    def __init__(self, pids: list[int], web_port: int, redis_port: int | None) -> None:
        self.pids, self.web_port, self.redis_port = pids, web_port, redis_port
        self.counts: Counter = Counter()
        self._sockets: dict[str, str] = {}
        self._refreshed = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-states", daemon=True)

    def start(self) -> None:
        self._sched0, self._t0 = self._schedstat(), time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sched1, self._t1 = self._schedstat(), time.monotonic()

    def _schedstat(self) -> tuple[float, float]:
        """Seconds on a CPU and seconds runnable but waiting for one, summed over the workers."""
        on = wait = 0.0
        for pid in self.pids:
            try:
                a, b, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
                on, wait = on + int(a) / 1e9, wait + int(b) / 1e9
            except (OSError, ValueError):
                pass
        return on, wait

    def cpu_share(self) -> str:
        dt = (self._t1 - self._t0) * len(self.pids)
        on, wait = (self._sched1[0] - self._sched0[0]) / dt, (self._sched1[1] - self._sched0[1]) / dt
        return (f"each worker on a CPU {100 * on:.0f} % of the time, runnable but waiting for a CPU "
                f"{100 * wait:.0f} % (schedstat)")

    def _peer(self, inode: str) -> str:
        """Who is at the other end of a socket; /proc/net/tcp is read at most once a second (a
        worker's Redis connections are long-lived, a socket not seen before is a new client's)."""
        if inode not in self._sockets and time.monotonic() - self._refreshed > 1.0:
            self._refresh_sockets()
        return self._sockets.get(inode, "the client")

    def _refresh_sockets(self) -> None:
        self._refreshed = time.monotonic()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            f = line.split()
            local, remote, inode = int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16), f[9]
            if f[3] == "0A":
                self._sockets[inode] = "a connection (accept)"
            elif local == self.web_port:
                self._sockets[inode] = "the client"
            elif self.redis_port and remote == self.redis_port:
                self._sockets[inode] = "Redis"

    def _what(self, pid: int) -> str:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "R":
            return "on a CPU or waiting for one"
        call = Path(f"/proc/{pid}/syscall").read_text().split()
        if not call or call[0] == "running":
            return "on a CPU or waiting for one"
        name = SYSCALLS.get(int(call[0]), f"syscall {call[0]}")
        fds: list[int] = []
        if name in ("read", "write", "writev", "sendto", "recvfrom", "accept4", "accept") and len(call) > 1:
            fds = [int(call[1], 16)]
        elif name in ("poll", "ppoll", "select", "pselect6") and len(call) > 2:
            # Python waits with poll() on a socket that has a timeout (redis-py's) before reading;
            # gunicorn's sync worker select()s on its listening socket when no one is waiting
            fds = self._wait_fds(pid, name, int(call[1], 16), int(call[2], 16))
        target = None
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                break
        if target is None:
            return name
        if not target.startswith("socket:["):
            return f"{name} {target.rsplit('/', 1)[-1][:30]}"
        peer = self._peer(target[8:-1])
        if peer == "a connection (accept)":
            return "waiting for a connection"
        if name in ("read", "recvfrom", "poll", "ppoll", "select", "pselect6"):
            return f"waiting for {peer}" if peer == "Redis" else f"reading from {peer}"
        return f"writing to {peer}"

    @staticmethod
    def _wait_fds(pid: int, name: str, arg0: int, arg1: int) -> list[int]:
        """The descriptors a poll()/select() waits on, read from the worker's memory."""
        try:
            with open(f"/proc/{pid}/mem", "rb") as mem:
                if name in ("poll", "ppoll"):  # poll(struct pollfd *fds, nfds, …); pollfd = int fd, 2 shorts
                    mem.seek(arg0)
                    raw = mem.read(8 * min(arg1, 16))
                    return [int.from_bytes(raw[i:i + 4], "little", signed=True) for i in range(0, len(raw), 8)]
                mem.seek(arg1)  # select(nfds, fd_set *readfds, …)
                bits = int.from_bytes(mem.read(max(1, (arg0 + 7) // 8)), "little")
                return [i for i in range(arg0) if bits >> i & 1]
        except (OSError, ValueError, OverflowError):
            return []

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            for pid in self.pids:
                try:
                    self.counts[self._what(pid)] += 1
                except (OSError, ValueError, IndexError):
                    pass

    def report(self) -> str:
        total = sum(self.counts.values()) or 1
        return ", ".join(f"{k} {100 * n / total:.0f} %" for k, n in self.counts.most_common(6))


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def sequential_requests(stack: Stack, model: WallModel, repeat: int = 20) -> None:
    """One request at a time, nothing else running against the web server: a wall's poll asking
    for everything (every panel from the workers' caches once warm), a poll with nothing to send,
    and the bare ping."""
    http = Http("127.0.0.1", stack.web_port)

    async def run():
        samples = Samples()
        got = await _timed(http, samples, "full", "GET", model.path({}, None, True))
        tags = json.loads(got[1])["tags"] if got else {}
        for _ in range(repeat):
            for kind, path in (("poll asking for every panel", model.path({}, None, True)),
                               ("poll with nothing new", model.path(tags, None, False)), ("ping", "/api/ping")):
                got = await _timed(http, samples, kind, "GET", path)
                if got:
                    samples.add(kind, got[0], len(got[1]))
        return samples

    samples = asyncio.run(run())
    print(f"one request at a time ({repeat} each), client-side medians: " + ", ".join(
        f"{k} {statistics.median(v):.1f} ms ({statistics.median(samples.bytes[k]) / 1024:.1f} KiB decoded)"
        for k, v in samples.ms.items()))
    if samples.errors:
        print(f"  errors: {dict(samples.errors)} e.g. {samples.error_examples}")


def run_viewers(port: int, model: WallModel, offsets: list[float], start: float, measure_from: float,
                stop_at: float, rotate_s: float, ping_every: float) -> dict:
    """One load-generator process: its share of the viewers (each starting at start + offset);
    returns its samples, counts, unanswered requests and its event-loop lag."""
    http = Http("127.0.0.1", port)
    samples, stats, lag = Samples(), Counter(), []

    async def watch():
        while time.monotonic() < stop_at:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            if t >= measure_from:
                lag.append((time.monotonic() - t - 0.1) * 1000)

    async def run() -> int:
        pending: set = set()
        watcher = asyncio.get_running_loop().create_task(watch())
        await asyncio.gather(*[
            viewer(http, model, samples, start=start + off, measure_from=measure_from, stop_at=stop_at,
                   rotate_s=rotate_s, ping_every=ping_every, stats=stats, pending=pending) for off in offsets])
        deadline = time.monotonic() + DRAIN
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        unfinished = len(pending)
        for task in list(pending):
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await watcher
        return unfinished

    unfinished = asyncio.run(run())
    return {"ms": dict(samples.ms), "bytes": dict(samples.bytes), "errors": dict(samples.errors),
            "examples": samples.error_examples, "stats": dict(stats), "lag": lag, "unfinished": unfinished}


def bench_viewers(stack: Stack, model: WallModel, flipper: CameraFlipper, *, viewers: int, seconds: float,
                  change_every: float, ping_every: float, clients: int = 2, ramp: float = 10.0) -> dict:
    """Part 1 at one level of viewers, spread over `clients` load-generator processes (one asyncio
    loop each). Returns the figures printed."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    print(f"\n-- {viewers} viewers for {seconds:g} s (walls opened over {ramp:g} s before the window; "
          f"{clients} load-generator processes)", flush=True)
    workers = stack.web_pids()
    others = {n: p.pid for n, p in stack.procs.items() if n != "web"}
    if stack.redis is not None and stack.redis.process is not None:
        others["redis"] = stack.redis.process.pid
    redis_port = int(stack.redis.url.rsplit(":", 1)[1].split("/")[0]) if stack.redis.url.startswith("redis:") else None
    states = WorkerStates(workers, stack.web_port, redis_port)
    backlog: list[int] = []
    flips0 = flipper.flips

    # spawned processes import this module afresh: hand them the walls' cookie
    with ProcessPoolExecutor(clients, mp_context=get_context("spawn"), initializer=_set_auth,
                             initargs=(dict(AUTH_HEADERS),)) as pool:
        list(pool.map(time.sleep, [0.01] * clients))  # the processes exist (and import) before the clock starts
        gens = [psutil.Process(p) for p in pool._processes]  # the generators' CPU time is reported
        load = MachineLoad()

        def cpu_now():
            return {"web workers": cpu_seconds(workers), "load generator": cpu_seconds([g.pid for g in gens]),
                    **{n: cpu_seconds([pid]) for n, pid in others.items()}}

        flipper.start(change_every)
        t_wall0, t0 = time.time(), time.monotonic()
        cpu0 = cpu_now()
        states.start()
        start = time.monotonic() + 1.0
        measure_from = start + ramp + 3.0
        stop_at = measure_from + seconds
        offsets = [ramp * i / viewers for i in range(viewers)]
        futures = [pool.submit(run_viewers, stack.web_port, model, offsets[k::clients], start, measure_from,
                               stop_at, stack.settings.wall_rotate_seconds, ping_every) for k in range(clients)]
        while not all(f.done() for f in futures):
            if measure_from <= time.monotonic() < stop_at:
                q = accept_queue(stack.web_port)
                if q is not None:
                    backlog.append(q)
            time.sleep(0.1)
        parts = [f.result() for f in futures]
        states.stop()
        flipper.stop()
        elapsed = time.monotonic() - t0
        cpu1 = cpu_now()
        load_line, others_cores = load.report(), load.figures()[2]  # while the generators still exist
    offset = t_wall0 - t0  # monotonic → epoch, for the access log
    server = parse_access_log(stack.access_log, measure_from + offset, stop_at + offset)

    samples, stats, lag, unfinished = Samples(), Counter(), [], 0
    for part in parts:
        for k, v in part["ms"].items():
            samples.ms[k] += v
        for k, v in part["bytes"].items():
            samples.bytes[k] += v
        samples.errors.update(part["errors"])
        for k, v in part["examples"].items():
            samples.error_examples.setdefault(k, v)
        stats.update(part["stats"])
        lag += part["lag"]
        unfinished += part["unfinished"]

    wall, content = samples.ms["wall"], samples.ms["content"]
    errors = sum(samples.errors.values()) + unfinished
    print(f"camera flips: {flipper.flips - flips0}; per viewer over the whole run (ramp, window, drain): "
          f"{stats['content polls'] / viewers:.1f} polls with content ("
          + ", ".join(f"{p} {stats[f'panel {p}'] / viewers:.1f}" for p in PANELS)
          + f"), {stats['empty polls'] / viewers:.1f} with nothing new, {stats['failed polls'] / viewers:.1f} failed, "
          f"{stats['recovery polls'] / viewers:.1f} asking for everything after a failure; "
          f"ticks skipped in the window (a poll still in flight): {stats['skipped ticks'] / viewers:.1f}")
    print(f"wall polls (GET /api/views/wall, all): {dist(wall)}   target p95 ≤ {TARGETS['update_p95_ms']} ms, "
          f"no errors: {verdict(len(wall) > 0 and pct(wall, 95) <= TARGETS['update_p95_ms'] and errors == 0)}")
    print(f"  that carried panel content: {dist(content)}")
    print(f"  with nothing new: {dist(samples.ms['empty'])}")
    if samples.ms["recovery"]:
        print(f"  asking for everything after a failed poll: {dist(samples.ms['recovery'])}")
    if samples.ms["load"]:
        print(f"  a wall's first poll, in the window: {dist(samples.ms['load'])}")
    print(f"ping GETs (no work, same load): {dist(samples.ms['ping'])}")
    done = {k: len(v) / seconds for k, v in server.items()}
    print("served per second in the window (access log): " + ", ".join(f"{k} {v:.0f}" for k, v in done.items())
          + f"; sent per second: wall polls {(len(wall) + samples.errors['wall']) / seconds:.0f} "
          f"(with content {len(content) / seconds:.0f}), ping "
          f"{(len(samples.ms['ping']) + samples.errors['ping']) / seconds:.0f}")
    for kind in ("wall", "ping"):
        print(f"  time inside the worker (gunicorn %(D)s), {kind}: {dist(server.get(kind, []), digits=1)}")
    if backlog:
        print(f"  connections waiting for a worker (accept queue, every 100 ms): mean {statistics.mean(backlog):.0f}, "
              f"p95 {pct(backlog, 95):.0f}, max {max(backlog)}")
    print(f"  the load generators' own event-loop lag (every 100 ms): {dist(lag, digits=1)}")
    print(f"  the workers: {states.cpu_share()}; blocked or running, sampled every 10 ms: {states.report()}")
    for kind, what in (("content", "with content"), ("empty", "with nothing new")):
        sizes = samples.bytes[kind]
        if sizes:
            print(f"answer size {what} (decoded): median {statistics.median(sizes) / 1024:.1f} KiB, "
                  f"max {max(sizes) / 1024:.1f} KiB")
    print(f"errors: {errors}" + "".join(f"\n  {k}: {n} e.g. {samples.error_examples[k]}"
                                        for k, n in samples.errors.items())
          + (f"\n  {unfinished} requests sent in the window still unanswered {DRAIN:g} s after it" if unfinished
             else ""))
    print("CPU (cores busy on average, window + drain): " + ", ".join(
        f"{k} {(cpu1[k] - cpu0[k]) / elapsed:.2f}" for k in cpu0))
    print(load_line)
    dead = stack.check_alive()
    if dead:
        print(f"processes that exited during the run: {dead}")
    return {"viewers": viewers, "wall": wall, "content": content, "ping": samples.ms["ping"], "errors": errors,
            "others": others_cores, "load": os.getloadavg()[0]}


def bench_viewer_levels(stack: Stack, flipper: CameraFlipper, levels: list[int], seconds: float,
                        change_every: float, ping_every: float, quiet_wait: float = 0, retries: int = 0,
                        clients: int = 2) -> list[dict]:
    """Part 1: what a real wall asks (checked in Chromium), a sequential baseline, then each level
    of viewers."""
    print(f"\n== 1. viewers of /wall: {', '.join(map(str, levels))} (a data change every {change_every:g} s, "
          f"focus rotation every {stack.settings.wall_rotate_seconds:g} s, a ping per viewer every {ping_every:g} s) ==",
          flush=True)
    print(f"machine: {os.cpu_count()} cores ({cpu_model()}), {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"gunicorn {stack.workers} sync workers; Redis, simulator, connectors, scheduler and the load generators "
          "on the same cores")
    real = capture_wall_polls(stack)
    print(f"a real /wall in Chromium: {real['per_second']:.2f} polls a second with the parameters {real['params']}, "
          f"e.g. {real['last'].split('/', 3)[3]}")
    if real["params"] != ["focus", "have", "lang"]:
        raise SystemExit(f"the wall's poll has other parameters than the virtual walls send: {real['params']}")
    model = WallModel(real["lang"], stack.settings.wall_panels)
    out = []
    for i, n in enumerate(levels):
        wait_until_quiet(quiet_wait)
        if i == 0:
            sequential_requests(stack, model)
        best = bench_viewers(stack, model, flipper, viewers=n, seconds=seconds, change_every=change_every,
                             ping_every=ping_every, clients=clients)
        for _ in range(retries):
            if best["others"] < BUSY_MAX:
                break
            print(f"  (other processes used {best['others']:.2f} cores: measuring {n} viewers again)", flush=True)
            wait_until_quiet(quiet_wait)
            again = bench_viewers(stack, model, flipper, viewers=n, seconds=seconds, change_every=change_every,
                                  ping_every=ping_every, clients=clients)
            best = min(best, again, key=lambda r: r["others"])
        out.append(best)
    if len(out) > 1:
        print("\nsummary (wall poll p50 / p95 / p99, with content p95, ping p95, errors; cores used by other "
              "processes, load average at the end):")
        for r in out:
            print(f"  {r['viewers']:>4} viewers: {pct(r['wall'], 50):,.0f} / {pct(r['wall'], 95):,.0f} / "
                  f"{pct(r['wall'], 99):,.0f} ms, content {pct(r['content'], 95):,.0f} ms, ping "
                  f"{pct(r['ping'], 95):,.0f} ms, {r['errors']} errors; {r['others']:.2f} cores, load {r['load']:.1f}")
    return out


# --- 2. change → screen -------------------------------------------------------------------------------


CAMERA_TEXT = "#wall-tile-cameras .tile-sub"
WATCH_JS = """
window.__camLog = [];
const sel = arguments[0];
let last = (document.querySelector(sel) || {}).textContent;
new MutationObserver(() => {
  const el = document.querySelector(sel);
  const text = el ? el.textContent : null;
  if (text === last) return;
  last = text;
  const entry = {text: text, mutation: Date.now(), frame: null};
  window.__camLog.push(entry);
  requestAnimationFrame(() => { entry.frame = Date.now(); });
}).observe(document.body, {subtree: true, childList: true, characterData: true});
performance.setResourceTimingBufferSize(100000);
"""
# the wall's own requests since a moment, in epoch ms
REQUESTS_JS = """
const since = arguments[0];
return performance.getEntriesByType('resource')
  .map(e => ({name: e.name, start: performance.timeOrigin + e.startTime, end: performance.timeOrigin + e.responseEnd}))
  .filter(e => e.start >= since - 1500);
"""


def bench_change_to_screen(stack: Stack, flipper: CameraFlipper, changes: int) -> dict:
    """Part 2: a camera flips (connector write) → the cameras tile shows the new count."""
    print(f"\n== 2. change in Redis → visible on /wall ({changes} camera flips, one open wall, no other load) ==",
          flush=True)
    load = MachineLoad()
    store = stack.store()
    driver = chromium(stack.work)
    rows = []
    try:
        _enrol(driver, stack, f"bench-wall-{time.monotonic_ns()}")
        driver.get(stack.base + "/wall")
        wait_for("the cameras tile", lambda: driver.find_elements("css selector", CAMERA_TEXT), 60)
        time.sleep(3)
        driver.execute_script(WATCH_JS, CAMERA_TEXT)
        skipped = 0
        for i in range(changes):
            time.sleep(random.uniform(4.0, 5.0))  # the scheduler settles; a random phase against the 1-s poll
            n_before = driver.execute_script("return window.__camLog.length")
            counts_before = _camera_counts(store)
            t_redis = flipper.flip()
            t_pub = None  # when the published tiles view first shows other camera counts
            entry = None
            deadline = t_redis + 15
            while time.time() < deadline:
                if t_pub is None and _camera_counts(store) != counts_before:
                    t_pub = time.time()
                log = driver.execute_script("return window.__camLog.slice(arguments[0])", n_before)
                if log and log[0].get("frame"):
                    entry = log[0]
                    break
                time.sleep(0.02)
            if entry is None:
                if t_pub is None:  # e.g. a simulator camera changed the other way in the same build
                    skipped += 1
                    print(f"  change {i + 1:>2}: not counted (the published camera counts did not move)", flush=True)
                    continue
                shown = driver.execute_script("const e = document.querySelector(arguments[0]);"
                                              "return e ? e.textContent : null", CAMERA_TEXT)
                print(f"  change {i + 1:>2}: not visible within 15 s (published counts {counts_before} → "
                      f"{_camera_counts(store)} {time.time() - t_pub:.1f} s ago; the tile shows {shown!r})", flush=True)
                rows.append(None)
                continue
            rows.append(_breakdown(driver, entry, t_redis, t_pub))
            row = rows[-1]
            print(f"  change {i + 1:>2}: {row['total'] * 1000:6.0f} ms to the DOM ({row['frame'] * 1000:.0f} ms to "
                  f"the next frame): scheduler {_ms(row['scheduler'])}, wait for the wall's poll "
                  f"{_ms(row['poll_wait'])}, its GET /api/views/wall {_ms(row['request'])}, "
                  f"render {_ms(row['render'])}  →  {entry['text']!r}", flush=True)
    finally:
        driver.quit()
    done = [r for r in rows if r]
    totals = [r["total"] for r in done]
    print(f"change → DOM: {dist(totals, 's', digits=2)}   target p95 ≤ {TARGETS['change_p95_s']:g} s: "
          f"{verdict(len(done) == len(rows) and pct(totals, 95) <= TARGETS['change_p95_s'])}"
          + (f"  ({len(rows) - len(done)} changes never showed)" if len(done) < len(rows) else "")
          + (f"  ({skipped} not counted: no visible change)" if skipped else ""))
    print(f"change → next frame: {dist([r['frame'] for r in done], 's', digits=2)}")
    d = scheduler_defaults()
    for key, what in (("scheduler", (f"Redis write → views published (scheduler: {d['poll']:g}-s poll of "
                                     f"ioc:version, {d['quiet']:g} s quiet, recompute, publish)")),
                      ("poll_wait", "published → the wall's next 1-s poll starts"),
                      ("request", "the poll that brought it (GET /api/views/wall with the panels' content)"),
                      ("render", "answer received → DOM updated (set_props, React render)")):
        vals = [r[key] for r in done if r[key] is not None]
        print(f"  {what}: {dist(vals, 'ms', 1000)}")
    print(load.report())
    return {"totals": totals}


def scheduler_defaults() -> dict:
    """The debounce `ioc kpi run` uses (its option defaults, which the benchmark does not change)."""
    import inspect

    from ioc.kpi import cli

    params = inspect.signature(cli.run).parameters
    return {k: getattr(params[k].default, "default", params[k].default) for k in ("poll", "quiet", "max_delay")}


def _camera_counts(store) -> tuple | None:
    view = store.view("tiles") or {}
    c = view.get("cameras") or {}
    return c.get("online"), c.get("offline"), c.get("total")


def _breakdown(driver, entry: dict, t_redis: float, t_pub: float | None) -> dict:
    """Where the time went, from the bench's clock (Redis write; the published tiles view read
    every ~20 ms) and the wall's resource timings (its poll that brought the change: the last
    ``/api/views/wall`` answered before the DOM changed)."""
    t_dom = entry["mutation"] / 1000
    reqs = driver.execute_script(REQUESTS_JS, (t_pub or t_redis) * 1000)
    polls = [r for r in reqs if "/api/views/wall" in r["name"] and r["end"] <= entry["mutation"] + 1]
    poll = max(polls, key=lambda r: r["end"]) if polls else None
    return {"total": t_dom - t_redis, "frame": entry["frame"] / 1000 - t_redis,
            "scheduler": (t_pub - t_redis) if t_pub else None,
            # the publish is seen by polling Redis every ~20 ms: a poll can start just before it
            "poll_wait": max(0.0, poll["start"] / 1000 - t_pub) if poll and t_pub else None,
            "request": (poll["end"] - poll["start"]) / 1000 if poll else None,
            "render": (t_dom - poll["end"] / 1000) if poll else None}


def _ms(v) -> str:
    return "?" if v is None else f"{v * 1000:.0f} ms"


# --- 3. /m first load ----------------------------------------------------------------------------------


# "usable": the first card's figure (.m-value, "—" when there is none) is in the DOM, not a
# loading text, and has been painted: the second animation frame after it appeared (frames wait
# for render-blocking stylesheets, so a figure parsed before its CSS arrived does not count yet)
USABLE_JS = """
window.__bench = {usable: null, lcp: null, seen: null};
new PerformanceObserver((list) => {
  const e = list.getEntries().slice(-1)[0];
  if (e) window.__bench.lcp = e.startTime;
}).observe({type: 'largest-contentful-paint', buffered: true});
function check() {
  const card = document.querySelector('.m-card');
  const value = card && card.querySelector('.m-value');
  if (window.__bench.seen === null && value && value.textContent.trim() && !card.querySelector('.m-loading')) {
    window.__bench.seen = performance.now();
    window.__bench.usableText = card.textContent.trim().slice(0, 80);
    requestAnimationFrame(() => requestAnimationFrame(() => { window.__bench.usable = performance.now(); }));
  }
}
new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
document.addEventListener('DOMContentLoaded', check);
"""
SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1.6 * 1024 * 1024 / 8,
           "uploadThroughput": 750 * 1024 / 8}  # Lighthouse's mobile throttling (+ 4× CPU below)


def load_mobile_once(stack: Stack, throttled: bool) -> dict:
    driver = chromium(stack.work, perf_log=True, width=412, height=915)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 412, "height": 915, "deviceScaleFactor": 2.625, "mobile": True})
        if throttled:
            driver.execute_cdp_cmd("Network.emulateNetworkConditions", SLOW_4G)
            driver.execute_cdp_cmd("Emulation.setCPUThrottlingRate", {"rate": 4})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": USABLE_JS})
        from ioc.auth.testing import browser_sign_in

        browser_sign_in(driver, stack.base, BENCH_USER)
        driver.get(stack.base + "/m")
        wait_for("a usable /m", lambda: driver.execute_script("return window.__bench.usable"), 60, 0.1)
        time.sleep(3)  # late requests (trends, manifest, service worker) and the final LCP
        nav = driver.execute_script("""
            const n = performance.getEntriesByType('navigation')[0];
            const p = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
            return {fcp: p['first-contentful-paint'], dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                    usable: window.__bench.usable, lcp: window.__bench.lcp, text: window.__bench.usableText};""")
        # a tap on the first card opens its detail (after the paint figures: a click would end LCP)
        nav["tap"] = driver.execute_script("""
            const c = document.querySelector('.m-card'); c.querySelector('summary').click();
            const d = c.querySelector('.m-detail');
            return c.open ? (d ? d.textContent.trim().length : 0) : -1;""")
        urls, types, wire, body = {}, {}, defaultdict(int), defaultdict(int)
        for method, p in perf_events(driver):
            rid = p.get("requestId")
            if method == "Network.requestWillBeSent":
                urls[rid] = p["request"]["url"]
                types[rid] = p.get("type", "Other")
            elif method == "Network.responseReceived":
                types[rid] = p.get("type", types.get(rid, "Other"))
            elif method == "Network.dataReceived":
                body[rid] += p.get("dataLength", 0)
            elif method == "Network.loadingFinished":
                wire[rid] += int(p.get("encodedDataLength", 0))
        resources = [(urls.get(r, "?"), types.get(r, "Other"), wire[r], body[r]) for r in wire
                     if urls.get(r, "").startswith("http")]
        return {"nav": nav, "resources": resources}
    finally:
        driver.quit()


def _short(url: str) -> str:
    """…/_dash-component-suites/dash/deps/react@18.v4_4_1m1796184285.3.1.min.js → …/dash/deps/react@18.3.1.min.js"""
    import re

    path = "/" + url.split("/", 3)[-1].split("?")[0]
    return re.sub(r"\.v\d[\w]*m\d+", "", path).replace("/_dash-component-suites", "…")


def bench_mobile(stack: Stack, runs: int = 3) -> dict:
    """Part 3: /m with an empty cache, on localhost and with mobile throttling."""
    print("\n== 3. /m first load (empty cache, 412×915 phone viewport) ==", flush=True)
    load = MachineLoad()
    import httpx

    from ioc.auth.testing import cookie_header, http_cookies

    leader = {"Cookie": cookie_header(http_cookies(stack.base, BENCH_USER))}  # /m is not the walls' page
    status = httpx.get(stack.base + "/m", timeout=10, headers=leader).status_code
    print(f"GET /m → HTTP {status}" + ("" if status == 200 else "  (the page does not exist yet?)"))
    out = {}
    for throttled in (False, True):
        label = "Slow 4G (150 ms RTT, 1.6 Mbit/s) + 4× CPU" if throttled else "localhost, no throttling"
        results = []
        for _ in range(runs):
            try:
                results.append(load_mobile_once(stack, throttled))
            except SystemExit as err:
                print(f"  {label}: {err}")
        if not results:
            continue
        last = results[-1]
        total = [sum(r[2] for r in res["resources"]) for res in results]
        by_type = defaultdict(lambda: [0, 0, 0])
        for url, typ, w, b in last["resources"]:
            by_type[typ][0] += 1
            by_type[typ][1] += w
            by_type[typ][2] += b
        navs = [r["nav"] for r in results]

        def med(key, navs=navs):
            vals = [n[key] for n in navs if n.get(key) is not None]
            return statistics.median(vals) / 1000 if vals else float("nan")

        print(f"-- {label} ({len(results)} loads, medians)")
        print(f"  transferred (compressed, with headers): {statistics.median(total) / 1024:,.0f} KiB in "
              f"{len(last['resources'])} requests (decoded {sum(r[3] for r in last['resources']) / 1024:,.0f} KiB)"
              f"   target ≤ {TARGETS['m_bytes'] / 1e6:g} MB: {verdict(statistics.median(total) <= TARGETS['m_bytes'])}")
        for typ, (n, w, b) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
            print(f"    {typ:<12} {n:>3} requests  {w / 1024:8,.1f} KiB on the wire  ({b / 1024:,.1f} KiB decoded)")
        if not throttled:  # the same files either way
            print("    every request, largest first (KiB on the wire):")
            for u, _t, w, _b in sorted(last["resources"], key=lambda r: -r[2]):
                print(f"      {w / 1024:7.1f}  {_short(u)}")
        usable = med("usable")
        print(f"  first contentful paint {med('fcp'):.2f} s, largest contentful paint {med('lcp'):.2f} s, "
              f"DOMContentLoaded {med('dcl'):.2f} s, load {med('load'):.2f} s")
        print(f"  usable (first card shows its figure) {usable:.2f} s   target ≤ {TARGETS['m_usable_s']:g} s: "
              f"{verdict(usable <= TARGETS['m_usable_s'])}   (runs: "
              + ", ".join(f"{n['usable'] / 1000:.2f}" for n in navs) + f"; first card: {navs[-1].get('text')!r})")
        taps = [n.get("tap") for n in navs]
        print("  a tap on the first card opens its detail: "
              + ", ".join("no" if x is None or x < 0 else f"yes ({x} characters)" for x in taps))
        out[throttled] = {"bytes": statistics.median(total), "usable": usable}
    print(load.report())
    return out


# --- 4. wall heap -------------------------------------------------------------------------------------


# what is on screen, to tell a leak from more content: the focus panel shown, alerts in the
# ticker, rows of the focus table, markers on the map
CONTENT_JS = """
const h = document.querySelector('#wall-focus h2');
return {panel: h ? h.textContent : null,
        alerts: document.querySelectorAll('#wall-ticker li').length,
        rows: document.querySelectorAll('#wall-focus tbody tr').length,
        markers: document.querySelectorAll('#wall-markers .leaflet-marker-icon, .wall-leaflet .leaflet-marker-icon').length};
"""


def heap_sample(driver) -> dict:
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    return metrics


def browser_rss(driver) -> float:
    """RSS (MiB) of the Chromium processes of this driver."""
    try:
        root = psutil.Process(driver.service.process.pid)
        return sum(p.memory_info().rss for p in root.children(recursive=True)) / 2**20
    except psutil.Error:
        return float("nan")


def bench_heap(stack: Stack, flipper: CameraFlipper, minutes: float, change_every: float) -> dict:
    """Part 4: an open /wall's JS heap after 1 minute and after `minutes` of live updates.

    The focus panel (and the map's markers) rotate every IOC_WALL_ROTATE_SECONDS, so the DOM
    differs from one panel to the next: the heap is sampled once per rotation step, and the
    1-minute figure is compared with the last sample showing the same panel."""
    rotate = stack.settings.wall_rotate_seconds
    print(f"\n== 4. /wall JS heap over {minutes:g} min of live updates (a camera flip every {change_every:g} s; "
          f"forced GC before each sample) ==", flush=True)
    load = MachineLoad()
    driver = chromium(stack.work)
    samples = []
    try:
        driver.execute_cdp_cmd("Performance.enable", {})
        driver.execute_cdp_cmd("HeapProfiler.enable", {})
        _enrol(driver, stack, f"bench-wall-{time.monotonic_ns()}")
        driver.get(stack.base + "/wall")
        wait_for("the wall's tiles", lambda: driver.find_elements("css selector", CAMERA_TEXT), 60)
        flipper.start(change_every)
        t0 = time.monotonic()
        next_print = 1.0
        k = 0
        # one sample per rotation step from 1 minute on, offset by half a step (mid-panel)
        while True:
            at = 60.0 + k * rotate
            if at > minutes * 60 + 1e-6:
                break
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            m = heap_sample(driver)
            m.update(driver.execute_script(CONTENT_JS))
            samples.append((at / 60, m))
            k += 1
            if at / 60 + 1e-6 >= next_print or at + rotate > minutes * 60 + 1e-6:
                next_print = math.floor(at / 60) + 1
                print(f"  {at / 60:5.1f} min: JS heap used {m['JSHeapUsedSize'] / 2**20:6.2f} MiB (total "
                      f"{m['JSHeapTotalSize'] / 2**20:.1f}), DOM nodes {m['Nodes']:.0f}, listeners "
                      f"{m['JSEventListeners']:.0f}, browser RSS {browser_rss(driver):.0f} MiB; on screen: "
                      f"{m['alerts']} alerts, {m['rows']} focus rows, {m['markers']} markers; focus: "
                      f"{(m['panel'] or '?')[:40]}", flush=True)
        flips = flipper.flips
    finally:
        flipper.stop()
        driver.quit()
    first_at, first = samples[0]
    same = [(at, m) for at, m in samples if m["panel"] == first["panel"]]
    last_at, last = same[-1]
    heap0, heap1 = first["JSHeapUsedSize"], last["JSHeapUsedSize"]
    print(f"JS heap used after a forced GC, same focus panel: {heap0 / 2**20:.2f} MiB at {first_at:g} min, "
          f"{heap1 / 2**20:.2f} MiB at {last_at:.1f} min: ratio {heap1 / heap0:.2f} "
          f"({(heap1 - heap0) / 2**20 / max(last_at - first_at, 1e-9) * 60:+.2f} MiB/hour); DOM nodes "
          f"{first['Nodes']:.0f} → {last['Nodes']:.0f}, listeners {first['JSEventListeners']:.0f} → "
          f"{last['JSEventListeners']:.0f}")
    heaps = [m["JSHeapUsedSize"] for _, m in samples]
    print(f"all {len(samples)} samples: heap {min(heaps) / 2**20:.2f}–{max(heaps) / 2**20:.2f} MiB; "
          f"{flips} camera flips in all; per focus panel, first → last sample:")
    for panel in dict.fromkeys(m["panel"] for _, m in samples):
        mine = [(at, m) for at, m in samples if m["panel"] == panel]
        (a0, m0), (a1, m1) = mine[0], mine[-1]
        print(f"  {(panel or '?')[:40]:<40} {m0['JSHeapUsedSize'] / 2**20:6.2f} MiB ({a0:.1f} min) → "
              f"{m1['JSHeapUsedSize'] / 2**20:6.2f} MiB ({a1:.1f} min); DOM nodes {m0['Nodes']:.0f} → {m1['Nodes']:.0f}, "
              f"listeners {m0['JSEventListeners']:.0f} → {m1['JSEventListeners']:.0f}; alerts {m0['alerts']} → "
              f"{m1['alerts']}, focus rows {m0['rows']} → {m1['rows']}, markers {m0['markers']} → {m1['markers']}")
    print(load.report())
    return {"first": heap0, "last": heap1}


# --- main ---------------------------------------------------------------------------------------------


def _interrupt(*_):
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--viewers", default="200", help="virtual walls in part 1; a comma list runs each level")
    ap.add_argument("--seconds", type=float, default=60, help="measured window of part 1")
    ap.add_argument("--change-every", type=float, default=5, help="seconds between data changes (camera flips)")
    ap.add_argument("--ping-every", type=float, default=5, help="seconds between each viewer's /api/ping")
    ap.add_argument("--clients", type=int, default=2, help="load-generator processes for part 1")
    ap.add_argument("--changes", type=int, default=20, help="changes timed in part 2")
    ap.add_argument("--minutes", type=float, default=30, help="how long part 4 keeps the wall open")
    ap.add_argument("--history-days", type=float, default=14, help="simulated history the connectors read first")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--skip-viewers", action="store_true", help="skip part 1")
    ap.add_argument("--skip-latency", action="store_true", help="skip part 2")
    ap.add_argument("--skip-mobile", action="store_true", help="skip part 3")
    ap.add_argument("--skip-heap", action="store_true", help="skip part 4")
    ap.add_argument("--quiet-wait", type=float, default=0, metavar="MINUTES",
                    help="on a shared machine, wait up to this long before each part for other processes to calm down")
    ap.add_argument("--retries", type=int, default=0,
                    help="measure a level of viewers again (up to this often) when other processes were busy")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database) for a look afterwards")
    add_json_arg(ap)
    a = ap.parse_args()

    started = time.time()
    figures: list[Figure] = []
    stack = Stack(a.history_days, a.workers)
    flipper = None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"web benchmark, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}: {os.cpu_count()} cores "
              f"({cpu_model()}), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM", flush=True)
        stack.start()
        flipper = CameraFlipper(stack)
        if not a.skip_viewers:
            levels = bench_viewer_levels(stack, flipper, [int(v) for v in a.viewers.split(",")], a.seconds,
                                         a.change_every, a.ping_every, a.quiet_wait, a.retries, a.clients)
            for r in levels:
                figures += [Figure(f"wall poll p95, {r['viewers']} viewers", _round(pct(r["wall"], 95)), "ms",
                                   TARGETS["update_p95_ms"], note=f"p50 {pct(r['wall'], 50):.0f} ms, "
                                                                  f"{len(r['wall']):,} polls"),
                            Figure(f"wall poll errors, {r['viewers']} viewers", r["errors"], "errors", 0),
                            Figure(f"ping p95, {r['viewers']} viewers", _round(pct(r["ping"], 95)), "ms",
                                   note="GET /api/ping under the same load")]
        if not a.skip_latency:
            wait_until_quiet(a.quiet_wait)
            totals = bench_change_to_screen(stack, flipper, a.changes)["totals"]
            figures.append(Figure("change → wall DOM p95", _round(pct(totals, 95), 2), "s", TARGETS["change_p95_s"],
                                  note=f"{len(totals)} of {a.changes} changes seen"))
        if not a.skip_mobile:
            wait_until_quiet(a.quiet_wait)
            for throttled, m in bench_mobile(stack).items():
                how = "Slow 4G + 4× CPU" if throttled else "localhost"
                figures += [Figure(f"/m first load bytes ({how})", round(m["bytes"]), "bytes", TARGETS["m_bytes"]),
                            Figure(f"/m usable ({how})", _round(m["usable"], 2), "s", TARGETS["m_usable_s"])]
        if not a.skip_heap:
            wait_until_quiet(a.quiet_wait)
            heap = bench_heap(stack, flipper, a.minutes, a.change_every)
            figures.append(Figure(f"wall JS heap after {a.minutes:g} min / after 1 min",
                                  round(heap["last"] / heap["first"], 2), "×",
                                  note=f"{heap['first'] / 2**20:.2f} → {heap['last'] / 2**20:.2f} MiB"))
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what was started", flush=True)
    finally:
        if flipper is not None:
            flipper.stop()
        stack.stop()
        if a.keep:
            print(f"kept {stack.work}")
        else:
            shutil.rmtree(stack.work, ignore_errors=True)
    write_json(a.json, "web", figures, started=started,
               context={"viewers": a.viewers, "seconds": a.seconds, "workers": a.workers, "changes": a.changes,
                        "minutes": a.minutes})


def _round(x: float, digits: int = 0) -> float | None:
    """A figure for the JSON: None when there were no samples (nan)."""
    return None if x != x else round(x, digits)


if __name__ == "__main__":
    main()
