"""Meetings: one per ISO week, named by the week (``2024-W27``), held once, notes frozen after.

A meeting need not be stored to be read: the meeting of a week nobody has written to yet
is returned unsaved (``stored`` is False), so reading the record never writes to it.
Writing to a meeting (raising an item in it, writing its notes, marking it held) stores it.

The *current meeting* at a moment is the meeting of that moment's week, or, once that one
has been held, the next week's: items raised and changes made after a meeting belong to
the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from quarterdeck.errors import DataError, InputError
from quarterdeck.meeting.tables import insert_rows, moment, read_rows, replace_rows, writing
from quarterdeck.periods import Period
from quarterdeck.store import Store

__all__ = [
    "Meeting",
    "WeekLike",
    "current_week",
    "end_of",
    "ensure_meeting",
    "mark_held",
    "meeting",
    "meetings_through",
    "set_notes",
    "week_of",
]

WeekLike = date | datetime | str | Period | None
"""A week as callers give it: any day in it, an ISO week label (``2024-W27``) or a Period."""

_WEEK_LABEL = re.compile(r"^\d{4}-?W\d{2}$", re.IGNORECASE)


@dataclass(frozen=True)
class Meeting:
    """One weekly meeting of the CEO and the sales leader.

    ``meeting_id`` is the ISO week label and ``week_of`` that week's Monday. ``held_at`` is
    set when the meeting is marked held; from then on its ``notes`` are frozen.
    ``created_at`` is empty for a meeting that has not been stored yet.
    """

    meeting_id: str
    week_of: date
    held_at: datetime | None = None
    notes: str | None = None
    created_at: datetime | None = None

    @property
    def week(self) -> Period:
        return Period.containing(self.week_of, "week")

    @property
    def held(self) -> bool:
        return self.held_at is not None

    @property
    def stored(self) -> bool:
        return self.created_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "meeting_id": self.meeting_id,
            "week_of": self.week_of.isoformat(),
            "held_at": self.held_at.isoformat() if self.held_at else None,
            "notes": self.notes,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def of_week(cls, week: Period) -> Meeting:
        """The unsaved meeting of ``week``."""
        return cls(week.label, week.start)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Meeting:
        return cls(
            meeting_id=row["meeting_id"],
            week_of=row["week_of"],
            held_at=row["held_at"],
            notes=row["notes"],
            created_at=row["created_at"],
        )


def week_of(value: WeekLike, now: datetime | None = None) -> Period:
    """The ISO week ``value`` names: any day in it, a label such as ``2024-W27`` or a week
    Period; None is the week of ``now``."""
    if value is None:
        return Period.containing(moment(now).date(), "week")
    if isinstance(value, Period):
        if value.kind != "week":
            raise InputError(f"a meeting is held in a week, not in {value.kind} {value.label}")
        return value
    if isinstance(value, date):  # a datetime is a date too
        return Period.containing(value, "week")
    if isinstance(value, str):
        text = value.strip()
        if _WEEK_LABEL.match(text):
            return Period.parse(text)
        try:
            return Period.containing(date.fromisoformat(text), "week")
        except ValueError:
            pass
    raise InputError(
        f"cannot read week {value!r}: expected a date (YYYY-MM-DD) or an ISO week such as 2024-W27"
    )


def _stored(store: Store, label: str) -> Meeting | None:
    table = store.table("meetings")
    rows = read_rows(store, table.filter(table.meeting_id == label))
    return Meeting.from_row(rows[0]) if rows else None


def meeting(store: Store, week: WeekLike = None, now: datetime | None = None) -> Meeting:
    """The meeting of ``week`` (default: the current meeting at ``now``): stored, or unsaved
    if nobody has written to it yet. Reads only."""
    now = moment(now)
    period = current_week(store, now) if week is None else week_of(week)
    return _stored(store, period.label) or Meeting.of_week(period)


def meetings_through(store: Store, week: Period) -> list[Meeting]:
    """Every stored meeting up to and including ``week``, oldest first."""
    table = store.table("meetings")
    # Week labels (YYYY-Www) sort as text in the order of time.
    rows = read_rows(store, table.filter(table.meeting_id <= week.label))
    return sorted((Meeting.from_row(r) for r in rows), key=lambda m: m.meeting_id)


def current_week(store: Store, now: datetime) -> Period:
    """The week of the current meeting at ``now``: ``now``'s week, or the first later week
    whose meeting has not been held by ``now``."""
    week = Period.containing(now.date(), "week")
    while True:
        held = _stored(store, week.label)
        if held is None or held.held_at is None or held.held_at > now:
            return week
        week = week.next()


def ensure_meeting(store: Store, week: Period, now: datetime) -> Meeting:
    """The stored meeting of ``week``, storing it first if needed (call inside ``writing``)."""
    existing = _stored(store, week.label)
    if existing is not None:
        return existing
    created = Meeting(week.label, week.start, created_at=now)
    insert_rows(store, "meetings", [_row(created)])
    return created


def _row(m: Meeting) -> dict[str, Any]:
    return {
        "meeting_id": m.meeting_id,
        "week_of": m.week_of,
        "held_at": m.held_at,
        "notes": m.notes,
        "created_at": m.created_at,
    }


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def mark_held(store: Store, week: WeekLike = None, now: datetime | None = None) -> Meeting:
    """Mark the meeting of ``week`` (default: ``now``'s week) held at ``now``.

    Meetings are held in the order of their weeks, since each one's agenda reaches back to
    the one held before it.
    """
    now = moment(now)
    period = week_of(week, now)
    with writing(store):
        current = ensure_meeting(store, period, now)
        if current.held_at is not None:
            raise DataError(
                f"meeting {current.meeting_id} was already marked held on {_when(current.held_at)}"
            )
        table = store.table("meetings")
        others = [
            Meeting.from_row(r)
            for r in read_rows(store, table.filter(table.held_at.notnull()))
            if r["meeting_id"] != period.label
        ]
        for other in sorted(others, key=lambda m: m.meeting_id):
            assert other.held_at is not None
            if other.meeting_id > period.label:
                raise DataError(
                    f"meeting {other.meeting_id} was already held (on {_when(other.held_at)}), "
                    f"so the earlier meeting {period.label} can no longer be marked held"
                )
            if other.held_at > now:
                raise DataError(
                    f"meeting {period.label} cannot be marked held at {_when(now)}: the earlier "
                    f"meeting {other.meeting_id} was held later, on {_when(other.held_at)}"
                )
        held = Meeting(current.meeting_id, current.week_of, now, current.notes, current.created_at)
        replace_rows(store, "meetings", [_row(held)])
    return held


def set_notes(
    store: Store,
    week: WeekLike,
    text: str,
    now: datetime | None = None,
    *,
    append: bool = False,
) -> Meeting:
    """Write the decisions and notes of the meeting of ``week`` (default: ``now``'s week),
    as a new line after the notes so far with ``append``.

    Refused once the meeting is held: what was agreed then stays as it was.
    """
    now = moment(now)
    period = week_of(week, now)
    if not isinstance(text, str) or not text.strip():
        raise InputError("meeting notes need some text")
    with writing(store):
        current = ensure_meeting(store, period, now)
        if current.held_at is not None:
            raise DataError(
                f"meeting {current.meeting_id} was held on {_when(current.held_at)}; its notes "
                "are frozen (write them into the next meeting instead)"
            )
        notes = text.strip()
        if append and current.notes:
            notes = f"{current.notes}\n{notes}"
        updated = Meeting(current.meeting_id, current.week_of, None, notes, current.created_at)
        replace_rows(store, "meetings", [_row(updated)])
    return updated


def end_of(week: Period) -> datetime:
    """The first moment after ``week``: Monday 00:00 of the next week."""
    return datetime.combine(week.end + timedelta(days=1), datetime.min.time())
