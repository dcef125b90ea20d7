"""Briefings built from simulator data: the PDF's text holds the period's KPI values (the same
figures as `ioc kpi --json --period …`), every page renders, the checks reject a blank chart and
an empty map, bad input is one line, and nothing personal reaches the PDF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli_run import run_ioc
from ioc.db import models as m
from world import DAY

VOLATILE = ("generated_at", "compute_ms", "shared_cache_hits")


def ioc(*args, env):
    """`ioc ARGS…` in this process (ioc.cli.main, as the console script runs it; the scheduler's
    test runs `python -m ioc` as separate processes)."""
    from ioc.kpi import periods

    periods.clear_cache()  # as a fresh process would find it (Redis's shared windows stay)
    return run_ioc(*args, env=env)


def vi(v, d=0):
    """Vietnamese number format written out here, independently of ioc.formatting."""
    s = f"{v:,.{d}f}"
    return s.replace(",", "_").replace(".", ",").replace("_", ".")


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(str(path)).pages)


def one_line_error(res) -> str:
    assert "Traceback" not in res.stderr, res.stderr
    lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    return lines[0]


@pytest.mark.parametrize("period", ["day", "week"])
def test_built_briefing_holds_the_kpi_values_of_the_period(world, tmp_path, period):
    _settings, env = world
    out = tmp_path / f"{period}.pdf"
    res = ioc("briefing", "build", "--period", period, "--date", DAY, "--out", str(out), "--json", env=env)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["status"] == "done" and Path(summary["path"]) == out.resolve() and out.is_file()
    assert all(c["ok"] for c in summary["checks"]), summary["checks"]

    kpi = json.loads(ioc("kpi", "--json", "--period", period, "--date", DAY, env=env).stdout)
    h, c = kpi["hotline"]["figures"], kpi["cameras"]["figures"]
    e, q = kpi["environment"]["figures"], kpi["procedures"]["province"]
    assert h["received"] > 0 and q["counts"]["received"] > 0  # the world has data for the period
    text = pdf_text(out)
    wanted = {
        "received": f"Tổng đài 1022 tiếp nhận {vi(h['received'])} phản ánh",
        "answered": f"đã trả lời {vi(h['answered'])}",
        "availability": f"camera an ninh trực tuyến {vi(c['availability_pct'], 1)} %",
        "aqi": f"VN_AQI ngày cao nhất {vi(e['max_daily_aqi'])}",
        "qd766": f"điểm QĐ 766 đạt {vi(q['score'], 2)} / {vi(q['max_score'])}",
        "dossiers": f"Hồ sơ tiếp nhận {vi(q['counts']['received'])}",
        "water": f"{vi(e['water_exceedances'])} / {vi(e['water_observations_judged'])}",
    }
    missing = {k: v for k, v in wanted.items() if v not in text}
    assert not missing, missing
    for ind in q["indicators"].values():  # the QĐ 766 table as the engine returned it
        if ind.get("score") is not None:
            assert f"{vi(ind['score'], 2)} / {vi(ind['max_points'])}" in text


def test_view_figures_are_the_kpi_commands(world, views):
    from ioc.views.briefing import figures_for
    from datetime import date

    _settings, env = world
    for period in ("day", "week"):
        kpi = json.loads(ioc("kpi", "--json", "--period", period, "--date", DAY, env=env).stdout)
        mine = json.loads(json.dumps(figures_for(views, period, date.fromisoformat(DAY)), default=str))
        for k in VOLATILE:
            kpi.pop(k, None)
            mine.pop(k, None)
        assert mine == kpi


@pytest.fixture(scope="module")
def day_briefing(world, tmp_path_factory):
    """The daily briefing of DAY, built once for the tests that only read it."""
    from ioc.briefings.build import build
    from ioc.views.read import ReadModel

    rm = ReadModel.from_settings(world[0])
    try:
        yield build(rm, "day", DAY, out=str(tmp_path_factory.mktemp("day") / "b.pdf"))
    finally:
        rm.store.r.close()


def test_every_page_renders_and_the_record_is_stored(views, day_briefing):
    import pypdfium2 as pdfium

    from ioc.views.briefing_list import briefing_file, briefings

    res = day_briefing
    assert res.status == "done" and res.pages >= 3
    doc = pdfium.PdfDocument(str(res.path))
    assert len(doc) == res.pages
    for i in range(len(doc)):
        arr = doc[i].render(scale=0.5).to_numpy()
        assert (arr[:, :, :3].min(axis=2) < 200).mean() > 0.002, f"page {i + 1} is blank"
    doc.close()
    with Session(views.engine()) as s:
        row = s.get(m.Briefing, res.record_id)
    assert row.status == "done" and row.kind == "daily" and row.path == str(res.path)
    assert row.pages == res.pages and row.size_bytes == res.path.stat().st_size and row.error is None
    names = {c["name"] for c in row.checks}
    assert {"pages", "sections", "pages_render", "values", "fonts", "privacy", "figure:fig-map",
            "figure:fig-hotline-trend", "figure:fig-aqi-stations"} <= names
    listed = {r.id: r for r in briefings(views)}
    assert listed[res.record_id].downloadable and briefing_file(views, res.record_id) == res.path


@pytest.mark.parametrize("blank, reason, said", [("fig-hotline-trend", "figure:fig-hotline-trend",
                                                  "Không đạt kiểm tra: biểu đồ phản ánh 7 ngày trống"),
                                                 ("fig-aqi-stations", "figure:fig-aqi-stations",
                                                  "Không đạt kiểm tra: biểu đồ VN_AQI trống"),
                                                 ("fig-map", "figure:fig-map", "Không đạt kiểm tra: bản đồ trống")])
def test_check_rejects_a_blank_chart_and_an_empty_map(views, tmp_path, blank, reason, said):
    from ioc.briefings.build import BriefingFailed, build
    from ioc.views.briefing_list import briefing_file, briefings

    out = tmp_path / "b.pdf"
    with pytest.raises(BriefingFailed) as exc:
        build(views, "day", DAY, out=str(out), blank_figures=(blank,))
    assert reason in str(exc.value)
    assert not out.exists() and (tmp_path / "b.failed.pdf").is_file()  # never where a reader would take it
    row = briefings(views, limit=1)[0]
    assert row.status == "failed" and not row.downloadable and row.reason == said  # in words, for a leader
    assert briefings(views, limit=1, lang="en")[0].reason.startswith("Failed its checks: ")
    assert briefing_file(views, row.id) is None
    failed = [c for c in row.checks if not c["ok"]]
    assert [c["name"] for c in failed] == [reason]


def test_check_fails_on_a_value_missing_from_the_text(day_briefing):
    from ioc.briefings import checks

    data = day_briefing.path.read_bytes()
    results = checks.check_pdf(data, expected_values=["987.654,3"], personal=("Nguyễn Văn Không Có",))
    bad = checks.failures(results)
    assert len(bad) == 1 and bad[0].startswith("values:") and "987.654,3" in bad[0]
    results = checks.check_pdf(data, expected_values=[], personal=("Tổng đài 1022",))
    assert [r.name for r in results if not r.ok] == ["privacy"]
    assert checks.failures(checks.check_pdf(b"not a pdf", expected_values=[]))[0].startswith("pdf:")


def test_no_personal_data_in_the_pdf(world, views, tmp_path):
    from ioc.briefings.build import build

    with Session(views.engine()) as s:
        rows = s.execute(select(m.Ticket.reporter_name, m.Ticket.reporter_phone, m.Ticket.address)).all()
    personal = {v for row in rows for v in row if v and len(v) >= 8}
    assert personal  # the simulator does send them
    res = build(views, "week", DAY, out=str(tmp_path / "w.pdf"), personal=tuple(sorted(personal)))
    assert res.status == "done"
    text = pdf_text(res.path)
    assert not [v for v in personal if " ".join(v.split()) in text]


def test_bad_input_is_one_line(world, tmp_path):
    _settings, env = world
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    empty_fonts = tmp_path / "fonts"
    empty_fonts.mkdir()
    cases = [
        (["--period", "month", "--date", DAY], "unknown period 'month'"),
        (["--period", "day", "--date", "2026-02-30"], "bad date '2026-02-30'"),
        (["--period", "day", "--date", "2099-01-01"], "has not begun yet"),
        (["--period", "day", "--date", "2024-01-01"], "no data for the day ending 2024-01-01"),
        (["--period", "day", "--date", DAY, "--out", str(a_file / "b.pdf")], "cannot create the output folder"),
        (["--period", "day", "--date", DAY, "--out", str(tmp_path / "b.txt")], "must end in .pdf"),
    ]
    for args, needle in cases:
        res = ioc("briefing", "build", *args, env=env)
        assert res.returncode == 2, (args, res.stderr)
        assert needle in one_line_error(res), (args, res.stderr)
    res = ioc("briefing", "build", "--period", "day", "--date", DAY, env=env | {"IOC_BRIEFING_FONT_DIR": str(empty_fonts)})
    assert res.returncode == 2 and "no font with Vietnamese letters" in one_line_error(res)
    # refused input that reached the database is recorded as failed, with its reason
    listed = json.loads(ioc("briefing", "list", "--json", env=env).stdout)
    assert any(r["status"] == "failed" and r["period_label"] == "Ngày 01/01/2024"
               and r["reason"] == "Không lập được: chưa nguồn nào có số liệu của kỳ" for r in listed)


def test_failed_polls_and_stale_sources_are_said_in_the_coverage_statement(world, views):
    from datetime import date, datetime, timedelta, timezone

    from ioc.views.briefing import briefing_view

    at = datetime(2026, 11, 23, 2, 40, tzinfo=timezone.utc)  # 09:40 in Đồng Tháp
    with Session(views.engine()) as s:
        for minutes, ok in ((0, True), (60, False), (120, True)):
            t = at + timedelta(minutes=minutes)
            s.add(m.SourceRun(source="hotline", started_at=t, finished_at=t, ok=ok,
                              error=None if ok else "HTTP 503 from upstream"))
        s.commit()
    now = datetime.now(timezone.utc)
    views.store.set_health("environment", {"last_success": (now - timedelta(hours=5)).isoformat(),
                                           "last_attempt": now.isoformat(), "consecutive_failures": 7,
                                           "interval_seconds": 60, "last_error": "timeout"})
    v = briefing_view(views, "day", date.fromisoformat(DAY))
    hotline = next(line for line in v.coverage if line.startswith("Tổng đài 1022"))
    assert "3 lượt đọc, 1 lỗi (từ 23/11/2026 10:40 đến 23/11/2026 10:40; lỗi cuối: HTTP 503 from upstream)" in hotline
    assert "gián đoạn: 23/11/2026 00:00 – 23/11/2026 09:40" in hotline  # nothing polled before 09:40
    env_line = next(line for line in v.coverage if line.startswith("Quan trắc môi trường"))
    assert "Lúc lập bản tin: Mất kết nối từ" in env_line or "Lúc lập bản tin: Cũ từ" in env_line, env_line
    stale = [x for x in v.not_fresh if x.startswith("Quan trắc môi trường (")]
    assert stale and ("Mất kết nối từ" in stale[0] or "Cũ từ" in stale[0]), v.not_fresh  # on the summary page


def test_a_full_disk_is_one_line_and_a_failed_record(views, tmp_path, monkeypatch):
    import errno
    import os

    from ioc.briefings import store
    from ioc.errors import UserError
    from ioc.views.briefing_list import briefings

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", full)
    out = tmp_path / "b.pdf"
    with pytest.raises(UserError) as exc:
        from ioc.briefings.build import build

        build(views, "day", DAY, out=str(out))
    assert str(exc.value) == f"cannot write {out}: No space left on device"
    assert os.listdir(tmp_path) == []  # no partial file, no temp file left
    row = briefings(views, limit=1)[0]
    assert row.status == "failed" and not row.downloadable
    assert row.reason == "Không lập được: không ghi được tệp PDF (No space left on device)"


def test_a_period_with_little_data_says_what_is_missing_instead_of_drawing_blank(views, tmp_path):
    from ioc.briefings.build import build

    # 08/11: before the hotline's, the stations' and the dossiers' history starts; cameras only
    res = build(views, "day", "2026-11-08", out=str(tmp_path / "b.pdf"))
    assert res.status == "done"
    text = pdf_text(res.path)
    assert ("Nguồn không có số liệu trong kỳ (hoặc chỉ toàn số 0): Tổng đài 1022, Quan trắc môi trường, "
            "Thủ tục hành chính.") in text
    assert "Phản ánh tiếp nhận mỗi ngày (7 ngày): không có giá trị nào (hoặc chỉ có 0), không vẽ biểu đồ." in text
    assert "Chưa có hồ sơ trong kỳ để chấm điểm QĐ 766." in text
    figures = {c.name for c in res.checks if c.name.startswith("figure:")}
    assert figures == {"figure:fig-map"}  # the charts were not drawn, so not checked for ink


@pytest.mark.parametrize("period", ["day", "week"])
def test_every_number_of_the_narrative_is_a_table_value(views, period):
    import re
    from datetime import date

    from ioc.views.briefing import briefing_view

    v = briefing_view(views, period, date.fromisoformat(DAY))
    cells = [c for h in v.headline for c in (h.current, h.previous, h.change.split(" ")[-1].lstrip("+−"))]
    for sec in v.sections.values():
        for _subtitle, table in sec.get("tables") or []:
            cells += [c for row in table.rows for c in row] + [table.note]
    text = re.sub(r"\d{2}/\d{2}/\d{4}", "", v.narrative)  # the period's dates
    text = text.replace("Tổng đài 1022", "").replace("QĐ 766", "").replace("quá 24 giờ", "")
    numbers = re.findall(r"\d[\d.]*(?:,\d+)?(?: %)?", text)
    assert len(numbers) >= 6, v.narrative
    def holds(cell: str, x: str) -> bool:  # x as a whole number in the cell ("8" is not in "28")
        return re.search(rf"(?<![\d.,]){re.escape(x)}(?![\d]|,\d)", cell) is not None

    missing = [x for x in numbers if not any(holds(c, x) for c in cells)]
    assert not missing, (missing, v.narrative)


def test_lowest_on_qd766_ranks_only_units_with_enough_dossiers():
    from ioc.views.briefing import _bottom
    from ioc.views.text import QD766_MIN_DOSSIERS

    def unit(score, received, finished=0):
        return {"score": score, "max_score": 50, "counts": {"received": received, "finished": finished,
                                                             "overdue_unfinished": 0}}

    groups = {"Sở A": unit(0.0, 2), "Sở B": unit(25.0, 3, 2), "Sở C": unit(40.0, 30, 10), "Sở D": unit(10.0, 4)}
    table = _bottom(groups, None)
    assert QD766_MIN_DOSSIERS == 5
    assert [r[0] for r in table.rows] == ["Sở B", "Sở C"]  # A (2 dossiers) and D (4) are not ranked worst
    assert table.rows[0][3] == "5"  # the count the score rests on is shown
    assert table.note == "Chỉ xếp hạng đơn vị có từ 5 hồ sơ tiếp nhận hoặc giải quyết trong kỳ; 2 đơn vị ít hồ sơ hơn không xếp hạng."
    empty = _bottom({"Sở A": unit(0.0, 2)}, None)
    assert empty.rows == [] and empty.empty == "Không có đơn vị nào có từ 5 hồ sơ trong kỳ để xếp hạng."


def test_chart_axes_step_on_round_values():
    from ioc.briefings.charts import axis

    assert [axis(m) for m in (3, 12, 22, 100, 103)] == [(3, 1), (15, 5), (25, 5), (100, 20), (150, 50)]
