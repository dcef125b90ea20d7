"""Prometheus metrics of the web app: ``GET /metrics`` (docs/monitoring.md).

Instruments (one per process, shared by every app ``create_app`` builds):

* ``ioc_web_requests_total{route,status}`` and ``ioc_web_request_duration_seconds{route}``: every
  request, timed from the first ``before_request`` hook to the last ``after_request`` one; ``route``
  is a class of endpoints (``ROUTE_CLASSES``), so the label set stays small;
* ``ioc_web_callback_duration_seconds{callback}``: Dash callbacks, hooked once for all of them on
  ``/_dash-update-component``; ``callback`` names the output component ids of a callback the app
  knows (anything else is ``unknown``: a client cannot invent label values).

Gauges computed when scraped, so they are never stale: the sources' state, lag, last success,
failures and quarantined records as the read model sees them (``SourceCollector``), the active
sessions, and the processes' memory and CPU.

Gunicorn runs several workers: ``ioc.web.gunicorn_conf`` sets ``PROMETHEUS_MULTIPROC_DIR`` before
any worker starts, each worker writes its samples there, and a scrape (served by any worker) sums
them (prometheus_client's multiprocess mode). Without it (``ioc web --dev``, tests) the process's
own registry is served.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from datetime import timedelta

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from ioc.auth import registry
from ioc.source_health import STATES

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))  # read once: prometheus_client does too
disable_created_metrics()  # no *_created series: nothing here needs them

# endpoint → route class; endpoints not listed are "api", a request that matched no rule "unmatched"
ROUTE_CLASSES: dict[str, str] = {
    "/_dash-update-component": "callback",
    "/": "page", "/<path:path>": "page", "mobile_page": "page",
    "/_dash-layout": "dash", "/_dash-dependencies": "dash", "/_reload-hash": "dash",
    "static": "asset", "_dash_assets.static": "asset", "/_favicon.ico": "asset", "service_worker": "asset",
    "manifest": "asset", "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": "asset",
    "healthz": "health", "metrics": "metrics",
    "auth.login": "auth", "auth.logout": "auth", "auth.enrol": "auth",
    "wall_feed": "wall",
}
# seconds: a wall poll takes a few ms, a map callback up to a second, an export a few seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

INSTRUMENTS = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("ioc_web_requests_total", "HTTP requests answered, by route class and status code.",
                   ["route", "status"], registry=INSTRUMENTS)
REQUEST_SECONDS = Histogram("ioc_web_request_duration_seconds", "Time to answer an HTTP request, by route class.",
                            ["route"], buckets=BUCKETS, registry=INSTRUMENTS)
CALLBACK_SECONDS = Histogram("ioc_web_callback_duration_seconds",
                             "Time to answer a Dash callback, by its output component ids.",
                             ["callback"], buckets=BUCKETS, registry=INSTRUMENTS)


def route_class(endpoint: str | None) -> str:
    if endpoint is None:
        return "unmatched"
    if endpoint.startswith("map_api."):
        return "map_api"
    return ROUTE_CLASSES.get(endpoint, "api")


def callback_name(known, body) -> str:
    """The callback's output ids ("map-list,map-count") when the app has that callback."""
    key = body.get("output") if isinstance(body, dict) else None
    if not isinstance(key, str) or key not in known:
        return "unknown"
    return ",".join(registry.output_ids(key))


# --- who may read it ----------------------------------------------------------------------------

FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-Ip")


def allowed(settings) -> bool:
    """Loopback, an address in IOC_METRICS_ALLOW, or ``Authorization: Bearer IOC_METRICS_TOKEN``.

    A request that came through a reverse proxy on this machine arrives from loopback: when it
    carries a forwarding header that no ProxyFix has applied (werkzeug keeps the original address
    under ``werkzeug.proxy_fix.orig``), its address says nothing and only the token opens."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return True
    if "werkzeug.proxy_fix.orig" not in request.environ and any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    try:
        addr = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    if getattr(addr, "ipv4_mapped", None):
        addr = addr.ipv4_mapped
    return addr.is_loopback or any(addr in net for net in settings.metrics_networks)


# --- scrape-time gauges -------------------------------------------------------------------------


class SourceCollector:
    """Each source's health as the read model sees it at scrape time."""

    def __init__(self, views) -> None:
        self.views = views

    def collect(self):
        figures = self.views.source_metrics()
        up = GaugeMetricFamily("ioc_live_store_up", "1 when the sources' health could be read from Redis, else 0.")
        up.add_metric([], 0 if figures is None else 1)
        yield up
        if figures is None:
            return
        state = GaugeMetricFamily("ioc_source_state", "1 for the source's current state (fresh, late, stale, "
                                  "failing, unknown), 0 for the others.", labels=["source", "state"])
        lag = GaugeMetricFamily("ioc_source_lag_seconds", "Age of the newest upstream record the connector has "
                                "read, now.", labels=["source"])
        last = GaugeMetricFamily("ioc_source_last_success_timestamp_seconds",
                                 "When the last successful poll ended (Unix time).", labels=["source"])
        failures = GaugeMetricFamily("ioc_source_consecutive_failures", "Failed polls since the last success.",
                                     labels=["source"])
        held = GaugeMetricFamily("ioc_source_quarantined_records", "Records held in quarantine, by reason code.",
                                 labels=["source", "reason"])
        for f in figures:
            for s in STATES:
                state.add_metric([f.source, s], 1 if f.state == s else 0)
            if f.lag_seconds is not None:
                lag.add_metric([f.source], f.lag_seconds)
            if f.last_success is not None:
                last.add_metric([f.source], f.last_success)
            failures.add_metric([f.source], f.consecutive_failures)
            for reason, n in sorted(f.quarantined.items()):
                held.add_metric([f.source, reason], n)
        yield from (state, lag, last, failures, held)


class SessionCollector:
    """Signed-in sessions still usable (one COUNT in SQL per scrape)."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def collect(self):
        from ioc.auth import sessions
        from ioc.db.session import engine_for

        try:
            n = sessions.count_active(engine_for(self.settings.effective_database_url),
                                      timedelta(minutes=self.settings.session_idle_minutes),
                                      timedelta(hours=self.settings.session_max_hours))
        except Exception:  # the database is down: /healthz says so; the gauge is left out
            return
        gauge = GaugeMetricFamily("ioc_web_sessions_active", "Signed-in sessions not yet expired.")
        gauge.add_metric([], n)
        yield gauge


class GunicornCollector:
    """Memory and CPU of the gunicorn master and each worker (psutil): in multiprocess mode the
    standard ``process_*`` metrics would describe only the worker that answered the scrape."""

    def collect(self):
        import psutil

        rss = GaugeMetricFamily("ioc_web_process_resident_memory_bytes", "Resident memory of a web process.",
                                labels=["role", "pid"])
        cpu = CounterMetricFamily("ioc_web_process_cpu_seconds", "User and system CPU time of a web process.",
                                  labels=["role", "pid"])
        try:
            master = psutil.Process(os.getppid())
            procs = [("master", master)] + [("worker", p) for p in master.children()]
        except psutil.Error:
            return
        for role, p in procs:
            try:
                with p.oneshot():
                    mem, times = p.memory_info().rss, p.cpu_times()
            except psutil.Error:  # a worker that just exited
                continue
            rss.add_metric([role, str(p.pid)], mem)
            cpu.add_metric([role, str(p.pid)], times.user + times.system)
        yield rss
        yield cpu


def scrape_registry(settings, views) -> CollectorRegistry:
    reg = CollectorRegistry()
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(reg)
        reg.register(GunicornCollector())
    else:
        from prometheus_client import ProcessCollector

        reg.register(_Forward(INSTRUMENTS))
        ProcessCollector(registry=reg)
    reg.register(SourceCollector(views))
    reg.register(SessionCollector(settings))
    return reg


class _Forward:
    """The process-wide instruments inside an app's own scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self):
        yield from self.source.collect()


# --- hooks and route ----------------------------------------------------------------------------


def install(app, settings, views) -> None:
    """Time every request (call before any other ``before_request`` hook is registered, so the
    guard's refusals are counted too) and serve ``GET /metrics``."""
    server: Flask = app.server

    @server.before_request
    def _start():
        g.ioc_t0 = time.perf_counter()

    @server.after_request
    def _observe(res):
        t0 = g.pop("ioc_t0", None)
        if t0 is None:
            return res
        took = time.perf_counter() - t0
        rule = request.url_rule
        route = route_class(rule.endpoint if rule is not None else None)
        REQUESTS.labels(route, str(res.status_code)).inc()
        REQUEST_SECONDS.labels(route).observe(took)
        if route == "callback":
            try:  # parsed already by the guard (cached); a body refused as too large raises 413 here
                body = request.get_json(silent=True)
            except Exception:
                body = None
            # app.callback_map: Dash adds its pages' callbacks at the first request
            CALLBACK_SECONDS.labels(callback_name(app.callback_map, body)).observe(took)
        return res

    scrape = scrape_registry(settings, views)

    @server.get("/metrics")
    def metrics():
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))  # text 0.0.4 unless asked
        return Response(encode(scrape), content_type=content_type, headers={"Cache-Control": "no-store"})


__all__ = ["CALLBACK_SECONDS", "REQUESTS", "REQUEST_SECONDS", "allowed", "callback_name", "install", "route_class",
           "scrape_registry"]
