"""One settings object for every process: env vars prefixed ``IOC_`` and an optional ``.env``.

Every field here is documented in docs/configuration.md with its default and what it does;
tests/test_docs.py checks the default and observes the effect of each one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ioc.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Demo boundaries live beside the repository (../shared/geo): the GADM-derived district files
# are read from there, never copied in. The 102 current communes (MIT) ship in geo/data so a
# clone without ../shared still has its map.
SHARED_GEO = PROJECT_ROOT.parent / "shared" / "geo"
SHIPPED_COMMUNES = PROJECT_ROOT / "geo" / "data" / "communes_2025_dong_thap.geojson"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IOC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    redis_url: str | None = Field(
        None, description="Redis URL. Unset: the product starts its own redis-server under data_dir."
    )
    redis_prefix: str = Field("ioc", description="Prefix of every Redis key the product owns.")
    redis_sentinels: str | None = Field(
        None, description="Redis Sentinel addresses, host:port,host:port; set: the product asks them for the "
        "master (IOC_REDIS_SENTINEL_MASTER) instead of IOC_REDIS_URL, and follows failovers.")
    redis_sentinel_master: str = Field("ioc", description="Name of the master the sentinels monitor.")
    redis_sentinel_password: SecretStr | None = Field(
        None, description="Password of the sentinels (their requirepass), if any. Secret.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL. Unset: SQLite file ioc.db under data_dir."
    )
    data_dir: Path = Field(Path("./var"), description="Where local state lives (SQLite file, own Redis with its AOF and log).")
    boundaries: Path | None = Field(
        None, description="Boundary file or folder to import by default. Unset: ../shared/geo when present, "
        "else the 102 communes shipped in geo/data."
    )
    timezone: str = Field("Asia/Ho_Chi_Minh", description="Time zone for display and day boundaries.")
    language: Literal["vi", "en"] = Field("vi", description="Default UI language.")

    hotline_url: str | None = Field(None, description="Open311 endpoint holding services.json and requests.json.")
    hotline_api_key: SecretStr | None = Field(None, description="API key for the hotline (POST and private fields).")
    cameras_url: str | None = Field(None, description="Base URL of the camera registry API.")
    cameras_token: SecretStr | None = Field(None, description="Bearer token for the camera registry.")
    snapshot_hosts: str | None = Field(
        None, description="Comma-separated host:port (or host: ports 80 and 443) the server may fetch camera "
        "snapshots from besides the camera registry's own host:port (docs/security.md § Camera stream addresses).")
    environment_url: str | None = Field(None, description="SensorThings service root, ending in /v1.1.")
    environment_username: str | None = Field(None, description="Basic-auth user for SensorThings, if any.")
    environment_password: SecretStr | None = Field(None, description="Basic-auth password for SensorThings, if any.")
    procedures_url: str | None = Field(None, description="Base URL of the dossier feed and procedure catalogue.")
    procedures_api_key: SecretStr | None = Field(None, description="API key for the dossier feed.")

    hotline_interval: float = Field(60.0, gt=0, description="Seconds between hotline polls.")
    cameras_interval: float = Field(30.0, gt=0, description="Seconds between camera registry polls.")
    environment_interval: float = Field(60.0, gt=0, description="Seconds between SensorThings polls.")
    procedures_interval: float = Field(120.0, gt=0, description="Seconds between dossier feed polls.")
    reconcile_interval: float = Field(3600.0, gt=0, description="Seconds between a connector's reconciliations "
                                      "(re-reading its source's recent window authoritatively).")

    web_host: str = Field("127.0.0.1", description="Address the web server binds.")
    web_port: int = Field(8050, ge=1, le=65535, description="Port of the web server.")
    sim_port: int = Field(8060, ge=1, le=65535, description="Port of the demo simulator started by `ioc up`.")
    wall_playlist: str = Field(
        "hotline_overdue,cameras_offline,worst_stations,qd766_agencies",
        description="Focus panels the wall rotates through, in order (comma-separated).")
    wall_rotate_seconds: float = Field(20.0, ge=5, description="Seconds each wall focus panel stays on screen.")
    basemap_url: str | None = Field(None, description="Tile URL template for the sector map (/map); unset = no tiles (offline).")
    secret_key: SecretStr | None = Field(
        None, description="Key of the session tokens' HMAC (docs/security.md). Unset: a random key kept in "
        "data_dir/secret_key (created once, mode 0600). Changing it signs every person out.")
    session_idle_minutes: float = Field(30.0, gt=0, description="A signed-in session ends after this many minutes "
                                        "without a request.")
    session_max_hours: float = Field(12.0, gt=0, description="A signed-in session ends this many hours after the "
                                     "login, whatever the activity.")
    trusted_proxies: int = Field(
        0, ge=0, le=5, description="Reverse proxies in front of the web server (nginx: 1). Above 0 the client "
        "address and scheme are read from the X-Forwarded-For/-Proto headers they set (werkzeug ProxyFix).")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto", description="Secure flag of the session and device cookies: auto = when the request came over HTTPS.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Level of the product's own log lines (loggers ioc.*) in every process.")

    # briefings (docs/briefings.md): the scheduler's slots, the font, the mail
    briefing_daily: str = Field("07:00", description="Local time of the daily briefing (of yesterday), HH:MM, or off.")
    briefing_weekly: str = Field("mon@07:30", description="Day and local time of the weekly briefing, DAY@HH:MM, or off.")
    briefing_catch_up_days: int = Field(2, ge=0, le=31, description="Missed briefings due this many days back are made.")
    briefing_font_dir: Path | None = Field(None, description="Folder holding NotoSans-Regular.ttf or DejaVuSans.ttf.")
    briefing_recipients: str | None = Field(None, description="Comma-separated addresses the briefings are mailed to.")
    smtp_host: str | None = Field(None, description="SMTP server that mails the briefings; unset: nothing is mailed.")
    smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password. Secret.")
    smtp_from: str = Field("ioc@localhost", description="Sender address of the briefing mails.")

    # monitoring (docs/monitoring.md): who may read the web's /metrics, the other processes' ports
    metrics_allow: str | None = Field(
        None, description="Comma-separated CIDR networks (besides loopback) allowed to read the web's /metrics.")
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token that opens the web's /metrics from any address. Secret.")
    metrics_host: str = Field("127.0.0.1", description="Address the connectors', KPI and briefing schedulers' "
                              "/metrics listen on.")
    connectors_metrics_port: int = Field(9101, ge=0, le=65535, description="/metrics port of `ioc connectors run`; 0 = off.")
    kpi_metrics_port: int = Field(9102, ge=0, le=65535, description="/metrics port of `ioc kpi run`; 0 = off.")
    briefings_metrics_port: int = Field(9103, ge=0, le=65535,
                                        description="/metrics port of `ioc briefing schedule`; 0 = off.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_sentinels(value)  # raises ValueError with the bad entry
        return ",".join(a.strip() for a in value.split(",") if a.strip())

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return parse_sentinels(self.redis_sentinels) if self.redis_sentinels else []

    @field_validator("wall_playlist")
    @classmethod
    def _known_panels(cls, value: str) -> str:
        known = ("hotline_overdue", "cameras_offline", "worst_stations", "qd766_agencies")
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if not names or unknown:
            raise ValueError(f"unknown wall panel(s) {unknown or value!r}; known: {', '.join(known)}")
        return ",".join(names)

    @field_validator("briefing_daily")
    @classmethod
    def _daily_slot(cls, value: str) -> str:
        from ioc.briefings.slots import parse_daily

        try:
            parse_daily(value)
        except UserError as err:
            raise ValueError(str(err)) from None
        return value.strip()

    @field_validator("briefing_weekly")
    @classmethod
    def _weekly_slot(cls, value: str) -> str:
        from ioc.briefings.slots import parse_weekly

        try:
            parse_weekly(value)
        except UserError as err:
            raise ValueError(str(err)) from None
        return value.strip()

    @field_validator("snapshot_hosts")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        if value is None:
            return None
        entries = [e.strip().lower() for e in value.split(",") if e.strip()]
        for entry in entries:
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
            if not host or "/" in entry or "@" in entry or (port and not (port.isdigit() and 0 < int(port) < 65536)):
                raise ValueError(f"{entry!r} is not host:port (e.g. cams.example.vn:8443) or a host name")
        return ",".join(entries) or None

    @property
    def snapshot_origins(self) -> tuple[tuple[str, int], ...]:
        """IOC_SNAPSHOT_HOSTS as (host, port) pairs; a host without a port stands for 80 and 443."""
        out: list[tuple[str, int]] = []
        for entry in (self.snapshot_hosts or "").split(","):
            if not entry:
                continue
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
            out += [(host, int(port))] if port else [(host, 80), (host, 443)]
        return tuple(out)

    @field_validator("briefing_recipients")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        addresses = [a.strip() for a in value.split(",") if a.strip()]
        bad = [a for a in addresses if "@" not in a]
        if bad:
            raise ValueError(f"{', '.join(bad)} is not an address")
        return ", ".join(addresses) or None

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import ipaddress

        nets = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                nets.append(str(ipaddress.ip_network(part, strict=False)))
            except ValueError:
                raise ValueError(f"{part!r} is not an address or CIDR network (e.g. 10.0.0.0/8)") from None
        return ",".join(nets) or None

    @property
    def metrics_networks(self) -> tuple:
        """IOC_METRICS_ALLOW as ip_network objects."""
        import ipaddress

        return tuple(ipaddress.ip_network(n) for n in (self.metrics_allow or "").split(",") if n)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in (self.briefing_recipients or "").split(",") if a.strip())

    @property
    def wall_panels(self) -> list[str]:
        return self.wall_playlist.split(",")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ioc.db').resolve()}"

    @property
    def effective_boundaries(self) -> Path | None:
        if self.boundaries:
            return self.boundaries
        if SHARED_GEO.is_dir():
            return SHARED_GEO
        return SHIPPED_COMMUNES if SHIPPED_COMMUNES.is_file() else None

    def masked(self) -> dict[str, str]:
        """Effective settings for display: secrets and URL passwords masked (``***``)."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                shown = MASK if value.get_secret_value() else ""
            elif value is None:
                shown = ""
            else:
                shown = mask_url_password(str(value))
            out[name] = shown
        out["database_url (effective)"] = mask_url_password(self.effective_database_url)
        out["boundaries (effective)"] = str(self.effective_boundaries or "")
        return out

    def secret_values(self) -> list[str]:
        """Every secret this process knows, to keep out of its logs: the SecretStr settings, the
        passwords inside URL settings, and any ``IOC_*`` variable named like a secret (the
        mail password, the session key) — the longest first, so a secret holding another is
        masked whole."""
        import os
        from urllib.parse import unquote, urlsplit

        from ioc.pii import is_secret_field

        found: set[str] = set()
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                found.add(value.get_secret_value())
            elif isinstance(value, str) and "://" in value:
                try:
                    pw = urlsplit(value).password
                except ValueError:
                    pw = None
                if pw:
                    found |= {pw, unquote(pw)}
        found |= {v for k, v in os.environ.items() if k.startswith("IOC_") and is_secret_field(k[4:])}
        return sorted((v for v in found if v and len(v) >= 4), key=len, reverse=True)


MASK = "***"


def parse_sentinels(text: str) -> list[tuple[str, int]]:
    """"h1:26379, h2:26379" → [("h1", 26379), ("h2", 26379)]; ValueError naming a bad entry."""
    out = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{entry!r} is not host:port")
        out.append((host.strip("[]"), int(port)))
    if not out:
        raise ValueError("no sentinel address")
    return out


def mask_url_password(text: str) -> str:
    """Hide the password part of a URL such as postgresql://u:pw@host/db, and secrets passed
    in its query (``?api_key=…``, ``token=…``)."""
    if "://" in text and "@" in text.split("://", 1)[1]:
        scheme, rest = text.split("://", 1)
        creds, host = rest.split("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":" + MASK
        text = f"{scheme}://{creds}@{host}"
    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)


_QUERY_SECRET = re.compile(r"(?i)([?&;](?:[a-z0-9_]*(?:key|token|secret|password|passwd|pwd|auth)[a-z0-9_]*)=)[^&#\s]*")


def redact_secrets(text: str, secrets: list[str]) -> str:
    """A log line without the given secret values, URL passwords or secret query parameters."""
    from ioc.pii import URL_CREDENTIALS

    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    text = URL_CREDENTIALS.sub(lambda m: m.group(1) + _user(m.group(0)) + MASK + "@", text)
    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)


def _user(credentials: str) -> str:
    """"scheme://user:pw@" → "user:" (kept: who connected is not a secret)."""
    inner = credentials.split("://", 1)[1][:-1]
    return inner.split(":", 1)[0] + ":" if ":" in inner else ""


class SecretFilter:
    """A logging filter (on the handlers) that masks secrets in every record's message and
    traceback, whichever library logged it."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets

    def filter(self, record) -> bool:
        import logging

        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: left to the handler's own error path
            return True
        clean = redact_secrets(msg, self.secrets)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text, self.secrets)
        return True


def load_settings(**overrides) -> Settings:
    """Build settings, turning a validation failure into one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise UserError(
            f"invalid setting IOC_{field.upper()}: {first['msg']} "
            f"(got {first.get('input')!r}); see docs/configuration.md"
        ) from None


def configure_logging(settings: Settings) -> None:
    """IOC_LOG_LEVEL for the product's own loggers (``ioc.*``); libraries (httpx, alembic,
    gunicorn …) say only warnings and errors, so one poll is not a page of request lines."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ioc").setLevel(settings.log_level)
    # secrets never reach a log line (docs/security.md § Secrets)
    secrets = settings.secret_values()
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, SecretFilter)]
        handler.addFilter(SecretFilter(secrets))


def redis_url_for(settings: Settings) -> str:
    """The configured Redis, else the product's own one under IOC_DATA_DIR (with
    IOC_REDIS_SENTINELS set, ioc.redis_client asks the sentinels instead)."""
    from ioc.redis_server import own_redis_dir, socket_url

    return settings.redis_url or socket_url(own_redis_dir(settings))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
