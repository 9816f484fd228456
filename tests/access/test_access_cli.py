"""``quarterdeck users``: add the first admin, list, change, through the real command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from access_company import PASSWORD
from typer.testing import CliRunner

from quarterdeck.cli import app
from quarterdeck.errors import DataError, InputError
from quarterdeck.workspace import Workspace


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    db = tmp_path / "q.duckdb"
    Workspace(db).close()
    monkeypatch.setenv("QUARTERDECK_USER", "ops")
    runner = CliRunner()

    def run(*args: str, input: str | None = None, ok: bool = True) -> Any:
        result = runner.invoke(app, ["--db", str(db), *args], input=input)
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    run.db = db  # type: ignore[attr-defined]
    return run


def test_users_through_the_command(cli: Any) -> None:
    empty = cli("users", "list").output
    assert empty == (
        "No logins yet: add the first admin with `quarterdeck users add EMAIL --admin`.\n"
    )
    added = cli("users", "add", "Boss@Example.com", "--admin", "--password-stdin",
                input=PASSWORD + "\n")  # fmt: skip
    assert added.output == "Added login boss@example.com as admin.\n"
    rep = cli("users", "add", "rita@example.com", "--role", "rep", "--user-id", "u1",
              "--name", "Rita", "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert rep.output == "Added login rita@example.com as rep (CRM user u1).\n"
    listed = json.loads(cli("users", "list", "--json").output)
    assert [(x["email"], x["role"], x["user_id"], x["disabled"]) for x in listed] == [
        ("boss@example.com", "admin", None, False),
        ("rita@example.com", "rep", "u1", False),
    ]
    table = cli("users", "list").output
    assert "rita@example.com" in table and "never" in table
    changed = cli("users", "set", "rita@example.com", "--role", "manager", "--disable")
    assert changed.output == "Login rita@example.com: manager, CRM user u1, disabled.\n"
    new = cli("users", "set", "rita@example.com", "--enable", "--password-stdin",
              input="a brand new password\n")  # fmt: skip
    assert new.output == "Login rita@example.com: manager, CRM user u1, active, new password.\n"
    with Workspace(cli.db) as ws:
        assert ws.log_in("rita@example.com", "a brand new password").role == "manager"
        assert [e.who for e in ws.audit(kind="login")] == ["ops"] * 4


def test_the_password_prompt_asks_twice(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from quarterdeck.cli import users

    monkeypatch.setattr(users, "_terminal", lambda: True)  # the runner's input is no terminal
    result = cli("users", "add", "ana@example.com", "--role", "ceo",
                 input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert "Repeat for confirmation" in result.output
    assert result.output.endswith("Added login ana@example.com as ceo.\n")


def test_without_a_terminal_the_password_must_come_from_stdin(cli: Any) -> None:
    result = cli("users", "add", "ana@example.com", "--role", "ceo", ok=False)
    assert "no terminal to ask for the password: pass --password-stdin" in str(result.exception)


@pytest.mark.parametrize(
    ("args", "input", "error", "message"),
    [
        (("users", "add", "a@example.com", "--password-stdin"), PASSWORD, InputError,
         "give the login's role"),
        (("users", "add", "a@example.com", "--admin", "--role", "rep", "--password-stdin"),
         PASSWORD, InputError, "--admin and --role rep disagree"),
        (("users", "add", "a@example.com", "--admin", "--password-stdin"), "short\n",
         InputError, "at least 10 characters"),
        (("users", "add", "a@example.com", "--admin", "--password-stdin"), "", InputError,
         "standard input is empty"),
        (("users", "add", "a@example.com", "--role", "rep", "--password-stdin"), PASSWORD,
         InputError, "a rep login needs the CRM user"),
        (("users", "set", "nobody@example.com", "--role", "ceo"), None, InputError,
         "no login for nobody@example.com"),
    ],
)  # fmt: skip
def test_mistakes_say_what_to_do(
    cli: Any, args: tuple[str, ...], input: str | None, error: type, message: str
) -> None:
    result = cli(*args, input=input, ok=False)
    assert isinstance(result.exception, error), result.output
    assert message in str(result.exception)


def test_a_second_add_of_the_same_email_is_refused(cli: Any) -> None:
    cli("users", "add", "a@example.com", "--admin", "--password-stdin", input=PASSWORD)
    again = cli("users", "add", "A@example.com", "--admin", "--password-stdin", input=PASSWORD,
                ok=False)  # fmt: skip
    assert isinstance(again.exception, DataError)
    assert "a login for a@example.com exists already" in str(again.exception)
