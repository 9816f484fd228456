"""Meeting items: risks, initiatives, issues and actions, with the history of every change.

An item is raised in a meeting and lives until it is marked done or dropped, carried from
week to week meanwhile. Every change of one of its fields is kept in ``item_updates``
(who, when, the old and the new value), as are progress notes (field ``note``), and an
item's first values are kept there too (with no old value), so the item as it stood at
any past moment can be rebuilt from its updates (``item_as_of``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from quarterdeck.errors import DataError, InputError
from quarterdeck.meeting.meetings import WeekLike, current_week, ensure_meeting, week_of
from quarterdeck.meeting.tables import insert_rows, moment, read_rows, replace_rows, writing
from quarterdeck.store import Store

__all__ = [
    "CHANGEABLE",
    "CLOSED",
    "KINDS",
    "SIDES",
    "STATUSES",
    "Item",
    "ItemChange",
    "ItemUpdate",
    "LinkedDeal",
    "NewItem",
    "add_item",
    "close_item",
    "is_creation",
    "item_as_of",
    "item_key",
    "linked_deals",
    "load_item",
    "load_items",
    "load_updates",
    "note_item",
    "update_item",
]

KINDS = ("risk", "initiative", "issue", "action")
"""risk: a mitigation of a deal or account in jeopardy; initiative: what the sales leader
works on aside from selling; issue: a flag or question either side raises; action: a to-do."""

STATUSES = ("open", "done", "dropped")
CLOSED = ("done", "dropped")
SIDES = ("ceo", "leader")

CHANGEABLE: dict[str, str] = {
    "kind": "kind",
    "title": "title",
    "owner": "owner_id",
    "side": "side",
    "status": "status",
    "due": "due",
    "deals": "deal_ids",
    "metric": "metric",
}
"""What ``update_item`` can change, and the column (and ``item_updates.field``) of each."""

_LABELS = {"owner_id": "owner", "deal_ids": "deals"}
_ITEM_ID = re.compile(r"^(?:I-?)?(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    """A risk, initiative, issue or action: what it is, who owns it, where it stands.

    ``meeting_id`` is the meeting it was raised in; ``side`` who raised it (ceo or
    leader); ``deal_ids`` the deals it is about; ``metric`` a metric that shows progress.
    """

    item_id: str
    kind: str
    title: str
    owner: str | None
    side: str | None
    status: str
    due: date | None
    deal_ids: tuple[str, ...]
    metric: str | None
    meeting_id: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def number(self) -> int:
        """The number in the id (I-12 -> 12), for ordering items as they were raised."""
        match = _ITEM_ID.match(self.item_id)
        return int(match.group(1)) if match else 0

    def value(self, column: str) -> Any:
        """The value of an ``items`` column (owner_id, deal_ids...) of this item."""
        if column == "owner_id":
            return self.owner
        return getattr(self, column)

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "kind": self.kind,
            "title": self.title,
            "owner": self.owner,
            "side": self.side,
            "status": self.status,
            "due": self.due.isoformat() if self.due else None,
            "deal_ids": list(self.deal_ids),
            "metric": self.metric,
            "meeting_id": self.meeting_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Item:
        return cls(
            item_id=row["item_id"],
            kind=row["kind"],
            title=row["title"],
            owner=row["owner_id"],
            side=row["side"],
            status=row["status"],
            due=row["due"],
            deal_ids=_typed("deal_ids", row["deal_ids"]),
            metric=row["metric"],
            meeting_id=row["meeting_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            closed_at=row["closed_at"],
        )

    def row(self) -> dict[str, Any]:
        """The item as a row of the ``items`` table."""
        return {
            "item_id": self.item_id,
            "kind": self.kind,
            "title": self.title,
            "owner_id": self.owner,
            "side": self.side,
            "status": self.status,
            "due": self.due,
            "deal_ids": _text("deal_ids", self.deal_ids),
            "metric": self.metric,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "meeting_id": self.meeting_id,
            "closed_at": self.closed_at,
        }


@dataclass(frozen=True)
class ItemUpdate:
    """One change of one field of an item, or a progress note (``field`` is ``note``).

    Values are text: dates as YYYY-MM-DD, linked deals as comma-separated ids.
    ``meeting_id`` is the meeting the change belongs to: the current meeting when it
    was made.
    """

    item_id: str
    at: datetime
    by: str | None
    field: str
    old_value: str | None
    new_value: str | None
    meeting_id: str | None
    seq: int

    @property
    def is_note(self) -> bool:
        return self.field == "note"

    def what(self) -> str:
        """What changed: 'due 2024-07-15 -> 2024-07-22', 'owner set to bob', or the note."""
        if self.is_note:
            return str(self.new_value)
        name = _LABELS.get(self.field, self.field)
        if self.old_value is None:
            return f"{name} set to {self.new_value}"
        return f"{name} {self.old_value} -> {self.new_value or '(none)'}"

    def sentence(self) -> str:
        """The update in a few words: '2024-07-05 ana: due 2024-07-15 -> 2024-07-22'."""
        return f"{self.at:%Y-%m-%d} {self.by or 'someone'}: {self.what()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "at": self.at.isoformat(),
            "by": self.by,
            "field": self.field,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "meeting_id": self.meeting_id,
            "seq": self.seq,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ItemUpdate:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ItemChange:
    """An item after a change, and the updates the change recorded (none if nothing
    differed from what the item already said)."""

    item: Item
    updates: tuple[ItemUpdate, ...]


@dataclass(frozen=True)
class LinkedDeal:
    """A deal an item is about, as it stands now: so a report can say the deal was won."""

    deal_id: str
    name: str | None
    stage: str | None
    is_closed: bool
    is_won: bool
    close_date: date | None
    amount: Decimal | None
    found: bool = True

    @property
    def outcome(self) -> str:
        """won, lost, open, or missing (the deal is no longer in the database)."""
        if not self.found:
            return "missing"
        if self.is_closed:
            return "won" if self.is_won else "lost"
        return "open"

    def sentence(self) -> str:
        """'deal Acme renewal was won on 2024-07-03', and the like."""
        label = self.name or self.deal_id
        on = f" on {self.close_date}" if self.close_date else ""
        if self.outcome == "missing":
            return f"deal {self.deal_id} is no longer in the database"
        if self.outcome in ("won", "lost"):
            return f"deal {label} was {self.outcome}{on}"
        closing = f", expected to close on {self.close_date}" if self.close_date else ""
        return f"deal {label} is open in stage {self.stage or '(none)'}{closing}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "deal_id": self.deal_id,
            "name": self.name,
            "stage": self.stage,
            "outcome": self.outcome,
            "close_date": self.close_date.isoformat() if self.close_date else None,
            "amount": None if self.amount is None else str(self.amount),
        }


@dataclass(frozen=True)
class NewItem:
    """What raising an item takes. ``week`` is the meeting it is raised in (default: the
    current meeting); ``deals`` are deal ids that must exist."""

    kind: str
    title: str
    owner: str | None = None
    side: str | None = None
    due: date | str | None = None
    deals: Sequence[str] | str = ()
    metric: str | None = None
    week: WeekLike = None


# -- values ------------------------------------------------------------------------------


def _text(column: str, value: Any) -> str | None:
    """A field's value as ``item_updates`` keeps it."""
    if value is None:
        return None
    if column == "due":
        return str(value.isoformat())
    if column == "deal_ids":
        return ",".join(value) or None
    return str(value)


def _typed(column: str, text: str | None) -> Any:
    """The inverse of ``_text``."""
    if column == "deal_ids":
        return tuple(text.split(",")) if text else ()
    if column == "due" and text is not None:
        return date.fromisoformat(text)
    return text


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in choices:
        listed = ", ".join(choices[:-1]) + f" or {choices[-1]}"
        raise InputError(f"unknown {what} {value!r}: expected {listed}")
    return str(text)


def _optional_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{what} must be text, not {value!r}")
    return value.strip() or None


def _title(value: Any) -> str:
    title = _optional_text(value, "the title")
    if title is None:
        raise InputError("an item needs a title: say in a few words what it is about")
    return title


def _due(value: Any) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"due date {value!r}: expected a date as YYYY-MM-DD")


def _deal_ids(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    values = value.split(",") if isinstance(value, str) else list(value)
    ids: list[str] = []
    for raw in values:
        if not isinstance(raw, str):
            raise InputError(f"deal id {raw!r}: expected text")
        text = raw.strip()
        if text and text not in ids:
            ids.append(text)
    return tuple(ids)


def _who(by: Any) -> str:
    who = _optional_text(by, "who made the change")
    if who is None:
        raise InputError("say who makes the change (by: a user id or name)")
    return who


def _clean(column: str, value: Any) -> Any:
    """A value for ``column`` checked and typed, or an InputError that says what is wrong."""
    if column == "kind":
        return _choice(value, KINDS, "item kind")
    if column == "status":
        return _choice(value, STATUSES, "status")
    if column == "side":
        blank = value is None or (isinstance(value, str) and not value.strip())
        return None if blank else _choice(value, SIDES, "side")
    if column == "title":
        return _title(value)
    if column == "due":
        return _due(value)
    if column == "deal_ids":
        return _deal_ids(value)
    return _optional_text(value, _LABELS.get(column, column))


def item_key(text: Any) -> str:
    """An item id as the user typed it (I-3, i-3, I3 or 3) in its stored form, I-3."""
    match = _ITEM_ID.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InputError(f"item id {text!r}: expected an id such as I-3")
    return f"I-{int(match.group(1))}"


# -- reading -----------------------------------------------------------------------------


def load_item(store: Store, item_id: str) -> Item:
    """The item ``item_id`` as it is now, or an InputError if there is none."""
    key = item_key(item_id)
    table = store.table("items")
    rows = read_rows(store, table.filter(table.item_id == key))
    if not rows:
        raise InputError(f"no item {key}: `quarterdeck meeting show` lists the open items")
    return Item.from_row(rows[0])


def load_items(store: Store, expr_filter: Any = None) -> list[Item]:
    """Items (all, or those ``expr_filter(items_table)`` keeps), in the order raised."""
    table = store.table("items")
    expr = table if expr_filter is None else table.filter(expr_filter(table))
    return sorted((Item.from_row(r) for r in read_rows(store, expr)), key=lambda i: i.number)


def load_updates(
    store: Store, item_ids: Iterable[str], until: datetime | None = None
) -> dict[str, list[ItemUpdate]]:
    """The updates of each of ``item_ids`` (up to ``until``), in the order they were made."""
    ids = sorted(set(item_ids))
    found: dict[str, list[ItemUpdate]] = {i: [] for i in ids}
    if not ids:
        return found
    table = store.table("item_updates")
    expr = table.filter(table.item_id.isin(ids))
    if until is not None:
        expr = expr.filter(table.at <= until)
    for row in read_rows(store, expr):
        found[row["item_id"]].append(ItemUpdate.from_row(row))
    for updates in found.values():
        updates.sort(key=lambda u: (u.at, u.seq))
    return found


def linked_deals(store: Store, deal_ids: Iterable[str]) -> dict[str, LinkedDeal]:
    """Each of ``deal_ids`` as it stands now in ``deals``; ids not found there are marked."""
    ids = sorted(set(deal_ids))
    if not ids:
        return {}
    deals = store.table("deals")
    expr = deals.filter(deals.deal_id.isin(ids)).select(
        "deal_id", "name", "stage", "is_closed", "is_won", "close_date", "amount"
    )
    found = {
        r["deal_id"]: LinkedDeal(
            deal_id=r["deal_id"],
            name=r["name"],
            stage=r["stage"],
            is_closed=bool(r["is_closed"]),
            is_won=bool(r["is_won"]),
            close_date=r["close_date"],
            amount=r["amount"],
        )
        for r in read_rows(store, expr)
    }
    missing = LinkedDeal("", None, None, False, False, None, None, found=False)
    return {i: found.get(i) or replace(missing, deal_id=i) for i in ids}


def _check_deals(store: Store, ids: tuple[str, ...]) -> None:
    unknown = [d for d, deal in linked_deals(store, ids).items() if not deal.found]
    if unknown:
        names = ", ".join(repr(d) for d in unknown)
        noun = "deal" if len(unknown) == 1 else "deals"
        raise InputError(f"unknown {noun} {names}: no deal with that id in the database")


def is_creation(update: ItemUpdate, item: Item) -> bool:
    """Whether ``update`` records one of the item's first values rather than a change."""
    return update.at == item.created_at and update.old_value is None and not update.is_note


def item_as_of(item: Item, updates: Sequence[ItemUpdate], when: datetime) -> Item:
    """``item`` as it stood at ``when``, by undoing its later changes (``updates`` in
    the order made). An item raised after ``when`` stands as it was raised."""
    cutoff = max(when, item.created_at)
    values = {column: item.value(column) for column in CHANGEABLE.values()}
    for update in reversed(updates):
        if update.at > cutoff and not update.is_note and update.field in values:
            values[update.field] = _typed(update.field, update.old_value)
    closed_at: datetime | None = None
    status: str | None = None
    for update in updates:
        if update.at > cutoff or update.field != "status":
            continue
        if update.new_value in CLOSED and status not in CLOSED:
            closed_at = update.at
        elif update.new_value not in CLOSED:
            closed_at = None
        status = update.new_value
    if values["status"] in CLOSED and closed_at is None:
        closed_at = item.closed_at  # an item whose closing was not recorded as an update
    seen = [u.at for u in updates if u.at <= cutoff]
    return replace(
        item,
        kind=values["kind"],
        title=values["title"],
        owner=values["owner_id"],
        side=values["side"],
        status=values["status"],
        due=values["due"],
        deal_ids=values["deal_ids"],
        metric=values["metric"],
        updated_at=max(seen, default=item.created_at),
        closed_at=closed_at if values["status"] in CLOSED else None,
    )


# -- writing -----------------------------------------------------------------------------


def _next_item_number(store: Store) -> int:
    rows = read_rows(store, store.table("items").select("item_id"))
    numbers = [int(m.group(1)) for r in rows if (m := _ITEM_ID.match(r["item_id"]))]
    return max(numbers, default=0) + 1


def _write_updates(
    store: Store,
    item_id: str,
    changes: Sequence[tuple[str, str | None, str | None]],
    by: str,
    at: datetime,
    meeting_id: str,
) -> tuple[ItemUpdate, ...]:
    first = store.next_value("item_updates", "seq") + 1
    updates = tuple(
        ItemUpdate(item_id, at, by, field, old, new, meeting_id, first + n)
        for n, (field, old, new) in enumerate(changes)
    )
    insert_rows(store, "item_updates", [u.as_dict() | {"at": u.at} for u in updates])
    return updates


def add_item(store: Store, request: NewItem, *, by: str, now: datetime | None = None) -> Item:
    """Raise an item in a meeting (storing the meeting if needed) and record its first
    values as updates by ``by``. Returns the item with its new id (I-1, I-2, ...)."""
    now = moment(now)
    who = _who(by)
    values = {
        "kind": _clean("kind", request.kind),
        "title": _clean("title", request.title),
        "owner_id": _clean("owner_id", request.owner),
        "side": _clean("side", request.side),
        "status": "open",
        "due": _clean("due", request.due),
        "deal_ids": _clean("deal_ids", request.deals),
        "metric": _clean("metric", request.metric),
    }
    explicit_week = None if request.week is None else week_of(request.week)
    with writing(store):
        _check_deals(store, values["deal_ids"])
        week = explicit_week or current_week(store, now)
        raised_in = ensure_meeting(store, week, now)
        item = Item(
            item_id=f"I-{_next_item_number(store)}",
            kind=values["kind"],
            title=values["title"],
            owner=values["owner_id"],
            side=values["side"],
            status="open",
            due=values["due"],
            deal_ids=values["deal_ids"],
            metric=values["metric"],
            meeting_id=raised_in.meeting_id,
            created_at=now,
            updated_at=now,
            closed_at=None,
        )
        insert_rows(store, "items", [item.row()])
        first = [(c, None, _text(c, v)) for c, v in values.items() if _text(c, v) is not None]
        _write_updates(store, item.item_id, first, who, now, raised_in.meeting_id)
    return item


def _change(
    store: Store,
    item_id: str,
    values: Mapping[str, Any],
    by: str,
    now: datetime,
    note: str | None = None,
    refuse_closed: bool = False,
) -> ItemChange:
    """Apply checked ``values`` (by column) and an optional note to an item, recording
    each field that differs; all in one transaction."""
    with writing(store):
        item = load_item(store, item_id)
        if refuse_closed and item.status in CLOSED:
            since = f" since {item.closed_at:%Y-%m-%d}" if item.closed_at else ""
            raise DataError(f"item {item.item_id} is already {item.status}{since}")
        if values.get("deal_ids"):
            _check_deals(store, values["deal_ids"])
        changes = [
            (column, _text(column, item.value(column)), _text(column, value))
            for column, value in values.items()
            if _text(column, value) != _text(column, item.value(column))
        ]
        if note is not None:
            changes.append(("note", None, note))
        if not changes:
            return ItemChange(item, ())
        status = values.get("status", item.status)
        closed_at = item.closed_at
        if status in CLOSED and item.status not in CLOSED:
            closed_at = now
        elif status not in CLOSED:
            closed_at = None
        changed = replace(
            item,
            kind=values.get("kind", item.kind),
            title=values.get("title", item.title),
            owner=values.get("owner_id", item.owner),
            side=values.get("side", item.side),
            status=status,
            due=values.get("due", item.due),
            deal_ids=values.get("deal_ids", item.deal_ids),
            metric=values.get("metric", item.metric),
            updated_at=now,
            closed_at=closed_at,
        )
        replace_rows(store, "items", [changed.row()])
        meeting_id = current_week(store, now).label
        updates = _write_updates(store, item.item_id, changes, by, now, meeting_id)
    return ItemChange(changed, updates)


def update_item(
    store: Store,
    item_id: str,
    changes: Mapping[str, Any],
    *,
    by: str,
    now: datetime | None = None,
    note: str | None = None,
) -> ItemChange:
    """Change fields of an item (names as in ``CHANGEABLE``: kind, title, owner, side,
    status, due, deals, metric; None clears owner, side, due or metric), recording each
    field that differs with who, when, the old and the new value."""
    now = moment(now)
    who = _who(by)
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise InputError(
            f"cannot change {', '.join(map(repr, unknown))}: an item's fields are "
            f"{', '.join(CHANGEABLE)}"
        )
    if not changes and note is None:
        raise InputError(f"nothing to change: give at least one of {', '.join(CHANGEABLE)}")
    values = {CHANGEABLE[name]: _clean(CHANGEABLE[name], v) for name, v in changes.items()}
    text = None if note is None else _note(note)
    return _change(store, item_id, values, who, now, text)


def _note(text: Any) -> str:
    note = _optional_text(text, "a note")
    if note is None:
        raise InputError("a note needs some text: what progress was made?")
    return note


def note_item(
    store: Store, item_id: str, text: str, *, by: str, now: datetime | None = None
) -> ItemUpdate:
    """Record a progress note on an item (an update of field ``note``)."""
    change = _change(store, item_id, {}, _who(by), moment(now), _note(text))
    return change.updates[-1]


def close_item(
    store: Store,
    item_id: str,
    status: str = "done",
    *,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> ItemChange:
    """Mark an open item done or dropped, with an optional closing note."""
    closing = _choice(status, STATUSES, "status")
    if closing not in CLOSED:
        raise InputError(f"an item is closed as done or dropped, not {status!r}")
    text = None if note is None else _note(note)
    return _change(
        store, item_id, {"status": closing}, _who(by), moment(now), text, refuse_closed=True
    )
