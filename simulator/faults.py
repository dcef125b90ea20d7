"""Fault injection: switches per source, drawn per request, logged so tests can count them.

A fault is ``{"kind": ..., <its parameters>, "probability": p, "times": n}``: it fires on a
request with probability p (default 1) and at most n times (default: no limit), then stays
listed with ``remaining: 0``. Transport faults act on the HTTP exchange; data faults change
the records of list responses. Every firing is logged (``GET /_control/faults``); each bad,
duplicated or out-of-order record is logged with its id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from simulator.config import SOURCES

TRANSPORT_KINDS = ("latency", "timeout", "error", "truncated", "malformed")
DATA_KINDS = ("bad_records", "duplicates", "out_of_order", "clock_skew", "shifting_pages")
KINDS = TRANSPORT_KINDS + DATA_KINDS
BAD_VARIANTS = ("missing_id", "outside_province", "future_timestamp", "wrong_unit", "huge_string", "script")
ALIASES = {
    "error500": ("error", {"status": 500}),
    "error503": ("error", {"status": 503}),
    "error429": ("error", {"status": 429}),
    "http500": ("error", {"status": 500}),
    "http503": ("error", {"status": 503}),
    "http429": ("error", {"status": 429}),
    "bad": ("bad_records", {}),
    "duplicate": ("duplicates", {}),
    "skew": ("clock_skew", {}),
    "shift": ("shifting_pages", {}),
    "truncate": ("truncated", {}),
}
# What the single VALUE of the CLI form SOURCE:KIND=VALUE means for each kind.
PRIMARY = {
    "latency": "ms",
    "timeout": "seconds",
    "error": "status",
    "truncated": "probability",
    "malformed": "probability",
    "bad_records": "rate",
    "duplicates": "rate",
    "out_of_order": "count",
    "clock_skew": "minutes",
    "shifting_pages": "count",
}
DEFAULTS = {
    "latency": {"ms": 500, "jitter_ms": 0},
    "timeout": {"seconds": 30},
    "error": {"status": 500, "retry_after": 5},
    "truncated": {"fraction": 0.5},
    "malformed": {},
    "bad_records": {"rate": 0.05, "variants": list(BAD_VARIANTS)},
    "duplicates": {"rate": 0.05, "mode": "both", "across": 2},
    "out_of_order": {"count": 2},
    "clock_skew": {"minutes": 60},
    "shifting_pages": {"count": 5},
}
HUGE = 100_000
# the "script" variant's text: markup, markup that arrives entity-encoded (a boundary that
# unescapes after stripping tags would store it as real markup) and javascript: URLs
SCRIPT_PAYLOAD = ('<script>alert("xss")</script><img src=x onerror="alert(1)">'
                  '&lt;img src=x onerror=alert(2)&gt;<a href="javascript:alert(3)">x</a> javascript:alert(4)')


class FaultError(ValueError):
    pass


@dataclass
class Fault:
    id: int
    source: str  # a source name or "all"
    kind: str
    params: dict
    probability: float = 1.0
    times: int | None = None  # remaining firings; None = unlimited
    path: str | None = None  # fires only on requests whose URL path ends with this; None = all
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def describe(self) -> dict:
        return {"id": self.id, "source": self.source, "kind": self.kind, **self.params,
                "probability": self.probability, "remaining": self.times, "path": self.path, "fired": self.fired}


def _num(v: Any):
    if isinstance(v, (int, float)):
        return v
    s = str(v).strip()
    try:
        return int(s)
    except ValueError:
        try:
            return float(s)
        except ValueError:
            return s


def parse_fault_arg(text: str) -> tuple[str, dict]:
    """``SOURCE:KIND[=VALUE][,key=value...]`` → (source, spec). Example:
    ``hotline:error=503,retry_after=2,times=3`` or ``environment:bad_records=0.1,variants=wrong_unit+missing_id``.
    """
    if ":" not in text:
        raise FaultError(f"fault {text!r}: expected SOURCE:KIND[=VALUE][,key=value...]")
    source, rest = text.split(":", 1)
    parts = [p for p in rest.split(",") if p]
    if not parts:
        raise FaultError(f"fault {text!r}: missing KIND")
    kind, _, value = parts[0].partition("=")
    spec: dict[str, Any] = {"kind": kind.strip()}
    if value:
        spec["value"] = _num(value)
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k.strip() in ("variants", "ids"):
            spec[k.strip()] = [x for x in v.replace("+", " ").split() if x]
        else:
            spec[k.strip()] = _num(v)
    return source.strip(), spec


def normalise(source: str, spec: dict, fid: int, seed: int) -> Fault:
    if source not in SOURCES and source != "all":
        raise FaultError(f"unknown source {source!r}; one of {', '.join(SOURCES)}, all")
    spec = dict(spec)
    kind = str(spec.pop("kind", "")).strip()
    if kind in ALIASES:
        kind, extra = ALIASES[kind]
        for k, v in extra.items():
            spec.setdefault(k, v)
    if kind not in KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)} (or error500/error503/error429)")
    probability = float(spec.pop("probability", 1.0))
    times = spec.pop("times", None)
    times = None if times in (None, "", 0, "0") else int(times)
    path = spec.pop("path", None) or None
    params = dict(DEFAULTS[kind])
    if "value" in spec:
        primary = PRIMARY[kind]
        value = spec.pop("value")
        if primary == "probability":
            probability = float(value)
        else:
            params[primary] = value
    for k, v in spec.items():
        params[k] = v
    if kind == "error":
        params["status"] = int(params["status"])
        if params["status"] < 400 or params["status"] > 599:
            raise FaultError("error status must be 4xx or 5xx")
    if kind == "bad_records":
        vs = params.get("variants") or list(BAD_VARIANTS)
        if isinstance(vs, str):
            vs = [x for x in vs.replace("+", " ").replace(",", " ").split() if x]
        unknown = [v for v in vs if v not in BAD_VARIANTS]
        if unknown:
            raise FaultError(f"unknown bad_records variant(s) {unknown}; one of {', '.join(BAD_VARIANTS)}")
        params["variants"] = list(vs)
        ids = params.get("ids")
        if isinstance(ids, str):
            params["ids"] = [x for x in ids.replace("+", " ").replace(",", " ").split() if x]
    if not 0 <= probability <= 1:
        raise FaultError("probability must be within 0..1")
    return Fault(fid, source, kind, params, probability, times, None if path is None else str(path), rng=random.Random(seed * 7919 + fid))


@dataclass
class Draw:
    """The faults that fire for one request."""

    source: str
    path: str
    fired: list[Fault] = field(default_factory=list)

    def get(self, kind: str) -> Fault | None:
        for f in self.fired:
            if f.kind == kind:
                return f
        return None

    def __bool__(self) -> bool:
        return bool(self.fired)


@dataclass
class Adapter:
    """How a source's records look, so generic data faults can bend them."""

    id_field: str
    time_fields: tuple[str, ...] = ()
    nested_times: tuple[tuple[str, str], ...] = ()  # (list field, key) e.g. ("notes", "datetime")
    lat_field: str | None = None
    lon_field: str | None = None
    text_fields: tuple[str, ...] = ()
    wrong_unit: Callable[[dict], bool] | None = None  # mutate in place; False when not applicable
    set_outside: Callable[[dict, tuple[float, float]], bool] | None = None


class FaultEngine:
    def __init__(self, seed: int = 1, log_limit: int = 20_000):
        self.seed = seed
        self.faults: list[Fault] = []
        self._next = 1
        self.log: list[dict] = []
        self.counts: dict[str, dict[str, int]] = {}
        self.log_limit = log_limit
        self.seq = 0

    # ------------------------------------------------------------ switches
    def add(self, source: str, spec: dict) -> list[Fault]:
        sources = [source]
        out = []
        for s in sources:
            f = normalise(s, spec, self._next, self.seed)
            self._next += 1
            self.faults.append(f)
            out.append(f)
        return out

    def add_many(self, faults: dict | list | None) -> None:
        """From config: {"hotline": spec or [specs]} or ["hotline:latency=200", ...]."""
        if not faults:
            return
        if isinstance(faults, dict):
            for source, specs in faults.items():
                if isinstance(specs, dict):
                    specs = [specs]
                if isinstance(specs, str):
                    specs = [parse_fault_arg(f"{source}:{specs}")[1]]
                for spec in specs:
                    self.add(source, spec)
        else:
            for text in faults:
                source, spec = parse_fault_arg(text)
                self.add(source, spec)

    def clear(self, source: str | None = None, keep_log: bool = False) -> None:
        if source in (None, "", "all"):
            self.faults = []
        else:
            self.faults = [f for f in self.faults if f.source != source]
        if not keep_log:
            self.log = []
            self.counts = {}

    def active(self) -> list[dict]:
        return [f.describe() for f in self.faults]

    # ------------------------------------------------------------ per request
    def draw(self, source: str, path: str) -> Draw:
        d = Draw(source, path)
        for f in self.faults:
            if f.source not in (source, "all"):
                continue
            if f.times is not None and f.times <= 0:
                continue
            if f.path is not None and not path.endswith(f.path):
                continue
            if f.probability < 1 and f.rng.random() >= f.probability:
                continue
            if f.times is not None:
                f.times -= 1
            f.fired += 1
            d.fired.append(f)
        return d

    def record(self, source: str, kind: str, path: str = "", **extra) -> None:
        self.seq += 1
        c = self.counts.setdefault(source, {})
        key = kind if "variant" not in extra else f"{kind}:{extra['variant']}"
        c[key] = c.get(key, 0) + 1
        if len(self.log) < self.log_limit:
            self.log.append({"seq": self.seq, "source": source, "kind": kind, "path": path, **extra})

    def report(self) -> dict:
        return {"active": self.active(), "counts": self.counts, "injected": self.log}

    # ------------------------------------------------------------ data faults
    def shift_offset(self, d: Draw, offset: int, page_index: int) -> int:
        """shifting_pages: k records "inserted at the front" before each later page, so page p
        starts k·p records earlier than asked (the reader sees repeats). Negative k removes
        records instead (the reader skips some)."""
        f = d.get("shifting_pages")
        if f is None or page_index <= 0:
            return offset
        k = int(f.params.get("count", 5))
        new = max(0, offset - k * page_index)
        self.record(d.source, "shifting_pages", d.path, shift=offset - new, page_index=page_index)
        return new

    def apply(
        self,
        d: Draw,
        records: list[dict],
        adapter: Adapter,
        wall_now: float,
        before: Callable[[int], list[dict]] | None = None,
        older: Callable[[dict], dict | None] | None = None,
    ) -> list[dict]:
        """Apply the data faults of ``d`` to the rendered records of one list response."""
        if not d:
            return records
        records = list(records)
        f = d.get("clock_skew")
        if f is not None:
            secs = float(f.params.get("minutes", 60)) * 60
            for r in records:
                _shift_record(r, adapter, secs)
            self.record(d.source, "clock_skew", d.path, seconds=secs, records=len(records))
        f = d.get("out_of_order")
        if f is not None and older is not None and records:
            k = int(f.params.get("count", 2))
            picks = f.rng.sample(range(len(records)), min(len(records), max(k * 3, k)))
            added = 0
            for i in picks:
                if added >= k:
                    break
                old = older(records[i])
                if old is None:
                    continue
                records.append(old)
                added += 1
                self.record(d.source, "out_of_order", d.path, id=records[i].get(adapter.id_field))
        f = d.get("duplicates")
        if f is not None and records:
            mode = f.params.get("mode", "both")
            if mode in ("both", "within"):
                m = max(1, round(float(f.params.get("rate", 0.05)) * len(records)))
                picks = sorted(f.rng.sample(range(len(records)), min(m, len(records))), reverse=True)
                for i in picks:
                    j = f.rng.randint(i + 1, len(records))
                    records.insert(j, dict(records[i]))
                    self.record(d.source, "duplicates", d.path, mode="within", id=records[i].get(adapter.id_field))
            if mode in ("both", "across") and before is not None:
                prev = before(int(f.params.get("across", 2)))
                for r in prev:
                    self.record(d.source, "duplicates", d.path, mode="across", id=r.get(adapter.id_field))
                records = prev + records
        f = d.get("bad_records")
        if f is not None and records:
            records = self._bad(d, f, records, adapter, wall_now)
        return records

    def _bad(self, d: Draw, f: Fault, records: list[dict], adapter: Adapter, wall_now: float) -> list[dict]:
        if f.params.get("ids"):
            return self._bad_ids(d, f, records, adapter, wall_now)
        n = len(records)
        k = max(1, round(float(f.params.get("rate", 0.05)) * n))
        variants = list(f.params.get("variants") or BAD_VARIANTS)
        # Walk a random order of the records until k of them are spoiled: a variant that
        # does not apply to a record (no coordinates, no waiting time) moves on to the next.
        done = 0
        for i in f.rng.sample(range(n), n):
            if done >= k:
                break
            rec = _deep(records[i])
            rid = rec.get(adapter.id_field)
            order = variants[done % len(variants):] + variants[: done % len(variants)]
            for variant in order:
                if _make_bad(rec, variant, adapter, wall_now, f.rng):
                    records[i] = rec
                    self.record(d.source, "bad_records", d.path, variant=variant, id=rid)
                    done += 1
                    break
        return records


    def _bad_ids(self, d: Draw, f: Fault, records: list[dict], adapter: Adapter, wall_now: float) -> list[dict]:
        """Records that stay broken: the listed ids are spoiled in every response that carries
        them, the i-th with the i-th variant (cycling), each time the same way (its own seed)."""
        ids = [str(x) for x in f.params["ids"]]
        variants = list(f.params.get("variants") or BAD_VARIANTS)
        for i, rec in enumerate(records):
            rid = rec.get(adapter.id_field)
            if str(rid) not in ids:
                continue
            k = ids.index(str(rid))
            bad = _deep(rec)
            variant = variants[k % len(variants)]
            if _make_bad(bad, variant, adapter, wall_now, random.Random(f"{self.seed}:{f.id}:{rid}")):
                records[i] = bad
                self.record(d.source, "bad_records", d.path, variant=variant, id=rid)
        return records


def _deep(r: dict) -> dict:
    out = {}
    for k, v in r.items():
        if isinstance(v, dict):
            out[k] = _deep(v)
        elif isinstance(v, list):
            out[k] = [(_deep(x) if isinstance(x, dict) else x) for x in v]
        else:
            out[k] = v
    return out


def shift_iso(text: str, seconds: float) -> str:
    if not isinstance(text, str) or not text:
        return text
    try:
        if "/" in text:
            a, b = text.split("/", 1)
            return shift_iso(a, seconds) + "/" + shift_iso(b, seconds)
        dt = datetime.fromisoformat(text)
    except ValueError:
        return text
    dt = dt + timedelta(seconds=seconds)
    if text.endswith("Z"):
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.isoformat()


def _shift_record(r: dict, a: Adapter, secs: float) -> None:
    for k in a.time_fields:
        if r.get(k):
            r[k] = shift_iso(r[k], secs)
    for lst, key in a.nested_times:
        for item in r.get(lst) or []:
            if isinstance(item, dict) and item.get(key):
                item[key] = shift_iso(item[key], secs)


def _future(text: str | None, wall_now: float, rng: random.Random) -> str:
    t = wall_now + rng.uniform(2, 30) * 86400
    if text and not text.endswith("Z"):
        return datetime.fromtimestamp(t, timezone(timedelta(hours=7))).replace(microsecond=0).isoformat()
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _make_bad(rec: dict, variant: str, a: Adapter, wall_now: float, rng: random.Random) -> bool:
    from simulator.geo import outside_point

    if variant == "missing_id":
        if a.id_field not in rec:
            return False
        del rec[a.id_field]
        return True
    if variant == "outside_province":
        pt = outside_point(_np_rng(rng))
        if a.set_outside is not None:
            return a.set_outside(rec, pt)
        if a.lat_field and a.lon_field and a.lat_field in rec:
            rec[a.lon_field], rec[a.lat_field] = pt
            return True
        return False
    if variant == "future_timestamp":
        for k in a.time_fields:
            if k in rec and rec[k]:
                rec[k] = _future(rec[k], wall_now, rng)
                return True
        return False
    if variant == "wrong_unit":
        return bool(a.wrong_unit and a.wrong_unit(rec))
    if variant in ("huge_string", "script"):
        for k in a.text_fields:
            if k in rec:
                if variant == "huge_string":
                    base = "Nội dung phản ánh rất dài "
                    rec[k] = (base * (HUGE // len(base) + 1))[:HUGE]
                else:
                    rec[k] = f'{rec[k] or ""}{SCRIPT_PAYLOAD}'
                return True
        return False
    return False


def _np_rng(rng: random.Random):
    import numpy as np

    return np.random.default_rng(rng.randrange(2**32))
