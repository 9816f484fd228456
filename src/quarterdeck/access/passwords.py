"""Passwords: checked for length, kept only as argon2 hashes (argon2-cffi, the web extra)."""

from __future__ import annotations

from functools import cache
from typing import Any

from quarterdeck.errors import InputError, MissingExtra

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_password", "hash_password", "verify_password"]

MIN_LENGTH = 10
"""Shortest password accepted."""

MAX_LENGTH = 1024
"""Longest password accepted (hashing a megabyte of text on every guess is a cheap attack)."""


@cache
def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:
        raise MissingExtra("Logins (password hashing)", "web") from exc
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to check unknown emails against, so they take as long as known ones."""
    return str(_hasher().hash("not the password of anyone"))


def check_password(password: Any) -> str:
    """``password`` if it is long enough, else an InputError that says what is wanted."""
    if not isinstance(password, str):
        raise InputError("a password must be text")
    if len(password) < MIN_LENGTH:
        raise InputError(
            f"a password needs at least {MIN_LENGTH} characters (this one has {len(password)}); "
            "a few unrelated words make a long one easy to remember"
        )
    if len(password) > MAX_LENGTH:
        raise InputError(f"a password may have at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    """The argon2 hash of a checked password."""
    return str(_hasher().hash(check_password(password)))


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches the ``stored`` hash, and a new hash when it matches
    but was made with older parameters (else None). With no stored hash the check still
    takes an argon2 verification's time and fails."""
    hasher = _hasher()  # first: raises MissingExtra when argon2-cffi is not installed
    from argon2.exceptions import InvalidHashError, VerificationError

    if not isinstance(password, str) or len(password) > MAX_LENGTH:
        return False, None
    try:
        hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    rehash = str(hasher.hash(password)) if hasher.check_needs_rehash(stored) else None
    return True, rehash
