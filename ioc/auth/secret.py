"""The secret key and the hashes of the tokens kept in SQL.

A session's cookie holds a random token; SQL keeps HMAC-SHA256(secret key, token), so neither a
copy of the database nor the key alone lets anyone sign in, and changing the key (IOC_SECRET_KEY,
docs/security.md § Rotating the secret key) ends every session. Device credentials and enrolment
links are kept as plain SHA-256 of their 256-bit random tokens: rotating the key must not make
every wall of the centre dark (revoke a device to end it)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ioc.settings import Settings

KEY_FILE = "secret_key"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def secret_key(settings: Settings) -> bytes:
    """IOC_SECRET_KEY, else the key in IOC_DATA_DIR/secret_key (made once, readable by its owner
    only). Never printed nor logged."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # written aside, then linked in place: two web workers starting together agree on one key,
    # and nobody ever reads a half-written file
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes().strip()
