"""Reports narrowed by the pipeline's filters (``Workspace.narrowed``): the hand sums of the
deals each filter keeps, alone and within a viewer's scope (the company of
``access_company``: teams east = u1, u2, m1; west = u3; u4 has none)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from access_company import NOW, viewer

from quarterdeck.browse import DealFilter
from quarterdeck.workspace import Workspace

Q3 = "2024-Q3"
START = datetime(2024, 7, 1)


def test_a_filter_narrows_every_report_to_its_deals(company: Workspace) -> None:
    east = company.narrowed(DealFilter(team="east"))
    # Won in Q3 by east: D1 1000 (u1) + D3 400 (u2) + D8 50 (m1).
    assert east.bookings(Q3).total.bookings == Decimal("1450.00")
    # Open: D2 2500 (u1) + D4 600 (u2); D7 (u4, no team) and D6 (west) are out.
    assert east.pipeline().amount == Decimal("3100.00")
    xi = company.narrowed(DealFilter(owner="u3"))
    assert xi.bookings(Q3).total.bookings == Decimal("5000.00")
    assert xi.pipeline().amount == Decimal("7000.00")
    # Current stage: D2 is in Proposal, D6 in Negotiate; the rest open are in Qualify.
    assert company.narrowed(DealFilter(stage="Negotiate")).pipeline().amount == Decimal("7000.00")
    # The deals' history is narrowed with them: the waterfalls of east, west and u4 (the
    # one rep with no team) add up to the company's, bar by bar, and each holds.
    parts = [DealFilter(team="east"), DealFilter(team="west"), DealFilter(owner="u4")]
    whole = company.pipeline_change(START, NOW, Q3)
    changes = [company.narrowed(f).pipeline_change(START, NOW, Q3) for f in parts]
    for change in (whole, *changes):
        moved = sum((bar.sign * bar.amount for bar in change.bars), Decimal("0.00"))
        assert change.start_amount + moved == change.end_amount
    assert sum(c.end_amount for c in changes) == whole.end_amount
    for n, bar in enumerate(whole.bars):
        assert sum(c.bars[n].amount for c in changes) == bar.amount, bar.name
    # An empty filter is no narrowing.
    assert company.narrowed(DealFilter()).pipeline().amount == Decimal("10400.00")


def test_a_filter_stays_within_what_the_viewer_sees(company: Workspace) -> None:
    rita = viewer(company, "rita@example.com")  # rep u1: D1 won 1000, D2 open 2500
    assert rita.narrowed(DealFilter(team="east")).pipeline().amount == Decimal("2500.00")
    assert rita.narrowed(DealFilter(team="east")).bookings(Q3).total.bookings == Decimal("1000.00")
    # Another rep's deals stay out whatever the filter asks for.
    assert rita.narrowed(DealFilter(owner="u3")).pipeline().amount == Decimal("0.00")
