"""The read model: the one way pages, exports and briefings read the product's state.

``ReadModel`` reads the small per-panel keys the KPI scheduler publishes (``ioc/views/publish``)
and the sources' health, and returns typed, localised views (``ioc/views/models``). Freshness is
judged here, at read time, against the clock: a snapshot the scheduler stopped refreshing, or a
source that stopped answering, is shown as stale with its age — never as current.

Redis down or a panel not yet published: the views say so in words (``freshness.state`` is
``unknown``) instead of raising; a page never shows a traceback or a blank panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from ioc.i18n import t
from ioc.live_store import SOURCES, LiveStore
from ioc.settings import Settings
from ioc.source_health import derive_state
from ioc.views import text
from ioc.views.geo import CommuneAtlas
from ioc.formatting import format_datetime, format_number
from ioc.views.models import (AlertItem, FocusPanel, Freshness, MapView, SourceBadge, SourceFigures, SourceStatus,
                              Ticker, Tile)

# The scheduler recomputes at least every 60 s; figures older than this are not current.
SNAPSHOT_MAX_AGE = timedelta(seconds=150)
SPARK_HOURS = 24
# Which source each panel's figures come from.
TILE_SOURCE = {"hotline": "hotline", "cameras": "cameras", "aqi": "environment", "qd766": "procedures"}
FOCUS_SOURCE = {"hotline_overdue": "hotline", "cameras_offline": "cameras", "worst_stations": "environment",
                "qd766_agencies": "procedures"}
FOCUS_PANELS = tuple(FOCUS_SOURCE)
MAP_METRICS = ("qd766_on_time", "cam_online_pct", "hotline_month")
STATE_RANK = {"fresh": 0, "late": 1, "stale": 2, "failing": 3, "unknown": 4}

# Targets behind the traffic lights (ours, documented in docs/views.md): (ok at or above, warn at or above)
CAMERAS_TARGET = (95.0, 90.0)  # % online; the alert rule fires at 90
QD766_TARGET = (80.0, 70.0)  # % of the maximum score: "Tốt" from 80, "Khá" from 70 (DOMAIN.md)


class ReadModel:
    def __init__(self, store: LiveStore, settings: Settings, *, engine=None,
                 clock=lambda: datetime.now(timezone.utc)) -> None:
        self.store = store
        self.settings = settings
        self.tz = settings.tz
        self.clock = clock
        self._engine = engine
        self.atlas = CommuneAtlas(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadModel:
        from ioc.redis_client import WEB_FAIL_FAST_S, WEB_RETRIES

        return cls(LiveStore.for_settings(settings, socket_timeout=2, socket_connect_timeout=2, retries=WEB_RETRIES,
                                          fail_fast_for=WEB_FAIL_FAST_S), settings)

    def engine(self):
        if self._engine is None:
            from ioc.db.session import engine_for

            self._engine = engine_for(self.settings.effective_database_url)
        return self._engine

    # --- versions: what pages poll ------------------------------------------------------

    def versions(self) -> dict[str, str | None]:
        """A token per panel that changes when the panel would render differently.

        Data digests come from the publisher; freshness is folded in (badges and stale marks
        change with the clock, not with data). Never raises. Redis down: the data panels'
        tokens are None (pages keep what they show) and the badges say the store is down."""
        now = self.clock()
        try:
            held = self.store.view_versions()
            health = self.store.all_health()
        except Exception:
            return {"tiles": None, "alerts": None, "map": None, "focus": None, "badges": "store-down"}
        meta = held.get("meta")
        snap_state = self._snapshot_state(meta, now)[0]
        states = {s: derive_state(health.get(s) or {}, now) for s in SOURCES}
        # A label that is not "current" says since when ("Chậm từ 09:40", "Số liệu dừng cập nhật từ
        # 09:40", "09:40 01/12" once the day changed): that time and the local day are part of the
        # token, so a render cached under a token (ioc/web/wall_api.py) always has the right words.
        local = now.astimezone(self.tz)
        day = local.strftime("%Y-%m-%d")
        snap_since = "" if snap_state == "fresh" else f"|{meta}"
        fresh_token = (snap_state + "|" + ",".join(
            states[s] if states[s] == "fresh" else f"{states[s]}@{(health.get(s) or {}).get('last_success', '')}"
            for s in SOURCES) + "|" + day + snap_since)
        return {
            # the sparklines' hourly points move with the clock, not with the tiles' facts
            "tiles": f"{held.get('tiles', '-')}|{fresh_token}|{local:%H}",
            "alerts": f"{held.get('alerts', '-')}|{snap_state}|{day}{snap_since}",
            "map": f"{held.get('map', '-')}|{fresh_token}",
            "focus": f"{held.get('focus', '-')}|{fresh_token}",
            "badges": f"{fresh_token}|{held.get('meta', '-')[:16]}",
        }

    # --- freshness ----------------------------------------------------------------------

    def _snapshot_state(self, generated_at: str | None, now: datetime) -> tuple[str, datetime | None]:
        if not generated_at:
            return "unknown", None
        at = datetime.fromisoformat(generated_at)
        return ("fresh" if now - at <= SNAPSHOT_MAX_AGE else "stale"), at

    def _freshness(self, lang: str, now: datetime, *, source: str | None, meta: str | None,
                   health: Mapping[str, Mapping] | None) -> Freshness:
        """The worse of the source's state and the snapshot's age, in words."""
        snap_state, snap_at = self._snapshot_state(meta, now)
        if snap_state != "fresh":
            if snap_at is None:
                return Freshness(state="unknown", label=t("fresh.no_snapshot", lang))
            return Freshness(state="stale", since=snap_at, age_seconds=(now - snap_at).total_seconds(),
                             label=t("fresh.snapshot_stale", lang).format(since=self._hhmm(snap_at, now)))
        if source is None:
            return Freshness(state="fresh", label=t("fresh.fresh", lang), since=snap_at, age_seconds=0.0)
        return self.source_freshness(source, (health or {}).get(source) or {}, lang, now)

    def source_freshness(self, source: str, health: Mapping[str, str], lang: str, now: datetime) -> Freshness:
        state = derive_state(dict(health), now)
        last = health.get("last_success")
        since = datetime.fromisoformat(last) if last else None
        age = (now - since).total_seconds() if since else None
        if state == "fresh":
            return Freshness(state="fresh", label=t("fresh.fresh", lang), since=since, age_seconds=age)
        if since is None:
            key = "fresh.failing_never" if state == "failing" else "fresh.unknown"
            return Freshness(state=state, label=t(key, lang), age_seconds=None)
        return Freshness(state=state, since=since, age_seconds=age,
                         label=t(f"fresh.{state}", lang).format(since=self._hhmm(since, now)))

    def _hhmm(self, at: datetime, now: datetime) -> str:
        """09:40 today, else 09:40 01/12."""
        local, today = at.astimezone(self.tz), now.astimezone(self.tz)
        return local.strftime("%H:%M") if local.date() == today.date() else local.strftime("%H:%M %d/%m")

    def _read(self, *names: str):
        """Panels, the versions hash and the sources' health in one go; Nones when Redis is down."""
        try:
            panels = self.store.views(*names) if names else []
            held = self.store.view_versions()
            health = self.store.all_health()
            return panels, held.get("meta"), health, True
        except Exception:
            return [None] * len(names), None, {}, False

    def _unavailable(self, lang: str, redis_ok: bool) -> Freshness:
        return Freshness(state="unknown", label=t("fresh.no_snapshot" if redis_ok else "store_down", lang))

    # --- source badges ------------------------------------------------------------------

    def badges(self, lang: str) -> tuple[list[SourceBadge], Freshness]:
        """One badge per source, and the figures' own freshness (the KPI scheduler's)."""
        now = self.clock()
        _, meta, health, ok = self._read()
        if not ok:  # one plain statement instead of four guesses
            return [], Freshness(state="failing", label=t("store_down", lang))
        badges = [SourceBadge(source=s, name=t(f"source.{s}", lang),
                              freshness=self.source_freshness(s, health.get(s) or {}, lang, now)) for s in SOURCES]
        return badges, self._freshness(lang, now, source=None, meta=meta, health=health)

    def source_status(self, lang: str) -> list[SourceStatus] | None:
        """The status page's source cards; None when Redis cannot be read."""
        now = self.clock()
        read = self._health_and_quarantine()
        if read is None:
            return None
        out = []
        for s, h, by_reason in read:
            fr = self.source_freshness(s, h, lang, now)
            q = sum(by_reason.values())

            def when(key):
                return format_datetime(datetime.fromisoformat(h[key]), self.tz) if h.get(key) else "—"

            out.append(SourceStatus(
                source=s, name=t(f"source.{s}", lang), freshness=fr, last_success=when("last_success"),
                newest_data=when("newest_upstream"),
                records_last_run=format_number(int(h["records_last_run"]), lang=lang) if h.get("records_last_run") else "—",
                quarantined=format_number(q, lang=lang) if q else None,
                last_error=h["last_error"][:160] if h.get("last_error") and fr.state != "fresh" else None))
        return out

    def source_metrics(self) -> list[SourceFigures] | None:
        """Each source's health as numbers at this moment (the web's /metrics); None when Redis
        cannot be read."""
        now = self.clock()
        read = self._health_and_quarantine()
        if read is None:
            return None
        out = []
        for s, h, by_reason in read:

            def at(key):
                return datetime.fromisoformat(h[key]) if h.get(key) else None

            newest, last = at("newest_upstream"), at("last_success")
            out.append(SourceFigures(
                source=s, state=derive_state(h, now),
                lag_seconds=round((now - newest).total_seconds(), 1) if newest else None,
                last_success=last.timestamp() if last else None,
                consecutive_failures=int(h.get("consecutive_failures") or 0),
                quarantined={reason: n for reason, n in by_reason.items() if n}))
        return out

    def _health_and_quarantine(self) -> list[tuple[str, dict, dict[str, int]]] | None:
        """Each source's health hash and its quarantined records by reason; None when Redis
        cannot be read."""
        try:
            health = self.store.all_health()
            quarantine = self.store.quarantine_counts()  # field = source:reason
        except Exception:
            return None
        return [(s, health.get(s) or {},
                 {k.split(":", 1)[1]: n for k, n in quarantine.items() if k.startswith(f"{s}:")}) for s in SOURCES]

    # --- tiles --------------------------------------------------------------------------

    def tiles(self, lang: str) -> list[Tile]:
        now = self.clock()
        (f,), meta, health, ok = self._read("tiles")
        if f is None:
            fr = self._unavailable(lang, ok)
            return [Tile(key=k, title=t(f"tile.{k}", lang), value="—", has_value=False, sub=fr.label, freshness=fr)
                    for k in ("hotline", "cameras", "aqi", "qd766", "alerts")]
        spark = self._sparks(now)

        def fresh(key):
            return self._freshness(lang, now, source=TILE_SOURCE.get(key), meta=meta, health=health)

        return [text.hotline_tile(f["hotline"], spark.get("hotline", []), lang, fresh("hotline")),
                text.cameras_tile(f["cameras"], spark.get("cameras", []), lang, fresh("cameras"), CAMERAS_TARGET),
                text.aqi_tile(f["aqi"], lang, fresh("aqi")),
                text.qd766_tile(f["qd766"], spark.get("qd766", []), lang, fresh("qd766"), QD766_TARGET),
                text.alerts_tile(f["alerts"], spark.get("alerts", []), lang, fresh(None))]

    def _sparks(self, now: datetime) -> dict[str, list[float | None]]:
        """Hourly points (the last sample of each hour) over the last 24 h, None where no sample."""
        minute_now = int(now.timestamp() // 60)
        start = minute_now - SPARK_HOURS * 60
        try:
            series = self.store.series(("hotline", "cameras", "qd766", "alerts"), start)
        except Exception:
            return {}
        out = {}
        for name, pts in series.items():
            buckets: list[float | None] = [None] * SPARK_HOURS
            for minute, value in pts:
                i = min(SPARK_HOURS - 1, (minute - start) // 60)
                if i >= 0:
                    buckets[i] = value
            first = next((i for i, v in enumerate(buckets) if v is not None), None)
            out[name] = [] if first is None else buckets[first:]
        return out

    # --- alert ticker -------------------------------------------------------------------

    def ticker(self, lang: str) -> Ticker:
        now = self.clock()
        (f,), meta, health, ok = self._read("alerts")
        fr = self._freshness(lang, now, source=None, meta=meta, health=health) if f else self._unavailable(lang, ok)
        if not f or not f.get("available"):
            return Ticker(items=[], total=None, empty_text=t("ticker.unavailable", lang), freshness=fr)
        names = self.atlas.names()
        items = [AlertItem(key=a["key"], severity=a["severity"], severity_label=t(f"severity.{a['severity']}", lang),
                           icon=text.SEVERITY_ICON.get(a["severity"], "•"),
                           text=text.alert_sentence(a, lang, names), acked=a["acked"],
                           since=t("ticker.since", lang).format(at=self._hhmm(datetime.fromisoformat(a["first_at"]), now))
                           if a.get("first_at") else "")
                 for a in f["items"]]
        return Ticker(items=items, total=f.get("total"), empty_text=t("ticker.none", lang), freshness=fr)

    # --- focus panels -------------------------------------------------------------------

    def focus(self, name: str, lang: str) -> FocusPanel:
        if name not in FOCUS_SOURCE:
            raise ValueError(f"unknown focus panel {name!r}; known: {', '.join(FOCUS_PANELS)}")
        now = self.clock()
        (f,), meta, health, ok = self._read("focus")
        if f is None:
            fr = self._unavailable(lang, ok)
            return FocusPanel(key=name, title=t(f"focus.{name}", lang), columns=[], rows=[], note="",
                              empty_text=fr.label, freshness=fr)
        fr = self._freshness(lang, now, source=FOCUS_SOURCE[name], meta=meta, health=health)
        return text.focus_panel(name, f[name], lang, fr, self.atlas.names())

    # --- map ----------------------------------------------------------------------------

    def map_view(self, metric: str, lang: str, kinds: tuple[str, ...] = text.MARKER_KINDS) -> MapView:
        if metric not in MAP_METRICS:
            raise ValueError(f"unknown map metric {metric!r}; known: {', '.join(MAP_METRICS)}")
        now = self.clock()
        (f,), meta, health, ok = self._read("map")
        source = {"qd766_on_time": "procedures", "cam_online_pct": "cameras", "hotline_month": "hotline"}[metric]
        fr = self._freshness(lang, now, source=source, meta=meta, health=health) if f else self._unavailable(lang, ok)
        return text.map_view(metric, f or {}, lang, fr, self.atlas, kinds)
