"""``quarterdeck users``: the logins of the web app, their roles and passwords."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from quarterdeck.cli.common import JsonOption, app, out, state
from quarterdeck.cli.meeting import WhoOption, _say, _who
from quarterdeck.errors import InputError
from quarterdeck.model import ROLES
from quarterdeck.workspace import Workspace

users_app = typer.Typer(
    no_args_is_help=True,
    help="Logins of the web app: add them, list them, change their role or password. "
    "The first admin is added here with --admin.",
)
app.add_typer(users_app, name="users")

EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The login's email.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of a prompt.",
    ),
]
UserIdOption = Annotated[
    str | None,
    typer.Option(
        "--user-id",
        help="The CRM user this login is (users.user_id): whose deals a rep sees, whose "
        "team a manager sees.",
    ),
]
NameOption = Annotated[str | None, typer.Option(help="The name shown in the app.")]


def _terminal() -> bool:
    """Whether a person at a terminal can be asked for the password."""
    return sys.stdin.isatty()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    if not _terminal():
        raise InputError("no terminal to ask for the password: pass --password-stdin")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    email: EmailArgument,
    role: Annotated[str | None, typer.Option(help=f"The login's role: {', '.join(ROLES)}.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Same as --role admin.")] = False,
    user_id: UserIdOption = None,
    name: NameOption = None,
    password_stdin: PasswordStdin = False,
    by: WhoOption = None,
) -> None:
    """Add a login (asks for its password twice unless --password-stdin)."""
    if admin and role is not None and role.strip().lower() != "admin":
        raise InputError(f"--admin and --role {role} disagree: give one of them")
    chosen = "admin" if admin else role
    if chosen is None:
        raise InputError(f"give the login's role: --role ({', '.join(ROLES)}) or --admin")
    password = _password(password_stdin)
    with Workspace(state.db) as ws:
        login = ws.add_login(email, password, chosen, user_id=user_id, name=name, by=_who(by))
    as_user = f" (CRM user {login.user_id})" if login.user_id else ""
    _say(f"Added login {login.email} as {login.role}{as_user}.")


@users_app.command("list")
def users_list(json_out: JsonOption = False) -> None:
    """The logins: email, name, role, CRM user, whether disabled, last log-in."""
    with Workspace(state.db, read_only=True) as ws:
        logins = ws.logins()
    if json_out:
        out.print_json(json.dumps([login.as_dict() for login in logins]))
        return
    if not logins:
        _say("No logins yet: add the first admin with `quarterdeck users add EMAIL --admin`.")
        return
    table = Table("email", "name", "role", "user id", "status", "last log-in")
    for login in logins:
        table.add_row(
            login.email,
            login.name or "-",
            login.role,
            login.user_id or "-",
            "disabled" if login.disabled else "active",
            f"{login.last_login_at:%Y-%m-%d %H:%M}" if login.last_login_at else "never",
        )
    out.print(table)


@users_app.command("set")
def users_set(
    email: EmailArgument,
    role: Annotated[str | None, typer.Option(help=f"New role: {', '.join(ROLES)}.")] = None,
    user_id: UserIdOption = None,
    name: NameOption = None,
    disable: Annotated[
        bool | None,
        typer.Option(
            "--disable/--enable", help="Disable the login (ends its sessions), or enable it."
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    new_password: Annotated[
        bool, typer.Option("--password", help="Set a new password (asked twice).")
    ] = False,
    by: WhoOption = None,
) -> None:
    """Change a login's role, CRM user, name or password, or disable or enable it."""
    password = _password(password_stdin) if (password_stdin or new_password) else None
    with Workspace(state.db) as ws:
        login = ws.update_login(
            email,
            role=role,
            user_id=user_id,
            name=name,
            password=password,
            disabled=disable,
            by=_who(by),
        )
    status = "disabled" if login.disabled else "active"
    as_user = f", CRM user {login.user_id}" if login.user_id else ""
    changed = ", new password" if password is not None else ""
    _say(f"Login {login.email}: {login.role}{as_user}, {status}{changed}.")
