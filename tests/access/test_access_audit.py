"""The audit log: every change to items, calls, meetings, targets, settings and logins
with who, when, and the object before and after; written in the change's transaction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from access_company import NOW, PASSWORD, viewer

from quarterdeck.errors import InputError
from quarterdeck.workspace import Workspace

T1 = datetime(2024, 8, 20, 10, 0)
T2 = datetime(2024, 8, 21, 11, 30)


def test_an_item_update_records_before_and_after(company: Workspace) -> None:
    item = company.add_item("risk", "D1 champion left", by="lee", owner="u1", deals=["D1"], now=T1)
    company.update_item(item.item_id, due="2024-09-15", owner="m1", by="lee", now=T2)
    update, add = company.audit(kind="item")
    assert (add.kind, add.object_id, add.action, add.who, add.at) == (
        "item", "I-1", "add", "lee", T1,
    )  # fmt: skip
    assert add.before is None
    assert add.after is not None and add.after["title"] == "D1 champion left"
    assert (update.action, update.who, update.at) == ("update", "lee", T2)
    assert update.changed() == {
        "due": (None, "2024-09-15"),
        "owner": ("u1", "m1"),
        "updated_at": ("2024-08-20T10:00:00", "2024-08-21T11:30:00"),
    }
    assert update.before is not None and update.before["deal_ids"] == ["D1"]


def test_every_kind_of_change_is_logged(company: Workspace) -> None:
    lee = viewer(company, "lee@example.com")
    item = lee.add_item("action", "Call Acme", by="Lee", now=T1)
    lee.note_item(item.item_id, "Left a message", by="Lee", now=T1)
    lee.close_item(item.item_id, "done", by="Lee", now=T2)
    lee.record_call("6000.00", "9000", by="lee@example.com", period="2024-Q3", now=T1)
    lee.set_notes("Hire two reps in east.", week="2024-W34", now=T1)
    lee.mark_held(week="2024-W34", now=T2)
    lee.set_target("2024-Q3", "2500", scope="rep", scope_id="u1", by="lee", now=T2)
    lee.set_target("2024-Q3", None, scope="segment", scope_id="SMB", by="lee", now=T2)
    lee.settings.set("risk.quiet_days", 21)
    lee.settings.set("risk.quiet_days", None)
    entries = list(reversed(company.audit()))
    summary = [(e.kind, e.object_id, e.action, e.who) for e in entries]
    logins = [("login", f"{n}@example.com", "add", "setup")
              for n in ("rita", "mona", "max", "cleo", "admin", "lee")]  # fmt: skip
    lee_ = "lee@example.com"
    assert summary == [
        *logins,
        ("item", "I-1", "add", lee_),
        ("item", "I-1", "note", lee_),
        ("item", "I-1", "close", lee_),
        ("call", "C-1", "record", lee_),
        ("meeting", "2024-W34", "notes", lee_),
        ("meeting", "2024-W34", "hold", lee_),
        ("target", "2024-Q3 rep u1", "set", lee_),
        ("target", "2024-Q3 segment SMB", "unset", lee_),
        ("setting", "risk.quiet_days", "set", lee_),
        ("setting", "risk.quiet_days", "unset", lee_),
    ]
    by_action = {(e.kind, e.action): e for e in entries}
    note = by_action[("item", "note")]
    assert note.after is not None and note.after["note"] == "Left a message"
    close = by_action[("item", "close")]
    assert close.changed()["status"] == ("open", "done")
    call = by_action[("call", "record")]
    assert call.before is None and call.after is not None
    assert (call.after["commit"], call.after["best_case"]) == ("6000.00", "9000.00")
    held = by_action[("meeting", "hold")]
    assert held.changed()["held_at"] == (None, "2024-08-21T11:30:00")
    target = by_action[("target", "set")]
    assert target.changed()["amount"] == ("2000.00", "2500.00")
    removed = by_action[("target", "unset")]
    assert removed.before is not None and removed.before["amount"] == "3000.00"
    assert removed.after is None
    setting = by_action[("setting", "set")]
    assert (setting.before, setting.after) == (None, {"value": 21})
    assert by_action[("setting", "unset")].before == {"value": 21}
    # No password and no hash is ever logged.
    assert not any("password_hash" in str(e.as_dict()) for e in entries)
    assert not any(PASSWORD in str(e.as_dict()) for e in entries)


def test_a_login_change_is_logged_without_the_password(duck: Workspace) -> None:
    duck.update_login("rita@example.com", role="manager", password="x" * 12, by="ops", now=T1)
    [entry] = duck.audit(kind="login", limit=1)
    assert (entry.object_id, entry.action, entry.who) == ("rita@example.com", "update", "ops")
    assert entry.changed() == {
        "role": ("rep", "manager"),
        "password_changed": (None, True),
        "updated_at": ("2024-08-20T09:00:00", "2024-08-20T10:00:00"),
    }


def test_nothing_changed_logs_nothing(duck: Workspace) -> None:
    item = duck.add_item("risk", "D1", by="lee", owner="u1", now=T1)
    before = len(duck.audit())
    duck.update_item(item.item_id, owner="u1", by="lee", now=T2)
    duck.set_target("2024-Q3", "2000.00", scope="rep", scope_id="u1", by="lee", now=T2)
    assert len(duck.audit()) == before


def test_a_failed_audit_write_undoes_the_change(
    duck: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = duck.add_item("risk", "D1", by="lee", owner="u1", now=T1)
    real = duck.store.insert

    def failing(table: str, rows: Any, constants: Any = None, **options: Any) -> None:
        if table == "audit_log":
            raise RuntimeError("disk full")
        real(table, rows, constants, **options)

    monkeypatch.setattr(duck.store, "insert", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        duck.update_item(item.item_id, title="Changed", by="lee", now=T2)
    with pytest.raises(RuntimeError, match="disk full"):
        duck.set_target("2024-Q3", "1", by="lee", now=T2)
    monkeypatch.setattr(duck.store, "insert", real)
    assert duck.item(item.item_id).item.title == "D1"
    company = [t.amount for t in duck.targets("2024-Q3") if t.scope == "company"]
    assert company == [Decimal("20000.00")]


def test_who_sees_the_log(duck: Workspace) -> None:
    assert viewer(duck, "rita@example.com").audit() == []
    assert len(viewer(duck, "cleo@example.com").audit(limit=3)) == 3
    with pytest.raises(InputError, match="unknown audit kind 'deal'"):
        duck.audit(kind="deal")
    with pytest.raises(InputError, match="expected a whole number"):
        duck.audit(limit=0)


def test_newest_first(duck: Workspace) -> None:
    duck.add_item("risk", "first", by="a", owner="u1", now=NOW)
    duck.add_item("risk", "second", by="b", owner="u1", now=NOW)
    assert [e.who for e in duck.audit(kind="item")] == ["b", "a"]
