"""Access control in the web app (docs/security.md): who the request is (a session cookie, a
wall device's cookie, nobody), whether it may go where it asks (ioc.auth.registry → an area of
ioc.auth.roles.AREAS, plus a sector user's scope, ioc.auth.scope), and the routes of signing in
and out and of enrolling a wall display.

Every request passes ``Guard.check`` (a Flask ``before_request`` hook) before any view or Dash
callback runs. A browser without a session is sent to /login when it asks for a page, and gets
401 ``{"error", "reason": "login_required"}`` from data routes; a role outside the area gets 403;
a revoked device gets 403 ``reason: device_revoked`` (its wall shows "Thiết bị đã bị thu hồi").

Cross-site request forgery: every state-changing request (any method but GET/HEAD/OPTIONS, Dash's
callback POSTs included) must come from this site's own pages: its ``Origin`` (else
``Sec-Fetch-Site``) must be this host; forms add a double-submit token. Cookies are SameSite=Lax,
HttpOnly, Secure under HTTPS (IOC_COOKIE_SECURE). docs/security.md § CSRF says why.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import timedelta
from urllib.parse import urlencode, urlparse

from flask import Response, g, has_request_context, redirect, request
from sqlalchemy.exc import DBAPIError

from ioc.auth import audit, devices, pages, registry, scope, sessions, throttle, users
from ioc.auth.roles import ANONYMOUS, DEVICE, HOME, Principal
from ioc.auth.secret import new_token, secret_key
from ioc.db.session import engine_for
from ioc.i18n import t
from ioc.settings import Settings

log = logging.getLogger("ioc.auth")

SESSION_COOKIE = "ioc_session"
DEVICE_COOKIE = "ioc_device"
FORM_COOKIE = "ioc_form"  # the double-submit token of the sign-in, sign-out and enrolment forms
DEVICE_MAX_AGE = 400 * 86400  # the longest a browser keeps a cookie; renewed at every page load
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAGE_ENDPOINTS = {"/", "/<path:path>", "mobile_page"}


def current_principal() -> Principal:
    """Who the current request acts for: role, name, sectors, communes and the ``pii``
    permission. Outside a request (CLI, scheduler) and for anyone not signed in: nobody, no PII."""
    if has_request_context():
        p = g.get("ioc_principal")
        if p is not None:
            return p
    return ANONYMOUS


def _json(status: int, message: str, reason: str, **extra) -> Response:
    body = json.dumps({"error": message, "reason": reason, **extra}, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


class Guard:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.max_age = timedelta(hours=settings.session_max_hours)
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        """Read at the first use: creating the app must not write a key file."""
        if self._key is None:
            self._key = secret_key(self.settings)
        return self._key

    # ------------------------------------------------------------------ who
    def engine(self):
        return engine_for(self.settings.effective_database_url)

    def lang(self) -> str:
        value = request.values.get("lang") or request.cookies.get("ioc_lang") or self.settings.language
        return value if value in ("vi", "en") else self.settings.language

    def principal(self) -> Principal:
        """The request's principal (read once per request); ``g.ioc_revoked`` when a revoked
        device's credential came with it."""
        if "ioc_principal" in g:
            return g.ioc_principal
        p: Principal | None = None
        g.ioc_revoked = False
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            p = sessions.resolve(self.engine(), self.key, token, self.idle, self.max_age)
        if p is None and request.cookies.get(DEVICE_COOKIE):
            found = devices.resolve(self.engine(), request.cookies[DEVICE_COOKIE])
            if found == "revoked":
                g.ioc_revoked = True
            elif found is not None:
                p = found
        g.ioc_principal = p or ANONYMOUS
        return g.ioc_principal

    def client(self) -> str:
        return (request.remote_addr or "?")[:64]

    # ------------------------------------------------------------------ the check
    def check(self):
        """The ``before_request`` hook: None to go on, or the answer that refuses."""
        rule = request.url_rule
        if rule is None:  # Flask answers 404 / 405 itself
            return None
        if request.method not in SAFE_METHODS and not self.same_origin():
            return self.refuse(403, t("auth.cross_site", self.lang()), "cross_site")
        endpoint = rule.endpoint
        area = registry.ENDPOINTS.get(endpoint)
        if area == "public":
            return None
        if area == registry.METRICS:
            from ioc.web.metrics import allowed

            return None if allowed(self.settings) else self.refuse(403, t("auth.forbidden", self.lang()),
                                                                   "metrics_forbidden")
        try:
            p = self.principal()
            return self._decide(endpoint, area, p)
        except DBAPIError:
            log.exception("access check: the database is not answering")
            return _json(503, "the database is not answering; try again in a minute", "unavailable")

    def _decide(self, endpoint: str, area: str | None, p: Principal):
        body = None
        if area == registry.PAGE:
            area = registry.page_area(request.path)
        elif area == registry.CALLBACK:
            body = request.get_json(silent=True) if request.method == "POST" else None
            if not isinstance(body, dict):
                return self.refuse(400, "a Dash callback request without its JSON body", "bad_request")
            area = registry.callback_area(str(body.get("output", "")))
            if area == registry.PAGE:
                path = _input(body, "_pages_location", "pathname") or "/"
                area = registry.page_area(path)
                if area == "map" and p.may("map"):
                    try:
                        scope.check_page_search(p, _input(body, "_pages_location", "search") or "")
                    except scope.OutOfScope as err:
                        return self.refuse(403, str(err), "out_of_scope")
        if area is None:  # no rule: refused, and tests/auth/test_matrix.py fails
            log.error("access: no rule for %s %s (endpoint %s)", request.method, request.path, endpoint)
            return self.refuse(403, t("auth.forbidden", self.lang()), "no_rule")
        if p is ANONYMOUS:
            if g.get("ioc_revoked"):
                return self.revoked()
            return self.login_required()
        if not p.may(area):
            return self.refuse(403, t("auth.forbidden", self.lang()), "forbidden")
        if area == "map" and p.role == "sector":
            return self.map_scope(endpoint, body, p)
        return None

    def map_scope(self, endpoint: str, body: dict | None, p: Principal):
        try:
            if body is not None:
                scope.check_callback(p, body)
            elif endpoint.startswith("map_api."):
                scope.check_endpoint(p, endpoint.split(".", 1)[1], request.args, request.view_args or {})
            elif endpoint in PAGE_ENDPOINTS and request.method == "GET":
                start = scope.page_start(p, request.args)
                if start is not None:
                    return redirect(f"{request.path}?{start}", 303)
                scope.check_args(p, request.args)
        except scope.OutOfScope as err:
            return self.refuse(403, str(err), "out_of_scope")
        return None

    def same_origin(self) -> bool:
        origin = request.headers.get("Origin")
        if origin:
            return urlparse(origin).netloc == request.host
        site = request.headers.get("Sec-Fetch-Site")
        return site == "same-origin"

    def wants_page(self) -> bool:
        return (request.method == "GET" and request.url_rule is not None
                and request.url_rule.endpoint in PAGE_ENDPOINTS)

    def login_required(self):
        if self.wants_page():
            nxt = request.full_path.rstrip("?")
            return redirect("/login?" + urlencode({"next": nxt}), 303)
        return _json(401, t("auth.login_required", self.lang()), "login_required")

    def revoked(self):
        lang = self.lang()
        if self.wants_page():
            return _html(pages.revoked(lang), 403)
        return _json(403, t("device.revoked", lang), "device_revoked", note=t("device.revoked_note", lang))

    def refuse(self, status: int, message: str, reason: str):
        if self.wants_page():
            lang = self.lang()
            p = g.get("ioc_principal") or ANONYMOUS
            home = HOME.get(p.role, "/login")
            return _html(pages.message(lang, t("auth.forbidden_title", lang), message, (home, t("auth.home", lang))),
                         status)
        return _json(status, message, reason)

    # ------------------------------------------------------------------ cookies
    def secure(self) -> bool:
        mode = self.settings.cookie_secure
        return mode == "always" or (mode == "auto" and request.is_secure)

    def set_cookie(self, res: Response, name: str, value: str, max_age: int, samesite: str = "Lax") -> None:
        res.set_cookie(name, value, max_age=max_age, path="/", httponly=True, secure=self.secure(), samesite=samesite)

    def form_token(self, res_holder: list) -> str:
        """The form's double-submit token: the cookie's, or a new one (set on the answer)."""
        token = request.cookies.get(FORM_COOKIE) or ""
        if len(token) < 20:
            token = new_token()
            res_holder.append(token)
        return token

    def form_ok(self) -> bool:
        cookie, field = request.cookies.get(FORM_COOKIE) or "", request.form.get("csrf") or ""
        return len(cookie) >= 20 and hmac.compare_digest(cookie, field)

    def with_form_cookie(self, res: Response, new: list) -> Response:
        if new:
            self.set_cookie(res, FORM_COOKIE, new[0], max_age=86400, samesite="Strict")
        return res

    # ------------------------------------------------------------------ routes
    def login_page(self):
        lang, new = self.lang(), []
        token = self.form_token(new)
        nxt = _safe_next(request.args.get("next", ""))
        return self.with_form_cookie(_html(pages.login(lang, token, nxt)), new)

    def login_submit(self):
        lang, new = self.lang(), []
        nxt = _safe_next(request.form.get("next", ""))
        username = (request.form.get("username") or "").strip()[:100]
        password = request.form.get("password") or ""
        if not self.form_ok():
            token = self.form_token(new)
            return self.with_form_cookie(_html(pages.login(lang, token, nxt, t("auth.expired_form", lang), username),
                                               400), new)
        token = self.form_token(new)
        engine, client = self.engine(), self.client()
        key_name = username.lower()
        wait = throttle.wait_seconds(engine, key_name, client)
        if wait:
            msg = t("auth.throttled", lang).format(minutes=max(1, -(-wait // 60)))
            res = _html(pages.login(lang, token, nxt, msg, username), 429)
            res.headers["Retry-After"] = str(wait)
            return self.with_form_cookie(res, new)
        user = users.authenticate(engine, username, password)
        if user is None:
            throttle.failed(engine, key_name, client)
            return self.with_form_cookie(_html(pages.login(lang, token, nxt, t("auth.bad", lang), username), 401), new)
        throttle.succeeded(engine, key_name)
        sessions.prune(engine, self.idle, self.max_age)
        session_token = sessions.create(engine, self.key, user.id, client)
        with engine.begin() as conn:
            audit.record(conn, user.username, "login", user.username, client=client)
        res = redirect(nxt or HOME.get(user.role, "/"), 303)
        self.set_cookie(res, SESSION_COOKIE, session_token, max_age=int(self.max_age.total_seconds()))
        res.delete_cookie(FORM_COOKIE, path="/")
        return res

    def logout_page(self):
        lang, new = self.lang(), []
        return self.with_form_cookie(_html(pages.logout(lang, self.form_token(new))), new)

    def logout_submit(self):
        lang = self.lang()
        if not self.form_ok():
            return self.logout_page()
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            p = sessions.resolve(self.engine(), self.key, token, self.idle, self.max_age)
            sessions.end(self.engine(), self.key, token)
            if p is not None:
                with self.engine().begin() as conn:
                    audit.record(conn, p.name, "logout", p.name)
        new: list = []
        form = self.form_token(new)
        res = _html(pages.login(lang, form, "", t("auth.logged_out", lang)))
        res.delete_cookie(SESSION_COOKIE, path="/")
        return self.with_form_cookie(res, new)

    def enrol_page(self, token: str):
        lang, new = self.lang(), []
        device = devices.pending(self.engine(), token)
        if device is None:
            return _html(pages.message(lang, t("device.enrol_title", lang), t("device.enrol_bad", lang)), 404)
        return self.with_form_cookie(_html(pages.enrol(lang, device.name, token, self.form_token(new))), new)

    def enrol_submit(self, token: str):
        lang = self.lang()
        if not self.form_ok():
            return self.enrol_page(token)
        done = devices.enrol(self.engine(), token, self.client())
        if done is None:
            return _html(pages.message(lang, t("device.enrol_title", lang), t("device.enrol_bad", lang)), 404)
        _device, credential = done
        res = redirect("/wall", 303)
        self.set_cookie(res, DEVICE_COOKIE, credential, max_age=DEVICE_MAX_AGE)
        res.delete_cookie(SESSION_COOKIE, path="/")  # this browser is a wall from now on
        return res

    def after(self, res: Response) -> Response:
        """A wall display's credential is renewed at each page load (walls reload every night)."""
        p = g.get("ioc_principal")
        if p is not None and p.role == DEVICE and self.wants_page() and res.status_code == 200:
            self.set_cookie(res, DEVICE_COOKIE, request.cookies[DEVICE_COOKIE], max_age=DEVICE_MAX_AGE)
        return res


def _input(body: dict, ident: str, prop: str):
    for group in ("inputs", "state"):
        for item in body.get(group) or []:
            if isinstance(item, dict) and item.get("id") == ident and item.get("property") == prop:
                return item.get("value")
    return None


def _safe_next(value: str) -> str:
    """Only a path of this site (no scheme, no host, no //evil.example)."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 2000:
        return ""
    if value.startswith(("/login", "/logout", "/enrol")):
        return ""
    return value


def install(server, settings: Settings) -> Guard:
    """The guard and the sign-in, sign-out and enrolment routes on the Flask server."""
    guard = Guard(settings)
    server.config["IOC_GUARD"] = guard
    server.before_request(guard.check)
    server.after_request(guard.after)

    def login():
        return guard.login_page() if request.method == "GET" else guard.login_submit()

    def logout():
        return guard.logout_page() if request.method == "GET" else guard.logout_submit()

    def enrol(token: str):
        return guard.enrol_page(token) if request.method == "GET" else guard.enrol_submit(token)

    server.add_url_rule("/login", "auth.login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "auth.logout", logout, methods=["GET", "POST"])
    server.add_url_rule("/enrol/<token>", "auth.enrol", enrol, methods=["GET", "POST"])
    return guard
