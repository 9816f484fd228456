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


# -- meeting record ---------------------------------------------------------------------

meeting_app = typer.Typer(
    no_args_is_help=True,
    help="The weekly meeting record: risks, initiatives, issues and actions carried from "
    "week to week, and the sales leader's forecast calls.",
)
app.add_typer(meeting_app, name="meeting")

MeetingWeekOption = Annotated[
    str | None,
    typer.Option(
        "--week",
        help="The meeting's week: a day in it (YYYY-MM-DD) or an ISO week such as 2024-W27.",
    ),
]
WhoOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        envvar="QUARTERDECK_USER",
        help="Who does it (default: env QUARTERDECK_USER, else your login name).",
    ),
]
DealOption = Annotated[
    list[str] | None, typer.Option("--deal", help="Id of a linked deal; repeat for more.")
]
ItemArgument = Annotated[str, typer.Argument(metavar="ITEM", help="Item id, such as I-3.")]
_MEETING_HEADINGS = {
    "risk": "Risks",
    "initiative": "Initiatives",
    "issue": "Issues",
    "action": "Actions",
}


def _say(text: str) -> None:
    """One plain line: user text is printed as written, never read as Rich markup."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _who(by: str | None) -> str:
    if by and by.strip():
        return by.strip()
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        raise InputError("cannot tell who you are: pass --by or set QUARTERDECK_USER") from None


def _when(at: datetime | None) -> str:
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _item_lines(view: Any) -> list[str]:
    """An item of the agenda in a few lines: what, who, when due, its deals, what changed."""
    item = view.item
    facts = [f"owner {item.owner}" if item.owner else "no owner"]
    if item.due:
        facts.append(f"due {item.due}" + (" (overdue)" if view.overdue else ""))
    if item.side:
        facts.append(f"raised by the {'CEO' if item.side == 'ceo' else 'leader'}")
    if item.metric:
        facts.append(f"metric {item.metric}")
    facts.append(f"carried from {item.meeting_id}" if view.carried else f"new in {item.meeting_id}")
    lines = [f"  {item.item_id} {item.title}: {item.status}, {', '.join(facts)}."]
    lines += [f"    {deal.sentence()}." for deal in view.deals]
    lines += [f"    {update.sentence()}" for update in view.updates]
    if not view.updates and view.carried:
        last = view.last_update.sentence() if view.last_update else "none"
        lines.append(f"    no update since the last meeting; last update: {last}")
    return lines


@meeting_app.command("show")
def meeting_show(week: MeetingWeekOption = None, json_out: JsonOption = False) -> None:
    """The agenda: open items by kind (carried ones with status and last update), items
    closed since the last meeting, and the quarter's forecast calls."""
    from quarterdeck.meeting import KINDS

    with Workspace(state.db, read_only=True) as ws:
        agenda = ws.agenda(week)
    if json_out:
        out.print_json(json.dumps(agenda.as_dict()))
        return
    meeting = agenda.meeting
    state_ = f"held {_when(meeting.held_at)}" if meeting.held_at else "not held yet"
    previous = agenda.previous
    since = (
        f"since meeting {previous.meeting_id} (held {_when(previous.held_at)})"
        if previous
        else "since the record began"
    )
    _say(f"Meeting {meeting.meeting_id} (week of {meeting.week_of}): {state_}. Changes {since}.")
    if meeting.notes:
        _say("Notes:")
        for line in meeting.notes.splitlines():
            _say(f"  {line}")
    for kind in KINDS:
        views = agenda.of_kind(kind)
        _say(f"{_MEETING_HEADINGS[kind]}: {len(views) or 'none'}.")
        for view in views:
            for line in _item_lines(view):
                _say(line)
    _say(f"Closed since the last meeting: {len(agenda.closed) or 'none'}.")
    for view in agenda.closed:
        item = view.item
        _say(
            f"  {item.item_id} ({item.kind}) {item.title}: {item.status} on {item.closed_at:%Y-%m-%d}."
        )
        for deal in view.deals:
            _say(f"    {deal.sentence()}.")
    if not agenda.calls:
        _say(f"No forecast call for {agenda.calls_period.label} yet.")
        return
    _say(f"Forecast calls for {agenda.calls_period.label}:")
    for call in agenda.calls:
        _say(f"  {call.sentence()}")


@meeting_app.command("add")
def meeting_add(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="risk, initiative, issue or action.")],
    title: Annotated[
        str, typer.Argument(metavar="TITLE", help="What it is about, in a few words.")
    ],
    owner: Annotated[str | None, typer.Option(help="Who owns it.")] = None,
    side: Annotated[str | None, typer.Option(help="Who raised it: ceo or leader.")] = None,
    due: Annotated[str | None, typer.Option(help="Due date, YYYY-MM-DD.")] = None,
    deal: DealOption = None,
    metric: Annotated[str | None, typer.Option(help="A metric that shows progress.")] = None,
    week: MeetingWeekOption = None,
    by: WhoOption = None,
) -> None:
    """Raise an item in a meeting (default: the current one, next week's once this week's
    is held)."""
    with Workspace(state.db) as ws:
        item = ws.add_item(
            kind,
            title,
            by=_who(by),
            owner=owner,
            side=side,
            due=_date(due, "--due"),
            deals=deal or (),
            metric=metric,
            week=week,
        )
    _say(f"Added {item.item_id} ({item.kind}) to meeting {item.meeting_id}: {item.title}.")


def _print_change(change: Any) -> None:
    item = change.item
    if not change.updates:
        _say(f"Nothing changed: {item.item_id} already says that.")
        return
    done = [u.what() for u in change.updates if not u.is_note]
    noted = [u for u in change.updates if u.is_note]
    if done:
        _say(f"Updated {item.item_id}: {'; '.join(done)}.")
    if noted:
        _say(f"Noted on {item.item_id}.")


@meeting_app.command("update")
def meeting_update(
    item_id: ItemArgument,
    status: Annotated[str | None, typer.Option(help="open, done or dropped.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who owns it.")] = None,
    due: Annotated[str | None, typer.Option(help="Due date, YYYY-MM-DD.")] = None,
    title: Annotated[str | None, typer.Option(help="What it is about.")] = None,
    deal: DealOption = None,
    side: Annotated[str | None, typer.Option(help="Who raised it: ceo or leader.")] = None,
    metric: Annotated[str | None, typer.Option(help="A metric that shows progress.")] = None,
    kind: Annotated[str | None, typer.Option(help="risk, initiative, issue or action.")] = None,
    note: Annotated[str | None, typer.Option(help="A progress note to add.")] = None,
    by: WhoOption = None,
) -> None:
    """Change an item; each changed field is recorded with who, when, old and new value.
    --deal replaces the linked deals."""
    given = {
        "status": status,
        "owner": owner,
        "due": _date(due, "--due"),
        "title": title,
        "side": side,
        "metric": metric,
        "kind": kind,
    }
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if deal is not None:
        changes["deals"] = deal
    with Workspace(state.db) as ws:
        change = ws.update_item(item_id, by=_who(by), note=note, **changes)
    _print_change(change)


@meeting_app.command("note")
def meeting_note(
    item_id: ItemArgument,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="What progress was made.")],
    by: WhoOption = None,
) -> None:
    """Add a progress note to an item."""
    with Workspace(state.db) as ws:
        update = ws.note_item(item_id, text, by=_who(by))
    _say(f"Noted on {update.item_id}.")


def _close(item_id: str, status: str, note: str | None, by: str | None) -> None:
    with Workspace(state.db) as ws:
        change = ws.close_item(item_id, status, by=_who(by), note=note)
    _say(f"{change.item.item_id} is {change.item.status}: {change.item.title}.")


@meeting_app.command("done")
def meeting_done(
    item_id: ItemArgument,
    note: Annotated[str | None, typer.Option(help="A closing note.")] = None,
    by: WhoOption = None,
) -> None:
    """Mark an item done."""
    _close(item_id, "done", note, by)


@meeting_app.command("drop")
def meeting_drop(
    item_id: ItemArgument,
    note: Annotated[str | None, typer.Option(help="Why it is dropped.")] = None,
    by: WhoOption = None,
) -> None:
    """Mark an item dropped (no longer pursued)."""
    _close(item_id, "dropped", note, by)


@meeting_app.command("item")
def meeting_item(item_id: ItemArgument, json_out: JsonOption = False) -> None:
    """One item with its linked deals and the whole history of its changes."""
    with Workspace(state.db, read_only=True) as ws:
        view = ws.item(item_id)
    if json_out:
        out.print_json(json.dumps(view.as_dict()))
        return
    item = view.item
    _say(f"{item.item_id} ({item.kind}) {item.title}: {item.status}, raised in {item.meeting_id}.")
    for deal in view.deals:
        _say(f"  {deal.sentence()}.")
    for update in view.updates:
        _say(f"  {update.sentence()}")


@meeting_app.command("held")
def meeting_held(week: MeetingWeekOption = None) -> None:
    """Mark a meeting (default: this week's) held now; its notes are frozen from then on,
    and later changes to items belong to the next meeting."""
    with Workspace(state.db) as ws:
        meeting = ws.mark_held(week)
    _say(f"Meeting {meeting.meeting_id} marked held at {_when(meeting.held_at)}.")


@meeting_app.command("notes")
def meeting_notes(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="Decisions and notes.")],
    week: MeetingWeekOption = None,
    replace: Annotated[
        bool, typer.Option(help="Replace the notes instead of adding a line.")
    ] = False,
) -> None:
    """Add a line to a meeting's notes (default: this week's meeting), until it is held."""
    with Workspace(state.db) as ws:
        meeting = ws.set_notes(text, week=week, append=not replace)
    _say(f"Notes of meeting {meeting.meeting_id} saved.")


@meeting_app.command("call")
def meeting_call(
    commit: Annotated[str, typer.Option(help="Commit: what will be booked, closed won included.")],
    best_case: Annotated[
        str, typer.Option(help="Best case: what could be booked, closed won included.")
    ],
    period: Annotated[
        str | None, typer.Option(help="Period called, such as 2024-Q3 (default: this quarter).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="What the call rests on.")] = None,
    by: WhoOption = None,
) -> None:
    """Record a forecast call: commit and best case for a period (both cumulative)."""
    with Workspace(state.db) as ws:
        call = ws.record_call(commit, best_case, by=_who(by), period=period, note=note)
    _say(f"Recorded call {call.call_id}: {call.sentence()}")


@meeting_app.command("calls")
def meeting_calls(
    period: Annotated[
        str | None, typer.Option(help="Only calls for this period, such as 2024-Q3.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Forecast calls in the order made, and the latest call for each period."""
    with Workspace(state.db, read_only=True) as ws:
        found = ws.calls(period)
    if json_out:
        out.print_json(json.dumps(found.as_dict()))
        return
    if not found.calls:
        _say("No forecast calls" + (f" for {found.period.label}." if found.period else "."))
        return
    for call in found.calls:
        _say(f"  {call.call_id} {call.sentence()}")
    for call in found.latest:
        _say(
            f"Latest for {call.period.label}: commit {_money(call.commit)}, "
            f"best case {_money(call.best_case)} ({call.call_id}, {_when(call.called_at)})."
        )


# -- end of meeting record --------------------------------------------------------------


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
