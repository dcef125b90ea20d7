"""A hotline officer limited to one commune opens /map in headless Chromium (issue 14,
docs/security.md § Roles): the ticket layer downloads its points — some, and all in that
commune — and no request of the page is refused (no 403 among the page's resources, no error in
the console). Real sign-in through /login, tickets the connectors stored from the simulator."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from .iocbrowser import WALL_1080, console_errors, new_driver, wait_dash_ready, wait_until

pytestmark = pytest.mark.browser

# the ticket layer's points as the page holds them (assets/sector_map.js ioc_map.tickets): their row ids
POINT_IDS = """
  const done = arguments[arguments.length - 1];
  const p = window.dash_clientside && window.dash_clientside.ioc_map._points;
  if (!p) { done(null); return; }
  p.features.then(f => done(f.map(x => x.properties.id)), () => done(null));
"""
# what the page offers: the layer control's overlays and the list tabs
OFFERED = """
  const text = sel => [...document.querySelectorAll(sel)].map(e => e.textContent.replace(/[\u200b-\u200d\u2060\ufeff]/g, '').trim());
  return {layers: text('.leaflet-control-layers-overlays label'), lists: text('#map-list-kind label')};
"""
REFUSED = """
  return performance.getEntriesByType('resource').filter(e => e.responseStatus >= 400)
    .map(e => e.responseStatus + ' ' + e.name);
"""


def _sql(stack, stmt):
    from ioc.db.session import make_engine

    engine = make_engine(stack.env["IOC_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(stmt).all()
    finally:
        engine.dispose()


def test_a_commune_limited_hotline_officer_gets_the_ticket_points_of_their_commune(stack, tmp_path):
    from ioc.auth.testing import browser_sign_in, ensure_user
    from ioc.db import models as m
    from ioc.i18n import t

    tk = m.Ticket.__table__
    ((commune, _n),) = _sql(stack, select(tk.c.commune_code, func.count()).where(tk.c.commune_code.is_not(None),
                                                                             tk.c.lat.is_not(None))
                            .group_by(tk.c.commune_code).order_by(func.count().desc()).limit(1))
    ensure_user(stack.env["IOC_DATABASE_URL"], "browser-commune", "sector", sectors=("hotline",), communes=(commune,))
    (tmp_path / "profile").mkdir()
    driver = new_driver(WALL_1080, tmp_path / "profile")
    try:
        browser_sign_in(driver, stack.web_url, "browser-commune")
        driver.get(f"{stack.web_url}/map")
        wait_dash_ready(driver)
        assert f"commune={commune}" in driver.current_url and "sector=hotline" in driver.current_url
        ids = wait_until(lambda: driver.execute_async_script(POINT_IDS), 30, 0.3, "the ticket points downloaded")
        wait_until(lambda: driver.execute_script(
            "return document.querySelectorAll('.sm-leaflet .sm-mk-ticket, .sm-leaflet .sm-mk-tcluster').length"),
            20, 0.2, "ticket markers drawn")
        wait_dash_ready(driver)
        refused = driver.execute_script(REFUSED)
        offered = driver.execute_script(OFFERED)
        errors = console_errors(driver)
    finally:
        driver.quit()
    assert len(ids) > 0
    where = dict(_sql(stack, select(tk.c.id, tk.c.commune_code).where(tk.c.id.in_(ids))))
    assert len(where) == len(ids) and set(where.values()) == {commune}, "a ticket point outside the user's commune"
    assert refused == [] and errors == [], (refused, errors)
    # a hotline officer is offered the hotline's layers and lists, not the cameras' or the stations'
    assert offered["layers"] == [t(f"mp.layer.{k}", "vi") for k in ("communes", "density", "tickets")], offered
    assert offered["lists"] == [t("mp.list.tickets", "vi")], offered
