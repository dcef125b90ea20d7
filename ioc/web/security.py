"""Security headers and request limits on every response of the web app (docs/security.md §
Headers and the Content-Security-Policy).

The Content-Security-Policy allows scripts from our own origin and, inline, only the scripts
whose SHA-256 we know: Dash's renderer start-up and its inline clientside callbacks
(``Dash.csp_hashes()``, computed once every page has registered its callbacks) and the mobile
page's script (layouts/mobile.py). Dash's config block is ``<script type="application/json">``,
which is data, not run. ``style-src`` keeps ``'unsafe-inline'``: React, Leaflet and Dash's
components set ``style`` attributes and add ``<style>`` elements at run time (styles cannot run
code; scripts stay locked). Images may be ``data:`` (the map's inline SVG charts) and the
basemap's tile host when ``IOC_BASEMAP_URL`` is set. No page may be framed by another site.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from flask import Flask, request

MAX_BODY = 2 * 1024 * 1024  # bytes of a request body: Dash callbacks and forms are a few KiB
MAX_FORM_PARTS = 100


def script_hash(source: str) -> str:
    """The CSP source expression of an inline script's exact text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def policy(script_hashes: list[str], basemap_url: str | None) -> str:
    img = ["'self'", "data:", "blob:"]
    if basemap_url:
        parts = urlsplit(basemap_url.replace("{s}", "a"))  # the template's host, any subdomain letter
        if parts.scheme in ("http", "https") and parts.netloc:
            host = parts.netloc.split("@")[-1]
            if basemap_url.split("://", 1)[-1].startswith("{s}."):
                host = "*." + host.split(".", 1)[1]
            img.append(f"{parts.scheme}://{host}")
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": img,
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{k} {' '.join(v)}" for k, v in directives.items())


HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # browsers without frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def install(app, settings, extra_scripts: tuple[str, ...] = ()) -> None:
    """Limits on request bodies, and the headers on every response (Dash's routes, assets,
    our JSON and the plain /m page alike). ``extra_scripts``: inline scripts of pages Dash
    does not render (their hashes join Dash's)."""
    server: Flask = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    server.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY
    server.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    cached: dict[str, str] = {}

    def csp() -> str:
        if "csp" not in cached:  # after every page has registered its inline clientside callbacks
            hashes = list(app.csp_hashes()) + [script_hash(s) for s in extra_scripts]
            cached["csp"] = policy(sorted(set(hashes)), settings.basemap_url)
        return cached["csp"]

    @server.after_request
    def headers(res):
        res.headers.setdefault("Content-Security-Policy", csp())
        for name, value in HEADERS.items():
            res.headers.setdefault(name, value)
        if request.is_secure:
            res.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return res

    @server.errorhandler(413)
    def too_large(_err):
        from flask import Response

        return Response('{"error": "request body too large"}', status=413, mimetype="application/json")


__all__ = ["HEADERS", "MAX_BODY", "install", "policy", "script_hash"]
