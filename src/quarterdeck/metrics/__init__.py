"""Sales metrics as Ibis expressions over the canonical tables.

Each metric takes a ``Store`` and returns a frozen result holding exact numbers (money as
``Decimal``) and the expressions it ran, so ``store.sql(expr)`` can show its SQL on any
engine. The docstring of each metric function is its definition.

* ``bookings``, ``win_rate``, ``pipeline_by_stage``: the basic per-period numbers;
* ``revenue_vs_goal``: bookings against target with pace and coverage (the brief's first point);
* ``big_deals`` and ``deal_risks``: its second and third points;
* ``pipeline_change`` (the waterfall), ``slip_ledger`` and ``mix``: what changed, the deals
  "always coming next quarter", and the mix against the agreed mix;
* ``size_bands``: what small, mid-sized and big mean for this company.
"""

from __future__ import annotations

from quarterdeck.metrics.attainment import (
    GoalLine,
    RevenueVsGoal,
    revenue_vs_goal,
    revenue_vs_goal_by,
)
from quarterdeck.metrics.bigdeals import BigDeal, BigDealList, BigDeals, big_deals
from quarterdeck.metrics.bookings import DIMENSIONS, Bookings, BookingsLine, bookings
from quarterdeck.metrics.mix import Mix, MixLine, MixView, mix
from quarterdeck.metrics.pipeline import PipelineByStage, StageLine, pipeline_by_stage
from quarterdeck.metrics.risk import DealRisk, RiskReport, RiskSignal, deal_risks
from quarterdeck.metrics.sizes import SizeBands, size_bands
from quarterdeck.metrics.slips import SlipLedger, slip_ledger
from quarterdeck.metrics.waterfall import Waterfall, WaterfallBar, pipeline_change
from quarterdeck.metrics.winrate import WinRate, WinRateLine, win_rate

__all__ = [
    "DIMENSIONS",
    "BigDeal",
    "BigDealList",
    "BigDeals",
    "Bookings",
    "BookingsLine",
    "DealRisk",
    "GoalLine",
    "Mix",
    "MixLine",
    "MixView",
    "PipelineByStage",
    "RevenueVsGoal",
    "RiskReport",
    "RiskSignal",
    "SizeBands",
    "SlipLedger",
    "StageLine",
    "Waterfall",
    "WaterfallBar",
    "WinRate",
    "WinRateLine",
    "big_deals",
    "bookings",
    "deal_risks",
    "mix",
    "pipeline_by_stage",
    "pipeline_change",
    "revenue_vs_goal",
    "revenue_vs_goal_by",
    "size_bands",
    "slip_ledger",
    "win_rate",
]
