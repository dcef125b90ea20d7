"""Camera registry: a paged REST list modelled on VMS APIs (MediaMTX/ZoneMinder style).

Each poll reads the cameras updated since the cursor (minus an overlap); once an hour
(and on the first run) it reads the whole registry, with `If-None-Match` so an unchanged
page costs a 304. Status transitions are kept as history.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Batch, Connector, QuarantineError, Quarantined, log, parse_time, parser, reason_of
from connectors.http import UpstreamError
from connectors.writer import Written, insert_ignore, record_touches, upsert_guarded
from ioc.db import models as m
from ioc.live_store import Change
from ioc.records import CameraRecord

PAGE_SIZE = 500
OVERLAP = timedelta(minutes=5)
FULL_SYNC_EVERY = 3600.0  # seconds


class CamerasConnector(Connector):
    source = "cameras"
    main_kind = "cameras"
    interval_setting = "cameras_interval"
    url_setting = "cameras_url"
    reconcile_window = None  # a reconciliation is a full sync of the registry (no ETags)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._etags: dict[int, str] = {}
        self._last_full: float | None = None  # None: no full read yet in this process
        self._page_count = 1
        self._since: dict = {}

    def client_options(self) -> dict:
        token = self.settings.cameras_token
        if token is not None and token.get_secret_value():
            return {"headers": {"Authorization": f"Bearer {token.get_secret_value()}"}}
        return {}

    def fetch(self, cursor: str | None, *, since: datetime | None = None) -> Iterator[Batch]:
        """Pages of the registry (all of it, or those updated since the cursor), checked
        against `itemCount`: if fewer distinct cameras were read (pages shifted while we
        read), the list is read once more, then the poll fails and the cursor stays.
        A page's ETag is remembered only once its batch is committed (a 304 must never
        stand for a page we failed to store); a reconciliation (`since`) ignores ETags."""
        state = orjson.loads(cursor) if cursor else {}
        full = (since is not None or not state.get("updated_max") or self._last_full is None
                or time.monotonic() - self._last_full > FULL_SYNC_EVERY)
        updated_since = None if full else datetime.fromisoformat(state["updated_max"]) - OVERLAP
        newest = datetime.fromisoformat(state["updated_max"]) if state.get("updated_max") and since is None else None
        for attempt in range(2):
            ids: set = set()
            idless = 0
            total: int | None = None
            page, page_count = 0, (1 if updated_since else self._page_count)
            while page < page_count:
                params = {"page": page, "itemsPerPage": PAGE_SIZE}
                headers = {}
                if updated_since:
                    params["updated_since"] = updated_since.isoformat()
                elif since is None and attempt == 0 and page in self._etags:
                    headers["If-None-Match"] = self._etags[page][0]
                data, res = self.client.get("cameras", params, headers=headers)
                if data is None:  # 304: this page is as it was when we stored it
                    ids |= self._etags[page][1]
                    idless += self._etags[page][2]
                    page += 1
                    continue
                if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                    raise UpstreamError("camera list without an `items` array")
                try:
                    page_count = int(data.get("pageCount") or 1)
                    total = int(data["itemCount"]) if data.get("itemCount") is not None else total
                except (TypeError, ValueError):
                    raise UpstreamError("camera list with a non-numeric pageCount/itemCount") from None
                if not updated_since:
                    self._page_count = page_count
                page_ids = {_cid(r) for r in data["items"]} - {None}
                page_idless = sum(1 for r in data["items"] if _cid(r) is None)
                ids |= page_ids
                idless += page_idless
                batch = self.parse_page(data["items"])
                for rec in batch.records["cameras"]:
                    if newest is None or rec.updated_at > newest:
                        newest = rec.updated_at
                batch.newest_upstream = newest
                yield batch  # resumed only once the batch is committed
                if not updated_since and res.headers.get("ETag"):
                    self._etags[page] = (res.headers["ETag"], frozenset(page_ids), page_idless)
                page += 1
            if total is None or len(ids) + idless >= total:
                break
            if attempt:
                raise UpstreamError(f"camera paging lost records: read {len(ids) + idless} distinct cameras of the "
                                    f"{total} announced by itemCount; the cursor stays")
            log.warning("cameras: read %d distinct cameras of %d announced; reading the list again",
                        len(ids) + idless, total)
        if full:
            self._last_full = time.monotonic()
        yield Batch(records={"cameras": []}, newest_upstream=newest,
                    cursor=orjson.dumps({"updated_max": newest.isoformat()}).decode() if newest else cursor)

    def parse_page(self, items: list) -> Batch:
        batch = Batch(records={"cameras": []})
        for raw in items:
            batch.fetched += 1
            try:
                batch.records["cameras"].append(self.parse(raw))
            except Exception as err:
                code, reason = reason_of(err)
                batch.quarantined.append(Quarantined(raw.get("id") if isinstance(raw, dict) else None, code, reason, raw,
                                                     "camera"))
        return batch

    @parser
    def parse(self, raw) -> CameraRecord:
        if not isinstance(raw, dict):
            raise QuarantineError("not_an_object", f"expected a JSON object, got {type(raw).__name__}")
        if raw.get("id") in (None, ""):
            raise QuarantineError("missing_id", "camera id is missing")
        lat, lon = _num(raw.get("lat")), _num(raw.get("lon"))
        commune, district, method = None, None, "none"
        if self.locator is not None:
            a = self.locator.assign(lon, lat, raw.get("address"), raw.get("commune_code"))
            if a.inside_province is False:
                raise QuarantineError("outside_province", f"point ({lon}, {lat}) lies outside the province")
            commune, method = a.commune_code, a.method
        elif raw.get("commune_code"):
            commune, method = str(raw["commune_code"]), "upstream"
        return CameraRecord(
            id=str(raw["id"]), name=raw.get("name"), lat=lat, lon=lon, address=raw.get("address"),
            commune_code=commune, assign_method=method, agency=raw.get("owner_agency"),
            vms_type=raw.get("vms_type"), hls_url=raw.get("hls_url"), snapshot_url=raw.get("snapshot_url"),
            status=raw.get("status"), status_reason=raw.get("status_reason"),
            last_seen=parse_time(raw.get("last_seen")), fps=_num(raw.get("fps")),
            updated_at=parse_time(raw.get("updated_at")),
        )

    def write(self, session: Session, batch: Batch) -> dict[str, Written]:
        cams = batch.records.get("cameras", [])
        ids = list({c.id for c in cams})
        prev: dict[str, tuple] = {}
        t = m.Camera.__table__
        for i in range(0, len(ids), 500):
            for row in session.execute(select(t.c.id, t.c.status, t.c.status_since).where(t.c.id.in_(ids[i:i + 500]))):
                prev[row[0]] = (row[1], row[2])

        def to_row(rec: CameraRecord) -> dict:
            row = rec.model_dump()
            old = prev.get(rec.id)
            row["status_since"] = old[1] if old and old[0] == rec.status and old[1] else rec.updated_at
            return row

        written = upsert_guarded(session, m.Camera, cams, key="id", guard="updated_at", to_row=to_row,
                                 authoritative=batch.authoritative)
        transitions = [{"camera_id": rec.id, "at": rec.updated_at, "status": rec.status,
                        "previous": prev[rec.id][0] if rec.id in prev else None}
                       for rec, _kind in written.changed
                       if rec.id not in prev or prev[rec.id][0] != rec.status]
        insert_ignore(session, m.CameraStatusChange, transitions, ["camera_id", "at"])
        record_touches(session, "cameras", [t["at"] for t in transitions])
        self._since = {rec.id: to_row(rec)["status_since"] for rec, _ in written.changed}
        return {"cameras": written}

    def live_changes(self, written: dict[str, Written]) -> list[Change]:
        return [Change(rec.id, live_record(rec, self._since.get(rec.id)), kind, rec.updated_at.isoformat())
                for rec, kind in written["cameras"].changed]


# stream and snapshot addresses (credentials ride in them) stay in SQL, read only by the server's
# snapshot proxy (docs/security.md § Camera stream addresses)
NOT_LIVE = ("hls_url", "snapshot_url")


def live_record(rec: CameraRecord, since) -> dict:
    data = rec.as_json()
    for field in NOT_LIVE:
        data.pop(field, None)
    data["status_since"] = since.isoformat() if since else None
    return data


def _cid(raw):
    """A raw camera's id when it has a usable one (for counting distinct records)."""
    cid = raw.get("id") if isinstance(raw, dict) else None
    return cid if isinstance(cid, (str, int)) and cid != "" else None


def _num(value) -> float | None:
    if value in (None, ""):
        return None
    return float(value)


def live_from_sql(session: Session) -> dict[str, dict]:
    """Redis `latest` for the cameras rebuilt from the history (`ioc store rebuild`)."""
    out = {}
    cols = list(CameraRecord.model_fields)
    for cam in session.scalars(select(m.Camera)):
        out[cam.id] = live_record(CameraRecord.model_construct(**{c: getattr(cam, c) for c in cols}), cam.status_since)
    return out
