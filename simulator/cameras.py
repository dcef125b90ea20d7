"""Source 2: the camera registry (paged REST in the style of MediaMTX's list endpoints).

Base: ``/cameras/api/v1``. Status over time comes from outage intervals drawn per local day
(short outages, degraded and unknown spells) and per 30-day block (long outages), plus a
few cameras that flap every few minutes. ``updated_at`` is the last status change (or the
registration time) at or before now; ``last_seen`` is the last heartbeat.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator import vocab
from simulator.common import (
    DAY_S,
    NEVER,
    BadTime,
    iso_local_many,
    local_day,
    parse_time,
    rng_for,
)
from simulator.faults import Adapter, Draw
from simulator.http import PNG, ApiError, Ctx, faulted, int_param, json_response

PREFIX = "/cameras/api/v1"
MEDIA = "/cameras/media"
BASE_COUNT = 2565  # DOMAIN.md: Đồng Tháp rural security programme
MAX_ITEMS = 5000
DEFAULT_ITEMS = 100
STATUS = ["online", "offline", "degraded", "unknown"]
BLOCK_S = 30 * DAY_S
SHORT_MAX_DAYS = 7  # short outages, degraded and unknown spells last at most this long
LONG_MAX_S = 60 * DAY_S
LOOKBACK_DAYS = 120  # spells are searched this far back for the last change
RANK = np.array([0, 3, 2, 1])  # spell status (1 offline, 2 degraded, 3 unknown) → priority


def error_body(status: int, message: str):
    return {"error": message, "status": status}


class Cameras:
    name = "cameras"
    prefix = PREFIX

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.seed = ctx.cfg.seed
        n = max(1, int(round(BASE_COUNT * ctx.cfg.scale)))
        self.n = n
        rng = rng_for(self.seed, "cameras", n)
        communes = ctx.geo.communes
        w = np.array([1.6 if c.is_ward else 1.0 for c in communes])
        self.commune = rng.choice(len(communes), size=n, p=w / w.sum())
        order = np.argsort(self.commune, kind="stable")  # ids grouped by commune, like a real roll-out
        self.commune = self.commune[order]
        pts = ctx.geo.points_for_communes(self.commune, rng.integers(0, 1 << 30, n))
        self.lon, self.lat = pts[:, 0], pts[:, 1]
        self.no_xy = rng.random(n) < 0.005
        self.owner_kind = rng.choice(5, size=n, p=[0.62, 0.12, 0.08, 0.15, 0.03])
        vms_w = np.array([w for _, w in vocab.VMS_TYPES])
        self.vms = rng.choice(len(vocab.VMS_TYPES), size=n, p=vms_w / vms_w.sum())
        self.place = rng.integers(0, len(vocab.CAMERA_PLACES), n)
        self.ap = rng.integers(0, len(vocab.AP_NAMES), n)
        self.fps_nominal = rng.choice([15, 20, 25, 30], size=n, p=[0.2, 0.2, 0.45, 0.15])
        self.flaky = np.where(rng.random(n) < 0.1, 3.0, 1.0)  # some cameras fail more often
        start = ctx.history_start
        now0 = ctx.now()
        # registered over the years; about 4% within the last 90 days
        age = np.where(rng.random(n) < 0.04, rng.uniform(1, 90, n), rng.uniform(90, 6 * 365, n)) * DAY_S
        self.created = (now0 - age).astype(np.int64)
        self.created = np.minimum(self.created, now0 - 3600)
        self.created = np.maximum(self.created, start - 6 * 365 * DAY_S)
        k = min(ctx.cfg.flapping_cameras, n)
        self.flappers = rng.choice(n, size=k, replace=False) if k else np.zeros(0, int)
        self.flap_period = rng.integers(120, 420, k)  # seconds between flips
        self.flap_phase = rng.integers(0, 10_000, k)
        self.ip = rng.integers(0, 1 << 16, n)
        self.secret = rng.integers(0, 1 << 31, n)
        self.ids = [f"CAM-{i + 1:06d}" for i in range(n)]
        self.id_index = {x: i for i, x in enumerate(self.ids)}
        self._view_cache: dict[int, dict] = {}

    # ------------------------------------------------------------------ status model
    @lru_cache(maxsize=256)
    def _day_events(self, day: int) -> tuple[np.ndarray, ...]:
        """Spells starting on local day ``day``: (camera, start, end, status) arrays."""
        rng = rng_for(self.seed, "cam-day", day, self.n)
        t0 = day * DAY_S - 7 * 3600
        out_c, out_s, out_e, out_k = [], [], [], []
        for status, rate, median_h, sigma in ((1, 0.10, 2.0, 1.4), (2, 0.02, 3.0, 1.0), (3, 0.008, 4.0, 1.0)):
            p = np.minimum(rate * self.flaky, 0.9) if status == 1 else np.full(self.n, rate)
            cams = np.nonzero(rng.random(self.n) < p)[0]
            starts = t0 + rng.integers(0, DAY_S, len(cams))
            dur = np.minimum(rng.lognormal(np.log(median_h * 3600), sigma, len(cams)), SHORT_MAX_DAYS * DAY_S)
            out_c.append(cams)
            out_s.append(starts)
            out_e.append(starts + dur.astype(np.int64))
            out_k.append(np.full(len(cams), status))
        return tuple(np.concatenate(x).astype(np.int64) for x in (out_c, out_s, out_e, out_k))

    @lru_cache(maxsize=64)
    def _block_events(self, block: int) -> tuple[np.ndarray, ...]:
        """Long outages (days to weeks) starting in 30-day block ``block``."""
        rng = rng_for(self.seed, "cam-block", block, self.n)
        cams = np.nonzero(rng.random(self.n) < 0.03)[0]
        starts = block * BLOCK_S + rng.integers(0, BLOCK_S, len(cams))
        dur = rng.uniform(5 * DAY_S, LONG_MAX_S, len(cams)).astype(np.int64)
        return cams.astype(np.int64), starts.astype(np.int64), starts + dur, np.ones(len(cams), np.int64)

    @lru_cache(maxsize=2)
    def _events(self, today: int) -> tuple[np.ndarray, ...]:
        """All spells that start within the look-back window ending on local day ``today``."""
        lists = [self._day_events(dd) for dd in range(today - LOOKBACK_DAYS, today + 1)]
        b_hi = (today + 1) * DAY_S // BLOCK_S
        b_lo = (today - LOOKBACK_DAYS) * DAY_S // BLOCK_S - LONG_MAX_S // BLOCK_S - 1
        lists += [self._block_events(bb) for bb in range(b_lo, b_hi + 1)]
        cams, s, e, k = (np.concatenate([x[j] for x in lists]) for j in range(4))
        keep = s >= self.created[cams]
        return cams[keep], s[keep], e[keep], RANK[k[keep]]

    def view(self, now: int) -> dict:
        """Status, last change, last seen and fps of every camera at ``now``."""
        hit = self._view_cache.get(now)
        if hit is not None:
            return hit
        n = self.n
        prio = np.zeros(n, np.int64)  # 0 online; offline 3 > degraded 2 > unknown 1
        since = np.full(n, NEVER, np.int64)  # start of the current spell
        last_change = self.created.copy()
        cams, s, e, r = self._events(int(local_day(now)))
        m = s <= now
        cams, s, e, r = cams[m], s[m], e[m], r[m]
        active = e > now
        # last change: the latest start or (past) end at or before now
        np.maximum.at(last_change, cams, np.where(active, s, e))
        ac, asr, ar = cams[active], s[active], r[active]
        np.maximum.at(prio, ac, ar)
        win = ar == prio[ac]
        np.minimum.at(since, ac[win], asr[win])
        since[since == NEVER] = -1
        status = np.zeros(n, np.int64)
        status[prio == 3] = 1
        status[prio == 2] = 2
        status[prio == 1] = 3
        if len(self.flappers):
            per = self.flap_period
            phase_t = now + self.flap_phase
            slot = phase_t // per
            off = (slot % 2) == 1
            status[self.flappers] = np.where(off, 1, 0)
            flip_at = slot * per - self.flap_phase
            last_change[self.flappers] = np.maximum(flip_at, self.created[self.flappers])
            since[self.flappers] = np.where(off, flip_at, -1)
        heartbeat = (now // 30) * 30
        last_seen = np.where(status == 1, np.maximum(since, self.created), np.where(status == 3, since, heartbeat))
        fps = np.where(status == 0, self.fps_nominal, np.where(status == 2, np.maximum(1, self.fps_nominal // 5), 0))
        visible = self.created <= now
        v = {"status": status, "updated": last_change, "last_seen": last_seen, "fps": fps, "visible": visible}
        if len(self._view_cache) > 32:
            self._view_cache.clear()
        self._view_cache[now] = v
        return v

    # ------------------------------------------------------------------ rendering
    def _owner(self, i: int) -> str:
        c = self.ctx.geo.communes[self.commune[i]]
        kind = self.owner_kind[i]
        if kind == 0:
            return f"Công an {c.name.lower().split(' ', 1)[0]} {c.short}"
        if kind == 1:
            return "Công an tỉnh Đồng Tháp"
        if kind == 2:
            return "Sở Giao thông vận tải"
        if kind == 3:
            return f"UBND {c.name}"
        return "Trung tâm Chuyển đổi số tỉnh Đồng Tháp"

    def render(self, idx: np.ndarray, now: int, base: str, secret: bool) -> list[dict]:
        v = self.view(now)
        comm = self.ctx.geo.communes
        upd = iso_local_many(v["updated"][idx])
        seen = iso_local_many(v["last_seen"][idx])
        out = []
        for j, i in enumerate(idx.tolist()):
            c = comm[self.commune[i]]
            cid = self.ids[i]
            st = int(v["status"][i])
            vms = vocab.VMS_TYPES[self.vms[i]][0]
            place = vocab.CAMERA_PLACES[self.place[i]]
            if self.owner_kind[i] in (1, 2):
                name = f"Camera giao thông {place} {c.short}"
            else:
                area = vocab.KHOM_NAMES[self.ap[i] % len(vocab.KHOM_NAMES)] if c.is_ward else vocab.AP_NAMES[self.ap[i]]
                name = f"Camera an ninh {place} {area}, {c.name}"
            if c.is_ward:
                address = (f"{vocab.STREETS[self.ap[i] % len(vocab.STREETS)]}, "
                           f"{vocab.KHOM_NAMES[self.ap[i] % len(vocab.KHOM_NAMES)]}, {c.name}, tỉnh Đồng Tháp")
            else:
                address = f"{vocab.AP_NAMES[self.ap[i]]}, {c.name}, tỉnh Đồng Tháp"
            ref = {"hikcentral": f"hik:{(self.secret[i] * 2654435761) % (1 << 32):08x}",
                   "zoneminder": f"zm:monitor/{i + 1}",
                   "mediamtx": f"mtx:dt/{c.code}/{cid.lower()}",
                   "dahua-dss": f"dss:1000{i + 1:06d}$1$0$0",
                   "milestone": f"ms:{(self.secret[i] * 40503) % (1 << 31):x}"}[vms]
            reason = {0: None, 1: "Mất kết nối", 2: "Tốc độ khung hình thấp", 3: "VMS không phản hồi"}[st]
            if st == 1 and i in self._flapper_set():
                reason = "Kết nối chập chờn"
            item = {
                "id": cid,
                "name": name,
                "lat": None if self.no_xy[i] else float(self.lat[i]),
                "lon": None if self.no_xy[i] else float(self.lon[i]),
                "address": address,
                "commune_code": c.code,
                "commune_name": c.name,
                "owner_agency": self._owner(i),
                "vms_type": vms,
                "vms_ref": ref,
                "hls_url": f"{base}{MEDIA}/{cid}/index.m3u8",
                "snapshot_url": f"{base}{MEDIA}/{cid}/snapshot.png",
                "status": STATUS[st],
                "status_reason": reason,
                "last_seen": seen[j],
                "fps": int(v["fps"][i]),
                "updated_at": upd[j],
            }
            if secret:
                a, b = divmod(int(self.ip[i]), 256)
                item["rtsp_url"] = (f"rtsp://ioc:Cam{int(self.secret[i]):x}@10.82.{a}.{b}:554/"
                                    f"Streaming/Channels/101")
            out.append(item)
        return out

    @lru_cache(maxsize=1)
    def _flapper_set(self) -> frozenset:
        return frozenset(int(x) for x in self.flappers)

    def adapter(self) -> Adapter:
        return Adapter(id_field="id", time_fields=("updated_at", "last_seen"), lat_field="lat", lon_field="lon",
                       text_fields=("name", "address"))

    # ------------------------------------------------------------------ HTTP
    def _secret(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if not auth:
            return False
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.ctx.cfg.cameras_token):
            raise ApiError(401, "invalid bearer token", {"WWW-Authenticate": 'Bearer realm="cameras"'})
        return True

    def _select(self, request: Request, now: int) -> np.ndarray:
        v = self.view(now)
        mask = v["visible"].copy()
        q = request.query_params
        if q.get("updated_since"):
            try:
                since = parse_time(q["updated_since"])
            except BadTime as err:
                raise ApiError(400, str(err)) from None
            mask &= v["updated"] >= since
        if q.get("status"):
            wanted = [s.strip() for s in q["status"].split(",")]
            bad = [s for s in wanted if s not in STATUS]
            if bad:
                raise ApiError(400, f"unknown status {bad}; one of {STATUS}")
            mask &= np.isin(v["status"], [STATUS.index(s) for s in wanted])
        if q.get("commune_code"):
            codes = {c.code: c.idx for c in self.ctx.geo.communes}
            wanted = [codes.get(x.strip(), -1) for x in q["commune_code"].split(",")]
            mask &= np.isin(self.commune, wanted)
        return np.nonzero(mask)[0]

    async def list(self, request: Request, d: Draw) -> Response:
        now = self.ctx.now()
        secret = self._secret(request)
        page = int_param(request, "page", 0, 0)
        per = int_param(request, "itemsPerPage", DEFAULT_ITEMS, 1, MAX_ITEMS)
        sel = self._select(request, now)
        total = len(sel)
        offset = self.ctx.faults.shift_offset(d, page * per, page)
        idx = sel[offset: offset + per]
        base = str(request.base_url).rstrip("/")
        items = self.render(idx, now, base, secret)
        if d:
            def before(k: int) -> list[dict]:
                return self.render(sel[max(0, offset - k): offset], now, base, secret)

            def older(rec: dict) -> dict | None:
                i = self.id_index.get(rec.get("id"))
                if i is None:
                    return None
                as_of = int(self.view(now)["updated"][i]) - 1
                if as_of < self.created[i]:
                    return None
                return self.render(np.array([i]), as_of, base, secret)[0]

            items = self.ctx.faults.apply(d, items, self.adapter(), self.ctx.wall(), before, older)
        body = {"itemCount": total, "pageCount": (total + per - 1) // per, "items": items}
        raw = orjson.dumps(body)
        etag = 'W/"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'
        inm = request.headers.get("if-none-match")
        if inm and etag in [x.strip() for x in inm.split(",")] or inm == "*":
            return Response(status_code=304, headers={"ETag": etag})
        return Response(raw, media_type="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})

    async def one(self, request: Request, d: Draw) -> Response:
        now = self.ctx.now()
        secret = self._secret(request)
        i = self.id_index.get(request.path_params["cid"])
        if i is None or self.created[i] > now:
            raise ApiError(404, f"camera {request.path_params['cid']!r} not found")
        base = str(request.base_url).rstrip("/")
        item = self.render(np.array([i]), now, base, secret)[0]
        if d:
            item = self.ctx.faults.apply(d, [item], self.adapter(), self.ctx.wall())[0]
        return json_response(item)

    async def snapshot(self, request: Request, d: Draw) -> Response:
        i = self.id_index.get(request.path_params["cid"])
        if i is None:
            raise ApiError(404, "camera not found")
        if self.view(self.ctx.now())["status"][i] == 1:
            raise ApiError(503, "camera offline")
        return Response(PNG, media_type="image/png")

    async def hls(self, request: Request, d: Draw) -> Response:
        i = self.id_index.get(request.path_params["cid"])
        if i is None:
            raise ApiError(404, "camera not found")
        # A valid but empty live playlist: the simulator carries no video.
        body = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        return Response(body, media_type="application/vnd.apple.mpegurl")

    def routes(self) -> list[Route]:
        w = lambda fn: faulted(self.ctx, self.name, error_body, fn)  # noqa: E731
        return [
            Route(f"{PREFIX}/cameras", w(self.list), methods=["GET"]),
            Route(f"{PREFIX}/cameras/{{cid}}", w(self.one), methods=["GET"]),
            Route(f"{MEDIA}/{{cid}}/snapshot.png", w(self.snapshot), methods=["GET"]),
            Route(f"{MEDIA}/{{cid}}/index.m3u8", w(self.hls), methods=["GET"]),
        ]

    def stats(self) -> dict:
        v = self.view(self.ctx.now())
        vis = v["visible"]
        st = v["status"][vis]
        return {"cameras": int(vis.sum()), **{s: int((st == i).sum()) for i, s in enumerate(STATUS)}}
