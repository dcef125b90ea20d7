"""`ioc kpi …`: the KPI snapshot, period figures, alerts and the KPI scheduler.

    ioc kpi --json                                  current snapshot (Redis if current, else computed)
    ioc kpi --json --period day --date 2026-05-20   a period against the previous one
    ioc kpi --json --period custom --start 2026-05-01 --end 2026-05-10
    ioc kpi run                                     the scheduler (until SIGTERM / SIGINT)
    ioc kpi alerts                                  active alerts
    ioc kpi ack KEY --by NAME                       acknowledge an alert (audit-logged)

Bad input (a bad date, an unknown period, an unknown alert) is one line on stderr, exit 2.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime, timezone
from typing import Optional

import orjson
import typer
from rich.console import Console
from rich.table import Table

from ioc.errors import UserError

app = typer.Typer(help="KPI snapshot, period figures, alerts and the KPI scheduler.", add_completion=False,
                  pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

# a stored snapshot is "current" when computed from the present data version and recent enough
# for time-based states (overdue, stale sources) to be right
SNAPSHOT_MAX_AGE = 120.0


def _settings():
    from ioc.settings import load_settings

    return load_settings()


def _engine(settings):
    from ioc.db.session import make_engine

    return make_engine(settings.effective_database_url)


def _store(settings):
    """The live store, or None when Redis cannot be reached (figures are then computed)."""
    from ioc.live_store import LiveStore

    try:
        store = LiveStore.for_settings(settings, socket_timeout=5, socket_connect_timeout=2)
        probe = LiveStore.for_settings(settings, socket_timeout=1, socket_connect_timeout=1, retries=0)
        try:
            probe.ping()
        finally:
            probe.r.close()
        return store
    except Exception:
        return None


def _print_json(data) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    sys.stdout.write("\n")
    sys.stdout.flush()


def _db_error(e: Exception, settings) -> UserError:
    from ioc.settings import mask_url_password

    detail = " ".join(str(getattr(e, "orig", None) or e).split())[:300]
    hint = " (run `ioc db upgrade`)" if "no such table" in detail or "does not exist" in detail else ""
    return UserError(f"cannot read the database {mask_url_password(settings.effective_database_url)}: {detail}{hint}")


def current_snapshot(settings, *, engine=None, store=None, now: datetime | None = None) -> dict:
    """The stored snapshot when it is current, else one computed now."""
    from ioc.kpi.snapshot import SnapshotBuilder

    store = store if store is not None else _store(settings)
    if store is not None and now is None:
        try:
            snap = store.snapshot()
            if snap and store.snapshot_version() == store.version():
                made = datetime.fromisoformat(snap["generated_at"])
                if (datetime.now(timezone.utc) - made).total_seconds() <= SNAPSHOT_MAX_AGE:
                    snap["served_from"] = "redis"
                    return snap
        except Exception:
            pass
    engine = engine or _engine(settings)
    builder = SnapshotBuilder(engine, settings, store)
    snap = builder.build(now, force=True)
    if len(builder.last_errors) == 4:
        first = next(iter(builder.last_errors.values()))
        raise _db_error(RuntimeError(first), settings)
    if store is not None:
        try:  # the active alerts as the scheduler published them
            from ioc.kpi.snapshot import alerts_section

            snap["alerts"] = alerts_section(store.alerts())
        except Exception:
            pass
    snap["served_from"] = "computed"
    return snap


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    period: Optional[str] = typer.Option(None, "--period", help="day | week | month | custom (default: the snapshot)."),
    date_: Optional[str] = typer.Option(None, "--date", help="Day of the period, YYYY-MM-DD (default: today)."),
    start: Optional[str] = typer.Option(None, "--start", help="Custom period: first day, YYYY-MM-DD."),
    end: Optional[str] = typer.Option(None, "--end", help="Custom period: last day (inclusive), YYYY-MM-DD."),
) -> None:
    """Print the current KPI snapshot, or a period's figures with --period."""
    if ctx.invoked_subcommand is not None:
        return
    if period is None and (date_ or start or end):
        raise UserError("--date, --start and --end need --period (day, week, month or custom)")
    from sqlalchemy.exc import SQLAlchemyError

    from ioc.kpi.periods import PeriodError, period_figures

    settings = _settings()
    try:
        if period is None:
            res = current_snapshot(settings)
        else:
            res = period_figures(_engine(settings), period, date=date_, start=start, end=end, tz=settings.tz,
                                 store=_store(settings))
    except PeriodError as e:
        raise UserError(str(e)) from None
    except SQLAlchemyError as e:
        raise _db_error(e, settings) from None
    if as_json:
        _print_json(res)
    elif period is None:
        _print_snapshot(res)
    else:
        _print_period(res)


@app.command()
def run(
    poll: float = typer.Option(0.2, help="Seconds between polls of the data version."),
    quiet: float = typer.Option(0.3, help="Recompute after this many seconds without a new change."),
    max_delay: float = typer.Option(5.0, help="…but never later than this after the first change."),
    periodic: float = typer.Option(60.0, help="Full recompute at least this often (seconds)."),
    period_refresh: float = typer.Option(600.0, help="Recompute the closed windows of the day, week and month "
                                                     "period queries this often (seconds), shared through Redis."),
    rollup_refresh: float = typer.Option(60.0, help="Rebuild the daily rollups of days the connectors changed, "
                                                    "and build missing ones, this often (seconds; 0: never)."),
) -> None:
    """The KPI scheduler: recompute the snapshot and alerts until SIGTERM / SIGINT (`ioc up` starts it)."""
    from ioc.kpi.orchestrator import run as run_loop

    settings = _settings()
    from ioc.settings import configure_logging

    configure_logging(settings)  # IOC_LOG_LEVEL, and no secret in any log line
    stop = threading.Event()

    def _stop(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    run_loop(stop, settings, poll=poll, quiet=quiet, max_delay=max_delay, periodic=periodic,
             period_refresh=period_refresh, rollup_refresh=rollup_refresh)


@app.command()
def rollups(
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop every stored day and build them all again."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary (no progress bar)."),
) -> None:
    """Build the daily KPI rollups now (the scheduler keeps them; after an install or
    `--rebuild` this reads the whole history once, with a progress bar)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy.exc import SQLAlchemyError

    from ioc.kpi import rollups as ru

    settings = _settings()
    engine = _engine(settings)
    tz = settings.tz
    try:
        if as_json:
            res = ru.refresh(engine, tz, rebuild=rebuild)
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=False) as bar:
                tasks: dict[str, int] = {}

                def progress(domain: str, done: int, total: int) -> None:
                    if domain not in tasks:
                        tasks[domain] = bar.add_task(f"{domain:<12}", total=total)
                    bar.update(tasks[domain], completed=done)

                res = ru.refresh(engine, tz, rebuild=rebuild, progress=progress)
    except SQLAlchemyError as e:
        raise _db_error(e, settings) from None
    finally:
        engine.dispose()
    if as_json:
        _print_json(res)
        return
    for domain, r in res.items():
        typer.echo(f"{domain:<12} {r['built']} day(s) built, {r['invalidated']} invalidated, "
                   f"{r['seconds']:.1f} s")


@app.command()
def alerts(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Active alerts (most severe first)."""
    from ioc.kpi.snapshot import alerts_section

    settings = _settings()
    store = _store(settings)
    from ioc.kpi.orchestrator import stored_alerts

    active = stored_alerts(store)
    source = "redis"
    if active is None:  # Redis down: the SQL record of active episodes
        from sqlalchemy.exc import SQLAlchemyError

        from ioc.kpi.orchestrator import alert_record, load_active

        try:
            active = {k: alert_record(s) for k, s in load_active(_engine(settings)).items()}
        except SQLAlchemyError as e:
            raise _db_error(e, settings) from None
        source = "sql"
    section = alerts_section(active)
    if as_json:
        _print_json(section | {"served_from": source})
        return
    table = Table("severity", "key", "message", "since", "acknowledged", title=f"Active alerts ({section['total']})")
    colour = {"critical": "red", "warning": "yellow", "info": "cyan"}
    for a in section["active"]:
        ack = f"{a.get('acked_by')} {a.get('acked_at') or ''}".strip() if a.get("acked_by") else ""
        sev = a.get("severity") or ""
        table.add_row(f"[{colour.get(sev, 'white')}]{sev}[/]", a.get("key") or "", a.get("message") or "",
                      (a.get("first_at") or "")[:19], ack)
    out.print(table)


@app.command()
def ack(
    key: str = typer.Argument(..., help="Alert key, e.g. aqi:ST-001 (see `ioc kpi alerts`)."),
    by: str = typer.Option(..., "--by", help="Who acknowledges (recorded in the audit log)."),
) -> None:
    """Acknowledge an active alert (recorded in SQL audit_log)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ioc.kpi.orchestrator import AckError, ack_alert

    settings = _settings()
    try:
        res = ack_alert(_engine(settings), _store(settings), key, by)
    except AckError as e:
        raise UserError(str(e)) from None
    except SQLAlchemyError as e:
        raise _db_error(e, settings) from None
    out.print(f"Acknowledged {res['key']} ({res['severity']}) by {res['acked_by']} at {res['acked_at']}.")


# --- human-readable summaries ------------------------------------------------------------------------


def _fmt(v, suffix: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.2f}{suffix}"
    return f"{v:,}{suffix}" if isinstance(v, int) else f"{v}{suffix}"


def _print_snapshot(snap: dict) -> None:
    out.print(f"[bold]KPI snapshot[/] as of {snap['as_of']} (data version {snap['data_version']}, "
              f"{snap.get('served_from', 'computed')})")
    t = Table("source", "state", "last success", "lag s")
    for s, h in snap["sources"].items():
        t.add_row(s, h["state"], h["last_success"] or "—", _fmt(h["lag_seconds"]))
    out.print(t)
    h = snap["hotline"]
    t = Table("hotline 1022", "received", "answered", "in progress", "overdue", "on time", "median h",
              title="Hotline" + (" [red](stale)[/]" if h["stale"] else ""))
    for name, p in h["periods"].items():
        f = p["figures"]
        t.add_row(name, _fmt(f["received"]), _fmt(f["answered"]), _fmt(f["in_progress"]), _fmt(f["overdue"]),
                  _fmt(f["on_time_pct"], " %"), _fmt(f["median_hours_to_answer"]))
    out.print(t)
    c = snap["cameras"]
    out.print(f"Cameras{' (stale)' if c['stale'] else ''}: {_fmt(c['online'])} of {_fmt(c['total'])} online "
              f"({_fmt(c['online_pct'], ' %')}), {_fmt(c['offline'])} offline, {len(c['flapping'])} flapping")
    e = snap["environment"]
    worst = max((a for a in e["air"] if a["aqi"] is not None), key=lambda a: a["aqi"], default=None)
    out.print(f"Environment{' (stale)' if e['stale'] else ''}: {_fmt(e['stations']['total'])} stations, "
              f"{_fmt(e['stations']['offline'])} offline; highest VN_AQI "
              + (f"{worst['aqi']} at {worst['name']}" if worst else "—"))
    p = snap["procedures"]["this_month"]["province"]
    out.print(f"Procedures (QĐ 766, this month){' (stale)' if snap['procedures']['stale'] else ''}: score "
              f"{_fmt(p['score'])} of {_fmt(p['max_score'])}; on time {_fmt(p['indicators']['2.1']['value'], ' %')}; "
              f"online {_fmt(p['indicators']['3.3']['value'], ' %')}")
    a = snap["alerts"]
    out.print(f"Alerts: {_fmt(a['total'])} active ({a['by_severity']}); quarantined records: "
              f"{_fmt(snap['quarantine']['total'])}")


def _print_period(res: dict) -> None:
    p = res["period"]
    out.print(f"[bold]{p['kind']}[/] {p['first_day']} … {p['last_day']} ({'complete' if p['complete'] else 'so far'}), "
              f"against {p['previous']['start']} … {p['previous']['end']}")
    h = res.get("hotline", {})
    t = Table("figure", "current", "previous", "delta", title="Hotline")
    for k, d in (h.get("delta") or {}).items():
        if isinstance(d, dict) and "current" in d:
            t.add_row(k, _fmt(d["current"]), _fmt(d["previous"]), _fmt(d["delta"]))
    out.print(t)
    c = res.get("cameras", {})
    out.print(f"Cameras: availability {_fmt((c.get('figures') or {}).get('availability_pct'), ' %')} "
              f"(previous {_fmt((c.get('previous') or {}).get('availability_pct'), ' %')})")
    e = res.get("environment", {})
    out.print(f"Environment: mean daily VN_AQI {_fmt((e.get('figures') or {}).get('mean_daily_aqi'))}, "
              f"air exceedance station-days {_fmt((e.get('figures') or {}).get('air_exceedance_station_days'))}")
    pr = (res.get("procedures") or {}).get("province") or {}
    out.print(f"Procedures (QĐ 766): score {_fmt(pr.get('score'))} of {_fmt(pr.get('max_score'))}")


__all__ = ["app", "current_snapshot"]
