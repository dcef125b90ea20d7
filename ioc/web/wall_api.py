"""The wall's live endpoint: ``GET /api/views/wall`` — one request per wall per second, carrying
what changed (docs/views.md § Live updates).

    GET /api/views/wall?lang=vi&focus=cameras_offline&have=tiles:3f0c…,alerts:9a1b…,…

The wall sends the tag of every panel it shows (``have``); the answer holds the build id, the
current tag of every panel and the rendered content of only the panels whose tag differs::

    {"build": "…", "lang": "vi", "focus": "cameras_offline",
     "tags": {"tiles": "…", "alerts": "…", "map": "…", "focus": "…", "badges": "…"},
     "panels": {"tiles": [...components...], "map": {"url": …, "hideout": …, "markers": […], …}}}

A tag is a digest of (panel, the read model's token, the focus panel for the map and the focus
panel, the language). The token already moves with the panel's data and freshness
(``ReadModel.versions``), so equal tags mean equal content. A token of ``None`` (Redis
unreachable) gives a ``None`` tag and no content: the wall keeps what it shows.

Rendering is the same for every wall, so each worker renders a panel once per tag and keeps the
serialised JSON (Dash's own encoder) in a small LRU: 200 walls asking within the same second
after a change cost one render per worker, then string concatenation.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from flask import Response, request
from plotly.io.json import to_json_plotly

from ioc.views.read import FOCUS_PANELS
from layouts.wall import FOCUS_DEPENDENT, PANELS, panel_content

CACHE_SIZE = 64  # renders kept per worker: 5 panels × a few tokens, focus panels and languages
# The tokens are read from Redis at most this often per worker: 200 walls send ~100 polls a second
# to each of 2 workers, and on a busy machine every round trip to Redis is a wait for a CPU. It
# adds at most 0.1 s to a change's way to the wall (docs/performance-web.md § 2).
TOKENS_TTL = 0.1


class RenderCache:
    """A bounded LRU of serialised renders, keyed by tag."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: str, render: Callable[[], object]) -> str:
        blob = self._items.get(key)
        if blob is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return blob
        self.misses += 1
        blob = to_json_plotly(render())
        self._items[key] = blob
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return blob

    def __len__(self) -> int:
        return len(self._items)


def tag_of(panel: str, token: str, focus: str, lang: str) -> str:
    key = "\x1f".join((panel, token, focus if panel in FOCUS_DEPENDENT else "", lang))
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def parse_have(raw: str | None) -> dict[str, str]:
    """``tiles:abc,map:def`` → {"tiles": "abc", "map": "def"} (unknown panels ignored)."""
    out = {}
    for part in (raw or "").split(","):
        panel, _, tag = part.partition(":")
        if panel in PANELS and tag:
            out[panel] = tag
    return out


class WallFeed:
    """What ``GET /api/views/wall`` answers, as a plain function of the read model."""

    def __init__(self, views, playlist: list[str], default_lang: str, build: str,
                 cache: RenderCache | None = None, tokens_ttl: float = TOKENS_TTL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.views = views
        self.playlist = playlist
        self.default_lang = default_lang
        self.build = build
        self.cache = cache if cache is not None else RenderCache()
        self.tokens_ttl, self.monotonic = tokens_ttl, monotonic
        self._tokens: dict[str, str | None] = {}
        self._tokens_at: float | None = None

    def tokens(self) -> dict[str, str | None]:
        """``ReadModel.versions()``, read again once it is ``tokens_ttl`` old."""
        now = self.monotonic()
        if self._tokens_at is None or now - self._tokens_at >= self.tokens_ttl:
            self._tokens, self._tokens_at = self.views.versions(), now
        return self._tokens

    def answer(self, lang: str | None, focus: str | None, have: Mapping[str, str]) -> str:
        """The JSON text of the answer (panels' content spliced in from the cache, not re-encoded)."""
        lang = lang if lang in ("vi", "en") else self.default_lang
        focus = focus if focus in FOCUS_PANELS else self.playlist[0]
        tokens = self.tokens()
        tags: dict[str, str | None] = {}
        parts = []
        for panel in PANELS:
            token = tokens.get(panel)
            if token is None:  # the live store unreachable: keep what the wall shows
                tags[panel] = None
                continue
            tag = tags[panel] = tag_of(panel, token, focus, lang)
            if have.get(panel) != tag:
                blob = self.cache.get(tag, lambda p=panel: panel_content(self.views, p, focus, lang))
                parts.append(f'"{panel}":{blob}')
        head = json.dumps({"build": self.build, "lang": lang, "focus": focus, "tags": tags})
        return head[:-1] + ',"panels":{' + ",".join(parts) + "}}"


def register(server, settings, views, build: str) -> WallFeed:
    feed = WallFeed(views, settings.wall_panels, settings.language, build)

    @server.get("/api/views/wall")
    def wall_feed():
        body = feed.answer(request.args.get("lang"), request.args.get("focus"), parse_have(request.args.get("have")))
        return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})

    return feed
