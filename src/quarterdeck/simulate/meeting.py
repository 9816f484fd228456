"""A meeting record for the demo company: last week's meeting, held, and this week's.

The demo's brief should show what a real one shows after a few weeks of use: a
mitigation on the largest deal at risk, an initiative of the sales leader with a progress
note, an action on the gap, an issue the CEO raised, and an item closed since the last
meeting. The items are written through the Workspace, as a user's would be, and the
settings a CEO and sales leader would agree on (the target mix) are set the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from quarterdeck.metrics.risk import deal_risks
from quarterdeck.periods import Period
from quarterdeck.report.brief import brief_moment

if TYPE_CHECKING:
    from quarterdeck.workspace import Workspace

__all__ = ["DEMO_TARGET_MIX", "seed_meeting_record"]

DEMO_TARGET_MIX = {
    "mix.target_motion": {"new_business": 0.5, "expansion": 0.2, "renewal": 0.3},
    "mix.target_size": {"small": 0.25, "mid": 0.35, "big": 0.4},
}
"""The mix the demo company's CEO and sales leader agreed on."""


def seed_meeting_record(ws: Workspace, now: datetime) -> None:
    """Write the demo's meeting record: last week's meeting (held on its Thursday) and
    updates since, as they would stand at ``now``."""
    for key, value in DEMO_TARGET_MIX.items():
        ws.settings.set(key, value)
    this_week = Period.containing(now.date(), "week")
    last_week = this_week.previous()
    met = datetime.combine(last_week.start + timedelta(days=3), datetime.min.time()).replace(hour=9)
    leader, ceo = "sales leader", "CEO"
    as_of = brief_moment(ws.data_as_of(), last_week)
    risks = deal_risks(ws.store, as_of, ws.settings.values())
    top = risks.deals[0] if risks.deals else None
    if top is not None:
        ws.add_item(
            "risk",
            f"Executive call with the buyer of {top.name or top.deal_id}",
            by=leader,
            owner=top.owner_id,
            side="leader",
            due=(met + timedelta(days=10)).date(),
            deals=[top.deal_id],
            week=last_week,
            now=met,
        )
    initiative = ws.add_item(
        "initiative",
        "Hire two Enterprise account executives",
        by=leader,
        owner=leader,
        side="leader",
        due=(met + timedelta(days=45)).date(),
        metric="capacity: Enterprise reps in seat",
        week=last_week,
        now=met,
    )
    ws.add_item(
        "action",
        "Review every commit deal above 50k with its owner before Friday",
        by=leader,
        owner=leader,
        side="leader",
        due=(met + timedelta(days=4)).date(),
        metric="revenue",
        week=last_week,
        now=met,
    )
    ws.add_item(
        "issue",
        "Why do renewals close after their contract end date?",
        by=ceo,
        owner=leader,
        side="ceo",
        due=(met + timedelta(days=14)).date(),
        week=last_week,
        now=met,
    )
    done = ws.add_item(
        "action",
        "Send the CEO the list of deals pushed twice or more",
        by=ceo,
        owner=leader,
        side="ceo",
        due=(met + timedelta(days=2)).date(),
        week=last_week,
        now=met,
    )
    ws.mark_held(last_week, now=met + timedelta(hours=1))
    later = met + timedelta(days=1)
    ws.close_item(done.item_id, "done", by=leader, note="Sent by email.", now=later)
    ws.note_item(
        initiative.item_id,
        "Two candidates in final interviews; offers expected next week.",
        by=leader,
        now=min(now, later + timedelta(days=2)),
    )
