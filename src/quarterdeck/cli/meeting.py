"""``quarterdeck meeting``: the weekly meeting record from the command line."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from quarterdeck.cli.common import (
    JsonOption,
    _date,
    _money,
    app,
    out,
    state,
)
from quarterdeck.errors import InputError
from quarterdeck.workspace import Workspace

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
