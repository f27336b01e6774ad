"""Password hashing with argon2id (argon2-cffi), and the rules a username and password must meet."""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_MIN = 8
PASSWORD_MAX = 1024
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{2,63}")

_hasher = PasswordHasher()


def configure_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Use ``hasher`` (its cost parameters) from now on; returns the previous one.

    Stored hashes made with other parameters still verify, and are re-hashed at the next login.
    """
    global _hasher
    previous, _hasher = _hasher, hasher
    _dummy_hash.cache_clear()
    return previous


def normalize_username(username: str) -> str:
    """The stored form of a username (stripped, lower-case); ValueError if it breaks the rules."""
    if not isinstance(username, str):
        raise ValueError(f"username must be a string, got {type(username).__name__}")
    normalized = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(normalized):
        raise ValueError(
            f"username {username!r} is invalid: use 3-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return normalized


def check_password_strength(password: str) -> None:
    """Raise ValueError when ``password`` is too weak (or absurdly long) to accept."""
    if not isinstance(password, str):
        raise ValueError(f"password must be a string, got {type(password).__name__}")
    if len(password) < PASSWORD_MIN:
        raise ValueError(f"password is too short: at least {PASSWORD_MIN} characters are required")
    if len(password) > PASSWORD_MAX:
        raise ValueError(f"password is too long: at most {PASSWORD_MAX} characters")
    if password.strip() == "" or len(set(password)) < 3:
        raise ValueError("password is too weak: use at least 3 different characters")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` in the PHC string format."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False for no hash (guests) or a malformed one.

    Without a hash a dummy one is verified anyway, so the time taken does not reveal that.
    """
    if not isinstance(password, str):
        return False
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than the current hasher's."""
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("inkwell-dummy-password")
