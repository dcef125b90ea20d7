"""The product's SQL history against what the simulator serves (``GET /_control/records``,
simulator/truth.py), record by record: lost, duplicated, stale (an older version than the
upstream's), extra (in SQL, unknown upstream) — per source.

Keys: tickets by ``external_id`` (source hotline), cameras and dossiers by id, observations by
(datastream, phenomenon time). A version is compared by its update time (to the second) and
status; an observation by its value (after the datastream's unit factor, as the connector
stores it). Duplicates are counted in SQL itself: rows sharing a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ioc.db import models as m


@dataclass
class SourceDiff:
    source: str
    upstream: int = 0  # records the simulator serves (observations: values)
    stored: int = 0
    lost: list = field(default_factory=list)
    stale: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    duplicates: int = 0
    excused: int = 0  # records broken for good upstream (bad_records with ids): judged by the quarantine instead

    @property
    def exact(self) -> bool:
        return not (self.lost or self.stale or self.extra or self.duplicates)

    def line(self) -> str:
        ok = "exact" if self.exact else "DIFFERS"
        ex = f", {self.excused} broken for good (in quarantine)" if self.excused else ""
        sample = (self.lost or self.stale or self.extra)[:3]
        return (f"{self.source:<12} upstream {self.upstream:>7,}  stored {self.stored:>7,}  lost {len(self.lost):>4}  "
                f"stale {len(self.stale):>4}  extra {len(self.extra):>4}  duplicates {self.duplicates:>3}{ex}  "
                f"{ok}{'  e.g. ' + repr(sample) if sample else ''}")


def _utc(value) -> str:
    """An ISO text or a datetime as 'YYYY-MM-DDTHH:MM:SS' UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _compare(diff: SourceDiff, truth: dict, stored: dict, broken: set) -> SourceDiff:
    diff.upstream, diff.stored = len(truth), len(stored)
    for key, want in truth.items():
        got = stored.get(key)
        if key in broken:  # no good copy upstream: SQL keeps the last good (or skewed) version it had
            diff.excused += 1
        elif got is None:
            diff.lost.append(key)
        elif got != want:
            diff.stale.append((key, got, want))
    diff.extra = [k for k in stored if k not in truth]
    return diff


def _dups(s: Session, col, *where) -> int:
    q = select(func.count() - func.count(func.distinct(col)))
    for w in where:
        q = q.where(w)
    return int(s.scalar(q) or 0)


def compare(engine, truth: dict[str, dict], broken: dict[str, set] | None = None) -> dict[str, SourceDiff]:
    """``truth``: source → the simulator's records; ``broken``: source → ids broken for good."""
    from connectors.environment import FACTORS

    broken = broken or {}
    out = {}
    with Session(engine) as s:
        if "hotline" in truth:
            t = m.Ticket
            rows = s.execute(select(t.external_id, t.updated_at, t.status).where(t.source == "hotline")).all()
            diff = _compare(SourceDiff("hotline"), {k: (_utc(u), st) for k, (u, st) in truth["hotline"].items()},
                            {k: (_utc(u), st) for k, u, st in rows}, broken.get("hotline", set()))
            diff.duplicates = _dups(s, t.external_id, t.source == "hotline")
            out["hotline"] = diff
        if "cameras" in truth:
            c = m.Camera
            rows = s.execute(select(c.id, c.updated_at, c.status)).all()
            diff = _compare(SourceDiff("cameras"), {k: (_utc(u), st) for k, (u, st) in truth["cameras"].items()},
                            {k: (_utc(u), st) for k, u, st in rows}, broken.get("cameras", set()))
            out["cameras"] = diff  # primary key: no duplicates possible; counted anyway
            diff.duplicates = _dups(s, c.id)
        if "procedures" in truth:
            d = m.Dossier
            rows = s.execute(select(d.id, d.updated_at, d.status)).all()
            diff = _compare(SourceDiff("procedures"),
                            {k: (_utc(u), None if st is None else str(st)) for k, (u, st) in truth["procedures"].items()},
                            {k: (_utc(u), st) for k, u, st in rows}, broken.get("procedures", set()))
            diff.duplicates = _dups(s, d.id)
            out["procedures"] = diff
        if "environment" in truth:
            ds = {i: FACTORS.get((su or "", u), 1.0)
                  for i, su, u in s.execute(select(m.Datastream.id, m.Datastream.source_unit, m.Datastream.unit))}
            o = m.Observation
            want = {}
            for stream, pairs in truth["environment"].items():
                f = ds.get(stream, 1.0)
                for hour, value in pairs:
                    want[(stream, hour)] = round(value * f, 6)
            got = {}
            for stream, at, result in s.execute(select(o.datastream_id, o.phenomenon_time, o.result)):
                if at.tzinfo is None:
                    at = at.replace(tzinfo=timezone.utc)
                got[(stream, int(at.timestamp()) // 3600)] = result
            diff = SourceDiff("environment", upstream=len(want), stored=len(got))
            for key, value in want.items():
                have = got.get(key)
                if have is None:
                    diff.lost.append(key)
                elif abs(have - value) > 1e-6 * max(1.0, abs(value)):
                    diff.stale.append((key, have, value))
            diff.extra = [k for k in got if k not in want]
            diff.duplicates = int(s.scalar(select(func.count()).select_from(
                select(o.datastream_id, o.phenomenon_time).group_by(o.datastream_id, o.phenomenon_time)
                .having(func.count() > 1).subquery())) or 0)
            out["environment"] = diff
    return out


def truth_of(stack, sources=("hotline", "cameras", "procedures", "environment")) -> dict[str, dict]:
    return {src: stack.sim_records(src) for src in sources}


def totals(diffs: dict[str, SourceDiff]) -> tuple[int, int, int, int]:
    """(lost, duplicates, stale, extra) over all sources."""
    return (sum(len(d.lost) for d in diffs.values()), sum(d.duplicates for d in diffs.values()),
            sum(len(d.stale) for d in diffs.values()), sum(len(d.extra) for d in diffs.values()))


def settle(stack, timeout: float, *, broken: dict[str, set] | None = None, say=print) -> tuple[dict, float]:
    """Freeze the simulator's clock, then compare SQL with it until they match exactly or
    ``timeout`` passes (the connectors need a poll or two to read the last changes).
    Returns (the last comparison, seconds it took)."""
    import time

    stack.sim_post("/_control/clock", {"freeze": True})
    t0 = time.monotonic()
    truth = truth_of(stack)
    engine = _engine(stack.db_url)
    try:
        while True:
            diffs = compare(engine, truth, broken)
            if all(d.exact for d in diffs.values()) or time.monotonic() - t0 > timeout:
                return diffs, time.monotonic() - t0
            time.sleep(2.0)
    finally:
        engine.dispose()


def _engine(url: str):
    from ioc.db.session import make_engine

    return make_engine(url)


def live_mismatch(stack) -> dict[str, int]:
    """Entities whose Redis ``latest`` differs from what SQL implies (``ioc store rebuild``'s
    view of it), per source: the live state is current when this is 0 everywhere."""
    import importlib

    store = stack.store()
    engine = _engine(stack.db_url)
    out = {}
    try:
        with Session(engine) as s:
            for src in ("hotline", "cameras", "environment", "procedures"):
                want = importlib.import_module(f"connectors.{src}").live_from_sql(s)
                have = store.latest(src)
                keys = set(want) | set(have)
                out[src] = sum(1 for k in keys if _norm(want.get(k)) != _norm(have.get(k)))
    finally:
        engine.dispose()
    return out


def _norm(v):
    import orjson

    return None if v is None else orjson.loads(orjson.dumps(v, default=str))
