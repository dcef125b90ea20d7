"""Source 1: the 1022 hotline as an Open311 GeoReport v2 server (JSON only).

Base: ``/open311/v2``. See docs/simulator.md for the full contract.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator import vocab
from simulator.common import (
    DAY_S,
    HOUR_S,
    NEVER,
    VN_TZ,
    BadTime,
    day_start,
    iso_local,
    local_day,
    parse_time,
    rng_for,
)
from simulator.faults import Adapter, Draw
from simulator.http import PNG, ApiError, Ctx, faulted, int_param, json_response
from simulator.tables import DayStore

PREFIX = "/open311/v2"
MAX_PAGE_SIZE = 1000
MAX_SPAN_DAYS = 90
JURISDICTION = "dongthap.gov.vn"
PER_YEAR = 3500  # tickets a year at scale 1 (DOMAIN.md: 3,024 in 9 months of 2023 → ~4,000/yr; 2022 ~3,200/yr)
REFORM = int(datetime(2025, 7, 1, tzinfo=VN_TZ).timestamp())  # two-level government from this date
MERGE_2025 = int(datetime(2025, 3, 1, tzinfo=VN_TZ).timestamp())  # departments merged
HOUR_PROFILE = np.array([0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.6, 3.6, 6.0, 7.0, 7.0, 6.0,
                         3.4, 4.0, 6.4, 7.0, 6.4, 5.0, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5])
HOUR_PROFILE = HOUR_PROFILE / HOUR_PROFILE.sum()
WEEKDAY = np.array([1.25, 1.15, 1.1, 1.1, 1.05, 0.6, 0.35])
WEEKDAY = WEEKDAY / WEEKDAY.mean()

SERVICES = vocab.HOTLINE_SERVICES
CODES = [s[0] for s in SERVICES]
CAT_W = np.array([s[3] for s in SERVICES])
CAT_W = CAT_W / CAT_W.sum()
CH_NAMES = [c for c, _ in vocab.CHANNELS]
CH_W = np.array([w for _, w in vocab.CHANNELS])
CH_W = CH_W / CH_W.sum()
STATES = ["received", "assigned", "in_progress", "answered", "overdue", "reopened"]
NOTICE = "Thời hạn giải quyết: 15 ngày làm việc kể từ ngày tiếp nhận (không kể thứ Bảy, Chủ nhật, ngày lễ)."


def error_body(status: int, message: str):
    return [{"code": status, "description": message}]


class Hotline:
    name = "hotline"
    prefix = PREFIX

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.seed = ctx.cfg.seed
        self.scale = ctx.cfg.scale
        communes = ctx.geo.communes
        self.communes = communes
        w = np.array([2.0 if c.is_ward else 1.0 for c in communes])
        self.commune_w = w / w.sum()
        first = int(local_day(ctx.history_start))
        one = self._rows(rng_for(self.seed, "schema"), np.zeros(1, np.int64), np.zeros(1, np.int32),
                         np.ones(1, np.int32))
        self.store = DayStore(self._gen_day, first, "t_recv", one)
        self.posted_text: dict[str, dict] = {}
        self._index_version = -1
        self._id_index: dict[str, int] = {}
        self.store.ensure_time(ctx.now())

    # ------------------------------------------------------------------ generation
    def _gen_day(self, day: int) -> dict[str, np.ndarray]:
        rng = rng_for(self.seed, "hotline", day)
        weekday = (day + 3) % 7
        f = WEEKDAY[weekday]
        if weekday < 5 and not self.ctx.cal.is_workday(day):
            f *= 0.45  # public holiday
        doy = (day - 0) % 365.25
        f *= 1 + 0.12 * np.cos(2 * np.pi * (doy - 280) / 365.25)  # more in the flood season
        n = int(rng.poisson(PER_YEAR / 365.25 * self.scale * f))
        if n == 0:
            return {}
        hours = rng.choice(24, size=n, p=HOUR_PROFILE)
        secs = np.sort(hours * HOUR_S + rng.integers(0, HOUR_S, n))
        t = day_start(day) + secs
        return self._rows(rng, t.astype(np.int64), np.full(n, day, np.int32), np.arange(1, n + 1, dtype=np.int32))

    def _rows(self, rng, t: np.ndarray, day: np.ndarray, seq: np.ndarray) -> dict[str, np.ndarray]:
        n = len(t)
        cal = self.ctx.cal
        cat = rng.choice(len(CODES), size=n, p=CAT_W).astype(np.int8)
        channel = rng.choice(len(CH_NAMES), size=n, p=CH_W).astype(np.int8)
        commune = rng.choice(len(self.communes), size=n, p=self.commune_w).astype(np.int16)
        gps_ch = np.isin(channel, [CH_NAMES.index("app"), CH_NAMES.index("zalo"), CH_NAMES.index("web")])
        has_xy = rng.random(n) < np.where(gps_ch, 0.93, 0.72)
        pts = self.ctx.geo.points_for_communes(commune.astype(int), rng.integers(0, 1 << 30, n))
        new_form = (t >= REFORM) & (rng.random(n) < 0.65)
        level = rng.choice([1, 2, 3], size=n, p=[0.52, 0.41, 0.07]).astype(np.int8)
        local_agency = (level == 2) & (rng.random(n) < 0.55)
        media = (rng.random(n) < np.where(gps_ch, 0.3, 0.03))
        # lifecycle
        assign = np.where(level == 1, NEVER, t + (rng.lognormal(np.log(1.5 * HOUR_S), 0.8, n)).astype(np.int64))
        progress = np.where(level == 1, NEVER, assign + (rng.lognormal(np.log(8 * HOUR_S), 0.9, n)).astype(np.int64))
        wd = np.where(level == 2, rng.lognormal(np.log(2.0), 0.7, n), rng.lognormal(np.log(5.0), 0.55, n))
        stuck = rng.random(n) < 0.008
        wd = np.where(stuck, rng.uniform(17, 60, n), wd)
        answer_l23 = cal.add_float(t, wd)
        answer_l23 = np.maximum(answer_l23, np.where(progress >= NEVER, t, progress) + HOUR_S)
        answer = np.where(level == 1, t + rng.lognormal(np.log(40 * 60), 0.9, n).astype(np.int64), answer_l23)
        reopen_p = (level > 1) & (rng.random(n) < 0.02)
        reopen = np.where(reopen_p, answer + rng.uniform(1, 10, n).astype(np.int64) * DAY_S
                          + rng.integers(0, DAY_S // 2, n), NEVER)
        reanswer = np.where(reopen_p, cal.add_float(np.where(reopen_p, reopen, t), rng.lognormal(np.log(3), 0.5, n)),
                            NEVER)
        expected = cal.add(t, np.full(n, 15))
        return {
            "t_recv": t.astype(np.int64),
            "day": day.astype(np.int32),
            "seq": seq.astype(np.int32),
            "cat": cat,
            "channel": channel,
            "commune": commune,
            "has_xy": has_xy,
            "lon": pts[:, 0],
            "lat": pts[:, 1],
            "new_form": new_form,
            "ap": rng.integers(0, 1000, n).astype(np.int16),
            "house": rng.integers(1, 400, n).astype(np.int16),
            "tmpl": rng.integers(0, 1000, n).astype(np.int16),
            "word": rng.integers(0, 1000, n).astype(np.int16),
            "gender": (rng.random(n) < 0.55).astype(np.int8),
            "fam": rng.choice(len(vocab.FAMILY), size=n, p=np.array(vocab.FAMILY_W) / sum(vocab.FAMILY_W)).astype(np.int8),
            "mid": rng.integers(0, 10, n).astype(np.int8),
            "given": rng.integers(0, 24, n).astype(np.int8),
            "anon": rng.random(n) < 0.08,
            "phone": (rng.integers(0, len(vocab.PHONE_PREFIX), n) * 10_000_000 + rng.integers(0, 10_000_000, n)).astype(np.int64),
            "zip": rng.random(n) < 0.3,
            "level": level,
            "local": local_agency,
            "media": media,
            "answer_tmpl": rng.integers(0, len(vocab.ANSWER_TEMPLATES), n).astype(np.int8),
            "t_assign": assign.astype(np.int64),
            "t_progress": progress.astype(np.int64),
            "t_answer": answer.astype(np.int64),
            "t_reopen": reopen.astype(np.int64),
            "t_reanswer": reanswer.astype(np.int64),
            "t_expected": expected.astype(np.int64),
            "posted": np.zeros(n, bool),
        }

    # ------------------------------------------------------------------ state at a time
    def _state(self, idx: np.ndarray, now: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.store.cols
        t = c["t_recv"][idx]
        a, p, ans = c["t_assign"][idx], c["t_progress"][idx], c["t_answer"][idx]
        ro, ra, exp = c["t_reopen"][idx], c["t_reanswer"][idx], c["t_expected"][idx]
        state = np.zeros(len(idx), np.int8)  # received
        upd = t.copy()
        m = a <= now
        state[m] = 1
        upd[m] = a[m]
        m = p <= now
        state[m] = 2
        upd[m] = p[m]
        m = ans <= now
        state[m] = 3
        upd[m] = ans[m]
        m = ro <= now
        state[m] = 5
        upd[m] = ro[m]
        m = ra <= now
        state[m] = 3
        upd[m] = ra[m]
        over = (state <= 2) & (exp < now)
        state[over] = 4
        upd[over] = np.maximum(upd[over], exp[over])
        return state, upd

    def _ids(self, idx: np.ndarray) -> list[str]:
        c = self.store.cols
        days = c["day"][idx]
        seqs = c["seq"][idx].tolist()
        ymd = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist()
        return [f"PA{d[2:4]}{d[5:7]}{d[8:10]}{s:04d}" for d, s in zip(ymd, seqs)]

    def _index(self) -> dict[str, int]:
        if self._index_version != self.store.version:
            n = len(self.store)
            self._id_index = dict(zip(self._ids(np.arange(n)), range(n)))
            self._index_version = self.store.version
        return self._id_index

    # ------------------------------------------------------------------ rendering
    def render(self, idx: np.ndarray, now: int, private: bool, base: str) -> list[dict]:
        if len(idx) == 0:
            return []
        c = self.store.cols
        state, upd = self._state(idx, now)
        ids = self._ids(idx)
        out = []
        cols = {k: c[k][idx].tolist() for k in (
            "t_recv", "cat", "channel", "commune", "has_xy", "lon", "lat", "new_form", "ap", "house", "tmpl",
            "word", "gender", "fam", "mid", "given", "anon", "phone", "zip", "level", "local", "media",
            "answer_tmpl", "t_assign", "t_progress", "t_answer", "t_reopen", "t_reanswer", "t_expected", "posted")}
        st, up = state.tolist(), upd.tolist()
        for i, rid in enumerate(ids):
            r = {k: v[i] for k, v in cols.items()}
            out.append(self._one(rid, r, st[i], up[i], now, private, base))
        return out

    def _agency(self, r: dict, commune) -> str:
        code = CODES[r["cat"]]
        if r["level"] == 1:
            return "Tổng đài 1022 tỉnh Đồng Tháp"
        if r["local"]:
            if r["t_recv"] < REFORM:
                return f"UBND {commune.district.name}"
            return f"UBND {commune.name}"
        old, new = vocab.PROVINCE_AGENCY[code]
        return old if r["t_recv"] < MERGE_2025 else new

    def _address(self, r: dict, commune) -> str:
        ward = commune.is_ward
        if ward:
            place = f"Số {r['house']} {vocab.STREETS[r['word'] % len(vocab.STREETS)]}, " \
                    f"{vocab.KHOM_NAMES[r['ap'] % len(vocab.KHOM_NAMES)]}"
        else:
            place = vocab.AP_NAMES[r["ap"] % len(vocab.AP_NAMES)]
        if r["new_form"]:
            return f"{place}, {commune.name}, tỉnh Đồng Tháp"
        d = commune.district
        return f"{place}, {commune.lower_name}, {d.name}, tỉnh {d.province}"

    def _one(self, rid: str, r: dict, state: int, upd: int, now: int, private: bool, base: str) -> dict:
        commune = self.communes[r["commune"]]
        code = CODES[r["cat"]]
        svc = SERVICES[r["cat"]]
        agency = self._agency(r, commune)
        posted = self.posted_text.get(rid) if r["posted"] else None
        if posted and posted.get("description") is not None:
            desc = posted["description"]
        else:
            tmpls = svc[4]
            desc = tmpls[r["tmpl"] % len(tmpls)].format(
                ap=vocab.AP_NAMES[r["ap"] % len(vocab.AP_NAMES)],
                xa=commune.lower_name,
                duong=vocab.STREETS[r["word"] % len(vocab.STREETS)],
                landmark=vocab.LANDMARKS[r["word"] % len(vocab.LANDMARKS)],
                tthc=vocab.HOTLINE_TTHC_EXAMPLES[r["word"] % len(vocab.HOTLINE_TTHC_EXAMPLES)],
            )
        ch = CH_NAMES[r["channel"]]
        notes = [{"datetime": iso_local(r["t_recv"]), "type": "received",
                  "description": f"Tổng đài 1022 tiếp nhận phản ánh qua {vocab.CHANNEL_VI[ch]}."}]
        if r["t_assign"] <= now:
            notes.append({"datetime": iso_local(r["t_assign"]), "type": "assigned",
                          "description": f"Chuyển {agency} xem xét, xử lý."})
        if r["t_progress"] <= now:
            notes.append({"datetime": iso_local(r["t_progress"]), "type": "in_progress",
                          "description": f"{agency} đang xác minh, xử lý."})
        if r["level"] == 1:
            answer_text = "Tổng đài 1022 đã hướng dẫn, giải đáp trực tiếp cho người phản ánh."
        else:
            answer_text = vocab.ANSWER_TEMPLATES[r["answer_tmpl"]].format(agency=agency)
        if r["t_expected"] < now and (r["t_answer"] > r["t_expected"]):
            notes.append({"datetime": iso_local(r["t_expected"]), "type": "overdue",
                          "description": f"Quá hạn xử lý; Tổng đài 1022 đã nhắc {agency}."})
        if r["t_answer"] <= now:
            notes.append({"datetime": iso_local(r["t_answer"]), "type": "answered", "description": answer_text})
        if r["t_reopen"] <= now:
            notes.append({"datetime": iso_local(r["t_reopen"]), "type": "reopened",
                          "description": "Người phản ánh chưa thống nhất với kết quả trả lời, đề nghị xem xét lại."})
        if r["t_reanswer"] <= now:
            notes.append({"datetime": iso_local(r["t_reanswer"]), "type": "answered",
                          "description": f"{agency} đã xem xét lại và trả lời người phản ánh."})
        notes.sort(key=lambda x: x["datetime"])
        closed = state == 3
        ext = {
            "channel": ch,
            "workflow_state": STATES[state],
            "commune_code": commune.code,
            "commune_name": commune.name,
            "resolution_level": r["level"],
        }
        if private:
            if r["anon"]:
                ext["reporter_name"] = None
                ext["reporter_phone"] = None
            else:
                mids = vocab.MIDDLE_M if r["gender"] else vocab.MIDDLE_F
                givens = vocab.GIVEN_M if r["gender"] else vocab.GIVEN_F
                ext["reporter_name"] = f"{vocab.FAMILY[r['fam']]} {mids[r['mid'] % len(mids)]} {givens[r['given'] % len(givens)]}"
                p = r["phone"]
                ext["reporter_phone"] = f"{vocab.PHONE_PREFIX[p // 10_000_000]}{p % 10_000_000:07d}"
            if posted:
                for k in ("reporter_name", "reporter_phone"):
                    if posted.get(k):
                        ext[k] = posted[k]
        address = posted.get("address") if posted and posted.get("address") else self._address(r, commune)
        return {
            "service_request_id": rid,
            "status": "closed" if closed else "open",
            "status_notes": notes[-1]["description"],
            "service_name": svc[1],
            "service_code": code,
            "description": desc,
            "agency_responsible": agency,
            "service_notice": NOTICE,
            "requested_datetime": iso_local(r["t_recv"]),
            "updated_datetime": iso_local(upd),
            "expected_datetime": iso_local(r["t_expected"]),
            "address": address,
            "address_id": None,
            "zipcode": ("81000" if commune.district.province == "Đồng Tháp" else "84000") if r["zip"] else None,
            "lat": round(r["lat"], 6) if r["has_xy"] else None,
            "long": round(r["lon"], 6) if r["has_xy"] else None,
            "media_url": f"{base}{PREFIX}/media/{rid}.png" if r["media"] else None,
            "notes": notes,
            "extended_attributes": ext,
        }

    # ------------------------------------------------------------------ faults support
    def adapter(self) -> Adapter:
        return Adapter(
            id_field="service_request_id",
            time_fields=("requested_datetime", "updated_datetime", "expected_datetime"),
            nested_times=(("notes", "datetime"),),
            lat_field="lat",
            lon_field="long",
            text_fields=("description", "status_notes", "address"),
        )

    def _older(self, now: int, private: bool, base: str):
        def older(rec: dict) -> dict | None:
            i = self._index().get(rec.get("service_request_id"))
            if i is None:
                return None
            idx = np.array([i])
            _, upd = self._state(idx, now)
            as_of = int(upd[0]) - 1
            if as_of < int(self.store.cols["t_recv"][i]):
                return None
            return self.render(idx, as_of, private, base)[0]

        return older

    # ------------------------------------------------------------------ HTTP
    def _private(self, request: Request) -> bool:
        key = request.query_params.get("api_key") or request.headers.get("x-api-key")
        return bool(key) and hmac.compare_digest(key, self.ctx.cfg.hotline_api_key)

    @staticmethod
    def _check_jurisdiction(request: Request) -> None:
        j = request.query_params.get("jurisdiction_id")
        if j and j != JURISDICTION:
            raise ApiError(404, f"jurisdiction_id {j!r} not found (this server serves {JURISDICTION})")

    async def services(self, request: Request, d: Draw) -> Response:
        self._check_jurisdiction(request)
        return json_response([
            {"service_code": code, "service_name": name, "description": f"Phản ánh, kiến nghị về {name.lower()}",
             "metadata": False, "type": "realtime", "keywords": name.lower(), "group": group}
            for code, name, group, _, _ in SERVICES
        ])

    async def service_definition(self, request: Request, d: Draw) -> Response:
        code = request.path_params["code"]
        if code not in CODES:
            raise ApiError(404, f"service_code {code!r} not found")
        return json_response({"service_code": code, "attributes": []})

    def _window(self, request: Request, now: int) -> tuple[int, int]:
        q = request.query_params
        try:
            start = parse_time(q["start_date"]) if q.get("start_date") else None
            end = parse_time(q["end_date"]) if q.get("end_date") else None
        except BadTime as err:
            raise ApiError(400, f"{err}; use ISO-8601 with a time zone, e.g. 2025-03-14T00:00:00+07:00") from None
        span = MAX_SPAN_DAYS * DAY_S
        if start is None and end is None:
            end, start = now, now - span
        elif start is None:
            start = end - span
        elif end is None:
            end = start + span
        if end < start:
            raise ApiError(400, "end_date is before start_date")
        if end - start > span:
            raise ApiError(400, f"start_date..end_date spans more than {MAX_SPAN_DAYS} days")
        return start, end

    async def requests(self, request: Request, d: Draw) -> Response:
        self._check_jurisdiction(request)
        q = request.query_params
        now = self.ctx.now()
        self.store.ensure_time(now)
        c = self.store.cols
        base = str(request.base_url).rstrip("/")
        private = self._private(request)
        page_size = int_param(request, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = int_param(request, "page", 1, 1)
        t = c["t_recv"] if c else np.zeros(0, np.int64)
        visible_end = int(np.searchsorted(t, now, side="right"))
        ids_param = q.get("service_request_id")
        if ids_param:
            index = self._index()
            wanted = [x.strip() for x in ids_param.split(",") if x.strip()]
            rows = [index[x] for x in wanted if x in index and index[x] < visible_end]
            sel = np.array(rows, dtype=np.int64)
        else:
            start, end = self._window(request, now)
            lo = int(np.searchsorted(t, start, side="left"))
            hi = min(int(np.searchsorted(t, end, side="right")), visible_end)
            sel = np.arange(lo, max(lo, hi))
            codes = q.get("service_code")
            if codes:
                wanted = {x.strip() for x in codes.split(",") if x.strip()}
                unknown = wanted - set(CODES)
                if unknown:
                    raise ApiError(400, f"unknown service_code {sorted(unknown)}")
                cats = [CODES.index(x) for x in wanted]
                sel = sel[np.isin(c["cat"][sel], cats)]
            status = q.get("status")
            if status:
                wanted = {x.strip() for x in status.split(",") if x.strip()}
                if not wanted <= {"open", "closed"}:
                    raise ApiError(400, "status must be open, closed or both (comma separated)")
                if wanted != {"open", "closed"}:
                    st, _ = self._state(sel, now)
                    closed = st == 3
                    sel = sel[closed if wanted == {"closed"} else ~closed]
            sel = sel[::-1]  # newest first
        total = len(sel)
        offset = (page - 1) * page_size
        offset = self.ctx.faults.shift_offset(d, offset, page - 1)
        page_idx = sel[offset: offset + page_size]
        items = self.render(page_idx, now, private, base)
        if d:
            def before(k: int) -> list[dict]:
                return self.render(sel[max(0, offset - k): offset], now, private, base)

            items = self.ctx.faults.apply(d, items, self.adapter(), self.ctx.wall(), before,
                                          self._older(now, private, base))
        headers = {"X-Total-Count": str(total), "X-Page": str(page), "X-Page-Size": str(page_size)}
        return json_response(items, headers=headers)

    async def request_one(self, request: Request, d: Draw) -> Response:
        self._check_jurisdiction(request)
        rid = request.path_params["rid"]
        now = self.ctx.now()
        self.store.ensure_time(now)
        i = self._index().get(rid)
        if i is None or self.store.cols["t_recv"][i] > now:
            raise ApiError(404, f"service_request_id {rid!r} not found")
        base = str(request.base_url).rstrip("/")
        items = self.render(np.array([i]), now, self._private(request), base)
        if d:
            items = self.ctx.faults.apply(d, items, self.adapter(), self.ctx.wall())
        return json_response(items)

    async def create(self, request: Request, d: Draw) -> Response:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            try:
                form = dict(await request.json())
            except ValueError:
                raise ApiError(400, "body is not valid JSON") from None
        elif ctype.startswith("multipart/"):
            raise ApiError(415, "send application/x-www-form-urlencoded or JSON (media_url is a URL parameter)")
        else:
            from urllib.parse import parse_qsl

            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        for k, v in request.query_params.items():
            form.setdefault(k, v)
        key = str(form.get("api_key") or request.headers.get("x-api-key") or "")
        if not key or not hmac.compare_digest(key, self.ctx.cfg.hotline_api_key):
            raise ApiError(403, "api_key missing or invalid")
        code = str(form.get("service_code") or "")
        if code not in CODES:
            raise ApiError(400, f"service_code {code!r} not found; see services.json")
        lat, lon = form.get("lat"), form.get("long")
        address = form.get("address_string") or form.get("address")
        if (lat in (None, "") or lon in (None, "")) and not address and not form.get("address_id"):
            raise ApiError(400, "a location is required: lat & long, address_string or address_id")
        try:
            latf = float(lat) if lat not in (None, "") else None
            lonf = float(lon) if lon not in (None, "") else None
        except ValueError:
            raise ApiError(400, "lat and long must be numbers") from None
        desc = form.get("description")
        if desc is not None and len(str(desc)) > 4000:
            raise ApiError(400, "description longer than 4,000 characters")
        now = self.ctx.now()
        self.store.ensure_time(now)
        day = int(local_day(now))
        seq = 9000 + len(self.posted_text) + 1
        rng = rng_for(self.seed, "hotline-post", day, seq)
        rows = self._rows(rng, np.array([now], np.int64), np.array([day], np.int32), np.array([seq], np.int32))
        rows["cat"][:] = CODES.index(code)
        rows["posted"][:] = True
        rows["channel"][:] = CH_NAMES.index("app")
        rows["has_xy"][:] = latf is not None and lonf is not None
        if latf is not None and lonf is not None:
            rows["lat"][:] = latf
            rows["lon"][:] = lonf
        rid = self._ids_for(day, seq)
        name = " ".join(x for x in (form.get("last_name"), form.get("first_name")) if x) or None
        self.posted_text[rid] = {"description": desc, "address": address, "reporter_name": name,
                                 "reporter_phone": form.get("phone")}
        self.store.append(rows)
        return json_response([{"service_request_id": rid, "service_notice": NOTICE, "account_id": None}], 201)

    @staticmethod
    def _ids_for(day: int, seq: int) -> str:
        d = str(np.datetime64(day, "D"))
        return f"PA{d[2:4]}{d[5:7]}{d[8:10]}{seq:04d}"

    async def media(self, request: Request, d: Draw) -> Response:
        return Response(PNG, media_type="image/png")

    def routes(self) -> list[Route]:
        ctx = self.ctx
        w = lambda fn: faulted(ctx, self.name, error_body, fn)  # noqa: E731
        return [
            Route(f"{PREFIX}/services.json", w(self.services), methods=["GET"]),
            Route(f"{PREFIX}/services/{{code}}.json", w(self.service_definition), methods=["GET"]),
            Route(f"{PREFIX}/requests.json", w(self.requests), methods=["GET"]),
            Route(f"{PREFIX}/requests.json", w(self.create), methods=["POST"]),
            Route(f"{PREFIX}/requests/{{rid}}.json", w(self.request_one), methods=["GET"]),
            Route(f"{PREFIX}/media/{{rid}}.png", w(self.media), methods=["GET"]),
        ]

    def stats(self) -> dict:
        now = self.ctx.now()
        self.store.ensure_time(now)  # the clock may have moved past the days generated so far
        t = self.store.cols.get("t_recv", np.zeros(0))
        n = int(np.searchsorted(t, now, side="right"))
        st, _ = self._state(np.arange(n), now) if n else (np.zeros(0), None)
        return {"tickets": n, "open": int((st != 3).sum()), "overdue": int((st == 4).sum())}
