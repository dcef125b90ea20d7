"""Hotline 1022 over Open311 GeoReport v2.

Open311 has no "updated since" filter, so each poll reads
1. new tickets: `requests.json?start_date=<cursor − overlap>&end_date=<now>` (≤ 90-day windows),
2. tickets still open: `requests.json?status=open` over the last 90 days,
3. tickets we hold as open that neither list returned (closed meanwhile, or older than the
   window): `requests.json?service_request_id=a,b,c`.
Paging uses the common `page`/`page_size` extension; a server without it returns one page.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connectors.base import Batch, Connector, QuarantineError, Quarantined, log, parse_time, parser, reason_of
from connectors.http import UpstreamError
from connectors.writer import Written, differing, insert_ignore, upsert_guarded
from ioc.db import models as m
from ioc.live_store import Change
from ioc.records import TicketRecord

PAGE_SIZE = 1000  # Open311 servers commonly cap at 1,000; smaller caps are detected
MAX_SPAN = timedelta(days=89)  # Open311 caps a date window at 90 days
OVERLAP = timedelta(hours=6)  # late-registered tickets
LIVE_WINDOW = timedelta(days=90)  # tickets kept in Redis `latest`
ID_CHUNK = 50
ANSWERED = {"answered", "closed", "resolved"}


class HotlineConnector(Connector):
    source = "hotline"
    main_kind = "tickets"
    interval_setting = "hotline_interval"
    url_setting = "hotline_url"
    reconcile_window = timedelta(days=7)  # re-read a week of tickets every reconcile_every

    def client_options(self) -> dict:
        # A header, not the `api_key` query parameter: URLs end up in logs and proxies.
        key = self.settings.hotline_api_key
        if key is not None and key.get_secret_value():
            return {"headers": {"X-API-Key": key.get_secret_value()}}
        return {}

    def _params(self, **extra) -> dict:
        return {k: v for k, v in extra.items() if v is not None}

    # --- reading ----------------------------------------------------------------------

    def _pages(self, **query) -> Iterator[list]:
        """Pages of requests.json, checked against X-Total-Count.

        A server may cap page_size below what we ask, so a page is "the last" when it holds
        fewer distinct records than the fullest page seen (or none). Distinct, because
        duplicated and out-of-order copies make pages look longer than they are. At the end
        the distinct records read must reach X-Total-Count: when pages shifted while we read
        and records were skipped, the query is read once more, and if records are still
        missing the poll fails (UpstreamError) so the cursor never moves past them."""
        for attempt in range(2):
            ids: set = set()
            idless = 0
            total: int | None = None
            page, fullest = 1, 0
            seen_first: str | None = None
            while True:
                data, res = self.client.get("requests.json", self._params(page=page, page_size=PAGE_SIZE, **query))
                if not isinstance(data, list):
                    raise_bad_shape(data)
                if not data:
                    break
                first = orjson.dumps(data[0], default=str).decode()[:200]
                if page > 1 and first == seen_first:
                    break  # a server without paging returns the same page again
                seen_first = seen_first or first
                page_ids = {_rid(r) for r in data} - {None}
                page_idless = sum(1 for r in data if _rid(r) is None)
                ids |= page_ids
                idless += page_idless
                stated = res.headers.get("X-Total-Count")
                total = int(stated) if stated and stated.isdigit() else total
                yield data
                distinct = len(page_ids) + page_idless
                fullest = max(fullest, distinct)
                if distinct < fullest or (total is not None and len(ids) + idless >= total):
                    break
                page += 1
            if total is None or len(ids) + idless >= total:
                return
            log.warning("hotline: read %d distinct tickets of %d announced; reading the query again",
                        len(ids) + idless, total)
        raise UpstreamError(f"hotline paging lost records: read {len(ids) + idless} distinct tickets of the "
                            f"{total} announced by X-Total-Count ({_describe(query)}); the cursor stays")

    def fetch(self, cursor: str | None, *, since: datetime | None = None) -> Iterator[Batch]:
        now = datetime.now(timezone.utc)
        state = orjson.loads(cursor) if cursor else {}
        if since is not None:
            start = since  # … but never skipping what the cursor has not reached (a long outage)
            if state.get("requested_max"):
                start = min(start, datetime.fromisoformat(state["requested_max"]) - OVERLAP)
        elif state.get("requested_max"):
            start = datetime.fromisoformat(state["requested_max"]) - OVERLAP
        else:
            start = now - timedelta(days=90)  # first run: Open311's own default window
        seen: set[str] = set()
        newest = datetime.fromisoformat(state["requested_max"]) if state.get("requested_max") else None
        if since is not None:
            newest = None  # a reconciliation re-derives the cursor from what the upstream holds now
        # 1. new tickets, window by window
        window_start = start
        while window_start < now:
            window_end = min(window_start + MAX_SPAN, now)
            for page in self._pages(start_date=_iso(window_start), end_date=_iso(window_end)):
                batch = self.parse_page(page, seen)
                for rec in batch.records["tickets"]:
                    if newest is None or rec.requested_at > newest:
                        newest = rec.requested_at
                batch.newest_upstream = newest
                yield batch
            window_start = window_end
        # the cursor moves only once the whole window is committed
        yield Batch(records={"tickets": []}, cursor=orjson.dumps({"requested_max": _iso(newest)}).decode()
                    if newest else cursor, newest_upstream=newest)
        # 2. still open
        for page in self._pages(status="open", start_date=_iso(now - MAX_SPAN), end_date=_iso(now)):
            yield self.parse_page(page, seen)
        # 3. open in our history but not listed: closed since, or older than the window
        with Session(self.engine) as s:
            known_open = [i for i in s.scalars(select(m.Ticket.external_id).where(
                m.Ticket.source == self.source, m.Ticket.status == "open")) if i not in seen]
        for i in range(0, len(known_open), ID_CHUNK):
            ids = ",".join(known_open[i : i + ID_CHUNK])
            data, _ = self.client.get("requests.json", self._params(service_request_id=ids))
            if not isinstance(data, list):
                raise_bad_shape(data)
            yield self.parse_page(data, seen)

    def parse_page(self, page: list, seen: set[str]) -> Batch:
        batch = Batch(records={"tickets": []})
        places = self.locate_many(page)
        for raw, place in zip(page, places):
            batch.fetched += 1
            rid = raw.get("service_request_id") if isinstance(raw, dict) else None
            try:
                rec = self.parse(raw, place)
            except Exception as err:
                code, reason = reason_of(err)
                batch.quarantined.append(Quarantined(rid, code, reason, raw, "ticket"))
                continue
            seen.add(rec.external_id)
            batch.records["tickets"].append(rec)
        return batch

    def locate_many(self, page: list) -> list:
        """Places of a page's tickets in one vectorised call (addresses are the slow part)."""
        if self.locator is None or not page:
            return [None] * len(page)
        rows = [_where(raw) for raw in page]
        frame = self.locator.assign_frame([r[0] for r in rows], [r[1] for r in rows],
                                          [r[2] for r in rows], [r[3] for r in rows])
        return list(frame.itertuples(index=False))

    @parser
    def parse(self, raw, place=None) -> TicketRecord:
        if not isinstance(raw, dict):
            raise QuarantineError("not_an_object", f"expected a JSON object, got {type(raw).__name__}")
        ext = raw.get("extended_attributes") or {}
        if not isinstance(ext, dict):
            ext = {}
        rid = raw.get("service_request_id")
        if rid in (None, ""):
            raise QuarantineError("missing_id", "service_request_id is missing")
        history = []
        for note in raw.get("notes") or []:
            if not isinstance(note, dict):
                continue
            at = parse_time(note.get("datetime"))
            state = str(note.get("type") or note.get("status") or "").strip().lower() or "note"
            if at is not None:
                history.append((at.astimezone(timezone.utc), state[:32], note.get("description")))
        history.sort(key=lambda h: h[0])
        status = raw.get("status")
        updated = parse_time(raw.get("updated_datetime")) or parse_time(raw.get("requested_datetime"))
        answered = None
        if str(status).lower() == "closed":
            answered_notes = [h[0] for h in history if h[1] in ANSWERED]
            answered = answered_notes[-1] if answered_notes else updated
        for key in ("lat", "long"):
            value = raw.get(key)
            if value not in (None, "") and not isinstance(value, (int, float)):
                try:
                    float(value)
                except (TypeError, ValueError):
                    raise QuarantineError("invalid_coordinates", f"{key} {str(value)[:40]!r} is not a number") from None
        lon, lat, address, upstream = _where(raw)
        place = self.locate(lon, lat, address, upstream) if place is None else self.checked(place, lon, lat)
        return TicketRecord(
            external_id=str(rid),
            service_code=_str(raw.get("service_code")),
            service_name=_str(raw.get("service_name")),
            channel=_str(ext.get("channel")),
            status=status,
            workflow_state=_str(ext.get("workflow_state")),
            agency=_str(raw.get("agency_responsible")),
            description=_str(raw.get("description")),
            address=_str(raw.get("address")),
            lat=lat, lon=lon,
            commune_code=place[0], district_pre2025=place[1], assign_method=place[2],
            requested_at=parse_time(raw.get("requested_datetime")),
            updated_at=updated,
            expected_at=parse_time(raw.get("expected_datetime")),
            answered_at=answered,
            reopened_count=sum(1 for h in history if h[1] == "reopened"),
            resolution_level=ext.get("resolution_level") or None,
            reporter_name=_str(ext.get("reporter_name")),
            reporter_phone=_str(ext.get("reporter_phone")),
            history=tuple(history),
        )

    def locate(self, lon, lat, address, upstream_code):
        """(commune_code, district_code, method); a point outside the province is quarantined."""
        if self.locator is None:
            return (str(upstream_code) if upstream_code else None, None, "upstream" if upstream_code else "none")
        return self.checked(self.locator.assign(lon, lat, address, upstream_code), lon, lat)

    @staticmethod
    def checked(a, lon, lat):
        if a.inside_province is not None and not a.inside_province:  # numpy or Python bool
            raise QuarantineError("outside_province", f"point ({lon}, {lat}) lies outside the province")
        return a.commune_code, a.district_code, a.method

    # --- writing ----------------------------------------------------------------------

    def write(self, session: Session, batch: Batch) -> dict[str, Written]:
        tickets = batch.records.get("tickets", [])
        written = upsert_guarded(session, m.Ticket, tickets, **self._rows, guard="updated_at",
                                 authoritative=batch.authoritative)
        # A ticket's notes are its whole history: a changed ticket's history is replaced, so
        # notes written under a skewed upstream clock do not stay beside the corrected ones.
        changed = [rec.external_id for rec, _kind in written.changed]
        t = m.TicketStatusChange.__table__
        for i in range(0, len(changed), 1000):
            session.execute(delete(t).where(t.c.ticket_external_id.in_(changed[i:i + 1000])))
        changes = [{"ticket_external_id": rec.external_id, "at": at, "state": state,
                    "note": (note or "")[:1000] or None}
                   for rec, _kind in written.changed for at, state, note in rec.history]
        insert_ignore(session, m.TicketStatusChange, changes, ["ticket_external_id", "at", "state"])
        return {"tickets": written}

    @property
    def _rows(self) -> dict:
        """How a ticket is stored (writer.upsert_guarded, writer.differing)."""
        return {"key": "external_id", "to_row": _row, "scope": {"source": self.source}}

    def differing(self, session: Session, records: list) -> list:
        return differing(session, m.Ticket, records, **self._rows)

    def read_one(self, record: TicketRecord) -> TicketRecord:
        data, _ = self.client.get(f"requests/{quote(record.external_id, safe='')}.json")
        if not isinstance(data, list) or len(data) != 1:
            raise UpstreamError(f"requests/{record.external_id}.json: expected one request in a list")
        return self.parse(data[0], self.locate_many(data)[0])

    def live_changes(self, written: dict[str, Written]) -> list[Change]:
        cutoff = datetime.now(timezone.utc) - LIVE_WINDOW
        return [Change(rec.external_id, live_record(rec), kind, rec.updated_at.isoformat())
                for rec, kind in written["tickets"].changed if rec.requested_at >= cutoff]

    def prune_live(self) -> int:
        """Drop tickets older than the live window from Redis (SQL keeps them)."""
        if self.store is None:
            return 0
        cutoff = (datetime.now(timezone.utc) - LIVE_WINDOW).isoformat()
        old = [k for k, v in self.store.latest(self.source).items() if v.get("requested_at", "") < cutoff]
        if old:
            self.store.apply_changes(self.source, [Change(k, {}, "removed", cutoff) for k in old])
        return len(old)


# personal data stays in SQL (docs/security.md § Personal data): not in Redis, not on the wall
NOT_LIVE = ("history", "reporter_name", "reporter_phone", "address", "description")


def live_record(rec: TicketRecord) -> dict:
    data = rec.as_json()
    for field in NOT_LIVE:
        data.pop(field, None)
    return data


def _row(rec: TicketRecord) -> dict:
    return rec.model_dump(exclude={"history"})


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _where(raw) -> tuple:
    """(lon, lat, address, upstream commune code) of a raw ticket; unusable parts are None."""
    if not isinstance(raw, dict):
        return None, None, None, None
    ext = raw.get("extended_attributes") if isinstance(raw.get("extended_attributes"), dict) else {}
    try:
        lat, lon = _coord(raw.get("lat")), _coord(raw.get("long"))
    except (TypeError, ValueError, OverflowError):
        lat = lon = None  # the record is quarantined by parse(); the page goes on
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        lat = lon = None
    address = raw.get("address") if isinstance(raw.get("address"), str) else None
    code = ext.get("commune_code")
    return lon, lat, address, code if isinstance(code, (str, int)) and not isinstance(code, bool) else None


def _rid(raw):
    """A raw ticket's id when it has a usable one (for counting distinct records)."""
    rid = raw.get("service_request_id") if isinstance(raw, dict) else None
    return rid if isinstance(rid, (str, int)) and rid != "" else None


def _describe(query: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in query.items())


def _coord(value) -> float | None:
    if value in (None, ""):
        return None
    return float(value)


def _str(value) -> str | None:
    return None if value is None else str(value)


def raise_bad_shape(data) -> None:
    from connectors.http import UpstreamError

    raise UpstreamError(f"unexpected response shape: {type(data).__name__} instead of a list")


def live_from_sql(session: Session) -> dict[str, dict]:
    """Redis `latest` for the hotline rebuilt from the history (`ioc store rebuild`)."""
    cutoff = datetime.now(timezone.utc) - LIVE_WINDOW
    out = {}
    cols = [c for c in TicketRecord.model_fields if c != "history"]
    for t in session.scalars(select(m.Ticket).where(m.Ticket.requested_at >= cutoff)):
        rec = TicketRecord.model_construct(**{c: getattr(t, c) for c in cols})
        out[t.external_id] = live_record(rec)
    return out
