"""The sector map's read model and endpoints (ioc/views/mapdata.py, ioc/web/map_api.py):
filters, layers (choropleth, ticket points, geobuf cameras, density, stations), clicks (ticket, camera with
its snapshot, station series), 400/404 answers, and that no personal data or stream address
ever leaves. The commune panel, lists and exports: test_map_lists.py."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import geobuf
import numpy as np
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from dash import no_update
from sqlalchemy import insert, select
from test_map_world import PII, RANGE, SECRETS, make_views, ticket, world  # noqa: F401

from ioc.auth.testing import signed_in_client
from ioc.db import models as m
from ioc.views import map_layers
from ioc.views.map_filters import status_sql, ticket_conditions
from ioc.views import mapdata as md
from ioc.web import map_api

TODAY = date(2026, 6, 10)


def client_for(views):
    app = Flask("map-test")
    map_api.register(app, views)
    return app.test_client()


@pytest.fixture
def client(world):
    return client_for(world)


# --- filters ----------------------------------------------------------------------------------


def test_filters_default_to_the_30_days_ending_today_and_write_only_what_differs():
    f = md.MapFilters.from_query({}, today=TODAY, tz=None or _tz())
    assert (f.start, f.end) == (date(2026, 5, 12), TODAY) and f.days == 30
    assert f.to_query() == {}
    g = md.MapFilters.from_query({"start": "2026-06-01", "end": "2026-06-05", "service": "TTHC, ANTT,TTHC",
                                  "sector": "security", "status": "overdue", "cam_status": "offline",
                                  "commune": "10001", "lang": "en"}, today=TODAY, tz=_tz())
    assert g.service == ("TTHC", "ANTT") and g.service_codes() == ("ANTT",)  # the sector's categories only
    q = g.to_query()
    assert q == {"start": "2026-06-01", "end": "2026-06-05", "service": "TTHC,ANTT", "sector": "security",
                 "status": "overdue", "cam_status": "offline", "commune": "10001"}
    assert md.MapFilters.from_query(q, today=TODAY, tz=_tz()) == g
    only_start = md.MapFilters.from_query({"start": "2026-06-01"}, today=TODAY, tz=_tz())
    assert only_start.end == TODAY


@pytest.mark.parametrize("query, words", [
    ({"start": "2026-02-30"}, "bad start"),
    ({"end": "yesterday"}, "bad end"),
    ({"start": "2026-06-05", "end": "2026-06-01"}, "before start"),
    ({"start": "2025-01-01", "end": "2026-06-01"}, "at most 366"),
    ({"end": "2026-06-11"}, "after today"),
    ({"sector": "police"}, "bad sector"),
    ({"status": "late"}, "bad status"),
    ({"cam_status": "online"}, "bad cam_status"),
    ({"commune": "1234"}, "5-digit"),
    ({"commune": "1' OR '1'='1"}, "5-digit"),
    ({"service": "TT HC"}, "bad category"),
    ({"service": ",".join(f"S{i}" for i in range(60))}, "too many"),
])
def test_bad_filters_are_one_line(query, words):
    with pytest.raises(ValueError) as err:
        md.MapFilters.from_query(query, today=TODAY, tz=_tz())
    assert words in str(err.value) and "\n" not in str(err.value)


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")


def test_services_and_sectors(world):
    codes = {s["code"]: s["name"] for s in md.services(world, "vi")}
    assert codes["TTHC"] == "Thủ tục hành chính" and "ANTT" in codes
    assert [s["code"] for s in md.sector_options("en")] == list(md.SECTORS)


# --- the choropleth ---------------------------------------------------------------------------


def test_tickets_per_km2_is_the_filtered_count_over_the_boundary_area(world):
    f = md.filters_for(world, RANGE)
    layer = md.communes_layer(world, "tickets_per_km2", f, "vi")
    # 10001: PA001–PA006, -2+3, PA010 = 8 tickets in range over 10 km²; 10002: 1 over 20 km²; 10003: none
    assert layer["raw"] == {"10001": 0.8, "10002": 0.05, "10003": 0.0}
    assert layer["values"]["10001"] == "0,80 phản ánh/km²" and layer["unit"] == "phản ánh/km²"
    assert layer["classes"]["10003"] == 0 and layer["legend"][0]["label"] == "0"
    assert layer["classes"]["10001"] > layer["classes"]["10002"] > 0
    assert len(layer["colours"]) == len(layer["legend"]) - 1 and layer["none"] == layer["legend"][-1]["colour"]
    assert "03/" not in layer["title"] and "12/04/2026 – 10/06/2026 (60 ngày)" in layer["title"]
    closed = md.communes_layer(world, "tickets_per_km2", md.filters_for(world, RANGE | {"status": "closed"}), "en")
    assert closed["raw"]["10001"] == 0.3 and closed["values"]["10001"] == "0.30 requests/km²"


def test_open_and_overdue_counts_follow_the_hotline_rule(world):
    f = md.filters_for(world, RANGE)
    assert md.communes_layer(world, "tickets_open", f, "vi")["raw"] == {"10001": 5, "10002": 1, "10003": 0}
    over = md.communes_layer(world, "tickets_overdue", f, "vi")
    assert over["raw"] == {"10001": 2, "10002": 0, "10003": 0}  # PA002 (expected_at), PA004 (15 working days)
    assert over["values"]["10001"] == "2 phản ánh"
    security = md.communes_layer(world, "tickets_open", md.filters_for(world, RANGE | {"sector": "security"}), "vi")
    assert security["raw"] == {"10001": 0, "10002": 1, "10003": 0}


def test_percent_metrics_use_the_wall_classes_and_missing_is_not_zero(world):
    f = md.filters_for(world, RANGE)
    cams = md.communes_layer(world, "cameras_online", f, "vi")
    assert cams["raw"] == {"10001": 20.0, "10002": 100.0} and "10003" not in cams["classes"]  # no camera there
    assert cams["values"]["10001"] == "20,0 %" and cams["classes"] == {"10001": 0, "10002": 3}
    assert [e["label"] for e in cams["legend"]][:2] == ["< 80 %", "80–90 %"]
    q = md.communes_layer(world, "qd766_on_time", f, "vi")
    assert set(q["raw"]) <= {"10001", "10002"} and "10003" not in q["values"]


def test_worst_index_puts_aqi_and_wqi_on_one_scale_by_official_colour(world):
    layer = md.communes_layer(world, "worst_index", md.filters_for(world, {}), "vi")
    assert layer["classes"] == {"10001": 1, "10002": 2}  # AQI moderate (yellow), WQI bad (orange)
    assert layer["values"]["10002"] == "VN_WQI 40 (Xấu) — Trạm nước Hai"
    assert layer["colours"][2] == "#FF7E00" and "Kém" in layer["legend"][2]["label"]
    none = md.communes_layer(make_views(world.engine(), facts=None), "worst_index", md.filters_for(world, {}), "vi")
    assert none["classes"] == {} and none["values"] == {}


def test_an_empty_database_has_no_values_not_zeros(sqlite_url):
    from ioc.db.session import make_engine

    views = make_views(make_engine(sqlite_url), facts=None)
    for metric in md.METRICS:
        layer = md.communes_layer(views, metric, md.filters_for(views, {}), "vi")
        assert layer["classes"] == {} and layer["values"] == {}, metric


def test_breaks_are_round_numbers_with_a_legend_entry_each():
    bounds, colours, legend = map_layers.breaks_legend([0, 1, 2, 3, 5, 8, 13, 40, 100], ["a", "b", "c", "d"],
                                                          "vi", integer=True)
    assert bounds[0] == 1 and all(b == round(b) for b in bounds) and bounds == sorted(set(bounds))
    assert len(colours) == len(bounds) + 1 == len(legend) - 1
    assert legend[0]["label"] == "0" and legend[-2]["label"].startswith("≥ ")


# --- points -----------------------------------------------------------------------------------


def _points(views, query: dict) -> dict:
    """{external id: (lon, lat, cat, st)} of ``ticket_points`` (row ids looked up with ``ticket_ref``)."""
    body, _missing = md.ticket_points(views, md.filters_for(views, query))
    p = md.decode_ticket_points(body)
    assert p["n"] == len(p["id"]) and set(p["st"]) <= set(md.TICKET_STATES)
    return {md.ticket_ref(views, i): (x, y, c, s) for i, x, y, c, s in zip(p["id"], p["lon"], p["lat"], p["cat"], p["st"])}


def test_ticket_points_decode_to_the_filtered_tickets(world):
    got = _points(world, RANGE)
    assert md.ticket_points(world, md.filters_for(world, RANGE))[1] == 1  # PA006 has no position
    assert "PA006" not in got and "PA009" not in got  # no position; before the range
    assert set(got) == {"PA001", "PA002", "PA003", "PA004", "PA005", "PA007", "-2+3", "PA010"}
    assert got["PA002"] == (105.61, 10.41, "DATDAI", "overdue")
    assert got["PA004"][3] == "overdue" and got["PA003"][3] == "closed"
    assert got["PA010"][3] == "closed" and got["PA001"][3] == "open"
    assert sorted(_points(world, RANGE | {"status": "overdue"})) == ["PA002", "PA004"]
    assert list(_points(world, RANGE | {"commune": "10002", "service": "ANTT"})) == ["PA007"]


def _kept_by_the_page(rules: dict, sector: str, services: list[str], status: str) -> tuple:
    """assets/sector_map.js ``ioc_map.tickets``' choice, written out: (categories, states) to
    keep, None meaning all."""
    sector_cats = rules["sectors"][sector]
    if not services:
        cats = sector_cats
    else:
        cats = [c for c in services if c in sector_cats] if sector_cats is not None else services
    return cats, rules["states"][status]


NODE = shutil.which("node") or shutil.which("nodejs")
SCRIPT = Path(__file__).resolve().parents[2] / "assets" / "sector_map.js"


def _kept_by_the_script(body: bytes, cases: list[dict]) -> list[dict[int, str]]:
    """assets/sector_map.js itself (``ioc.ticketPoints``, ``ioc.dayNumber``, ``ioc.keptTickets``) run
    by Node on a window's points: {row id: state} of the points the ticket layer shows for each case
    {first, start, end, cats, states}, as ``ioc_map.tickets`` computes them."""
    harness = """
      const fs = require("fs"); global.window = {};
      eval(fs.readFileSync(process.argv[1], "utf8"));
      const input = JSON.parse(fs.readFileSync(0, "utf8"));
      const raw = Buffer.from(input.body, "base64");
      const features = window.ioc.ticketPoints(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
      const out = input.cases.map(function (c) {
        const d0 = window.ioc.dayNumber(c.first);
        return window.ioc.keptTickets(features, c.cats, c.states, window.ioc.dayNumber(c.start) - d0,
                                      window.ioc.dayNumber(c.end) - d0)
          .map(function (f) { return [f.properties.id, f.properties.st]; });
      });
      process.stdout.write(JSON.stringify(out));
    """
    stdin = json.dumps({"body": base64.b64encode(body).decode(), "cases": cases})
    res = subprocess.run([NODE, "-e", harness, str(SCRIPT)], input=stdin, capture_output=True, text=True, timeout=60,
                         check=True)
    return [dict(pairs) for pairs in json.loads(res.stdout)]


def _rows(views, query: dict) -> set[int]:
    body, _missing = md.ticket_points(views, md.filters_for(views, query))
    return set(md.decode_ticket_points(body)["id"])


def _window_body(views, win: dict) -> bytes:
    return md.ticket_points(views, md.filters_for(views, {"start": win["first"], "end": win["last"]}))[0]


@pytest.mark.skipif(NODE is None, reason="Node.js is needed to run assets/sector_map.js")
def test_the_pages_filters_keep_exactly_what_the_server_filters_return(world):
    """The page downloads the points of a window once (``ticket_window``: the year up to the end of
    the range a link opens with) and keeps those of the start and end day, status and categories
    chosen (``TICKET_RULES``) with assets/sector_map.js — also after a date change inside the
    window (the year up to today here): the same tickets as the filters in SQL
    (``ticket_conditions``: the local days of ``bounds``, ``service_codes``, the hotline rule's
    states at the range's end) — for several ranges, two of them split at a local midnight by
    tickets 1 µs on either side of it."""
    from layouts.map_state import TICKET_RULES, ticket_range, ticket_window

    edge = md.local_midnight(date(2026, 5, 20), world.tz)  # 19/05 17:00 UTC
    with world.engine().begin() as c:
        c.execute(insert(m.Ticket), [
            ticket("EDGE-1", "TTHC", "Thủ tục hành chính", "10001", edge - timedelta(microseconds=1)),
            ticket("EDGE-2", "ANTT", "An ninh trật tự", "10001", edge),
            ticket("EDGE-3", "TTHC", "Thủ tục hành chính", "10001", md.local_midnight(TODAY, world.tz))])
    ranges = [RANGE, {"start": "2026-05-20", "end": "2026-06-10"}, {"start": "2026-05-19", "end": "2026-06-10"},
              {"start": "2026-06-10", "end": "2026-06-10"}, {"start": "2025-06-10", "end": "2026-06-10"},
              {"start": "2026-05-01", "end": "2026-05-19"}, {"start": "2026-05-20", "end": "2026-05-20"}]
    today = ticket_window(md.filters_for(world, RANGE))
    by_window: dict[str, tuple[bytes, list, list]] = {}
    for dates in ranges:
        # the window of a link to the range, and that of the page showing RANGE before the change
        own = ticket_window(md.filters_for(world, dates))
        assert ticket_range(world, dates["start"], dates["end"], today) is no_update  # no download
        for win in (own, today):
            for status in md.STATUSES:
                for sector, services in (("all", []), ("security", []), ("all", ["TTHC", "ANTT"]),
                                         ("environment", ["TTHC"]), ("security", ["ANTT", "TTHC"]),
                                         ("hotline", ["EVIL"])):
                    query = dates | {"status": status, "sector": sector, "service": ",".join(services)}
                    if win["url"] not in by_window:
                        by_window[win["url"]] = (_window_body(world, win), [], [])
                    cats, states = _kept_by_the_page(TICKET_RULES, sector, services, status)
                    by_window[win["url"]][1].append({"first": win["first"], "start": dates["start"],
                                                     "end": dates["end"], "cats": cats, "states": states})
                    by_window[win["url"]][2].append(query)
    assert len(by_window) == 3  # ranges ending today share one download; those ending 19/05 and 20/05 their own
    checked = 0
    for body, cases, queries in by_window.values():
        for kept, query in zip(_kept_by_the_script(body, cases), queries):
            assert sorted(kept) == sorted(_rows(world, query)), query
            checked += len(kept)
    assert checked > 200  # the cases keep tickets, not only empty sets
    ids = {md.ticket_ref(world, i): i for i in _rows(world, RANGE)}
    assert {"EDGE-1", "EDGE-2", "EDGE-3"} <= set(ids)
    assert ids["EDGE-2"] in _rows(world, {"start": "2026-05-20", "end": "2026-06-10"})
    assert ids["EDGE-1"] not in _rows(world, {"start": "2026-05-20", "end": "2026-06-10"})
    assert ids["EDGE-1"] in _rows(world, {"start": "2026-05-01", "end": "2026-05-19"})


@pytest.mark.skipif(NODE is None, reason="Node.js is needed to run assets/sector_map.js")
def test_the_pages_ticket_states_are_the_sql_rule_at_any_end(world):
    """The page judges each point's state at the range's end itself (``ioc.ticketState`` on the
    steps of ``hotline.flag_steps``), so a new end inside its window asks for nothing. Random
    tickets over a year that holds the Tết 2026 holidays (answer times on and 1 µs either side
    of local midnights, answers after today, deadlines set or 15 working days, closed with and
    without an answer time) judged at many random ends by assets/sector_map.js in Node: the state
    of every ticket equals the SQL rule's (``status_sql``, held to ``hotline.metrics`` in
    test_map_status_sql.py) at that end."""
    from layouts.map_state import ticket_window

    rng = np.random.default_rng(2026)
    now = world.clock()
    win = ticket_window(md.filters_for(world, {}))
    first = date.fromisoformat(win["first"])
    n, day, minute = 600, timedelta(days=1), timedelta(minutes=1)
    rows = []
    for i in range(n):
        req = md.local_midnight(first, world.tz) + timedelta(minutes=int(rng.integers(0, 366 * 1440)))
        req = min(req, now - minute)
        ans = None
        if rng.random() < 0.7:
            ans = req + timedelta(hours=float(rng.lognormal(4.3, 1.2)))  # median ≈ 3 days, some after today
            if rng.random() < 0.2:  # on a local midnight, or 1 µs either side of it
                midnight = md.local_midnight(ans.astimezone(world.tz).date(), world.tz)
                ans = midnight + timedelta(microseconds=int(rng.integers(-1, 2)))
        exp = req + day * float(rng.uniform(1, 40)) if rng.random() < 0.3 else None
        status = str(rng.choice(["open", "closed", " Closed ", "processing"]))
        rows.append(ticket(f"R{i}", "TTHC", "Thủ tục hành chính", "10001", req, exp=exp, ans=ans, status=status))
    with world.engine().begin() as c:
        c.execute(insert(m.Ticket), rows)
    days = (date.fromisoformat(win["last"]) - first).days + 1
    ends = sorted({0, days - 1, *rng.integers(0, days, 70).tolist(),
                   *[(date(2026, 2, d) - first).days for d in (13, 16, 17, 22, 23, 27)]})
    cases = [{"first": win["first"], "start": win["first"], "end": (first + k * day).isoformat(), "cats": None,
              "states": None} for k in ends]
    got = _kept_by_the_script(_window_body(world, win), cases)
    tk = m.Ticket.__table__
    states_seen, changed = set(), set()
    before: dict[int, str] = {}
    for case, js in zip(cases, got):
        f = md.filters_for(world, {"start": case["start"], "end": case["end"]})
        at = f.as_of(world.tz, now)
        with world.engine().connect() as c:
            sql = dict(c.execute(select(tk.c.id, status_sql(at, world.tz))
                                 .where(*ticket_conditions(f, world.tz, at), tk.c.lat.is_not(None))).all())
        assert js == sql, case["end"]
        states_seen |= set(js.values())
        changed |= {i for i, s in js.items() if before.get(i, s) != s}
        before.update(js)
    assert states_seen == set(md.TICKET_STATES) and len(changed) > 100  # states change between the ends


def test_a_local_day_starts_at_the_local_midnight_the_range_bounds_use():
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    first = date(2026, 5, 1)
    f = md.MapFilters(start=first, end=date(2026, 5, 31))
    s, e = f.bounds(tz)
    times = [s - timedelta(microseconds=1), s, s + timedelta(hours=23, minutes=59),
             md.local_midnight(date(2026, 5, 2), tz), e - timedelta(microseconds=1), e]
    us = np.array([int((t - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1)) for t in times])
    assert md.local_day_numbers(us, first, f.days, tz).tolist() == [-1, 0, 0, 1, 30, 31]


def test_a_point_names_its_ticket_by_row(world):
    body, _ = md.ticket_points(world, md.filters_for(world, RANGE))
    rows = md.decode_ticket_points(body)["id"]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)
    assert sorted(md.ticket_ref(world, r) for r in rows)[:2] == ["-2+3", "PA001"]
    for bad in (10**9, "x", None):
        with pytest.raises(md.NotFound):
            md.ticket_ref(world, bad)


@given(st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90), st.integers(1, 2**31),
                          st.one_of(st.none(), st.sampled_from(["TTHC", "ĐẤT", ""])), st.integers(0, 365),
                          st.integers(0, 366), st.integers(0, 366)),
                max_size=40, unique_by=lambda r: r[2]))
@settings(max_examples=60, deadline=None)
def test_ticket_points_read_back_as_written(rows):
    lon = np.array([r[0] for r in rows], dtype=float)
    lat = np.array([r[1] for r in rows], dtype=float)
    body = map_layers.encode_ticket_points(lon, lat, [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows],
                                           [r[5] for r in rows], [r[6] for r in rows], date(2025, 6, 10), 366)
    p = md.decode_ticket_points(body)
    got = sorted(zip(p["id"], p["lon"], p["lat"], p["cat"], p["day"], p["answered_from"], p["due_from"], p["st"]))
    # a step before the request day reads as the request day (the page never judges a ticket before it)
    steps = [(r[5] if r[5] == 366 else max(r[5], r[4]), r[6] if r[6] == 366 else max(r[6], r[4])) for r in rows]
    want = sorted((r[2], round(r[0], 4), round(r[1], 4), r[3] or "", r[4], a, d,
                   "closed" if a <= 365 else ("overdue" if d <= 365 else "open")) for r, (a, d) in zip(rows, steps))
    assert p["n"] == len(rows) and len(got) == len(want) and p["day0"] == "2025-06-10" and p["days"] == 366
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[3:] == w[3:] and abs(g[1] - w[1]) < 1e-9 and abs(g[2] - w[2]) < 1e-9


@given(st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90), st.text(max_size=12),
                          st.sampled_from(["open", "overdue", "closed"]),
                          st.one_of(st.none(), st.sampled_from(["TTHC", "ĐẤT", ""]))), max_size=40))
@settings(max_examples=60, deadline=None)
def test_the_fast_geobuf_encoder_agrees_with_geobuf(rows):
    lon = np.array([r[0] for r in rows], dtype=float)
    lat = np.array([r[1] for r in rows], dtype=float)
    props = {"id": [r[2] for r in rows], "cat": [r[4] for r in rows], "st": [r[3] for r in rows]}
    mine = geobuf.decode(md.encode_points(lon, lat, props))
    if not rows:  # geobuf.encode writes no collection at all for an empty one (decodes to None)
        assert mine == {"type": "FeatureCollection", "features": []}
        return
    ref = geobuf.decode(geobuf.encode({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 4), round(y, 4)]},
         "properties": {k: v for k, v in (("id", r[2]), ("cat", r[4]), ("st", r[3])) if v is not None}}
        for r, x, y in zip(rows, lon, lat)]}, 4))
    assert json.loads(json.dumps(mine)) == json.loads(json.dumps(ref))


def test_density_cells_count_every_located_ticket(world):
    d = md.density(world, md.filters_for(world, RANGE), "vi")
    assert sum(f["properties"]["count"] for f in d["features"]) == 8 and d["without_location"] == 1
    for f in d["features"]:
        ring = f["geometry"]["coordinates"][0]
        assert len(ring) == 5 and abs(ring[1][0] - ring[0][0] - md.CELL_DEGREES) < 1e-9
        assert 0 <= f["properties"]["cls"] < len(d["colours"])
    assert d["legend"][-1]["label"] == "Chưa có dữ liệu"


def test_cameras_geobuf_has_status_and_never_an_address(world):
    body, missing = md.cameras_geobuf(world, md.filters_for(world, {}))
    fc = geobuf.decode(body)
    assert missing == 1  # C5 has no position
    assert {f["properties"]["id"]: f["properties"]["st"] for f in fc["features"]} == {
        "C1": "online", "C2": "offline", "C3": "offline", "C4": "degraded", "C6": "online"}
    assert all(s.encode() not in body for s in SECRETS)
    off = geobuf.decode(md.cameras_geobuf(world, md.filters_for(world, {"cam_status": "offline",
                                                                         "commune": "10001"}))[0])
    assert sorted(f["properties"]["id"] for f in off["features"]) == ["C2", "C3"]


# --- stations ---------------------------------------------------------------------------------


def test_stations_in_official_colours_and_against_alarm_levels(world):
    fc = md.stations_layer(world, "vi")
    p = {f["id"]: f["properties"] for f in fc["features"]}
    assert p["S-AIR"].items() >= {"index": "aqi", "value": 75, "label": "VN_AQI 75", "colour": "#FFFF00",
                                  "state_text": "Trung bình", "kind": "air"}.items()
    assert p["S-WAT"]["colour"] == "#FF7E00" and p["S-WAT"]["state_text"] == "Xấu"
    iot = p["S-IOT"]  # salinity 2.5 ‰ (warning) is worse than the water level 1.8 m (alarm level I)
    assert iot["index"] == "salinity" and iot["category"] == "warning" and iot["label"] == "Độ mặn 2,50 ‰"
    assert iot["state_text"] == "Mức cảnh báo (≥ 2,00 ‰)" and "Báo động I (≥ 1,50 m)" in iot["detail"]
    assert p["S-INS"]["index"] == "insects" and p["S-INS"]["category"] == "warning"
    assert p["S-OLD"]["category"] == "silent" and p["S-OLD"]["state_text"].startswith("Mất tín hiệu")
    no_facts = {f["id"]: f["properties"] for f in md.stations_layer(make_views(world.engine(), facts=None),
                                                                     "en")["features"]}
    assert no_facts["S-AIR"]["label"] == "—" and no_facts["S-AIR"]["value"] is None


def test_station_series_against_thresholds_with_category_history(world):
    air = md.station_series(world, "S-AIR", "24h", "vi")
    params = {s["parameter"]: s for s in air["series"]}
    assert set(params) == {"aqi", "pm25", "pm10", "no2", "so2", "co", "o3"}
    assert {"label": "QCVN 05:2023 (trung bình 24 giờ)", "value": 50.0, "kind": "max"} in params["pm25"]["thresholds"]
    assert len(params["pm25"]["points"]) == 24 and params["pm25"]["points"][-1][0] == "2026-06-10T09:00:00+07:00"
    assert air["categories"] and all(c[1] in ("good", "moderate") for c in air["categories"])
    water = md.station_series(world, "S-WAT", "7d", "en")
    ph = next(s for s in water["series"] if s["parameter"] == "ph")
    assert [x["kind"] for x in ph["thresholds"]] == ["min", "max"]
    assert water["categories"] and water["categories"][0][1] in {c.key for c in map_layers.wqi_mod.CATEGORIES}
    iot = md.station_series(world, "S-IOT", "30d", "vi")
    level = next(s for s in iot["series"] if s["parameter"] == "water_level")
    assert level["unit"] == "m" and abs(level["points"][-1][1] - 1.8) < 0.1
    assert [x["value"] for x in level["thresholds"]] == [1.5, 2.0, 2.5]
    assert {c[1] for c in iot["categories"]} <= {"warning", "alert", "watch", "normal"}
    with pytest.raises(ValueError):
        md.station_series(world, "S-AIR", "1y", "vi")
    with pytest.raises(md.NotFound):
        md.station_series(world, "nope", "24h", "vi")


# --- clicks: a ticket, a camera ---------------------------------------------------------------


def test_a_ticket_shows_its_facts_and_its_reporter_masked(world):
    d = md.ticket_detail(world, "PA002", "vi")
    assert d.pop("person") == {"reporter_name": "N. V. B. M.", "reporter_phone": "*******456",
                               "reporter_email": None, "address": "***", "description": None, "masked": True}
    assert d == {"id": "PA002", "category": "Đất đai", "category_code": "DATDAI", "status": "overdue",
                 "status_label": "Quá hạn", "received_text": "16/05/2026 10:00",
                 "age_text": "Đã 25 ngày kể từ khi tiếp nhận",
                 "deadline_text": "06/06/2026 10:00 — quá hạn 4 ngày", "commune": "Phường Một",
                 "agency": "UBND Phường Một"}
    assert md.ticket_detail(world, "PA004", "en")["status"] == "overdue"
    assert md.ticket_detail(world, "PA003", "en")["age_text"] == "Answered after 1 d"
    with pytest.raises(md.NotFound):
        md.ticket_detail(world, "PA999", "vi")
    for bad in ("PA\x00", "x" * 300):
        with pytest.raises(md.NotFound):
            md.ticket_detail(world, bad, "vi")
        with pytest.raises(md.NotFound):
            md.camera_detail(world, bad, "vi")
        with pytest.raises(md.NotFound):
            md.station_series(world, bad, "24h", "vi")
        assert md.camera_snapshot(world, bad)[0] == 404


def test_a_camera_shows_its_history_never_a_url(world):
    d = md.camera_detail(world, "C2", "vi")
    assert d["status"] == "offline" and d["status_label"] == "Mất kết nối" and d["commune"] == "Phường Một"
    assert d["since_text"] == "từ 07/06/2026 10:00 (3 ngày)" and d["has_snapshot"] is True
    assert [s for _at, s in d["history"]] == ["offline", "online", "offline"]
    assert not any(s in json.dumps(d) for s in SECRETS + ("http",))


class _Upstream(BaseHTTPRequestHandler):
    seen: list = []
    redirect_to: str | None = None

    def do_GET(self):  # noqa: N802
        _Upstream.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/C1/"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(b"\x89PNG-fake")
        elif self.path.startswith("/C3/"):  # an SVG would run script from our origin
            self.send_response(200)
            self.send_header("Content-Type", "image/svg+xml")
            self.end_headers()
            self.wfile.write(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
        elif self.path.startswith("/C6/"):
            self.send_response(302)
            self.send_header("Location", _Upstream.redirect_to or "http://elsewhere.example/x.png")
            self.end_headers()
        else:
            self.send_response(503)
            self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def upstream():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Upstream.seen.clear()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_the_snapshot_is_fetched_server_side_with_the_token(world, upstream):
    from sqlalchemy import update

    from ioc.db import models as m

    with world.engine().begin() as c:
        for cid in ("C1", "C2", "C3", "C6"):
            c.execute(update(m.Camera).where(m.Camera.id == cid).values(snapshot_url=f"{upstream}/{cid}/snapshot.png"))
    views = make_views(world.engine(), cameras_token="SECRET-TOKEN-123", cameras_url=upstream + "/api")
    cl = client_for(views)
    res = cl.get("/api/map/camera/C1/snapshot.jpg")
    assert res.status_code == 200 and res.data == b"\x89PNG-fake" and res.mimetype == "image/png"
    assert res.headers["Cache-Control"] == "no-store" and "Location" not in res.headers
    assert res.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert _Upstream.seen[-1] == ("/C1/snapshot.png", "Bearer SECRET-TOKEN-123")
    svg = cl.get("/api/map/camera/C3/snapshot.jpg")
    assert svg.status_code == 502 and b"<svg" not in svg.data and svg.mimetype == "text/plain"
    off = cl.get("/api/map/camera/C2/snapshot.jpg")
    assert off.status_code == 502 and b"503" in off.data and upstream.encode() not in off.data
    moved = cl.get("/api/map/camera/C6/snapshot.jpg")  # never follows or hands over a redirect
    assert moved.status_code == 502 and "Location" not in moved.headers
    assert cl.get("/api/map/camera/C9/snapshot.jpg").status_code == 404
    # a host allowed by IOC_SNAPSHOT_HOSTS is fetched, but never gets the registry's token
    port = upstream.rsplit(":", 1)[1]
    other = make_views(world.engine(), cameras_token="SECRET-TOKEN-123", cameras_url="http://cams.example/api",
                       snapshot_hosts=f"127.0.0.1:{port}")
    assert client_for(other).get("/api/map/camera/C1/snapshot.jpg").status_code == 200
    assert _Upstream.seen[-1] == ("/C1/snapshot.png", None)


@pytest.fixture
def intranet():
    """Another HTTP server on this machine (another port): an address an upstream record could
    name to make the server fetch something of the internal network (SSRF)."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(b"\x89PNG-internal")

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", seen
    srv.shutdown()


def test_a_snapshot_address_off_the_camera_registry_is_never_fetched(world, upstream, intranet):
    """Only http/https on the camera registry's own host:port (or IOC_SNAPSHOT_HOSTS) is fetched:
    another port of the same machine, another scheme, or a redirect there are refused."""
    from sqlalchemy import update

    from ioc.db import models as m

    inside, seen = intranet
    urls = {"C1": f"{inside}/admin/snapshot.png", "C2": f"{inside.replace('http:', 'https:')}/x.png",
            "C3": "file:///etc/passwd", "C6": f"{upstream}/C6/snapshot.png"}
    with world.engine().begin() as c:
        for cid, url in urls.items():
            c.execute(update(m.Camera).where(m.Camera.id == cid).values(snapshot_url=url))
    _Upstream.redirect_to = f"{inside}/admin/redirected.png"
    try:
        cl = client_for(make_views(world.engine(), cameras_token="SECRET-TOKEN-123", cameras_url=upstream + "/api"))
        answers = {cid: cl.get(f"/api/map/camera/{cid}/snapshot.jpg") for cid in urls}
    finally:
        _Upstream.redirect_to = None
    assert answers["C1"].status_code == 502 and b"IOC_SNAPSHOT_HOSTS" in answers["C1"].data
    assert answers["C2"].status_code == 502 and answers["C3"].status_code == 404
    assert answers["C6"].status_code == 502 and "Location" not in answers["C6"].headers  # the redirect is not followed
    assert _Upstream.seen[-1][0] == "/C6/snapshot.png"  # the registry's host was asked …
    assert seen == []  # … the other server never
    assert all(b"PNG-internal" not in a.data for a in answers.values())
    # no camera registry configured: nothing is fetched at all
    bare = client_for(make_views(world.engine()))
    assert bare.get("/api/map/camera/C6/snapshot.jpg").status_code == 502 and len(_Upstream.seen) == 1


# --- endpoints --------------------------------------------------------------------------------


def test_endpoints_answer_json_with_no_store(client):
    q = "&".join(f"{k}={v}" for k, v in RANGE.items())
    for url in (f"/api/map/communes.json?metric=tickets_open&{q}", f"/api/map/density.json?{q}",
                "/api/map/stations.json?lang=en", "/api/map/ticket/PA001", "/api/map/camera/C2",
                "/api/map/station/S-IOT?range=7d", f"/api/map/commune/10001?{q}",
                f"/api/map/list.json?commune=10001&kind=tickets&{q}"):
        res = client.get(url)
        assert res.status_code == 200, (url, res.data[:200])
        assert res.mimetype == "application/json" and res.headers["Cache-Control"] == "no-store", url
    res = client.get(f"/api/map/tickets.bin?{q}")
    assert res.mimetype == "application/x-ioc-points" and res.headers["X-Without-Location"] == "1"
    assert res.headers["Cache-Control"] == "no-store" and md.decode_ticket_points(res.data)["n"] == 8
    assert client.get("/api/map/options.json").json["sectors"][0] == {"code": "all", "name": "Tất cả lĩnh vực"}


def test_binary_layers_are_compressed_when_the_browser_accepts_them(world):
    import gzip

    from ioc.web.app import create_app

    client = signed_in_client(create_app(world.settings, read_model=world), "operator")  # the app compresses, not map_api
    client.application.config["COMPRESS_MIN_SIZE"] = 100  # this small world's layers are a few hundred bytes
    plain = client.get("/api/map/tickets.bin")
    assert "Content-Encoding" not in plain.headers and len(plain.data) > 100
    res = client.get("/api/map/tickets.bin", headers={"Accept-Encoding": "gzip"})
    assert res.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(res.data) == plain.data
    assert md.decode_ticket_points(plain.data)["n"] > 0
    cams = client.get("/api/map/cameras.geobuf", headers={"Accept-Encoding": "gzip"})
    assert cams.headers["Content-Encoding"] == "gzip"
    assert geobuf.decode(gzip.decompress(cams.data))["type"] == "FeatureCollection"


@pytest.mark.parametrize("url, status", [
    ("/api/map/communes.json?metric=nope", 400),
    ("/api/map/communes.json?start=2026-13-01", 400),
    ("/api/map/communes.json?lang=fr", 400),
    ("/api/map/tickets.bin?status=late", 400),
    ("/api/map/density.json?commune=abc", 400),
    ("/api/map/cameras.geobuf?cam_status=maybe", 400),
    ("/api/map/station/S-AIR?range=2d", 400),
    ("/api/map/station/S-NONE", 404),
    ("/api/map/ticket/PA404", 404),
    ("/api/map/camera/C404", 404),
    ("/api/map/commune/99999", 404),
    ("/api/map/commune/10001?start=2020-01-01&end=2026-01-01", 400),
    ("/api/map/list.json?kind=tickets", 400),
    ("/api/map/list.json?commune=10001&kind=people", 400),
    ("/api/map/list.json?commune=10001&sort=reporter_name", 400),
    ("/api/map/list.json?commune=10001&page=-1", 400),
    ("/api/map/list.json?commune=10001&page=x", 400),
    ("/api/map/list.json?commune=10001&page_size=5000", 400),
    ("/api/map/list.json?commune=10001&desc=maybe", 400),
    ("/api/map/export.csv?commune=10001&kind=x", 400),
    ("/api/map/export.xlsx?commune=99999", 404),
    ("/api/map/list.json?commune=10001&query=a%00b", 400),  # PostgreSQL refuses NUL in text: never a 503
    ("/api/map/ticket/a%00b", 400),
    ("/api/map/communes.json?sector=all%00", 400),
])
def test_bad_parameters_are_400_or_404_with_one_line(client, url, status):
    res = client.get(url)
    assert res.status_code == status, res.data[:300]
    assert res.mimetype == "application/json" and set(res.json) == {"error"} and "\n" not in res.json["error"]


def test_no_personal_data_or_stream_address_in_any_answer(client):
    q = "&".join(f"{k}={v}" for k, v in RANGE.items())
    urls = [f"/api/map/communes.json?metric={m}&{q}" for m in md.METRICS]
    urls += [f"/api/map/tickets.bin?{q}", f"/api/map/density.json?{q}", "/api/map/cameras.geobuf",
             "/api/map/stations.json", "/api/map/options.json", f"/api/map/commune/10001?{q}"]
    urls += [f"/api/map/ticket/{i}" for i in ("PA001", "PA002", "PA004", "PA006", "-2+3")]
    urls += [f"/api/map/camera/{c}" for c in ("C1", "C2", "C3", "C5")]
    urls += [f"/api/map/station/{s}?range=30d" for s in ("S-AIR", "S-WAT", "S-IOT", "S-INS", "S-OLD")]
    for kind in md.LIST_KINDS:
        for lang in ("vi", "en"):
            urls += [f"/api/map/list.json?commune=10001&kind={kind}&lang={lang}&page_size=200&{q}",
                     f"/api/map/export.csv?commune=10001&kind={kind}&lang={lang}&{q}"]
    urls += [f"/api/map/list.json?commune=10001&kind=tickets&query={x}&{q}" for x in ("Bí Mật", "0909", "riêng tư")]
    for url in urls:
        res = client.get(url)
        assert res.status_code == 200, (url, res.data[:200])
        body = res.data.decode("utf-8", "replace")
        for secret in PII + SECRETS:
            assert secret not in body, (url, secret)
    for x in ("Bí Mật", "0909", "riêng tư"):  # the search never looks at hidden text
        assert client.get(f"/api/map/list.json?commune=10001&kind=tickets&query={x}&{q}").json["total"] == 0


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(st.dictionaries(st.sampled_from(["start", "end", "service", "sector", "status", "cam_status", "commune",
                                        "metric", "lang", "kind", "sort", "desc", "page", "page_size", "query",
                                        "range"]), _text, max_size=8),
       st.sampled_from(["communes.json", "tickets.bin", "density.json", "cameras.geobuf", "stations.json",
                        "list.json", "export.csv", "commune/10001", "station/S-AIR", "ticket/PA001"]))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_query_string_makes_a_500(client, params, endpoint):
    res = client.get(f"/api/map/{endpoint}", query_string=params)
    assert res.status_code in (200, 400, 404), (endpoint, params, res.data[:300])


def test_the_product_app_serves_the_map_endpoints(world, monkeypatch, tmp_path):
    """Through ``create_app`` as the product runs it (real clock; Redis unreachable: the
    map facts and the period caches are skipped, the endpoints still answer)."""
    from ioc.settings import load_settings
    from ioc.web.app import create_app

    monkeypatch.chdir(tmp_path)
    settings = load_settings(database_url=world.engine().url.render_as_string(hide_password=False),
                             redis_url="redis://127.0.0.1:1/0")
    cl = signed_in_client(create_app(settings), "operator")
    q = "&".join(f"{k}={v}" for k, v in RANGE.items())
    res = cl.get(f"/api/map/tickets.bin?{q}")
    assert res.status_code == 200 and md.decode_ticket_points(res.data)["n"] == 8
    for url in (f"/api/map/communes.json?metric=qd766_on_time&{q}", "/api/map/stations.json",
                f"/api/map/commune/10001?{q}", f"/api/map/export.csv?commune=10001&kind=tickets&{q}"):
        res = cl.get(url)
        assert res.status_code == 200, (url, res.data[:300])
        assert not any(s in res.data.decode() for s in PII + SECRETS)
    assert cl.get("/api/map/communes.json?metric=x").status_code == 400
