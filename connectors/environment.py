"""Environmental monitoring over OGC SensorThings API v1.1 (any conforming server).

Each poll: read the Things and Datastreams (two requests: the Datastreams' phenomenonTime
says how far each stream's data reaches), then the new Observations — one query across all
streams for the recent window, and one per stream for streams that fall behind (late data
back-filled after an outage, monthly samples, a new stream). Paging follows
`@iot.nextLink`; observations are de-duplicated on (datastream, phenomenonTime).
Units are normalised (mg/m³ → µg/m³ for air, g/L → mg/L, m → cm); a datastream whose
unit changes is held at the stored unit and quarantined until someone looks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from connectors.base import Batch, Connector, QuarantineError, Quarantined, log, parse_time, parser, reason_of
from connectors.http import UpstreamError
from connectors.writer import Written, record_touches, stored_results, upsert_guarded, upsert_observations
from ioc.db import models as m
import unicodedata
from ioc.live_store import Change
from ioc.records import FUTURE_TOLERANCE, clean_text, DatastreamRecord, ObservationRecord, ObservationRow, StationRecord, utc_now

TOP = 10_000
RECENT = timedelta(hours=3)  # streams newer than this are read together in one query
FIRST_RUN = timedelta(days=7)
TOGETHER_SPAN = timedelta(days=7)  # a reconciliation/backfill this short reads all streams in one query
MANY_STREAMS = 50
BATCH = 20_000  # observations per committed batch  # more streams than this behind: read them in one query across streams
STATION_KINDS = {"air": "air", "water_auto": "water", "water_periodic": "water", "water": "water",
                 "water_iot": "iot_water", "iot_water": "iot_water", "insect_trap": "insect", "insect": "insect"}

# ObservedProperty name (accents folded) → (parameter code, normalised unit, domain)
PARAMETERS = {
    "pm2.5": ("pm25", "µg/m³"), "pm10": ("pm10", "µg/m³"), "no2": ("no2", "µg/m³"), "so2": ("so2", "µg/m³"),
    "co": ("co", "µg/m³"), "o3": ("o3", "µg/m³"), "ph": ("ph", "pH"), "do": ("do", "mg/L"),
    "bod5": ("bod5", "mg/L"), "cod": ("cod", "mg/L"), "n-nh4": ("nh4", "mg/L"), "n-no3": ("no3", "mg/L"),
    "n-no2": ("no2_water", "mg/L"), "p-po4": ("po4", "mg/L"), "tss": ("tss", "mg/L"), "toc": ("toc", "mg/L"),
    "coliform": ("coliform", "MPN/100mL"), "e. coli": ("ecoli", "MPN/100mL"),
    "nhiet do nuoc": ("temperature", "°C"), "temperature": ("temperature", "°C"),
    "muc nuoc": ("water_level", "cm"), "water level": ("water_level", "cm"),
    "do man": ("salinity", "‰"), "salinity": ("salinity", "‰"),
    "mat do ray nau vao den": ("insects", "count"),
}
# (source unit symbol, target unit) → factor
FACTORS = {
    ("µg/m³", "µg/m³"): 1.0, ("ug/m3", "µg/m³"): 1.0, ("mg/m³", "µg/m³"): 1000.0, ("mg/m3", "µg/m³"): 1000.0,
    ("mg/L", "mg/L"): 1.0, ("mg/l", "mg/L"): 1.0, ("g/L", "mg/L"): 1000.0, ("µg/L", "mg/L"): 0.001,
    ("pH", "pH"): 1.0, ("", "pH"): 1.0, ("MPN/100mL", "MPN/100mL"): 1.0, ("°C", "°C"): 1.0, ("Cel", "°C"): 1.0,
    ("cm", "cm"): 1.0, ("m", "cm"): 100.0, ("mm", "cm"): 0.1, ("‰", "‰"): 1.0, ("psu", "‰"): 1.0, ("g/L", "‰"): 1.0,
}
# plausible range of a normalised value; outside it an observation is quarantined
PLAUSIBLE = {
    "pm25": (0, 2000), "pm10": (0, 3000), "no2": (0, 5000), "so2": (0, 5000), "co": (0, 200_000), "o3": (0, 2000),
    "ph": (0, 14), "do": (0, 25), "bod5": (0, 1000), "cod": (0, 5000), "nh4": (0, 500), "no3": (0, 500),
    "po4": (0, 200), "tss": (0, 20_000), "coliform": (0, 1e9), "temperature": (0, 50),
    "water_level": (-500, 2000), "salinity": (0, 45), "insects": (0, 1e7),
}


def _key(text: str) -> str:
    """Lowercase, accents removed, punctuation kept ("N-NH4" stays distinct from "NH4")."""
    text = str(text).replace("đ", "d").replace("Đ", "D").replace("Ð", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).strip().lower()


def parameter_of(name: str | None, definition: str | None = None) -> tuple[str, str] | None:
    key = _key(name or "")
    if key in PARAMETERS:
        return PARAMETERS[key]
    tail = (definition or "").rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower()
    return {"level": PARAMETERS["muc nuoc"], "salinity": PARAMETERS["do man"],
            "temperature": PARAMETERS["nhiet do nuoc"], "brown_planthopper": PARAMETERS["mat do ray nau vao den"]}.get(tail)


def _sta_time(value: datetime) -> str:
    return quote(value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), safe="")


def _interval_end(value) -> datetime | None:
    if not value:
        return None
    return parse_time(str(value).split("/")[-1])


class EnvironmentConnector(Connector):
    source = "environment"
    main_kind = "observations"
    interval_setting = "environment_interval"
    url_setting = "environment_url"
    reconcile_window = timedelta(days=1)  # re-read a day of observations, stream by stream

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._newest: dict[str, datetime] | None = None  # per stream, of committed data
        self._streams: dict[str, DatastreamRecord] = {}
        self._stations: dict[str, StationRecord] = {}

    def client_options(self) -> dict:
        user, pw = self.settings.environment_username, self.settings.environment_password
        if user and pw is not None:
            return {"auth": (user, pw.get_secret_value())}
        return {}

    # --- reading ----------------------------------------------------------------------

    def _collection(self, path: str) -> Iterator[list]:
        """Pages of a collection, following @iot.nextLink, asked with `$count=true`.

        If fewer distinct entities arrive than `@iot.count` announced (pages that shifted
        while we read skipped some), the collection is read once more, then the poll fails
        with UpstreamError; `fetch` then rolls the per-stream marks back, so a skipped
        observation is never stepped over."""
        first = path + ("&" if "?" in path else "?") + "$count=true"
        for attempt in range(2):
            url, ids, idless, total = first, set(), 0, None
            while url:
                data, _ = self.client.get(url)
                if not isinstance(data, dict) or not isinstance(data.get("value"), list):
                    raise UpstreamError(f"SensorThings answer without a `value` array ({path.split('?')[0]})")
                count = data.get("@iot.count")
                if total is None and isinstance(count, int) and not isinstance(count, bool):
                    total = count
                for raw in data["value"]:
                    i = _id(raw)
                    if isinstance(i, (str, int)) and not isinstance(i, bool):
                        ids.add(i)
                    else:
                        idless += 1
                yield data["value"]
                url = data.get("@iot.nextLink")
            if total is None or len(ids) + idless >= total:
                return
            if attempt:
                raise UpstreamError(f"SensorThings paging lost records: read {len(ids) + idless} distinct of the "
                                    f"{total} announced by @iot.count ({path.split('?')[0]}); the marks stay")
            log.warning("environment: read %d distinct of %d announced (%s); reading again",
                        len(ids) + idless, total, path.split("?")[0])

    def _load_newest(self) -> dict[str, datetime]:
        if self._newest is None:
            t = m.Observation.__table__
            with Session(self.engine) as s:
                self._newest = {ds: at for ds, at in s.execute(
                    select(t.c.datastream_id, func.max(t.c.phenomenon_time)).group_by(t.c.datastream_id))}
                stored = {d.id: d for d in s.scalars(select(m.Datastream))}
            for d in stored.values():
                self._streams.setdefault(d.id, DatastreamRecord(
                    id=d.id, station_id=d.station_id, name=d.name, parameter=d.parameter, unit=d.unit,
                    source_unit=d.source_unit, factor=FACTORS.get((d.source_unit or "", d.unit), 1.0)))
        return self._newest

    def fetch(self, cursor: str | None, *, since: datetime | None = None) -> Iterator[Batch]:
        newest = self._load_newest()
        marks = dict(newest)
        try:
            for batch in self._fetch(newest, since):
                yield self._confirmed(batch, newest)
        except Exception:
            newest.clear()  # a failed poll leaves the per-stream marks where they were at its start
            newest.update(marks)
            raise

    def _confirmed(self, batch: Batch, newest: dict[str, datetime]) -> Batch:
        """Drop each observation whose value differs from the stored one unless a second read
        (``Observations(id)``) returns the same value: a stored value changes only when two
        reads agree. One damaged response (a unit slip, ÷1000, is still a plausible value) must
        not overwrite a good value — the oldest hour of a reconciliation's window is read by no
        later one, so nothing would mend it (fault drill 3, docs/operations-drills.md). A value
        kept this way is retried by the next read of that hour."""
        obs = batch.records.get("observations")
        if not obs:
            return batch
        # Only observations at or before their stream's newest committed time can be stored.
        maybe = {(r.datastream_id, r.phenomenon_time) for r in obs
                 if (n := newest.get(r.datastream_id)) is not None and r.phenomenon_time <= n}
        if not maybe:
            return batch
        with Session(self.engine) as s:
            held = stored_results(s, maybe)
        keep = []
        for r in obs:
            old = held.get((r.datastream_id, r.phenomenon_time))
            if old is None or old == r.result or self._read_again_agrees(r):
                keep.append(r)
            else:
                log.warning("environment: datastream %s at %s: the upstream sent %g, a second read did not "
                            "confirm it; the stored %g stays", r.datastream_id, r.phenomenon_time.isoformat(),
                            r.result, old)
        batch.records["observations"] = keep
        return batch

    def _read_again_agrees(self, rec: ObservationRow) -> bool:
        if rec.upstream_id is None:
            return False
        try:
            raw, _ = self.client.get(f"Observations({rec.upstream_id})")
            again = self.parse_observation(raw, rec.datastream_id)
        except Exception as err:  # an upstream or parse failure confirms nothing
            log.info("environment: second read of observation %s failed: %s", rec.upstream_id, err)
            return False
        return again.phenomenon_time == rec.phenomenon_time and again.result == rec.result

    def _fetch(self, newest: dict[str, datetime], since: datetime | None) -> Iterator[Batch]:
        now = datetime.now(timezone.utc)
        meta = self.fetch_metadata()
        upstream_end: dict[str, datetime | None] = meta.pop_ends
        yield meta.batch
        floor = since or (now - FIRST_RUN)
        # A server that states its streams' time ranges lets us skip streams with nothing new.
        knows_ends = any(e is not None for e in upstream_end.values())
        needed: list[tuple[str, datetime]] = []
        for ds_id, end in upstream_end.items():
            if ds_id not in self._streams:
                continue  # its metadata was quarantined
            ours = newest.get(ds_id)
            if since is not None:  # a reconciliation or backfill, never skipping what a stream has not reached
                # A stream we hold nothing of is read as a first run reads it: its late data (an outage's
                # backlog) may lie before the window, and once we hold its newest, polls start there.
                start = min(floor, ours if ours is not None else now - FIRST_RUN)
            else:
                start = floor if ours is None else ours
            if knows_ends and (end is None or end <= start):
                continue
            needed.append((ds_id, start))
        if since is not None:
            # A reconciliation (or a short backfill) reads the streams that start at the window
            # in one query across streams; streams lagging behind it, and long backfills (deep
            # $skip paging across streams is slow), go stream by stream.
            at_floor = [n for n in needed if n[1] >= floor]
            together = at_floor if len(at_floor) > MANY_STREAMS and now - since <= TOGETHER_SPAN else []
        elif len(needed) > MANY_STREAMS:
            together = needed  # e.g. the first run: one query across all streams
        else:
            together = [n for n in needed if now - n[1] <= RECENT]
        chosen = {ds for ds, _ in together}
        alone = [n for n in needed if n[0] not in chosen]
        if together:
            start = min(s for _, s in together)
            q = (f"Observations?$filter=phenomenonTime%20gt%20{_sta_time(start)}&$orderby=phenomenonTime%20asc"
                 f"&$top={TOP}&$expand=Datastream($select=id)")
            seen: dict[str, set[datetime]] = {}
            clean = True
            for page in self._collection(q):
                batch = self.parse_observations(page, None)
                if since is not None:
                    for r in batch.records["observations"]:
                        seen.setdefault(r.datastream_id, set()).add(r.phenomenon_time)
                    clean = clean and not batch.quarantined
                yield batch
            if since is not None and clean:
                # A reconciliation read the window cleanly: what we hold in it and the upstream
                # does not (e.g. written under a skewed clock) goes.
                yield Batch(records={"observations": [], "absent": [(ds, start, seen.get(ds, set())) for ds, _ in together]})
        pending = Batch(records={"observations": []})
        if since is not None:  # streams the upstream has nothing for in the window: neither may we
            wanted = {ds for ds, _ in needed}
            pending.records["absent"] = [(ds, floor, set()) for ds in upstream_end if ds in self._streams and ds not in wanted]
        for ds_id, start in alone:
            q = (f"Datastreams({ds_id})/Observations?$filter=phenomenonTime%20gt%20{_sta_time(start)}"
                 f"&$orderby=phenomenonTime%20asc&$top={TOP}")
            times: set[datetime] = set()
            clean = True
            for page in self._collection(q):
                part = self.parse_observations(page, ds_id)
                pending.records["observations"] += part.records["observations"]
                pending.quarantined += part.quarantined
                pending.fetched += part.fetched
                if since is not None:
                    times.update(r.phenomenon_time for r in part.records["observations"])
                    clean = clean and not part.quarantined
                if pending.fetched >= BATCH:  # one transaction per ~20k rows, not per stream
                    yield pending
                    pending = Batch(records={"observations": []})
            if since is not None and clean:
                # A reconciliation read the stream's whole window cleanly: what we hold in that
                # window and the upstream does not (e.g. written under a skewed clock) goes.
                pending.records.setdefault("absent", []).append((ds_id, start, times))
        if pending.fetched or pending.records.get("absent"):
            yield pending
        latest = max(newest.values(), default=None)
        yield Batch(cursor=orjson.dumps({"newest": latest.isoformat() if latest else None}).decode(),
                    newest_upstream=latest)

    class _Meta:
        def __init__(self, batch, ends):
            self.batch, self.pop_ends = batch, ends

    def fetch_metadata(self) -> "_Meta":
        batch = Batch(records={"stations": [], "datastreams": []})
        for page in self._collection(f"Things?$expand=Locations&$top={TOP}"):
            for raw in page:
                try:
                    st = self.parse_thing(raw)
                except Exception as err:
                    code, reason = reason_of(err)
                    batch.quarantined.append(Quarantined(_id(raw), f"thing_{code}"[:64], reason, raw, "thing"))
                    continue
                self._stations[st.id] = st
                batch.records["stations"].append(st)
        ends: dict[str, datetime | None] = {}
        q = f"Datastreams?$expand=ObservedProperty,Thing($select=id)&$top={TOP}"
        for page in self._collection(q):
            for raw in page:
                try:
                    ds, end = self.parse_datastream(raw)
                except Exception as err:
                    code, reason = reason_of(err)
                    batch.quarantined.append(Quarantined(_id(raw), f"datastream_{code}"[:64], reason, raw,
                                                         "datastream"))
                    continue
                ends[ds.id] = end
                batch.records["datastreams"].append(ds)
        return self._Meta(batch, ends)

    @parser
    def parse_thing(self, raw) -> StationRecord:
        if not isinstance(raw, dict) or raw.get("@iot.id") in (None, ""):
            raise QuarantineError("missing_id", "Thing without @iot.id")
        props = raw.get("properties") or {}
        lon = lat = None
        for loc in raw.get("Locations") or []:
            geom = (loc or {}).get("location") or {}
            if geom.get("type") == "Point" and len(geom.get("coordinates") or []) >= 2:
                lon, lat = float(geom["coordinates"][0]), float(geom["coordinates"][1])
                break
        commune, method = None, "none"
        if self.locator is not None:
            a = self.locator.assign(lon, lat, props.get("address"), props.get("commune_code"))
            if a.inside_province is False:
                raise QuarantineError("outside_province", f"station ({lon}, {lat}) lies outside the province")
            commune, method = a.commune_code, a.method
        kind = STATION_KINDS.get(str(props.get("station_type") or "").lower(), "other")
        keep = {k: props[k] for k in ("station_code", "station_type", "station_type_name", "commune_name",
                                      "old_district", "operator", "monitoring", "waterbody", "alarm_levels", "wqi_formula")
                if k in props and _json_safe(props[k])}  # NaN or a 40-digit number would poison the JSON column
        return StationRecord(id=str(raw["@iot.id"]), name=raw.get("name"), kind=kind, lat=lat, lon=lon,
                             commune_code=commune, assign_method=method, properties=keep)

    @parser
    def parse_datastream(self, raw) -> tuple[DatastreamRecord, datetime | None]:
        if not isinstance(raw, dict) or raw.get("@iot.id") in (None, ""):
            raise QuarantineError("missing_id", "Datastream without @iot.id")
        ds_id = str(raw["@iot.id"])
        prop = raw.get("ObservedProperty") or {}
        param = parameter_of(prop.get("name"), prop.get("definition"))
        if param is None:
            raise QuarantineError("unknown_parameter", f"unknown observed property {prop.get('name')!r}")
        code, unit = param
        symbol = str((raw.get("unitOfMeasurement") or {}).get("symbol") or "")
        factor = 1.0 if unit == "count" else FACTORS.get((symbol, unit))  # counts: any label
        if factor is None:
            raise QuarantineError("unknown_unit", f"{code}: unit {symbol!r} cannot be converted to {unit}")
        known = self._streams.get(ds_id)
        # A change to the parameter's standard unit (factor 1, any spelling) is taken: values are
        # then stored as sent. A change away from it is held at the stored unit for review.
        if known is not None and known.source_unit is not None and known.source_unit != symbol and factor != 1.0:
            raise QuarantineError("unit_changed", f"datastream {ds_id} ({code}) changed unit {known.source_unit!r} → {symbol!r}; kept {known.source_unit!r}")
        thing = (raw.get("Thing") or {}).get("@iot.id")
        if thing is None or str(thing) not in self._stations:
            raise QuarantineError("unknown_thing", f"datastream {ds_id} belongs to no known Thing")
        name = raw.get("name")
        ds = DatastreamRecord(id=ds_id, station_id=str(thing), name=(isinstance(name, str) and clean_text(name)) or code,
                              parameter=code,
                              unit=unit, source_unit=symbol, factor=factor)
        self._streams[ds_id] = ds
        return ds, _interval_end(raw.get("phenomenonTime"))

    def parse_observations(self, page: list, ds_id: str | None) -> Batch:
        batch = Batch(records={"observations": []})
        for raw in page:
            batch.fetched += 1
            try:
                batch.records["observations"].append(self.parse_observation(raw, ds_id))
            except Exception as err:
                code, reason = reason_of(err)
                batch.quarantined.append(Quarantined(_id(raw), code, reason, raw, "observation"))
        return batch

    @parser
    def parse_observation(self, raw, ds_id: str | None) -> ObservationRow:
        if not isinstance(raw, dict):
            raise QuarantineError("not_an_object", "observation is not a JSON object")
        if raw.get("@iot.id") in (None, ""):
            raise QuarantineError("missing_id", "observation without @iot.id")
        ds_id = ds_id or str(((raw.get("Datastream") or {}).get("@iot.id")) or "")
        ds = self._streams.get(ds_id)
        if ds is None:
            raise QuarantineError("unknown_datastream", f"observation of unknown datastream {ds_id!r}")
        result = raw.get("result")
        if isinstance(result, bool) or not isinstance(result, (int, float)):
            raise QuarantineError("invalid_result", f"result {str(result)[:40]!r} is not a number")
        value = float(result) * ds.factor
        low, high = PLAUSIBLE.get(ds.parameter, (float("-inf"), float("inf")))
        if not (math.isfinite(value) and low <= value <= high):
            raise QuarantineError("implausible_value", f"{ds.parameter} = {value:g} {ds.unit} is outside {low:g}–{high:g}")
        at = parse_time(str(raw.get("phenomenonTime") or "").split("/")[0])
        if at is None:
            raise QuarantineError("missing_phenomenonTime", "observation without phenomenonTime")
        if at.tzinfo is None:
            raise QuarantineError("invalid_phenomenonTime", "phenomenonTime without a time zone")
        at = at.astimezone(timezone.utc)
        if at > utc_now() + FUTURE_TOLERANCE:
            raise QuarantineError("future_timestamp", f"phenomenonTime {at.isoformat()} is in the future")
        upstream_id = str(raw["@iot.id"])
        if len(upstream_id) > 100:
            raise QuarantineError("invalid_id", "observation @iot.id longer than 100 characters")
        # Checked above field by field: skipping pydantic here is what makes 20,000/s possible.
        return ObservationRow(ds_id, at, round(value, 6), upstream_id)

    # --- writing ----------------------------------------------------------------------

    def write(self, session: Session, batch: Batch) -> dict[str, Written]:
        out: dict[str, Written] = {}
        now = datetime.now(timezone.utc)
        if batch.records.get("stations"):
            out["stations"] = upsert_guarded(
                session, m.Station, batch.records["stations"], key="id", guard=None,
                compare=("name", "kind", "lat", "lon", "commune_code", "properties"),
                to_row=lambda r: r.model_dump() | {"updated_at": now})
        if batch.records.get("datastreams"):
            out["datastreams"] = upsert_guarded(
                session, m.Datastream, batch.records["datastreams"], key="id", guard=None,
                compare=("station_id", "name", "parameter", "unit", "source_unit"),
                to_row=lambda r: r.model_dump(exclude={"factor"}) | {"updated_at": now})
        obs = batch.records.get("observations", [])
        out["observations"] = upsert_observations(session, obs)
        touched = [rec.phenomenon_time for rec, _ in out["observations"].changed]
        # Streams whose live record must be re-read from SQL: their station or datastream
        # changed (name, place, unit), or a reconciliation removed observations.
        refresh = {ds.id for ds, _ in out.get("datastreams", Written()).changed}
        stations = {st.id for st, _ in out.get("stations", Written()).changed}
        refresh |= {d.id for d in self._streams.values() if d.station_id in stations}
        t = m.Observation.__table__
        removed: set[str] = set()
        absent = batch.records.get("absent", [])
        # Every time read is stored by now, so a stream holds something the upstream does not only
        # when it holds more rows in the window than were read: count first, and fetch the times
        # only of those streams (a backfill's window is its whole history: 2 M rows a year).
        read = {a[0]: sum(1 for at in a[2] if at > a[1]) for a in absent}
        stored: dict[str, list[datetime]] = {}
        for start in {a[1] for a in absent}:  # one query per window start, not per stream
            streams = [a[0] for a in absent if a[1] == start]
            for i in range(0, len(streams), 500):
                part = streams[i:i + 500]
                held = session.execute(select(t.c.datastream_id, func.count()).where(
                    t.c.datastream_id.in_(part), t.c.phenomenon_time > start).group_by(t.c.datastream_id))
                more = [ds_id for ds_id, n in held if n > read[ds_id]]
                for j in range(0, len(more), 500):
                    for ds_id, at in session.execute(select(t.c.datastream_id, t.c.phenomenon_time).where(
                            t.c.datastream_id.in_(more[j:j + 500]), t.c.phenomenon_time > start)):
                        stored.setdefault(ds_id, []).append(at)
        for ds_id, start, times in absent:
            gone = [at for at in stored.get(ds_id, ()) if at > start and at not in times]
            for i in range(0, len(gone), 1000):
                session.execute(delete(t).where(t.c.datastream_id == ds_id, t.c.phenomenon_time.in_(gone[i:i + 1000])))
            touched += gone
            if gone:
                log.info("environment: datastream %s: %d observations the upstream no longer has removed", ds_id, len(gone))
                removed.add(ds_id)
                newest = self._load_newest()
                at = session.scalar(select(func.max(t.c.phenomenon_time)).where(t.c.datastream_id == ds_id))
                if at is None:
                    newest.pop(ds_id, None)
                else:
                    newest[ds_id] = at
        record_touches(session, "environment", touched)
        self._refresh = (refresh | removed, removed)
        return out

    def live_changes(self, written: dict[str, Written]) -> list[Change]:
        """Newest observation per stream, with its station, for the map and the wall."""
        newest = self._load_newest()
        refresh, removed = getattr(self, "_refresh", (set(), set()))
        self._refresh = (set(), set())
        best: dict[str, ObservationRecord] = {}
        for rec, _kind in written.get("observations", Written()).changed:
            if rec.datastream_id in refresh:
                continue
            cur = best.get(rec.datastream_id)
            if cur is None or rec.phenomenon_time > cur.phenomenon_time:
                best[rec.datastream_id] = rec
        out = []
        for ds_id, rec in best.items():
            if newest.get(ds_id) and newest[ds_id] > rec.phenomenon_time:
                continue  # a late value older than what is shown
            newest[ds_id] = rec.phenomenon_time
            out.append(Change(ds_id, live_record(self._streams[ds_id], self._stations.get(self._streams[ds_id].station_id), rec),
                              "updated", rec.phenomenon_time.isoformat()))
        if refresh:
            with Session(self.engine) as s:
                current = live_from_sql(s, refresh)
            for ds_id in sorted(refresh):
                if ds_id in current:
                    out.append(Change(ds_id, current[ds_id], "updated", current[ds_id]["time"]))
                elif ds_id in removed:
                    out.append(Change(ds_id, {}, "removed", datetime.now(timezone.utc).isoformat()))
        return out

    def _commit(self, batch, quarantined):
        written = super()._commit(batch, quarantined)
        if self.store is None:  # keep the per-stream marks current even without Redis
            newest = self._load_newest()
            for rec, _ in written.get("observations", Written()).changed:
                if rec.datastream_id not in newest or rec.phenomenon_time > newest[rec.datastream_id]:
                    newest[rec.datastream_id] = rec.phenomenon_time
        return written


def live_record(ds: DatastreamRecord, st: StationRecord | None, rec: ObservationRecord) -> dict:
    return {"datastream_id": ds.id, "parameter": ds.parameter, "unit": ds.unit, "value": rec.result,
            "time": rec.phenomenon_time.isoformat(), "station_id": ds.station_id,
            "station_name": st.name if st else None, "station_kind": st.kind if st else None,
            "lat": st.lat if st else None, "lon": st.lon if st else None,
            "commune_code": st.commune_code if st else None}


def _json_safe(value, depth: int = 0) -> bool:
    """Small, finite, plain JSON (what a JSON column on both databases and Redis accept)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < 2**53
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 1000
    if depth < 3 and isinstance(value, list):
        return len(value) <= 50 and all(_json_safe(v, depth + 1) for v in value)
    if depth < 3 and isinstance(value, dict):
        return len(value) <= 50 and all(isinstance(k, str) and _json_safe(v, depth + 1) for k, v in value.items())
    return False


def _id(raw):
    return raw.get("@iot.id") if isinstance(raw, dict) else None


def live_from_sql(session: Session, datastreams=None) -> dict[str, dict]:
    """Newest observation per datastream with its station (`ioc store rebuild`; a connector
    refreshing some streams passes their ids)."""
    o = m.Observation.__table__
    newest = select(o.c.datastream_id, func.max(o.c.phenomenon_time).label("t"))
    if datastreams is not None:
        newest = newest.where(o.c.datastream_id.in_(list(datastreams)))
    newest = newest.group_by(o.c.datastream_id).subquery()
    q = (select(m.Datastream, m.Station, o.c.result, o.c.phenomenon_time)
         .join(newest, newest.c.datastream_id == m.Datastream.id)
         .join(o, (o.c.datastream_id == newest.c.datastream_id) & (o.c.phenomenon_time == newest.c.t))
         .join(m.Station, m.Station.id == m.Datastream.station_id))
    out = {}
    for ds, st, result, at in session.execute(q):
        dsr = DatastreamRecord(id=ds.id, station_id=ds.station_id, name=ds.name, parameter=ds.parameter, unit=ds.unit)
        str_ = StationRecord(id=st.id, name=st.name, kind=st.kind, lat=st.lat, lon=st.lon, commune_code=st.commune_code)
        out[ds.id] = live_record(dsr, str_, ObservationRecord.model_construct(
            datastream_id=ds.id, phenomenon_time=at if at.tzinfo else at.replace(tzinfo=timezone.utc), result=result))
    return out


__all__ = ["EnvironmentConnector", "parameter_of", "live_from_sql"]
