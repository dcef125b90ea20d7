"""Command line: ``ioc sim serve`` (the product mounts ``app``) or ``python -m simulator serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from simulator.faults import FaultError, normalise, parse_fault_arg

app = typer.Typer(help="Simulated upstreams of the Đồng Tháp IOC: hotline 1022 (Open311), cameras, "
                       "environment (SensorThings) and procedures (dossier feed).", no_args_is_help=True)


@app.callback()
def _main() -> None:
    """Simulated upstream systems for demos and tests."""


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8060, help="Port to listen on."),
    seed: int = typer.Option(1, help="Seed: the same seed, scale and time give the same data."),
    speed: float = typer.Option(1.0, help="Clock speed; > 1 replays the last --replay-hours quickly."),
    scale: float = typer.Option(1.0, help="Volume multiplier (tickets, dossiers, cameras)."),
    history_days: float = typer.Option(365, "--history-days", help="Days of history that exist from the start."),
    replay_hours: Optional[float] = typer.Option(None, "--replay-hours",
                                                 help="Hours replayed when speed > 1 (default 6)."),
    frozen: bool = typer.Option(False, "--frozen", help="Manual clock: moves only via POST /_control/clock."),
    frozen_at: Optional[str] = typer.Option(None, "--frozen-at", help="ISO time for --frozen (default now − 2 days)."),
    fault: list[str] = typer.Option([], "--fault", help="SOURCE:KIND[=VALUE][,key=value...], repeatable; "
                                                         "e.g. hotline:error=503,times=3"),
    geo_dir: Optional[Path] = typer.Option(None, "--geo-dir", help="Folder of boundary GeoJSON (default ../shared/geo)."),
) -> None:
    """Serve the four sources on one port until interrupted."""
    from simulator.server import serve as _serve

    for f in fault:
        try:
            source, spec = parse_fault_arg(f)
            normalise(source, spec, 0, 0)
        except FaultError as err:
            raise typer.BadParameter(str(err), param_hint="--fault") from None
    _serve(host=host, port=port, seed=seed, speed=speed, scale=scale, history_days=history_days,
           faults=list(fault) or None, replay_hours=replay_hours, frozen=frozen, frozen_at=frozen_at,
           geo_dir=geo_dir)


if __name__ == "__main__":
    app()
