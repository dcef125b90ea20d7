"""Write side of the read model: after each KPI snapshot, the scheduler publishes each panel's
facts under its own small key, with a digest per panel in one hash that pages poll.

A panel whose facts did not change keeps its key and digest, so pages re-render only what
changed. Digests are compared with what Redis holds (not with memory), so after a Redis restart
the next publish writes everything again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timezone

import orjson

from ioc.views import facts

SERIES_KEEP_MINUTES = 7 * 24 * 60


def digest(blob: bytes) -> str:
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def publish(store, snapshot: Mapping, now: datetime | None = None) -> list[str]:
    """Publish every panel of ``snapshot``; returns the names of the panels that changed."""
    now = now or datetime.now(timezone.utc)
    blobs = {name: orjson.dumps(build(snapshot), option=orjson.OPT_NON_STR_KEYS)
             for name, build in facts.PANELS.items()}
    held = store.view_versions()
    versions = {name: digest(blob) for name, blob in blobs.items()}
    changed = {name: blobs[name] for name, d in versions.items() if held.get(name) != d}
    # `meta` says when the figures were computed: readers judge the snapshot's age from it
    versions["meta"] = snapshot.get("generated_at") or now.isoformat()
    store.publish_views(changed, versions)
    tile_facts = orjson.loads(blobs["tiles"])
    store.sample_series(facts.headline_samples(tile_facts), int(now.timestamp() // 60), SERIES_KEEP_MINUTES)
    return sorted(changed)
