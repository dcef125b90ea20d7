"""Fixtures of the browser tests, all for the whole folder: one real product stack (see
iocbrowser.py for how it starts), one headless Chromium per screen size for page checks, and a
"kiosk" Chromium that only ever shows /wall.

Skipped, with the reason, when Chromium, its driver or selenium is missing:
Debian's ``chromium`` + ``chromium-driver`` (version-locked together) and ``pip install -e .[test]``.
Screenshots land in tests/browser/screenshots/ (not versioned).
"""

from __future__ import annotations

import importlib.util
import os
import time

import pytest

from .iocbrowser import CHROMEDRIVER, CHROMIUM, Browsers, Stack

HERE = os.path.dirname(os.path.abspath(__file__))


def _missing() -> str | None:
    gone = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if gone:
        return (f"browser tests need Debian's chromium and chromium-driver ({', '.join(gone)} missing): "
                "apt-get install chromium chromium-driver (scripts/test installs them when run as root)")
    if importlib.util.find_spec("selenium") is None:
        return "browser tests need selenium: .venv/bin/pip install -c constraints.txt -e '.[test]'"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """The product running on free ports in a temp dir, with demo data, until the folder is done."""
    s = Stack(tmp_path_factory.mktemp("ioc-stack"))
    t0 = time.monotonic()
    s.start()
    print(f"\n[stack] ready in {time.monotonic() - t0:.1f} s at {s.web_url} "
          f"(simulator {s.timings['simulator']:.1f} s, prepared {s.timings['prepare']:.1f} s, "
          f"web {s.timings['web']:.1f} s, figures {s.timings['ready']:.1f} s); logs in {s.root / 'logs'}")
    yield s
    s.stop()


@pytest.fixture(scope="package")
def browsers(tmp_path_factory, stack):
    """The test browsers, each signed in as the stack's admin through /login when it starts."""
    from ioc.auth.testing import browser_sign_in

    b = Browsers(tmp_path_factory.mktemp("chromium"), prepare=lambda d: browser_sign_in(d, stack.web_url, stack.user))
    yield b
    b.quit()


@pytest.fixture
def browser(request, browsers):
    """The shared Chromium of one size: 1920×1080 unless parametrised,
    e.g. ``@pytest.mark.parametrize("browser", [PHONE], indirect=True)``. Its console log is
    emptied first, so ``console_errors(browser)`` reports only this test's messages."""
    from .iocbrowser import WALL_1080, console_errors

    driver = browsers.get(getattr(request, "param", WALL_1080))
    console_errors(driver)
    return driver


@pytest.fixture(scope="package")
def kiosk(tmp_path_factory, stack):
    """A wall display: its own fresh Chromium profile at 1920×1080 that only ever opens /wall
    (what the other pages store in the browser, e.g. the language, cannot leak into it),
    enrolled as a device through a one-time link as `ioc devices add` makes it (no password)."""
    from ioc.auth.testing import browser_enrol

    from .iocbrowser import WALL_1080, new_driver

    profile = tmp_path_factory.mktemp("kiosk") / "profile"
    profile.mkdir()
    driver = new_driver(WALL_1080, profile)
    browser_enrol(driver, stack.web_url, stack.enrol_path("kiosk"))
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def _logs_on_failure(request):
    """When a test fails, show the tails of the stack's logs."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and "stack" in request.fixturenames:
        request.getfixturevalue("stack").dump_logs(only_trouble=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep
