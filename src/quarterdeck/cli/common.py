"""What every ``quarterdeck`` command shares: the Typer app, the consoles, the database
option, and the few helpers that parse dates and print numbers."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from quarterdeck.errors import InputError
from quarterdeck.store import DEFAULT_DB
from quarterdeck.workspace import Workspace

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Quarterdeck: one trustworthy picture of sales for the CEO and the sales leader.",
)
out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="QUARTERDECK_DB",
        help="Database: a DuckDB file path, or postgresql://... (env QUARTERDECK_DB).",
    ),
]


class _State:
    db: str = DEFAULT_DB


state = _State()


@app.callback()
def _root(db: DbOption = DEFAULT_DB) -> None:
    state.db = db


@contextmanager
def _progress(enabled: bool = True) -> Any:
    """A Rich progress bar fed by the Workspace's ``progress(step, fraction)`` callbacks."""
    if not enabled or not err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def report(step: str, done: float) -> None:
            bar.update(task, description=step, completed=done)

        yield report


def _date(text: str | None, flag: str) -> date | None:
    if text is None:
        return None
    if text == "today":
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected a date as YYYY-MM-DD") from None


def _datetime(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS") from None


PeriodOption = Annotated[
    str | None,
    typer.Option(help="Period: 2024-Q3, 2024-07, 2024, FY2025-Q1 (default: the current quarter)."),
]
ByOption = Annotated[
    str | None, typer.Option(help="Break down by owner, team, segment, motion or account.")
]
ExplainOption = Annotated[bool, typer.Option(help="Print the SQL behind the numbers.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print as JSON for scripts.")]


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _explain(ws: Workspace, expressions: dict[str, Any]) -> None:
    for name, expr in expressions.items():
        out.print(f"-- {name}")
        out.print(ws.store.sql(expr), highlight=False, soft_wrap=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
