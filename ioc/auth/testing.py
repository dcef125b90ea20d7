"""Signing in from tests and benchmarks (docs/security.md § Tests and benchmarks): a user made
straight in SQL, then the real /login form over HTTP (Flask's test client, httpx or Chromium),
or a wall device enrolled through its real one-time link. Nothing here bypasses the guard."""

from __future__ import annotations

import re

from sqlalchemy import update

from ioc.auth import devices, users
from ioc.db.session import make_engine

PASSWORD = "test-password-0123"  # for throwaway users in tests and benchmarks only
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def ensure_user(database_url: str, username: str, role: str, password: str = PASSWORD, *, sectors=(), communes=(),
                pii: bool = False) -> None:
    """The user exists, active, with this role, scope and password."""
    engine = make_engine(database_url)
    try:
        try:
            users.get(engine, username)
        except users.AccountError:
            users.add(engine, username, role, password, sectors=sectors, communes=communes, pii=pii, by="test")
            return
        users.set_role(engine, username, role, sectors=sectors, communes=communes, pii=pii, by="test")
        users.set_password(engine, username, password, by="test")
        with engine.begin() as conn:
            conn.execute(update(users.USERS).where(users.USERS.c.username == username).values(active=True))
    finally:
        engine.dispose()


def enrol_link(database_url: str, name: str) -> str:
    """A new device's one-time enrolment path (``/enrol/<token>``), as ``ioc devices add`` prints it."""
    engine = make_engine(database_url)
    try:
        _device, token = devices.add(engine, name, by="test")
    finally:
        engine.dispose()
    return f"/enrol/{token}"


def sign_in(client, username: str, password: str = PASSWORD, origin: str = "http://localhost"):
    """Sign a Flask test client in through /login; returns the login answer (303 when it worked)."""
    page = client.get("/login")
    token = _CSRF.search(page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf": token},
                       headers={"Origin": origin})


def enrol(client, path: str, origin: str = "http://localhost"):
    """Open an enrolment link with a Flask test client and confirm it, as a wall display does."""
    page = client.get(path)
    token = _CSRF.search(page.get_data(as_text=True)).group(1)
    return client.post(path, data={"csrf": token}, headers={"Origin": origin})


def http_cookies(base_url: str, username: str | None = None, password: str = PASSWORD,
                 enrol_path: str | None = None) -> dict[str, str]:
    """Cookies of a real server after signing in (or enrolling a device) over HTTP, for raw clients
    (benchmarks): send them as a ``Cookie`` header, and ``Origin: base_url`` with any POST."""
    import httpx

    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=30) as c:
        path = enrol_path or "/login"
        token = _CSRF.search(c.get(path).text).group(1)
        data = {"csrf": token} if enrol_path else {"username": username, "password": password, "csrf": token}
        res = c.post(path, data=data, headers={"Origin": base_url})
        if res.status_code != 303:
            raise RuntimeError(f"{path} answered {res.status_code}: {res.text[:300]}")
        return {k: v for k, v in c.cookies.items() if k in ("ioc_session", "ioc_device")}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def browser_sign_in(driver, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign a Selenium-driven browser in through the /login form."""
    from selenium.webdriver.common.by import By

    # lands on /healthz, not on a page: the browser has loaded nothing of the app yet afterwards
    driver.get(base_url + "/login?next=/healthz")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.auth-form button[type=submit]").click()
    _wait(driver, lambda: "/login" not in driver.current_url, "the sign-in to finish")


def browser_enrol(driver, base_url: str, path: str) -> None:
    """Enrol a Selenium-driven browser as a wall display through its one-time link."""
    from selenium.webdriver.common.by import By

    driver.get(base_url + path)
    driver.find_element(By.ID, "enrol").click()
    _wait(driver, lambda: driver.current_url.rstrip("/").endswith("/wall"), "the enrolment to open /wall")


def _wait(driver, predicate, what: str, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (at {driver.current_url})")
        time.sleep(0.1)


def signed_in_client(app, role: str = "admin", **scope):
    """A Flask test client of a Dash app (``create_app``), signed in as a throwaway user of ``role``
    in the app's own database."""
    url = app.server.config["IOC_SETTINGS"].effective_database_url
    name = f"test-{role}"
    ensure_user(url, name, role, **scope)
    client = app.server.test_client()
    res = sign_in(client, name)
    if res.status_code != 303:
        raise RuntimeError(f"test sign-in as {name} failed: {res.status_code}")
    return client
