"""A commune's panel on the sector map, its lists and their CSV/XLSX exports, on SQLite and
PostgreSQL (ioc/views/map_lists.py, ioc/views/exports.py, ioc/web/map_api.py)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from flask import Flask
from test_map_world import NOW, RANGE, world  # noqa: F401

from ioc.kpi.periods import period_figures
from ioc.views import mapdata as md
from ioc.views import text
from ioc.views.exports import filename, safe_cell
from ioc.web import map_api


def client_for(views):
    app = Flask("map-lists-test")
    map_api.register(app, views)
    return app.test_client()


# --- the panel --------------------------------------------------------------------------------


def test_the_panel_shows_the_period_queries_figures_for_the_commune(world):
    f = md.filters_for(world, RANGE)
    panel = md.commune_panel(world, "10001", f, "vi")
    rows = {r.key: r for r in panel.rows}
    # what `ioc kpi --json --period custom --start 2026-04-12 --end 2026-06-10` computes
    cur = period_figures(world.engine(), "custom", start=f.start, end=f.end, tz=world.tz, now=NOW)
    prev = period_figures(world.engine(), "custom", start=date(2026, 2, 11), end=date(2026, 4, 11), tz=world.tz,
                          now=NOW)
    h = cur["hotline"]["by"]["commune"]["10001"]
    assert rows["hotline_received"].value == str(h["received"]) == "8"
    assert rows["hotline_received"].province == str(cur["hotline"]["figures"]["received"]) == "9"
    assert rows["hotline_overdue"].value == str(h["overdue"]) == "2"
    assert rows["hotline_per_km2"].value == "0,80"
    assert rows["cameras_availability"].value == text.pct(cur["cameras"]["by_commune"]["10001"], "vi")
    assert rows["cameras_availability"].province == text.pct(cur["cameras"]["figures"]["availability_pct"], "vi")
    p = cur["procedures"]["commune"]["10001"]
    assert rows["dossiers_received"].value == str(p["counts"]["received"])
    assert rows["dossiers_overdue"].value == str(p["counts"]["overdue_unfinished"]) == "2"  # D1, D5
    assert rows["qd766_on_time"].value == f"{p['indicators']['2.1']['value']:.1f} %".replace(".", ",")
    assert rows["aqi_max"].value != "—"  # the commune has an air station
    # the previous range is its own custom period: the commune's figures there
    prev_h = (prev["hotline"]["by"].get("commune") or {}).get("10001")
    assert rows["hotline_received"].previous == str(prev_h["received"] if prev_h else 0)
    assert rows["hotline_received"].change.endswith("so với kỳ trước")
    assert panel.name == "Phường Một" and panel.period.startswith("12/04/2026 – 10/06/2026 (60 ngày)")
    assert panel.previous_period == "Kỳ trước: 11/02/2026 – 11/04/2026" and panel.error is None
    assert len(panel.columns) == 5 and panel.note == ""
    assert "aqi_max" not in {r.key for r in md.commune_panel(world, "10003", f, "en").rows}  # no air station there
    noted = md.commune_panel(world, "10001", md.filters_for(world, RANGE | {"service": "TTHC"}), "vi")
    assert noted.note and [r.value for r in noted.rows] == [r.value for r in panel.rows]
    with pytest.raises(md.NotFound):
        md.commune_panel(world, "99999", f, "vi")


def test_the_panel_says_when_figures_are_missing(world):
    panel = md.commune_panel(world, "10003", md.filters_for(world, RANGE), "en")
    rows = {r.key: r for r in panel.rows}
    assert rows["hotline_received"].value == "0"  # no request from there: 0, counted
    assert rows["hotline_on_time"].value == "—" and rows["cameras_availability"].value == "—"  # nothing to judge
    assert rows["cameras_availability"].change == "No comparison (figures missing)"


def test_a_database_error_is_said_not_raised(world, monkeypatch):
    from ioc.kpi import periods

    def broken(*a, **k):
        raise RuntimeError("database gone")

    monkeypatch.setattr(periods, "period_figures", broken)
    panel = md.commune_panel(world, "10002", md.filters_for(world, {"start": "2026-06-01"}), "vi")
    assert panel.rows == [] and "cơ sở dữ liệu" in panel.error


# --- lists ------------------------------------------------------------------------------------


def ids(page) -> list[str]:
    return [r["id"] for r in page.rows]


def test_tickets_list_filters_sorts_and_pages_in_sql(world):
    f = md.filters_for(world, RANGE)
    page = md.commune_list(world, "10001", "tickets", f, lang="vi")
    assert page.total == 8 and page.page_count == 1 and page.sort == "received" and page.desc is True
    assert ids(page) == ["PA005", "PA001", "PA006", "-2+3", "PA010", "PA003", "PA002", "PA004"]  # newest first
    assert [c["id"] for c in page.columns] == ["id", "category", "status", "received", "deadline", "age", "agency"]
    row = next(r for r in page.rows if r["id"] == "PA002")
    assert row == {"id": "PA002", "category": "Đất đai", "status": "Quá hạn", "received": "16/05/2026 10:00",
                   "deadline": "06/06/2026 10:00", "age": "25 ngày", "agency": "UBND Phường Một"}
    pa004 = next(r for r in page.rows if r["id"] == "PA004")
    assert pa004["status"] == "Quá hạn" and pa004["deadline"] != "—"  # 15 working days after the request
    # paging: 3 a page, stable, no overlap, the last page short; past the end → the last page
    pages = [md.commune_list(world, "10001", "tickets", f, page=i, page_size=3) for i in range(3)]
    assert [len(p.rows) for p in pages] == [3, 3, 2] and sum((ids(p) for p in pages), []) == ids(page)
    assert md.commune_list(world, "10001", "tickets", f, page=9, page_size=3).page == 2
    # every column sorts, both ways, with missing values last
    for col in ("id", "category", "status", "received", "deadline", "age", "agency"):
        up = ids(md.commune_list(world, "10001", "tickets", f, sort=col, page_size=200))
        down = ids(md.commune_list(world, "10001", "tickets", f, sort=col, desc=True, page_size=200))
        assert sorted(up) == sorted(down) == sorted(ids(page)), col
    assert ids(md.commune_list(world, "10001", "tickets", f, sort="id")) == sorted(ids(page))
    assert ids(md.commune_list(world, "10001", "tickets", f, sort="status"))[:2] == ["PA002", "PA004"]  # overdue first
    assert ids(md.commune_list(world, "10001", "tickets", f, sort="age", desc=True))[0] == "PA004"  # the oldest
    deadline = ids(md.commune_list(world, "10001", "tickets", f, sort="deadline"))
    assert deadline[-3:] and set(deadline[-3:]) == {"PA004", "PA005", "PA010"}  # no upstream deadline: last
    # filters
    assert ids(md.commune_list(world, "10001", "tickets", md.filters_for(world, RANGE | {"status": "overdue"}),
                               sort="id")) == ["PA002", "PA004"]
    assert ids(md.commune_list(world, "10001", "tickets", md.filters_for(world, RANGE | {"status": "closed"}),
                               sort="id")) == ["-2+3", "PA003", "PA010"]
    assert ids(md.commune_list(world, "10001", "tickets", md.filters_for(world, RANGE | {"service": "TTHC,DATDAI"}),
                               sort="id")) == ["PA001", "PA002", "PA005", "PA006", "PA010"]
    assert md.commune_list(world, "10001", "tickets", md.filters_for(world, RANGE | {"sector": "environment"}),
                           sort="id").total == 1
    # free text on the shown columns, LIKE wildcards taken literally
    assert ids(md.commune_list(world, "10001", "tickets", f, query="đất")) == ["PA002"]
    assert ids(md.commune_list(world, "10001", "tickets", f, query="pa00", sort="id"))[:2] == ["PA001", "PA002"]
    assert md.commune_list(world, "10001", "tickets", f, query="%").total == 0
    assert md.commune_list(world, "10001", "tickets", f, query="_").total == 0
    assert md.commune_list(world, "10001", "tickets", f, query="' OR 1=1 --").total == 0


def test_offline_cameras_and_overdue_dossiers(world):
    f = md.filters_for(world, RANGE)
    cams = md.commune_list(world, "10001", "cameras_offline", f, lang="vi")
    assert ids(cams) == ["C2", "C3"] and cams.sort == "since"  # the longest offline first
    assert cams.rows[0]["duration"] == "3 ngày" and cams.rows[0]["since"] == "07/06/2026 10:00"
    assert ids(md.commune_list(world, "10001", "cameras_offline", f, sort="duration")) == ["C3", "C2"]
    assert ids(md.commune_list(world, "10001", "cameras_offline", f, query="chợ")) == ["C3"]
    dos = md.commune_list(world, "10001", "dossiers_overdue", f, lang="vi")
    assert ids(dos) == ["D5", "D1"]  # D4's supplement wait moves its due time past now
    assert dos.rows[1] | {} == {"id": "D1", "procedure": "Cấp giấy phép xây dựng", "agency": "UBND Phường Một",
                                "received": "21/05/2026 10:00", "due": "05/06/2026 10:00", "overdue": "5 ngày"}
    panel = {r.key: r.value for r in md.commune_panel(world, "10001", f, "vi").rows}
    assert panel["dossiers_overdue"] == str(dos.total)  # the list behind the number
    assert md.commune_list(world, "10003", "dossiers_overdue", f).rows == []
    assert md.commune_list(world, "10003", "dossiers_overdue", f, lang="en").empty_text == "No overdue dossier"


@pytest.mark.parametrize("kwargs, words", [
    ({"kind": "reporters"}, "bad kind"),
    ({"sort": "reporter_phone"}, "bad sort"),
    ({"sort": "description"}, "bad sort"),
    ({"page": -1}, "bad page"),
    ({"page_size": 0}, "page_size"),
    ({"page_size": 201}, "page_size"),
    ({"query": "x" * 101}, "longer than"),
])
def test_bad_list_arguments(world, kwargs, words):
    args = {"kind": "tickets"} | kwargs
    kind = args.pop("kind")
    with pytest.raises(ValueError) as err:
        md.commune_list(world, "10001", kind, md.filters_for(world, RANGE), **args)
    assert words in str(err.value)


# --- exports ----------------------------------------------------------------------------------


def test_csv_export_is_exactly_the_filtered_list_made_inert(world):
    cl = client_for(world)
    q = "&".join(f"{k}={v}" for k, v in RANGE.items())
    res = cl.get(f"/api/map/export.csv?kind=tickets&commune=10001&sort=category&desc=true&{q}")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert res.headers["Content-Disposition"] == 'attachment; filename="tickets_10001_2026-04-12_2026-06-10.csv"'
    text = res.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["Mã", "Lĩnh vực", "Trạng thái", "Tiếp nhận", "Hạn trả lời", "Thời gian xử lý", "Cơ quan xử lý"]
    page = md.commune_list(world, "10001", "tickets", md.filters_for(world, RANGE), sort="category", desc=True,
                           page_size=200)
    assert [r[0] for r in rows[1:]] == [safe_cell(i) for i in ids(page)]
    evil = next(r for r in rows[1:] if r[0] == "'-2+3")
    assert evil[1] == "'=HYPERLINK(\"http://evil.example\",\"x\")" and evil[6] == "'+SUM(1)"
    for r in rows:
        assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in r)
    only = list(csv.reader(io.StringIO(cl.get(f"/api/map/export.csv?kind=tickets&commune=10001&status=overdue&"
                                              f"{q}&lang=en").data.decode()[1:])))
    assert only[0][0] == "Ticket" and [r[0] for r in only[1:]] == ["PA002", "PA004"]


def test_xlsx_export_reads_back_as_text_never_formulas(world):
    from openpyxl import load_workbook

    cl = client_for(world)
    q = "&".join(f"{k}={v}" for k, v in RANGE.items())
    res = cl.get(f"/api/map/export.xlsx?kind=dossiers_overdue&commune=10001&{q}")
    assert res.status_code == 200 and res.headers["Content-Disposition"].endswith('.xlsx"')
    assert res.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(io.BytesIO(res.data)).active
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    assert cells[0][:2] == ["Mã hồ sơ", "Thủ tục"] and [r[0] for r in cells[1:]] == ["D5", "D1"]
    assert cells[1][1] == "'=EVIL()"
    for row in ws.iter_rows():
        for c in row:
            assert c.data_type == "s", (c.coordinate, c.value)
    tickets = load_workbook(io.BytesIO(cl.get(f"/api/map/export.xlsx?kind=tickets&commune=10001&sort=id&{q}").data))
    values = [[c.value for c in row] for row in tickets.active.iter_rows()]
    assert [r[0] for r in values[1:]] == ["'-2+3", "PA001", "PA002", "PA003", "PA004", "PA005", "PA006", "PA010"]
    assert all(c.data_type == "s" for row in tickets.active.iter_rows() for c in row)


def test_safe_cells_and_file_names():
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell("−3 ngày") == "−3 ngày" and safe_cell(None) == "" and safe_cell(12) == "12"
    assert safe_cell("a\x00b\x07c") == "abc"
    assert filename("Phản ánh đất đai", "28249", ext="csv") == "phan-anh-dat-dai_28249.csv"


def test_exports_stop_at_a_limit(world, monkeypatch):
    from ioc.views import map_lists

    monkeypatch.setattr(map_lists, "EXPORT_MAX", 3)
    res = client_for(world).get("/api/map/export.csv?kind=tickets&commune=10001&start=2026-04-12&end=2026-06-10")
    assert res.status_code == 400 and "narrow the filters" in res.json["error"]


def test_a_range_before_any_data_gives_empty_lists_with_words(world):
    f = md.filters_for(world, {"start": "2026-01-01", "end": "2026-01-31"})
    page = md.commune_list(world, "10001", "tickets", f, lang="vi")
    assert page.total == 0 and page.rows == [] and page.page_count == 1
    assert page.empty_text == "Không có phản ánh nào khớp bộ lọc"
    assert NOW.date() - timedelta(days=1) > f.end
