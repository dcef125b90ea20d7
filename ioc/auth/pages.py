"""The few server-rendered pages of access control: sign-in, access denied, a revoked wall
display, a wall's enrolment. Plain HTML in the product's look (assets/base.css, assets/auth.css),
no inline script or style; every text from ioc/i18n.py, every value escaped."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from ioc.i18n import t


def _page(title: str, body: str, lang: str, extra_class: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="theme-color" content="#0f1623"><meta name="referrer" content="same-origin">
<title>{escape(title)} · IOC Đồng Tháp</title>
<link rel="stylesheet" href="/assets/base.css"><link rel="stylesheet" href="/assets/auth.css">
</head><body class="auth-body {extra_class}"><main class="auth-box">
<div class="auth-brand">{escape(t("app_title", lang))}</div>
{body}
</main></body></html>"""


def _lang_link(path: str, lang: str, params: dict) -> str:
    other = "en" if lang == "vi" else "vi"
    q = urlencode({**{k: v for k, v in params.items() if v}, "lang": other})
    return f'<a class="auth-lang" href="{escape(path)}?{escape(q)}">{escape(t("auth.other_lang", lang))}</a>'


def login(lang: str, csrf: str, next_path: str = "", message: str = "", username: str = "") -> str:
    error = f'<p class="auth-error" role="alert">{escape(message)}</p>' if message else ""
    body = f"""<h1>{escape(t("auth.title", lang))}</h1>
{error}
<form method="post" action="/login" class="auth-form">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<input type="hidden" name="next" value="{escape(next_path)}">
<input type="hidden" name="lang" value="{escape(lang)}">
<label for="username">{escape(t("auth.username", lang))}</label>
<input id="username" name="username" autocomplete="username" required autofocus maxlength="100" value="{escape(username)}">
<label for="password">{escape(t("auth.password", lang))}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1000">
<button type="submit">{escape(t("auth.submit", lang))}</button>
</form>
<p class="auth-note">{escape(t("auth.note", lang))}</p>
{_lang_link("/login", lang, {"next": next_path})}"""
    return _page(t("auth.title", lang), body, lang)


def message(lang: str, title: str, text: str, link: tuple[str, str] | None = None) -> str:
    a = f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>' if link else ""
    return _page(title, f'<h1>{escape(title)}</h1><p class="auth-text">{escape(text)}</p>{a}', lang)


def revoked(lang: str) -> str:
    """What a revoked wall display shows (the wall's own script shows the same words)."""
    body = (f'<h1 class="auth-revoked">{escape(t("device.revoked", lang))}</h1>'
            f'<p class="auth-text">{escape(t("device.revoked_note", lang))}</p>')
    return _page(t("device.revoked", lang), body, lang, "auth-wall")


def enrol(lang: str, name: str, token: str, csrf: str) -> str:
    body = f"""<h1>{escape(t("device.enrol_title", lang))}</h1>
<p class="auth-text">{escape(t("device.enrol_text", lang).format(name=name))}</p>
<form method="post" action="/enrol/{escape(token)}" class="auth-form">
<input type="hidden" name="csrf" value="{escape(csrf)}"><input type="hidden" name="lang" value="{escape(lang)}">
<button type="submit" id="enrol">{escape(t("device.enrol_button", lang))}</button>
</form>"""
    return _page(t("device.enrol_title", lang), body, lang)


def logout(lang: str, csrf: str) -> str:
    body = f"""<h1>{escape(t("auth.logout", lang))}</h1>
<form method="post" action="/logout" class="auth-form">
<input type="hidden" name="csrf" value="{escape(csrf)}"><input type="hidden" name="lang" value="{escape(lang)}">
<button type="submit" id="logout">{escape(t("auth.logout", lang))}</button>
</form>"""
    return _page(t("auth.logout", lang), body, lang)
