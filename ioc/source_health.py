"""Freshness of a source, derived from its health hash at read time.

A connector that dies cannot update its own state, so readers never trust a stored
"fresh": they derive the state from the last success, the poll interval and now.
"""

from __future__ import annotations

from datetime import datetime, timezone

# Age of the last success, in poll intervals, beyond which a source is late / stale.
LATE_AFTER = 2.5
STALE_AFTER = 6.0
FAILING_AFTER = 3  # consecutive failed polls
STATES = ("fresh", "late", "stale", "failing", "unknown")


def derive_state(health: dict[str, str], now: datetime | None = None) -> str:
    """fresh | late | stale | failing | unknown (never polled successfully)."""
    if not health:
        return "unknown"
    now = now or datetime.now(timezone.utc)
    failures = int(health.get("consecutive_failures") or 0)
    if failures >= FAILING_AFTER:
        return "failing"
    last = health.get("last_success")
    if not last:
        return "failing" if failures else "unknown"
    interval = float(health.get("interval_seconds") or 60)
    age = (now - datetime.fromisoformat(last)).total_seconds()
    if age > STALE_AFTER * interval:
        return "stale"
    if age > LATE_AFTER * interval or failures:
        return "late"
    return "fresh"
