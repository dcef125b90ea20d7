"""``/metrics`` of the background processes (docs/monitoring.md): ``ioc connectors run`` on
IOC_CONNECTORS_METRICS_PORT, ``ioc kpi run`` on IOC_KPI_METRICS_PORT, ``ioc briefing schedule`` on
IOC_BRIEFINGS_METRICS_PORT, each bound to IOC_METRICS_HOST (loopback by default). The web's own
``/metrics`` is a route of the app (ioc/web/metrics.py).

A port that cannot be bound (taken by another process) is logged once and the process runs on
without metrics: polling the upstreams matters more than being watched doing it.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, ProcessCollector, disable_created_metrics, start_http_server

log = logging.getLogger("ioc.metrics")
disable_created_metrics()  # no *_created series: nothing here needs them

PORT_SETTINGS = {"connectors": "connectors_metrics_port", "kpi": "kpi_metrics_port",
                 "briefings": "briefings_metrics_port"}


def new_registry() -> CollectorRegistry:
    """A process's registry, with its memory and CPU (``process_*``)."""
    reg = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=reg)
    return reg


def serve(process: str, settings, registry: CollectorRegistry):
    """Serve ``registry`` on the process's port; returns the HTTP server (``.shutdown()``) or None
    (port 0, or the port is taken)."""
    port = int(getattr(settings, PORT_SETTINGS[process]))
    if port == 0:
        return None
    try:
        server, _thread = start_http_server(port, addr=settings.metrics_host, registry=registry)
    except OSError as err:
        log.error("%s: cannot serve /metrics on %s:%d (%s); running without metrics", process,
                  settings.metrics_host, port, err.strerror or err)
        return None
    log.info("%s: metrics on http://%s:%d/metrics", process, settings.metrics_host, port)
    return server


def urls(settings) -> dict[str, str]:
    """Where each background process serves /metrics (ports set to 0 left out)."""
    host = "localhost" if settings.metrics_host in ("127.0.0.1", "0.0.0.0", "::1", "::") else settings.metrics_host
    return {p: f"http://{host}:{getattr(settings, name)}/metrics" for p, name in PORT_SETTINGS.items()
            if getattr(settings, name)}


def check_ports(settings, others: dict[str, int]) -> list[str]:
    """Before ``ioc up`` starts its children: the metrics ports must differ from each other and
    from ``others`` (the web's and the simulator's ports), else a UserError naming the clash;
    returns a warning for each metrics port that another program already holds."""
    import socket

    from ioc.errors import UserError

    ports = {f"IOC_{name.upper()}": int(getattr(settings, name)) for name in PORT_SETTINGS.values()}
    seen: dict[int, str] = {}
    for name, port in [*others.items(), *ports.items()]:
        if not port:
            continue
        if port in seen:
            raise UserError(f"{name} and {seen[port]} are both port {port}: give each process its own port "
                            "(0 turns a process's /metrics off)")
        seen[port] = name
    busy = []
    for name, port in ports.items():
        if not port:
            continue
        with socket.socket(socket.AF_INET6 if ":" in settings.metrics_host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((settings.metrics_host, port))
            except OSError:
                busy.append(f"{settings.metrics_host}:{port} ({name}) is taken by another program: that process "
                            "runs without /metrics")
    return busy
