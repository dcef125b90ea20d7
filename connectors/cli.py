"""`ioc connectors …`: run, poll once, status, backfill, quarantine."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime, timezone
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ioc.errors import UserError
from ioc.live_store import SOURCES, new_holder_id

app = typer.Typer(help="Poll the four upstream sources into Redis and SQL.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _runtime():
    from connectors.registry import Runtime
    from ioc.settings import configure_logging, load_settings

    settings = load_settings()
    # httpx's line per request would drown the state-change lines, and alembic narrates every
    # migration step at INFO: libraries say warnings only (ioc.settings.configure_logging)
    configure_logging(settings)
    return Runtime(settings)


def _check_source(source: str) -> str:
    if source not in SOURCES:
        raise UserError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    return source


@app.command()
def run(source: list[str] = typer.Option([], "--source", "-s", help="Only these sources (repeatable).")) -> None:
    """Poll every configured source, each in its own thread, until SIGTERM/Ctrl-C."""
    rt = _runtime()
    sources = [_check_source(s) for s in source] or rt.configured_sources()
    missing = [s for s in SOURCES if s not in rt.configured_sources()]
    if missing and not source:
        err.print(f"not configured (set IOC_<SOURCE>_URL): {', '.join(missing)}")
    if not sources:
        raise UserError("no source is configured: set IOC_HOTLINE_URL, IOC_CAMERAS_URL, IOC_ENVIRONMENT_URL or IOC_PROCEDURES_URL")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    holder = new_holder_id()
    from connectors.metrics import ConnectorMetrics
    from ioc import metrics_server

    registry = metrics_server.new_registry()
    metrics = ConnectorMetrics(registry)
    conns = [rt.connector(s) for s in sources]
    for conn in conns:
        conn.metrics = metrics
    http = metrics_server.serve("connectors", rt.settings, registry)  # IOC_CONNECTORS_METRICS_PORT
    threads = [threading.Thread(target=conn.run_forever, args=(stop, holder), name=conn.source, daemon=True)
               for conn in conns]
    for t in threads:
        t.start()
    err.print(f"polling {', '.join(sources)} as {holder}")
    while not stop.is_set():
        stop.wait(1.0)
    for t in threads:
        t.join(timeout=30)
    if http is not None:
        http.shutdown()


@app.command()
def poll(
    source: str = typer.Argument(..., help="hotline, cameras, environment or procedures"),
    once: bool = typer.Option(False, "--once", help="One poll, then exit (0 on success)."),
    as_json: bool = typer.Option(False, "--json", help="Last line of stdout: one JSON object of counts."),
) -> None:
    """Poll one source: once with --once, else repeatedly."""
    _check_source(source)
    rt = _runtime()
    conn = rt.connector(source)
    if not once:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        conn.run_forever(stop, new_holder_id())
        return
    result = conn.poll_once()
    if as_json:
        print(json.dumps(result.summary()))
    else:
        out.print(f"{source}: fetched {result.fetched}, new {result.new}, updated {result.updated}, "
                  f"unchanged {result.unchanged}, quarantined {result.quarantined}")
    if not result.ok:
        err.print(f"error: {source} poll failed: {result.error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def backfill(
    source: str = typer.Argument(..., help="hotline, cameras, environment or procedures"),
    since: str = typer.Option(..., "--since", help="Start date YYYY-MM-DD (local time)."),
) -> None:
    """Read a source's history since a date, with a progress bar; safe to interrupt and re-run."""
    _check_source(source)
    try:
        day = datetime.strptime(since, "%Y-%m-%d")
    except ValueError:
        raise UserError(f"--since must be a date YYYY-MM-DD, got {since!r}") from None
    rt = _runtime()
    start = day.replace(tzinfo=rt.settings.tz).astimezone(timezone.utc)
    conn = rt.connector(source)
    now = datetime.now(timezone.utc)
    span = max(1.0, (now - start).total_seconds())
    with Progress(TextColumn(f"[bold]{source}[/]"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TextColumn("{task.fields[records]} records"), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task(source, total=100, records=0)
        seen = {"n": 0}

        def progress(batch):
            seen["n"] += batch.fetched
            done = 0.0
            if batch.newest_upstream:
                done = min(100.0, 100 * (batch.newest_upstream - start).total_seconds() / span)
            bar.update(task, completed=max(done, bar.tasks[0].completed), records=seen["n"])

        result = conn.poll_once(since=start, progress=progress)
        bar.update(task, completed=100 if result.ok else bar.tasks[0].completed, records=seen["n"])
    print(json.dumps(result.summary()), flush=True)  # plain print: rich would wrap the JSON line
    if not result.ok:
        err.print(f"error: {source} backfill stopped: {result.error} (re-run to continue)")
        raise typer.Exit(1)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Health of each source: state, last success, failures, lag, quarantine."""
    from ioc.settings import load_settings
    from ioc.source_health import derive_state
    from ioc.live_store import LiveStore

    settings = load_settings()
    store = LiveStore.for_settings(settings, socket_timeout=3, retries=1)
    try:
        healths = store.all_health()
        quarantine = store.quarantine_counts()
    except Exception as e:
        raise UserError(f"cannot read source health from Redis ({e}); is the product running?") from None
    rows = []
    for s in SOURCES:
        h = healths.get(s, {})
        rows.append({"source": s, "state": derive_state(h), "last_success": h.get("last_success") or None,
                     "last_attempt": h.get("last_attempt") or None,
                     "consecutive_failures": int(h.get("consecutive_failures") or 0),
                     "records_last_run": int(h["records_last_run"]) if h.get("records_last_run") else None,
                     "lag_seconds": float(h["lag_seconds"]) if h.get("lag_seconds") else None,
                     "last_error": h.get("last_error") or None,
                     "quarantined": sum(v for k, v in quarantine.items() if k.startswith(f"{s}:"))})
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("source", "state", "last success", "failures", "records", "lag", "quarantined", "last error")
    colours = {"fresh": "green", "late": "yellow", "stale": "red", "failing": "red", "unknown": "dim"}
    for r in rows:
        table.add_row(r["source"], f"[{colours[r['state']]}]{r['state']}[/]", r["last_success"] or "—",
                      str(r["consecutive_failures"]), str(r["records_last_run"] if r["records_last_run"] is not None else "—"),
                      f"{r['lag_seconds']:.0f} s" if r["lag_seconds"] is not None else "—", str(r["quarantined"]),
                      (r["last_error"] or "")[:60])
    out.print(table)


@app.command()
def quarantine(
    source: Optional[str] = typer.Option(None, "--source", "-s"),
    limit: int = typer.Option(20, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
    redact_all: bool = typer.Option(False, "--redact", help="Redact every stored payload now (rows stored "
                                    "before payloads were redacted at write time), then show the list."),
) -> None:
    """Show quarantined upstream records with their reasons (last seen first): one row per
    record, with when it was first and last seen and by how many polls. Payloads are shown
    redacted (no personal data, stream address or credential), whatever a row holds."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from connectors.redaction import redact_stored
    from ioc.db.models import QuarantineRecord
    from ioc.db.session import make_engine
    from ioc.pii import scrub
    from ioc.settings import load_settings

    engine = make_engine(load_settings().effective_database_url)
    if redact_all:
        changed = redact_quarantine(engine)
        out.print(f"redacted {changed} stored payload(s)")
    with Session(engine) as s:
        q = select(QuarantineRecord).order_by(QuarantineRecord.last_seen_at.desc(), QuarantineRecord.id.desc()).limit(limit)
        counts = select(QuarantineRecord.source, QuarantineRecord.reason_code, func.count()).group_by(
            QuarantineRecord.source, QuarantineRecord.reason_code)
        if source:
            q = q.where(QuarantineRecord.source == _check_source(source))
            counts = counts.where(QuarantineRecord.source == source)
        rows = s.scalars(q).all()
        totals = s.execute(counts).all()
    if as_json:
        print(json.dumps({"counts": [{"source": a, "reason_code": b, "count": c} for a, b, c in totals],
                          "records": [{"source": r.source, "record_key": r.record_key, "record_id": r.record_id,
                                       "reason_code": r.reason_code, "reason": scrub(r.reason),
                                       "first_seen_at": r.first_seen_at.isoformat(),
                                       "last_seen_at": r.last_seen_at.isoformat(), "times_seen": r.times_seen,
                                       "payload": redact_stored(r.payload)} for r in rows]}, ensure_ascii=False))
        return
    t = Table("source", "reason", "records", title="Quarantine by reason")
    for a, b, c in totals:
        t.add_row(a, b, str(c))
    out.print(t)
    t = Table("last seen", "first seen", "times", "source", "record", "reason", title=f"Latest {len(rows)}")
    for r in rows:
        t.add_row(r.last_seen_at.isoformat(timespec="seconds"), r.first_seen_at.isoformat(timespec="seconds"),
                  str(r.times_seen), r.source, r.record_id or "—", scrub(r.reason)[:80])
    out.print(t)


def redact_quarantine(engine) -> int:
    """Redact every stored quarantine payload (rows written before payloads were redacted at
    write time; migration 0007 does it once on upgrade), and key the rows without an id by their
    redacted payload (migration 0009). Returns the payloads changed."""
    from connectors.quarantine import rekey_rows
    from connectors.redaction import redact_rows

    with engine.begin() as conn:
        changed = redact_rows(conn)
        rekey_rows(conn)
        return changed
