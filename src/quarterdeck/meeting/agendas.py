"""The agenda of a meeting: what is open, what closed since the last meeting, what changed.

The agenda of week W looks back to the *previous meeting*: the last meeting held before
W's week. Its window runs from that meeting's ``held_at`` (``since``; from the start of the
record if none was held) to ``until``: W's own ``held_at`` once W is held, else the earlier
of now and the end of W's week. Then:

* *open* items are those raised in W or an earlier meeting that stood open at ``until``
  (*carried* when raised before W);
* *closed since the last meeting* are those closed (done or dropped) within the window, so a
  closed item is listed once and then drops out of later agendas;
* each item lists its updates within the window, and its last update whenever made.

Items are shown as they stood at ``until`` (rebuilt from their updates), so a past agenda
reads as it did then; linked deals are shown as they stand now, so an item about a deal
that has since been won says so. Building an agenda only reads: the meeting of a week
nobody has written to is returned unsaved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quarterdeck.meeting.forecast_calls import ForecastCall, calls
from quarterdeck.meeting.items import (
    CLOSED,
    KINDS,
    Item,
    ItemUpdate,
    LinkedDeal,
    is_creation,
    item_as_of,
    linked_deals,
    load_item,
    load_items,
    load_updates,
)
from quarterdeck.meeting.meetings import (
    Meeting,
    WeekLike,
    current_week,
    end_of,
    meetings_through,
    week_of,
)
from quarterdeck.meeting.tables import moment
from quarterdeck.periods import Period
from quarterdeck.store import Store

__all__ = ["Agenda", "ItemView", "agenda", "item_view"]

_KIND_ORDER = {kind: n for n, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class ItemView:
    """An item with what a reader needs beside it: its linked deals as they stand now, its
    updates (those of the agenda's window, or its whole history), its last update, whether
    it was carried from an earlier meeting and whether it is past due."""

    item: Item
    deals: tuple[LinkedDeal, ...]
    updates: tuple[ItemUpdate, ...]
    last_update: ItemUpdate | None
    carried: bool
    overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return self.item.as_dict() | {
            "deals": [d.as_dict() for d in self.deals],
            "deal_sentences": [d.sentence() for d in self.deals],
            "updates": [u.as_dict() for u in self.updates],
            "last_update": self.last_update.as_dict() if self.last_update else None,
            "carried": self.carried,
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class Agenda:
    """A meeting's agenda (see the module's docstring for what each part holds).

    ``calls`` are the forecast calls for the quarter holding the meeting's week
    (``calls_period``) made up to ``until``, in the order made.
    """

    meeting: Meeting
    previous: Meeting | None
    since: datetime | None
    until: datetime
    open: tuple[ItemView, ...]
    closed: tuple[ItemView, ...]
    calls_period: Period
    calls: tuple[ForecastCall, ...]

    def of_kind(self, kind: str) -> tuple[ItemView, ...]:
        """The open items of one kind (risk, initiative, issue or action)."""
        return tuple(v for v in self.open if v.item.kind == kind)

    @property
    def carried(self) -> tuple[ItemView, ...]:
        """Open items raised in an earlier meeting."""
        return tuple(v for v in self.open if v.carried)

    @property
    def latest_call(self) -> ForecastCall | None:
        return self.calls[-1] if self.calls else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "meeting": self.meeting.as_dict(),
            "previous": self.previous.as_dict() if self.previous else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat(),
            "open": {kind: [v.as_dict() for v in self.of_kind(kind)] for kind in KINDS},
            "closed_since_last_meeting": [v.as_dict() for v in self.closed],
            "calls_period": self.calls_period.label,
            "calls": [c.as_dict() for c in self.calls],
        }


def agenda(store: Store, week: WeekLike = None, now: datetime | None = None) -> Agenda:
    """The agenda of the meeting of ``week`` (default: the current meeting at ``now``)."""
    now = moment(now)
    period = current_week(store, now) if week is None else week_of(week)
    stored = meetings_through(store, period)
    this = next((m for m in stored if m.meeting_id == period.label), Meeting.of_week(period))
    earlier = [m for m in stored if m.meeting_id < period.label and m.held_at is not None]
    previous = earlier[-1] if earlier else None
    since = previous.held_at if previous else None
    until = this.held_at or min(now, end_of(period))

    def candidate(items: Any) -> Any:
        # Raised in this meeting or before, and not closed by the previous one. An item
        # closed before `since` and not changed since cannot have been open at `until`.
        raised = items.meeting_id <= period.label
        return (
            raised
            if since is None
            else raised & (items.closed_at.isnull() | (items.closed_at > since))
        )

    items = load_items(store, candidate)
    history = load_updates(store, [i.item_id for i in items])
    open_: list[tuple[Item, list[ItemUpdate]]] = []
    closed: list[tuple[Item, list[ItemUpdate]]] = []
    for item in items:
        updates = history[item.item_id]
        state = item_as_of(item, updates, until)
        if state.is_open:
            open_.append((state, updates))
        elif (
            state.status in CLOSED
            and state.closed_at is not None
            and (since is None or state.closed_at > since)
        ):
            closed.append((state, updates))
    deals = linked_deals(store, [d for i, _ in open_ + closed for d in i.deal_ids])

    def view(state: Item, updates: list[ItemUpdate]) -> ItemView:
        cutoff = max(until, state.created_at)
        changes = [u for u in updates if u.at <= cutoff and not is_creation(u, state)]
        return ItemView(
            item=state,
            deals=tuple(deals[d] for d in state.deal_ids),
            updates=tuple(u for u in changes if since is None or u.at > since),
            last_update=changes[-1] if changes else None,
            carried=state.meeting_id < period.label,
            overdue=state.is_open and state.due is not None and state.due < until.date(),
        )

    quarter = Period.containing(period.start, "quarter")
    return Agenda(
        meeting=this,
        previous=previous,
        since=since,
        until=until,
        open=tuple(
            view(s, u)
            for s, u in sorted(open_, key=lambda p: (_KIND_ORDER.get(p[0].kind, 9), p[0].number))
        ),
        closed=tuple(
            view(s, u) for s, u in sorted(closed, key=lambda p: (p[0].closed_at, p[0].number))
        ),
        calls_period=quarter,
        calls=calls(store, quarter, until=until).calls,
    )


def item_view(store: Store, item_id: str, now: datetime | None = None) -> ItemView:
    """One item as it is now, with its whole history (first values included)."""
    now = moment(now)
    item = load_item(store, item_id)
    updates = load_updates(store, [item.item_id])[item.item_id]
    changes = [u for u in updates if not is_creation(u, item)]
    deals = linked_deals(store, item.deal_ids)
    return ItemView(
        item=item,
        deals=tuple(deals[d] for d in item.deal_ids),
        updates=tuple(updates),
        last_update=changes[-1] if changes else None,
        carried=item.meeting_id < current_week(store, now).label,
        overdue=item.is_open and item.due is not None and item.due < now.date(),
    )
