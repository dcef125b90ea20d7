"""`ioc audit list`: who saw or exported personal data unmasked, when, which records, why
(the append-only ``pii_access_log``, ioc/views/privacy.py). Reading it needs a shell on the
server, as every `ioc` command does: the CLI reads as an admin."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ioc.errors import UserError

app = typer.Typer(help="Personal-data access log.", no_args_is_help=True)
out = Console()


@app.command("list")
def list_entries(
    actor: Optional[str] = typer.Option(None, "--actor", help="Only this user's entries."),
    since: Optional[str] = typer.Option(None, "--since", help="Only entries from this day (YYYY-MM-DD, UTC) on."),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with every record id)."),
) -> None:
    """The newest unmasked views and exports of personal data, newest first."""
    from ioc.db.session import make_engine
    from ioc.settings import load_settings, mask_url_password
    from ioc.views.privacy import CLI, access_log

    start = None
    if since:
        try:
            start = datetime.fromisoformat(since).replace(tzinfo=timezone.utc)
        except ValueError:
            raise UserError(f"bad --since {since!r}: expected YYYY-MM-DD") from None
    settings = load_settings()
    try:
        rows = access_log(make_engine(settings.effective_database_url), CLI, actor=actor, since=start, limit=limit)
    except Exception as err:  # no table yet, database down: one line
        raise UserError(f"cannot read the access log in {mask_url_password(settings.effective_database_url)}: "
                        f"{' '.join(str(err).split())[:200]} (run `ioc db upgrade`?)") from None
    if as_json:
        print(json.dumps([{**r, "at": r["at"].isoformat()} for r in rows], ensure_ascii=False))
        return
    t = Table("at (UTC)", "user", "role", "action", "where", "records", "reason", title="Personal-data access log")
    for r in rows:
        ids = r["record_ids"] or []
        shown = ", ".join(ids[:3]) + (f" … (+{len(ids) - 3})" if len(ids) > 3 else "")
        t.add_row(r["at"].isoformat(timespec="seconds"), r["actor"], r["role"] or "—", r["action"], r["surface"],
                  shown or "—", r["reason"])
    out.print(t)
