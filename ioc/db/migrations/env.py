"""Alembic environment: the engine comes from ioc.db.migrate (never from an ini file)."""

from alembic import context

from ioc.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
