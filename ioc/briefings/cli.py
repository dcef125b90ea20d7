"""`ioc briefing …`: make a daily or weekly PDF briefing, list the stored ones.

    ioc briefing build --period day --date 2026-11-23 [--out FILE.pdf]
    ioc briefing list [--json]

Bad input is one line on stderr, exit 2; a briefing that fails its checks, exit 1.
"""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ioc.errors import UserError

app = typer.Typer(help="Daily and weekly PDF briefings.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

STEP_LABEL = {"font": "phông chữ", "figures": "số liệu kỳ", "trend": "xu hướng 7 ngày", "tables": "bảng",
              "map": "bản đồ", "render": "dựng PDF", "checks": "kiểm tra", "store": "lưu"}


def _views():
    from ioc.settings import load_settings
    from ioc.views.read import ReadModel

    return ReadModel.from_settings(load_settings())


@app.command()
def build(
    period: str = typer.Option(..., "--period", help="day | week"),
    date_: Optional[str] = typer.Option(None, "--date", help="The day, or the last day of the week, YYYY-MM-DD "
                                                              "(default: yesterday)."),
    out_file: Optional[str] = typer.Option(None, "--out", help="Write the PDF here (default: "
                                                              "IOC_DATA_DIR/briefings/)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary (no progress bar)."),
) -> None:
    """Build, check and store one briefing, with a progress bar on stderr (on a terminal)."""
    from datetime import datetime, timedelta

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ioc.briefings.build import STEPS, build as run_build

    views = _views()
    if date_ is None:
        date_ = (datetime.now(views.tz).date() - timedelta(days=1)).isoformat()
    with Progress(TextColumn("[bold]bản tin[/] {task.fields[step]}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("briefing", total=len(STEPS), step="")

        def progress(step: str) -> None:
            bar.update(task, completed=STEPS.index(step), step=STEP_LABEL.get(step, step))

        res = run_build(views, period, date_, out=out_file, progress=progress)
        bar.update(task, completed=len(STEPS))
    summary = {"id": res.record_id, "status": res.status, "path": str(res.path), "pages": res.pages,
               "size_bytes": res.size, "seconds": round(res.seconds, 2),
               "checks": [r.as_dict() for r in res.checks]}
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    out.print(f"briefing {res.record_id}: {res.status}, {res.pages} pages, {res.size:,} bytes, "
              f"{res.seconds:.1f} s → {res.path}", highlight=False, soft_wrap=True)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON."),
             limit: int = typer.Option(20, min=1, max=500, help="Newest first, this many.")) -> None:
    """The stored briefings, newest first."""
    from ioc.views.briefing_list import briefings

    rows = briefings(_views(), limit=limit)
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, default=str))
        return
    table = Table("id", "kỳ", "trạng thái", "trang", "lập lúc", "tệp / lý do")
    for r in rows:
        table.add_row(str(r.id), r.period_label, r.status_label, r.pages_text, r.made_at,
                      r.path if r.downloadable else (r.reason or ""))
    out.print(table)


__all__ = ["app", "UserError"]
