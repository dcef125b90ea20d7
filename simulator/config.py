"""Configuration of one simulator process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SOURCES = ("hotline", "cameras", "environment", "procedures")


@dataclass
class SimConfig:
    seed: int = 1
    speed: float = 1.0
    scale: float = 1.0
    history_days: float = 365
    replay_hours: float | None = None  # default: 0 at speed 1, 6 when speed > 1
    frozen: bool = False  # manual clock: time stands still until /_control/clock moves it
    frozen_at: datetime | str | float | None = None  # default when frozen: wall now − 2 days, on the hour
    faults: dict | list | None = None  # {"hotline": [{"kind": "latency", "ms": 200}], ...} or ["hotline:latency=200"]
    geo_dir: Path | None = None  # default: ioc.settings.SHARED_GEO (../shared/geo)
    hotline_api_key: str = "sim-hotline-key"
    cameras_token: str = "sim-camera-token"
    procedures_api_key: str | None = None  # None: the dossier feed is open
    sta_username: str | None = None  # set both to require HTTP Basic auth on /sta
    sta_password: str | None = None
    flapping_cameras: int = 10
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.scale <= 0:
            raise ValueError("scale must be > 0")
        if self.history_days <= 0:
            raise ValueError("history_days must be > 0")
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
