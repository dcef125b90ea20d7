"""Per-page scripts and stylesheets, and the static bundles compressed once at the best level.

Dash writes every component library some page imports and every file of ``assets/`` into the
HTML of every page. A page registered here as *lean* gets only what it names: the leaders'
phone view ``/m`` needs Dash's renderer, React, the core and HTML components and three of its
own files, not ``dash_leaflet`` (~100 KiB compressed), ``dash_table``, ``dash_extensions`` or the
wall's and the sector map's assets (docs/performance-web.md § 3). A lean page must never
render a component of a library it left out, and must reach the other pages by full page loads
(``html.A``, not ``dcc.Link``): their libraries are not in the browser.

Flask-Compress compresses each response again on every request at a fast level (zstd 3 or
brotli 4 for Chromium). Dash's fingerprinted bundles never change for a given URL, so they are
compressed here once per process with brotli at level 10 (~14 % smaller than brotli 4)
and kept in memory; Flask-Compress leaves a response alone once it carries a Content-Encoding.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import brotli
import dash
from flask import Response, request

# Dash's own bundles: React and its polyfill, the renderer, dcc and html (not dash_table)
DASH_CORE = ("dash/deps/", "dash/dash-renderer/", "dash/dcc/", "dash/html/")
SUITES = "/_dash-component-suites/"
ASSETS = "/assets/"
# 10, not 11: 217 instead of 214 KiB for Dash's core bundles, in 0.6 s of CPU instead of 2 s (once
# per process); Flask-Compress's default (brotli 4) gives 253 KiB
BROTLI_QUALITY = 10


@dataclass(frozen=True)
class LeanPage:
    suites: tuple[str, ...]  # component-suite paths it loads ("dash/dcc/" …), by prefix
    assets: tuple[str, ...]  # files of assets/ it loads, by name


class PageAssetsDash(dash.Dash):
    """``dash.Dash`` whose index leaves out, on a lean page, the scripts and stylesheets that the
    page does not use."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lean_pages: dict[str, LeanPage] = {}
        _compress_bundles_once(self.server, self.config.requests_pathname_prefix + SUITES.lstrip("/"))

    def lean_page(self, path: str, page: LeanPage) -> None:
        self.lean_pages["/" + path.strip("/")] = page

    def _lean(self) -> LeanPage | None:
        try:
            path = request.path
        except RuntimeError:  # no request: Dash generating the index at set-up
            return None
        return self.lean_pages.get("/" + (self.strip_relative_path(path) or "").strip("/"))

    def _collect_and_register_resources(self, resources, include_async=True, url_attr="src"):
        srcs = super()._collect_and_register_resources(resources, include_async, url_attr)
        page = self._lean()
        if page is None:
            return srcs
        return [s for s in srcs if _wanted(s[url_attr] if isinstance(s, dict) else s, page)]


def _wanted(url: str, page: LeanPage) -> bool:
    path = url.split("?", 1)[0]
    if SUITES in path:
        return any(path.split(SUITES, 1)[1].startswith(p) for p in page.suites)
    if ASSETS in path:
        return path.split(ASSETS, 1)[1] in page.assets
    return True  # external scripts the app was configured with


_FINGERPRINT = re.compile(r"\.v[\w-]+m\d{8,}\.")  # Dash's cache-busting part of a bundle's name


def _compress_bundles_once(server, suites_prefix: str) -> None:
    cache: dict[str, bytes] = {}
    lock = threading.Lock()

    @server.after_request
    def brotli_bundle(res: Response) -> Response:
        # registered after Flask-Compress, so it runs before it; a response it encodes is left alone
        if (request.method != "GET" or res.status_code != 200 or res.direct_passthrough
                or not request.path.startswith(suites_prefix) or not _FINGERPRINT.search(request.path)
                or "br" not in request.headers.get("Accept-Encoding", "")
                or "Content-Encoding" in res.headers or res.mimetype not in ("application/javascript",
                                                                            "text/javascript", "text/css")):
            return res
        body = cache.get(request.path)
        if body is None:
            raw = res.get_data()
            body = brotli.compress(raw, quality=BROTLI_QUALITY)
            with lock:
                cache[request.path] = body
        res.set_data(body)
        res.headers["Content-Encoding"] = "br"
        res.headers["Vary"] = "Accept-Encoding"
        return res
