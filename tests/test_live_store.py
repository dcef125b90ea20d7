import time

from ioc.live_store import EVENT_STREAM_MAXLEN, Change, LiveStore


def test_apply_changes_writes_latest_events_and_bumps_versions(live_store: LiveStore):
    v0 = live_store.version()
    n = live_store.apply_changes("cameras", [
        Change("c1", {"status": "online"}, "new", "2026-01-01T00:00:00Z"),
        Change("c2", {"status": "offline"}, "new", "2026-01-01T00:00:00Z"),
    ])
    assert n == 2
    assert live_store.latest("cameras") == {"c1": {"status": "online"}, "c2": {"status": "offline"}}
    assert live_store.version() == v0 + 1
    live_store.apply_changes("cameras", [Change("c1", {}, "removed", "2026-01-01T01:00:00Z")])
    assert set(live_store.latest("cameras")) == {"c2"}
    events = live_store.recent_events("cameras")
    assert [e["kind"] for e in events] == ["removed", "new", "new"]
    assert live_store.version() == v0 + 2


def test_event_stream_is_bounded(live_store: LiveStore):
    changes = [Change(f"t{i}", {"i": i}, "new", "2026-01-01T00:00:00Z") for i in range(EVENT_STREAM_MAXLEN + 3_000)]
    live_store.apply_changes("hotline", changes)
    length = live_store.r.xlen(live_store.key("events", "hotline"))
    # MAXLEN ~ trims by whole radix-tree nodes: bounded near the cap, never the full 13,000.
    assert EVENT_STREAM_MAXLEN <= length < EVENT_STREAM_MAXLEN + 3_000
    assert live_store.latest_count("hotline") == EVENT_STREAM_MAXLEN + 3_000


def test_keys_of_one_source_share_a_cluster_hash_tag(live_store: LiveStore):
    keys = [live_store.key(name, "environment") for name in ("latest", "events", "health", "cursor", "lock")]
    assert all("{environment}" in k for k in keys)


def test_lease_is_exclusive_renewable_and_taken_over_after_expiry(live_store: LiveStore):
    assert live_store.acquire_lease("hotline", "host-a", ttl_ms=300)
    assert not live_store.acquire_lease("hotline", "host-b", ttl_ms=300)
    assert live_store.acquire_lease("hotline", "host-a", ttl_ms=300)  # renewal
    time.sleep(0.4)  # host-a died: its lease runs out
    assert live_store.acquire_lease("hotline", "host-b", ttl_ms=300)
    assert live_store.lease_holder("hotline") == "host-b"
    live_store.release_lease("hotline", "host-a")  # not the holder: no effect
    assert live_store.lease_holder("hotline") == "host-b"
    live_store.release_lease("hotline", "host-b")
    assert live_store.lease_holder("hotline") is None


def test_health_snapshot_alerts_and_replace(live_store: LiveStore):
    live_store.set_health("hotline", {"state": "fresh", "consecutive_failures": 0, "last_error": None})
    assert live_store.all_health()["hotline"] == {"state": "fresh", "consecutive_failures": "0", "last_error": ""}
    assert live_store.all_health()["cameras"] == {}
    live_store.set_snapshot({"hotline": {"received": 3}}, data_version=7)
    assert live_store.snapshot() == {"hotline": {"received": 3}} and live_store.snapshot_version() == 7
    live_store.replace_latest("cameras", {"a": {"x": 1}})
    live_store.replace_latest("cameras", {"b": {"x": 2}})
    assert live_store.latest("cameras") == {"b": {"x": 2}}
    live_store.count_quarantined({("hotline", "missing_id"): 2})
    live_store.count_quarantined({("hotline", "missing_id"): 1})
    assert live_store.quarantine_counts() == {"hotline:missing_id": 3}
