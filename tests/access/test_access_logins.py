"""Logins: adding and changing them, passwords kept as argon2 hashes, one refusal message
for every mistake, throttling and lockout at given times, and what each role may do."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import pytest
from access_company import NOW, PASSWORD

from quarterdeck.access import ACTIONS, Viewer, passwords
from quarterdeck.access.logins import REFUSED
from quarterdeck.errors import DataError, InputError, LoginRefused, MissingExtra
from quarterdeck.workspace import Workspace

T0 = datetime(2024, 8, 20, 9, 0)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def stored_hash(ws: Workspace, email: str) -> str:
    table = ws.store.table("logins")
    rows = ws.store.to_arrow(table.filter(table.email == email)).to_pylist()
    return str(rows[0]["password_hash"])


def refused(ws: Workspace, email: str, password: str, at: datetime, client: str = "") -> str:
    with pytest.raises(LoginRefused) as caught:
        ws.log_in(email, password, client=client, now=at)
    return str(caught.value)


def test_add_and_list_logins(fresh: Workspace) -> None:
    login = fresh.add_login(
        "  Ana@Example.COM ", PASSWORD, "Leader", name="Ana", by="setup", now=NOW
    )
    assert (login.email, login.role, login.name, login.disabled) == (
        "ana@example.com", "leader", "Ana", False,
    )  # fmt: skip
    fresh.add_login("rita@example.com", PASSWORD, "rep", user_id="u1", by="setup", now=NOW)
    assert [(x.email, x.role, x.user_id) for x in fresh.logins()] == [
        ("ana@example.com", "leader", None),
        ("rita@example.com", "rep", "u1"),
    ]
    hashed = stored_hash(fresh, "ana@example.com")
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    with pytest.raises(DataError, match=r"a login for ana@example\.com exists already"):
        fresh.add_login("ana@example.com", PASSWORD, "ceo", by="setup")


@pytest.mark.parametrize(
    ("email", "password", "role", "user_id", "message"),
    [
        ("ana@example.com", "short", "ceo", None,
         "a password needs at least 10 characters \\(this one has 5\\)"),
        ("ana@example.com", PASSWORD, "boss", None,
         "unknown role 'boss': expected one of rep, manager, leader, ceo, analyst, admin"),
        ("not-an-email", PASSWORD, "ceo", None, "expected an address such as ana@example.com"),
        ("ana@example.com", PASSWORD, "rep", None, "a rep login needs the CRM user it is"),
        ("ana@example.com", PASSWORD, "manager", " ", "a manager login needs the CRM user"),
    ],
)  # fmt: skip
def test_bad_logins_are_refused_with_what_to_do(
    fresh: Workspace, email: str, password: str, role: str, user_id: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        fresh.add_login(email, password, role, user_id=user_id, by="setup")
    assert fresh.logins() == []


def test_log_in_gives_the_viewer_with_team_and_name_from_users(duck: Workspace) -> None:
    rita = duck.log_in("RITA@example.com ", PASSWORD, now=NOW)
    assert rita == Viewer("rita@example.com", "Rita", "rep", "u1", "east")
    mona = duck.log_in("mona@example.com", PASSWORD, now=NOW)
    assert (mona.role, mona.team, mona.sees_all) == ("manager", "east", False)
    assert duck.log_in("cleo@example.com", PASSWORD, now=NOW).sees_all


def test_one_message_for_every_mistake(duck: Workspace) -> None:
    duck.update_login("max@example.com", disabled=True, by="admin", now=NOW)
    messages = {
        refused(duck, "nobody@example.com", PASSWORD, minutes(0)),
        refused(duck, "rita@example.com", "wrong password!", minutes(1)),
        refused(duck, "max@example.com", PASSWORD, minutes(2)),  # disabled, right password
        refused(duck, "", "", minutes(3)),
    }
    assert messages == {REFUSED}


def test_five_failures_lock_the_email_for_fifteen_minutes(duck: Workspace) -> None:
    for n in range(5):  # 09:00 .. 09:04
        assert refused(duck, "rita@example.com", f"guess number {n}", minutes(n)) == REFUSED
    # Locked from the fifth failure (09:04) until 09:19, even with the right password.
    with pytest.raises(LoginRefused, match="too many failed log-ins: try again in 14 minutes") as e:
        duck.log_in("rita@example.com", PASSWORD, now=minutes(5))
    assert e.value.retry_after == 14 * 60
    assert "1 minute" in refused(duck, "rita@example.com", PASSWORD, minutes(18.5))
    # Other emails are not locked; at 09:19 Rita may log in again.
    assert duck.log_in("mona@example.com", PASSWORD, now=minutes(6)).role == "manager"
    assert duck.log_in("rita@example.com", PASSWORD, now=minutes(19)).user_id == "u1"


def test_only_failures_within_fifteen_minutes_count(duck: Workspace) -> None:
    for n in range(4):  # 09:00 .. 09:03
        refused(duck, "rita@example.com", "nope nope nope", minutes(n))
    # 09:16: the first failure is more than 15 minutes old, so this makes four in the window.
    assert refused(duck, "rita@example.com", "nope nope nope", minutes(16)) == REFUSED
    assert duck.log_in("rita@example.com", PASSWORD, now=minutes(17)).user_id == "u1"


def test_a_successful_log_in_resets_the_count(duck: Workspace) -> None:
    for n in range(4):
        refused(duck, "rita@example.com", "nope nope nope", minutes(n))
    duck.log_in("rita@example.com", PASSWORD, now=minutes(4))
    for n in range(4):
        assert refused(duck, "rita@example.com", "nope nope nope", minutes(5 + n)) == REFUSED
    assert duck.log_in("rita@example.com", PASSWORD, now=minutes(9)).user_id == "u1"


def test_unknown_emails_lock_alike(duck: Workspace) -> None:
    """A lockout tells nothing: an email nobody has locks as a real one does."""
    for n in range(5):
        refused(duck, "ghost@example.com", "nope nope nope", minutes(n))
    assert "too many failed log-ins" in refused(duck, "ghost@example.com", "x", minutes(5))


def test_one_client_guessing_many_emails_is_locked(duck: Workspace) -> None:
    for n in range(20):  # one failure each for 20 emails, from one place
        refused(duck, f"user{n}@example.com", "nope nope nope", minutes(n * 0.5), "10.0.0.9")
    assert "too many" in refused(duck, "rita@example.com", PASSWORD, minutes(10), "10.0.0.9")
    assert duck.log_in("rita@example.com", PASSWORD, client="10.0.0.7", now=minutes(10))


def test_disable_enable_and_new_password(duck: Workspace) -> None:
    duck.update_login("rita@example.com", disabled=True, by="admin", now=minutes(0))
    assert refused(duck, "rita@example.com", PASSWORD, minutes(1)) == REFUSED
    duck.update_login("rita@example.com", disabled=False, by="admin", now=minutes(2))
    assert duck.log_in("rita@example.com", PASSWORD, now=minutes(3)).user_id == "u1"
    duck.update_login("rita@example.com", password="a new long password", by="admin", now=T0)
    assert refused(duck, "rita@example.com", PASSWORD, minutes(4)) == REFUSED
    assert duck.log_in("rita@example.com", "a new long password", now=minutes(5))
    changed = duck.update_login("rita@example.com", role="manager", by="admin", now=minutes(6))
    assert changed.role == "manager"
    with pytest.raises(InputError, match=r"no login for ghost@example\.com"):
        duck.update_login("ghost@example.com", role="ceo", by="admin")
    with pytest.raises(InputError, match="nothing to change"):
        duck.update_login("rita@example.com", by="admin")
    with pytest.raises(InputError, match="a rep login needs the CRM user"):
        duck.update_login("lee@example.com", role="rep", by="admin")


def test_a_hash_made_with_older_parameters_is_renewed_at_log_in(duck: Workspace) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    duck.store.update("logins", {"email": "rita@example.com"}, {"password_hash": weak})
    duck.log_in("rita@example.com", PASSWORD, now=NOW)
    renewed = stored_hash(duck, "rita@example.com")
    assert renewed != weak and PasswordHasher().check_needs_rehash(renewed) is False
    assert duck.log_in("rita@example.com", PASSWORD, now=NOW).user_id == "u1"


def test_without_argon2_the_message_names_the_extra(
    fresh: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "argon2", None)  # as if argon2-cffi were not installed
    passwords._hasher.cache_clear()
    try:
        with pytest.raises(MissingExtra, match=r"pip install 'quarterdeck\[web\]'"):
            fresh.add_login("ana@example.com", PASSWORD, "ceo", by="setup")
    finally:
        passwords._hasher.cache_clear()


def test_what_each_role_may_do() -> None:
    def may(role: str) -> set[str]:
        return {a for a in ACTIONS if Viewer("x@example.com", "X", role).can(a)}

    assert may("admin") == {"manage_users", "import", "edit_settings", "see_all"}
    assert may("ceo") == {"edit_items", "hold_meeting", "edit_settings", "see_all"}
    assert may("leader") == {
        "edit_items", "hold_meeting", "call_forecast", "import", "edit_settings", "see_all",
    }  # fmt: skip
    assert may("manager") == may("rep") == {"edit_items"}
    assert may("analyst") == {"import", "edit_settings", "see_all"}
    with pytest.raises(ValueError, match="unknown action 'fly'"):
        Viewer("x@example.com", "X", "ceo").can("fly")


def test_only_an_admin_manages_logins(duck: Workspace) -> None:
    admin = duck.as_viewer(duck.log_in("admin@example.com", PASSWORD, now=NOW))
    added = admin.add_login("new@example.com", PASSWORD, "analyst", by="ignored", now=NOW)
    assert added.role == "analyst"
    assert duck.audit(kind="login", limit=1)[0].who == "admin@example.com"
    leader = duck.as_viewer(duck.log_in("lee@example.com", PASSWORD, now=NOW))
    from quarterdeck.errors import NotAllowed

    with pytest.raises(NotAllowed, match="a leader login may not manage logins"):
        leader.update_login("new@example.com", role="admin", by="lee")
    with pytest.raises(NotAllowed):
        leader.add_login("x@example.com", PASSWORD, "admin", by="lee")
