"""Alembic migrations run from code (`ioc db upgrade`), the same for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ioc.errors import UserError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision`; returns (before, after) revision ids."""
    try:
        before = current_revision(engine)
        command.upgrade(alembic_config(engine), revision)
        return before, current_revision(engine)
    except OperationalError as err:
        detail = " ".join(str(err.orig).split())  # one line, whatever the driver printed
        raise UserError(f"cannot reach the database {engine.url.render_as_string(hide_password=True)}: {detail}") from None
    except SQLAlchemyError as err:
        raise UserError(f"database migration failed: {' '.join(str(err).split())[:500]}") from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
