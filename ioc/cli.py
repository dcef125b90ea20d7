"""`ioc`: one command line for the whole product. Errors a user can fix: one line, exit 2."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ioc.errors import UserError

app = typer.Typer(help="Đồng Tháp IOC: real-time dashboard of the provincial operations centre.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
config_app = typer.Typer(help="Settings.", no_args_is_help=True)
db_app = typer.Typer(help="SQL history database.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)


def _mount(module: str, name: str, help_text: str) -> None:
    """Sub-apps of the other packages (geo, simulator, connectors, kpi, store). A broken import
    fails loudly here: swallowing it would silently remove a whole subcommand."""
    import importlib

    app.add_typer(importlib.import_module(module).app, name=name, help=help_text)


def _settings():
    from ioc.settings import load_settings

    return load_settings()


def _engine(settings):
    from ioc.db.session import make_engine

    return make_engine(settings.effective_database_url)


@config_app.command("show")
def config_show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the effective settings, secrets masked."""
    shown = _settings().masked()
    if as_json:
        out.print_json(json.dumps(shown, ensure_ascii=False))
        return
    table = Table("setting", "value", title="Effective settings (IOC_*)")
    for k, v in shown.items():
        table.add_row(k, v)
    out.print(table)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the SQL schema (SQLite or PostgreSQL)."""
    from ioc.db.migrate import upgrade
    from ioc.settings import mask_url_password

    settings = _settings()
    before, after = upgrade(_engine(settings), revision)
    where = mask_url_password(settings.effective_database_url)
    if before == after:
        out.print(f"Database {where} already at revision {after}.")
    else:
        out.print(f"Database {where} migrated {before or 'empty'} → {after}.")


def prepare_stores(settings, *, start_redis: bool = True):
    """Redis (own one if needed), schema, geography. Returns (redis_url, own_redis or None)."""
    from ioc.db.migrate import upgrade
    from ioc.redis_server import resolve_redis_url

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url, own = resolve_redis_url(settings, start=start_redis)
    engine = _engine(settings)
    upgrade(engine)
    try:
        from geo.setup import prepare_geography
    except ImportError:
        pass
    else:
        message = prepare_geography(engine, settings)
        if message:
            err.print(message)
    return url, own


@app.command()
def web(
    host: Optional[str] = typer.Option(None, help="Bind address (IOC_WEB_HOST)."),
    port: Optional[int] = typer.Option(None, help="Port (IOC_WEB_PORT)."),
    workers: int = typer.Option(2, min=1, help="gunicorn workers."),
    dev: bool = typer.Option(False, help="Dash's development server (one process, reload)."),
) -> None:
    """Serve the dashboard (gunicorn) on its own; GET /healthz reports the stores."""
    settings = _settings()
    url, own = prepare_stores(settings)
    _first_admin(settings)
    host, port = host or settings.web_host, port or settings.web_port
    try:
        if dev:
            from ioc.web.app import create_app

            create_app(settings).run(host=host, port=port, debug=True)
        else:
            from ioc.supervisor import Child, Supervisor

            Supervisor([_web_child(host, port, workers)]).run()
    finally:
        if own:
            own.stop()


def _first_admin(settings) -> None:
    """A database without an administrator gets one (docs/security.md § First sign-in)."""
    from ioc.auth.cli import first_admin

    line = first_admin(settings, _engine(settings))
    if line:
        out.print(f"[bold yellow]{line}[/]", highlight=False, soft_wrap=True)


def _web_child(host: str, port: int, workers: int):
    from ioc.supervisor import Child

    return Child(
        "web",
        # the config's hooks prepare the workers' shared metrics folder (ioc/web/gunicorn_conf.py)
        [sys.executable, "-m", "gunicorn", "-c", "python:ioc.web.gunicorn_conf", "ioc.web.wsgi:server",
         "-w", str(workers), "-b", f"{host}:{port}",
         "--timeout", "60", "--graceful-timeout", "10", "--log-level", "warning"],
    )


@app.command()
def up(
    demo: bool = typer.Option(True, "--demo/--no-demo", help="Start the upstream simulator and point the connectors at it."),
    speed: float = typer.Option(60.0, help="Simulator speed in demo mode (60 = an hour a minute)."),
    host: Optional[str] = typer.Option(None, help="Web bind address."),
    port: Optional[int] = typer.Option(None, help="Web port."),
    workers: int = typer.Option(2, min=1, help="gunicorn workers."),
) -> None:
    """The whole product on one machine: Redis, migrations, simulator, connectors, KPIs, web. Ctrl-C stops it."""
    import importlib.util

    from ioc.supervisor import Child, Supervisor, ioc_command

    from ioc import metrics_server

    settings = _settings()
    host, port = host or settings.web_host, port or settings.web_port
    busy = metrics_server.check_ports(settings, {"the web port": port,
                                                 "IOC_SIM_PORT": settings.sim_port if demo else 0})
    url, own = prepare_stores(settings)
    _first_admin(settings)
    children: list[Child] = []
    env: dict[str, str] = {"IOC_REDIS_URL": url} if url else {}  # empty: Redis Sentinel
    if demo and importlib.util.find_spec("simulator.cli"):
        sim = f"http://127.0.0.1:{settings.sim_port}"
        children.append(Child("simulator", ioc_command("sim", "serve", "--port", str(settings.sim_port), "--speed",
                                                       str(speed)), ready_port=settings.sim_port))
        # The demo simulator fills any source the user has not configured.
        for name, path in (("HOTLINE", "/open311/v2"), ("CAMERAS", "/cameras/api/v1"),
                           ("ENVIRONMENT", "/sta/v1.1"), ("PROCEDURES", "/procedures/api/v1")):
            if not os.environ.get(f"IOC_{name}_URL") and not getattr(settings, f"{name.lower()}_url"):
                env[f"IOC_{name}_URL"] = sim + path
        if not os.environ.get("IOC_HOTLINE_API_KEY"):  # the demo simulator's own key (it checks it)
            from simulator.config import SimConfig

            env["IOC_HOTLINE_API_KEY"] = SimConfig().hotline_api_key
    if importlib.util.find_spec("connectors.cli"):
        children.append(Child("connectors", ioc_command("connectors", "run")))
    if importlib.util.find_spec("ioc.kpi.orchestrator"):
        children.append(Child("scheduler", ioc_command("kpi", "run")))
    if importlib.util.find_spec("ioc.briefings.scheduler"):  # daily 07:00 / weekly Monday 07:30 (docs/briefings.md)
        children.append(Child("briefings", ioc_command("briefing", "schedule")))
    children.append(_web_child(host, port, workers))
    for child in children:
        child.env.update(env)
    shown_host = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    base = f"http://{shown_host}:{port}"
    out.print(f"[bold green]IOC Đồng Tháp is starting:[/] {base}/  (health: /healthz; Ctrl-C to stop)\n"
              f"  wall display: {base}/wall   leaders' mobile view: {base}/m   map: {base}/map   "
              f"briefings: {base}/briefings\n"
              f"  sign in at {base}/login; enrol a wall display with `ioc devices add NAME` (docs/security.md)\n"
              f"  metrics (Prometheus, docs/monitoring.md): web {base}/metrics"
              + "".join(f"   {name} {where}" for name, where in metrics_server.urls(settings).items()))
    for line in busy:
        err.print(f"[yellow]{line}[/]")
    try:
        Supervisor(children).run(on_tick=_redis_watchdog(own))
    finally:
        if own:
            own.stop()


def _redis_watchdog(own):
    """Restart our own redis-server if it dies (same socket: clients reconnect by themselves)."""
    if own is None:
        return None
    import time

    from ioc.redis_server import start_own_redis

    state = {"own": own, "next": 0.0}

    def tick() -> None:
        now = time.monotonic()
        if now < state["next"]:
            return
        state["next"] = now + 5.0
        current = state["own"]
        if current.process is not None and current.process.poll() is not None:
            err.print("[yellow]redis-server stopped; restarting it (AOF keeps the data)[/]")
            try:
                state["own"] = start_own_redis(current.directory)
                own.process = state["own"].process  # so the final stop() stops the new one
            except UserError as e:
                err.print(f"[red]could not restart redis-server: {e}[/]")

    return tick


_mount("geo.cli", "geo", "Administrative units and boundaries.")
_mount("simulator.cli", "sim", "Upstream simulator (demo and tests only).")
_mount("connectors.cli", "connectors", "Poll the upstream sources.")
_mount("ioc.kpi.cli", "kpi", "KPI snapshot and period figures.")
_mount("ioc.store_cli", "store", "Live store maintenance.")
_mount("ioc.briefings.cli", "briefing", "Daily and weekly PDF briefings.")
_mount("ioc.audit_cli", "audit", "Personal-data access log (read-only).")
_mount_auth = __import__("ioc.auth.cli", fromlist=["users_app", "devices_app"])
app.add_typer(_mount_auth.users_app, name="users", help="People who sign in, their roles and scope.")
app.add_typer(_mount_auth.devices_app, name="devices", help="Wall displays: enrolment links, revocation.")


def main() -> None:
    try:
        app()
    except UserError as e:
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
