"""`ioc geo …` commands: import boundary files, sync administrative units."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ioc.errors import UserError

app = typer.Typer(help="Geography: boundaries and administrative units.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@contextmanager
def _session():
    from sqlalchemy.orm import Session

    from ioc.db.session import make_engine
    from ioc.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    _upgrade(engine)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _upgrade(engine) -> None:
    """Bring the schema up to date (the lead's migrations; create_all until they exist)."""
    try:
        from ioc.db.migrate import upgrade
    except ImportError:
        from ioc.db.models import Base

        Base.metadata.create_all(engine)
        return
    upgrade(engine)


def _fail(err: UserError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {err}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code=getattr(err, "exit_code", 2))


@app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., help="A boundary file (GeoJSON, Shapefile, GeoPackage …) or a folder of them."),
    layer: str | None = typer.Option(None, "--layer", help="Store the features under this layer name (default: file name)."),
    level: str | None = typer.Option(
        None, "--level", help="Force the level of every feature: commune, district_pre2025, province, other."
    ),
    name_field: str | None = typer.Option(None, "--name-field", help="Column holding the unit name."),
    key_field: str | None = typer.Option(None, "--key-field", help="Column holding a stable unique feature id."),
) -> None:
    """Import boundary polygons; running it again with the same file changes nothing."""
    from geo.boundaries import import_boundaries
    from geo.units import sync_units

    try:
        with _session() as session:
            sync_units(session)
            with Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=True, disable=not console.is_terminal,
            ) as bar:
                tasks: dict[str, int] = {}

                def progress(done: int, total: int, label: str) -> None:
                    if label not in tasks:
                        tasks[label] = bar.add_task(label, total=total)
                    bar.update(tasks[label], completed=done, total=total)

                result = import_boundaries(
                    path, session, layer=layer, level=level, name_field=name_field, key_field=key_field,
                    progress=progress,
                )
    except UserError as err:
        raise _fail(err) from None
    console.print(
        f"Imported {result.features} polygons from {len(result.files)} file(s) into layer(s) {result.layer}: "
        f"inserted {result.inserted}, updated {result.updated}, unchanged {result.unchanged}, removed {result.removed}"
        + (f"; {result.unmatched} without a unit code" if result.unmatched else "")
        + (f"; {result.skipped} features skipped (no polygon)" if result.skipped else ""),
        highlight=False, soft_wrap=True,
    )


@app.command("units")
def units_cmd() -> None:
    """Load the province, its 102 current communes and the 23 pre-2025 districts into the database."""
    from geo.units import all_units, sync_units

    try:
        with _session() as session:
            result = sync_units(session)
    except UserError as err:
        raise _fail(err) from None
    units = all_units()
    count = {lvl: sum(u.level == lvl for u in units) for lvl in ("province", "commune", "district_pre2025")}
    console.print(
        f"{result.total} administrative units: {count['province']} province + {count['commune']} communes "
        f"+ {count['district_pre2025']} pre-2025 districts (inserted {result.inserted}, updated {result.updated}, "
        f"unchanged {result.unchanged})",
        highlight=False, soft_wrap=True,
    )
