"""Administrative procedures: the dossier feed (QĐ 766 sync fields) and the catalogue.

Dossiers are read by update time with keyset paging: each request asks again from the last
`updated_at` seen (inclusive) and duplicates are dropped by MaHoSo, so records that move
while we read can never be skipped. The catalogue is re-read hourly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectors.base import Batch, Connector, QuarantineError, Quarantined, parse_time, parser, reason_of
from connectors.http import UpstreamError
from connectors.writer import Written, differing, record_touches, upsert_guarded
from ioc.db import models as m
from ioc.live_store import Change
from ioc.records import FUTURE_TOLERANCE, DossierRecord, ProcedureRecord

PAGE_SIZE = 10_000
CATALOGUE_EVERY = 3600.0
FIRST_RUN = timedelta(days=35)  # enough for this month's and last month's indicators
ENDED = {"7", "8"}  # withdrawn by the citizen, processing stopped
DOSSIER_ROWS = {"key": "id", "to_row": lambda r: r.model_dump()}  # how a dossier is stored


class ProceduresConnector(Connector):
    source = "procedures"
    main_kind = "dossiers"
    interval_setting = "procedures_interval"
    url_setting = "procedures_url"
    reconcile_window = timedelta(days=2)  # re-read two days of dossier updates

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._catalogue_at: float | None = None  # monotonic time of the last read; None: never

    def client_options(self) -> dict:
        key = self.settings.procedures_api_key
        if key is not None and key.get_secret_value():
            return {"headers": {"X-API-Key": key.get_secret_value()}}
        return {}

    def fetch(self, cursor: str | None, *, since: datetime | None = None) -> Iterator[Batch]:
        # (monotonic time starts near 0 at boot: "never read" must not look like "read at boot")
        due = self._catalogue_at is None or time.monotonic() - self._catalogue_at > CATALOGUE_EVERY
        if due or since is not None:
            yield self.fetch_catalogue()
            self._catalogue_at = time.monotonic()
        state = orjson.loads(cursor) if cursor else {}
        if since is not None:
            mark = since  # … but never skipping what the cursor has not reached (a long outage)
            if state.get("updated_max"):
                mark = min(mark, datetime.fromisoformat(state["updated_max"]))
        elif state.get("updated_max"):
            mark = datetime.fromisoformat(state["updated_max"])
        else:
            mark = datetime.now(timezone.utc) - FIRST_RUN
        seen_at_mark: set[str] = set()  # ids already read whose updated_at == mark
        page = 1
        while True:
            data, _ = self.client.get("dossiers", {"updated_since": mark.isoformat(), "page": page, "page_size": PAGE_SIZE})
            items = data.get("items") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise UpstreamError("dossier feed answer without an `items` array")
            if page == 1 and len(items) < PAGE_SIZE:
                # The whole remainder in one page: it must hold every record the feed counts.
                ids = {_hashable(r.get("MaHoSo")) for r in items if isinstance(r, dict)} - {None}
                got = len(ids) + sum(1 for r in items if not isinstance(r, dict) or _hashable(r.get("MaHoSo")) is None)
                total = data.get("total")
                if isinstance(total, int) and not isinstance(total, bool) and got < total:
                    raise UpstreamError(f"dossier feed sent {got} distinct dossiers of the {total} it announced "
                                        f"(updated_since={mark.isoformat()}); the cursor stays")
            batch = self.parse_page(items, skip=seen_at_mark)
            recs = batch.records["dossiers"]
            newest = max((r.updated_at for r in recs), default=None)
            if newest is not None and newest > mark:
                seen_at_mark = {r.id for r in recs if r.updated_at == newest}
                mark, page = newest, 1
            else:
                seen_at_mark |= {r.id for r in recs}
                page += 1  # a page full of one instant: read on in that instant
            batch.newest_upstream = mark
            batch.cursor = orjson.dumps({"updated_max": mark.isoformat()}).decode()
            yield batch
            if len(items) < PAGE_SIZE:
                return

    def fetch_catalogue(self) -> Batch:
        batch = Batch(records={"procedures": []})
        page = 1
        while True:
            data, _ = self.client.get("procedures", {"page": page, "page_size": PAGE_SIZE})
            items = data.get("items") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise UpstreamError("procedure catalogue without an `items` array")
            for raw in items:
                try:
                    batch.records["procedures"].append(ProcedureRecord(
                        code=raw.get("MaTTHC"), name=raw.get("TenTTHC"), sector=raw.get("TenLinhVuc"),
                        online_level=raw.get("muc_do_truc_tuyen"), has_fee=bool(raw.get("co_phi"))))
                except Exception as err:
                    code, reason = reason_of(err)
                    batch.quarantined.append(Quarantined(raw.get("MaTTHC") if isinstance(raw, dict) else None,
                                                         f"procedure_{code}"[:64], reason, raw, "procedure"))
            if len(items) < PAGE_SIZE:
                return batch
            page += 1

    def parse_page(self, items: list, skip: set[str]) -> Batch:
        batch = Batch(records={"dossiers": []})
        for raw in items:
            rid = _hashable(raw.get("MaHoSo")) if isinstance(raw, dict) else None
            if rid is not None and rid in skip:
                continue  # re-read at the keyset boundary: already counted
            batch.fetched += 1
            try:
                batch.records["dossiers"].append(self.parse(raw))
            except Exception as err:
                code, reason = reason_of(err)
                batch.quarantined.append(Quarantined(rid, code, reason, raw, "dossier"))
        return batch

    @parser
    def parse(self, raw) -> DossierRecord:
        if not isinstance(raw, dict):
            raise QuarantineError("not_an_object", f"expected a JSON object, got {type(raw).__name__}")
        if raw.get("MaHoSo") in (None, ""):
            raise QuarantineError("missing_id", "MaHoSo is missing")
        commune = self.locator.upstream_code(raw.get("commune_code")) if self.locator else raw.get("commune_code")
        status = raw.get("TrangThaiHoSo")
        wait = raw.get("thoi_gian_cho_bo_sung") or 0.0
        received = parse_time(raw.get("NgayTiepNhan"))
        updated = parse_time(raw.get("updated_at"))
        # a time in the future first: the waiting-time checks below would blame the wait for it
        # (found by the all-faults drill: a future NgayTiepNhan was refused as "implausible_wait")
        for name, at in (("NgayTiepNhan", received), ("updated_at", updated)):
            if at is not None and at.tzinfo is not None and at > datetime.now(timezone.utc) + FUTURE_TOLERANCE:
                raise QuarantineError("future_timestamp", f"{name} {at.isoformat()} is in the future")
        if received is not None and float(wait) > 24 * 366:
            raise QuarantineError("implausible_wait", f"thoi_gian_cho_bo_sung {wait} h is more than a year")
        if received is not None and updated is not None:
            # waits lie between reception and the last update: more is another unit (minutes)
            life_h = (updated - received).total_seconds() / 3600
            if float(wait) > life_h * 1.01 + 1:
                raise QuarantineError("implausible_wait", f"thoi_gian_cho_bo_sung {wait} h is longer than the "
                                                          f"dossier's life so far ({life_h:.1f} h): a unit error?")
        return DossierRecord(
            id=str(raw["MaHoSo"]), procedure_code=raw.get("MaTTHC"), agency=raw.get("TenCoQuan") or raw.get("MaCoQuan"),
            commune_code=commune, channel=raw.get("KenhThucHien"), received_at=received,
            due_at=parse_time(raw.get("NgayHenTra")), finished_at=parse_time(raw.get("NgayKetThucXuLy")),
            status=None if status is None else str(status), supplement_requests=raw.get("so_lan_yeu_cau_bo_sung") or 0,
            supplement_wait_hours=wait, paid_online=raw.get("thanh_toan_truc_tuyen"),
            electronic_result=raw.get("co_ket_qua_dien_tu"), digitised=raw.get("da_so_hoa"),
            data_reused=raw.get("tai_su_dung_du_lieu"), satisfaction=raw.get("danh_gia_hai_long"),
            complaint=raw.get("co_khieu_nai"), updated_at=updated,
        )

    def write(self, session: Session, batch: Batch) -> dict[str, Written]:
        out = {}
        if batch.records.get("procedures"):
            now = datetime.now(timezone.utc)
            out["procedures"] = upsert_guarded(
                session, m.Procedure, batch.records["procedures"], key="code", guard=None,
                compare=("name", "sector", "online_level", "has_fee"), to_row=lambda r: r.model_dump() | {"updated_at": now})
        out["dossiers"] = upsert_guarded(session, m.Dossier, batch.records.get("dossiers", []), **DOSSIER_ROWS,
                                         guard="updated_at", authoritative=batch.authoritative,
                                         touch=("received_at", "finished_at"))
        record_touches(session, "procedures", out["dossiers"].touched)
        return out

    def differing(self, session: Session, records: list) -> list:
        return differing(session, m.Dossier, records, **DOSSIER_ROWS)

    def read_one(self, record: DossierRecord) -> DossierRecord:
        data, _ = self.client.get(f"dossiers/{quote(record.id, safe='')}")
        return self.parse(data)

    def live_changes(self, written: dict[str, Written]) -> list[Change]:
        out = []
        for rec, kind in written["dossiers"].changed if "dossiers" in written else []:
            if is_open(rec):
                out.append(Change(rec.id, rec.as_json(), kind, rec.updated_at.isoformat()))
            elif kind == "updated":
                out.append(Change(rec.id, {}, "removed", rec.updated_at.isoformat()))
        return out


def _hashable(value):
    """An id usable as a set member (a hostile feed may send a list or an object)."""
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


def is_open(rec) -> bool:
    return rec.finished_at is None and (rec.status or "") not in ENDED


def live_from_sql(session: Session) -> dict[str, dict]:
    """Unfinished dossiers for Redis `latest` (`ioc store rebuild`)."""
    cols = list(DossierRecord.model_fields)
    q = select(m.Dossier).where(m.Dossier.finished_at.is_(None),
                                or_(m.Dossier.status.is_(None), m.Dossier.status.not_in(ENDED)))
    return {d.id: DossierRecord.model_construct(**{c: getattr(d, c) for c in cols}).as_json()
            for d in session.scalars(q)}
