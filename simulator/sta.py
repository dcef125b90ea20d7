"""Source 3 (protocol side): an OGC SensorThings API v1.1 read-only service at ``/sta/v1.1``.

Entity sets: Things, Locations, HistoricalLocations, Datastreams, Sensors, ObservedProperties,
Observations, FeaturesOfInterest. Observations are computed on demand (simulator.environment).
Query options: $filter, $orderby, $top (max 10,000, default 100), $skip, $count, $select,
$expand (nested, with options), navigation paths and ``@iot.nextLink`` paging.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.common import DAY_S, HOUR_S, iso_utc, iso_utc_many
from simulator.environment import (
    COUNT_OBS,
    ID_MUL,
    KINDS,
    MEASUREMENT,
    PARAMS,
    SENSORS,
    EnvModel,
    obs_id,
    split_id,
)
from simulator.faults import Adapter, Draw
from simulator.http import ApiError, Ctx, faulted, json_response
from simulator.odata import (
    Options,
    QueryError,
    TimeLit,
    conjuncts,
    evaluate,
    parse_options,
)

ROOT = "/sta/v1.1"
MAX_TOP = 10_000
DEFAULT_TOP = 100
SETS = ["Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors", "ObservedProperties",
        "Observations", "FeaturesOfInterest"]
NAV = {
    "Things": {"Locations": ("Locations", True), "HistoricalLocations": ("HistoricalLocations", True),
               "Datastreams": ("Datastreams", True)},
    "Locations": {"Things": ("Things", True), "HistoricalLocations": ("HistoricalLocations", True)},
    "HistoricalLocations": {"Thing": ("Things", False), "Locations": ("Locations", True)},
    "Datastreams": {"Thing": ("Things", False), "Sensor": ("Sensors", False),
                    "ObservedProperty": ("ObservedProperties", False), "Observations": ("Observations", True)},
    "Sensors": {"Datastreams": ("Datastreams", True)},
    "ObservedProperties": {"Datastreams": ("Datastreams", True)},
    "Observations": {"Datastream": ("Datastreams", False), "FeatureOfInterest": ("FeaturesOfInterest", False)},
    "FeaturesOfInterest": {"Observations": ("Observations", True)},
}
TIME_PROPS = {"phenomenonTime", "resultTime", "time"}
SEGMENT = re.compile(r"^([A-Za-z$][A-Za-z0-9_]*)(?:\((.+)\))?$")
KIND_VI = {"air": "Quan trắc không khí tự động", "water_auto": "Quan trắc nước mặt tự động",
           "water_periodic": "Quan trắc nước mặt định kỳ", "water_iot": "Trạm IoT mực nước - độ mặn",
           "insect_trap": "Bẫy đèn dự báo sâu rầy"}


def error_body(status: int, message: str):
    return {"code": status, "type": "error", "message": message}


@dataclass
class Ent:
    set: str
    id: int
    props: dict
    rel: dict  # nav name → id or list of ids (static relations)


@dataclass
class Coll:
    set: str
    ids: list[int] | None = None  # static sets: None = all
    ds: np.ndarray | None = None  # Observations: datastream indices (None = all)
    link: str = ""  # path of this collection (for nextLinks of expansions)


@dataclass
class ObsRef:
    ds: int
    hour: int


class Sta:
    name = "environment"
    prefix = ROOT

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.m = EnvModel(ctx.geo, ctx.cfg.seed, ctx.history_start)
        self._build()

    # ------------------------------------------------------------------ static entities
    def _build(self) -> None:
        m = self.m
        E: dict[str, dict[int, Ent]] = {s: {} for s in SETS if s != "Observations"}
        commissioned = iso_utc(self.ctx.history_start - 400 * DAY_S)
        for s in m.stations:
            ds_ids = [int(i) + 1 for i in m.ds_of_station[s.id - 1]]
            c = s.commune
            props = {"station_code": s.code, "station_type": s.kind, "station_type_name": KIND_VI[s.kind],
                     "commune_code": c.code, "commune_name": c.name,
                     "old_district": f"{c.district.name}, tỉnh {c.district.province}",
                     "operator": "Chi cục Trồng trọt và Bảo vệ thực vật" if s.kind == "insect_trap"
                     else "Trung tâm Quan trắc Tài nguyên và Môi trường, Sở Nông nghiệp và Môi trường",
                     "monitoring": "periodic" if s.kind == "water_periodic" else "automatic"}
            if s.river:
                props["waterbody"] = s.river
            E["Things"][s.id] = Ent("Things", s.id, {
                "name": s.name, "description": f"{KIND_VI[s.kind]} ({s.code}), {c.name}, tỉnh Đồng Tháp",
                "properties": props}, {"Locations": [s.id], "HistoricalLocations": [s.id], "Datastreams": ds_ids})
            point = {"type": "Point", "coordinates": [round(s.lon, 6), round(s.lat, 6)]}
            E["Locations"][s.id] = Ent("Locations", s.id, {
                "name": f"Vị trí {s.code}", "description": f"{s.name}, {c.name}, tỉnh Đồng Tháp",
                "encodingType": "application/geo+json", "location": point},
                {"Things": [s.id], "HistoricalLocations": [s.id]})
            E["HistoricalLocations"][s.id] = Ent("HistoricalLocations", s.id, {"time": commissioned},
                                                 {"Thing": s.id, "Locations": [s.id]})
            E["FeaturesOfInterest"][s.id] = Ent("FeaturesOfInterest", s.id, {
                "name": s.name, "description": f"Điểm quan trắc {s.code}",
                "encodingType": "application/geo+json", "feature": point}, {})
        for k, (name, desc) in enumerate(SENSORS):
            kinds = [kd for kd, v in KINDS.items() if v[0] == k]
            ds = [int(i) + 1 for i in range(m.n_ds) if m.st_kind[m.ds_station[i]] in kinds]
            E["Sensors"][k + 1] = Ent("Sensors", k + 1, {
                "name": name, "description": desc, "encodingType": "text/plain",
                "metadata": f"urn:dongthap:sensor:{k + 1}"}, {"Datastreams": ds})
        for k, p in enumerate(PARAMS):
            ds = [int(i) + 1 for i in np.nonzero(m.ds_param == k)[0]]
            E["ObservedProperties"][k + 1] = Ent("ObservedProperties", k + 1, {
                "name": p.name, "definition": p.definition, "description": p.description}, {"Datastreams": ds})
        for i in range(m.n_ds):
            s = m.stations[m.ds_station[i]]
            p = PARAMS[m.ds_param[i]]
            sensor = KINDS[s.kind][0] + 1
            E["Datastreams"][i + 1] = Ent("Datastreams", i + 1, {
                "name": f"{p.name} - {s.code}",
                "description": f"{p.description} tại {s.name}",
                "observationType": COUNT_OBS if p.key == "BPH" else MEASUREMENT,
                "unitOfMeasurement": dict(p.unit),
                "observedArea": {"type": "Point", "coordinates": [round(s.lon, 6), round(s.lat, 6)]},
                "properties": {"station_code": s.code, "parameter": p.key, "interval_hours": int(m.ds_step[i]),
                               "publication_delay_seconds": int(m.ds_lag[i])},
            }, {"Thing": s.id, "Sensor": sensor, "ObservedProperty": int(m.ds_param[i]) + 1})
        self.E = E

    def _ds_times(self, i: int, now: int) -> tuple[str | None, str | None]:
        m = self.m
        step = int(m.ds_step[i])
        first = m.series(i, m.h_min, m.h_min + step * 3 + 300, now)
        h_now = now // HOUR_S
        last = m.series(i, h_now - step * 3 - 300, h_now, now)
        if len(first) == 0 or len(last) == 0:
            return None, None
        return iso_utc(int(first[0]) * HOUR_S), iso_utc(int(last[-1]) * HOUR_S)

    def props(self, e: Ent, now: int) -> dict:
        if e.set != "Datastreams":
            return e.props
        out = dict(e.props)
        a, b = self._ds_times(e.id - 1, now)
        if a:
            out["phenomenonTime"] = f"{a}/{b}"
            out["resultTime"] = f"{a}/{b}"
        return out

    # ------------------------------------------------------------------ paths
    def resolve(self, path: str):
        segs = [s for s in path.split("/") if s]
        if not segs:
            return ("root",)
        cur = None
        link = ""
        for j, seg in enumerate(segs):
            if seg in ("$value", "$ref"):
                if seg == "$ref":
                    raise ApiError(400, "$ref is not supported by this server")
                if cur is None or cur[0] != "prop":
                    raise ApiError(400, "$value must follow a property")
                cur = ("value", cur[1], cur[2])
                continue
            mt = SEGMENT.match(seg)
            if not mt:
                raise ApiError(404, f"no such path segment {seg!r}")
            name, key = mt.group(1), mt.group(2)
            kid = None
            if key is not None:
                try:
                    kid = int(key)
                except ValueError:
                    raise ApiError(404, f"no entity with id {key}") from None
            link = f"{link}/{seg}"
            if cur is None:
                if name not in SETS:
                    raise ApiError(404, f"no entity set {name!r}")
                cur = ("coll", Coll(name, ds=None, link=link)) if kid is None else ("ent", self.get(name, kid))
                continue
            if cur[0] == "ent":
                ent = cur[1]
                eset = ent.set if isinstance(ent, Ent) else "Observations"
                if name in NAV[eset]:
                    target, many = NAV[eset][name]
                    if many:
                        coll = self.related(ent, name, link)
                        if kid is None:
                            cur = ("coll", coll)
                        else:
                            cur = ("ent", self.member(coll, kid))
                    else:
                        if kid is not None:
                            raise ApiError(400, f"{name} is a single entity; no id expected")
                        cur = ("ent", self.related_one(ent, name))
                    continue
                if kid is None and j == len(segs) - 1 or (j == len(segs) - 2 and segs[-1] == "$value"):
                    cur = ("prop", ent, name)
                    continue
                raise ApiError(404, f"{eset} has no property or navigation {name!r}")
            raise ApiError(400, f"cannot navigate from a collection to {name!r}: give an id first")
        return cur

    def get(self, set_name: str, kid: int):
        if set_name == "Observations":
            ds, hour = split_id(kid)
            m = self.m
            if not (0 <= ds < m.n_ds):
                raise ApiError(404, f"no Observation with id {kid}")
            now = self.ctx.now()
            if not (len(m.grid(ds, hour, hour)) and m.visible(ds, np.array([hour]), now)[0]) \
                    or hour > m.last_visible_hour(ds, now):
                raise ApiError(404, f"no Observation with id {kid}")
            return ObsRef(ds, hour)
        e = self.E[set_name].get(kid)
        if e is None:
            raise ApiError(404, f"no {set_name[:-1] if set_name != 'ObservedProperties' else 'ObservedProperty'} with id {kid}")
        return e

    def related(self, ent, nav: str, link: str) -> Coll:
        if isinstance(ent, ObsRef):
            raise ApiError(404, "no such navigation")
        target, _ = NAV[ent.set][nav]
        if target == "Observations":
            if ent.set == "Datastreams":
                return Coll("Observations", ds=np.array([ent.id - 1]), link=link)
            if ent.set == "FeaturesOfInterest":
                return Coll("Observations", ds=np.array(self.m.ds_of_station[ent.id - 1]), link=link)
        return Coll(target, ids=list(ent.rel.get(nav, [])), link=link)

    def related_one(self, ent, nav: str):
        if isinstance(ent, ObsRef):
            if nav == "Datastream":
                return self.E["Datastreams"][ent.ds + 1]
            return self.E["FeaturesOfInterest"][int(self.m.ds_station[ent.ds]) + 1]
        target, _ = NAV[ent.set][nav]
        return self.E[target][ent.rel[nav]]

    def member(self, coll: Coll, kid: int):
        if coll.set == "Observations":
            ref = self.get("Observations", kid)
            if coll.ds is not None and ref.ds not in set(coll.ds.tolist()):
                raise ApiError(404, f"no Observation with id {kid} here")
            return ref
        if coll.ids is not None and kid not in coll.ids:
            raise ApiError(404, f"no {coll.set} with id {kid} here")
        return self.get(coll.set, kid)

    # ------------------------------------------------------------------ static queries
    def value_of(self, e: Ent, parts: list[str], now: int):
        head = parts[0]
        if head in ("id", "@iot.id"):
            return e.id
        if head in NAV.get(e.set, {}):
            target, many = NAV[e.set][head]
            if many or len(parts) == 1:
                return None
            return self.value_of(self.E[target][e.rel[head]], parts[1:], now)
        props = self.props(e, now) if head in ("phenomenonTime", "resultTime") else e.props
        v = props.get(head)
        for p in parts[1:]:
            v = v.get(p) if isinstance(v, dict) else None
        if head in TIME_PROPS and isinstance(v, str):
            from simulator.odata import parse_datetime

            try:
                v = float(parse_datetime(v.split("/")[0]))
            except QueryError:
                v = None
        return v

    def query_static(self, coll: Coll, o: Options, now: int) -> tuple[list[Ent], int, bool]:
        ents = list(self.E[coll.set].values()) if coll.ids is None else [self.E[coll.set][i] for i in coll.ids]
        if o.filter is not None:
            keep = []
            for e in ents:
                if evaluate(o.filter, lambda p, e=e: self.value_of(e, p.split("/"), now)):
                    keep.append(e)
            ents = keep
        if o.orderby:
            for key, desc in reversed(o.orderby):
                parts = key.split("/")
                ents.sort(key=lambda e: _sort_key(self.value_of(e, parts, now)), reverse=desc)
        else:
            ents.sort(key=lambda e: e.id)
        total = len(ents)
        top = o.top if o.top is not None else DEFAULT_TOP
        page = ents[o.skip: o.skip + top]
        return page, total, o.skip + top < total

    # ------------------------------------------------------------------ observation queries
    def obs_query(self, coll: Coll, o: Options, now: int, skip: int, top: int, want_count: bool):
        m = self.m
        D = np.arange(m.n_ds) if coll.ds is None else np.unique(coll.ds)
        h_lo, h_hi = m.h_min, now // HOUR_S
        residual = []
        for c in conjuncts(o.filter):
            used = False
            if c[0] == "cmp":
                op, a, b = c[1], c[2], c[3]
                if a[0] == "lit" and b[0] == "path":
                    a, b = b, a
                    op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
                if a[0] == "path" and b[0] == "lit":
                    path, v = a[1], b[1]
                    if path in ("phenomenonTime", "resultTime") and isinstance(v, TimeLit) and op != "ne":
                        lo, hi = _hour_bounds(op, float(v))
                        h_lo, h_hi = max(h_lo, lo), min(h_hi, hi)
                        used = True
                    elif path in ("id", "@iot.id") and op == "eq" and isinstance(v, int):
                        ds, hour = split_id(v)
                        D = D[D == ds]
                        h_lo, h_hi = max(h_lo, hour), min(h_hi, hour)
                        used = True
                    elif path in ("Datastream/id", "Datastream/@iot.id") and op == "eq" and isinstance(v, int):
                        D = D[D == v - 1]
                        used = True
                    elif path in ("FeatureOfInterest/id", "FeatureOfInterest/@iot.id") and op == "eq" \
                            and isinstance(v, int) and 1 <= v <= len(m.stations):
                        D = D[np.isin(D, m.ds_of_station[v - 1])]
                        used = True
            if not used:
                residual.append(c)
        order, desc = "id", False
        if o.orderby:
            key, desc = o.orderby[0]
            if key in ("phenomenonTime", "resultTime"):
                order = "time"
            elif key in ("id", "@iot.id"):
                order = "id"
            else:
                raise QueryError(f"$orderby {key!r} is not supported on Observations "
                                 "(use phenomenonTime, resultTime or id)")
        need = skip + top + 1
        out_ds, out_h = [], []
        seen = 0
        if h_hi < h_lo or len(D) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), 0, False
        if order == "id" or len(D) == 1:
            seq = D[::-1] if desc else D
            for ds in seq.tolist():
                if not want_count and seen >= need:
                    break
                hours = m.series(ds, h_lo, h_hi, now)
                if residual and len(hours):
                    hours = hours[self._residual(residual, np.full(len(hours), ds), hours)]
                if desc:
                    hours = hours[::-1]
                n = len(hours)
                lo, hi = max(0, skip - seen), min(n, need - seen)
                if hi > lo:
                    out_ds.append(np.full(hi - lo, ds))
                    out_h.append(hours[lo:hi])
                seen += n
        else:
            W = int(max(24, min(24 * 31, 300_000 // len(D))))
            starts = list(range(h_lo, h_hi + 1, W))
            if desc:
                starts = starts[::-1]
            for a in starts:
                if not want_count and seen >= need:
                    break
                hours = np.arange(a, min(a + W - 1, h_hi) + 1, dtype=np.int64)
                M = m.window_mask(D, hours, now)
                wi, di = np.nonzero(M.T)
                dsx, hx = D[di], hours[wi]
                if residual and len(hx):
                    keep = self._residual(residual, dsx, hx)
                    dsx, hx = dsx[keep], hx[keep]
                if desc:
                    dsx, hx = dsx[::-1], hx[::-1]
                n = len(hx)
                lo, hi = max(0, skip - seen), min(n, need - seen)
                if hi > lo:
                    out_ds.append(dsx[lo:hi])
                    out_h.append(hx[lo:hi])
                seen += n
        ds_arr = np.concatenate(out_ds) if out_ds else np.zeros(0, np.int64)
        h_arr = np.concatenate(out_h) if out_h else np.zeros(0, np.int64)
        more = len(h_arr) > top
        return ds_arr[:top], h_arr[:top], (seen if want_count else None), more

    def _residual(self, conds: list, ds: np.ndarray, hours: np.ndarray) -> np.ndarray:
        cache: dict[str, np.ndarray] = {}

        def get(path: str):
            if path in cache:
                return cache[path]
            if path in ("id", "@iot.id"):
                v = obs_id(ds, hours)
            elif path in ("phenomenonTime", "resultTime"):
                v = hours * HOUR_S
            elif path == "result":
                v = self.m.values(ds, hours)
            elif "/" in path and path.split("/", 1)[0] in ("Datastream", "FeatureOfInterest"):
                head, rest = path.split("/", 1)
                keys = ds if head == "Datastream" else self.m.ds_station[ds]
                uniq, inv = np.unique(keys, return_inverse=True)
                target = "Datastreams" if head == "Datastream" else "FeaturesOfInterest"
                vals = [self.value_of(self.E[target][int(k) + 1], rest.split("/"), self.ctx.now()) for k in uniq]
                v = np.array(vals, dtype=object)[inv]
                if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vals):
                    v = v.astype(np.float64)
            else:
                v = np.full(len(hours), None, dtype=object)
            cache[path] = v
            return v

        mask = np.ones(len(hours), bool)
        for c in conds:
            r = evaluate(c, get)
            if isinstance(r, np.ndarray):
                mask &= r.astype(bool)
            elif not r:
                mask[:] = False
        return mask

    # ------------------------------------------------------------------ rendering
    def render_obs(self, ds: np.ndarray, hours: np.ndarray, o: Options, now: int, base: str) -> list[dict]:
        if len(hours) == 0:
            return []
        ids = obs_id(ds, hours).tolist()
        times = iso_utc_many(hours * HOUR_S)
        vals = self.m.values(ds, hours)
        dec0 = np.array([p.decimals == 0 for p in PARAMS])[self.m.ds_param[ds]]
        vlist = vals.tolist()
        if dec0.any():
            vlist = [int(v) if d else v for v, d in zip(vlist, dec0.tolist())]
        root = base + ROOT
        dsl = (ds + 1).tolist()
        if o.select is None and not o.expand:
            return [{"@iot.id": i, "@iot.selfLink": f"{root}/Observations({i})", "phenomenonTime": t,
                     "resultTime": t, "result": v,
                     "Datastream@iot.navigationLink": f"{root}/Observations({i})/Datastream",
                     "FeatureOfInterest@iot.navigationLink": f"{root}/Observations({i})/FeatureOfInterest"}
                    for i, t, v in zip(ids, times, vlist)]
        out = []
        for k, (i, t, v, d) in enumerate(zip(ids, times, vlist, dsl)):
            full = {"phenomenonTime": t, "resultTime": t, "result": v}
            rec = self._select("Observations", i, full, o.select, root)
            for nav, sub in o.expand.items():
                if nav not in NAV["Observations"]:
                    raise QueryError(f"Observations cannot expand {nav!r}")
                ref = ObsRef(d - 1, int(hours[k]))
                rec[nav] = self.render_ent(self.related_one(ref, nav), sub, now, base)
            out.append(rec)
        return out

    def _select(self, set_name: str, eid: int, props: dict, select: list[str] | None, root: str) -> dict:
        self_link = f"{root}/{set_name}({eid})"
        if select is None:
            rec = {"@iot.id": eid, "@iot.selfLink": self_link, **props}
            for nav in NAV[set_name]:
                rec[f"{nav}@iot.navigationLink"] = f"{self_link}/{nav}"
            return rec
        rec = {}
        for s in select:
            if s in ("id", "@iot.id"):
                rec["@iot.id"] = eid
            elif s in ("selfLink", "@iot.selfLink"):
                rec["@iot.selfLink"] = self_link
            elif s in props:
                rec[s] = props[s]
            elif s in NAV[set_name]:
                rec[f"{s}@iot.navigationLink"] = f"{self_link}/{s}"
            elif s not in _ALL_PROPS.get(set_name, ()):
                raise QueryError(f"$select: {set_name} has no property {s!r}")
        return rec

    def render_ent(self, e, o: Options, now: int, base: str) -> dict:
        root = base + ROOT
        if isinstance(e, ObsRef):
            return self.render_obs(np.array([e.ds]), np.array([e.hour]), o, now, base)[0]
        rec = self._select(e.set, e.id, self.props(e, now), o.select, root)
        for nav, sub in o.expand.items():
            if nav not in NAV[e.set]:
                raise QueryError(f"{e.set} cannot expand {nav!r}")
            target, many = NAV[e.set][nav]
            if many:
                coll = self.related(e, nav, f"/{e.set}({e.id})/{nav}")
                res = self.run(coll, sub, now, base, nested=True)
                rec[nav] = res["value"]
                if "@iot.count" in res:
                    rec[f"{nav}@iot.count"] = res["@iot.count"]
                if "@iot.nextLink" in res:
                    rec[f"{nav}@iot.nextLink"] = res["@iot.nextLink"]
            else:
                rec[nav] = self.render_ent(self.related_one(e, nav), sub, now, base)
        return rec

    def run(self, coll: Coll, o: Options, now: int, base: str, nested: bool = False,
            page_params: dict | None = None, skip: int | None = None) -> dict:
        top = o.top if o.top is not None else DEFAULT_TOP
        skip = o.skip if skip is None else skip
        if coll.set == "Observations":
            ds, hours, total, more = self.obs_query(coll, o, now, skip, top, o.count)
            value = self.render_obs(ds, hours, o, now, base)
        else:
            sub = Options(**{**o.__dict__, "skip": skip})
            ents, total, more = self.query_static(coll, sub, now)
            value = [self.render_ent(e, o, now, base) for e in ents]
        res: dict = {}
        if o.count:
            res["@iot.count"] = total
        if more and top > 0:
            params = dict(page_params) if page_params is not None else _nested_params(o)
            params["$skip"] = str(skip + top)
            params["$top"] = str(top)
            res["@iot.nextLink"] = f"{base}{ROOT}{coll.link}?" + urlencode(params, quote_via=quote, safe="$,'()/")
        res["value"] = value
        return res

    # ------------------------------------------------------------------ HTTP
    def _auth(self, request: Request) -> None:
        cfg = self.ctx.cfg
        if not cfg.sta_username:
            return
        got = request.headers.get("authorization", "")
        want = "Basic " + base64.b64encode(f"{cfg.sta_username}:{cfg.sta_password or ''}".encode()).decode()
        if not hmac.compare_digest(got, want):
            raise ApiError(401, "authentication required", {"WWW-Authenticate": 'Basic realm="sta"'})

    async def root(self, request: Request, d: Draw) -> Response:
        self._auth(request)
        base = str(request.base_url).rstrip("/") + ROOT
        return json_response({
            "value": [{"name": s, "url": f"{base}/{s}"} for s in SETS],
            "serverSettings": {"conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
            ]},
        })

    async def dispatch(self, request: Request, d: Draw) -> Response:
        self._auth(request)
        now = self.ctx.now()
        base = str(request.base_url).rstrip("/")
        raw = request.url.query
        params = dict(parse_qsl(raw, keep_blank_values=True))
        try:
            target = self.resolve(request.path_params["path"])
            if target[0] == "root":
                return await self.root(request, d)
            o = parse_options(params, MAX_TOP, DEFAULT_TOP)
            if target[0] == "coll":
                coll = target[1]
                top = o.top if o.top is not None else DEFAULT_TOP
                skip = self.ctx.faults.shift_offset(d, o.skip, o.skip // top if top else 0) if d else o.skip
                page_params = {k: v for k, v in params.items() if k not in ("$skip", "$top")}
                res = self.run(coll, o, now, base, page_params=page_params, skip=skip)
                if d and res["value"]:
                    res["value"] = self._faults(d, coll, o, now, base, res["value"], skip)
                return json_response(res)
            if target[0] == "ent":
                rec = self.render_ent(target[1], o, now, base)
                return json_response(rec)
            if target[0] in ("prop", "value"):
                ent, name = target[1], target[2]
                if isinstance(ent, ObsRef):
                    full = self.render_obs(np.array([ent.ds]), np.array([ent.hour]), Options(), now, base)[0]
                else:
                    full = self.props(ent, now)
                if name not in full:
                    raise ApiError(404, f"no property {name!r}")
                if target[0] == "value":
                    v = full[name]
                    return Response(v if isinstance(v, str) else str(v), media_type="text/plain")
                return json_response({name: full[name]})
        except QueryError as err:
            raise ApiError(400, str(err)) from None
        raise ApiError(404, "not found")

    def _faults(self, d: Draw, coll: Coll, o: Options, now: int, base: str, value: list, skip: int) -> list:
        engine = self.ctx.faults
        adapter = self.adapter(coll.set)
        f = d.get("out_of_order")
        if f is not None and coll.set == "Observations" and len(value) > 2:
            k = int(f.params.get("count", 2))
            picks = sorted(f.rng.sample(range(len(value) - 1), min(k, len(value) - 1)), reverse=True)
            moved = [value.pop(i) for i in picks]
            for r in moved:
                engine.record(d.source, "out_of_order", d.path, id=r.get("@iot.id"))
            value.extend(moved)

        def before(k: int) -> list[dict]:
            if skip <= 0:
                return []
            sub = Options(**{**o.__dict__, "top": min(k, skip), "count": False})
            return self.run(coll, sub, now, base, skip=max(0, skip - k))["value"]

        return engine.apply(d, value, adapter, self.ctx.wall(), before, None)

    def adapter(self, set_name: str) -> Adapter:
        if set_name == "Observations":
            def wrong_unit(rec: dict) -> bool:
                if isinstance(rec.get("result"), (int, float)):
                    rec["result"] = rec["result"] / 1000  # a device sending mg/m³ into a µg/m³ stream
                    return True
                return False

            return Adapter("@iot.id", ("phenomenonTime", "resultTime"), text_fields=("result",), wrong_unit=wrong_unit)
        if set_name == "Datastreams":
            def wrong_unit(rec: dict) -> bool:
                u = rec.get("unitOfMeasurement")
                if not isinstance(u, dict):
                    return False
                u.update({"name": "milligram per cubic metre", "symbol": "mg/m³",
                          "definition": "http://unitsofmeasure.org/ucum.html#mg/m3"} if u.get("symbol") == "µg/m³"
                         else {"name": "gram per litre", "symbol": "g/L",
                               "definition": "http://unitsofmeasure.org/ucum.html#g/L"})
                return True

            return Adapter("@iot.id", ("phenomenonTime",), text_fields=("name", "description"), wrong_unit=wrong_unit)

        def outside(rec: dict, pt) -> bool:
            for key in ("location", "feature"):
                if isinstance(rec.get(key), dict):
                    rec[key]["coordinates"] = [pt[0], pt[1]]
                    return True
            locs = rec.get("Locations")
            if isinstance(locs, list) and locs and isinstance(locs[0].get("location"), dict):
                locs[0]["location"]["coordinates"] = [pt[0], pt[1]]
                return True
            return False

        return Adapter("@iot.id", ("time",), text_fields=("name", "description"), set_outside=outside)

    def routes(self) -> list[Route]:
        w = lambda fn: faulted(self.ctx, self.name, error_body, fn)  # noqa: E731
        return [
            Route(ROOT, w(self.root), methods=["GET"]),
            Route(ROOT + "/", w(self.root), methods=["GET"]),
            Route(ROOT + "/{path:path}", w(self.dispatch), methods=["GET"]),
        ]

    def stats(self) -> dict:
        return {"things": len(self.E["Things"]), "datastreams": self.m.n_ds}


_ALL_PROPS = {
    "Things": ("name", "description", "properties"),
    "Locations": ("name", "description", "encodingType", "location", "properties"),
    "HistoricalLocations": ("time",),
    "Datastreams": ("name", "description", "observationType", "unitOfMeasurement", "observedArea",
                    "phenomenonTime", "resultTime", "properties"),
    "Sensors": ("name", "description", "encodingType", "metadata", "properties"),
    "ObservedProperties": ("name", "definition", "description", "properties"),
    "Observations": ("phenomenonTime", "resultTime", "result", "resultQuality", "validTime", "parameters"),
    "FeaturesOfInterest": ("name", "description", "encodingType", "feature", "properties"),
}


def _sort_key(v):
    if v is None:
        return (0, 0, "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (1, v, "")
    return (2, 0, str(v))


def _hour_bounds(op: str, t: float) -> tuple[int, int]:
    """Hours h (time = h·3600) satisfying ``time op t``."""
    big = 1 << 40
    lo_incl = int(np.ceil(t / HOUR_S))  # first h with h·3600 ≥ t
    hi_incl = int(np.floor(t / HOUR_S))  # last h with h·3600 ≤ t
    if op == "gt":
        return (hi_incl + 1, big)
    if op == "ge":
        return (lo_incl, big)
    if op == "lt":
        return (-big, lo_incl - 1)
    if op == "le":
        return (-big, hi_incl)
    return (lo_incl, hi_incl)  # eq


def _nested_params(o: Options) -> dict:
    p = {}
    if o.filter_text:
        p["$filter"] = o.filter_text
    if o.orderby_text:
        p["$orderby"] = o.orderby_text
    if o.select:
        p["$select"] = ",".join(o.select)
    if o.count:
        p["$count"] = "true"
    return p


__all__ = ["Sta", "ID_MUL"]
