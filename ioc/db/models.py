"""SQL history: the durable record behind the live Redis state.

One module holds every table so Alembic sees them all. Times are UTC (UTCDateTime);
external ids are kept as text exactly as the upstream gives them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ioc.db.types import UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrement needs INTEGER


class Base(DeclarativeBase):
    pass


# --- geography -------------------------------------------------------------------------


class AdminUnit(Base):
    """Administrative units: the current 102 communes/wards, the province, pre-2025 districts."""

    __tablename__ = "admin_units"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # "82", "28261", "old-d:cao-lanh"
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(32), index=True)  # province | commune | district_pre2025
    division_type: Mapped[str | None] = mapped_column(String(32))  # xã, phường, huyện, thành phố …
    parent_code: Mapped[str | None] = mapped_column(String(32))
    norm_name: Mapped[str] = mapped_column(String(200), index=True)  # accent-free, prefix-free key
    valid_to: Mapped[str | None] = mapped_column(String(10))  # "2025-06-30" for pre-2025 units


class Boundary(Base):
    """Polygons imported by `ioc geo import` (GeoJSON geometry text: portable, no PostGIS needed)."""

    __tablename__ = "boundaries"
    __table_args__ = (UniqueConstraint("layer", "feature_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    layer: Mapped[str] = mapped_column(String(100))  # file stem, e.g. dong_thap_districts_pre2025
    feature_key: Mapped[str] = mapped_column(String(200))  # stable id of the feature within the layer
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(32))
    unit_code: Mapped[str | None] = mapped_column(String(32), index=True)
    properties: Mapped[dict] = mapped_column(JSON, default=dict)
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON geometry, WGS84
    checksum: Mapped[str] = mapped_column(String(64))
    source_path: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- ingestion bookkeeping -------------------------------------------------------------


class SourceRun(Base):
    __tablename__ = "source_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(Text)


class SourceCursor(Base):
    """Incremental cursor per source; written in the same transaction as the batch it covers."""

    __tablename__ = "source_cursors"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuarantineRecord(Base):
    """An upstream record refused at the boundary: one row per record, not per sighting.
    ``record_key`` is ``kind:upstream id``, or ``kind:sha256:<digest of the redacted payload>``
    for a record without an id (connectors/quarantine.py); seen again, the row is updated."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source", "record_key", name="uq_quarantine_source_record"),
                      Index("ix_quarantine_source_reason", "source", "reason_code"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    record_key: Mapped[str] = mapped_column(String(240))
    record_id: Mapped[str | None] = mapped_column(String(200))
    reason_code: Mapped[str] = mapped_column(String(64))  # e.g. missing_id, outside_province (the latest)
    reason: Mapped[str] = mapped_column(Text)  # human-readable
    payload: Mapped[str] = mapped_column(Text)  # raw record as last seen, safely truncated
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)  # polls that read it


# --- hotline 1022 ----------------------------------------------------------------------


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32), default="hotline")
    # alone, too: the KPI snapshot re-reads changed tickets by external_id (the hotline change
    # stream's ids); the (source, external_id) key cannot serve that on PostgreSQL (a full scan)
    external_id: Mapped[str] = mapped_column(String(100), index=True)
    service_code: Mapped[str | None] = mapped_column(String(64), index=True)
    service_name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    workflow_state: Mapped[str | None] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    commune_code: Mapped[str | None] = mapped_column(String(32), index=True)
    district_pre2025: Mapped[str | None] = mapped_column(String(100))
    assign_method: Mapped[str | None] = mapped_column(String(32))  # point | address | upstream | none
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    resolution_level: Mapped[int | None] = mapped_column(Integer)
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))


class TicketStatusChange(Base):
    __tablename__ = "ticket_status_changes"
    __table_args__ = (UniqueConstraint("ticket_external_id", "at", "state"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_external_id: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


# --- cameras ---------------------------------------------------------------------------


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(Text)
    commune_code: Mapped[str | None] = mapped_column(String(32), index=True)
    assign_method: Mapped[str | None] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(200), index=True)
    vms_type: Mapped[str | None] = mapped_column(String(64))
    hls_url: Mapped[str | None] = mapped_column(Text)
    snapshot_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # online | offline | degraded | unknown
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fps: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CameraStatusChange(Base):
    __tablename__ = "camera_status_changes"
    __table_args__ = (UniqueConstraint("camera_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))


# --- environment (SensorThings) ---------------------------------------------------------


class Station(Base):
    __tablename__ = "stations"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # Thing @iot.id
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32), index=True)  # air | water | iot_water | insect
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    commune_code: Mapped[str | None] = mapped_column(String(32))
    assign_method: Mapped[str | None] = mapped_column(String(32))
    properties: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Datastream(Base):
    __tablename__ = "datastreams"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # Datastream @iot.id
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    parameter: Mapped[str] = mapped_column(String(32))  # normalised code: pm25, do, salinity …
    unit: Mapped[str] = mapped_column(String(32))  # normalised unit symbol
    source_unit: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Observation(Base):
    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("datastream_id", "phenomenon_time", name="uq_obs_stream_time"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    datastream_id: Mapped[str] = mapped_column(String(100))
    phenomenon_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    result: Mapped[float] = mapped_column(Float)
    upstream_id: Mapped[str | None] = mapped_column(String(100))


# --- administrative procedures (QĐ 766) -----------------------------------------------


class Procedure(Base):
    __tablename__ = "procedures"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)  # MaTTHC
    name: Mapped[str] = mapped_column(Text)
    sector: Mapped[str | None] = mapped_column(String(200))
    online_level: Mapped[str | None] = mapped_column(String(32))  # toan_trinh | mot_phan | none
    has_fee: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Dossier(Base):
    __tablename__ = "dossiers"
    # (finished, received, due): "open and past due at a boundary" — finished later, received
    # and due before — is answered inside the index; finished_at alone fetched every row
    # finished since the boundary (two months of them for last month's previous period).
    __table_args__ = (Index("ix_dossiers_finished_at", "finished_at", "received_at", "due_at"),)
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # MaHoSo
    procedure_code: Mapped[str | None] = mapped_column(String(64), index=True)
    agency: Mapped[str | None] = mapped_column(String(200), index=True)
    commune_code: Mapped[str | None] = mapped_column(String(32), index=True)
    channel: Mapped[int | None] = mapped_column(Integer)  # KenhThucHien: 1 in person, 2 online, 3 post
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str | None] = mapped_column(String(32))
    supplement_requests: Mapped[int] = mapped_column(Integer, default=0)
    supplement_wait_hours: Mapped[float] = mapped_column(Float, default=0.0)
    paid_online: Mapped[bool | None] = mapped_column(Boolean)
    electronic_result: Mapped[bool | None] = mapped_column(Boolean)
    digitised: Mapped[bool | None] = mapped_column(Boolean)
    data_reused: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1–5
    complaint: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- people, briefings, alerts, audit --------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))  # admin | operator | leader | sector
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # migration 0006_auth (docs/security.md): a sector user's scope and the personal-data permission
    sectors: Mapped[list] = mapped_column(JSON, default=list)  # hotline | cameras | environment | procedures
    communes: Mapped[list] = mapped_column(JSON, default=list)  # 5-digit codes; empty = every commune
    pii: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthSession(Base):
    """A signed-in browser: the cookie holds a random token, the row only its keyed hash."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC-SHA256(secret key, token), hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client: Mapped[str | None] = mapped_column(String(64))


class LoginFailure(Base):
    """One failed login, counted per user name and per client address (ioc.auth.throttle)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)


class Device(Base):
    """A wall display: enrolled once through a one-time link, then a long-lived credential bound
    to read-only wall access; revoking it refuses its next request."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    enrol_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 of the link's token
    enrol_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credential_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 of the cookie's token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(100))
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Briefing(Base):
    __tablename__ = "briefings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # daily | weekly
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # pending | done | failed
    path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # migration 0005_briefings (docs/briefings.md): the local day, the post-render checks and the file
    last_day: Mapped[date | None] = mapped_column(Date, index=True)  # the --date: the day, or the week's last day
    checks: Mapped[list | None] = mapped_column(JSON)
    pages: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # migration 0008_briefing_mail: why it failed (a code: ioc.views.briefing_text), the summary, the mail's outcome
    reason: Mapped[str | None] = mapped_column(String(32))  # no_data | not_begun | input | figures | write | checks
    summary: Mapped[str | None] = mapped_column(Text)  # the summary paragraph: the mail's text
    mail_status: Mapped[str | None] = mapped_column(String(16))  # unset (not to be mailed) | pending | sent | failed | gave-up
    mail_attempts: Mapped[int | None] = mapped_column(Integer)
    mail_error: Mapped[str | None] = mapped_column(Text)
    mail_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last attempt


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), index=True)  # rule:subject, de-duplication key
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))  # info | warning | critical
    state: Mapped[str] = mapped_column(String(16))  # active | resolved
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(100))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class PiiAccess(Base):
    """Each time personal data (reporters' names, phones, e-mails, exact addresses) was shown
    or exported unmasked: who, when, which records, why (ioc/views/privacy.py). Append-only:
    the app has no update or delete path, and triggers refuse both (migration 0007)."""

    __tablename__ = "pii_access_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)  # the user's name
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # view | export
    surface: Mapped[str] = mapped_column(String(100))  # e.g. map.ticket, map.export.csv
    record_kind: Mapped[str] = mapped_column(String(32))  # ticket
    record_ids: Mapped[list] = mapped_column(JSON)  # the records' own ids, in the order shown
    record_count: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)


# --- KPI daily rollups ------------------------------------------------------------------


class HistoryTouch(Base):
    """Which stretch of history a connector batch changed (written in the batch's own
    transaction), so the daily KPI rollups of those days are recomputed: one row per
    domain and UTC day touched, ``lo``…``hi`` the earliest and latest time changed in it."""

    __tablename__ = "history_touches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    domain: Mapped[str] = mapped_column(String(32))  # cameras | environment | procedures
    lo: Mapped[datetime] = mapped_column(UTCDateTime)
    hi: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class KpiDayPart(Base):
    """The additive KPI figures of one closed local day (JSON, see ioc.kpi.rollups): period
    queries add these up instead of re-reading a month of raw history."""

    __tablename__ = "kpi_day_parts"
    domain: Mapped[str] = mapped_column(String(32), primary_key=True)
    tz: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
