"""The ``quarterdeck`` command: parses flags, calls the Workspace, renders the result.

No SQL and no business rules live here. Every ``QuarterdeckError`` is printed as one line
(plus any detail lines it carries) and the command exits non-zero without a traceback.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quarterdeck.errors import InputError, InternalError, QuarterdeckError
from quarterdeck.store import DEFAULT_DB
from quarterdeck.workspace import Workspace

__all__ = ["app", "main"]

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


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="CSV files, or folders of them.")],
    mapping: Annotated[
        Path | None, typer.Option(help="Mapping file (TOML/YAML) for a CSV of any other shape.")
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="Skip detection: salesforce, hubspot, maven, ibm-win-loss.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="When the export was taken (default: found in the files, else now)."),
    ] = None,
    max_rejects: Annotated[
        int, typer.Option(help="Rows that may be set aside before the import is refused.")
    ] = 0,
    date_order: Annotated[
        str | None, typer.Option(help="MDY (US, the default) or DMY for dates like 03/04/2024.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import CRM exports: all of it lands, or none of it."""
    started = time.perf_counter()
    with Workspace(state.db) as ws, _progress(not json_out) as report:
        result = ws.import_files(
            paths,
            format=format,
            mapping=mapping,
            as_of=_datetime(as_of, "--as-of"),
            max_rejects=max_rejects,
            date_order=date_order.upper() if date_order else None,
            progress=report,
        )
    if json_out:
        payload = {
            "import_id": result.import_id,
            "format": result.format,
            "files": list(result.files),
            "as_of": result.as_of.isoformat() if result.as_of else None,
            "rows_read": result.rows_read,
            "rows_accepted": result.rows_accepted,
            "rows_rejected": result.rows_rejected,
            "counts": result.counts,
            "notices": list(result.notices),
            "rejects_path": str(result.rejects_path) if result.rejects_path else None,
            "skipped": result.skipped,
        }
        out.print_json(json.dumps(payload))
        return
    if result.skipped:
        out.print(f"Nothing imported: {result.skipped}.")
        return
    seconds = time.perf_counter() - started
    out.print(
        f"Imported {result.format} as import #{result.import_id} (as of {result.as_of:%Y-%m-%d %H:%M}) "
        f"in {seconds:.1f}s: {result.rows_accepted:,} of {result.rows_read:,} rows kept, "
        f"{result.rows_rejected:,} set aside."
    )
    for name, count in result.counts.items():
        out.print(f"  {name:<12} {count:>12,}")
    for notice in result.notices:
        out.print(f"  [yellow]note[/]: {notice}")
    if result.rejects_path:
        out.print(f"  Rejected rows and reasons: {result.rejects_path}")


@app.command()
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON for scripts.")] = False,
) -> None:
    """What the database holds."""
    with Workspace(state.db) as ws:
        current = ws.status()
    if json_out:
        out.print_json(json.dumps(current.as_dict()))
        return
    table = Table(show_header=False, box=None)
    for key, value in current.as_dict().items():
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        table.add_row(key.replace("_", " "), shown)
    out.print(table)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the Salesforce-shaped CSVs to.")],
    deals: Annotated[int, typer.Option(help="About how many deals to make.")] = 5_000,
    years: Annotated[float, typer.Option(help="Years of history.")] = 3.0,
    end: Annotated[str, typer.Option(help="Export date: YYYY-MM-DD or 'today'.")] = "today",
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same company.")
    ] = 7,
) -> None:
    """Write a realistic simulated company as a Salesforce data export."""
    from quarterdeck.simulate import SimulationSpec
    from quarterdeck.simulate import simulate as run

    spec = SimulationSpec(
        deals=deals, years=years, end=_date(end, "--end") or date.today(), seed=seed
    )
    with _progress() as report:
        summary = run(spec, out_dir, progress=report)
    out.print(f"Wrote a simulated company to {summary.out_dir}:")
    for name, rows in summary.files.items():
        out.print(f"  {name:<32} {rows:>12,} rows")


@app.command()
def demo(
    folder: Annotated[Path, typer.Option(help="Where the demo company and database go.")] = Path(
        "demo"
    ),
    deals: Annotated[int, typer.Option(help="Size of the demo company.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Simulate a company, import it through the real Salesforce path, and summarise it."""
    from quarterdeck.simulate import SimulationSpec
    from quarterdeck.simulate import simulate as run

    export = folder / "salesforce-export"
    db = folder / "quarterdeck.duckdb"
    if export.exists():
        shutil.rmtree(export)
    for stale in folder.glob("quarterdeck.duckdb*"):
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with _progress() as report:
        run(SimulationSpec(deals=deals, end=date.today(), seed=seed), export, progress=report)
    out.print(f"Simulated a company with about {deals:,} deals in {export}")
    with Workspace(db) as ws, _progress() as report:
        result = ws.import_files([export], progress=report)
        out.print(
            f"Imported {result.rows_accepted:,} rows into {db} "
            f"({result.counts.get('deal_events', 0):,} history events)."
        )
        _print_overview(ws)
    out.print(
        f"Done in {time.perf_counter() - started:.0f}s. Explore it: quarterdeck --db {db} status"
    )


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


def _print_overview(ws: Workspace) -> None:
    """The demo's closing summary: this quarter against target, last quarter's win rate,
    and the open pipeline."""
    current = ws.bookings()
    previous = ws.win_rate(current.period.previous())
    pipeline = ws.pipeline()
    target = current.target
    out.print(
        f"{current.period.label} so far: {_money(current.bookings)} won"
        + (f" of a {_money(target)} target ({_percent(current.attainment)})" if target else "")
        + f" from {current.won_count:,} deals."
    )
    out.print(
        f"{previous.period.label} win rate: {_percent(previous.by_count)} by count, "
        f"{_percent(previous.by_value)} by value ({previous.total.closed:,} deals closed)."
    )
    out.print(f"Open pipeline: {pipeline.count:,} deals worth {_money(pipeline.amount)}.")


def main() -> None:
    """Entry point: run the app, turning known errors into one clean line."""
    try:
        app(standalone_mode=False)
    except QuarterdeckError as exc:
        err.print(f"[red]error[/]: {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors and anything unexpected
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        wrapped = InternalError(f"unexpected {type(exc).__name__}: {exc}")
        err.print(f"[red]internal error[/]: {wrapped} (please report this with the command)")
        sys.exit(wrapped.exit_code)


if __name__ == "__main__":
    main()
