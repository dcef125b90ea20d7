"""The leaders' mobile view /m in headless Chromium at 390×844, against the real stack: a plain
page of the server (no Dash bundles), its figures equal `ioc kpi --json` for the same days, a tap
opens a card's detail, the period and language switches work and are kept, a client-side link
from a Dash page lands on it, and a server that stops answering is said on the page."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from .iocbrowser import (PHONE, console_errors, kpi_period_json, new_driver, screenshot, vn_number, wait_dash_ready,
                         wait_until)

pytestmark = pytest.mark.browser

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def phone(tmp_path, stack):
    """A phone with a fresh profile: nothing stored but a new session (each test starts as a new
    user, signed in through /login)."""
    from ioc.auth.testing import browser_sign_in

    (tmp_path / "profile").mkdir()
    driver = new_driver(PHONE, tmp_path / "profile")
    browser_sign_in(driver, stack.web_url, stack.user)
    yield driver
    driver.quit()


def wait_m(driver, timeout: float = 20.0) -> None:
    """Until /m is loaded and its trends are filled."""
    wait_until(lambda: driver.execute_script(
        "return document.readyState === 'complete' && !!document.querySelector('.mobile[data-m]')"
        " && !document.querySelector('[data-pending]')"), timeout, 0.2, "/m loaded with its trends")


def card_values(driver) -> dict[str, str]:
    return driver.execute_script("""return Object.fromEntries(['hotline', 'cameras', 'aqi', 'qd766'].map(k =>
        [k, document.querySelector('#m-sum-' + k + ' .m-value').textContent]));""")


def test_m_shows_the_period_figures_and_a_tap_opens_the_detail(stack, phone):
    phone.get(stack.web_url + "/m?p=week")
    wait_m(phone)
    loaded = phone.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [u for u in loaded if "/_dash" in u], loaded  # no Dash bundle, layout or callback
    today = datetime.now(TZ).date()
    kpi = kpi_period_json(stack, (today - timedelta(days=6)).isoformat(), today.isoformat())
    shown = card_values(phone)
    print(f"\n[m week] shown {shown}")
    assert shown["hotline"] == vn_number(kpi["hotline"]["figures"]["received"])
    prov = kpi["procedures"]["province"]
    assert shown["qd766"] == f"{vn_number(prov['score'], 1)} / {vn_number(prov['max_score'])}"

    card = phone.find_element(By.ID, "m-card-hotline")
    assert card.get_attribute("open") is None
    card.find_element(By.TAG_NAME, "summary").click()
    wait_until(lambda: card.get_attribute("open") is not None, 5, 0.1, "the hotline card opened")
    detail = phone.execute_script("""const c = document.getElementById('m-card-hotline');
        return {chart: !!c.querySelector('.m-trend img.m-chart') || !!c.querySelector('.m-trend .m-note'),
                rows: c.querySelectorAll('.m-rank li').length, note: !!c.querySelector('.m-detail .m-note'),
                visible: c.querySelector('.m-detail').getBoundingClientRect().height};""")
    assert detail["chart"] and (detail["rows"] or detail["note"]) and detail["visible"] > 50, detail
    phone.execute_script("document.getElementById('m-card-hotline').scrollIntoView()")
    screenshot(phone, "m-detail-390x844")
    assert not console_errors(phone)


def test_switches_are_kept_and_shared_with_the_other_pages(stack, phone):
    phone.get(stack.web_url + "/m")
    wait_m(phone)
    assert phone.execute_script("return document.documentElement.lang") == "vi"
    screenshot(phone, "m-cards-390x844")
    phone.find_element(By.LINK_TEXT, "Tháng").click()
    wait_m(phone)
    assert phone.find_element(By.ID, "m-period-label").text.startswith("Tháng ")
    phone.find_element(By.LINK_TEXT, "English").click()
    wait_m(phone)
    label = phone.find_element(By.ID, "m-period-label").text
    assert label.startswith("Month ") and phone.find_element(By.ID, "m-lang").text == "Tiếng Việt"
    screenshot(phone, "m-english-390x844")
    # kept: a plain /m (the installed app's start page) opens on the same period and language
    phone.get(stack.web_url + "/m")
    wait_m(phone)
    assert phone.find_element(By.ID, "m-period-label").text.startswith("Month ")
    # shared: the Dash pages read the language from the browser
    assert phone.execute_script("return localStorage.getItem('lang')") == '"en"'
    # a Dash page's client-side link to /m lands on the server's page, not a Dash copy of it
    phone.get(stack.web_url + "/")
    link = wait_until(lambda: phone.find_elements(By.ID, "link-mobile"), 20, 0.2, "the status page's link to /m")
    wait_dash_ready(phone)  # as a person would: a click before Dash's router is ready can go nowhere
    link = phone.find_elements(By.ID, "link-mobile")
    link[0].click()
    wait_m(phone)
    assert phone.execute_script("return [location.pathname, document.documentElement.lang]") == ["/m", "en"]
    assert not console_errors(phone)


def test_a_server_that_stops_answering_is_said_and_the_cards_marked_stale(stack, phone):
    phone.get(stack.web_url + "/m")
    wait_m(phone)
    before = card_values(phone)
    stack.kill_web()
    try:
        # the page refreshes every minute, and at once when the phone shows it again
        phone.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
        banner = wait_until(lambda: phone.find_element(By.ID, "m-offline").text, 15, 0.2, "the unreachable banner")
        assert banner.startswith("✖ Mất kết nối máy chủ từ ") and "số liệu dưới đây có thể đã cũ" in banner
        stale = phone.execute_script("return [...document.querySelectorAll('.m-card')].map(c => c.classList.contains('m-stale'))")
        assert stale == [True] * 4 and card_values(phone) == before  # the old figures stay, marked stale
        screenshot(phone, "m-offline-390x844")
    finally:
        stack.start_web()
    time.sleep(0.5)
    phone.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
    wait_until(lambda: not phone.find_element(By.ID, "m-offline").is_displayed(), 15, 0.2, "the banner gone")
