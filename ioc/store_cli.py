"""`ioc store …`: maintenance of the live store."""

from __future__ import annotations

import importlib

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from ioc.live_store import SOURCES

app = typer.Typer(help="Live store (Redis) maintenance.", no_args_is_help=True)
out = Console()


@app.command()
def rebuild(source: list[str] = typer.Option([], "--source", "-s", help="Only these sources.")) -> None:
    """Rebuild Redis live state from the SQL history (after Redis was lost or was down)."""
    from ioc.db.session import make_engine
    from ioc.errors import UserError
    from ioc.live_store import LiveStore
    from ioc.redis_client import check_reachable
    from ioc.settings import load_settings

    settings = load_settings()
    check_reachable(settings)
    store = LiveStore.for_settings(settings)
    engine = make_engine(settings.effective_database_url)
    for s in source or SOURCES:
        if s not in SOURCES:
            raise UserError(f"unknown source {s!r}: choose one of {', '.join(SOURCES)}")
        module = importlib.import_module(f"connectors.{s}")
        with Session(engine) as session:
            records = module.live_from_sql(session)
            from connectors.writer import load_cursor

            cursor = load_cursor(session, s)
        store.replace_latest(s, records)
        if cursor:
            store.set_cursor(s, cursor)
        out.print(f"{s}: {len(records)} live records rebuilt from SQL")
