"""HTTP plumbing shared by the sources: JSON responses, parameters, the fault wrapper."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from simulator.clock import SimClock
from simulator.common import WorkCalendar
from simulator.config import SimConfig
from simulator.faults import Draw, FaultEngine
from simulator.geo import ProvinceGeo


class JSON(Response):
    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(content, status: int = 200, headers: dict | None = None) -> Response:
    return JSON(content, status_code=status, headers=headers)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def int_param(request: Request, name: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, f"parameter {name} must be an integer, got {raw!r}") from None
    if v < lo or (hi is not None and v > hi):
        raise ApiError(400, f"parameter {name} must be within {lo}..{hi if hi is not None else '∞'}, got {v}")
    return v


@dataclass
class Ctx:
    """What every source shares: configuration, clock, calendar, geography, faults."""

    cfg: SimConfig
    clock: SimClock
    cal: WorkCalendar
    geo: ProvinceGeo
    faults: FaultEngine
    history_start: int  # epoch seconds; data exists from here on

    def now(self) -> int:
        return self.clock.now()

    @staticmethod
    def wall() -> float:
        return time.time()


Handler = Callable[[Request, Draw], Awaitable[Response]]


def faulted(ctx: Ctx, source: str, error_body: Callable[[int, str], object], fn: Handler):
    """Wrap an endpoint: draw this request's faults, apply transport faults around it, and map
    ApiError to the source's own error format."""

    async def endpoint(request: Request) -> Response:
        d = ctx.faults.draw(source, request.url.path)
        path = request.url.path
        f = d.get("latency")
        if f is not None:
            ms = float(f.params.get("ms", 500)) + f.rng.uniform(0, float(f.params.get("jitter_ms", 0) or 0))
            ctx.faults.record(source, "latency", path, ms=round(ms))
            await asyncio.sleep(ms / 1000)
        f = d.get("timeout")
        if f is not None:
            secs = float(f.params.get("seconds", 30))
            ctx.faults.record(source, "timeout", path, seconds=secs)
            await asyncio.sleep(secs)
            return json_response(error_body(504, "upstream timed out"), 504)
        f = d.get("error")
        if f is not None:
            status = int(f.params.get("status", 500))
            headers = {}
            if status in (429, 503):
                headers["Retry-After"] = str(int(f.params.get("retry_after", 5)))
            ctx.faults.record(source, "error", path, status=status)
            msg = {429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "Internal Server Error")
            return json_response(error_body(status, f"{msg} (simulated)"), status, headers)
        try:
            resp = await fn(request, d)
        except ApiError as err:
            resp = json_response(error_body(err.status, err.message), err.status, err.headers)
        f = d.get("truncated")
        if f is not None and resp.status_code == 200 and resp.body:
            frac = float(f.params.get("fraction", 0.5))
            body = resp.body[: max(1, int(len(resp.body) * frac))]
            ctx.faults.record(source, "truncated", path, bytes=len(body), of=len(resp.body))
            resp = _replace_body(resp, body)
        f = d.get("malformed")
        if f is not None and resp.status_code == 200 and resp.body:
            b = resp.body
            cut = len(b) // 3
            body = b[:cut] + b"\x00,,}{'NaN': undefined" + b[cut:]
            ctx.faults.record(source, "malformed", path)
            resp = _replace_body(resp, body)
        return resp

    return endpoint


def _replace_body(resp: Response, body: bytes) -> Response:
    headers = {k: v for k, v in resp.headers.items() if k.lower() not in ("content-length", "etag")}
    return Response(body, status_code=resp.status_code, headers=headers, media_type=resp.media_type)


def make_png(width: int = 64, height: int = 36, grey: int = 96) -> bytes:
    """A small valid grey PNG, for snapshot and media URLs."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = make_png()
