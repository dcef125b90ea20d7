"""Source 4: administrative procedures — a dossier feed with the national portal's sync fields
(QĐ 766 indicators are computed from them) and the procedure catalogue.

Base: ``/procedures/api/v1``. See docs/simulator.md for every field.
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
    iso_local_many,
    local_day,
    parse_time,
    rng_for,
)
from simulator.faults import Adapter, Draw
from simulator.http import ApiError, Ctx, faulted, int_param, json_response
from simulator.tables import DayStore

PREFIX = "/procedures/api/v1"
PER_YEAR = 50_000  # dossiers a year at scale 1
MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1000
N_PROCEDURES = 1605  # DOMAIN.md: 763 fully online = 47.54%, 214 partly online = 13.33%
N_FULL, N_PART = 763, 214
REFORM = int(datetime(2025, 7, 1, tzinfo=VN_TZ).timestamp())
MERGE_2025 = int(datetime(2025, 3, 1, tzinfo=VN_TZ).timestamp())
PROVINCE_CODE = "H20"
SUFFIXES = ["", " có yếu tố nước ngoài", " đối với tổ chức", " đối với cá nhân", " (liên thông)",
            " tại cơ quan cấp tỉnh", " trong trường hợp bị mất, hỏng"]
# sector code → (agency before 2025-03-01, agency after)
SECTOR_AGENCY = {
    "HT": ("Sở Tư pháp", "Sở Tư pháp"), "CT": ("Sở Tư pháp", "Sở Tư pháp"),
    "DD": ("Văn phòng Đăng ký đất đai tỉnh", "Văn phòng Đăng ký đất đai tỉnh"),
    "KD": ("Sở Kế hoạch và Đầu tư", "Sở Tài chính"), "TP": ("Sở Tư pháp", "Sở Tư pháp"),
    "XD": ("Sở Xây dựng", "Sở Xây dựng"), "GT": ("Sở Giao thông vận tải", "Sở Xây dựng"),
    "LD": ("Sở Lao động - Thương binh và Xã hội", "Sở Nội vụ"),
    "BTXH": ("Sở Lao động - Thương binh và Xã hội", "Sở Y tế"), "YT": ("Sở Y tế", "Sở Y tế"),
    "GD": ("Sở Giáo dục và Đào tạo", "Sở Giáo dục và Đào tạo"),
    "NN": ("Sở Nông nghiệp và Phát triển nông thôn", "Sở Nông nghiệp và Môi trường"),
    "MT": ("Sở Tài nguyên và Môi trường", "Sở Nông nghiệp và Môi trường"),
    "CA": ("Công an tỉnh Đồng Tháp", "Công an tỉnh Đồng Tháp"),
}
# legal processing time (working days) by sector: choices and weights
SECTOR_DAYS = {
    "HT": ([0.5, 1, 3, 5, 10], [0.45, 0.2, 0.2, 0.1, 0.05]), "CT": ([0.5, 1, 2], [0.8, 0.15, 0.05]),
    "DD": ([3, 5, 10, 15, 20, 30], [0.1, 0.15, 0.35, 0.2, 0.1, 0.1]), "KD": ([3, 5], [0.8, 0.2]),
    "TP": ([10, 15], [0.8, 0.2]), "XD": ([7, 15, 20], [0.3, 0.5, 0.2]), "GT": ([3, 5, 10], [0.5, 0.3, 0.2]),
    "LD": ([5, 10, 20], [0.3, 0.5, 0.2]), "BTXH": ([5, 7, 10, 20], [0.2, 0.3, 0.3, 0.2]),
    "YT": ([10, 20, 30], [0.3, 0.4, 0.3]), "GD": ([1, 3, 5], [0.4, 0.3, 0.3]), "NN": ([3, 5, 10], [0.4, 0.3, 0.3]),
    "MT": ([15, 20, 30], [0.3, 0.4, 0.3]), "CA": ([3, 7], [0.6, 0.4]),
}
# Processing outcome (docs/simulator.md § Figures the data aims at). Provinces publish ~96.8 %
# of dossiers on time (Quảng Trị 7/2025: 19.35 of 20 points on QĐ 766 indicator 2.1): a dossier
# is late with LATE_BASE, or LATE_HOTSPOT when its agency is one of the few slow ones drawn per
# seed (LATE_DEPARTMENTS provincial departments, LATE_COMMUNES commune People's Committees), so
# the wall's lowest agencies and communes stand out from a province that does well. More than
# one supplement request counts as late too (SUPPLEMENTS).
LATE_BASE = 0.014
LATE_HOTSPOT = 0.10
LATE_DEPARTMENTS = 2
LATE_COMMUNES = 5
SUPPLEMENTS = [0.90, 0.093, 0.005, 0.002]  # 0, 1, 2, 3 requests
# Digital-service shares: no published figure per indicator, so they are set for the part of
# the QĐ 766 score a dossier feed supports to land within the published 77–86 / 100.
E_RESULT = 0.75  # electronic result (4.1)
PAID_ONLINE = 0.65  # of fee-bearing dossiers submitted online (3.6)
DIGITISED = 0.60  # (4.2)
REUSED = 0.30  # digitised data re-used (4.3)
FIELDS = ["MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "MaCoQuan", "TenCoQuan", "commune_code",
          "KenhThucHien", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "TrangThaiHoSo",
          "so_lan_yeu_cau_bo_sung", "thoi_gian_cho_bo_sung", "thanh_toan_truc_tuyen", "co_ket_qua_dien_tu",
          "da_so_hoa", "tai_su_dung_du_lieu", "danh_gia_hai_long", "co_khieu_nai", "updated_at"]
EVENT_COLS = ["t_recv", "t_proc", "t_s1", "t_r1", "t_s2", "t_r2", "t_s3", "t_r3", "t_finish", "t_return",
              "t_end", "t_rate", "t_compl"]


def error_body(status: int, message: str):
    return {"error": {"code": status, "message": message}}


class Procedures:
    name = "procedures"
    prefix = PREFIX

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.seed = ctx.cfg.seed
        self.scale = ctx.cfg.scale
        self._catalogue()
        self._agencies()
        cw = np.array([1.8 if c.is_ward else 1.0 for c in ctx.geo.communes])
        self.commune_w = cw / cw.sum()
        self.store = DayStore(self._gen_day, int(local_day(ctx.history_start)), "t_recv",
                              self._gen_day(20_000, force_n=1))
        self._ids_version = -1
        self._view_cache: dict[tuple, np.ndarray] = {}
        self.store.ensure_time(ctx.now())
        self._refresh_ids()

    # ------------------------------------------------------------------ catalogue
    def _catalogue(self) -> None:
        rng = rng_for(self.seed, "procedures-catalogue")
        names, sectors = [], []
        for si, (_code, _name, _level, _w, objects) in enumerate(vocab.SECTORS):
            for suffix in SUFFIXES:
                for action in vocab.ACTIONS:
                    for obj in objects:
                        text = f"{action}{obj}{suffix}".strip()
                        names.append(text[0].upper() + text[1:])
                        sectors.append(si)
        # the first of each sector (plain action, plain object) are the busy ones: keep the order
        # of generation (suffix-major) and take the first N_PROCEDURES
        names, sectors = names[:N_PROCEDURES], np.array(sectors[:N_PROCEDURES])
        n = len(names)
        self.p_name = np.array(names, dtype=object)
        self.p_sector = sectors
        sec_level = np.array([s[2] for s in vocab.SECTORS])[sectors]
        # some commune-level sectors are handled by the district before the 2025 reform
        self.p_level = np.where((sec_level == "xa") & (rng.random(n) < 0.25), "huyen", sec_level)
        codes = rng.choice(np.arange(1000, 999_999), size=n, replace=False)
        prefix = np.where(self.p_level == "tinh", "1", "2")
        self.p_code = np.array([f"{p}.{c:06d}" for p, c in zip(prefix.tolist(), codes.tolist())], dtype=object)
        # popularity: Zipf within sector, sectors weighted as in vocab.SECTORS
        rank_in_sector = np.zeros(n)
        for si in range(len(vocab.SECTORS)):
            m = sectors == si
            rank_in_sector[m] = np.arange(1, m.sum() + 1)
        sec_w = np.array([s[3] for s in vocab.SECTORS])[sectors]
        pop = sec_w * rank_in_sector ** -1.6
        self.p_weight = pop / pop.sum()
        # online level: the busiest get full online service first
        order = np.argsort(-pop + rng.random(n) * 1e-12)
        online = np.zeros(n, np.int8)  # 0 none, 1 mot_phan, 2 toan_trinh
        # busy procedures mostly full online; keep exact totals 763 / 214
        busy = order[:400]
        rest = order[400:]
        full_busy = busy[rng.random(len(busy)) < 0.85]
        online[full_busy] = 2
        remaining_full = N_FULL - len(full_busy)
        pool = np.setdiff1d(np.arange(n), full_busy)
        pool = rng.permutation(pool)
        online[pool[:remaining_full]] = 2
        online[pool[remaining_full:remaining_full + N_PART]] = 1
        del rest
        self.p_online = online
        self.p_fee = rng.random(n) < 0.45
        self.p_days = np.zeros(n)
        for si, sec in enumerate(vocab.SECTORS):
            msk = sectors == si
            ch, w = SECTOR_DAYS[sec[0]]
            self.p_days[msk] = rng.choice(ch, size=int(msk.sum()), p=np.array(w) / sum(w))

    def _agencies(self) -> None:
        communes = self.ctx.geo.communes
        from simulator.geo import DISTRICTS

        self.ag_code: list[str] = []
        self.ag_name: list[str] = []
        self.ag_sector_old, self.ag_sector_new = {}, {}
        sectors = sorted({v for pair in SECTOR_AGENCY.values() for v in pair})
        for k, nm in enumerate(sectors):
            self.ag_code.append(f"000.00.{10 + k:02d}.{PROVINCE_CODE}")
            self.ag_name.append(nm)
        by_name = {nm: i for i, nm in enumerate(self.ag_name)}
        for code, (old, new) in SECTOR_AGENCY.items():
            self.ag_sector_old[code] = by_name[old]
            self.ag_sector_new[code] = by_name[new]
        self.ag_district = {}
        for k, dist in enumerate(DISTRICTS):
            self.ag_district[dist.key] = len(self.ag_code)
            self.ag_code.append(f"000.{40 + k:02d}.00.{PROVINCE_CODE}")
            self.ag_name.append(f"UBND {dist.name} ({dist.province} cũ)")
        self.ag_commune0 = len(self.ag_code)
        dist_k = {d.key: k for k, d in enumerate(DISTRICTS)}
        for c in communes:
            self.ag_code.append(f"{c.idx + 1:03d}.{40 + dist_k[c.district.key]:02d}.00.{PROVINCE_CODE}")
            self.ag_name.append(f"UBND {c.name}")
        self.ag_code_arr = np.array(self.ag_code, dtype=object)
        self.ag_name_arr = np.array(self.ag_name, dtype=object)
        sec_codes = [s[0] for s in vocab.SECTORS]
        self.sec_old = np.array([self.ag_sector_old[c] for c in sec_codes])
        self.sec_new = np.array([self.ag_sector_new[c] for c in sec_codes])
        self.commune_district_ag = np.array([self.ag_district[c.district.key] for c in communes])
        rng = rng_for(self.seed, "procedures-late-agencies")
        departments = sorted(set(self.sec_new.tolist()))
        slow = list(rng.choice(departments, LATE_DEPARTMENTS, replace=False))
        slow += [self.ag_commune0 + int(k) for k in rng.choice(len(communes), LATE_COMMUNES, replace=False)]
        self.late_p = np.full(len(self.ag_code), LATE_BASE)
        self.late_p[slow] = LATE_HOTSPOT

    def catalogue_items(self) -> list[dict]:
        if getattr(self, "_catalogue_cache", None) is None:
            self._catalogue_cache = self._catalogue_items()
        return self._catalogue_cache

    def _catalogue_items(self) -> list[dict]:
        sec = vocab.SECTORS
        lv = {0: None, 1: "mot_phan", 2: "toan_trinh"}
        cap = {"tinh": "Cấp tỉnh", "huyen": "Cấp huyện (đến 30/6/2025), nay cấp xã", "xa": "Cấp xã"}
        return [
            {"MaTTHC": self.p_code[i], "TenTTHC": self.p_name[i], "MaLinhVuc": sec[self.p_sector[i]][0],
             "TenLinhVuc": sec[self.p_sector[i]][1], "CapThucHien": cap[self.p_level[i]],
             "muc_do_truc_tuyen": lv[int(self.p_online[i])], "co_phi": bool(self.p_fee[i]),
             "thoi_han_giai_quyet_ngay": float(self.p_days[i])}
            for i in range(len(self.p_code))
        ]

    # ------------------------------------------------------------------ dossiers
    def _gen_day(self, day: int, force_n: int | None = None) -> dict[str, np.ndarray]:
        rng = rng_for(self.seed, "procedures", day)
        cal = self.ctx.cal
        weekday = (day + 3) % 7
        work = bool(cal.is_workday(day))
        if work:
            lam = PER_YEAR / 250 * self.scale * (1.08 if weekday == 0 else 1.0)
        elif weekday == 5:
            lam = PER_YEAR / 250 * self.scale * 0.05  # Saturday-morning one-stop desks
        else:
            lam = 0.0
        n = int(rng.poisson(lam)) if force_n is None else force_n
        if n == 0:
            return {}
        morning = rng.random(n) < 0.6 if work else np.ones(n, bool)
        secs = np.where(morning, rng.integers(int(7.5 * HOUR_S), int(11.5 * HOUR_S), n),
                        rng.integers(int(13.5 * HOUR_S), 17 * HOUR_S, n))
        t = np.sort(day_start(day) + secs).astype(np.int64)
        proc = rng.choice(len(self.p_code), size=n, p=self.p_weight)
        commune = rng.choice(len(self.ctx.geo.communes), size=n, p=self.commune_w)
        online = self.p_online[proc]
        u = rng.random(n)
        p_online = np.where(online == 2, 0.96, np.where(online == 1, 0.86, 0.0))
        channel = np.where(u < p_online, 2, np.where(u < p_online + (1 - p_online) * 0.9, 1,
                                                     np.where(u < p_online + (1 - p_online) * 0.96, 3, 0)))
        level = self.p_level[proc]
        sector = self.p_sector[proc]
        ag = np.where(t < MERGE_2025, self.sec_old[sector], self.sec_new[sector])
        ag = np.where(level == "xa", self.ag_commune0 + commune, ag)
        ag = np.where(level == "huyen", np.where(t < REFORM, self.commune_district_ag[commune],
                                                 self.ag_commune0 + commune), ag)
        P = self.p_days[proc]
        deadline = cal.add_float(t, P)
        n_supp = rng.choice(4, size=n, p=SUPPLEMENTS)
        waits = rng.lognormal(np.log(40 * HOUR_S), 1.0, (n, 3)).astype(np.int64)
        outcome = rng.random(n)
        late = outcome >= 1.0 - self.late_p[ag]  # early (2/3), just in time, or late
        frac = np.where(outcome < 0.66, rng.uniform(0.15, 0.9, n), np.where(~late, 0.97, 1.0 + rng.uniform(0.2, 1.0, n)))
        late_extra = np.where(late, np.maximum(1, np.round(P * (frac - 1))), 0)
        work_days = np.where(late, P + late_extra, P * np.minimum(frac, 1.0))
        t_proc = t + rng.integers(5 * 60, 4 * HOUR_S, n)
        total_wait = np.zeros(n, np.int64)
        ts = np.full((n, 3), NEVER, np.int64)
        tr = np.full((n, 3), NEVER, np.int64)
        for i in range(3):
            has = n_supp > i
            at = cal.add_float(t, work_days * (i + 1) / (n_supp + 1)) + total_wait
            at = np.maximum(at, t_proc + 60)
            ts[:, i] = np.where(has, at, NEVER)
            tr[:, i] = np.where(has, at + waits[:, i], NEVER)
            total_wait += np.where(has, waits[:, i], 0)
        if_finish = cal.add_float(t, work_days)
        same_day = P < 1
        if_finish = np.where(same_day & ~late, t + (P * frac * 8 * HOUR_S).astype(np.int64), if_finish)
        t_finish = np.maximum(if_finish + total_wait, t_proc + 60)
        t_finish = np.maximum(t_finish, np.where(n_supp > 0, tr.max(axis=1, where=tr < NEVER, initial=0) + 60, 0))
        e_result = rng.random(n) < E_RESULT
        t_return = t_finish + np.where(e_result, rng.integers(60, 2 * HOUR_S, n),
                                       rng.integers(HOUR_S, 3 * DAY_S, n))
        end = rng.random(n)
        ended = end < 0.009  # withdrawn (7) or stopped (8)
        end_status = np.where(end < 0.006, 7, 8)
        t_end = np.where(ended, cal.add_float(t, P * rng.uniform(0.1, 0.8, n)) + HOUR_S, NEVER)
        t_end = np.maximum(t_end, np.where(ended, t_proc + 60, 0))
        t_finish = np.where(ended, NEVER, t_finish)
        t_return = np.where(ended, NEVER, t_return)
        rated = (~ended) & (rng.random(n) < 0.45)
        rating = rng.choice([5, 4, 3, 2, 1], size=n, p=[0.70, 0.20, 0.06, 0.02, 0.02])
        t_rate = np.where(rated, t_return + rng.integers(10 * 60, 3 * DAY_S, n), NEVER)
        compl = (~ended) & (rng.random(n) < 0.004)
        t_compl = np.where(compl, t_return + rng.integers(HOUR_S, 10 * DAY_S, n), NEVER)
        paid = self.p_fee[proc] & (channel == 2) & (rng.random(n) < PAID_ONLINE)
        return {
            "t_recv": t, "day": np.full(n, day, np.int32), "seq": np.arange(1, n + 1, dtype=np.int32),
            "proc": proc.astype(np.int16), "commune": commune.astype(np.int16), "agency": ag.astype(np.int16),
            "channel": channel.astype(np.int8), "deadline": deadline.astype(np.int64),
            "t_proc": t_proc.astype(np.int64),
            "t_s1": ts[:, 0], "t_r1": tr[:, 0], "t_s2": ts[:, 1], "t_r2": tr[:, 1], "t_s3": ts[:, 2], "t_r3": tr[:, 2],
            "t_finish": t_finish.astype(np.int64), "t_return": t_return.astype(np.int64),
            "t_end": t_end.astype(np.int64), "end_status": end_status.astype(np.int8),
            "t_rate": t_rate.astype(np.int64), "rating": rating.astype(np.int8),
            "t_compl": t_compl.astype(np.int64),
            "paid": paid, "e_result": e_result, "digitised": rng.random(n) < DIGITISED,
            "reused": rng.random(n) < REUSED,
        }

    def _ids(self, idx: np.ndarray) -> list[str]:
        c = self.store.cols
        ag = self.ag_code_arr[c["agency"][idx]].tolist()
        days = np.datetime_as_string(c["day"][idx].astype("datetime64[D]"), unit="D").tolist()
        seqs = c["seq"][idx].tolist()
        return [f"{a}-{d[2:4]}{d[5:7]}{d[8:10]}-{s:04d}" for a, d, s in zip(ag, days, seqs)]

    def _refresh_ids(self) -> None:
        if self._ids_version == self.store.version:
            return
        n = len(self.store)
        ids = np.array(self._ids(np.arange(n)), dtype=object)
        order = np.argsort(ids.astype(str), kind="stable")
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)
        self.id_rank = rank
        self.id_index = {x: i for i, x in enumerate(ids.tolist())}
        self._ids_version = self.store.version
        self._view_cache.clear()

    def state(self, idx: np.ndarray, now: int) -> dict[str, np.ndarray]:
        c = self.store.cols
        g = {k: c[k][idx] for k in EVENT_COLS}
        status = np.full(len(idx), 2, np.int8)
        status[g["t_proc"] <= now] = 4
        n_supp = np.zeros(len(idx), np.int8)
        wait = np.zeros(len(idx), np.int64)
        for i in (1, 2, 3):
            s, r = g[f"t_s{i}"], g[f"t_r{i}"]
            asked = s <= now
            n_supp += asked
            # a wait is recorded when the supplement arrives (an event that bumps updated_at);
            # a running wait would change the record without changing updated_at
            wait += np.where(r <= now, r - s, 0)
            status[asked & (r > now)] = 5
        status[g["t_finish"] <= now] = 9
        status[g["t_return"] <= now] = 10
        ended = g["t_end"] <= now
        status[ended] = c["end_status"][idx][ended]
        upd = np.zeros(len(idx), np.int64)
        for k in EVENT_COLS:
            v = g[k]
            upd = np.where((v <= now) & (v > upd), v, upd)
        return {"status": status, "n_supp": n_supp, "wait": wait, "updated": upd}

    def _view(self, now: int, since: int | None, until: int | None) -> np.ndarray:
        """Row indices of visible dossiers updated in [since, until], by (updated_at, MaHoSo)."""
        self._refresh_ids()
        key = (now, since, until, self.store.version)
        hit = self._view_cache.get(key)
        if hit is not None:
            return hit
        t = self.store.cols["t_recv"]
        n_vis = int(np.searchsorted(t, now, side="right"))
        idx = np.arange(n_vis)
        upd = self.state(idx, now)["updated"]
        m = np.ones(n_vis, bool)
        if since is not None:
            m &= upd >= since
        if until is not None:
            m &= upd <= until
        idx = idx[m]
        order = np.lexsort((self.id_rank[idx], upd[m]))
        res = idx[order]
        if len(self._view_cache) > 16:
            self._view_cache.clear()
        self._view_cache[key] = res
        return res

    def render(self, idx: np.ndarray, now: int) -> list[dict]:
        if len(idx) == 0:
            return []
        c = self.store.cols
        st = self.state(idx, now)
        proc = c["proc"][idx]
        sec = self.p_sector[proc]
        sectors = vocab.SECTORS
        finished = c["t_finish"][idx]
        done = (finished <= now) & (st["status"] >= 9)
        channel = c["channel"][idx].tolist()
        rated = c["t_rate"][idx] <= now
        rating = np.where(rated, c["rating"][idx], 0).tolist()
        cols = [
            self._ids(idx),
            self.p_code[proc].tolist(),
            self.p_name[proc].tolist(),
            [sectors[s][0] for s in sec.tolist()],
            [sectors[s][1] for s in sec.tolist()],
            self.ag_code_arr[c["agency"][idx]].tolist(),
            self.ag_name_arr[c["agency"][idx]].tolist(),
            [self.ctx.geo.communes[k].code for k in c["commune"][idx].tolist()],
            [x if x else None for x in channel],
            iso_local_many(c["t_recv"][idx]),
            iso_local_many(c["deadline"][idx]),
            iso_local_many(np.where(done, finished, NEVER)),
            st["status"].tolist(),
            st["n_supp"].tolist(),
            np.round(st["wait"] / 3600, 1).tolist(),
            c["paid"][idx].tolist(),
            (c["e_result"][idx] & done).tolist(),
            c["digitised"][idx].tolist(),
            c["reused"][idx].tolist(),
            [r if r else None for r in rating],
            (c["t_compl"][idx] <= now).tolist(),
            iso_local_many(st["updated"]),
        ]
        return [dict(zip(FIELDS, vals)) for vals in zip(*cols)]

    def adapter(self) -> Adapter:
        def wrong_unit(rec: dict) -> bool:
            # waiting time reported in minutes instead of hours
            if rec.get("thoi_gian_cho_bo_sung"):
                rec["thoi_gian_cho_bo_sung"] = round(rec["thoi_gian_cho_bo_sung"] * 60, 1)
                return True
            return False

        return Adapter(id_field="MaHoSo", time_fields=("NgayTiepNhan", "updated_at", "NgayHenTra", "NgayKetThucXuLy"),
                       text_fields=("TenTTHC", "TenCoQuan"), wrong_unit=wrong_unit)

    # ------------------------------------------------------------------ HTTP
    def _auth(self, request: Request) -> None:
        key = self.ctx.cfg.procedures_api_key
        if not key:
            return
        got = request.headers.get("x-api-key") or request.query_params.get("api_key") or ""
        if not got or not hmac.compare_digest(got, key):
            raise ApiError(401, "X-API-Key missing or invalid")

    async def dossiers(self, request: Request, d: Draw) -> Response:
        self._auth(request)
        q = request.query_params
        now = self.ctx.now()
        self.store.ensure_time(now)
        try:
            since = parse_time(q["updated_since"]) if q.get("updated_since") else None
            until = parse_time(q["updated_until"]) if q.get("updated_until") else None
        except BadTime as err:
            raise ApiError(400, f"{err}; use ISO-8601, e.g. 2025-03-14T08:00:00+07:00") from None
        page = int_param(request, "page", 1, 1)
        size = int_param(request, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        sel = self._view(now, since, until)
        if q.get("MaTTHC"):
            codes = set(q["MaTTHC"].split(","))
            pmask = np.array([c in codes for c in self.p_code.tolist()])
            sel = sel[pmask[self.store.cols["proc"][sel]]]
        if q.get("commune_code"):
            cm = {c.code: c.idx for c in self.ctx.geo.communes}
            wanted = [cm.get(x.strip(), -1) for x in q["commune_code"].split(",")]
            sel = sel[np.isin(self.store.cols["commune"][sel], wanted)]
        total = len(sel)
        offset = self.ctx.faults.shift_offset(d, (page - 1) * size, page - 1)
        idx = sel[offset: offset + size]
        items = self.render(idx, now)
        if d:
            def before(k: int) -> list[dict]:
                return self.render(sel[max(0, offset - k): offset], now)

            def older(rec: dict) -> dict | None:
                i = self.id_index.get(rec.get("MaHoSo"))
                if i is None:
                    return None
                upd = int(self.state(np.array([i]), now)["updated"][0])
                if upd - 1 < self.store.cols["t_recv"][i]:
                    return None
                return self.render(np.array([i]), upd - 1)[0]

            items = self.ctx.faults.apply(d, items, self.adapter(), self.ctx.wall(), before, older)
        return json_response({"total": total, "page": page, "page_size": size,
                              "as_of": iso_local_many(np.array([now]))[0], "items": items})

    async def dossier_one(self, request: Request, d: Draw) -> Response:
        self._auth(request)
        now = self.ctx.now()
        self.store.ensure_time(now)
        self._refresh_ids()
        i = self.id_index.get(request.path_params["code"])
        if i is None or self.store.cols["t_recv"][i] > now:
            raise ApiError(404, f"dossier {request.path_params['code']!r} not found")
        items = self.render(np.array([i]), now)
        if d:  # data faults as on the list: the first record is the answer
            items = self.ctx.faults.apply(d, items, self.adapter(), self.ctx.wall())
        return json_response(items[0])

    async def procedures(self, request: Request, d: Draw) -> Response:
        self._auth(request)
        items = self.catalogue_items()
        q = request.query_params
        if q.get("MaLinhVuc"):
            items = [x for x in items if x["MaLinhVuc"] == q["MaLinhVuc"]]
        page = int_param(request, "page", 1, 1)
        size = int_param(request, "page_size", 2000, 1, MAX_PAGE_SIZE)
        total = len(items)
        items = items[(page - 1) * size: page * size]
        if d:
            items = self.ctx.faults.apply(d, items, Adapter(id_field="MaTTHC", text_fields=("TenTTHC",)),
                                          self.ctx.wall())
        return json_response({"total": total, "page": page, "page_size": size, "items": items})

    async def procedure_one(self, request: Request, d: Draw) -> Response:
        self._auth(request)
        code = request.path_params["code"]
        for x in self.catalogue_items():
            if x["MaTTHC"] == code:
                return json_response(x)
        raise ApiError(404, f"procedure {code!r} not found")

    def routes(self) -> list[Route]:
        w = lambda fn: faulted(self.ctx, self.name, error_body, fn)  # noqa: E731
        return [
            Route(f"{PREFIX}/dossiers", w(self.dossiers), methods=["GET"]),
            Route(f"{PREFIX}/dossiers/{{code}}", w(self.dossier_one), methods=["GET"]),
            Route(f"{PREFIX}/procedures", w(self.procedures), methods=["GET"]),
            Route(f"{PREFIX}/procedures/{{code}}", w(self.procedure_one), methods=["GET"]),
        ]

    def stats(self) -> dict:
        now = self.ctx.now()
        self.store.ensure_time(now)  # the clock may have moved past the days generated so far
        t = self.store.cols.get("t_recv", np.zeros(0))
        n = int(np.searchsorted(t, now, side="right"))
        return {"dossiers": n, "procedures": len(self.p_code)}
