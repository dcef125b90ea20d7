"""Every page at every screen size: loads with no console errors, shows something, and fits.

The wall (/wall) is a kiosk display nobody scrolls: neither scrollbar on a landscape screen (on a
portrait phone it stacks its panels and may scroll down, never sideways). The mobile view (/m) may
scroll down but never sideways. The status page (/) is a normal page. A screenshot of each
page and size goes to tests/browser/screenshots/ for a human look.
"""

from __future__ import annotations

import pytest

from .iocbrowser import (SIZES, WALL_1080, console_errors, new_driver, page_metrics, screenshot, tile_values,
                        wait_dash_ready, wait_until)
from .test_mobile import wait_m

pytestmark = pytest.mark.browser

PAGES = {"status": "/", "wall": "/wall", "m": "/m"}
MIN_TEXT = 20  # characters of visible text: less is a blank (or placeholder) screen


@pytest.mark.parametrize("browser", SIZES, ids=[s.name for s in SIZES], indirect=True)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_loads_clean_and_fits(stack, browser, page):
    driver, size = browser, browser.ioc_size
    driver.get(stack.web_url + PAGES[page])
    wait_ready(driver, PAGES[page])
    if page == "wall":  # the figures arrive by the version poll, a moment after the layout
        wait_until(lambda: all(tile_values(driver).values()), 15, 0.2, "wall tiles filled")
    m = page_metrics(driver)
    shot = screenshot(driver, f"{page}-{size.name}")
    errors = console_errors(driver)
    print(f"\n[{page} {size.name}] viewport {m['innerWidth']}x{m['innerHeight']} (dpr {m['dpr']}), "
          f"document {m['scrollWidth']}x{m['scrollHeight']}, {m['bodyText']} chars; screenshot {shot}")

    problems = []  # every requirement checked, all failures reported together
    if errors:
        problems.append("console errors:\n    " + "\n    ".join(e["message"] for e in errors))
    if m["bodyText"] < MIN_TEXT:
        problems.append(f"shows almost nothing ({m['bodyText']} characters of text)")
    if page in ("wall", "m") and m["scrollWidth"] > m["clientWidth"]:
        problems.append(f"horizontal scrollbar: content {m['scrollWidth']} px wide, viewport {m['clientWidth']} px")
    # the wall is laid out for 16:9 screens; on a portrait phone it stacks its panels and scrolls
    landscape = m["clientWidth"] > m["clientHeight"]
    if page == "wall" and landscape and m["scrollHeight"] > m["clientHeight"]:
        problems.append(f"vertical scrollbar: content {m['scrollHeight']} px high, viewport {m['clientHeight']} px")
    if page == "wall" and landscape:
        problems += [f"tile {t}" for t in squeezed_tile_lines(driver)]
    assert not problems, f"{PAGES[page]} at {size.name}: " + "; ".join(problems)


def squeezed_tile_lines(driver) -> list[str]:
    """Wall tiles whose lines overlap or spill out of the tile (a tile with every line is taller than a
    fifth of a 1080p column: the lines were once squeezed onto each other)."""
    return driver.execute_script("""
      const out = [];
      for (const tile of document.querySelectorAll('.wall .tile')) {
        const box = tile.getBoundingClientRect();
        const kids = [...tile.children].map(k => [k.className, k.getBoundingClientRect()]).filter(([, r]) => r.height > 0);
        kids.forEach(([name, r], i) => {
          if (i && r.top < kids[i - 1][1].bottom - 1) out.push(`${tile.id}: ${name} overlaps ${kids[i - 1][0]}`);
          if (r.bottom > box.bottom + 1) out.push(`${tile.id}: ${name} spills out of the tile`);
        });
      }
      return out;""")


def test_language_stays_vietnamese_from_page_to_page(stack, tmp_path):
    """A fresh browser sees Vietnamese (IOC_LANGUAGE's default) on every page, and merely opening
    a page never switches the language the other pages use (it is kept in the browser)."""
    from ioc.auth.testing import browser_sign_in

    (tmp_path / "profile").mkdir()
    driver = new_driver(WALL_1080, tmp_path / "profile")
    try:
        browser_sign_in(driver, stack.web_url, stack.user)
        seen = []
        for path in ("/wall", "/", "/m", "/wall"):
            driver.get(stack.web_url + path)
            wait_ready(driver, path)
            stored = driver.execute_script("return window.localStorage.getItem('lang')")
            seen.append((path, stored))
            if path == "/wall":
                cams = wait_until(lambda: tile_values(driver)["cameras"], 15, 0.2, "cameras tile")
                seen[-1] += (cams,)
        print(f"\n[language] {seen}")
        changed = [s for s in seen if s[1] not in (None, '"vi"')]
        assert not changed, f"opening pages switched the stored language: {seen}"
        assert all("," in s[2] for s in seen if s[0] == "/wall"), f"the wall is not in Vietnamese formats: {seen}"
    finally:
        driver.quit()


def wait_ready(driver, path: str) -> None:
    """/m is a plain page of the server (layouts/mobile.py); the others are Dash pages."""
    if path == "/m":
        wait_m(driver)
    else:
        wait_dash_ready(driver)
