"""Quarterly quotas: one per active rep (prorated by ramp and time in seat) and a company
target owned by the VP Sales.

Rep quotas are set the way sales finance does it: a fully ramped rep in a segment carries
about 1.2x what ramped reps of that segment have booked on average (so a typical rep lands
near 80% attainment), raised 10% each year. The company target comes from a growth plan
(about 40% a year around recent bookings, with a seasonal shape), not from adding up the
rep quotas, so the two can disagree the way they do in real companies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quarterdeck.simulate.deals import Deals
from quarterdeck.simulate.lifecycle import CLOSED_WON, History
from quarterdeck.simulate.org import RAMP_DAYS, SEGMENTS, Org
from quarterdeck.simulate.timeline import SECONDS_PER_DAY, Timeline

QUOTA_OVER_BOOKINGS = 1.2
ANNUAL_QUOTA_RAISE = 0.10
PLANNED_GROWTH = 0.40
SEASON = np.array([0.9, 1.0, 0.95, 1.15])  # calendar Q1..Q4 share of an average quarter


@dataclass(frozen=True)
class Quotas:
    """ForecastingQuota rows."""

    owner: np.ndarray  # int32 user number
    start_day: np.ndarray  # int64 day number of the quarter's first day
    amount: np.ndarray  # int64 dollars

    def __len__(self) -> int:
        return int(self.owner.shape[0])


def build_quotas(deals: Deals, history: History, org: Org, timeline: Timeline) -> Quotas:
    """Rep quotas for every quarter a rep is in seat, and the company target per quarter."""
    last = history.last_row
    won = history.stage[last] == CLOSED_WON
    won_day = history.at[last] // SECONDS_PER_DAY
    won_amount = np.where(won, history.amount[last], 0)

    reps, productivity = org.productivity(timeline.days)
    rep_segment = org.team_segment[org.team[reps]]
    ramped_quarters = np.array(
        [productivity[rep_segment == s].sum() / RAMP_DAYS for s in range(len(SEGMENTS))]
    )
    booked = np.bincount(deals.segment, weights=won_amount, minlength=len(SEGMENTS))
    per_quarter = QUOTA_OVER_BOOKINGS * booked / np.maximum(ramped_quarters, 1.0)

    quarters = timeline.quarters()
    q_start = timeline.quarter_start_day(quarters)
    q_end = timeline.quarter_start_day(quarters + 1) - 1
    years_in = np.floor((q_start - q_start[0]) / 365.25)
    owners, starts, amounts = [], [], []
    hire = org.hire[reps].astype(np.int64)
    end = org.end[reps].astype(np.int64)  # NEVER is far beyond any quarter
    for qs, qe, raise_years in zip(q_start, q_end, years_in, strict=True):
        length = qe - qs + 1
        in_seat = np.clip(np.minimum(end, qe) - np.maximum(hire, qs) + 1, 0, length) / length
        mid = (qs + qe) // 2
        ramp = np.clip(((mid - hire) // RAMP_DAYS + 1) * 0.25, 0.25, 1.0)
        amount = per_quarter[rep_segment] * (1 + ANNUAL_QUOTA_RAISE) ** raise_years
        amount = np.round(amount * ramp * in_seat, -3)
        active = (in_seat > 0) & (amount > 0)
        owners.append(reps[active])
        starts.append(np.full(int(active.sum()), qs))
        amounts.append(amount[active])

    # Company plan, anchored on the last four full quarters of bookings.
    plan_quarters = np.append(quarters, quarters[-1] + 1)
    plan_start = timeline.quarter_start_day(plan_quarters)
    anchor = quarters[-5:-1] if quarters.size >= 5 else quarters
    a_lo = timeline.quarter_start_day(anchor[:1])[0]
    a_hi = timeline.quarter_start_day(anchor[-1:] + 1)[0]
    recent = won_amount[(won_day >= a_lo) & (won_day < a_hi) & won].sum() / anchor.size
    centre = anchor.mean()
    plan = (
        max(recent, 1.0)
        * (1 + PLANNED_GROWTH) ** ((plan_quarters - centre) / 4)
        * SEASON[plan_quarters % 4]
    )
    owners.append(np.full(plan_quarters.size, org.vp))
    starts.append(plan_start)
    amounts.append(np.round(plan, -4))

    return Quotas(
        owner=np.concatenate(owners).astype(np.int32),
        start_day=np.concatenate(starts).astype(np.int64),
        amount=np.concatenate(amounts).astype(np.int64),
    )
