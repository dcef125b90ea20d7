"""The /map "show personal data" button in headless Chromium (docs/security.md § Personal data):
a sector user with `pii` opens a ticket, gives a reason and presses the button — the reporter's
phone number, masked until then, appears and one row is written to the access log; a user
without `pii` sees the masked number and no button. Real sign-ins through /login, a ticket the
connectors stored from the simulator, the access log read back from SQL."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from .iocbrowser import WALL_1080, console_errors, new_driver, wait_dash_ready, wait_until

pytestmark = pytest.mark.browser

REASON = "gọi lại người phản ánh để xác minh"


def _sql(stack, stmt):
    from ioc.db.session import make_engine

    engine = make_engine(stack.env["IOC_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(stmt).all()
    finally:
        engine.dispose()


def _log_rows(stack, actor: str) -> list:
    from ioc.db import models as m

    t = m.PiiAccess.__table__
    return _sql(stack, select(t.c.surface, t.c.record_ids, t.c.reason).where(t.c.actor == actor))


def _panel(driver) -> str:
    return driver.execute_script("const e = document.getElementById('map-object-body');"
                                 "return e ? e.innerText : '';")


def test_the_reveal_button_shows_the_phone_and_writes_one_audit_row(stack, tmp_path):
    from ioc.auth.testing import browser_sign_in, ensure_user
    from ioc.db import models as m
    from ioc.pii import mask_phone

    url = stack.env["IOC_DATABASE_URL"]
    # hotline staff (the reporters are the hotline's); the map's layers carry their scope
    ensure_user(url, "browser-pii", "sector", sectors=("hotline",), pii=True)
    ensure_user(url, "browser-nopii", "sector", sectors=("hotline",))
    tk = m.Ticket.__table__
    ((ident, phone),) = _sql(stack, select(tk.c.external_id, tk.c.reporter_phone)
                             .where(tk.c.reporter_phone.is_not(None)).order_by(tk.c.requested_at.desc()).limit(1))
    masked = mask_phone(phone)
    page = f"{stack.web_url}/map?sector=hotline&sel=ticket:{ident}"
    (tmp_path / "profile").mkdir()
    driver = new_driver(WALL_1080, tmp_path / "profile")
    try:
        browser_sign_in(driver, stack.web_url, "browser-pii")
        driver.get(page)
        wait_dash_ready(driver)
        wait_until(lambda: masked in _panel(driver), 20, 0.2, "the ticket's masked phone number")
        assert phone not in _panel(driver) and _log_rows(stack, "browser-pii") == []
        driver.find_element(By.ID, "map-reveal-reason").send_keys(REASON)
        driver.find_element(By.ID, "map-reveal-go").click()
        wait_until(lambda: phone in _panel(driver), 20, 0.2, "the phone number shown unmasked")
        assert "đã được ghi nhật ký" in _panel(driver)
        assert _log_rows(stack, "browser-pii") == [("map.ticket", [ident], REASON)]  # one row, this ticket
        assert console_errors(driver) == []

        # the same page for a user without pii: masked, and no button to press
        driver.delete_all_cookies()
        browser_sign_in(driver, stack.web_url, "browser-nopii")
        driver.get(page)
        wait_dash_ready(driver)
        wait_until(lambda: masked in _panel(driver), 20, 0.2, "the ticket's masked phone number")
        assert phone not in _panel(driver)
        assert driver.find_elements(By.ID, "map-reveal-go") == []
        assert driver.find_elements(By.ID, "map-reveal-reason") == []
        assert console_errors(driver) == []
    finally:
        driver.quit()
    assert _log_rows(stack, "browser-nopii") == []
