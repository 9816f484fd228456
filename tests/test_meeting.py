"""The meeting record: items carried from week to week, their history, and forecast calls.

The week of Monday 2024-07-01 is ISO week 2024-W27; W28 starts on 2024-07-08 and W29 on
2024-07-15. Every time below is given, so every expected value can be read off the test.
The core tests run on DuckDB and, when a server is up, on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from quarterdeck.cli import app, main
from quarterdeck.errors import DataError, InputError
from quarterdeck.model import TABLES
from quarterdeck.periods import Period
from quarterdeck.store import Store
from quarterdeck.workspace import Workspace

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in July 2024."""
    return datetime(2024, 7, day, hour, minute)


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def postgres_workspace() -> Iterator[Workspace]:
    """A workspace in a schema of its own on the PostgreSQL server, dropped afterwards."""
    if not _postgres_up():
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    schema = f"qd_meeting_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    try:
        with Workspace(f"{POSTGRES}/{schema}") as workspace:
            yield workspace
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["duckdb", "postgres"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on each engine."""
    if request.param == "duckdb":
        with Workspace(tmp_path / "q.duckdb") as workspace:
            yield workspace
    else:
        with postgres_workspace() as workspace:
            yield workspace


@pytest.fixture
def pg() -> Iterator[Workspace]:
    """A fresh workspace on PostgreSQL, for what only a server does (two writers at once)."""
    with postgres_workspace() as workspace:
        yield workspace


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Workspace]:
    """A DuckDB workspace, for the checks that do not depend on the engine."""
    with Workspace(tmp_path / "q.duckdb") as workspace:
        yield workspace


def put(store: Store, table: str, *rows: dict[str, Any]) -> None:
    schema = TABLES[table].schema.to_pyarrow()
    store.insert(table, pa.Table.from_pylist(list(rows), schema=schema))


def put_deals(store: Store) -> None:
    """D1 won on 2024-07-03, D2 lost on 2024-06-28, D3 open in Proposal."""
    won = {"is_closed": True, "is_won": True}
    lost = {"is_closed": True, "is_won": False}
    put(
        store,
        "deals",
        {"deal_id": "D1", "name": "Acme renewal", "stage": "Closed Won", **won,
         "close_date": date(2024, 7, 3), "amount": Decimal("120000.00")},
        {"deal_id": "D2", "name": "Globex expansion", "stage": "Closed Lost", **lost,
         "close_date": date(2024, 6, 28), "amount": Decimal("40000.00")},
        {"deal_id": "D3", "name": "Initech new logo", "stage": "Proposal", "is_closed": False,
         "is_won": False, "close_date": date(2024, 9, 30), "amount": Decimal("75000.00")},
    )  # fmt: skip


def count(ws: Workspace, table: str) -> int:
    return int(ws.store.scalar(ws.store.table(table).count()))


def ids(views: Any) -> list[str]:
    return [v.item.item_id for v in views]


# -- items -------------------------------------------------------------------------------


def test_items_of_each_kind(ws: Workspace) -> None:
    put_deals(ws.store)
    risk = ws.add_item(
        "risk", "Acme renewal at risk: champion left", by="ana", owner="bob", side="leader",
        due="2024-07-15", deals=["D1"], now=at(1, 9),
    )  # fmt: skip
    initiative = ws.add_item(
        "initiative", "Ramp the two new reps", by="ana", owner="ana", side="leader",
        metric="ramp", due=date(2024, 9, 30), now=at(1, 9, 5),
    )  # fmt: skip
    issue = ws.add_item("issue", "Why did Globex slip?", by="ceo", side="ceo", now=at(1, 9, 10))
    action = ws.add_item("Action", "  Send pricing to Acme  ", by="ceo", now=at(1, 9, 15))

    assert [i.item_id for i in (risk, initiative, issue, action)] == ["I-1", "I-2", "I-3", "I-4"]
    assert (risk.kind, risk.owner, risk.side, risk.status) == ("risk", "bob", "leader", "open")
    assert (risk.due, risk.deal_ids, risk.meeting_id) == (date(2024, 7, 15), ("D1",), "2024-W27")
    assert (initiative.metric, initiative.due) == ("ramp", date(2024, 9, 30))
    assert (issue.side, issue.owner, issue.due) == ("ceo", None, None)
    # Kind is read in any case and the title is trimmed.
    assert (action.kind, action.title) == ("action", "Send pricing to Acme")
    # Raising the first item stored the meeting of its week.
    meeting = ws.meeting("2024-07-03", now=at(1, 10))
    assert (meeting.meeting_id, meeting.week_of) == ("2024-W27", date(2024, 7, 1))
    assert (meeting.created_at, meeting.held_at) == (at(1, 9), None)
    # What is stored reads back the same.
    assert ws.item("I-1", now=at(1, 10)).item == risk
    assert ws.item("i-4", now=at(1, 10)).item == action


def test_updates_keep_who_when_old_and_new(ws: Workspace) -> None:
    ws.add_item("risk", "Acme at risk", by="ana", owner="bob", due="2024-07-15", now=at(1, 9))
    change = ws.update_item(
        "I-1", by="ceo", due="2024-07-22", owner="carl", title="Acme at risk", now=at(2, 10)
    )
    # The title did not change, so two updates: due and owner, in the order given.
    got = [(u.field, u.old_value, u.new_value, u.by, u.at) for u in change.updates]
    assert got == [
        ("due", "2024-07-15", "2024-07-22", "ceo", at(2, 10)),
        ("owner_id", "bob", "carl", "ceo", at(2, 10)),
    ]
    assert (change.item.due, change.item.owner, change.item.updated_at) == (
        date(2024, 7, 22),
        "carl",
        at(2, 10),
    )
    note = ws.note_item("I-1", "Met the new champion", by="bob", now=at(3, 11))
    assert (note.field, note.old_value, note.new_value, note.by) == (
        "note", None, "Met the new champion", "bob",
    )  # fmt: skip

    history = ws.item("I-1", now=at(3, 12)).updates
    # First values (kind, title, owner, status, due), then the two changes, then the note.
    assert [(u.field, u.old_value, u.new_value, u.by, u.at) for u in history] == [
        ("kind", None, "risk", "ana", at(1, 9)),
        ("title", None, "Acme at risk", "ana", at(1, 9)),
        ("owner_id", None, "bob", "ana", at(1, 9)),
        ("status", None, "open", "ana", at(1, 9)),
        ("due", None, "2024-07-15", "ana", at(1, 9)),
        ("due", "2024-07-15", "2024-07-22", "ceo", at(2, 10)),
        ("owner_id", "bob", "carl", "ceo", at(2, 10)),
        ("note", None, "Met the new champion", "bob", at(3, 11)),
    ]
    assert [u.seq for u in history] == list(range(1, 9))
    assert ws.item("I-1", now=at(3, 12)).last_update == note

    # Saying what the item already says writes nothing.
    before = count(ws, "item_updates")
    same = ws.update_item("I-1", by="ceo", owner="carl", now=at(4, 9))
    assert same.updates == () and count(ws, "item_updates") == before


def test_closing_and_reopening(ws: Workspace) -> None:
    ws.add_item("action", "Send pricing", by="ana", now=at(1, 9))
    done = ws.close_item("I-1", by="bob", note="Sent on Tuesday", now=at(2, 9))
    assert (done.item.status, done.item.closed_at) == ("done", at(2, 9))
    assert [(u.field, u.new_value) for u in done.updates] == [
        ("status", "done"),
        ("note", "Sent on Tuesday"),
    ]
    with pytest.raises(DataError, match=r"^item I-1 is already done since 2024-07-02$"):
        ws.close_item("I-1", "dropped", by="bob", now=at(3, 9))
    reopened = ws.update_item("I-1", by="ceo", status="open", now=at(3, 9))
    assert (reopened.item.status, reopened.item.closed_at) == ("open", None)
    dropped = ws.close_item("I-1", "dropped", by="ceo", now=at(4, 9))
    assert (dropped.item.status, dropped.item.closed_at) == ("dropped", at(4, 9))


# -- carrying from week to week ----------------------------------------------------------


def test_open_items_carry_and_closed_items_show_once(ws: Workspace) -> None:
    # Week 27: two items raised, the meeting held on Monday at 15:00.
    ws.add_item("risk", "Acme at risk", by="ana", owner="bob", now=at(1, 9))
    ws.add_item("action", "Send pricing", by="ceo", owner="ana", now=at(1, 9, 30))
    ws.note_item("I-1", "Champion left", by="bob", now=at(1, 10))
    ws.mark_held("2024-W27", now=at(1, 15))
    # After it: the action is done, the risk gets a note, an issue is raised.
    ws.close_item("I-2", by="ana", now=at(3, 9))
    ws.note_item("I-1", "Met the new champion", by="bob", now=at(3, 10))
    issue = ws.add_item("issue", "Globex slipped twice", by="ceo", side="ceo", now=at(4, 9))
    # Week 27 is held, so what happens after it belongs to week 28.
    assert issue.meeting_id == "2024-W28"
    assert ws.item("I-2", now=at(4, 9)).updates[-1].meeting_id == "2024-W28"

    week28 = ws.agenda(now=at(8, 9))
    assert week28.meeting.meeting_id == "2024-W28" and week28.meeting.stored
    assert week28.previous is not None and week28.previous.meeting_id == "2024-W27"
    assert (week28.since, week28.until) == (at(1, 15), at(8, 9))
    assert ids(week28.open) == ["I-1", "I-3"]  # risks before issues
    assert ids(week28.carried) == ["I-1"]
    assert ids(week28.closed) == ["I-2"]
    assert week28.closed[0].item.closed_at == at(3, 9)
    # Updates since the last meeting only: the note of 10:00 on the 1st came before it.
    risk = week28.open[0]
    assert [u.new_value for u in risk.updates] == ["Met the new champion"]
    assert risk.last_update is not None and risk.last_update.at == at(3, 10)
    assert ws.agenda(now=at(8, 9)).open[1].updates == ()  # a new item: only its first values

    ws.mark_held("2024-W28", now=at(8, 16))
    week29 = ws.agenda(now=at(10, 9))
    assert week29.meeting.meeting_id == "2024-W29" and not week29.meeting.stored
    assert ids(week29.open) == ["I-1", "I-3"] and ids(week29.carried) == ["I-1", "I-3"]
    assert week29.closed == ()  # I-2 was shown as closed once, in week 28
    carried = week29.open[0]
    assert carried.updates == ()
    assert carried.last_update is not None and carried.last_update.new_value == (
        "Met the new champion"
    )

    # Week 27 read afterwards shows it as it stood when held: I-2 still open, no I-3.
    week27 = ws.agenda("2024-W27", now=at(10, 9))
    assert (week27.previous, week27.since, week27.until) == (None, None, at(1, 15))
    assert [(v.item.item_id, v.item.status) for v in week27.open] == [
        ("I-1", "open"),
        ("I-2", "open"),
    ]
    assert week27.closed == ()


def test_past_agenda_shows_items_as_they_stood(ws: Workspace) -> None:
    ws.add_item("risk", "Acme at risk", by="ana", owner="bob", due="2024-07-05", now=at(1, 9))
    ws.add_item("action", "Call Globex", by="ana", now=at(1, 9, 1))
    ws.close_item("I-2", by="ana", now=at(1, 12))
    ws.mark_held("2024-W27", now=at(1, 15))
    ws.update_item("I-1", by="ceo", owner="carl", due="2024-07-19", now=at(9, 9))
    ws.close_item("I-1", by="carl", now=at(9, 10))
    ws.update_item("I-1", by="carl", status="open", now=at(9, 11))
    ws.update_item("I-2", by="ceo", status="open", now=at(9, 12))
    # On the 8th, before anything changed, week 28 showed I-1 as raised: owner bob, due
    # the 5th, so overdue on the 8th; I-2, closed before week 27 was held, was gone.
    early = ws.agenda("2024-W28", now=at(8, 12))
    assert [(v.item.item_id, v.item.owner, v.item.due, v.overdue) for v in early.open] == [
        ("I-1", "bob", date(2024, 7, 5), True)
    ]
    assert early.closed == ()
    # Later the same week it shows the new owner and due date; closed and reopened on the
    # 9th, it is open, with its four changes (owner, due, status twice) since the meeting.
    later = ws.agenda("2024-W28", now=at(10, 12))
    assert ids(later.open) == ["I-1", "I-2"]  # I-2 was reopened on the 9th
    view = later.open[0]
    assert (view.item.owner, view.item.due, view.item.status, view.overdue) == (
        "carl", date(2024, 7, 19), "open", False,
    )  # fmt: skip
    assert [(u.field, u.new_value) for u in view.updates] == [
        ("owner_id", "carl"),
        ("due", "2024-07-19"),
        ("status", "done"),
        ("status", "open"),
    ]
    assert later.closed == ()


def test_linked_deals_say_won_lost_or_open(ws: Workspace) -> None:
    put_deals(ws.store)
    ws.add_item("risk", "Three deals", by="ana", deals=["D1", "D2", "D3", "D1"], now=at(1, 9))
    view = ws.agenda("2024-W27", now=at(4, 9)).open[0]
    assert view.item.deal_ids == ("D1", "D2", "D3")  # a repeated id counts once
    assert [(d.deal_id, d.stage, d.outcome, d.close_date) for d in view.deals] == [
        ("D1", "Closed Won", "won", date(2024, 7, 3)),
        ("D2", "Closed Lost", "lost", date(2024, 6, 28)),
        ("D3", "Proposal", "open", date(2024, 9, 30)),
    ]
    assert [d.sentence() for d in view.deals] == [
        "deal Acme renewal was won on 2024-07-03",
        "deal Globex expansion was lost on 2024-06-28",
        "deal Initech new logo is open in stage Proposal, expected to close on 2024-09-30",
    ]
    # --deal replaces the links; an unknown id is refused, naming it.
    changed = ws.update_item("I-1", by="ana", deals=["D3"], now=at(4, 10))
    assert changed.updates[0].what() == "deals D1,D2,D3 -> D3"
    with pytest.raises(InputError, match=r"^unknown deal 'D9': no deal with that id"):
        ws.update_item("I-1", by="ana", deals=["D3", "D9"], now=at(4, 11))
    with pytest.raises(InputError, match=r"^unknown deals 'D8', 'D9': no deal with that id"):
        ws.add_item("risk", "Ghost deals", by="ana", deals="D8, D9", now=at(4, 11))
    assert count(ws, "items") == 1
    # A linked deal that later leaves the database says so.
    ws.store.delete_matching("deals", ws.store.stage(pa.table({"deal_id": ["D3"]})))
    (gone,) = ws.item("I-1", now=at(5, 9)).deals
    assert (gone.outcome, gone.sentence()) == ("missing", "deal D3 is no longer in the database")


def test_held_meeting_notes_are_frozen(ws: Workspace) -> None:
    ws.set_notes("Agreed: hire two reps", week="2024-W27", now=at(1, 14))
    noted = ws.set_notes("Next: pricing review", week="2024-W27", append=True, now=at(1, 14, 30))
    assert noted.notes == "Agreed: hire two reps\nNext: pricing review"
    held = ws.mark_held("2024-07-01", now=at(1, 15))
    assert held.held_at == at(1, 15) and held.notes == noted.notes
    with pytest.raises(
        DataError,
        match=r"^meeting 2024-W27 was held on 2024-07-01 15:00; its notes are frozen",
    ):
        ws.set_notes("One more thing", week="2024-W27", now=at(2, 9))
    with pytest.raises(
        DataError, match=r"^meeting 2024-W27 was already marked held on 2024-07-01 15:00$"
    ):
        ws.mark_held("2024-W27", now=at(2, 9))
    assert ws.meeting("2024-W27").notes == "Agreed: hire two reps\nNext: pricing review"
    # Items raised in it keep living.
    ws.add_item("action", "Pricing review", by="ceo", week="2024-W27", now=at(2, 9))
    change = ws.close_item("I-1", by="ana", now=at(2, 10))
    assert change.updates[0].meeting_id == "2024-W28"


def test_reading_never_writes(ws: Workspace) -> None:
    ws.add_item("risk", "Acme at risk", by="ana", now=at(1, 9))
    before = count(ws, "meetings")
    agenda = ws.agenda("2024-W30", now=at(22, 9))
    assert not agenda.meeting.stored and agenda.meeting.meeting_id == "2024-W30"
    assert ids(agenda.carried) == ["I-1"]
    assert not ws.meeting("2024-W31").stored
    assert count(ws, "meetings") == before == 1


def test_agenda_on_a_read_only_database(tmp_path: Path) -> None:
    with Workspace(tmp_path / "q.duckdb") as ws:
        ws.add_item("risk", "Acme at risk", by="ana", now=at(1, 9))
    with Workspace(tmp_path / "q.duckdb", read_only=True) as ws:
        assert ids(ws.agenda("2024-W28", now=at(8, 9)).open) == ["I-1"]


# -- forecast calls ----------------------------------------------------------------------


def test_forecast_calls_in_time_order_and_latest_per_period(ws: Workspace) -> None:
    ws.record_call("1200000", "1500000", by="ana", period="2024-Q3", now=at(8, 9))
    ws.record_call(
        Decimal("1100000.50"), 1600000, by="ana", note="Acme slipped", now=at(15, 9)
    )  # the quarter of the 15th of July: 2024-Q3
    ws.record_call("900000", "900000", by="ana", period="2024-Q2", now=at(1, 9))
    ws.record_call("1,250,000.00", "1,400,000", by="ana", period="2024-Q3", now=at(15, 9))

    q3 = ws.calls("2024-Q3")
    assert q3.period is not None and q3.period.label == "2024-Q3"
    # C-2 and C-4 are both made on the 15th at 9:00; C-4 was recorded after C-2.
    assert [(c.call_id, c.commit, c.best_case) for c in q3.calls] == [
        ("C-1", Decimal("1200000.00"), Decimal("1500000.00")),
        ("C-2", Decimal("1100000.50"), Decimal("1600000.00")),
        ("C-4", Decimal("1250000.00"), Decimal("1400000.00")),
    ]
    assert q3.calls[1].note == "Acme slipped" and q3.calls[1].by == "ana"
    everything = ws.calls()
    assert [c.call_id for c in everything.calls] == ["C-3", "C-1", "C-2", "C-4"]
    assert [(c.period.label, c.call_id) for c in everything.latest] == [
        ("2024-Q2", "C-3"),
        ("2024-Q3", "C-4"),
    ]
    latest_q2 = everything.latest_for(Period.parse("2024-Q2"))
    assert latest_q2 is not None and latest_q2.call_id == "C-3"
    assert everything.latest_for(Period.parse("2024-Q4")) is None
    # The agenda of week 28 (up to the 10th) sees the Q3 call made before it, not later ones.
    agenda = ws.agenda("2024-W28", now=at(10, 9))
    assert agenda.calls_period.label == "2024-Q3"
    assert [c.call_id for c in agenda.calls] == ["C-1"]
    assert agenda.latest_call is not None and agenda.latest_call.call_id == "C-1"


@pytest.mark.parametrize(
    ("commit", "best_case", "message"),
    [
        ("-5", "10", r"^commit must be 0 or more, not -5$"),
        ("10", "-1", r"^best case must be 0 or more, not -1$"),
        (
            "1000",
            "900",
            r"^best case \(900\.00\) must be at least the commit \(1,000\.00\): both are "
            r"cumulative",
        ),
        ("abc", "10", r"^commit 'abc': expected an amount such as 1250000 or 1250000\.50$"),
        ("10.005", "20", r"^commit '10\.005': at most two decimals \(cents\)$"),
        ("10", "NaN", r"^best case 'NaN': expected a finite amount$"),
        ("10", "1e17", r"^best case '1e17' is too large$"),
    ],
)
def test_forecast_call_validation(
    local: Workspace, commit: str, best_case: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        local.record_call(commit, best_case, by="ana", now=at(1, 9))
    assert count(local, "forecast_calls") == 0


def test_forecast_call_needs_a_period_and_a_caller(local: Workspace) -> None:
    with pytest.raises(InputError, match=r"^cannot read period '2024-Q5'"):
        local.record_call("1", "2", by="ana", period="2024-Q5", now=at(1, 9))
    with pytest.raises(InputError, match=r"^say who makes the call"):
        local.record_call("1", "2", by=" ", now=at(1, 9))
    # Best case equal to commit, and zero, are fine.
    assert local.record_call("0", "0", by="ana", now=at(1, 9)).period.label == "2024-Q3"


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda ws: ws.add_item("threat", "x", by="ana"),
            InputError,
            r"^unknown item kind 'threat': expected risk, initiative, issue or action$",
        ),
        (
            lambda ws: ws.add_item("risk", "x", side="cfo", by="ana"),
            InputError,
            r"^unknown side 'cfo': expected ceo or leader$",
        ),
        (
            lambda ws: ws.add_item("risk", "x", due="2024-13-01", by="ana"),
            InputError,
            r"^due date '2024-13-01': expected a date as YYYY-MM-DD$",
        ),
        (
            lambda ws: ws.add_item("risk", "   ", by="ana"),
            InputError,
            r"^an item needs a title: say in a few words what it is about$",
        ),
        (
            lambda ws: ws.add_item("risk", "x", week="next week", by="ana"),
            InputError,
            r"^cannot read week 'next week': expected a date \(YYYY-MM-DD\) or an ISO week",
        ),
        (
            lambda ws: ws.add_item("risk", "x", week="2024-W54", by="ana"),
            InputError,
            r"^cannot read period '2024-W54': 2024 has no ISO week 54$",
        ),
        (
            lambda ws: ws.add_item("risk", "x", by=""),
            InputError,
            r"^say who makes the change \(by: a user id or name\)$",
        ),
        (
            lambda ws: ws.update_item("I-1", status="closed", by="ana"),
            InputError,
            r"^unknown status 'closed': expected open, done or dropped$",
        ),
        (
            lambda ws: ws.update_item("I-99", status="done", by="ana"),
            InputError,
            r"^no item I-99: `quarterdeck meeting show` lists the open items$",
        ),
        (
            lambda ws: ws.note_item("item one", "x", by="ana"),
            InputError,
            r"^item id 'item one': expected an id such as I-3$",
        ),
        (
            lambda ws: ws.update_item("I-1", by="ana"),
            InputError,
            r"^nothing to change: give at least one of kind, title, owner, side, status, "
            r"due, deals, metric$",
        ),
        (
            lambda ws: ws.update_item("I-1", colour="red", by="ana"),
            InputError,
            r"^cannot change 'colour': an item's fields are kind, title, owner",
        ),
        (
            lambda ws: ws.update_item("I-1", title="", by="ana"),
            InputError,
            r"^an item needs a title",
        ),
        (
            lambda ws: ws.note_item("I-1", "  ", by="ana"),
            InputError,
            r"^a note needs some text: what progress was made\?$",
        ),
        (
            lambda ws: ws.close_item("I-1", "open", by="ana"),
            InputError,
            r"^an item is closed as done or dropped, not 'open'$",
        ),
        (
            lambda ws: ws.set_notes(" ", week="2024-W27"),
            InputError,
            r"^meeting notes need some text$",
        ),
    ],
)
def test_validation_messages(
    local: Workspace, call: Any, error: type[Exception], message: str
) -> None:
    local.add_item("risk", "Acme at risk", by="ana", now=at(1, 9))
    before = {t: count(local, t) for t in ("meetings", "items", "item_updates")}
    with pytest.raises(error, match=message):
        call(local)
    assert {t: count(local, t) for t in before} == before


def test_meetings_are_held_in_week_order(local: Workspace) -> None:
    local.mark_held("2024-W28", now=at(8, 15))
    with pytest.raises(
        DataError,
        match=r"^meeting 2024-W28 was already held \(on 2024-07-08 15:00\), so the earlier "
        r"meeting 2024-W27 can no longer be marked held$",
    ):
        local.mark_held("2024-W27", now=at(9, 9))
    with pytest.raises(
        DataError,
        match=r"^meeting 2024-W29 cannot be marked held at 2024-07-08 14:00: the earlier "
        r"meeting 2024-W28 was held later, on 2024-07-08 15:00$",
    ):
        local.mark_held("2024-W29", now=at(8, 14))
    with pytest.raises(InputError, match=r"^a meeting is held in a week, not in quarter"):
        local.mark_held(Period.parse("2024-Q3"), now=at(9, 9))


# -- nothing half-written ----------------------------------------------------------------


def test_a_failed_write_leaves_nothing(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws.add_item("risk", "Acme at risk", by="ana", owner="bob", now=at(1, 9))
    before = {t: count(ws, t) for t in ("meetings", "items", "item_updates")}
    real = ws.store.insert

    def failing(table: str, rows: Any, constants: Any = None) -> None:
        if table == "item_updates":
            raise RuntimeError("disk full")
        real(table, rows, constants)

    monkeypatch.setattr(ws.store, "insert", failing)
    # A new item in a new meeting: the meeting and the item were written before the failure.
    with pytest.raises(RuntimeError, match="disk full"):
        ws.add_item("action", "Send pricing", by="ana", week="2024-W30", now=at(2, 9))
    # A change: the item's row was replaced before its updates failed.
    with pytest.raises(RuntimeError, match="disk full"):
        ws.update_item("I-1", owner="carl", by="ceo", now=at(2, 10))
    monkeypatch.setattr(ws.store, "insert", real)
    assert {t: count(ws, t) for t in before} == before
    assert ws.item("I-1", now=at(3, 9)).item.owner == "bob"
    assert not ws.meeting("2024-W30").stored


_KILLED_WRITE = """
import os, sys
from datetime import datetime
from quarterdeck.workspace import Workspace

ws = Workspace(sys.argv[1])
real = ws.store.insert

def dying(table, rows, constants=None):
    if table == "item_updates":
        os._exit(9)  # killed after the meeting and the item rows were written
    real(table, rows, constants)

ws.store.insert = dying
ws.add_item("risk", "Globex at risk", by="ana", week="2024-W30", now=datetime(2024, 7, 2, 9))
"""


def test_a_killed_write_leaves_nothing(tmp_path: Path) -> None:
    db = tmp_path / "q.duckdb"
    with Workspace(db) as ws:
        ws.add_item("risk", "Acme at risk", by="ana", now=at(1, 9))
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITE, str(db)], check=False)
    assert done.returncode == 9
    with Workspace(db) as ws:
        assert [count(ws, t) for t in ("meetings", "items", "item_updates")] == [1, 1, 3]
        assert not ws.meeting("2024-W30").stored


def test_writers_at_the_same_time_get_distinct_ids(pg: Workspace) -> None:
    ws = pg
    url = ws.store.location
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            with Workspace(url) as other:
                for n in range(5):
                    other.add_item("action", f"{who} {n}", by=who, now=at(1, 9))
                    other.record_call("1", "2", by=who, now=at(1, 9))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(who,)) for who in ("ana", "ceo")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    items = ws.store.to_arrow(ws.store.table("items").select("item_id")).column(0).to_pylist()
    assert sorted(items, key=lambda i: int(i[2:])) == [f"I-{n}" for n in range(1, 11)]
    assert [c.call_id for c in ws.calls().calls] == [f"C-{n}" for n in range(1, 11)]
    # Each item starts with three updates: kind, title and status.
    assert count(ws, "meetings") == 1 and count(ws, "item_updates") == 10 * 3


# -- the command line --------------------------------------------------------------------


def this_week() -> Period:
    return Period.containing(datetime.now(UTC).date(), "week")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``cli("meeting", "show")`` runs the command in-process on a fresh database."""
    db = tmp_path / "q.duckdb"
    with Workspace(db) as ws:
        put_deals(ws.store)
    monkeypatch.setenv("QUARTERDECK_USER", "ana")
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(app, ["--db", str(db), *args])
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    run.db = db  # type: ignore[attr-defined]
    return run


def test_cli_items_through_a_week(cli: Any) -> None:
    week = this_week().label
    added = cli("meeting", "add", "risk", "Acme [renewal] at risk", "--owner", "bob",
                "--side", "leader", "--due", "2024-07-15", "--deal", "D1", "--deal", "D3")  # fmt: skip
    assert added.output == f"Added I-1 (risk) to meeting {week}: Acme [renewal] at risk.\n"
    cli("meeting", "add", "action", "Send pricing", "--by", "ceo")
    cli("meeting", "add", "initiative", "Ramp new reps", "--metric", "ramp", "--side", "leader")
    updated = cli("meeting", "update", "I-1", "--due", "2024-07-22", "--owner", "carl")
    assert updated.output == ("Updated I-1: owner bob -> carl; due 2024-07-15 -> 2024-07-22.\n")
    assert cli("meeting", "update", "I-1", "--owner", "carl").output == (
        "Nothing changed: I-1 already says that.\n"
    )
    assert cli("meeting", "note", "1", "Champion left", "--by", "bob").output == ("Noted on I-1.\n")
    assert cli("meeting", "done", "I-2").output == "I-2 is done: Send pricing.\n"
    assert cli("meeting", "drop", "I-3", "--note", "No budget").output == (
        "I-3 is dropped: Ramp new reps.\n"
    )

    shown = cli("meeting", "show").output
    lines = shown.splitlines()
    assert lines[0] == (
        f"Meeting {week} (week of {this_week().start}): not held yet. "
        "Changes since the record began."
    )
    assert lines[1] == "Risks: 1."
    assert lines[2] == (
        f"  I-1 Acme [renewal] at risk: open, owner carl, due 2024-07-22 (overdue), "
        f"raised by the leader, new in {week}."
    )
    assert lines[3:5] == [
        "    deal Acme renewal was won on 2024-07-03.",
        "    deal Initech new logo is open in stage Proposal, expected to close on 2024-09-30.",
    ]
    assert lines[5].endswith(" ana: owner bob -> carl")
    assert lines[6].endswith(" ana: due 2024-07-15 -> 2024-07-22")
    assert lines[7].endswith(" bob: Champion left")
    assert "Initiatives: none." in lines and "Actions: none." in lines
    assert "Closed since the last meeting: 2." in lines
    assert any(line.startswith("  I-2 (action) Send pricing: done on ") for line in lines)

    payload = json.loads(cli("meeting", "show", "--json").output)
    assert payload["meeting"]["meeting_id"] == week and payload["meeting"]["created_at"]
    assert [i["item_id"] for i in payload["open"]["risk"]] == ["I-1"]
    assert payload["open"]["risk"][0]["deals"][0]["outcome"] == "won"
    assert [i["item_id"] for i in payload["closed_since_last_meeting"]] == ["I-2", "I-3"]

    history = json.loads(cli("meeting", "item", "I-1", "--json").output)["updates"]
    assert {u["by"] for u in history} == {"ana", "bob"}  # QUARTERDECK_USER, then --by

    held = cli("meeting", "held").output
    assert held.startswith(f"Meeting {this_week().label} marked held at ")
    after = cli("meeting", "show").output.splitlines()
    next_week = this_week().next()
    assert after[0].startswith(f"Meeting {next_week.label} (week of {next_week.start}): not held")
    assert f"raised by the leader, carried from {week}." in after[2]
    assert "Closed since the last meeting: none." in after


def test_cli_calls(cli: Any) -> None:
    recorded = cli("meeting", "call", "--commit", "1200000", "--best-case", "1500000",
                   "--period", "2024-Q3", "--note", "Acme in")  # fmt: skip
    assert recorded.output.startswith("Recorded call C-1: ")
    assert recorded.output.endswith(
        ' ana: commit 1,200,000.00, best case 1,500,000.00 for 2024-Q3. "Acme in"\n'
    )
    cli("meeting", "call", "--commit", "1100000", "--best-case", "1600000", "--period", "2024-Q3")
    payload = json.loads(cli("meeting", "calls", "--period", "2024-Q3", "--json").output)
    assert [c["call_id"] for c in payload["calls"]] == ["C-1", "C-2"]
    assert [(c["call_id"], c["commit"], c["best_case"]) for c in payload["latest"]] == [
        ("C-2", "1100000.00", "1600000.00")
    ]
    text = cli("meeting", "calls").output.splitlines()
    assert text[-1].startswith(
        "Latest for 2024-Q3: commit 1,100,000.00, best case 1,600,000.00 (C-2, "
    )
    assert (
        cli("meeting", "calls", "--period", "2023-Q1").output == "No forecast calls for 2023-Q1.\n"
    )


def test_cli_notes_and_the_login_name(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUARTERDECK_USER")
    monkeypatch.setattr("getpass.getuser", lambda: "login-name")
    cli("meeting", "add", "issue", "Why did Globex slip?", "--side", "ceo")
    history = json.loads(cli("meeting", "item", "I-1", "--json").output)["updates"]
    assert {u["by"] for u in history} == {"login-name"}
    week = this_week().label
    assert cli("meeting", "notes", "Hire two reps").output == f"Notes of meeting {week} saved.\n"
    cli("meeting", "notes", "Review pricing")
    payload = json.loads(cli("meeting", "show", "--json", "--week", week).output)
    assert payload["meeting"]["notes"] == "Hire two reps\nReview pricing"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["add", "threat", "x"], 2, "error: unknown item kind 'threat': expected risk, "),
        (["add", "risk", "x", "--due", "15/07/2024"], 2, "error: --due '15/07/2024': expected"),
        (["add", "risk", "x", "--deal", "D9"], 2, "error: unknown deal 'D9': no deal with"),
        (["update", "I-7", "--status", "done"], 2, "error: no item I-7: "),
        (["show", "--week", "soon"], 2, "error: cannot read week 'soon': "),
        (["call", "--commit", "10", "--best-case", "5"], 2, "error: best case (5.00) must be"),
    ],
)
def test_cli_errors_are_one_clean_line(
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.setattr(sys, "argv", ["quarterdeck", "--db", str(cli.db), "meeting", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    assert exit_.value.code == code
    assert captured.err.startswith(message), captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_cli_frozen_notes_is_a_data_error(
    cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli("meeting", "held")
    monkeypatch.setattr(
        sys, "argv", ["quarterdeck", "--db", str(cli.db), "meeting", "notes", "Too late"]
    )
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 3
    assert capsys.readouterr().err.startswith(f"error: meeting {this_week().label} was held on ")


def test_the_week_of_a_day() -> None:
    from quarterdeck.meeting import week_of

    # Sunday 2024-07-07 is in the week of Monday 2024-07-01; 2024-12-30 is in 2025-W01.
    assert week_of("2024-07-07").label == "2024-W27"
    assert week_of(date(2024, 12, 30)).label == "2025-W01"
    assert week_of("2024w27").start == date(2024, 7, 1)
    assert week_of(None, now=at(1, 0) - timedelta(seconds=1)).label == "2024-W26"
