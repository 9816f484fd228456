"""Logins: who may log in to the web app, as which role, and as which CRM user.

A login is keyed by its email (lower case). Its password is kept only as an argon2 hash.
Logging in fails with one message whatever was wrong (unknown email, wrong password,
disabled login), so a guesser learns nothing, and is throttled:

* an email with ``EMAIL_FAILURES`` failures within ``WINDOW`` is locked for ``LOCKOUT``,
  whether or not a login has that email (so a lockout reveals nothing either);
* a client (such as an IP address) with ``CLIENT_FAILURES`` failures within ``WINDOW``,
  whatever emails it tried, is locked for ``LOCKOUT``.

Attempts while locked are refused without checking the password and are not counted.
A successful log-in clears the email's failures. Every change to a login is audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis

from quarterdeck.access import audit
from quarterdeck.access.audit import append_rows
from quarterdeck.access.passwords import hash_password, verify_password
from quarterdeck.access.roles import Viewer, check_role
from quarterdeck.errors import DataError, InputError, LoginRefused
from quarterdeck.meeting.tables import moment, read_rows
from quarterdeck.store import Store

__all__ = [
    "CLIENT_FAILURES",
    "EMAIL_FAILURES",
    "LOCKOUT",
    "REFUSED",
    "WINDOW",
    "Login",
    "add_login",
    "find_login",
    "log_in",
    "logins",
    "normal_email",
    "update_login",
    "viewer_of",
]

EMAIL_FAILURES = 5
CLIENT_FAILURES = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
KEEP_FAILURES = timedelta(days=1)
"""Failures older than this are deleted when a new one is written."""

REFUSED = "wrong email or password"
"""The one message of a refused log-in (unknown email, wrong password, disabled login)."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NEEDS_USER = ("rep", "manager")


@dataclass(frozen=True)
class Login:
    """A login: its email (the key), name, role, the CRM user it is, and whether it is
    disabled. The password hash never leaves the store."""

    email: str
    name: str | None
    role: str
    user_id: str | None
    disabled: bool
    created_at: datetime | None
    updated_at: datetime | None
    last_login_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Login:
        return cls(
            email=row["email"],
            name=row["name"],
            role=row["role"],
            user_id=row["user_id"],
            disabled=bool(row["disabled"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            last_login_at=row["last_login_at"],
        )

    def as_dict(self) -> dict[str, Any]:
        """The login as JSON-ready values (what the audit log keeps of it too)."""
        return {
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "user_id": self.user_id,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


def normal_email(value: Any) -> str:
    """``value`` as a login's key: trimmed, lower case, shaped like an email address."""
    text = value.strip().lower() if isinstance(value, str) else None
    if not text or len(text) > 320 or not _EMAIL.match(text):
        raise InputError(f"email {value!r}: expected an address such as ana@example.com")
    return text


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{what} must be text, not {value!r}")
    return value.strip() or None


def _who(by: Any) -> str:
    who = _text(by, "who makes the change")
    if who is None:
        raise InputError("say who makes the change (by: an email or name)")
    return who


def _row(store: Store, email: str) -> dict[str, Any] | None:
    table = store.unscoped.table("logins")
    rows = read_rows(store, table.filter(table.email == email))
    return rows[0] if rows else None


def find_login(store: Store, email: str) -> Login | None:
    """The login of ``email`` (any case), or None."""
    try:
        key = normal_email(email)
    except InputError:
        return None
    row = _row(store, key)
    return None if row is None else Login.from_row(row)


def logins(store: Store) -> list[Login]:
    """Every login, by email."""
    rows = read_rows(store, store.unscoped.table("logins"))
    return sorted((Login.from_row(r) for r in rows), key=lambda login: login.email)


def _check_user(role: str, user_id: str | None) -> None:
    if role in _NEEDS_USER and user_id is None:
        raise InputError(
            f"a {role} login needs the CRM user it is (--user-id, users.user_id): "
            f"a {role} sees the deals that user {'owns' if role == 'rep' else 'manages'}"
        )


def add_login(
    store: Store,
    email: str,
    password: str,
    role: str,
    *,
    user_id: str | None = None,
    name: str | None = None,
    by: str,
    now: datetime | None = None,
) -> Login:
    """Add a login with a password (hashed with argon2; at least ``MIN_LENGTH`` characters).
    A rep or manager login needs the CRM ``user_id`` whose deals it sees."""
    key = normal_email(email)
    chosen = check_role(role)
    user = _text(user_id, "the user id")
    who = _who(by)
    _check_user(chosen, user)
    hashed = hash_password(password)
    at = moment(now)
    login = Login(key, _text(name, "the name"), chosen, user, False, at, at, None)
    with store.transaction(keep_cache=True):
        store.lock("logins")
        if _row(store, key) is not None:
            raise DataError(f"a login for {key} exists already: change it with `users set`")
        append_rows(
            store,
            "logins",
            [login.as_dict() | _times(login) | {"password_hash": hashed}],
        )
        audit.record(store, "login", key, "add", who=who, before=None, after=login.as_dict(), at=at)
    return login


def _times(login: Login) -> dict[str, Any]:
    return {
        "created_at": login.created_at,
        "updated_at": login.updated_at,
        "last_login_at": login.last_login_at,
    }


def update_login(
    store: Store,
    email: str,
    *,
    role: str | None = None,
    user_id: str | None = None,
    name: str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
    by: str,
    now: datetime | None = None,
) -> Login:
    """Change a login's role, CRM user, name, password or disabled flag (None: leave as
    is; an empty user id or name clears it). Disabling a login or changing its password
    ends its open sessions."""
    key = normal_email(email)
    who = _who(by)
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = check_role(role)
    if user_id is not None:
        values["user_id"] = _text(user_id, "the user id")
    if name is not None:
        values["name"] = _text(name, "the name")
    if disabled is not None:
        if not isinstance(disabled, bool):
            raise InputError(f"disabled must be true or false, not {disabled!r}")
        values["disabled"] = disabled
    hashed = None if password is None else hash_password(password)
    if not values and hashed is None:
        raise InputError("nothing to change: give a role, user id, name, password or disabled")
    at = moment(now)
    with store.transaction(keep_cache=True):
        store.lock("logins")
        row = _row(store, key)
        if row is None:
            raise InputError(f"no login for {key}: `quarterdeck users list` shows the logins")
        before = Login.from_row(row)
        after = Login.from_row(row | values | {"updated_at": at})
        _check_user(after.role, after.user_id)
        if hashed is None and all(row[k] == v for k, v in values.items()):
            return before
        changed = values | {"updated_at": at}
        if hashed is not None:
            changed["password_hash"] = hashed
        store.update("logins", {"email": key}, changed, keep_cache=True)
        if hashed is not None or after.disabled:
            end_sessions(store, key, at)
        shown = after.as_dict() | ({"password_changed": True} if hashed is not None else {})
        audit.record(
            store, "login", key, "update", who=who, before=before.as_dict(), after=shown, at=at
        )
    return after


def end_sessions(store: Store, email: str, at: datetime) -> None:
    """Close every open session of ``email``."""
    sessions = store.unscoped.table("login_sessions")
    open_ = sessions.filter(sessions.email == email, sessions.closed_at.isnull())
    for row in read_rows(store, open_.select("token_hash")):
        store.update(
            "login_sessions", {"token_hash": row["token_hash"]}, {"closed_at": at}, keep_cache=True
        )


def viewer_of(store: Store, login: Login) -> Viewer:
    """The viewer a login is: its team (and name, when the login has none) from ``users``."""
    team = user_name = None
    if login.user_id is not None:
        users = store.unscoped.table("users")
        rows = read_rows(
            store, users.filter(users.user_id == login.user_id).select("team", "name").limit(1)
        )
        if rows:
            team, user_name = rows[0]["team"], rows[0]["name"]
    return Viewer(
        email=login.email,
        name=login.name or user_name or login.email,
        role=login.role,
        user_id=login.user_id,
        team=team,
    )


# -- logging in ---------------------------------------------------------------------------


def locked_until(
    times: Iterable[datetime], limit: int, window: timedelta = WINDOW, lock: timedelta = LOCKOUT
) -> datetime | None:
    """When the lock that ``times`` (failures) put on ends, or None if they put none:
    ``limit`` failures within ``window`` lock for ``lock`` from the last of them; failures
    before a lock do not count after it."""
    until: datetime | None = None
    recent: list[datetime] = []
    for at in sorted(times):
        if until is not None and at < until:
            continue
        recent = [t for t in recent if t > at - window] + [at]
        if len(recent) >= limit:
            until, recent = at + lock, []
    return until


def _lock(store: Store, email: str, client: str, now: datetime) -> datetime | None:
    failures = store.unscoped.table("login_failures")
    since = ibis.literal(now - WINDOW - LOCKOUT, "timestamp")
    mine = failures.email == email
    if client:
        mine = mine | (failures.client == client)
    rows = read_rows(store, failures.filter(mine, failures.at > since, failures.at <= now))
    by_email = locked_until([r["at"] for r in rows if r["email"] == email], EMAIL_FAILURES)
    by_client = (
        locked_until([r["at"] for r in rows if r["client"] == client], CLIENT_FAILURES)
        if client
        else None
    )
    ends = [t for t in (by_email, by_client) if t is not None and t > now]
    return max(ends, default=None)


def _fail(store: Store, email: str, client: str, now: datetime) -> None:
    with store.transaction(keep_cache=True):
        failures = store.unscoped.table("login_failures")
        old = failures.filter(failures.at < ibis.literal(now - KEEP_FAILURES, "timestamp"))
        if store.scalar(old.count()):
            store.delete("login_failures", {}, before={"at": now - KEEP_FAILURES}, keep_cache=True)
        append_rows(
            store,
            "login_failures",
            [{"email": email, "client": client, "at": now}],
        )


def log_in(
    store: Store, email: str, password: str, *, client: str = "", now: datetime | None = None
) -> Viewer:
    """The viewer whose email and password these are, or LoginRefused with one message
    for any mistake (or a lockout message, with ``retry_after``, while throttled)."""
    at = moment(now)
    key = (email.strip().lower() if isinstance(email, str) else "")[:320]
    where = (client if isinstance(client, str) else "")[:200]
    until = _lock(store, key, where, at)
    if until is not None:
        wait = int((until - at).total_seconds())
        minutes = max(1, -(-wait // 60))
        raise LoginRefused(
            f"too many failed log-ins: try again in {minutes} minute{'s' * (minutes != 1)}",
            retry_after=wait,
        )
    row = _row(store, key) if key else None
    ok, rehash = verify_password(None if row is None else row["password_hash"], password)
    if row is None or not ok or row["disabled"]:
        _fail(store, key, where, at)
        raise LoginRefused(REFUSED)
    with store.transaction(keep_cache=True):
        changed: dict[str, Any] = {"last_login_at": at}
        if rehash is not None:
            changed["password_hash"] = rehash
        store.update("logins", {"email": key}, changed, keep_cache=True)
        failures = store.unscoped.table("login_failures")
        if store.scalar(failures.filter(failures.email == key).count()):
            store.delete("login_failures", {"email": key}, keep_cache=True)
    return viewer_of(store, Login.from_row(row | changed))
