"""Sources by name, and what a connector process needs to start one."""

from __future__ import annotations

import importlib
import logging

from sqlalchemy.orm import Session

from ioc.db.session import make_engine
from ioc.errors import UserError
from ioc.live_store import SOURCES, LiveStore
from ioc.settings import Settings

CONNECTORS = {
    "hotline": "connectors.hotline:HotlineConnector",
    "cameras": "connectors.cameras:CamerasConnector",
    "environment": "connectors.environment:EnvironmentConnector",
    "procedures": "connectors.procedures:ProceduresConnector",
}

log = logging.getLogger("ioc.connectors")


def connector_class(source: str):
    if source not in CONNECTORS:
        raise UserError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    module, name = CONNECTORS[source].split(":")
    return getattr(importlib.import_module(module), name)


def make_locator(engine):
    """The spatial assigner over the imported boundaries (address matching works without them)."""
    from geo.assign import SpatialAssigner

    with Session(engine) as s:
        return SpatialAssigner.from_session(s)


class Runtime:
    """Engine, live store and locator shared by the connectors of one process."""

    def __init__(self, settings: Settings) -> None:
        from ioc.db.migrate import upgrade

        self.settings = settings
        self.engine = make_engine(settings.effective_database_url)
        upgrade(self.engine)
        self.store = LiveStore.for_settings(settings)
        self.locator = make_locator(self.engine)

    def connector(self, source: str):
        return connector_class(source)(self.settings, self.engine, self.store, locator=self.locator)

    def configured_sources(self) -> list[str]:
        return [s for s in SOURCES if getattr(self.settings, f"{s}_url")]
