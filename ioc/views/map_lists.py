"""A commune's side panel on the sector map: its KPIs for the chosen period against the
province and the previous period (the period queries, docs/kpis.md § 10), and its lists —
1022 tickets, offline cameras, overdue dossiers — paged, sorted and filtered in SQL.

Lists show no personal data: a ticket is its id, category, state, dates and agency; the
free-text search looks only at the columns shown. Sorting takes a whitelisted column id;
every order ends with the record's id, so pages never overlap."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import and_, case, func, literal, or_, select

from ioc.auth import scope
from ioc.db import models as m
from ioc.i18n import t
from ioc.kpi import qd766_sql, tickets as kpi_tickets
from ioc.views import text
from ioc.views.map_details import NotFound
from ioc.views.privacy import Reveal, current_principal, log_access
from ioc.views.map_filters import (
    DEADLINE_WORKING_DAYS,
    MapFilters,
    _period_cache,
    cached_period_figures,
    aware,
    commune_areas,
    duration,
    status_sql,
    ticket_conditions,
    when,
)

log = logging.getLogger("ioc.views")

LIST_KINDS = ("tickets", "cameras_offline", "dossiers_overdue")
MAX_PAGE_SIZE = 200
MAX_QUERY = 100
EXPORT_MAX = 100_000


# --- the panel --------------------------------------------------------------------------------


class KpiRow(BaseModel):
    key: str
    label: str
    value: str  # the commune's, formatted ("—" when missing)
    province: str | None  # None: not shown to this principal (ioc.auth.scope.sees_province)
    previous: str  # the commune's in the previous period
    change: str  # "+3 so với kỳ trước", or why there is none
    tone: Literal["good", "bad", "neutral"] = "neutral"


class CommunePanel(BaseModel):
    code: str
    name: str
    period: str  # "03/11/2026 – 02/12/2026 (30 ngày) · số liệu đến 02/12/2026 11:50"
    previous_period: str
    rows: list[KpiRow]
    note: str = ""
    error: str | None = None
    columns: list[str]  # the headers of rows: indicator, commune, [province,] previous, change


def clear_cache() -> None:
    _period_cache.clear()


def commune_panel(views, code: str, filters: MapFilters, lang: str, *, province: bool | None = None) -> CommunePanel:
    """The commune's KPIs for the filters' range (``period_figures(…, "custom", start, end)``
    and its per-commune breakdowns: the figures of ``ioc kpi --json --period custom``),
    against the province and the previous range of equal length (counted as its own custom
    period, so the commune's previous figures are the same query's). A database error is
    said in ``error``, never raised; an unknown commune raises ``NotFound``. The province column
    only for a principal who may see province-wide figures (``province`` None: the request's
    principal, ioc.auth.scope.sees_province; a user limited to communes may not)."""
    principal = current_principal()
    if province is None:
        province = scope.sees_province(principal)
    # a sector user sees the rows of their sectors only (ioc.auth.scope.sees_sector)
    specs = [spec for spec in _ROWS if scope.sees_sector(principal, spec.sector)]
    names = views.atlas.names()
    if code not in names:
        raise NotFound(f"commune {code[:20]!r} not found")
    tz = views.tz
    days = filters.days
    ps, pe = filters.start - timedelta(days=days), filters.start - timedelta(days=1)
    cols = [t(k, lang) for k in ("sm.panel.indicator", "sm.panel.commune", "sm.panel.province",
                                 "sm.panel.previous", "sm.panel.change") if province or k != "sm.panel.province"]
    note = t("sm.panel.filters_note", lang) if (filters.service or filters.sector != "all"
                                                 or filters.status != "all") else ""
    prev_text = t("sm.panel.previous_period", lang).format(start=ps.strftime("%d/%m/%Y"), end=pe.strftime("%d/%m/%Y"))
    air = _air_stations(views, code)
    domains = tuple(d for d in ("hotline", "cameras", "procedures", "environment")
                    if any(spec.sector == d for spec in specs) and (d != "environment" or air))
    try:
        cur = cached_period_figures(views, filters.start, filters.end, domains)
        prev = cached_period_figures(views, ps, pe, domains)
    except Exception:
        log.exception("commune panel: period figures failed")
        return CommunePanel(code=code, name=names[code], period=filters.period_text(lang), previous_period=prev_text,
                            rows=[], note=note, error=t("sm.panel.error", lang), columns=cols)
    period = filters.period_text(lang)
    if not cur["period"]["complete"]:
        period += " · " + t("sm.panel.as_of", lang).format(at=when(datetime.fromisoformat(cur["period"]["as_of"]), tz))
    area = commune_areas(views)
    rows = [_row(spec, code, cur, prev, area, air, lang, province) for spec in specs
            if spec.key != "aqi_max" or air]
    return CommunePanel(code=code, name=names[code], period=period, previous_period=prev_text, rows=rows, note=note,
                        columns=cols)


def _air_stations(views, code: str) -> list[str]:
    st = m.Station.__table__
    with views.engine().connect() as conn:
        return [str(i) for (i,) in conn.execute(select(st.c.id).where(st.c.commune_code == code, st.c.kind == "air"))]


@dataclass(frozen=True)
class _RowSpec:
    key: str
    sector: str  # whose figures: hotline | cameras | procedures | environment
    fmt: str  # count | pct | per_km2 | score | aqi
    better: bool | None  # is higher better?
    get: Callable  # (result, code or None for the province, context) → number (or (score, max))


def _hot(res, code, field_):
    h = res.get("hotline") or {}
    if not h.get("has_data"):
        return None
    if code is None:
        return (h.get("figures") or {}).get(field_)
    c = ((h.get("by") or {}).get("commune") or {}).get(code)
    if c is None:  # no ticket from this commune in the range
        return 0 if field_ in ("received", "overdue") else None
    return c.get(field_)


def _per_km2(res, code, ctx):
    area = ctx["area"]
    n = _hot(res, code, "received")
    if n is None:
        return None
    a = area.get(code) if code is not None else (sum(area.values()) or None)
    return n / a if a else None


def _cam(res, code, _ctx):
    c = res.get("cameras") or {}
    if not c.get("has_data"):
        return None
    if code is None:
        return (c.get("figures") or {}).get("availability_pct")
    return (c.get("by_commune") or {}).get(code)


def _proc(res, code, what):
    p = res.get("procedures") or {}
    if not p.get("has_data"):
        return None
    unit = p.get("province") if code is None else (p.get("commune") or {}).get(code)
    if unit is None:
        return 0 if what in ("received", "overdue_unfinished") else None
    if what in ("received", "overdue_unfinished"):
        return (unit.get("counts") or {}).get(what)
    if what == "2.1":
        return ((unit.get("indicators") or {}).get("2.1") or {}).get("value")
    if unit.get("score") is None:
        return None
    return (unit["score"], unit.get("max_score"))


def _aqi_max(res, code, ctx):
    e = res.get("environment") or {}
    if not e.get("has_data"):
        return None
    if code is None:
        return (e.get("figures") or {}).get("max_daily_aqi")
    vals = [d["max_aqi"] for sid, d in (e.get("daily_aqi") or {}).items()
            if sid in ctx["air"] and d.get("max_aqi") is not None]
    return max(vals, default=None)


_ROWS = (
    _RowSpec("hotline_received", "hotline", "count", None, lambda r, c, x: _hot(r, c, "received")),
    _RowSpec("hotline_overdue", "hotline", "count", False, lambda r, c, x: _hot(r, c, "overdue")),
    _RowSpec("hotline_on_time", "hotline", "pct", True, lambda r, c, x: _hot(r, c, "on_time_pct")),
    _RowSpec("hotline_per_km2", "hotline", "per_km2", None, _per_km2),
    _RowSpec("cameras_availability", "cameras", "pct", True, _cam),
    _RowSpec("dossiers_received", "procedures", "count", None, lambda r, c, x: _proc(r, c, "received")),
    _RowSpec("qd766_on_time", "procedures", "pct", True, lambda r, c, x: _proc(r, c, "2.1")),
    _RowSpec("dossiers_overdue", "procedures", "count", False, lambda r, c, x: _proc(r, c, "overdue_unfinished")),
    _RowSpec("qd766_score", "procedures", "score", True, lambda r, c, x: _proc(r, c, "score")),
    _RowSpec("aqi_max", "environment", "aqi", False, _aqi_max),
)


def _fmt(kind: str, v, lang: str) -> str:
    if v is None:
        return "—"
    if kind == "pct":
        return text.pct(v, lang)
    if kind == "per_km2":
        return text.num(v, lang, 2)
    if kind == "score":
        score, mx = v
        return f"{text.num(score, lang, 1)} / {text.num(mx, lang)}"
    return text.num(v, lang)


def _row(spec: _RowSpec, code: str, cur: dict, prev: dict, area: dict, air: list[str], lang: str,
         province: bool = True) -> KpiRow:
    ctx = {"area": area, "air": set(air)}
    v, p = spec.get(cur, code, ctx), spec.get(prev, code, ctx)
    a = v[0] if spec.fmt == "score" and v is not None else v
    b = p[0] if spec.fmt == "score" and p is not None else p
    decimals = {"pct": 1, "per_km2": 2, "score": 1}.get(spec.fmt, 0)
    suffix = t("sm.pp", lang) if spec.fmt == "pct" else ""
    d = text.delta(a, b, lang, "sm.vs_previous", decimals=decimals, suffix=suffix, higher_is_better=spec.better)
    return KpiRow(key=spec.key, label=t(f"sm.kpi.{spec.key}", lang), value=_fmt(spec.fmt, v, lang),
                  province=_fmt(spec.fmt, spec.get(cur, None, ctx), lang) if province else None,
                  previous=_fmt(spec.fmt, p, lang),
                  change=d.text if d else t("sm.no_change", lang), tone=d.tone if d else "neutral")


# --- the lists --------------------------------------------------------------------------------


class ListPage(BaseModel):
    kind: str
    title: str
    columns: list[dict]  # [{"id", "name"}]
    rows: list[dict]  # column id → formatted text
    total: int
    page: int
    page_count: int
    page_size: int
    sort: str
    desc: bool
    note: str = ""
    empty_text: str = ""


@dataclass
class _ListSpec:
    columns: tuple[str, ...]
    default_sort: tuple[str, bool]
    # (views, code, filters, at) → (select of every row, {column id: sort expression}, [searched columns], id column)
    build: Callable
    format: Callable  # (rows, views, at, lang) → [dict]
    note: Callable = field(default=lambda f, at, tz, lang: "")


def _tickets_select(views, code: str, f: MapFilters, at: datetime):
    tk = m.Ticket.__table__
    st = status_sql(at, views.tz).label("st")
    stmt = (select(tk.c.external_id, tk.c.service_name, tk.c.service_code, tk.c.requested_at, tk.c.expected_at,
                   tk.c.answered_at, tk.c.agency, st)
            .where(*ticket_conditions(f, views.tz, at, commune=code)))
    rank = case((st == "overdue", 0), (st == "open", 1), else_=2)
    sorts = {"id": tk.c.external_id, "category": tk.c.service_name, "status": rank, "received": tk.c.requested_at,
             "deadline": tk.c.expected_at, "age": tk.c.requested_at, "agency": tk.c.agency}
    return stmt, sorts, [tk.c.external_id, tk.c.service_name, tk.c.agency], tk.c.external_id


def _tickets_rows(rows, views, at: datetime, lang: str) -> list[dict]:
    tz = views.tz
    if not rows:
        return []
    req = [aware(r.requested_at) for r in rows]
    df = pd.DataFrame({"requested_at": pd.Series(pd.to_datetime(req, utc=True)).astype("datetime64[us, UTC]"),
                       "expected_at": pd.Series(pd.to_datetime([aware(r.expected_at) for r in rows], utc=True))
                       .astype("datetime64[us, UTC]")})
    dls = kpi_tickets.ticket_deadlines(df, tz, DEADLINE_WORKING_DAYS).tolist()
    out = []
    for r, rq, dl in zip(rows, req, dls):
        ans = aware(r.answered_at)
        if r.st == "closed":
            age = duration((ans - rq).total_seconds(), lang) if ans is not None and ans >= rq else "—"
        else:
            age = duration((at - rq).total_seconds(), lang)
        out.append({"id": r.external_id, "category": r.service_name or r.service_code or "—",
                    "status": t(f"sm.tst.{r.st}", lang), "received": when(rq, tz),
                    "deadline": when(None if pd.isna(dl) else dl.to_pydatetime(), tz), "age": age,
                    "agency": r.agency or "—"})
    return out


def _cameras_select(views, code: str, f: MapFilters, at: datetime):
    cam = m.Camera.__table__
    stmt = (select(cam.c.id, cam.c.name, cam.c.agency, cam.c.status_since, cam.c.status_reason)
            .where(cam.c.commune_code == code, func.lower(func.trim(cam.c.status)) == "offline"))
    sorts = {"id": cam.c.id, "name": cam.c.name, "agency": cam.c.agency, "since": cam.c.status_since,
             "duration": cam.c.status_since, "reason": cam.c.status_reason}
    return stmt, sorts, [cam.c.id, cam.c.name, cam.c.agency], cam.c.id


def _cameras_rows(rows, views, at: datetime, lang: str) -> list[dict]:
    tz = views.tz
    out = []
    for r in rows:
        since = aware(r.status_since)
        out.append({"id": r.id, "name": r.name or "—", "agency": r.agency or "—", "since": when(since, tz),
                    "duration": duration((at - since).total_seconds(), lang) if since is not None else "—",
                    "reason": r.status_reason or "—"})
    return out


def _dossiers_select(views, code: str, f: MapFilters, at: datetime):
    d, p = m.Dossier.__table__, m.Procedure.__table__
    end = f.bounds(views.tz)[1]
    with views.engine().connect() as conn:  # the QĐ 766 overdue rule (qd766_sql.overdue_where), as conditions
        sets = qd766_sql.overdue_where(conn, end, at)
    stmt = (select(d.c.id, p.c.name.label("procedure"), d.c.procedure_code, d.c.agency, d.c.received_at, d.c.due_at,
                   d.c.supplement_wait_hours)
            .select_from(d.outerjoin(p, p.c.code == d.c.procedure_code))
            .where(d.c.commune_code == code, or_(*(and_(*s) for s in sets))))
    sorts = {"id": d.c.id, "procedure": p.c.name, "agency": d.c.agency, "received": d.c.received_at,
             "due": d.c.due_at, "overdue": d.c.due_at}
    return stmt, sorts, [d.c.id, p.c.name, d.c.agency], d.c.id


def _dossiers_rows(rows, views, at: datetime, lang: str) -> list[dict]:
    tz = views.tz
    out = []
    for r in rows:
        due = aware(r.due_at)
        wait = max(float(r.supplement_wait_hours or 0.0), 0.0)
        late = (at - (due + timedelta(hours=wait))).total_seconds() if due is not None else None
        out.append({"id": r.id, "procedure": r.procedure or r.procedure_code or "—", "agency": r.agency or "—",
                    "received": when(aware(r.received_at), tz), "due": when(due, tz), "overdue": duration(late, lang)})
    return out


_LISTS: dict[str, _ListSpec] = {
    "tickets": _ListSpec(("id", "category", "status", "received", "deadline", "age", "agency"), ("received", True),
                         _tickets_select, _tickets_rows,
                         lambda f, at, tz, lang: t("sm.list.tickets_note", lang).format(at=when(at, tz))),
    "cameras_offline": _ListSpec(("id", "name", "agency", "since", "duration", "reason"), ("since", False),
                                 _cameras_select, _cameras_rows,
                                 lambda f, at, tz, lang: t("sm.list.cameras_note", lang)),
    "dossiers_overdue": _ListSpec(("id", "procedure", "agency", "received", "due", "overdue"), ("due", False),
                                  _dossiers_select, _dossiers_rows,
                                  lambda f, at, tz, lang: t("sm.list.dossiers_note", lang).format(at=when(at, tz))),
}
# columns sorted the other way round from their SQL column (age: the oldest request is the longest)
_INVERTED = {("tickets", "age"), ("cameras_offline", "duration"), ("dossiers_overdue", "overdue")}


def _check(views, code: str, kind: str, sort: str | None, page: int, page_size: int, query: str) -> None:
    if kind not in _LISTS:
        raise ValueError(f"bad kind {str(kind)[:30]!r}: one of {', '.join(LIST_KINDS)}")
    if code not in views.atlas.names():
        raise NotFound(f"commune {str(code)[:20]!r} not found")
    if sort is not None and sort not in _LISTS[kind].columns:
        raise ValueError(f"bad sort {str(sort)[:30]!r}: one of {', '.join(_LISTS[kind].columns)}")
    if not isinstance(page, int) or page < 0:
        raise ValueError("bad page: a whole number from 0")
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"bad page_size: 1 to {MAX_PAGE_SIZE}")
    if len(query or "") > MAX_QUERY:
        raise ValueError(f"the search text is longer than {MAX_QUERY} characters")
    if "\x00" in (query or ""):
        raise ValueError("the search text holds a NUL character")


def _ordered(views, code: str, kind: str, f: MapFilters, sort: str | None, desc: bool, query: str, at: datetime):
    spec = _LISTS[kind]
    stmt, sorts, search, key = spec.build(views, code, f, at)
    q = (query or "").strip()
    if q:
        # lower() on both sides; SQLite's lower() knows ASCII only, so the text is also tried as
        # typed, lower-case, upper-case and capitalised ("đất" finds "Đất đai" there too)
        variants = dict.fromkeys((q, q.lower(), q.upper(), q.capitalize(), q.title()))
        patterns = ["%" + v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for v in variants]
        stmt = stmt.where(or_(*(func.lower(c).like(func.lower(literal(p)), escape="\\")
                                for c in search for p in patterns)))
    col, dflt_desc = (sort, desc) if sort else spec.default_sort
    down = dflt_desc if not sort else desc
    if (kind, col) in _INVERTED:
        down = not down
    expr = sorts[col]
    # missing values last either way (NULLS LAST is not portable: sort on "is null" first)
    order = [case((expr.is_(None), 1), else_=0), expr.desc() if down else expr.asc(), key.desc() if down else key.asc()]
    return stmt.order_by(*order), (col, desc if sort else dflt_desc)


def commune_list(views, code: str, kind: str, filters: MapFilters, *, sort: str | None = None, desc: bool = False,
                 page: int = 0, page_size: int = 20, query: str = "", lang: str = "vi",
                 reveal: Reveal | None = None) -> ListPage:
    """One page of a commune's list (``kind``: tickets | cameras_offline | dossiers_overdue),
    filtered (the filters, and ``query`` on the shown columns), sorted (a column id; missing
    values last) and counted in SQL. A page past the end gives the last page. With ``reveal``
    (ioc/views/privacy.py) the tickets list also holds each reporter's name, phone and the
    address, and the page's tickets are written to the access log first."""
    _check(views, code, kind, sort, page, page_size, query)
    spec = _LISTS[kind]
    tz, now = views.tz, views.clock()
    at = filters.as_of(tz, now)
    stmt, (col, down) = _ordered(views, code, kind, filters, sort, desc, query, at)
    personal = _personal(kind, reveal)
    if personal:
        stmt = stmt.add_columns(*personal)
    with views.engine().connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar() or 0)
        pages = max(1, -(-total // page_size))
        page = min(page, pages - 1)
        rows = conn.execute(stmt.limit(page_size).offset(page * page_size)).all()
    if personal:
        log_access(views.engine(), reveal, action="view", surface="map.list", kind="ticket",
                   ids=[r.external_id for r in rows], communes=[code])
    return ListPage(kind=kind, title=t(f"sm.list.{kind}", lang), columns=_columns(kind, lang, bool(personal)),
                    rows=_with_person(spec.format(rows, views, at, lang), rows, bool(personal)), total=total,
                    page=page, page_count=pages, page_size=page_size, sort=col, desc=down,
                    note=spec.note(filters, at, tz, lang), empty_text=t(f"sm.list.{kind}.empty", lang))


PERSON_COLUMNS = ("reporter_name", "reporter_phone", "address")  # a tickets list's columns when revealed


def _personal(kind: str, reveal: Reveal | None) -> list:
    """The SQL columns of personal data a list adds when revealed (tickets only)."""
    if reveal is None or kind != "tickets":
        return []
    tk = m.Ticket.__table__
    return [tk.c[c] for c in PERSON_COLUMNS]


def _with_person(out: list[dict], rows, personal: bool) -> list[dict]:
    if personal:
        for d, r in zip(out, rows):
            d.update({c: getattr(r, c) or "—" for c in PERSON_COLUMNS})
    return out


def _columns(kind: str, lang: str, personal: bool = False) -> list[dict]:
    ids = _LISTS[kind].columns + (PERSON_COLUMNS if personal else ())
    return [{"id": c, "name": t(f"sm.col.{kind}.{c}", lang)} for c in ids]


def list_all(views, code: str, kind: str, filters: MapFilters, *, sort: str | None = None, desc: bool = False,
             query: str = "", lang: str = "vi", batch: int = 2_000, reveal: Reveal | None = None,
             surface: str = "map.export") -> tuple[list[dict], int, Iterator[dict]]:
    """Every row of the list, in the list's order (the export): (columns, total, rows).
    Raises ``ValueError`` past ``EXPORT_MAX`` rows. With ``reveal`` the tickets' personal
    columns are added and every exported ticket is written to the access log before a row
    is handed over."""
    _check(views, code, kind, sort, 0, 1, query)
    spec = _LISTS[kind]
    at = filters.as_of(views.tz, views.clock())
    stmt, _ = _ordered(views, code, kind, filters, sort, desc, query, at)
    personal = _personal(kind, reveal)
    with views.engine().connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar() or 0)
        if total > EXPORT_MAX:
            raise ValueError(f"the list holds {total} rows; an export stops at {EXPORT_MAX}: narrow the filters")
        if personal:
            ids = [r.external_id for r in conn.execute(stmt)]
    if personal:
        log_access(views.engine(), reveal, action="export", surface=surface, kind="ticket", ids=ids, communes=[code])
        stmt = stmt.add_columns(*personal)

    def rows() -> Iterator[dict]:
        with views.engine().connect() as conn:
            res = conn.execute(stmt)
            while chunk := res.fetchmany(batch):
                yield from _with_person(spec.format(chunk, views, at, lang), chunk, bool(personal))

    return _columns(kind, lang, bool(personal)), total, rows()
