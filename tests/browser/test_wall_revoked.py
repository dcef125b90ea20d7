"""A wall display revoked while it shows the wall: its next poll is refused and it covers the
screen with "Thiết bị đã bị thu hồi" (assets/wall.js), never a blank page or a login form; a
reload shows the same words (docs/security.md § Wall displays)."""

from __future__ import annotations

import subprocess
import sys
import time

from ioc.auth.testing import browser_enrol

from .iocbrowser import WALL_1080, new_driver, open_wall, screenshot, wait_until


def test_a_revoked_wall_says_so_at_its_next_poll(stack, tmp_path):
    profile = tmp_path / "profile"
    profile.mkdir()
    driver = new_driver(WALL_1080, profile)
    try:
        browser_enrol(driver, stack.web_url, stack.enrol_path("wall-to-revoke"))
        open_wall(driver, stack)
        res = subprocess.run([sys.executable, "-m", "ioc", "devices", "revoke", "wall-to-revoke"], env=stack.env,
                             cwd=stack.root, capture_output=True, timeout=60)
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        t0 = time.monotonic()
        text = wait_until(lambda: driver.execute_script(
            "const e = document.getElementById('wall-revoked'); return e && e.offsetHeight > 0 && e.innerText;"),
            10, 0.1, "the revoked screen")
        print(f"\n[wall revoked] shown {time.monotonic() - t0:.1f} s after `ioc devices revoke`")
        assert "Thiết bị đã bị thu hồi" in text and "/login" not in driver.current_url
        cover = driver.execute_script("const r = document.getElementById('wall-revoked').getBoundingClientRect();"
                                      "return [r.width, r.height];")
        assert cover == [1920, 1080]  # the whole screen: no figure stays visible as if live
        screenshot(driver, "wall-revoked")
        driver.refresh()  # the nightly reload, or a person pressing F5
        wait_until(lambda: "Thiết bị đã bị thu hồi" in driver.find_element("tag name", "body").text, 10, 0.2,
                   "the server-rendered revoked page")
    finally:
        driver.quit()
