"""Validated records at the boundary between upstreams and our stores.

Connectors map upstream payloads to these; anything that does not validate goes to the
quarantine with the reason. Times are aware UTC; texts are bounded and stripped of markup
so a hostile upstream cannot push a 100 kB string or a <script> onto the wall.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAX_TEXT = 4_000  # Open311's description limit; applied to every free text
FUTURE_TOLERANCE = timedelta(minutes=10)  # clock skew we accept before calling a time "future"
_TAG = re.compile(r"<[^>]{0,200}>")


def clean_text(value: str | None) -> str | None:
    """Drop markup, unescape entities, collapse whitespace, bound the length."""
    if value is None:
        return None
    text = _TAG.sub(" ", str(value))
    text = html.unescape(text)
    text = _TAG.sub(" ", text)  # markup that arrived entity-encoded ("&lt;script&gt;") is markup too
    text = " ".join(text.split())
    return text[:MAX_TEXT] or None


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime without a time zone")
    return value.astimezone(timezone.utc)


_clock = [0.0, datetime.now(timezone.utc)]


def utc_now() -> datetime:
    """Wall clock, read at most once a second: validating a million records must not
    cost a million clock reads."""
    import time

    tick = time.monotonic()
    if tick - _clock[0] > 1.0:
        _clock[0], _clock[1] = tick, datetime.now(timezone.utc)
    return _clock[1]


def not_future(value: datetime) -> datetime:
    if value > utc_now() + FUTURE_TOLERANCE:
        raise ValueError(f"timestamp {value.isoformat()} is in the future")
    return value


def _bounded(limit: int):
    """Free text cleaned and cut to `limit` characters (the width of its SQL column)."""

    def check(value):
        text = clean_text(value)
        return None if text is None else text[:limit]

    return AfterValidator(check)


def _required(limit: int):
    """A name: cleaned, cut to `limit`, and not empty once cleaned."""

    def check(value):
        text = clean_text(value)
        if text is None:
            raise ValueError("empty once markup and whitespace are removed")
        return text[:limit]

    return AfterValidator(check)


def _code(limit: int):
    """A code (not cut: a truncated code would be another code): at most `limit` characters."""

    def check(value):
        if value is None:
            return None
        text = clean_text(value)
        if text is not None and len(text) > limit:
            raise ValueError(f"longer than {limit} characters")
        return text

    return AfterValidator(check)


Text = Annotated[str | None, AfterValidator(clean_text)]
Name200 = Annotated[str | None, _bounded(200)]
Code = lambda limit: Annotated[str | None, _code(limit)]  # noqa: E731
UTC = Annotated[datetime, AfterValidator(to_utc)]
PastUTC = Annotated[datetime, AfterValidator(to_utc), AfterValidator(not_future)]
Id = Annotated[str, Field(min_length=1, max_length=100)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    def as_json(self) -> dict:
        return self.model_dump(mode="json")


class TicketRecord(Record):
    external_id: Id
    service_code: Code(64) = None
    service_name: Name200 = None
    channel: Code(32) = None
    status: Literal["open", "closed"]
    workflow_state: Code(32) = None
    agency: Name200 = None
    description: Text = None
    address: Text = None
    lat: Lat | None = None
    lon: Lon | None = None
    commune_code: Code(32) = None
    district_pre2025: Code(100) = None
    assign_method: Code(32) = None
    requested_at: PastUTC
    updated_at: PastUTC
    expected_at: UTC | None = None
    answered_at: PastUTC | None = None
    reopened_count: int = Field(0, ge=0)
    resolution_level: int | None = Field(None, ge=1, le=3)
    reporter_name: Name200 = None
    reporter_phone: Annotated[str | None, Field(max_length=32)] = None
    history: tuple[tuple[datetime, str, str | None], ...] = ()  # (at, state, note)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v):
        return str(v).strip().lower() if v is not None else v


class CameraRecord(Record):
    id: Id
    name: Annotated[str, _required(300)]
    lat: Lat | None = None
    lon: Lon | None = None
    address: Text = None
    commune_code: Code(32) = None
    assign_method: Code(32) = None
    agency: Name200 = None
    vms_type: Code(64) = None
    hls_url: Text = None
    snapshot_url: Text = None
    status: Literal["online", "offline", "degraded", "unknown"]
    status_reason: Text = None
    last_seen: PastUTC | None = None
    fps: float | None = Field(None, ge=0, le=240)
    updated_at: PastUTC

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v):
        return str(v).strip().lower() if v is not None else "unknown"


class StationRecord(Record):
    id: Id
    name: Annotated[str, _required(300)]
    kind: Literal["air", "water", "iot_water", "insect", "other"]
    lat: Lat | None = None
    lon: Lon | None = None
    commune_code: Code(32) = None
    assign_method: Code(32) = None
    properties: dict = Field(default_factory=dict)


class DatastreamRecord(Record):
    id: Id
    station_id: Id
    name: Annotated[str, _required(300)]
    parameter: Annotated[str, Field(min_length=1, max_length=32)]
    unit: Annotated[str, Field(max_length=32)]
    source_unit: Annotated[str | None, Field(max_length=64)] = None
    factor: float = 1.0  # multiply upstream results by this to get `unit`


class ObservationRecord(Record):
    datastream_id: Id
    phenomenon_time: PastUTC
    result: float
    upstream_id: str | None = None

    @field_validator("result")
    @classmethod
    def _finite(cls, v: float) -> float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("result is not a finite number")
        return v


class ObservationRow(NamedTuple):
    """An observation already checked field by field by its parser (same checks as
    ObservationRecord). A tuple, because a backfill builds millions of them."""

    datastream_id: str
    phenomenon_time: datetime
    result: float
    upstream_id: str | None = None


class ProcedureRecord(Record):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, _required(MAX_TEXT)]
    sector: Name200 = None
    online_level: Code(32) = None
    has_fee: bool = False


class DossierRecord(Record):
    id: Id
    procedure_code: Code(64) = None
    agency: Name200 = None
    commune_code: Code(32) = None
    channel: int | None = Field(None, ge=1, le=3)
    received_at: PastUTC
    due_at: UTC | None = None
    finished_at: PastUTC | None = None
    status: Code(32) = None
    supplement_requests: int = Field(0, ge=0, le=2_147_483_647)  # an SQL INTEGER
    supplement_wait_hours: float = Field(0.0, ge=0)
    paid_online: bool | None = None
    electronic_result: bool | None = None
    digitised: bool | None = None
    data_reused: bool | None = None
    satisfaction: int | None = Field(None, ge=1, le=5)
    complaint: bool | None = None
    updated_at: PastUTC
