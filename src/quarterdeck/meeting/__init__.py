"""The meeting record: the weekly CEO and sales-leader meeting, carried from week to week.

* ``meetings``: one meeting per ISO week, named by the week (``2024-W27``); marked held once,
  after which its notes are frozen.
* ``items``: risks (mitigations of deals or accounts in jeopardy), initiatives (the sales
  leader's work aside from selling), issues (flags or questions either side raises) and
  actions (to-dos), each with owner, side, status, due date, linked deals and a metric,
  and the history of every change.
* ``agenda``: a meeting's open and carried items, those closed since the last meeting, what
  changed, and the forecast calls of the quarter.
* ``calls``: the sales leader's forecast call for a period, commit and best case.

Every write is one transaction; reading never writes. "Now" is a parameter everywhere, so
a record can be written and read at exact times.
"""

from __future__ import annotations

from quarterdeck.meeting.agendas import Agenda, ItemView, agenda, item_view
from quarterdeck.meeting.forecast_calls import (
    ForecastCall,
    ForecastCalls,
    NewCall,
    calls,
    record_call,
)
from quarterdeck.meeting.items import (
    CHANGEABLE,
    CLOSED,
    KINDS,
    SIDES,
    STATUSES,
    Item,
    ItemChange,
    ItemUpdate,
    LinkedDeal,
    NewItem,
    add_item,
    close_item,
    note_item,
    update_item,
)
from quarterdeck.meeting.meetings import (
    Meeting,
    WeekLike,
    current_week,
    mark_held,
    meeting,
    set_notes,
    week_of,
)

__all__ = [
    "CHANGEABLE",
    "CLOSED",
    "KINDS",
    "SIDES",
    "STATUSES",
    "Agenda",
    "ForecastCall",
    "ForecastCalls",
    "Item",
    "ItemChange",
    "ItemUpdate",
    "ItemView",
    "LinkedDeal",
    "Meeting",
    "NewCall",
    "NewItem",
    "WeekLike",
    "add_item",
    "agenda",
    "calls",
    "close_item",
    "current_week",
    "item_view",
    "mark_held",
    "meeting",
    "note_item",
    "record_call",
    "set_notes",
    "update_item",
    "week_of",
]
