"""Web sessions: a random token per log-in, kept in the database only as its SHA-256.

The token (``secrets.token_urlsafe``, 256 bits) is what the browser holds in its cookie;
the database keeps its hash, so a copy of the database logs nobody in. Each session has
its own CSRF token, which every change sent in the session must carry back.

A session ends ``IDLE`` after it was last used, ``LIFETIME`` after it was opened
(whatever its use), when it is closed (log-out), or when its login is disabled or its
password changed. Use is recorded at most every ``TOUCH``, so reading pages does not
write to the database on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis

from quarterdeck.access.audit import append_rows
from quarterdeck.access.logins import Login, viewer_of
from quarterdeck.access.roles import Viewer
from quarterdeck.meeting.tables import moment, read_rows
from quarterdeck.store import Store

__all__ = ["IDLE", "LIFETIME", "TOUCH", "Session", "close_session", "open_session", "session"]

IDLE = timedelta(hours=12)
LIFETIME = timedelta(days=7)
TOUCH = timedelta(minutes=5)
_TOKEN_BYTES = 32
_MAX_TOKEN = 200


def token_hash(token: str) -> str:
    """The SHA-256 of a session token, in hex: what the database keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    """An open session: the token the browser holds, its CSRF token, and when it ends
    (``expires``: the earlier of ``IDLE`` after its last use and ``LIFETIME`` after it
    was opened)."""

    token: str
    csrf: str
    email: str
    created_at: datetime
    last_seen_at: datetime
    expires: datetime

    def as_dict(self) -> dict[str, Any]:
        """The session without its token (the token travels only in the cookie)."""
        return {
            "email": self.email,
            "created_at": self.created_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "expires": self.expires.isoformat(),
        }


def _expires(created: datetime, seen: datetime) -> datetime:
    return min(created + LIFETIME, seen + IDLE)


def open_session(store: Store, viewer: Viewer, now: datetime | None = None) -> Session:
    """Open a session for ``viewer`` (who just logged in) and return it with its token;
    sessions that have ended are cleared away meanwhile."""
    at = moment(now)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    csrf = secrets.token_urlsafe(_TOKEN_BYTES)
    row = {
        "token_hash": token_hash(token),
        "email": viewer.email,
        "csrf": csrf,
        "created_at": at,
        "last_seen_at": at,
        "expires_at": at + LIFETIME,
        "closed_at": None,
    }
    with store.transaction(keep_cache=True):
        sessions = store.unscoped.table("login_sessions")
        ended = sessions.filter(
            (sessions.expires_at < ibis.literal(at, "timestamp"))
            | (sessions.last_seen_at < ibis.literal(at - IDLE, "timestamp"))
        )
        if store.scalar(ended.count()):
            store.delete("login_sessions", {}, before={"expires_at": at}, keep_cache=True)
            store.delete("login_sessions", {}, before={"last_seen_at": at - IDLE}, keep_cache=True)
        append_rows(store, "login_sessions", [row])
    return Session(token, csrf, viewer.email, at, at, _expires(at, at))


def session(store: Store, token: str, now: datetime | None = None) -> tuple[Viewer, Session] | None:
    """The viewer and session of ``token``, or None when the token is unknown, closed or
    expired, or its login is disabled or gone. Records the use (at most every TOUCH)."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
        return None
    at = moment(now)
    key = token_hash(token)
    sessions = store.unscoped.table("login_sessions")
    rows = read_rows(store, sessions.filter(sessions.token_hash == key))
    if not rows:
        return None
    row = rows[0]
    if row["closed_at"] is not None or at >= _expires(row["created_at"], row["last_seen_at"]):
        return None
    logins = store.unscoped.table("logins")
    found = read_rows(store, logins.filter(logins.email == row["email"]))
    if not found or found[0]["disabled"]:
        return None
    seen = row["last_seen_at"]
    if at - seen >= TOUCH and not store.read_only:
        seen = at
        store.update("login_sessions", {"token_hash": key}, {"last_seen_at": at}, keep_cache=True)
    viewer = viewer_of(store, Login.from_row(found[0]))
    return viewer, Session(
        token, row["csrf"], row["email"], row["created_at"], seen, _expires(row["created_at"], seen)
    )


def close_session(store: Store, token: str, now: datetime | None = None) -> None:
    """End the session of ``token`` (log-out); an unknown token is ignored."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
        return
    store.update(
        "login_sessions",
        {"token_hash": token_hash(token)},
        {"closed_at": moment(now)},
        keep_cache=True,
    )
