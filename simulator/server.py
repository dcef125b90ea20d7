"""One ASGI app serving the four simulated upstreams plus a control API.

    /open311/v2/...        hotline 1022 (Open311 GeoReport v2)
    /cameras/api/v1/...    camera registry
    /sta/v1.1/...          environment (OGC SensorThings API v1.1)
    /procedures/api/v1/... dossier feed and procedure catalogue
    /_control/...          clock, faults, info, records (for tests, demos and drills)
"""

from __future__ import annotations

import time
from datetime import datetime

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.cameras import Cameras
from simulator.clock import SimClock
from simulator.common import (
    DAY_S,
    HOUR_S,
    BadTime,
    iso_local,
    iso_utc,
    parse_time,
    work_calendar,
)
from simulator.config import SOURCES, SimConfig
from simulator.faults import FaultEngine, FaultError
from simulator.geo import ProvinceGeo
from simulator.hotline import Hotline
from simulator.http import Ctx, json_response
from simulator.procedures import Procedures
from simulator.sta import Sta

PATHS = {
    "hotline": "/open311/v2",
    "cameras": "/cameras/api/v1",
    "environment": "/sta/v1.1",
    "procedures": "/procedures/api/v1",
}


def _frozen_at(cfg: SimConfig) -> float | None:
    if not cfg.frozen and cfg.frozen_at is None:
        return None
    v = cfg.frozen_at
    if v is None:
        return float((int(time.time()) // HOUR_S) * HOUR_S - 2 * DAY_S)
    if isinstance(v, datetime):
        return v.timestamp()
    if isinstance(v, (int, float)):
        return float(v)
    return float(parse_time(str(v)))


class Simulator:
    """Owns the clock, the fault engine and the four sources."""

    def __init__(self, cfg: SimConfig):
        t0 = time.perf_counter()
        self.cfg = cfg
        clock = SimClock(cfg.speed, cfg.replay_hours, _frozen_at(cfg))
        now = clock.now()
        history_start = int(now - cfg.history_days * DAY_S)
        faults = FaultEngine(cfg.seed)
        faults.add_many(cfg.faults)
        geo = ProvinceGeo(cfg.geo_dir, cfg.seed)
        self.ctx = Ctx(cfg, clock, work_calendar(), geo, faults, history_start)
        self.hotline = Hotline(self.ctx)
        self.cameras = Cameras(self.ctx)
        self.environment = Sta(self.ctx)
        self.procedures = Procedures(self.ctx)
        self.sources = {"hotline": self.hotline, "cameras": self.cameras, "environment": self.environment,
                        "procedures": self.procedures}
        self.build_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------ control API
    async def health(self, request: Request) -> Response:
        return json_response({"ok": True, "now": iso_local(self.ctx.now())})

    async def info(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        c = self.cfg
        return json_response({
            "seed": c.seed, "scale": c.scale, "speed": c.speed, "history_days": c.history_days,
            "history_start": iso_local(self.ctx.history_start), "now": iso_local(self.ctx.now()),
            "clock": self.ctx.clock.describe(), "geo_source": self.ctx.geo.source,
            "urls": {k: base + v for k, v in PATHS.items()},
            "stats": {k: s.stats() for k, s in self.sources.items()},
            "build_seconds": round(self.build_seconds, 3),
        })

    async def clock(self, request: Request) -> Response:
        clk = self.ctx.clock
        if request.method == "POST":
            try:
                body = orjson.loads(await request.body() or b"{}")
            except orjson.JSONDecodeError:
                return json_response({"error": "body must be JSON"}, 400)
            try:
                if "freeze" in body:
                    clk.freeze(bool(body["freeze"]))
                if "set" in body:
                    clk.set(parse_time(str(body["set"])))
                if "advance_hours" in body:
                    clk.advance(float(body["advance_hours"]))
            except (BadTime, ValueError, TypeError) as err:
                return json_response({"error": str(err)}, 400)
        now = clk.now()
        return json_response({"now": iso_local(now), "now_utc": iso_utc(now), "epoch": now, **clk.describe(),
                              "history_start": iso_local(self.ctx.history_start)})

    async def faults(self, request: Request) -> Response:
        engine = self.ctx.faults
        if request.method == "GET":
            return json_response(engine.report())
        if request.method == "DELETE":
            source = request.query_params.get("source")
            engine.clear(source, keep_log=request.query_params.get("keep_log") in ("1", "true"))
            return json_response(engine.report())
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return json_response({"error": "body must be JSON"}, 400)
        specs = body if isinstance(body, list) else [body]
        added = []
        try:
            for spec in specs:
                spec = dict(spec)
                source = spec.pop("source", None)
                if not source:
                    raise FaultError("each fault needs a source: " + ", ".join(SOURCES) + " or all")
                added += [f.describe() for f in engine.add(source, spec)]
        except FaultError as err:
            return json_response({"error": str(err)}, 400)
        return json_response({"added": added, **engine.report()})

    async def records(self, request: Request) -> Response:
        """The records served now, fault-free (simulator/truth.py): for drills and tests."""
        from simulator import truth

        source = request.query_params.get("source", "")
        if source not in truth.SOURCES:
            return json_response({"error": f"source must be one of {', '.join(truth.SOURCES)}"}, 400)
        return json_response({"source": source, "now": iso_local(self.ctx.now()),
                              "records": truth.records(self, source)})

    def routes(self) -> list[Route]:
        routes = [
            Route("/_control/health", self.health, methods=["GET"]),
            Route("/_control/info", self.info, methods=["GET"]),
            Route("/_control/clock", self.clock, methods=["GET", "POST"]),
            Route("/_control/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route("/_control/records", self.records, methods=["GET"]),
            Route("/", self.info, methods=["GET"]),
        ]
        for s in self.sources.values():
            routes += s.routes()
        return routes


def build_app(config: SimConfig | None = None) -> Starlette:
    sim = Simulator(config or SimConfig())
    app = Starlette(routes=sim.routes())
    app.state.sim = sim
    return app


def base_urls(host: str, port: int) -> dict[str, str]:
    root = f"http://{host}:{port}"
    return {k: root + v for k, v in PATHS.items()}


def serve(host: str = "127.0.0.1", port: int = 8060, seed: int = 1, speed: float = 1.0, scale: float = 1.0,
          history_days: float = 365, faults: dict | list | None = None, **kwargs) -> None:
    """Build the data and serve it with uvicorn until interrupted (blocks)."""
    import uvicorn

    cfg = SimConfig(seed=seed, speed=speed, scale=scale, history_days=history_days, faults=faults, **kwargs)
    app = build_app(cfg)
    urls = base_urls(host, port)
    print("simulator: " + "  ".join(f"{k}={v}" for k, v in urls.items()) + f"  control=http://{host}:{port}/_control",
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
