"""Sector map benchmark: first-load bytes, time to interactive and a filter change's round trip of
`/map` at provincial scale, in headless Chromium, plus the raw figures of its data endpoints.

    .venv/bin/python bench/map.py                          # 50,000 tickets, 2,565 cameras, 5 runs
    .venv/bin/python bench/map.py --tickets 100000 --runs 10 --keep
    .venv/bin/python bench/map.py --reuse /tmp/ioc-bench-map-XXXX   # the data of an earlier --keep run

Generates its own data directly in a fresh SQLite database (migrated, the 102 communes imported
from geo/data/ as `ioc up` prepares them): ``--tickets`` 1022 requests over the last year at
points sampled inside the commune polygons (commune_code set; categories with the simulator's
codes and weights; closed / open, some overdue), ``--cameras`` cameras inside the communes
(~93 % online), ``--stations`` monitoring stations with three days of hourly values. Then a
Redis of its own with the KPI snapshot and views published (so badges, stations and the
choropleth have something), and the web app under gunicorn with 2 workers as the Procfile runs
it. Nothing of the upstream simulator or the connectors runs: the data does not move.

Prints:

1. the raw endpoints (``/api/map/*``, ``/api/geo/communes.geojson``): bytes on the wire with
   Chromium's Accept-Encoding and uncompressed, features, client time and the server's own time
   (gunicorn access log), first request per worker and the median of the rest;
2. first load of ``/map?layers=communes,tickets,cameras&start=<a year ago>&end=<today>`` at
   1920×1080 with an empty cache: every request's bytes on the wire (CDP Network events,
   headers included) — target ≤ 1.5 MB; time to interactive (defined where printed) — target
   ≤ 3 s; with per run the layer requests and the long tasks (where the time went);
3. filter changes through the page's own status control (all ↔ overdue; no commune selected),
   each from the click on the option until the ticket markers stopped changing — target
   ≤ 500 ms; median and p95, with the requests each change made and its CPU (page, server);
   3b. time-range changes typed into the start date (half a year ↔ the year; the page keeps
   the year up to the end and filters it), timed the same way;
   3c. the range's end typed in (yesterday ↔ today, both inside the year the page holds: it judges
       the states at the new end itself; before 02/12/2026 10:30 each end downloaded its year);
4. a click on a commune: time until the side panel shows it, and what the click re-fetched.

The machine may be shared: each part prints how busy it was and how much of that was other
processes' (``--quiet-wait`` waits for them first).

Figures are printed beside their targets, never asserted. Every process started here is
stopped on exit (also on Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.kpi import Writer, _times  # noqa: E402
from bench.common import MachineLoad, wait_until_quiet  # noqa: E402
from bench.results import Figure, add_json_arg, write_json  # noqa: E402
from tests.browser.iocbrowser import (  # noqa: E402
    CHROMEDRIVER,
    CHROMIUM,
    Proc,
    forbid_selenium_manager,
    free_port,
    wait_until,
)

COMMUNES_FILE = ROOT / "geo" / "data" / "communes_2025_dong_thap.geojson"
TARGETS = {"bytes": 1_500_000, "interactive_s": 3.0, "filter_ms": 500.0}
ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends
TZ = "Asia/Ho_Chi_Minh"


def pct(values, q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q / 100 * len(v) + 0.5)) - 1))] if v else float("nan")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def kib(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


# --- data -----------------------------------------------------------------------------------------


def commune_shapes() -> list[tuple[str, str, object, float]]:
    """(code, name, shapely geometry, area km²) of the 102 communes."""
    import shapely

    fc = json.loads(COMMUNES_FILE.read_text())
    return [(f["properties"]["code"], f["properties"]["name"], shapely.geometry.shape(f["geometry"]),
             float(f["properties"].get("area_km2") or 1.0)) for f in fc["features"]]


def points_in(shapes, n: int, weights: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points inside the communes, a commune drawn by ``weights``; (lon, lat, code)."""
    import shapely

    per = rng.multinomial(n, weights / weights.sum())
    lon, lat, code = [], [], []
    for (c, _name, geom, _a), k in zip(shapes, per):
        if not k:
            continue
        x0, y0, x1, y1 = geom.bounds
        got_x, got_y, have = [], [], 0
        while have < k:
            xs = rng.uniform(x0, x1, 4 * k + 16)
            ys = rng.uniform(y0, y1, 4 * k + 16)
            inside = shapely.contains_xy(geom, xs, ys)
            got_x.append(xs[inside])
            got_y.append(ys[inside])
            have += int(inside.sum())
        lon.append(np.concatenate(got_x)[:k])
        lat.append(np.concatenate(got_y)[:k])
        code += [c] * k
    return np.round(np.concatenate(lon), 6), np.round(np.concatenate(lat), 6), np.array(code, dtype=object)


def generate(engine, n_tickets: int, n_cameras: int, n_stations: int, seed: int = 42) -> dict:
    """Bulk rows straight into SQL; returns counts and the shares the page should show."""
    from simulator.vocab import HOTLINE_SERVICES
    from sqlalchemy import text

    rng = np.random.default_rng(seed)
    w = Writer(engine)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    t0 = now - pd.Timedelta(days=365)
    span = int((now - t0).total_seconds())
    shapes = commune_shapes()
    areas = np.array([s[3] for s in shapes])
    # wards (phường) are denser than rural communes: weight by area × (3 for a ward)
    density = np.array([3.0 if s[1].startswith("Phường") else 1.0 for s in shapes]) * rng.lognormal(0, 0.4, len(shapes))
    names = {s[0]: s[1] for s in shapes}

    # 1022 requests
    n = n_tickets
    lon, lat, code = points_in(shapes, n, areas * density, rng)
    order = rng.permutation(n)
    lon, lat, code = lon[order], lat[order], code[order]
    svc = rng.choice(len(HOTLINE_SERVICES), n, p=np.array([s[3] for s in HOTLINE_SERVICES]) /
                     sum(s[3] for s in HOTLINE_SERVICES))
    svc_code = np.array([s[0] for s in HOTLINE_SERVICES], dtype=object)[svc]
    svc_name = np.array([s[1] for s in HOTLINE_SERVICES], dtype=object)[svc]
    req = _times(t0, np.sort(rng.integers(0, span - 60, n)))
    ans = req + pd.to_timedelta(rng.lognormal(np.log(3 * 86400), 1.0, n), unit="s")
    answered = (ans <= now) & (rng.random(n) < 0.97)
    ans = ans.where(answered, pd.NaT).dt.floor("s")
    exp = (req + pd.to_timedelta(rng.integers(3, 20, n), unit="D")).where(rng.random(n) < 0.25, pd.NaT)
    agencies = np.array([f"Sở {x}" for x in ("Tài nguyên và Môi trường", "Xây dựng", "Y tế", "Giáo dục và Đào tạo",
                                             "Lao động", "Công Thương", "Nội vụ")] + ["Công an tỉnh"], dtype=object)
    agency = np.where(rng.random(n) < 0.5, np.array([f"UBND {names[c]}" for c in code], dtype=object),
                      rng.choice(agencies, n))
    tickets = pd.DataFrame({
        "source": "hotline", "external_id": [f"PAKN-{i:07d}" for i in range(n)], "service_code": svc_code,
        "service_name": svc_name, "channel": rng.choice(["phone", "zalo", "web", "app"], n, p=[.6, .2, .1, .1]),
        "status": np.where(answered, "closed", "open"), "agency": agency,
        "description": [f"{s} tại {names[c]}" for s, c in zip(svc_name, code)],
        "lat": lat, "lon": lon, "commune_code": code, "assign_method": "point",
        "requested_at": req, "updated_at": ans.fillna(req), "expected_at": exp, "answered_at": ans,
        "reopened_count": 0,
    })
    w.write("tickets", tickets, ("requested_at", "updated_at", "expected_at", "answered_at"))

    # cameras: along roads and towns, i.e. denser in wards
    nc = n_cameras
    clon, clat, ccode = points_in(shapes, nc, areas * density ** 2, rng)
    status = rng.choice(["online", "offline", "degraded", "unknown"], nc, p=[.93, .05, .015, .005])
    since = _times(now - pd.Timedelta(days=20), rng.integers(0, 20 * 86400, nc))
    cam_ids = [f"CAM-{i:05d}" for i in range(nc)]
    cams = pd.DataFrame({
        "id": cam_ids, "name": [f"Camera {names[c]} {i}" for i, c in enumerate(ccode)], "lat": clat, "lon": clon,
        "commune_code": ccode, "assign_method": "point",
        "agency": rng.choice(["Công an tỉnh", "UBND xã", "Sở Giao thông vận tải", "Doanh nghiệp"], nc),
        "vms_type": "hikvision", "status": status, "status_since": since,
        "last_seen": np.where(status == "online", now, since), "updated_at": now,
    })
    cams["last_seen"] = pd.to_datetime(cams["last_seen"], utc=True)
    w.write("cameras", cams, ("status_since", "last_seen", "updated_at"))
    w.write("camera_status_changes", pd.DataFrame({
        "camera_id": cam_ids, "at": since, "status": status,
        "previous": np.where(status == "online", "offline", "online")}), ("at",))

    # stations: air, water (automatic), IoT water level/salinity, insect traps; 3 days of values
    kinds = [("air", ["pm25", "pm10", "no2", "so2", "co", "o3"], 1),
             ("water", ["ph", "do", "bod5", "cod", "nh4", "no3", "po4", "tss", "coliform", "temperature"], 1),
             ("iot_water", ["water_level", "salinity"], 1), ("insect", ["insects"], 24)]
    share = [0.3, 0.4, 0.15, 0.15]
    units = {"pm25": "µg/m³", "pm10": "µg/m³", "no2": "µg/m³", "so2": "µg/m³", "co": "µg/m³", "o3": "µg/m³",
             "ph": "pH", "do": "mg/L", "bod5": "mg/L", "cod": "mg/L", "nh4": "mg/L", "no3": "mg/L", "po4": "mg/L",
             "tss": "mg/L", "coliform": "MPN/100mL", "temperature": "°C", "water_level": "m", "salinity": "‰",
             "insects": "count"}
    base = {"pm25": 28, "pm10": 50, "no2": 30, "so2": 18, "co": 1500, "o3": 60, "ph": 7.1, "do": 5.0, "bod5": 6.0,
            "cod": 14, "nh4": 0.4, "no3": 0.9, "po4": 0.15, "tss": 60, "coliform": 4000, "temperature": 29,
            "water_level": 1.6, "salinity": 1.2, "insects": 120}
    slon, slat, scode = points_in(shapes, n_stations, areas * density, rng)
    st_rows, ds_rows, obs = [], [], []
    hours = 72
    hour0 = now.floor("h") - pd.Timedelta(hours=hours - 1)
    for i in range(n_stations):
        kind, params, step = kinds[min(int(rng.choice(4, p=share)), 3)] if i >= 4 else kinds[i]
        sid = f"ST-{i + 1:03d}"
        props = {"alarm_levels": [1.5, 2.0, 2.5]} if kind == "iot_water" else {}
        st_rows.append((sid, f"Trạm {kind} {names[scode[i]]}", kind, slat[i], slon[i], scode[i], "point",
                        json.dumps(props), now))
        for p in params:
            dsid = f"{sid}-{p}"
            ds_rows.append((dsid, sid, f"{p} @ {sid}", p, units[p], now))
            times = hour0 + pd.to_timedelta(np.arange(0, hours, step), unit="h")
            vals = base[p] * rng.lognormal(0, 0.3, len(times))
            obs.append(pd.DataFrame({"datastream_id": dsid, "phenomenon_time": times, "result": np.round(vals, 3)}))
    w.write("stations", pd.DataFrame(st_rows, columns=["id", "name", "kind", "lat", "lon", "commune_code",
                                                       "assign_method", "properties", "updated_at"]), ("updated_at",))
    w.write("datastreams", pd.DataFrame(ds_rows, columns=["id", "station_id", "name", "parameter", "unit",
                                                          "updated_at"]), ("updated_at",))
    obs_df = pd.concat(obs, ignore_index=True)
    w.write("observations", obs_df, ("phenomenon_time",))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return {"tickets": n, "open": int((~answered).sum()), "cameras": nc, "online": int((status == "online").sum()),
            "stations": n_stations, "datastreams": len(ds_rows), "observations": len(obs_df)}


# --- the stack: Redis, SQLite with data, gunicorn -------------------------------------------------


class MapStack:
    def __init__(self, work: Path, workers: int = 2) -> None:
        self.work = work
        self.workers = workers
        self.redis = None
        self.web: Proc | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.access_log = work / "logs" / "access.log"
        (work / "logs").mkdir(parents=True, exist_ok=True)
        self.db_url = f"sqlite:///{work / 'ioc.db'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")} | {
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "IOC_DATA_DIR": str(work / "var"),
            "IOC_DATABASE_URL": self.db_url, "IOC_BOUNDARIES": str(COMMUNES_FILE), "IOC_LOG_LEVEL": "WARNING",
            "IOC_TIMEZONE": TZ,
        }
        (work / "var").mkdir(exist_ok=True)

    def start_redis(self) -> None:
        from ioc.redis_server import start_own_redis

        self.redis = start_own_redis(self.work / "redis", port=free_port())
        self.env["IOC_REDIS_URL"] = self.redis.url

    def settings(self):
        from ioc.settings import load_settings

        os.environ.update({k: v for k, v in self.env.items() if k.startswith("IOC_")})
        return load_settings()

    def prepare(self, args) -> None:
        """Schema, units and boundaries (as `ioc up` prepares them), then the data (unless reused)."""
        from geo.setup import prepare_geography
        from ioc.db.migrate import upgrade
        from ioc.db.session import make_engine

        settings = self.settings()
        engine = make_engine(self.db_url)
        fresh = not (self.work / "meta.json").exists()
        t = time.perf_counter()
        upgrade(engine)
        message = prepare_geography(engine, settings)
        print(f"schema + 102 communes imported in {time.perf_counter() - t:.1f} s"
              + (f" ({message})" if message else ""), flush=True)
        if fresh:
            t = time.perf_counter()
            counts = generate(engine, args.tickets, args.cameras, args.stations)
            took = time.perf_counter() - t
            (self.work / "meta.json").write_text(json.dumps(counts))
            print(f"data generated in {took:.1f} s: {counts['tickets']:,} tickets ({counts['open']:,} unanswered), "
                  f"{counts['cameras']:,} cameras ({counts['online'] / counts['cameras']:.1%} online), "
                  f"{counts['stations']} stations / {counts['datastreams']} datastreams / "
                  f"{counts['observations']:,} observations", flush=True)
        else:
            counts = json.loads((self.work / "meta.json").read_text())
            print(f"data reused from {self.work}: {counts['tickets']:,} tickets, {counts['cameras']:,} cameras",
                  flush=True)
        self.counts = counts
        self.publish(engine, settings)
        engine.dispose()

    def publish(self, engine, settings) -> None:
        """Source health 'just polled', the KPI snapshot and the views the pages read."""
        from ioc.kpi.snapshot import build_snapshot
        from ioc.live_store import SOURCES, LiveStore
        from ioc.views.publish import publish

        store = LiveStore.from_url(self.redis.url, settings.redis_prefix)
        try:
            for s in SOURCES:
                store.set_health(s, {"last_success": datetime.now(timezone.utc).isoformat(),
                                     "consecutive_failures": 0, "interval_seconds": 60})
                store.bump_version(s)
            t = time.perf_counter()
            try:
                snap = build_snapshot(engine, store, settings)
                store.set_snapshot(snap, store.version())
                changed = publish(store, snap)
                print(f"KPI snapshot built and {len(changed)} views published in {time.perf_counter() - t:.1f} s",
                      flush=True)
            except Exception as err:  # noqa: BLE001 - the map's own endpoints do not need it
                print(f"KPI snapshot / views NOT published ({type(err).__name__}: {err}); carrying on", flush=True)
        finally:
            store.r.close()

    def start_web(self, app: str = "ioc.web.wsgi:server") -> None:
        argv = [sys.executable, "-m", "gunicorn", app, "--workers", str(self.workers),
                "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "10",
                "--log-level", "warning", "--access-logfile", str(self.access_log),
                "--access-logformat", "%(m)s %(U)s?%(q)s %(s)s %(B)s %(D)s"]
        self.web = Proc("web", argv, self.env, self.work / "logs" / "web.log")
        self.web.start()
        import httpx

        def up():
            if not self.web.alive():
                raise SystemExit(f"gunicorn exited:\n{self.web.tail()}")
            return httpx.get(self.base + "/healthz", timeout=5).status_code == 200

        t = time.perf_counter()
        wait_until(up, 90, 0.2, "gunicorn answering /healthz")
        self.app = app
        # every data route needs a signed-in user (docs/security.md): an admin, through /login
        from ioc.auth.testing import ensure_user, http_cookies

        ensure_user(self.env["IOC_DATABASE_URL"], BENCH_USER, "admin")
        self.cookies = http_cookies(self.base, BENCH_USER) if app == "ioc.web.wsgi:server" else {}
        print(f"gunicorn {app} ({self.workers} workers) up in {time.perf_counter() - t:.1f} s at {self.base}",
              flush=True)

    def start_web_or_endpoints(self) -> bool:
        """The product's app; when it does not boot (the page is still being built), only the
        map's data endpoints on a bare Flask app (``endpoints_only``). True = the whole app."""
        try:
            self.start_web()
            return True
        except SystemExit as err:
            lines = [x for x in str(err).splitlines() if x.strip()]
            why = next((x for x in reversed(lines) if "Error" in x or "error" in x), lines[-1] if lines else "?")
            print(f"the product's web app did NOT boot ({why.strip()}); measuring the map's data endpoints on a "
                  f"bare Flask app instead (bench.map:endpoints_only(): ioc.web.map_api + Flask-Compress as Dash's "
                  f"compress=True, /api/geo/communes.geojson)", flush=True)
            self.web = None
            self.start_web("bench.map:endpoints_only()")
            return False

    def restart_web(self) -> None:
        """A fresh gunicorn (cold worker caches) on the same port."""
        self.web.stop()
        self.start_web(self.app)

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self.redis is not None:
            self.redis.stop()
            self.redis = None


def endpoints_only():
    """A WSGI app with only the map's data endpoints, as the product registers them (used when the
    product's app does not boot)."""
    from flask import Flask, Response
    from flask_compress import Compress

    from ioc.settings import get_settings
    from ioc.views.read import ReadModel
    from ioc.web import map_api

    app = Flask("ioc-map-endpoints")
    Compress(app)
    views = ReadModel.from_settings(get_settings())
    map_api.register(app, views)
    app.add_url_rule("/healthz", "healthz", lambda: Response("ok"))
    app.add_url_rule("/api/geo/communes.geojson", "outlines",
                     lambda: Response(views.atlas.geojson(), mimetype="application/json"))
    return app


# --- 1. the raw endpoints ----------------------------------------------------------------------------


class AccessLog:
    """The server's own time per request (gunicorn's %(D)s, µs), read as lines arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pos = path.stat().st_size if path.exists() else 0

    def new(self) -> list[tuple[str, int, int, float]]:
        """(path?query, status, bytes, ms) of the lines written since the last call."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        out = []
        for line in data.decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 5:
                try:
                    out.append((parts[1], int(parts[2]), int(parts[3]) if parts[3] != "-" else 0,
                                int(parts[4]) / 1000))
                except ValueError:
                    pass
        return out


def timed_get(client, url: str, encoding: str) -> dict:
    t = time.perf_counter()
    with client.stream("GET", url, headers={"Accept-Encoding": encoding}) as r:
        ttfb = time.perf_counter() - t
        raw = b"".join(r.iter_raw())
        total = time.perf_counter() - t
        return {"status": r.status_code, "wire": len(raw), "encoding": r.headers.get("content-encoding", "identity"),
                "type": r.headers.get("content-type", "?"), "ttfb_ms": ttfb * 1000, "ms": total * 1000,
                "raw": raw, "cache": r.headers.get("cache-control", "")}


def features_of(blob: bytes, kind: str) -> str:
    try:
        if kind == "geobuf":
            import geobuf

            fc = geobuf.decode(blob)
        elif kind == "points":
            from ioc.views.map_layers import decode_ticket_points

            p = decode_ticket_points(blob)
            return f"{p['n']:,} points ({len(p['cats'])} categories)"
        else:
            fc = json.loads(blob)
    except Exception as err:  # noqa: BLE001
        return f"not decodable ({type(err).__name__})"
    if isinstance(fc, dict) and "features" in fc:
        n = len(fc["features"])
        kinds = defaultdict(int)
        for f in fc["features"][:200_000]:
            kinds[f.get("geometry", {}).get("type") if f.get("geometry") else None] += 1
        return f"{n:,} features ({', '.join(f'{k} {v:,}' for k, v in kinds.items())})"
    if isinstance(fc, dict):
        return "JSON keys: " + ", ".join(list(fc)[:8])
    return type(fc).__name__


def bench_endpoints(stack: MapStack, query: str, repeat: int) -> dict:
    import httpx

    print("\n== 1. data endpoints (fresh gunicorn: the first request per worker is cold) ==", flush=True)
    endpoints = [
        ("tickets.bin", f"/api/map/tickets.bin?{query}", "points"),
        ("tickets.bin status=overdue", f"/api/map/tickets.bin?{query}&status=overdue", "points"),
        ("cameras.geobuf", "/api/map/cameras.geobuf", "geobuf"),
        ("communes.geojson (outlines)", "/api/geo/communes.geojson", "json"),
        ("communes.json?metric=tickets_overdue", f"/api/map/communes.json?metric=tickets_overdue&{query}", "json"),
        ("communes.json?metric=tickets_per_km2", f"/api/map/communes.json?metric=tickets_per_km2&{query}", "json"),
        ("density.json", f"/api/map/density.json?{query}", "json"),
        ("stations.json", "/api/map/stations.json", "json"),
    ]
    log = AccessLog(stack.access_log)
    out = {}
    with httpx.Client(base_url=stack.base, timeout=120, cookies=stack.cookies) as client:
        for name, url, kind in endpoints:
            runs = []
            for i in range(repeat + stack.workers):
                # alternate encodings: the identity body is the uncompressed size
                r = timed_get(client, url, ACCEPT_ENCODING if i % 2 == 0 or i < stack.workers else "identity")
                server, until = [], time.monotonic() + 1.0
                while not server and time.monotonic() < until:  # gunicorn logs after the response
                    server = [ms for path, _s, _b, ms in log.new() if path.split("?")[0] == url.split("?")[0]]
                    if not server:
                        time.sleep(0.02)
                r["server_ms"] = server[-1] if server else float("nan")
                runs.append(r)
            first = runs[0]
            if first["status"] != 200:
                print(f"  {name:<38} HTTP {first['status']}  {first['raw'][:120]!r}")
                out[name] = {"status": first["status"]}
                continue
            comp = [r for r in runs if r["encoding"] != "identity"] or runs
            plain = [r for r in runs if r["encoding"] == "identity"]
            warm = runs[stack.workers:]
            size_plain = plain[0]["wire"] if plain else None
            blob = plain[0]["raw"] if plain else None
            desc = features_of(blob, kind) if blob is not None else "(no identity response)"
            cold = ", ".join(f"{r['ms']:.0f}" for r in runs[:stack.workers])
            print(f"  {name:<38} wire {kib(comp[0]['wire']):>11} ({comp[0]['encoding']}), uncompressed "
                  f"{kib(size_plain) if size_plain else '?':>11}; {desc}")
            print(f"  {'':<38} time: client ms, first per worker {cold}; then median "
                  f"{statistics.median(r['ms'] for r in warm):.0f} (p95 {pct([r['ms'] for r in warm], 95):.0f}); "
                  f"server ms median {statistics.median(r['server_ms'] for r in warm):.0f}; "
                  f"type {comp[0]['type']}; cache-control {comp[0]['cache'] or '—'}")
            out[name] = {"wire": comp[0]["wire"], "plain": size_plain, "encoding": comp[0]["encoding"],
                         "warm_ms": statistics.median(r["ms"] for r in warm),
                         "server_ms": statistics.median(r["server_ms"] for r in warm)}
    return out


# --- 2 & 3. the page in headless Chromium -------------------------------------------------------------

# What "drawn" means (selectors of layouts/map.py and assets/sector_map.js): communes = SVG paths
# in Leaflet's overlay pane (≥ MIN_COMMUNES of the 102); tickets = ticket markers or clusters,
# cameras = camera markers or clusters in the marker pane.
SELECTORS = {
    "communes": ".leaflet-overlay-pane path",
    "tickets": ".leaflet-marker-pane .sm-mk-ticket, .leaflet-marker-pane .sm-mk-cluster:not(.sm-mk-camcluster)",
    "cameras": ".leaflet-marker-pane .sm-mk-camera, .leaflet-marker-pane .sm-mk-camcluster",
}
MIN_COMMUNES = 100

PAGE_JS = """
(function () {
  const SEL = %(selectors)s, MIN = %(min)d;
  const b = window.__mb = {first: {}, longtasks: [], markerMutations: [], clicks: [], counts: {}};
  try { performance.setResourceTimingBufferSize(100000); } catch (e) {}
  try {
    new PerformanceObserver(l => { for (const e of l.getEntries()) b.longtasks.push([e.startTime, e.duration]); })
      .observe({type: 'longtask', buffered: true});
  } catch (e) {}
  document.addEventListener('click', e => b.clicks.push([performance.now(), (e.target && e.target.className
    && String(e.target.className)) || (e.target && e.target.tagName) || '']), true);
  function check() {
    const now = performance.now();
    for (const k in SEL) {
      const n = document.querySelectorAll(SEL[k]).length;
      b.counts[k] = n;
      if (b.first[k] === undefined && n >= (k === 'communes' ? MIN : 1)) b.first[k] = now;
    }
  }
  function watch() {
    if (!document.documentElement) return setTimeout(watch, 1);
    new MutationObserver(muts => {
      const now = performance.now();
      for (const m of muts) {
        const t = m.target;
        if (t && t.closest && t.closest('.leaflet-marker-pane')) { b.markerMutations.push(now); break; }
      }
      check();
    }).observe(document.documentElement, {subtree: true, childList: true});
  }
  watch();
})();
"""


BENCH_USER = "bench-admin"  # signed in through /login (ioc.auth.testing)


def chromium(work: Path, width: int = 1920, height: int = 1080):
    """Headless Debian Chromium, fresh profile, CDP Network events in the performance log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    forbid_selenium_manager()
    profile = Path(tempfile.mkdtemp(prefix="chrome-", dir=work))
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-extensions", "--force-device-scale-factor=1", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER),
                                                            log_output=str(work / "logs" / "chromedriver.log")))
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": PAGE_JS % {"selectors": json.dumps(SELECTORS), "min": MIN_COMMUNES}})
    return driver


def network(driver) -> list[dict]:
    """Every request since the last call: url, type, wire bytes (headers included), body bytes."""
    reqs: dict[str, dict] = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        method, p = msg.get("method", ""), msg.get("params", {})
        rid = p.get("requestId")
        if not method.startswith("Network.") or rid is None:
            continue
        r = reqs.setdefault(rid, {"url": "?", "type": "Other", "wire": 0, "body": 0, "status": None,
                                  "encoding": "", "done": False})
        if method == "Network.requestWillBeSent":
            r["url"] = p["request"]["url"]
            r["type"] = p.get("type", r["type"])
        elif method == "Network.responseReceived":
            r["type"] = p.get("type", r["type"])
            r["status"] = p["response"].get("status")
            h = {k.lower(): v for k, v in (p["response"].get("headers") or {}).items()}
            r["encoding"] = h.get("content-encoding", "")
        elif method == "Network.dataReceived":
            r["body"] += p.get("dataLength", 0)
        elif method == "Network.loadingFinished":
            r["wire"] = int(p.get("encodedDataLength", 0))
            r["done"] = True
        elif method == "Network.loadingFailed":
            r["failed"] = p.get("errorText")
    return [r for r in reqs.values() if r["url"].startswith("http")]


def short(url: str) -> str:
    import re

    path = "/" + url.split("/", 3)[-1]
    path = re.sub(r"\.v\d[\w]*m\d+", "", path).replace("/_dash-component-suites", "…")
    return path if len(path) < 110 else path[:107] + "…"


def page_state(driver) -> dict:
    return driver.execute_script("""
      const b = window.__mb || {};
      const nav = performance.getEntriesByType('navigation')[0] || {};
      const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
      return {first: b.first || {}, counts: b.counts || {}, longtasks: b.longtasks || [],
              dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, fcp: paint['first-contentful-paint'],
              now: performance.now(),
              res: performance.getEntriesByType('resource').filter(e => /geobuf|tickets\\.bin|communes\\.(geo)?json|_dash-update/
                     .test(e.name)).map(e => [e.name.split('/').pop().split('?')[0], e.startTime, e.responseEnd]),
              dashLoading: !!document.querySelector('[data-dash-is-loading="true"], ._dash-loading'),
              error: !!document.querySelector('.dash-fe-error-top, .dash-error-card, .dash-fe-error__title'),
              text: (document.body && document.body.innerText || '').slice(0, 300)};""")


def load_once(stack: MapStack, url: str, timeout: float) -> dict:
    driver = chromium(stack.work)
    try:
        from ioc.auth.testing import browser_sign_in

        browser_sign_in(driver, stack.base, BENCH_USER)
        driver.get(stack.base + url)
        deadline = time.monotonic() + timeout
        st = page_state(driver)
        while time.monotonic() < deadline:
            st = page_state(driver)
            if all(k in st["first"] for k in SELECTORS):
                break
            time.sleep(0.1)
        drawn = all(k in st["first"] for k in SELECTORS)
        # let late requests finish (network quiet for 1.5 s) before summing bytes
        reqs, quiet_since, last_n = [], time.monotonic(), 0
        while time.monotonic() - quiet_since < 1.5 and time.monotonic() < deadline + 10:
            reqs += network(driver)
            if len(reqs) != last_n:
                last_n, quiet_since = len(reqs), time.monotonic()
            time.sleep(0.2)
        st = page_state(driver)
        layers_ms = max(st["first"].values()) if drawn else None
        interactive = None
        if drawn:
            # the main thread is free: the end of the last long task that began before the layers were drawn
            ends = [s + d for s, d in st["longtasks"] if s <= layers_ms]
            interactive = max([layers_ms] + ends)
        logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        res = {"state": st, "requests": reqs, "drawn": drawn, "layers_ms": layers_ms, "interactive_ms": interactive,
               "console": logs, "driver": driver}
        return res
    except BaseException:
        driver.quit()
        raise


def real_click(driver, x: float, y: float) -> float:
    """A W3C-actions mouse click at viewport (x, y) (move, press, release: what Leaflet needs;
    CDP Input.dispatchMouseEvent press/release alone did not make Leaflet fire its click)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    t = driver.execute_script("return performance.now()")
    ab = ActionBuilder(driver)
    ab.pointer_action.move_to_location(int(round(x)), int(round(y))).click()
    ab.perform()
    return t


def click_commune(driver) -> dict:
    """Click the middle of the largest visible commune not covered by a marker; what changed."""
    pick = driver.execute_script("""
      const paths = [...document.querySelectorAll(arguments[0])];
      let best = null;
      for (const p of paths) {   // a point of the commune not covered by a marker, largest commune first
        const r = p.getBoundingClientRect();
        if (best && r.width * r.height <= best.a) continue;
        search: for (let i = 1; i < 8; i++) for (let j = 1; j < 8; j++) {
          const x = r.left + r.width * i / 8, y = r.top + r.height * j / 8;
          if (document.elementFromPoint(x, y) === p) { best = {x, y, a: r.width * r.height}; break search; }
        }
      }
      const head = document.getElementById('map-commune-head');
      window.__mb.headBefore = head ? head.innerText : null;
      window.__mb.urlBefore = location.search;
      return best;""", SELECTORS["communes"])
    if not pick:
        return {"ok": False, "why": "no point of any commune free of markers"}
    n0 = len(driver.execute_script("return window.__mb.clicks"))
    t0 = real_click(driver, pick["x"], pick["y"])
    clicks = driver.execute_script("return window.__mb.clicks")
    t0 = clicks[n0][0] if len(clicks) > n0 else t0
    end = time.monotonic() + 10
    while time.monotonic() < end:
        got = driver.execute_script("""
          const head = document.getElementById('map-commune-head');
          const txt = head ? head.innerText : null;
          if (txt !== window.__mb.headBefore)
            return {t: performance.now(), head: txt && txt.split('\\n')[0].slice(0, 80), url: location.search};
          return null;""")
        if got:
            time.sleep(1.5)
            fetched = driver.execute_script("""
              return performance.getEntriesByType('resource').filter(e => e.startTime >= arguments[0]
                && !e.name.includes('_dash-update')).map(e => e.name.split('/').pop().split('?')[0] + ' '
                + Math.round(e.transferSize / 1024) + ' KiB');""", t0)
            return {"ok": True, "ms": got["t"] - t0, "head": got["head"], "url": got["url"], "fetched": fetched}
        time.sleep(0.02)
    return {"ok": False, "why": "#map-commune-head did not change within 10 s of the click (URL now "
                               + driver.execute_script("return location.search")[:100] + ")"}


def bench_first_load(stack: MapStack, url: str, runs: int, timeout: float) -> tuple[dict | None, object]:
    print(f"\n== 2. first load of {url} (1920×1080, empty cache, fresh profile each run) ==", flush=True)
    print("  run 1 meets freshly started gunicorn workers (caches empty), as after a deploy")
    print(f"  drawn = communes ≥ {MIN_COMMUNES} paths in Leaflet's overlay pane, ≥ 1 ticket marker or cluster and "
          f"≥ 1 camera marker or cluster in the marker pane (MutationObserver time);\n"
          f"  interactive = from navigation start until drawn AND the end of the last long task (> 50 ms) that "
          f"had begun by then, i.e. the main thread is free to take a click", flush=True)
    results, keep = [], None
    for i in range(runs):
        r = load_once(stack, url, timeout)
        if i < runs - 1 or not r["drawn"]:
            r.pop("driver").quit()
        else:
            keep = r.pop("driver")
        results.append(r)
        st = r["state"]
        wire = sum(q["wire"] for q in r["requests"])
        if not r["drawn"]:
            print(f"  run {i + 1}: layers NOT drawn within {timeout:.0f} s: first seen {st['first']}, counts "
                  f"{st['counts']}, Dash loading {st['dashLoading']}, error display {st['error']}; "
                  f"{len(r['requests'])} requests, {kib(wire)}; console errors: "
                  f"{[e['message'][:200] for e in r['console']][:3]}; page text: {st['text'][:160]!r}", flush=True)
            continue
        lt = sum(1 for s, _d in st["longtasks"] if s <= r["layers_ms"])
        print(f"  run {i + 1}: interactive {r['interactive_ms'] / 1000:.2f} s (drawn: communes "
              f"{st['first']['communes'] / 1000:.2f} s, tickets {st['first']['tickets'] / 1000:.2f} s, cameras "
              f"{st['first']['cameras'] / 1000:.2f} s; {lt} long tasks before, longest "
              f"{max([d for s, d in st['longtasks'] if s <= r['layers_ms']] or [0]):.0f} ms); FCP "
              f"{(st['fcp'] or 0) / 1000:.2f} s, DOMContentLoaded {(st['dcl'] or 0) / 1000:.2f} s; "
              f"{len(r['requests'])} requests, {kib(wire)} on the wire; markers {st['counts']}; "
              f"{len(r['console'])} console errors", flush=True)
        print("         requests (s from navigation start): " + ", ".join(
            f"{n} {a / 1000:.2f}–{b / 1000:.2f}" for n, a, b in st["res"] if n != "_dash-update-component")
            + f"; {sum(1 for n, *_ in st['res'] if n == '_dash-update-component')} Dash callbacks, the last ending "
            f"{max([b for n, a, b in st['res'] if n == '_dash-update-component'] or [0]) / 1000:.2f} s; long tasks "
            + ", ".join(f"{a / 1000:.2f}+{d:.0f}ms" for a, d in st["longtasks"] if a <= r["layers_ms"]), flush=True)
    ok = [r for r in results if r["drawn"]]
    if not ok:
        last = results[-1]
        print("  NOT MEASURED: the map's layers never appeared (see above)")
        _print_requests(last["requests"])
        return None, keep
    wires = [sum(q["wire"] for q in r["requests"]) for r in ok]
    inter = [r["interactive_ms"] / 1000 for r in ok]
    last = ok[-1]
    print(f"  -> bytes on first load: median {statistics.median(wires) / 1e6:.2f} MB ({kib(statistics.median(wires))}) "
          f"— target ≤ {TARGETS['bytes'] / 1e6:g} MB: {verdict(statistics.median(wires) <= TARGETS['bytes'])}")
    print(f"  -> interactive: median {statistics.median(inter):.2f} s, worst {max(inter):.2f} s of {len(inter)} "
          f"— target ≤ {TARGETS['interactive_s']:g} s: {verdict(statistics.median(inter) <= TARGETS['interactive_s'])}")
    _print_requests(last["requests"])
    if last["console"]:
        print("  console errors (last run): " + " | ".join(e["message"][:240] for e in last["console"][:5]))
    return {"bytes": statistics.median(wires), "interactive_s": statistics.median(inter),
            "interactive_all": inter}, keep


def _print_requests(reqs: list[dict]) -> None:
    by_type = defaultdict(lambda: [0, 0, 0])
    for q in reqs:
        by_type[q["type"]][0] += 1
        by_type[q["type"]][1] += q["wire"]
        by_type[q["type"]][2] += q["body"]
    print(f"  requests of the last load: {len(reqs)}, {kib(sum(q['wire'] for q in reqs))} on the wire, "
          f"{kib(sum(q['body'] for q in reqs))} decoded")
    for typ, (n, w, b) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
        print(f"    {typ:<12} {n:>3} requests {kib(w):>12} on the wire ({kib(b)} decoded)")
    print("    largest requests (wire / decoded, encoding):")
    for q in sorted(reqs, key=lambda q: -q["wire"])[:14]:
        print(f"      {kib(q['wire']):>11} / {kib(q['body']):>11} {q['encoding'] or '-':<5} {q['status']} "
              f"{short(q['url'])}" + (f"  FAILED {q['failed']}" if q.get("failed") else ""))


# --- filter changes ---------------------------------------------------------------------------------

SELECT_OPTION_JS = """
// the centre of the open dropdown's option whose value is arguments[0] (Dash 4: radio inputs in
// .dash-dropdown-options), else null and the options seen
const inp = document.querySelector('.dash-dropdown-options input[value="' + arguments[0] + '"]');
const o = inp && inp.closest('[role=option]');
if (!o) return {open: false, options: [...document.querySelectorAll('.dash-dropdown-options [role=option]')]
                                       .map(x => x.innerText.trim())};
o.scrollIntoView({block: 'nearest'});
const r = o.getBoundingClientRect();
return {open: true, x: r.left + r.width / 2, y: r.top + r.height / 2, label: o.innerText.trim()};
"""


def choose_status(driver, value: str) -> float:
    """Pick ``value`` in the status dropdown (#map-status) with real mouse events; returns
    performance.now() of the click on the option (the page's own capturing click listener)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "map-status").click()
    pos = {}
    for _ in range(100):
        pos = driver.execute_script(SELECT_OPTION_JS, value)
        if pos.get("open"):
            n0 = len(driver.execute_script("return window.__mb.clicks"))
            real_click(driver, pos["x"], pos["y"])
            clicks = driver.execute_script("return window.__mb.clicks")
            return clicks[n0][0] if len(clicks) > n0 else driver.execute_script("return performance.now()")
        time.sleep(0.05)
    raise RuntimeError(f"status option {value!r} not found (open dropdown shows {pos.get('options')})")


def wait_rerender(driver, t0: float, quiet_ms: float = 700, timeout: float = 20) -> dict:
    """After the click at ``t0``: the last marker-pane mutation of the burst that follows it (the
    markers stopped changing for ``quiet_ms``) — after the new tickets.bin response when the
    change downloaded points (a range outside the window the page holds); a status, category or date
    change inside it filters the points the page has (assets/sector_map.js ``ioc_map.tickets``) and
    asks for none."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = driver.execute_script("""
          const t0 = arguments[0], quiet = arguments[1], now = performance.now();
          const res = performance.getEntriesByType('resource').filter(e => e.startTime >= t0);
          const geo = res.filter(e => e.name.includes('tickets.bin'));
          const dash = res.filter(e => e.name.includes('_dash-update-component'));
          const muts = window.__mb.markerMutations.filter(x => x >= t0);
          const kept = performance.getEntriesByName('ioc_map.tickets', 'mark').filter(e => e.startTime >= t0)
                                  .map(e => e.startTime - t0);
          const done = geo.length && geo.every(e => e.responseEnd > 0);
          const after = done ? Math.max(...geo.map(e => e.responseEnd)) : null;
          const last = muts.length ? muts[muts.length - 1] : null;
          return {now, after, last, quietFor: last === null ? null : now - last, n_geo: geo.length, kept,
                  geo: geo.map(e => [e.startTime - t0, e.responseEnd - t0, e.transferSize, e.decodedBodySize,
                                     e.name.split('?')[1] || '']),
                  dash: dash.map(e => [e.startTime - t0, e.responseEnd - t0]), n_mut: muts.length,
                  other: res.filter(e => !e.name.includes('tickets.bin') && !e.name.includes('_dash-update'))
                            .map(e => e.name.split('/').pop().split('?')[0] + ' ' + Math.round(e.transferSize / 1024)
                                 + ' KiB'),
                  counts: window.__mb.counts};""", t0, quiet_ms)
        if got["after"] is not None and got["last"] is not None and got["last"] >= got["after"] \
                and got["quietFor"] >= quiet_ms:
            got["ms"] = got["last"] - t0
            return got
        if got["n_geo"] == 0 and got["last"] is not None and got["quietFor"] >= quiet_ms:
            got["ms"] = got["last"] - t0  # no new request: re-rendered from what the browser had
            got["note"] = "no tickets.bin request"
            return got
        time.sleep(0.05)
    got["ms"] = None
    return got


def page_cpu(driver) -> dict[str, float]:
    """The page's CPU so far, in ms (CDP Performance metrics): every task of its renderer and the
    script part of it."""
    m = {x["name"]: x["value"] for x in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    return {"task": m.get("TaskDuration", 0) * 1000, "script": m.get("ScriptDuration", 0) * 1000}


def server_cpu(stack: MapStack) -> float:
    """CPU ms used so far by the web server (gunicorn and its workers)."""
    import psutil

    if stack.web is None or stack.web.process is None:
        return float("nan")
    total = 0.0
    try:
        root = psutil.Process(stack.web.process.pid)
        for p in [root, *root.children(recursive=True)]:
            c = p.cpu_times()
            total += c.user + c.system
    except psutil.Error:
        return float("nan")
    return total * 1000


def round_trip_summary(what: str, times: list, per: dict, cpus: list) -> dict:
    """Print a round-trip part's verdict (median and p95 against the filter target) and its CPU."""
    med, p95 = statistics.median(times), pct(times, 95)
    print(f"  -> {what} round trip: median {med:.0f} ms, p95 {p95:.0f} ms of {len(times)} "
          f"— target ≤ {TARGETS['filter_ms']:.0f} ms: {verdict(med <= TARGETS['filter_ms'])} (median), "
          f"{verdict(p95 <= TARGETS['filter_ms'])} (p95)"
          + "".join(f"; → {k}: median {statistics.median(v):.0f} ms" for k, v in per.items()))
    print(f"  -> CPU per change: page median {statistics.median(c['task'] for c in cpus):.0f} ms (max "
          f"{max(c['task'] for c in cpus):.0f}; script median {statistics.median(c['script'] for c in cpus):.0f}), "
          f"web server median {statistics.median(c['server'] for c in cpus):.0f} ms")
    return {"median": med, "p95": p95, "all": times, "cpu": cpus}


def bench_filters(driver, runs: int, stack: MapStack | None = None) -> dict | None:
    print(f"\n== 3. filter change: status all ↔ overdue through the page's dropdown (#map-status), {runs} runs ==",
          flush=True)
    print("  round trip = from the click on the option (the page's own click listener) until the ticket markers "
          "stopped changing\n  (last marker-pane mutation, after the tickets.bin response if one was asked for, then 700 ms "
          "quiet); "
          "the page is not reloaded", flush=True)
    print("  CPU = what the change cost, whatever else the machine did: the page's renderer (all its tasks; the "
          "script part)\n  and the web server, from the click until the markers stopped changing (+ the 700 ms quiet)",
          flush=True)
    driver.execute_cdp_cmd("Performance.enable", {})
    times, per, cpus = [], defaultdict(list), []
    value = "overdue"
    for i in range(runs):
        c0, s0 = page_cpu(driver), server_cpu(stack) if stack else float("nan")
        try:
            t0 = choose_status(driver, value)
        except Exception as err:  # noqa: BLE001
            print(f"  run {i + 1}: could not use the status control: {err}")
            return None
        r = wait_rerender(driver, t0)
        c1, s1 = page_cpu(driver), server_cpu(stack) if stack else float("nan")
        cpu = {"task": c1["task"] - c0["task"], "script": c1["script"] - c0["script"], "server": s1 - s0}
        cpus.append(cpu)
        if r["ms"] is None:
            print(f"  run {i + 1} (→ {value}): no re-render seen within 20 s: tickets.bin {r['geo']}, dash "
                  f"{len(r['dash'])} callbacks, {r['n_mut']} marker mutations, url {driver.current_url[-80:]}")
        else:
            times.append(r["ms"])
            per[value].append(r["ms"])
            geo = r["geo"][-1] if r["geo"] else None
            cb = r["dash"]
            print(f"  run {i + 1} (→ {value}): {r['ms']:.0f} ms  [Dash callbacks {len(cb)}"
                  + (f" ({cb[0][0]:.0f}–{max(e[1] for e in cb):.0f} ms)" if cb else "")
                  + (f"; tickets.bin {geo[0]:.0f}–{geo[1]:.0f} ms, {kib(geo[2])} wire / {kib(geo[3])}"
                     if geo else "")
                  + (f"; points handed to the layer at {r['kept'][-1]:.0f} ms" if r.get("kept") else "")
                  + f"; markers now {r['counts'].get('tickets')} ticket, {r['counts'].get('cameras')} camera"
                  + (f"; {r['note']}" if r.get("note") else "")
                  + (f"; also fetched: {', '.join(r['other'])}" if r.get("other") else "")
                  + f"; CPU: page {cpu['task']:.0f} ms (script {cpu['script']:.0f}), server {cpu['server']:.0f} ms]",
                  flush=True)
        value = "all" if value == "overdue" else "overdue"
        time.sleep(0.5)
    if not times:
        return None
    return round_trip_summary("filter", times, per, cpus)


def type_date(driver, day, element_id: str = "map-dates") -> float:
    """Type ``day`` into one of the range's dates (#map-dates: the start, #map-dates-end-date: the
    end; dd/mm/yyyy) and press Enter, as a person does; returns performance.now() just before the Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    el = driver.find_element(By.ID, element_id)
    el.click()
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(day.strftime("%d/%m/%Y"))
    t0 = driver.execute_script("return performance.now()")
    el.send_keys(Keys.ENTER)
    return t0


def bench_dates(driver, runs: int, stack: MapStack, year_start, today, *, end: bool = False) -> dict | None:
    """A new time range. Its start (3b): the page holds the year up to the range's end and keeps the
    points of the new start itself (since 02/12/2026 08:40; before, each range downloaded its
    points). Its end (3c): the states are judged at the end; since 02/12/2026 10:30 the page judges them
    itself for any end inside the year it holds (before, a new end downloaded the year up to it)."""
    half = today - timedelta(days=182)
    yesterday = today - timedelta(days=1)
    if end:
        print(f"\n== 3c. filter change: the time range's end typed in (#map-dates-end-date), {yesterday:%d/%m/%Y} ↔ "
              f"{today:%d/%m/%Y} (start {year_start + timedelta(days=1):%d/%m/%Y}: both ends inside the year the page holds), "
              f"{runs} runs ==", flush=True)
        try:  # a start the two ends share, inside both windows
            wait_rerender(driver, type_date(driver, year_start + timedelta(days=1)))
        except Exception as err:  # noqa: BLE001
            print(f"  could not type the start first: {err}")
    else:
        print(f"\n== 3b. filter change: the time range's start typed in (#map-dates), {half:%d/%m/%Y} ↔ "
              f"{year_start:%d/%m/%Y} (half a year ↔ the link's {(today - year_start).days + 1} days), {runs} runs ==",
              flush=True)
    print("  round trip = from the Enter until the ticket markers stopped changing (after the new tickets.bin "
          "response if one was asked for; then 700 ms quiet)", flush=True)
    if not end:
        try:  # every state shown: each change clusters all the range's points, the costly case
            wait_rerender(driver, choose_status(driver, "all"))
        except Exception as err:  # noqa: BLE001
            print(f"  could not choose the status 'all' first: {err}")
    times, per, cpus, splits = [], defaultdict(list), [], []
    for i in range(runs):
        if end:
            day, label = (yesterday, "end yesterday") if i % 2 == 0 else (today, "end today")
        else:
            day, label = (half, "½ year") if i % 2 == 0 else (year_start, f"{(today - year_start).days + 1} days")
        c0, s0 = page_cpu(driver), server_cpu(stack)
        try:
            t0 = type_date(driver, day, "map-dates-end-date" if end else "map-dates")
        except Exception as err:  # noqa: BLE001
            print(f"  run {i + 1}: could not type into the date range: {err}")
            return None
        r = wait_rerender(driver, t0)
        c1, s1 = page_cpu(driver), server_cpu(stack)
        cpu = {"task": c1["task"] - c0["task"], "script": c1["script"] - c0["script"], "server": s1 - s0}
        geo = r["geo"][-1] if r.get("geo") else None
        if r["ms"] is None:
            print(f"  run {i + 1} (→ {label}): no new points drawn within 20 s: {r.get('geo')}, {r.get('note')}")
        else:
            times.append(r["ms"])
            per[label].append(r["ms"])
            cpus.append(cpu)
            if r.get("kept"):
                splits.append((r["kept"][-1], r["ms"] - r["kept"][-1]))
            cb = r["dash"]
            print(f"  run {i + 1} (→ {label}): {r['ms']:.0f} ms  [Dash callbacks {len(cb)}"
                  + (f" ({cb[0][0]:.0f}–{max(e[1] for e in cb):.0f} ms)" if cb else "")
                  + (f"; tickets.bin {geo[0]:.0f}–{geo[1]:.0f} ms, {kib(geo[2])} wire / {kib(geo[3])}" if geo
                     else f"; {r.get('note') or 'no tickets.bin request'}")
                  + (f"; points handed to the layer at {r['kept'][-1]:.0f} ms" if r.get("kept") else "")
                  + f"; markers now {r['counts'].get('tickets')} ticket; CPU: page {cpu['task']:.0f} ms (script "
                  f"{cpu['script']:.0f}), server {cpu['server']:.0f} ms]", flush=True)
        time.sleep(0.5)
    if not times:
        return None
    result = round_trip_summary(f"time-range ({'end' if end else 'start'})", times, per, cpus)
    if splits:
        print(f"  -> where it went (median): the Enter → the points handed to the ticket layer (ioc_map.tickets, "
              f"after a download if any) {statistics.median(a for a, _ in splits):.0f} ms; → the last marker drawn "
              f"(dash-leaflet's supercluster index + markers) {statistics.median(b for _, b in splits):.0f} ms")
    return result


# --- main -----------------------------------------------------------------------------------------


def _interrupt(*_):
    raise KeyboardInterrupt


def _machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    chrome = "?"
    try:
        import subprocess

        chrome = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001
        pass
    return f"{os.cpu_count()} CPUs ({model}), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM; {chrome}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=50_000, help="1022 requests (points) over the last year")
    ap.add_argument("--cameras", type=int, default=2_565, help="cameras")
    ap.add_argument("--stations", type=int, default=40, help="monitoring stations")
    ap.add_argument("--runs", type=int, default=5, help="first loads and filter changes measured")
    ap.add_argument("--days", type=int, default=366,
                    help="the page's time range (days up to today; the page's default link is 30, at most 366)")
    ap.add_argument("--repeat", type=int, default=6, help="requests per data endpoint (after the cold ones)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--timeout", type=float, default=45,
                    help="seconds a first load may take before it counts as failed")
    ap.add_argument("--skip-browser", action="store_true", help="only the data endpoints")
    ap.add_argument("--quiet-wait", type=float, default=0, metavar="MINUTES",
                    help="on a shared machine, wait up to this long before each part for other processes to calm down")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (database, logs) afterwards")
    ap.add_argument("--reuse", metavar="DIR", help="reuse the data of an earlier --keep run in DIR")
    add_json_arg(ap)
    a = ap.parse_args()
    started = time.time()
    figures: list[Figure] = []

    work = Path(a.reuse) if a.reuse else Path(tempfile.mkdtemp(prefix="ioc-bench-map-"))
    if a.reuse:
        a.keep = True
        shutil.rmtree(work / "redis", ignore_errors=True)
    stack = MapStack(work, a.workers)
    signal.signal(signal.SIGTERM, _interrupt)
    driver = None
    today = datetime.now(tz=ZoneInfo(TZ)).date()
    start = today - timedelta(days=a.days - 1)
    query = f"start={start.isoformat()}&end={today.isoformat()}"
    try:
        print(f"map benchmark, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}: {_machine()}; work dir {work}",
              flush=True)
        stack.start_redis()
        stack.prepare(a)
        whole = stack.start_web_or_endpoints()
        wait_until_quiet(a.quiet_wait)
        load = MachineLoad()
        endpoints = bench_endpoints(stack, query, a.repeat)
        tb = endpoints.get("tickets.bin", {})
        if "warm_ms" in tb:
            figures.append(Figure("tickets.bin (a year), warm", round(tb["warm_ms"]), "ms",
                                  note=f"{tb['wire'] / 1024:,.0f} KiB on the wire"))
        print("  " + load.report(), flush=True)
        if not whole and not a.skip_browser:
            print("\n== 2./3. the page: NOT MEASURED, the product's web app does not boot (see above) ==")
        elif not a.skip_browser:
            stack.restart_web()  # the page meets cold worker caches, as after a deploy
            url = f"/map?layers=communes,tickets,cameras&{query}"
            wait_until_quiet(a.quiet_wait)
            load = MachineLoad()
            first, driver = bench_first_load(stack, url, a.runs, a.timeout)
            if first:
                figures += [Figure("/map first load bytes", round(first["bytes"]), "bytes", TARGETS["bytes"],
                                   note="median"),
                            Figure("/map interactive", round(first["interactive_s"], 2), "s",
                                   TARGETS["interactive_s"], note=f"median of {len(first['interactive_all'])}")]
            else:
                figures.append(Figure("/map interactive", None, "s", TARGETS["interactive_s"],
                                      note="layers never drawn"))
            print("  " + load.report(), flush=True)
            if driver is not None:
                load = MachineLoad()
                rounds = {"status filter": bench_filters(driver, a.runs, stack)}  # no commune selected yet
                print("  " + load.report(), flush=True)
                load = MachineLoad()
                rounds["range start"] = bench_dates(driver, max(2, a.runs - 1 if a.runs % 2 else a.runs), stack,
                                                    start, today)
                print("  " + load.report(), flush=True)
                load = MachineLoad()
                rounds["range end"] = bench_dates(driver, max(2, a.runs - 1 if a.runs % 2 else a.runs), stack,
                                                  start, today, end=True)
                print("  " + load.report(), flush=True)
                for what, r in rounds.items():
                    figures.append(Figure(f"/map {what} change p95", round(r["p95"]) if r else None, "ms",
                                          TARGETS["filter_ms"],
                                          note=f"median {r['median']:.0f} ms of {len(r['all'])}" if r
                                          else "not measured"))
                click = click_commune(driver)
                print("\n== 4. a click on a commune (after the filter changes: status all, the year to today) ==\n  ",
                      end="")
                print(f"click in a commune where no marker covers it: "
                      + (f"the side panel showed {click['head']!r} {click['ms']:.0f} ms after the click (URL "
                         f"{click['url'][:60]}…)"
                         + (f"; then fetched: {', '.join(click['fetched'])}" if click.get("fetched") else "")
                      if click["ok"] else f"NO EFFECT: {click['why']}"), flush=True)
                figures.append(Figure("/map commune click → side panel", round(click["ms"]) if click["ok"] else None,
                                      "ms", note="" if click["ok"] else click["why"][:120]))
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what was started", flush=True)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
        stack.stop()
        if a.keep:
            print(f"kept {work}  (again with --reuse {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)
    write_json(a.json, "map", figures, started=started,
               context={"tickets": a.tickets, "cameras": a.cameras, "runs": a.runs, "days": a.days})


if __name__ == "__main__":
    main()
