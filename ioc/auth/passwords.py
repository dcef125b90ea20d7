"""Password hashing: Argon2id (argon2-cffi) with its library defaults (RFC 9106's second
recommended profile: 64 MiB, 3 passes). A hash made with older parameters is replaced at the
next successful login (``needs_rehash``)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
MIN_LENGTH = 10
# verified when the user does not exist, so that a wrong name costs the same time as a wrong password
_DUMMY = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    check_strength(password)
    return _HASHER.hash(password)


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password is too short: at least {MIN_LENGTH} characters")
    if password.strip() != password or "\n" in password:
        raise ValueError("the password starts or ends with a space or holds a line break")


def verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
