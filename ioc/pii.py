"""What personal data and secrets look like, and how each is masked — one definition for the
read model (ioc/views/privacy.py: masking for users without the ``pii`` permission) and the
connectors (connectors/redaction.py: the quarantine keeps payloads redacted).

Decree 13/2023/NĐ-CP: a 1022 ticket carries its reporter's name, phone number (and, posted
through Open311, an e-mail address) and often a home address; a camera record carries stream
and snapshot addresses, sometimes with credentials in them. docs/security.md § Personal data.
"""

from __future__ import annotations

import re

# upstream / SQL field names holding a person's data (any letter case, at any depth)
PERSON_FIELDS = frozenset({
    "reporter_name", "reporter_phone", "reporter_email", "email", "phone", "phone_number",
    "first_name", "last_name", "full_name", "address", "address_string", "account_id", "device_id",
})
# fields holding an address of a camera's stream or snapshot (the registry's credentials ride in them)
STREAM_FIELDS = frozenset({"hls_url", "snapshot_url", "stream_url", "rtsp_url", "rtmp_url", "webrtc_url",
                           "media_url", "url"})
# any field whose name holds one of these is a secret
SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "credential",
                "cookie", "session")
REDACTED = "[redacted]"

# Vietnamese numbers: 0 or +84/84 then 9 digits (spaces, dots or dashes between them allowed);
# not inside a longer run of digits or letters (ticket ids such as PA2612010001 stay)
PHONE = re.compile(r"(?<![\w+])(?:\+84|84|0)(?:[ .\-]?\d){9}(?![\w])")
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{1,15}://)[^\s/@:]*(?::[^\s/@]*)?@")
STREAM_URL = re.compile(r"(?i)\b(?:rtsp|rtsps|rtmp|rtmps|srt|webrtc)://\S+")
# the parts of a Vietnamese address from the administrative unit on are not an exact address
ADMIN_WORDS = ("xã ", "phường ", "thị trấn ", "đặc khu ", "huyện ", "quận ", "thị xã ", "thành phố ", "tỉnh ")


def is_secret_field(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in SECRET_WORDS)


def mask_name(name: str | None) -> str | None:
    """"Nguyễn Văn An" → "N. V. A.": enough to tell two reporters apart on one ticket, not to
    find them."""
    if not name or not str(name).strip():
        return None
    return " ".join(w[0].upper() + "." for w in str(name).split())


def mask_phone(phone: str | None) -> str | None:
    """"0912345678" → "*******678"."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", str(phone))
    if len(digits) <= 3:
        return "***"
    return "*" * (len(digits) - 3) + digits[-3:]


def mask_email(email: str | None) -> str | None:
    """"an.nguyen@example.vn" → "a***@***.vn"."""
    if not email:
        return None
    local, _, domain = str(email).partition("@")
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    return f"{local[:1]}***@***" + (f".{tld}" if tld else "")


def mask_address(address: str | None) -> str | None:
    """An exact address without its house, street and hamlet: "Số 12 Nguyễn Huệ, Khóm 3, Phường
    Cao Lãnh, tỉnh Đồng Tháp" → "***, Phường Cao Lãnh, tỉnh Đồng Tháp"; "***" when no
    administrative unit is named."""
    if not address or not str(address).strip():
        return None
    parts = [p.strip() for p in str(address).split(",")]
    for i, p in enumerate(parts):
        if p.lower().startswith(ADMIN_WORDS):
            return ", ".join(["***", *parts[i:]]) if i else ", ".join(parts)
    return "***"


def scrub(text: str | None, names: tuple[str | None, ...] = ()) -> str | None:
    """Free text with phone numbers, e-mail addresses, credentials in URLs, stream addresses and
    the given names (a ticket's reporter) masked."""
    if not text:
        return text
    out = str(text)
    for name in names:
        if name and len(name.strip()) >= 3:
            out = re.sub(re.escape(name.strip()), mask_name(name) or "***", out, flags=re.IGNORECASE)
    out = STREAM_URL.sub(REDACTED, out)
    out = URL_CREDENTIALS.sub(r"\1***@", out)
    out = EMAIL.sub(lambda m_: mask_email(m_.group(0)) or "***", out)
    return PHONE.sub(lambda m_: mask_phone(m_.group(0)) or "***", out)


__all__ = ["ADMIN_WORDS", "EMAIL", "PERSON_FIELDS", "PHONE", "REDACTED", "SECRET_WORDS", "STREAM_FIELDS",
           "STREAM_URL", "URL_CREDENTIALS", "is_secret_field", "mask_address", "mask_email", "mask_name",
           "mask_phone", "scrub"]
