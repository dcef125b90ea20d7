"""A pure alert engine: rules → conditions → :func:`evaluate` → states + events.

Nothing here touches Redis or SQL: the caller keeps the returned states (e.g. as JSON in
Redis via :meth:`AlertState.to_dict` / :meth:`AlertState.from_dict`) and writes
``raised``/``cleared`` events to the ``alerts`` table.

Model
-----
A rule produces one :class:`Condition` per subject and evaluation. Besides
``key, rule, severity, value, message`` a condition says

* ``raising`` — does the raise criterion hold now (value ≥ raise threshold, device
  offline …)? ``None`` = unknown (no data);
* ``clearing`` — does the clear criterion hold now (value < clear threshold, device back
  online …)? ``None`` = unknown. With two thresholds the band between them satisfies
  neither: an active alert stays active there and a pending one is reset.

Per key (de-duplication: one alert per key; severity may change while active):

* ``ok`` → ``pending`` after the first raising evaluation, → ``active`` once it has
  held for ``raise_after`` consecutive evaluations (an evaluation where it does not hold
  resets the count; an unknown one neither counts nor resets);
* ``active`` → ``resolved`` once ``clearing`` held for ``clear_after`` consecutive
  evaluations (a non-clearing evaluation resets; unknown neither counts nor resets);
* acknowledgement (:func:`acknowledge`) sticks until the alert resolves; a re-raise
  starts un-acknowledged.

"No data" never counts as zero: a missing value neither raises nor clears; the
:func:`no_data_condition` rule can raise a separate ``no_data:…`` alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from numbers import Real

__all__ = [
    "SEVERITIES",
    "AlertEvent",
    "AlertState",
    "Condition",
    "acknowledge",
    "evaluate",
    "flag_condition",
    "no_data_condition",
    "offline_condition",
    "overdue_surge_condition",
    "stale_source_conditions",
    "threshold_condition",
]

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Condition:
    key: str
    rule: str
    severity: str
    value: float | None
    message: str
    raising: bool | None
    clearing: bool | None
    details: Mapping = field(default_factory=dict)
    raise_after: int | None = None  # overrides evaluate()'s default when set
    clear_after: int | None = None

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not self.key:
            raise ValueError("condition key must not be empty")


@dataclass(frozen=True)
class AlertState:
    key: str
    rule: str
    severity: str
    state: str  # pending | active | resolved
    value: float | None
    message: str
    hits: int = 0  # consecutive raising evaluations (pending)
    misses: int = 0  # consecutive clearing evaluations (active)
    pending_since: datetime | None = None
    first_at: datetime | None = None  # when it became active
    last_at: datetime | None = None  # last evaluation that saw it raising / active
    resolved_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("pending_since", "first_at", "last_at", "resolved_at", "acked_at"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> AlertState:
        data = dict(d)
        for k in ("pending_since", "first_at", "last_at", "resolved_at", "acked_at"):
            if isinstance(data.get(k), str):
                data[k] = datetime.fromisoformat(data[k])
        return cls(**data)


@dataclass(frozen=True)
class AlertEvent:
    kind: str  # raised | cleared | escalated | deescalated
    key: str
    state: AlertState


def _is_number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and v == v  # not NaN


def evaluate(
    previous_states: Mapping[str, AlertState],
    conditions: Iterable[Condition],
    now: datetime,
    *,
    raise_after: int = 2,
    clear_after: int = 2,
    absent: str = "hold",
    keep_resolved: bool = False,
) -> tuple[dict[str, AlertState], list[AlertEvent]]:
    """One evaluation round. Returns ``(states, events)``.

    ``states`` holds pending and active alerts (and resolved ones when
    ``keep_resolved``); ``events`` lists what changed (``raised``, ``cleared``,
    ``escalated``/``deescalated`` when an active alert's severity changes).
    Keys in ``previous_states`` without a condition this round: ``absent="hold"`` keeps
    them unchanged (not evaluated); ``absent="clear"`` treats them as clearing.
    Duplicate keys in ``conditions``: the most severe wins.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if raise_after < 1 or clear_after < 1:
        raise ValueError("raise_after and clear_after must be >= 1")
    if absent not in ("hold", "clear"):
        raise ValueError(f"absent must be 'hold' or 'clear', got {absent!r}")
    by_key: dict[str, Condition] = {}
    for c in conditions:
        old = by_key.get(c.key)
        if old is None or SEVERITIES.index(c.severity) > SEVERITIES.index(old.severity):
            by_key[c.key] = c
    states: dict[str, AlertState] = {}
    events: list[AlertEvent] = []

    keys = list(previous_states) + [k for k in by_key if k not in previous_states]
    for key in keys:
        prev = previous_states.get(key)
        if prev is not None and prev.state == "resolved":
            prev = None  # a resolved alert starts afresh
        cond = by_key.get(key)
        if cond is None:
            if prev is None:
                continue
            if absent == "hold":
                states[key] = prev
                continue
            cond = Condition(key, prev.rule, prev.severity, None, prev.message, raising=False, clearing=True)
        n_raise = cond.raise_after or raise_after
        n_clear = cond.clear_after or clear_after
        if prev is None or prev.state == "pending":
            hits = prev.hits if prev is not None else 0
            if cond.raising is None:
                if prev is not None:
                    states[key] = prev  # unknown: no change
                continue
            if not cond.raising:
                continue  # reset: pending dropped
            hits += 1
            pending_since = prev.pending_since if prev is not None else now
            base = AlertState(key, cond.rule, cond.severity, "pending", cond.value, cond.message,
                              hits=hits, pending_since=pending_since, last_at=now, details=dict(cond.details))
            if hits >= n_raise:
                base = replace(base, state="active", first_at=now, misses=0)
                events.append(AlertEvent("raised", key, base))
            states[key] = base
            continue
        # active
        if cond.clearing is None and cond.raising is None:
            states[key] = prev  # no data: hold, nothing updated
            continue
        if cond.clearing is None:
            misses = prev.misses  # unknown: neither counts nor resets
        else:
            misses = prev.misses + 1 if cond.clearing else 0
        updated = replace(prev, value=cond.value if cond.value is not None else prev.value,
                          message=cond.message, misses=misses, details=dict(cond.details) or prev.details)
        if cond.raising:
            updated = replace(updated, last_at=now)
            if cond.severity != prev.severity:
                kind = "escalated" if SEVERITIES.index(cond.severity) > SEVERITIES.index(prev.severity) else "deescalated"
                updated = replace(updated, severity=cond.severity)
                events.append(AlertEvent(kind, key, updated))
        if misses >= n_clear:
            resolved = replace(updated, state="resolved", resolved_at=now, acked_by=None, acked_at=None, hits=0)
            events.append(AlertEvent("cleared", key, resolved))
            if keep_resolved:
                states[key] = resolved
            continue
        states[key] = updated
    return states, events


def acknowledge(states: Mapping[str, AlertState], key: str, by: str, at: datetime) -> dict[str, AlertState]:
    """Mark an active alert acknowledged; returns new states. Unknown/inactive key → KeyError/ValueError."""
    if key not in states:
        raise KeyError(f"no alert with key {key!r}")
    st = states[key]
    if st.state != "active":
        raise ValueError(f"alert {key!r} is {st.state}, only active alerts can be acknowledged")
    out = dict(states)
    out[key] = replace(st, acked_by=by, acked_at=at)
    return out


# --- rules ------------------------------------------------------------------------------


def threshold_condition(
    key: str,
    rule: str,
    value: float | None,
    raise_at: float,
    clear_at: float | None = None,
    *,
    severity: str = "warning",
    above: bool = True,
    message: str | None = None,
    details: Mapping | None = None,
) -> Condition:
    """Threshold with hysteresis: raise when value ≥ ``raise_at`` (or ≤ when
    ``above=False``), clear when value < ``clear_at`` (> for below). ``clear_at``
    defaults to ``raise_at``. ``value`` None/NaN → unknown (neither raises nor clears)."""
    clear_at = raise_at if clear_at is None else clear_at
    if above and clear_at > raise_at or not above and clear_at < raise_at:
        raise ValueError(f"{key}: clear threshold {clear_at} must be on the safe side of {raise_at}")
    if not _is_number(value):
        raising = clearing = None
        value = None
    elif above:
        raising, clearing = value >= raise_at, value < clear_at
    else:
        raising, clearing = value <= raise_at, value > clear_at
    msg = message or (
        f"{key}: no data" if value is None else f"{key}: {value:g} {'≥' if above else '≤'} {raise_at:g}"
    )
    return Condition(key, rule, severity, value, msg, raising, clearing, dict(details or {}))


def flag_condition(key: str, rule: str, holds: bool | None, *, severity: str = "warning",
                   value: float | None = None, message: str = "", details: Mapping | None = None) -> Condition:
    """Boolean condition: raising = holds, clearing = not holds, None = unknown."""
    clearing = None if holds is None else not holds
    return Condition(key, rule, severity, value, message or key, holds, clearing, dict(details or {}))


def offline_condition(
    subject: str,
    status: str | None,
    since: datetime | None,
    now: datetime,
    *,
    min_offline: timedelta = timedelta(minutes=15),
    severity: str = "warning",
    rule: str = "offline",
) -> Condition:
    """A device offline for at least ``min_offline``. Status ``online``/``degraded`` →
    clears; ``offline`` with a shorter or unknown duration → neither; ``unknown``/None →
    no data. ``value`` = hours offline."""
    key = f"{rule}:{subject}"
    st = (status or "").strip().lower()
    if st in ("online", "degraded"):
        return flag_condition(key, rule, False, severity=severity, message=f"{subject} online")
    if st != "offline":
        return Condition(key, rule, severity, None, f"{subject}: status unknown", None, None)
    if since is None:
        return Condition(key, rule, severity, None, f"{subject} offline (since unknown)", None, False)
    hours = (now - since).total_seconds() / 3600.0
    holds = now - since >= min_offline
    return Condition(key, rule, severity, round(hours, 2), f"{subject} offline for {hours:.1f} h",
                     holds, False, {"since": since.isoformat()})


def overdue_surge_condition(
    subject: str,
    current: int | None,
    baseline: float | None,
    *,
    ratio: float = 1.5,
    min_increase: int = 5,
    clear_ratio: float = 1.2,
    severity: str = "warning",
    rule: str = "overdue_surge",
) -> Condition:
    """A surge in overdue tickets: raise when current ≥ max(baseline × ratio,
    baseline + min_increase); clear below max(baseline × clear_ratio, baseline +
    min_increase/2). Baseline e.g. the mean overdue count of the previous 7 days.
    No current value or no baseline → unknown."""
    key = f"{rule}:{subject}"
    if not _is_number(current) or not _is_number(baseline):
        return Condition(key, rule, severity, None, f"{subject}: overdue trend unknown (no data)", None, None)
    raise_at = max(baseline * ratio, baseline + min_increase)
    clear_at = max(baseline * clear_ratio, baseline + min_increase / 2)
    return threshold_condition(
        key, rule, float(current), raise_at, min(clear_at, raise_at), severity=severity,
        message=f"{subject}: {current} overdue tickets (usual {baseline:.1f})",
        details={"baseline": baseline, "raise_at": raise_at, "clear_at": clear_at},
    )


def stale_source_conditions(health: Mapping[str, str | None], rule: str = "source") -> list[Condition]:
    """Source health → conditions: ``stale`` → warning, ``failing`` → critical,
    ``ok``/``healthy`` → clearing, anything else/None → unknown (no data)."""
    out = []
    for source, state in sorted(health.items()):
        key = f"{rule}:{source}"
        st = (state or "").strip().lower()
        if st == "failing":
            out.append(flag_condition(key, rule, True, severity="critical", message=f"source {source} failing"))
        elif st == "stale":
            out.append(flag_condition(key, rule, True, severity="warning", message=f"source {source} stale"))
        elif st in ("ok", "healthy", "fresh"):
            out.append(flag_condition(key, rule, False, severity="warning", message=f"source {source} ok"))
        else:
            out.append(Condition(key, rule, "warning", None, f"source {source}: health unknown", None, None))
    return out


def no_data_condition(
    subject: str,
    last_at: datetime | None,
    now: datetime,
    max_age: timedelta,
    *,
    severity: str = "info",
    rule: str = "no_data",
) -> Condition:
    """Separate "no data" alert for a subject whose newest value is older than
    ``max_age`` (or never seen). Fresh data clears it."""
    key = f"{rule}:{subject}"
    if last_at is None:
        return flag_condition(key, rule, True, severity=severity, message=f"{subject}: no data ever received")
    age = now - last_at
    hours = age.total_seconds() / 3600.0
    return flag_condition(key, rule, age > max_age, severity=severity, value=round(hours, 2),
                          message=f"{subject}: newest data {hours:.1f} h old")
