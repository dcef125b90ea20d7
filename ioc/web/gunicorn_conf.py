"""gunicorn hooks of the web process: ``gunicorn -c python:ioc.web.gunicorn_conf ioc.web.wsgi:server``
(the Procfile's line and ``ioc web``/``ioc up`` use it).

Several workers answer requests, and a Prometheus scrape reaches one of them: each worker writes
its counters and histograms to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums them
(prometheus_client's multiprocess mode, ioc/web/metrics.py). The folder must be set before a
worker imports prometheus_client and must start empty, so the master prepares it here, before it
forks any worker. Unset, it is ``IOC_DATA_DIR/metrics/web-<master pid>`` (one per run; folders of
runs whose master is gone are removed).

This module must not import prometheus_client at import time: the master would load it before
the variable is set, and the forked workers would inherit a single-process client.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

VAR = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiproc_dir(data_dir: Path, pid: int | None = None) -> Path:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` (if unset) and empty it; returns it."""
    pid = pid or os.getpid()
    given = os.environ.get(VAR)
    if given:
        folder = Path(given)
    else:
        parent = data_dir / "metrics"
        folder = parent / f"web-{pid}"
        if parent.is_dir():
            for old in parent.glob("web-*"):
                if old != folder and not _alive(old.name.removeprefix("web-")):
                    shutil.rmtree(old, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.db"):
        f.unlink()
    os.environ[VAR] = str(folder)
    return folder


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def on_starting(server) -> None:
    from ioc.settings import get_settings

    folder = prepare_multiproc_dir(get_settings().data_dir.resolve())
    server.log.info("web metrics of all workers in %s", folder)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # its live gauges stop counting; counters stay summed
