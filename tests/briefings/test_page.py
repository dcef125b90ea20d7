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
    assert "Không đạt — không phát hành" in texts and "Đạt kiểm tra" in texts and "figure:fig-map" in texts
    assert "Tuần 17/11/2026 – 23/11/2026" in texts and "Ngày 23/11/2026" in texts
    assert _links(table) == [f"/api/briefings/{good.record_id}.pdf"]
    assert "Passed its checks" in " ".join(_texts(rows_table(rows[:2], "en")))

    client = signed_in_client(create_app(settings, views), "leader")
    res = client.get(f"/api/briefings/{good.record_id}.pdf")
    assert res.status_code == 200 and res.mimetype == "application/pdf"
    assert res.data == good.path.read_bytes()
    assert client.get(f"/api/briefings/{failed.id}.pdf").status_code == 404
    assert client.get("/api/briefings/999999.pdf").status_code == 404
    assert client.get("/briefings").status_code == 200
