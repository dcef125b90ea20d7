"""/briefings: the stored briefings listed newest first, a download for one that passed its
checks, none for one that failed (with its reason), and the download endpoint refusing it."""

from __future__ import annotations

import pytest
from world import DAY

from ioc.auth.testing import signed_in_client


def _texts(component) -> list[str]:
    out = []
    children = getattr(component, "children", None)
    if isinstance(children, str):
        out.append(children)
    elif isinstance(children, (list, tuple)):
        for c in children:
            out += [c] if isinstance(c, str) else _texts(c)
    elif children is not None:
        out += _texts(children)
    return out


def _links(component) -> list[str]:
    out = []
    if getattr(component, "href", None):
        out.append(component.href)
    children = getattr(component, "children", None)
    for c in children if isinstance(children, (list, tuple)) else [children]:
        if c is not None and not isinstance(c, str):
            out += _links(c)
    return out


def test_page_lists_and_serves_only_passed_briefings(world, views, tmp_path):
    from ioc.briefings.build import BriefingFailed, build
    from ioc.views.briefing_list import briefings
    from ioc.web.app import create_app
    from layouts.briefings import rows_table

    settings, _env = world
    good = build(views, "week", DAY, out=str(tmp_path / "w.pdf"))
    with pytest.raises(BriefingFailed):
        build(views, "day", DAY, out=str(tmp_path / "d.pdf"), blank_figures=("fig-map",))
    rows = briefings(views)
    failed = rows[0]
    assert failed.status == "failed" and rows[1].id == good.record_id  # newest first

    table = rows_table(rows[:2], "vi")
    texts = " ".join(_texts(table))
    assert "Không đạt — không phát hành" in texts and "Đạt kiểm tra" in texts
    assert "Không đạt kiểm tra: bản đồ trống" in texts  # the reason in words, not the check's name
    assert "Tuần 17/11/2026 – 23/11/2026" in texts and "Ngày 23/11/2026" in texts
    assert _links(table) == [f"/api/briefings/{good.record_id}.pdf"]
    en = " ".join(_texts(rows_table(briefings(views, lang="en")[:2], "en")))
    assert "Passed its checks" in en and "Failed its checks: the map is empty" in en
    assert "Week 17/11/2026 – 23/11/2026" in en and "Day 23/11/2026" in en

    client = signed_in_client(create_app(settings, views), "leader")
    res = client.get(f"/api/briefings/{good.record_id}.pdf")
    assert res.status_code == 200 and res.mimetype == "application/pdf"
    assert res.data == good.path.read_bytes()
    assert client.get(f"/api/briefings/{failed.id}.pdf").status_code == 404
    assert client.get("/api/briefings/999999.pdf").status_code == 404
    assert client.get("/briefings").status_code == 200


def test_a_failure_made_again_and_passed_is_folded_into_the_passing_row(views, tmp_path):
    from datetime import date

    from ioc.briefings import store
    from ioc.briefings.build import build
    from ioc.views.briefing_list import briefings
    from layouts.briefings import rows_table

    day = "2026-11-22"
    # an attempt that failed its checks, recorded as a build records one (the rendering and the
    # checks that fail are tested in test_briefings.py)
    failed = store.start_record(views.engine(), "day", date.fromisoformat(day), None, None)
    store.finish_record(views.engine(), failed, status="failed", reason="checks", error="figure:fig-aqi-stations: 0.0%",
                        checks=[{"name": "figure:fig-aqi-stations", "ok": False, "detail": "0.0%"}])
    good = build(views, "day", day, out=str(tmp_path / "b.pdf"))
    shown = briefings(views, fold_superseded=True)
    assert [r.id for r in shown if r.period_label == "Ngày 22/11/2026"] == [good.record_id]  # one row
    assert shown[0].status_label == "Đạt kiểm tra (sau 1 lần không đạt)"
    assert "✖" not in " ".join(_texts(rows_table([r for r in shown if r.period_label == "Ngày 22/11/2026"], "vi")))
    every = briefings(views)  # `ioc briefing list`: every attempt, the failed one said superseded
    assert [r.status for r in every if r.period_label == "Ngày 22/11/2026"] == ["done", "superseded"]
    assert every[1].status_label == "Không đạt — đã lập lại"
