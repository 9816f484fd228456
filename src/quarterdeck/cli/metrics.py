"""The metric commands: bookings, win-rate and pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from quarterdeck.cli.common import (
    ByOption,
    ExplainOption,
    JsonOption,
    PeriodOption,
    _datetime,
    _explain,
    _money,
    _percent,
    _plain,
    app,
    out,
    state,
)
from quarterdeck.workspace import Workspace


def _print_breakdown(
    title: str,
    result: Any,
    by: str | None,
    json_out: bool,
    columns: dict[str, Callable[[Any], str]],
    fields: tuple[str, ...],
) -> None:
    """A per-period result (company line, then one line per dimension value) as a table or
    as JSON; ``columns`` names each shown column and how to print it from a line."""
    lines = [result.total, *result.rows]
    if json_out:
        rows = [{f: _plain(getattr(line, f)) for f in fields} for line in lines]
        out.print_json(json.dumps({"period": result.period.label, "by": by, "lines": rows}))
        return
    table = Table(title=f"{title} {result.period.label}")
    table.add_column(by or "scope")
    for column in columns:
        table.add_column(column, justify="right")
    for line in lines:
        name = "company" if line is result.total else (line.key or "(unknown)")
        table.add_row(name, *[show(line) for show in columns.values()])
    out.print(table)


@app.command("bookings")
def bookings_(
    period: PeriodOption = None,
    by: ByOption = None,
    explain: ExplainOption = False,
    json_out: JsonOption = False,
) -> None:
    """Closed-won value in a period against the target (closed numbers, not projections)."""
    with Workspace(state.db, read_only=True) as ws:
        result = ws.bookings(period, by)
        if explain:
            _explain(ws, result.expressions())
            return
    columns = {
        "bookings": lambda line: _money(line.bookings),
        "won": lambda line: f"{line.won_count:,}",
        "target": lambda line: _money(line.target),
        "attainment": lambda line: _percent(line.attainment),
        "gap": lambda line: _money(line.gap),
    }
    fields = ("key", "bookings", "won_count", "target", "attainment", "gap")
    _print_breakdown("Bookings", result, by, json_out, columns, fields)


@app.command("win-rate")
def win_rate_(
    period: PeriodOption = None,
    by: ByOption = None,
    explain: ExplainOption = False,
    json_out: JsonOption = False,
) -> None:
    """Won / (won + lost) among deals closed in a period, by count and by value."""
    with Workspace(state.db, read_only=True) as ws:
        result = ws.win_rate(period, by)
        if explain:
            _explain(ws, result.expressions())
            return
    columns = {
        "won": lambda line: f"{line.won:,}",
        "lost": lambda line: f"{line.lost:,}",
        "by count": lambda line: _percent(line.by_count),
        "by value": lambda line: _percent(line.by_value),
    }
    fields = ("key", "won", "lost", "won_amount", "lost_amount", "by_count", "by_value")
    _print_breakdown("Win rate", result, by, json_out, columns, fields)


@app.command("pipeline")
def pipeline_(
    as_of: Annotated[
        str | None, typer.Option(help="Rebuild the pipeline as it stood then (YYYY-MM-DD[THH:MM]).")
    ] = None,
    period: Annotated[
        str | None, typer.Option(help="Only deals whose close date falls in this period.")
    ] = None,
    explain: ExplainOption = False,
    json_out: JsonOption = False,
) -> None:
    """Open pipeline by stage, in the official stage order."""
    with Workspace(state.db, read_only=True) as ws:
        result = ws.pipeline(_datetime(as_of, "--as-of"), period)
        if explain:
            _explain(ws, result.expressions())
            return
    if json_out:
        stages = [
            {"stage": s.stage, "count": s.count, "amount": str(s.amount)} for s in result.stages
        ]
        payload = {
            "as_of": _plain(result.as_of),
            "period": result.period.label if result.period else None,
            "stages": stages,
            "count": result.count,
            "amount": str(result.amount),
        }
        out.print_json(json.dumps(payload))
        return
    title = "Open pipeline" + (f" as of {result.as_of:%Y-%m-%d %H:%M}" if result.as_of else "")
    table = Table(title=title)
    for column in ("stage", "deals", "amount"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for line in result.stages:
        table.add_row(line.stage or "(none)", f"{line.count:,}", _money(line.amount))
    table.add_row("total", f"{result.count:,}", _money(result.amount), style="bold")
    out.print(table)
