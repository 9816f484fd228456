"""Sessions: the token is kept only as its SHA-256, each session has its own CSRF token,
and a session ends 12 hours after its last use, 7 days after it was opened, at log-out,
or when its login is disabled or its password changed."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from access_company import PASSWORD

from quarterdeck.errors import LoginRefused
from quarterdeck.workspace import Workspace

T0 = datetime(2024, 8, 20, 9, 0)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def rows(ws: Workspace) -> list[dict]:
    return ws.store.to_arrow(ws.store.table("login_sessions")).to_pylist()  # type: ignore[no-any-return]


def test_the_token_is_stored_only_as_its_hash(duck: Workspace) -> None:
    rita = duck.log_in("rita@example.com", PASSWORD, now=T0)
    session = duck.open_session(rita, now=T0)
    assert len(session.token) >= 43 and len(session.csrf) >= 43
    assert session.token != session.csrf
    [row] = rows(duck)
    assert row["token_hash"] == hashlib.sha256(session.token.encode()).hexdigest()
    assert session.token not in {str(v) for v in row.values()}
    assert row["csrf"] == session.csrf
    # The database file holds the hash, never the token.
    duck.store.backend.raw_sql("CHECKPOINT")
    data = open(duck.store.location, "rb").read()  # noqa: SIM115
    assert session.token.encode() not in data
    found = duck.session(session.token, now=hours(1))
    assert found is not None
    viewer, again = found
    assert viewer == rita and again.csrf == session.csrf
    assert duck.open_session(rita, now=T0).token != session.token


def test_a_session_ends_twelve_hours_after_its_last_use(duck: Workspace) -> None:
    session = duck.open_session(duck.log_in("rita@example.com", PASSWORD, now=T0), now=T0)
    assert session.expires == hours(12)
    assert duck.session(session.token, now=hours(11)) is not None  # used at 20:00
    found = duck.session(session.token, now=hours(22.9))
    assert found is not None and found[1].expires == hours(22.9 + 12)
    assert duck.session(session.token, now=hours(22.9 + 12)) is None


def test_use_is_written_at_most_every_five_minutes(duck: Workspace) -> None:
    session = duck.open_session(duck.log_in("rita@example.com", PASSWORD, now=T0), now=T0)
    duck.session(session.token, now=T0 + timedelta(minutes=4))
    assert rows(duck)[0]["last_seen_at"] == T0
    duck.session(session.token, now=T0 + timedelta(minutes=5))
    assert rows(duck)[0]["last_seen_at"] == T0 + timedelta(minutes=5)


def test_a_session_ends_seven_days_after_it_was_opened(duck: Workspace) -> None:
    session = duck.open_session(duck.log_in("rita@example.com", PASSWORD, now=T0), now=T0)
    for n in range(1, 16):  # used every 11 hours
        assert duck.session(session.token, now=hours(11 * n)) is not None
    last = duck.session(session.token, now=hours(167))
    assert last is not None and last[1].expires == hours(168)
    assert duck.session(session.token, now=hours(168)) is None


def test_log_out_disable_and_password_change_end_sessions(duck: Workspace) -> None:
    rita = duck.log_in("rita@example.com", PASSWORD, now=T0)
    first, second = duck.open_session(rita, now=T0), duck.open_session(rita, now=T0)
    duck.close_session(first.token, now=hours(1))
    assert duck.session(first.token, now=hours(1)) is None
    assert duck.session(second.token, now=hours(1)) is not None
    duck.update_login("rita@example.com", password="another long one", by="admin", now=hours(2))
    assert duck.session(second.token, now=hours(2)) is None
    mona = duck.open_session(duck.log_in("mona@example.com", PASSWORD, now=T0), now=T0)
    duck.update_login("mona@example.com", disabled=True, by="admin", now=hours(3))
    duck.update_login("mona@example.com", disabled=False, by="admin", now=hours(4))
    assert duck.session(mona.token, now=hours(4)) is None


def test_unknown_and_odd_tokens(duck: Workspace) -> None:
    assert duck.session("no such token", now=T0) is None
    assert duck.session("", now=T0) is None
    assert duck.session("x" * 10_000, now=T0) is None
    duck.close_session("no such token")  # nothing to do, no error


def test_a_role_change_shows_at_the_next_request(duck: Workspace) -> None:
    session = duck.open_session(duck.log_in("rita@example.com", PASSWORD, now=T0), now=T0)
    duck.update_login("rita@example.com", role="manager", by="admin", now=hours(1))
    found = duck.session(session.token, now=hours(1))
    assert found is not None and found[0].role == "manager"


def test_sessions_keep_the_store_cache(duck: Workspace) -> None:
    """Opening and using sessions writes no table a remembered result was built from, so
    results remembered for the pages stay."""
    duck.revenue_vs_goal("2024-Q3", as_of=datetime(2024, 7, 1))
    kept = dict(duck.store._shared.cache)
    assert kept
    session = duck.open_session(duck.log_in("rita@example.com", PASSWORD, now=T0), now=T0)
    duck.session(session.token, now=hours(1))
    duck.close_session(session.token, now=hours(2))
    assert duck.store._shared.cache == kept


def test_log_in_lockout_and_sessions_on_each_engine(company: Workspace) -> None:
    for n in range(5):
        with pytest.raises(LoginRefused, match="wrong email or password"):
            company.log_in("rita@example.com", f"guess {n} guess", now=T0)
    with pytest.raises(LoginRefused, match="try again in 15 minutes"):
        company.log_in("rita@example.com", PASSWORD, now=T0)
    rita = company.log_in("rita@example.com", PASSWORD, now=hours(0.25))
    session = company.open_session(rita, now=hours(1))
    [row] = rows(company)
    assert row["token_hash"] == hashlib.sha256(session.token.encode()).hexdigest()
    found = company.session(session.token, now=hours(2))
    assert found is not None and found[0] == rita and found[1].expires == hours(14)
    assert rows(company)[0]["last_seen_at"] == hours(2)
    company.close_session(session.token, now=hours(3))
    assert company.session(session.token, now=hours(3)) is None
