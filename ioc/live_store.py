"""The Redis side of the product: every key it uses, in one place.

Pages read only what is here (latest state, health, KPI snapshot, version); connectors
write it; docs/data-model.md documents each key (tests check they agree).

Redis Cluster: every command, transaction or script that touches several keys touches keys of
one hash slot. Keys of one source share the hash tag `{source}`; the KPI snapshot and its
version share `{kpi}`; the read model's panels and their versions share `{view}`. The global
`version` is bumped by its own command after a source's transaction (never inside it).
tests/scale/test_cluster_slots.py runs these paths on a server in cluster mode.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson
import redis

SOURCES = ("hotline", "cameras", "environment", "procedures")

# Bounded event streams: enough for the wall's "latest events" and for consumers that
# fall behind a few minutes; history lives in SQL.
EVENT_STREAM_MAXLEN = 10_000

# name -> (key pattern, Redis type, meaning). Kept as data so docs and code cannot drift.
KEYS: dict[str, tuple[str, str, str]] = {
    "latest": ("{prefix}:{{{source}}}:latest", "hash", "latest state per entity: field = entity id, value = JSON record"),
    "events": ("{prefix}:{{{source}}}:events", "stream", f"change events (id, kind, at), MAXLEN ~{EVENT_STREAM_MAXLEN}"),
    "health": ("{prefix}:{{{source}}}:health", "hash", "source health: last_success, last_attempt, last_error, consecutive_failures, records_last_run, newest_upstream, lag_seconds, state"),
    "cursor": ("{prefix}:{{{source}}}:cursor", "string", "mirror of the incremental cursor committed in SQL"),
    "lock": ("{prefix}:{{{source}}}:lock", "string", "poller lease: holder id, expires unless renewed"),
    "source_version": ("{prefix}:{{{source}}}:version", "string", "integer bumped when this source's data changes"),
    "version": ("{prefix}:version", "string", "integer bumped whenever any data changes; pages poll it"),
    "quarantine": ("{prefix}:quarantine:counts", "hash", "field = source:reason_code, value = records quarantined"),
    "kpi_snapshot": ("{prefix}:{{kpi}}:snapshot", "string", "JSON KPI snapshot the pages render"),
    "kpi_version": ("{prefix}:{{kpi}}:version", "string", "data version the snapshot was computed from"),
    "kpi_lock": ("{prefix}:{{kpi}}:lock", "string", "KPI scheduler lease: holder id, expires unless renewed; one `ioc kpi run` computes, the others stand by"),
    "kpi_period": ("{prefix}:kpi:period", "string", "key prefix: `…:period:<digest>` holds one closed period window's figures (typed JSON, ioc/kpi/cache_codec.py; never pickle), written by the KPI scheduler, shared by all processes, expires"),
    "alerts": ("{prefix}:alerts:active", "hash", "field = alert key, value = JSON alert"),
    "refresh": ("{prefix}:refresh", "pubsub", "hint to recompute now (lossy; pages still poll version)"),
    "view": ("{prefix}:{{view}}:{name}", "string", "one panel's facts for the read model (ioc/views), small JSON, written by the KPI scheduler"),
    "view_versions": ("{prefix}:{{view}}:versions", "hash", "field = view name, value = digest of its facts; `meta` = when the views were published. Pages poll this"),
    "view_series": ("{prefix}:view:series:{name}", "zset", "a tile's headline value sampled once a minute (score = epoch minute, member = `minute:value`), kept 7 days: the sparklines"),
}


@dataclass(frozen=True)
class Change:
    """One entity's new latest state, as written by a connector batch."""

    entity_id: str
    record: Mapping  # JSON-serialisable
    kind: str  # new | updated | removed
    at: str  # ISO time of the upstream change


class LiveStore:
    def __init__(self, client: redis.Redis, prefix: str = "ioc") -> None:
        self.r = client
        self.prefix = prefix
        # the source version this process's last write produced: a later write that does not
        # go above it means writes were lost (a failover to a replica that had not got them)
        self.written_versions: dict[str, int] = {}

    @classmethod
    def for_settings(cls, settings, **options) -> "LiveStore":
        """The product's store as configured (URL, own server or Sentinel; ioc/redis_client.py).
        ``options``: socket_timeout, socket_connect_timeout, retries, fail_fast_for."""
        from ioc.redis_client import redis_client

        return cls(redis_client(settings, **options), settings.redis_prefix)

    @classmethod
    def from_url(cls, url: str, prefix: str = "ioc", **kwargs) -> "LiveStore":
        """A store on an explicit URL (tests, benches); the product uses ``for_settings``."""
        kwargs.setdefault("socket_timeout", 10)
        kwargs.setdefault("socket_connect_timeout", 5)
        return cls(redis.Redis.from_url(url, **kwargs), prefix)

    def key(self, which: str, source: str | None = None, /, **parts: str) -> str:
        """The key named ``which`` in KEYS (``parts``: e.g. a view's ``name``)."""
        return KEYS[which][0].format(prefix=self.prefix, source=source, **parts)

    # --- data --------------------------------------------------------------------------

    def apply_changes(self, source: str, changes: Iterable[Change], *, chunk: int = 5_000) -> int:
        """Write a batch's latest states and events and bump versions, one pipeline per chunk."""
        written = 0
        latest, events = self.key("latest", source), self.key("events", source)
        pipe = self.r.pipeline(transaction=True)
        pending = 0
        for change in changes:
            if change.kind == "removed":
                pipe.hdel(latest, change.entity_id)
            else:
                pipe.hset(latest, change.entity_id, orjson.dumps(change.record))
            pipe.xadd(
                events,
                {"id": change.entity_id, "kind": change.kind, "at": change.at},
                maxlen=EVENT_STREAM_MAXLEN,
                approximate=True,
            )
            pending += 1
            if pending >= chunk:
                written += self._flush(pipe, source, pending)
                pending = 0
        if pending:
            written += self._flush(pipe, source, pending)
        return written

    def _flush(self, pipe, source: str, n: int) -> int:
        pipe.incr(self.key("source_version", source))
        self.written_versions[source] = int(pipe.execute()[-1])
        # own command: `version` is in another slot than the source's keys (Redis Cluster),
        # and bumped after the data so a reader that sees it move finds the data there
        self.r.incr(self.key("version"))
        return n

    def replace_latest(self, source: str, records: Mapping[str, Mapping]) -> None:
        """Swap a source's whole latest hash atomically (store rebuild)."""
        tmp = self.key("latest", source) + ":rebuild"
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(tmp)
        items = {k: orjson.dumps(v) for k, v in records.items()}
        for start in range(0, len(items), 10_000):
            part = dict(list(items.items())[start : start + 10_000])
            if part:
                pipe.hset(tmp, mapping=part)
        if items:
            pipe.rename(tmp, self.key("latest", source))
        else:
            pipe.delete(self.key("latest", source))
        pipe.incr(self.key("source_version", source))
        self.written_versions[source] = int(pipe.execute()[-1])
        self.r.incr(self.key("version"))  # own slot: after the source's transaction

    def latest(self, source: str) -> dict[str, dict]:
        raw = self.r.hgetall(self.key("latest", source))
        return {k.decode(): orjson.loads(v) for k, v in raw.items()}

    def latest_one(self, source: str, entity_id: str) -> dict | None:
        raw = self.r.hget(self.key("latest", source), entity_id)
        return orjson.loads(raw) if raw else None

    def latest_count(self, source: str) -> int:
        return int(self.r.hlen(self.key("latest", source)))

    def recent_events(self, source: str, count: int = 50) -> list[dict]:
        rows = self.r.xrevrange(self.key("events", source), count=count)
        return [{k.decode(): v.decode() for k, v in fields.items()} | {"stream_id": sid.decode()} for sid, fields in rows]

    def version(self) -> int:
        return int(self.r.get(self.key("version")) or 0)

    def lost_writes(self, source: str) -> bool:
        """Whether this source's version in Redis is below what this process's own last write
        made it: Redis lost writes since (a failover to a replica that had not got them, a
        restart without persistence, a flush)."""
        mine = self.written_versions.get(source)
        return mine is not None and int(self.r.get(self.key("source_version", source)) or 0) < mine

    def bump_version(self, source: str | None = None) -> int:
        pipe = self.r.pipeline(transaction=False)  # two slots
        if source:
            pipe.incr(self.key("source_version", source))
        pipe.incr(self.key("version"))
        return int(pipe.execute()[-1])

    # --- health and cursors ------------------------------------------------------------

    def set_health(self, source: str, health: Mapping[str, object]) -> None:
        self.r.hset(
            self.key("health", source),
            mapping={k: "" if v is None else str(v) for k, v in health.items()},
        )

    def health(self, source: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.r.hgetall(self.key("health", source)).items()}

    def all_health(self) -> dict[str, dict[str, str]]:
        pipe = self.r.pipeline(transaction=False)  # one slot per source
        for s in SOURCES:
            pipe.hgetall(self.key("health", s))
        return {
            s: {k.decode(): v.decode() for k, v in raw.items()}
            for s, raw in zip(SOURCES, pipe.execute())
        }

    def set_cursor(self, source: str, cursor: str) -> None:
        self.r.set(self.key("cursor", source), cursor)

    def cursor(self, source: str) -> str | None:
        raw = self.r.get(self.key("cursor", source))
        return raw.decode() if raw else None

    def count_quarantined(self, counts: Mapping[tuple[str, str], int]) -> None:
        if not counts:
            return
        pipe = self.r.pipeline(transaction=False)
        for (source, reason), n in counts.items():
            pipe.hincrby(self.key("quarantine"), f"{source}:{reason}", n)
        pipe.execute()

    def quarantine_counts(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.key("quarantine")).items()}

    # --- leases: one poller per source, one KPI scheduler, across hosts ---------------

    def lease_key(self, owner: str) -> str:
        """``owner``: a source (its poller's lease) or ``kpi`` (the KPI scheduler's)."""
        return self.key("kpi_lock") if owner == "kpi" else self.key("lock", owner)

    def acquire_lease(self, owner: str, holder: str, ttl_ms: int) -> bool:
        """Take the lease if free or already ours; renew it if ours."""
        script = self.r.register_script(_LEASE_LUA)
        return bool(script(keys=[self.lease_key(owner)], args=[holder, ttl_ms]))

    def release_lease(self, owner: str, holder: str) -> None:
        script = self.r.register_script(_RELEASE_LUA)
        script(keys=[self.lease_key(owner)], args=[holder])

    def lease_holder(self, owner: str) -> str | None:
        raw = self.r.get(self.lease_key(owner))
        return raw.decode() if raw else None

    # --- KPI snapshot and alerts -------------------------------------------------------

    def set_snapshot(self, snapshot: Mapping, data_version: int) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.key("kpi_snapshot"), orjson.dumps(snapshot, option=orjson.OPT_NON_STR_KEYS))
        pipe.set(self.key("kpi_version"), data_version)
        pipe.execute()
        self.r.publish(self.key("refresh"), data_version)

    def snapshot(self) -> dict | None:
        raw = self.r.get(self.key("kpi_snapshot"))
        return orjson.loads(raw) if raw else None

    def snapshot_version(self) -> int:
        return int(self.r.get(self.key("kpi_version")) or 0)

    def period_cache_get(self, digest: str) -> bytes | None:
        return self.r.get(f"{self.key('kpi_period')}:{digest}")

    def period_cache_set(self, digest: str, blob: bytes, ttl_seconds: int) -> None:
        self.r.set(f"{self.key('kpi_period')}:{digest}", blob, ex=ttl_seconds)

    def set_alerts(self, alerts: Mapping[str, Mapping]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.key("alerts"))
        if alerts:
            pipe.hset(self.key("alerts"), mapping={k: orjson.dumps(v) for k, v in alerts.items()})
        pipe.execute()

    def alerts(self) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in self.r.hgetall(self.key("alerts")).items()}

    # --- read-model views (ioc/views) --------------------------------------------------

    def view_key(self, name: str) -> str:
        return self.key("view", name=name)

    def publish_views(self, views: Mapping[str, bytes], versions: Mapping[str, str]) -> None:
        """Write changed views and the whole versions hash in one transaction."""
        pipe = self.r.pipeline(transaction=True)
        for name, blob in views.items():
            pipe.set(self.view_key(name), blob)
        if versions:
            pipe.hset(self.key("view_versions"), mapping=dict(versions))
        pipe.execute()

    def view_versions(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.r.hgetall(self.key("view_versions")).items()}

    def view(self, name: str) -> dict | None:
        raw = self.r.get(self.view_key(name))
        return orjson.loads(raw) if raw else None

    def views(self, *names: str) -> list[dict | None]:
        raws = self.r.mget([self.view_key(n) for n in names])
        return [orjson.loads(r) if r else None for r in raws]

    def series_key(self, name: str) -> str:
        return self.key("view_series", name=name)

    def sample_series(self, samples: Mapping[str, float | None], minute: int, keep_minutes: int) -> None:
        """Record each value at this epoch minute (replacing an earlier sample of the minute)."""
        pipe = self.r.pipeline(transaction=False)
        for name, value in samples.items():
            key = self.series_key(name)
            pipe.zremrangebyscore(key, minute, minute)
            if value is not None:
                pipe.zadd(key, {f"{minute}:{value}": minute})
            pipe.zremrangebyscore(key, "-inf", minute - keep_minutes)
        pipe.execute()

    def series(self, names: Iterable[str], since_minute: int) -> dict[str, list[tuple[int, float]]]:
        names = list(names)
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            pipe.zrangebyscore(self.series_key(name), since_minute, "+inf")
        out: dict[str, list[tuple[int, float]]] = {}
        for name, rows in zip(names, pipe.execute()):
            pts = []
            for member in rows:
                minute, value = member.decode().split(":", 1)
                pts.append((int(minute), float(value)))
            out[name] = pts
        return out

    def ping(self) -> bool:
        return bool(self.r.ping())

    def run_id(self) -> str:
        """The server's run id: a new one after every restart (what a restart lost is unknown)."""
        return str(self.r.info("server").get("run_id", ""))


def new_holder_id() -> str:
    import socket

    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}:{int(time.time())}"


_LEASE_LUA = """
local cur = redis.call('GET', KEYS[1])
if not cur or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
