"""Revenue vs goal, checked against numbers worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quarterdeck.errors import InputError
from quarterdeck.metrics.attainment import (
    GoalLine,
    RevenueVsGoal,
    revenue_vs_goal,
    revenue_vs_goal_by,
    year_before,
)
from quarterdeck.periods import Period
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]
Writer = Callable[[Store, str, list[dict[str, Any]]], None]

Q3 = Period.parse("2024-Q3")  # 2024-07-01 .. 2024-09-30, 92 days
AUG15 = datetime(2024, 8, 15, 12, 0)  # day 46 of Q3: 31 July days + 15


def target(start: date, end: date, scope: str, scope_id: str, amount: str) -> dict[str, Any]:
    return {
        "period_start": start,
        "period_end": end,
        "scope": scope,
        "scope_id": scope_id,
        "amount": Decimal(amount),
    }


def q3_target(scope: str, scope_id: str, amount: str) -> dict[str, Any]:
    return target(Q3.start, Q3.end, scope, scope_id, amount)


def by_key(result: RevenueVsGoal) -> dict[str | None, GoalLine]:
    return {line.key: line for line in result.rows}


@pytest.fixture
def org(put: Rows, deal: DealFactory) -> None:
    """Three reps in two teams, two accounts; Q3 deals, four earlier quarters, targets.

    Q3 so far (to Aug 15): won w1 4,000 (Ana), w2 2,000 (Ben, on Aug 15), w3 1,000 (Cy).
    Open in Q3: o1 6,000 Sep 20 (Ana), o2 3,000 Aug 10 (Cy, overdue), o3 1,000 Aug 15 (Ben).
    Earlier quarters at the same offset (45 days after the start):
      Q2 2024 through May 16: e1 2,000 May 16 (by now), e2 6,000 Jun 20
      Q1 2024: nothing won (a lost deal only)
      Q4 2023 through Nov 15: e3 1,000 Oct 1 (by now), e4 3,000 Dec 31
      Q3 2023 through Aug 15: e5 4,000 Aug 15 (by now), e6 4,000 Aug 16
    """
    put(
        "users",
        {"user_id": "u1", "name": "Ana", "team": "East"},
        {"user_id": "u2", "name": "Ben", "team": "East"},
        {"user_id": "u3", "name": "Cy", "team": "West"},
        {"user_id": "u4", "name": "Dee", "team": "West"},  # a target, no deal
    )
    put(
        "accounts",
        {"account_id": "a1", "segment": "SMB"},
        {"account_id": "a2", "segment": "Enterprise"},
    )
    put(
        "deals",
        deal("w1", "won", "4000.00", date(2024, 7, 10), "u1", "a1"),
        deal("w2", "won", "2000.00", date(2024, 8, 15), "u2", "a2", motion="expansion"),
        deal("w3", "won", "1000.00", date(2024, 8, 1), "u3", "a2"),
        deal("l1", "lost", "3000.00", date(2024, 8, 5), "u1", "a1"),
        deal("o1", "open", "6000.00", date(2024, 9, 20), "u1", "a1"),
        deal("o2", "open", "3000.00", date(2024, 8, 10), "u3", "a2", motion="renewal"),
        deal("o3", "open", "1000.00", date(2024, 8, 15), "u2", "a1", motion="expansion"),
        deal("o4", "open", "9999.00", date(2024, 10, 5), "u1", "a1"),  # next quarter
        deal("o5", "open", "700.00", date(2024, 6, 15), "u2", "a1"),  # Q2, still open
        deal("e1", "won", "2000.00", date(2024, 5, 16), "u1", "a1"),
        deal("e2", "won", "6000.00", date(2024, 6, 20), "u2", "a1"),
        deal("el", "lost", "5000.00", date(2024, 2, 1), "u1", "a1"),
        deal("e3", "won", "1000.00", date(2023, 10, 1), "u3", "a2"),
        deal("e4", "won", "3000.00", date(2023, 12, 31), "u1", "a1"),
        deal("e5", "won", "4000.00", date(2023, 8, 15), "u1", "a1"),
        deal("e6", "won", "4000.00", date(2023, 8, 16), "u3", "a2"),
        deal("e7", "won", "900.00", date(2023, 6, 30), "u1", "a1"),  # before the 4 quarters
    )
    put(
        "targets",
        q3_target("company", "", "20000.00"),
        q3_target("team", "East", "15000.00"),
        q3_target("team", "West", "5000.00"),
        q3_target("rep", "u1", "10000.00"),
        q3_target("rep", "u4", "2000.00"),
        q3_target("segment", "Enterprise", "3000.00"),
        q3_target("motion", "new_business", "4000.00"),
        # a yearly target straddles Q3: not counted (the rule of bookings)
        target(date(2024, 1, 1), date(2024, 12, 31), "company", "", "90000.00"),
    )


@pytest.mark.usefixtures("org")
def test_company_line_worked_example(store: Store) -> None:
    result = revenue_vs_goal(store, AUG15, Q3)
    line = result.total
    # won Jul 1..Aug 15: 4,000 + 2,000 + 1,000 = 7,000 in 3 deals
    assert (line.bookings, line.won_count) == (Decimal("7000.00"), 3)
    # target 20,000; gap 20,000 - 7,000 = 13,000; attainment 7,000 / 20,000 = 0.35
    assert line.target == Decimal("20000.00")
    assert line.gap == Decimal("13000.00")
    assert line.attainment == Decimal("0.35")
    # days: Jul 1..Aug 15 = 46 elapsed of 92; 46 left = 6 whole weeks
    assert (result.period_days, result.days_elapsed, result.days_left) == (92, 46, 46)
    assert result.weeks_left == 6
    assert result.day == date(2024, 8, 15)
    # straight line: expected 20,000 x 46 / 92 = 10,000; pace 7,000 / 10,000 = 0.7;
    # projection 7,000 x 92 / 46 = 14,000
    assert line.expected_to_date == Decimal("10000")
    assert line.pace == Decimal("0.7")
    assert line.straight_line_projection == Decimal("14000")
    # open in Q3: o1 6,000 + o2 3,000 + o3 1,000 = 10,000 (o4 is October, o5 June)
    assert (line.pipeline, line.pipeline_count) == (Decimal("10000.00"), 3)
    # due from Aug 15: o1 6,000 + o3 1,000 (due on the day) = 7,000; overdue o2 3,000
    assert (line.due, line.due_count) == (Decimal("7000.00"), 2)
    assert (line.overdue, line.overdue_count) == (Decimal("3000.00"), 1)
    # coverage 10,000 / 13,000 = 0.769230..
    assert round(line.coverage or 0, 6) == Decimal("0.769231")
    assert line.target_met is False
    assert result.rows == ()


@pytest.mark.usefixtures("org")
def test_usual_pace_from_earlier_quarters(store: Store) -> None:
    line = revenue_vs_goal(store, AUG15, Q3).total
    earlier = {e.period.label: e for e in line.earlier}
    assert list(earlier) == ["2024-Q2", "2024-Q1", "2023-Q4", "2023-Q3"]
    # the same point: 45 days after each start
    assert [e.through for e in line.earlier] == [
        date(2024, 5, 16),
        date(2024, 2, 15),
        date(2023, 11, 15),
        date(2023, 8, 15),
    ]
    # Q2: 2,000 by May 16 of 8,000 -> 0.25
    q2 = earlier["2024-Q2"]
    assert (q2.bookings_by_now, q2.total, q2.share_by_now) == (
        Decimal("2000.00"),
        Decimal("8000.00"),
        Decimal("0.25"),
    )
    # Q1: nothing won -> no share, left out of the usual share
    q1 = earlier["2024-Q1"]
    assert (q1.total, q1.won_count, q1.share_by_now) == (Decimal("0.00"), 0, None)
    # Q4 2023: 1,000 of 4,000 -> 0.25; Q3 2023: 4,000 of 8,000 -> 0.5
    assert earlier["2023-Q4"].share_by_now == Decimal("0.25")
    assert earlier["2023-Q3"].share_by_now == Decimal("0.5")
    # usual share (2,000 + 1,000 + 4,000) / (8,000 + 4,000 + 8,000) = 7,000 / 20,000 = 0.35
    assert line.usual_share == Decimal("0.35")
    # usual projection 7,000 / 0.35 = 20,000
    assert line.usual_projection == Decimal("20000")
    # same quarter last year: 2023-Q3, 4,000 by Aug 15 of 8,000, 2 wins
    assert line.last_year is not None
    assert line.last_year.period == Period.parse("2023-Q3")
    assert (line.last_year.bookings_by_now, line.last_year.total) == (
        Decimal("4000.00"),
        Decimal("8000.00"),
    )
    assert line.last_year.won_count == 2


@pytest.mark.usefixtures("org")
def test_by_team(store: Store) -> None:
    result = revenue_vs_goal(store, AUG15, Q3, by="team")
    rows = by_key(result)
    assert [line.key for line in result.rows] == ["East", "West"]  # largest bookings first
    east, west = rows["East"], rows["West"]
    # East: Ana w1 4,000 + Ben w2 2,000 = 6,000; target 15,000 -> gap 9,000, attainment 0.4
    assert (east.bookings, east.won_count) == (Decimal("6000.00"), 2)
    assert (east.gap, east.attainment) == (Decimal("9000.00"), Decimal("0.4"))
    # expected 15,000 x 46 / 92 = 7,500; pace 6,000 / 7,500 = 0.8; projection 12,000
    assert (east.expected_to_date, east.pace) == (Decimal("7500"), Decimal("0.8"))
    assert east.straight_line_projection == Decimal("12000")
    # pipeline o1 6,000 + o3 1,000 = 7,000, none overdue; coverage 7,000 / 9,000 = 0.777..
    assert (east.pipeline, east.due, east.overdue) == (
        Decimal("7000.00"),
        Decimal("7000.00"),
        Decimal("0.00"),
    )
    assert round(east.coverage or 0, 6) == Decimal("0.777778")
    # East history: Q2 2,000 of 8,000; Q4 2023 e4 0 of 3,000; Q3 2023 e5 4,000 of 4,000
    # usual (2,000 + 0 + 4,000) / (8,000 + 3,000 + 4,000) = 0.4; projection 6,000 / 0.4
    assert east.usual_share == Decimal("0.4")
    assert east.usual_projection == Decimal("15000")
    # West: Cy w3 1,000; target 5,000 -> gap 4,000, attainment 0.2; pace 1,000 / 2,500 = 0.4
    assert (west.bookings, west.gap, west.attainment) == (
        Decimal("1000.00"),
        Decimal("4000.00"),
        Decimal("0.2"),
    )
    assert west.pace == Decimal("0.4")
    # pipeline o2 3,000, overdue; coverage 3,000 / 4,000 = 0.75
    assert (west.pipeline, west.overdue, west.coverage) == (
        Decimal("3000.00"),
        Decimal("3000.00"),
        Decimal("0.75"),
    )
    # West history: Q4 2023 e3 1,000 of 1,000; Q3 2023 e6 0 of 4,000 -> 1,000 / 5,000 = 0.2
    assert west.usual_share == Decimal("0.2")
    assert west.usual_projection == Decimal("5000")
    # the lines add up to the company line
    assert east.bookings + west.bookings == result.total.bookings
    assert east.pipeline + west.pipeline == result.total.pipeline
    assert result.total.target == Decimal("20000.00")


@pytest.mark.usefixtures("org")
def test_by_rep(store: Store) -> None:
    result = revenue_vs_goal(store, AUG15, Q3, by="owner")
    rows = by_key(result)
    assert set(rows) == {"u1", "u2", "u3", "u4"}
    # Ana: 4,000 of 10,000 -> gap 6,000; pipeline o1 6,000 -> coverage 6,000 / 6,000 = 1
    ana = rows["u1"]
    assert (ana.bookings, ana.gap, ana.pipeline, ana.coverage) == (
        Decimal("4000.00"),
        Decimal("6000.00"),
        Decimal("6000.00"),
        Decimal("1"),
    )
    # Ben: 2,000 booked and o3 1,000 open, but no rep target: no gap, pace or coverage
    ben = rows["u2"]
    assert (ben.bookings, ben.pipeline) == (Decimal("2000.00"), Decimal("1000.00"))
    assert (ben.target, ben.gap, ben.pace, ben.coverage, ben.target_met) == (
        None,
        None,
        None,
        None,
        False,
    )
    # Dee: target 2,000 and nothing else -> gap 2,000, coverage 0 / 2,000 = 0
    dee = rows["u4"]
    assert (dee.bookings, dee.won_count, dee.gap, dee.coverage) == (
        Decimal("0.00"),
        0,
        Decimal("2000.00"),
        Decimal("0"),
    )
    assert dee.usual_share is None  # no history: no usual pace
    assert dee.usual_projection is None


@pytest.mark.usefixtures("org")
def test_by_segment_with_the_target_met(store: Store) -> None:
    rows = by_key(revenue_vs_goal(store, AUG15, Q3, by="segment"))
    # SMB (a1): w1 4,000; pipeline o1 6,000 + o3 1,000 = 7,000; no segment target
    assert (rows["SMB"].bookings, rows["SMB"].pipeline) == (Decimal("4000.00"), Decimal("7000.00"))
    assert rows["SMB"].target is None
    # Enterprise (a2): w2 2,000 + w3 1,000 = 3,000 = target 3,000 -> gap 0: met, no coverage
    ent = rows["Enterprise"]
    assert (ent.bookings, ent.gap, ent.attainment) == (
        Decimal("3000.00"),
        Decimal("0.00"),
        Decimal("1"),
    )
    assert (ent.coverage, ent.target_met) == (None, True)
    assert ent.pipeline == Decimal("3000.00")  # o2, still shown


@pytest.mark.usefixtures("org")
def test_by_motion_with_the_target_exceeded(store: Store) -> None:
    rows = by_key(revenue_vs_goal(store, AUG15, Q3, by="motion"))
    # new business: w1 4,000 + w3 1,000 = 5,000 of 4,000 -> gap -1,000, met, no coverage
    nb = rows["new_business"]
    assert (nb.bookings, nb.gap, nb.coverage, nb.target_met) == (
        Decimal("5000.00"),
        Decimal("-1000.00"),
        None,
        True,
    )
    assert nb.attainment == Decimal("1.25")
    # expansion: w2 2,000, pipeline o3 1,000; renewal: nothing won, pipeline o2 3,000
    assert (rows["expansion"].bookings, rows["expansion"].pipeline) == (
        Decimal("2000.00"),
        Decimal("1000.00"),
    )
    assert (rows["renewal"].bookings, rows["renewal"].pipeline) == (
        Decimal("0.00"),
        Decimal("3000.00"),
    )


@pytest.mark.usefixtures("org")
def test_drill_down_lists_the_deals_behind_the_numbers(store: Store) -> None:
    result = revenue_vs_goal(store, AUG15, Q3, by="team")
    # largest first
    assert [d.deal_id for d in result.won_deals] == ["w1", "w2", "w3"]
    assert [(d.deal_id, d.status) for d in result.pipeline_deals] == [
        ("o1", "due"),
        ("o2", "overdue"),
        ("o3", "due"),
    ]
    w1 = result.won_deals[0]
    assert (w1.owner_id, w1.amount, w1.key, w1.close_date) == (
        "u1",
        Decimal("4000.00"),
        "East",
        date(2024, 7, 10),
    )
    won, pipeline = result.deals_of("West")
    assert [d.deal_id for d in won] == ["w3"]
    assert [d.deal_id for d in pipeline] == ["o2"]
    # the listed amounts are the numbers
    assert sum(d.amount or 0 for d in result.won_deals) == result.bookings
    assert sum(d.amount or 0 for d in result.pipeline_deals) == result.total.pipeline
    # a report asks for the few it shows: the largest open deal, East's overdue deals (none)
    assert [d.deal_id for d in result.deals(("due", "overdue"), limit=1)] == ["o1"]
    assert result.deals(("overdue",), key="East") == ()
    assert result.deals(("won",), key=None) == ()  # every deal has a team


@pytest.mark.usefixtures("org")
def test_period_entirely_in_the_past(store: Store) -> None:
    q2 = Period.parse("2024-Q2")  # Apr 1 .. Jun 30, 91 days
    result = revenue_vs_goal(store, AUG15, q2)
    line = result.total
    # the whole quarter: e1 2,000 + e2 6,000 = 8,000; no Q2 target
    assert (line.bookings, line.won_count) == (Decimal("8000.00"), 2)
    assert (line.target, line.gap, line.attainment, line.pace, line.coverage) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert (result.day, result.days_elapsed, result.days_left, result.weeks_left) == (
        date(2024, 6, 30),
        91,
        0,
        0,
    )
    # projection 8,000 x 91 / 91 = 8,000
    assert line.straight_line_projection == Decimal("8000")
    # earlier quarters are taken whole: Q1 nothing; Q4 2023 4,000; Q3 2023 8,000; Q2 2023
    # e7 900 -> usual share (4,000 + 8,000 + 900) / (4,000 + 8,000 + 900) = 1; 8,000 / 1
    assert [e.through for e in line.earlier] == [
        date(2024, 3, 31),
        date(2023, 12, 31),
        date(2023, 9, 30),
        date(2023, 6, 30),
    ]
    assert line.usual_share == Decimal("1")
    assert line.usual_projection == Decimal("8000")
    # Q2 2023: e7 900 won Jun 30 2023 -> last year
    assert line.last_year is not None and line.last_year.total == Decimal("900.00")
    # o5 (700, Jun 15) is still open: all of it overdue, none due
    assert (line.pipeline, line.overdue, line.due) == (
        Decimal("700.00"),
        Decimal("700.00"),
        Decimal("0.00"),
    )


@pytest.mark.usefixtures("org")
def test_empty_period(store: Store) -> None:
    result = revenue_vs_goal(store, datetime(2023, 2, 10), Period.parse("2023-Q1"), by="team")
    line = result.total
    # nothing won or open in 2023-Q1, no target, no earlier quarter with a win
    assert (line.bookings, line.won_count, line.pipeline, line.pipeline_count) == (
        Decimal("0.00"),
        0,
        Decimal("0.00"),
        0,
    )
    assert (line.target, line.gap, line.coverage, line.target_met) == (None, None, None, False)
    assert line.straight_line_projection == Decimal("0")
    assert (line.usual_share, line.usual_projection, line.last_year) == (None, None, None)
    assert result.rows == ()
    assert (result.won_deals, result.pipeline_deals) == ((), ())
    # Jan 1..Feb 10 = 41 days of 90
    assert (result.days_elapsed, result.period_days) == (41, 90)


def test_no_target(store: Store, put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        deal("a", "won", "300.00", date(2024, 7, 5)),
        deal("b", "open", "900.00", date(2024, 9, 1)),
    )
    line = revenue_vs_goal(store, AUG15, Q3).total
    assert line.bookings == Decimal("300.00")
    # no target: none of gap, attainment, expected, pace, coverage
    assert (line.target, line.gap, line.attainment) == (None, None, None)
    assert (line.expected_to_date, line.pace, line.coverage, line.target_met) == (
        None,
        None,
        None,
        False,
    )
    # 300 x 92 / 46 = 600 needs no target
    assert line.straight_line_projection == Decimal("600")
    assert line.pipeline == Decimal("900.00")


def test_usual_pace_needs_a_booking_by_the_offset(
    store: Store, put: Rows, deal: DealFactory
) -> None:
    put(
        "deals",
        deal("now", "won", "500.00", date(2024, 7, 5)),
        # Q2 booked only late in the quarter: 0 of 1,000 by May 16
        deal("late", "won", "1000.00", date(2024, 6, 29)),
    )
    line = revenue_vs_goal(store, AUG15, Q3).total
    # usual share 0 / 1,000 = 0: there is history, but it cannot project
    assert line.usual_share == Decimal("0")
    assert line.usual_projection is None


def test_coverage_when_the_gap_is_closed(store: Store, put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        deal("a", "won", "1000.00", date(2024, 7, 5)),
        deal("b", "open", "500.00", date(2024, 9, 1)),
    )
    put("targets", q3_target("company", "", "800.00"))
    line = revenue_vs_goal(store, AUG15, Q3).total
    # gap 800 - 1,000 = -200 <= 0: coverage has nothing to cover; the target is met
    assert line.gap == Decimal("-200.00")
    assert (line.coverage, line.target_met) == (None, True)
    assert line.pipeline == Decimal("500.00")


def test_same_day_offset_in_months(store: Store) -> None:
    result = revenue_vs_goal(store, datetime(2024, 3, 30), Period.parse("2024-03"))
    # 29 days after the 1st: Feb 1 + 29 = Mar 1 is past February's end, so Feb 29
    assert [(e.period.label, e.through) for e in result.total.earlier] == [
        ("2024-02", date(2024, 2, 29)),
        ("2024-01", date(2024, 1, 30)),
        ("2023-12", date(2023, 12, 30)),
        ("2023-11", date(2023, 11, 30)),
    ]
    assert result.last_year_period == Period.parse("2023-03")
    assert year_before(Period.parse("2024-W09")) == Period.containing(date(2023, 2, 26), "week")
    assert year_before(Period.parse("FY2025-Q1", 2)) == Period.parse("FY2024-Q1", 2)


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(InputError, match="starts on 2024-10-01"):
        revenue_vs_goal(store, AUG15, Period.parse("2024-Q4"))
    with pytest.raises(InputError, match="datetime"):
        revenue_vs_goal(store, date(2024, 8, 15), Q3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="Period"):
        revenue_vs_goal(store, AUG15, "2024-Q3")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="region"):
        revenue_vs_goal(store, AUG15, Q3, by="region")


@pytest.mark.usefixtures("org")
def test_shows_its_sql(store: Store) -> None:
    result = revenue_vs_goal(store, AUG15, Q3, by="team")
    assert set(result.expressions()) == {"lines", "targets", "deals"}
    assert '"users"' in store.sql(result.lines_expr)
    assert '"targets"' in store.sql(result.targets_expr)


# -- every breakdown at once ------------------------------------------------------------------

BREAKDOWNS = (None, "team", "owner", "segment", "motion")


def assert_same_as_separate_calls(store: Store, as_of: datetime, period: Period) -> None:
    """``revenue_vs_goal_by`` gives, for every breakdown, what its own call gives: the same
    lines in the same order, and the same deals behind them."""
    together = revenue_vs_goal_by(store, as_of, period, BREAKDOWNS)
    assert list(together) == list(BREAKDOWNS)
    for by in BREAKDOWNS:
        alone = revenue_vs_goal(store, as_of, period, by)
        assert together[by] == alone, by
        assert [line.key for line in together[by].rows] == [line.key for line in alone.rows]
        assert together[by].deals_table.to_pylist() == alone.deals_table.to_pylist(), by


@pytest.fixture
def north(org: None, put: Rows, deal: DealFactory) -> None:
    """The org plus a third team, a third segment, and deals with no owner or account.

    North (Eve, u5; account a3, Mid-Market): n1 won 1,500 Jul 20 (renewal), n2 open 2,500
    due Sep 5, n3 won 800 May 1 (Q2, before May 16); team target 3,000.
    x1 won 500 Aug 2 with no owner, no account and no motion.
    """
    put("users", {"user_id": "u5", "name": "Eve", "team": "North"})
    put("accounts", {"account_id": "a3", "segment": "Mid-Market"})
    put(
        "deals",
        deal("n1", "won", "1500.00", date(2024, 7, 20), "u5", "a3", motion="renewal"),
        deal("n2", "open", "2500.00", date(2024, 9, 5), "u5", "a3"),
        deal("n3", "won", "800.00", date(2024, 5, 1), "u5", "a3", motion="expansion"),
        deal("x1", "won", "500.00", date(2024, 8, 2), None, None, motion=None),
    )
    put("targets", q3_target("team", "North", "3000.00"))


@pytest.mark.usefixtures("north")
def test_every_breakdown_at_once(store: Store) -> None:
    together = revenue_vs_goal_by(store, AUG15, Q3, BREAKDOWNS)
    company = together[None].total
    # won Jul 1..Aug 15: w1 4,000 + w2 2,000 + w3 1,000 + n1 1,500 + x1 500 = 9,000 (5)
    assert (company.bookings, company.won_count) == (Decimal("9000.00"), 5)
    # target 20,000: gap 11,000, attainment 0.45; projection 9,000 x 92 / 46 = 18,000
    assert (company.gap, company.attainment) == (Decimal("11000.00"), Decimal("0.45"))
    assert company.straight_line_projection == Decimal("18000")
    # open in Q3: o1 6,000 + o2 3,000 + o3 1,000 + n2 2,500 = 12,500; overdue o2 3,000
    assert (company.pipeline, company.pipeline_count) == (Decimal("12500.00"), 4)
    assert (company.due, company.overdue) == (Decimal("9500.00"), Decimal("3000.00"))
    # coverage 12,500 / 11,000 = 1.136363..
    assert round(company.coverage or 0, 6) == Decimal("1.136364")
    # usual share: Q2 (e1 2,000 + n3 800) by May 16 of (2,000 + 6,000 + 800); Q1 none;
    # Q4 2023 1,000 of 4,000; Q3 2023 4,000 of 8,000 -> 7,800 / 20,800 = 0.375;
    # usual projection 9,000 / 0.375 = 24,000
    assert company.usual_share == Decimal("0.375")
    assert company.usual_projection == Decimal("24000")
    # every breakdown carries the same company line
    assert all(together[by].total == company for by in BREAKDOWNS)

    teams = by_key(together["team"])
    assert [line.key for line in together["team"].rows] == ["East", "North", "West", None]
    north = teams["North"]
    # North: n1 1,500 of 3,000 -> gap 1,500, attainment 0.5; expected 3,000 x 46 / 92 =
    # 1,500 -> pace 1; pipeline n2 2,500 due -> coverage 2,500 / 1,500 = 1.666..
    assert (north.bookings, north.won_count, north.gap) == (
        Decimal("1500.00"),
        1,
        Decimal("1500.00"),
    )
    assert (north.attainment, north.expected_to_date, north.pace) == (
        Decimal("0.5"),
        Decimal("1500"),
        Decimal("1"),
    )
    assert (north.pipeline, north.due, north.overdue) == (
        Decimal("2500.00"),
        Decimal("2500.00"),
        Decimal("0.00"),
    )
    assert round(north.coverage or 0, 6) == Decimal("1.666667")
    # North history: Q2 n3 800 by May 16 of 800 -> usual share 1, projection 1,500
    assert (north.usual_share, north.usual_projection) == (Decimal("1"), Decimal("1500"))
    # East as before (w1 4,000 + w2 2,000); x1 has no owner, so no team: a line of its own
    assert teams["East"].bookings == Decimal("6000.00")
    assert (teams[None].bookings, teams[None].target) == (Decimal("500.00"), None)
    # the lines add up to the company
    assert sum((line.bookings for line in teams.values()), Decimal(0)) == company.bookings
    assert sum((line.pipeline for line in teams.values()), Decimal(0)) == company.pipeline

    segments = by_key(together["segment"])
    # Mid-Market: n1 1,500 booked, n2 2,500 open; x1 has no account
    assert (segments["Mid-Market"].bookings, segments["Mid-Market"].pipeline) == (
        Decimal("1500.00"),
        Decimal("2500.00"),
    )
    assert segments[None].bookings == Decimal("500.00")
    # renewal: n1 1,500 booked, o2 3,000 open
    motions = by_key(together["motion"])
    assert (motions["renewal"].bookings, motions["renewal"].pipeline) == (
        Decimal("1500.00"),
        Decimal("3000.00"),
    )
    # the deals behind each line carry that line's key
    won, pipeline = together["team"].deals_of("North")
    assert ([d.deal_id for d in won], [d.deal_id for d in pipeline]) == (["n1"], ["n2"])
    assert [d.key for d in together["segment"].deals(("won",), key="Mid-Market")] == ["Mid-Market"]

    assert_same_as_separate_calls(store, AUG15, Q3)


@pytest.mark.usefixtures("org")
def test_breakdowns_asked_twice_or_wrongly(store: Store) -> None:
    twice = revenue_vs_goal_by(store, AUG15, Q3, ["team", None, "team"])
    assert list(twice) == ["team", None]
    assert revenue_vs_goal_by(store, AUG15, Q3, []) == {}
    with pytest.raises(InputError, match="region"):
        revenue_vs_goal_by(store, AUG15, Q3, ["team", "region"])
    with pytest.raises(InputError, match="starts on 2024-10-01"):
        revenue_vs_goal_by(store, AUG15, Period.parse("2024-Q4"), [None])


@pytest.mark.usefixtures("north")
def test_every_breakdown_at_once_for_a_past_period_and_a_month(store: Store) -> None:
    # Q2 entirely in the past, and August so far: windows of other lengths and offsets
    assert_same_as_separate_calls(store, AUG15, Period.parse("2024-Q2"))
    assert_same_as_separate_calls(store, AUG15, Period.parse("2024-08"))


# -- as of: what was known then ---------------------------------------------------------------


@pytest.fixture
def history(put: Rows, deal: DealFactory) -> None:
    """Deals with a past, seen from Aug 15 (later changes exist, so history is rebuilt).

    W: Qualify 1,000 closing Jul 25 (Jul 1) -> Closed Won (Jul 25)
    B: Proposal 5,000 closing Aug 30 (Jul 1) -> Closed Won on Aug 20, close date set back
       to Aug 10: on Aug 15 it was open pipeline, not a booking
    M: Negotiate 2,000 closing Sep 10 (Jul 1) -> back to Qualify at 1,500 (Aug 1)
    R: Proposal 3,000 closing Aug 5 (Jul 1) -> Closed Lost (Jul 20) -> reopened in
       Negotiate closing Aug 14 (Aug 10)
    X: Proposal 400 closing Aug 12 (Jul 1) -> Closed Won (Aug 12) -> reopened in Negotiate
       closing Sep 20 (Sep 1): on Aug 15 it was won
    """
    put(
        "deals",
        deal("W", "won", "1000.00", date(2024, 7, 25)),
        deal("B", "won", "5000.00", date(2024, 8, 10)),
        deal("M", "open", "1500.00", date(2024, 9, 10)),
        deal("R", "open", "3000.00", date(2024, 8, 14), stage="Negotiate"),
        deal("X", "open", "400.00", date(2024, 9, 20), stage="Negotiate"),
    )
    seq = count(1)

    def ev(deal_id: str, at: datetime, field: str, new: str, old: str | None = None) -> Any:
        return {
            "deal_id": deal_id,
            "at": at,
            "field": field,
            "old_value": old,
            "new_value": new,
            "origin": "history",
            "seq": next(seq),
        }

    def born(deal_id: str, stage: str, amount: str, close: str) -> list[dict[str, Any]]:
        at = datetime(2024, 7, 1)
        return [
            ev(deal_id, at, "stage", stage),
            ev(deal_id, at, "amount", amount),
            ev(deal_id, at, "close_date", close),
            ev(deal_id, at, "owner_id", "u1"),
        ]

    put(
        "deal_events",
        *born("W", "Qualify", "1000.00", "2024-07-25"),
        ev("W", datetime(2024, 7, 25), "stage", "Closed Won", "Qualify"),
        *born("B", "Proposal", "5000.00", "2024-08-30"),
        ev("B", datetime(2024, 8, 20), "stage", "Closed Won", "Proposal"),
        ev("B", datetime(2024, 8, 20), "close_date", "2024-08-10", "2024-08-30"),
        *born("M", "Negotiate", "2000.00", "2024-09-10"),
        ev("M", datetime(2024, 8, 1), "stage", "Qualify", "Negotiate"),
        ev("M", datetime(2024, 8, 1), "amount", "1500.00", "2000.00"),
        *born("R", "Proposal", "3000.00", "2024-08-05"),
        ev("R", datetime(2024, 7, 20), "stage", "Closed Lost", "Proposal"),
        ev("R", datetime(2024, 8, 10), "stage", "Negotiate", "Closed Lost"),
        ev("R", datetime(2024, 8, 10), "close_date", "2024-08-14", "2024-08-05"),
        *born("X", "Proposal", "400.00", "2024-08-12"),
        ev("X", datetime(2024, 8, 12), "stage", "Closed Won", "Proposal"),
        ev("X", datetime(2024, 9, 1), "stage", "Negotiate", "Closed Won"),
        ev("X", datetime(2024, 9, 1), "close_date", "2024-09-20", "2024-08-12"),
    )
    put("targets", q3_target("company", "", "10000.00"))


@pytest.mark.usefixtures("history")
def test_as_of_counts_what_was_known_then(store: Store) -> None:
    result = revenue_vs_goal(store, AUG15, Q3)
    line = result.total
    # won by Aug 15: W 1,000 + X 400 (reopened only later) = 1,400; B was not won yet
    assert (line.bookings, line.won_count) == (Decimal("1400.00"), 2)
    assert [d.deal_id for d in result.won_deals] == ["W", "X"]
    # open: B 5,000 (Aug 30) + M 1,500 (moved back, cut) + R 3,000 (reopened) = 9,500
    assert (line.pipeline, line.pipeline_count) == (Decimal("9500.00"), 3)
    # due from Aug 15: B 5,000 + M 1,500 = 6,500; overdue: R (Aug 14) 3,000
    assert (line.due, line.overdue) == (Decimal("6500.00"), Decimal("3000.00"))
    assert [(d.deal_id, d.status, d.stage) for d in result.pipeline_deals] == [
        ("B", "due", "Proposal"),
        ("R", "overdue", "Negotiate"),
        ("M", "due", "Qualify"),
    ]
    # gap 10,000 - 1,400 = 8,600; coverage 9,500 / 8,600 = 1.104651..
    assert line.gap == Decimal("8600.00")
    assert round(line.coverage or 0, 6) == Decimal("1.104651")


@pytest.mark.usefixtures("history")
def test_as_of_after_the_backdated_win(store: Store) -> None:
    line = revenue_vs_goal(store, datetime(2024, 8, 25), Q3).total
    # by Aug 25 B is won with close date Aug 10: W 1,000 + X 400 + B 5,000 = 6,400
    assert (line.bookings, line.won_count) == (Decimal("6400.00"), 3)
    # open: M 1,500 (due Sep 10) + R 3,000 (Aug 14, overdue) = 4,500
    assert (line.pipeline, line.due, line.overdue) == (
        Decimal("4500.00"),
        Decimal("1500.00"),
        Decimal("3000.00"),
    )


@pytest.mark.usefixtures("history")
def test_now_the_reopened_win_is_pipeline_again(store: Store) -> None:
    line = revenue_vs_goal(store, datetime(2024, 9, 5), Q3).total
    # X was reopened on Sep 1 (closing Sep 20): W 1,000 + B 5,000 = 6,000 booked
    assert line.bookings == Decimal("6000.00")
    # open: M 1,500 + R 3,000 + X 400 = 4,900
    assert (line.pipeline, line.pipeline_count) == (Decimal("4900.00"), 3)


@pytest.mark.usefixtures("history")
def test_every_breakdown_at_once_as_known_then(store: Store) -> None:
    result = revenue_vs_goal_by(store, AUG15, Q3, BREAKDOWNS)
    # rebuilt as of Aug 15: W 1,000 + X 400 won (B won only on Aug 20); B 5,000 + M 1,500
    # (moved back, cut) + R 3,000 (reopened) = 9,500 open, of which R 3,000 overdue
    line = result["owner"].total
    assert (line.bookings, line.pipeline, line.overdue) == (
        Decimal("1400.00"),
        Decimal("9500.00"),
        Decimal("3000.00"),
    )
    # every deal is Ana's (u1 in the deals table): one owner line, the company's numbers
    assert [(r.key, r.bookings, r.pipeline) for r in result["owner"].rows] == [
        ("u1", Decimal("1400.00"), Decimal("9500.00"))
    ]
    assert_same_as_separate_calls(store, AUG15, Q3)


# -- properties -------------------------------------------------------------------------------

OWNERS = ["u1", "u2", None]
random_deals = st.lists(
    st.tuples(
        st.sampled_from(["won", "lost", "open"]),
        st.integers(min_value=0, max_value=10_000_000),  # cents
        st.dates(min_value=date(2024, 6, 25), max_value=date(2024, 10, 5)),
        st.sampled_from(OWNERS),
    ),
    max_size=20,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deals=random_deals)
def test_lines_add_up_to_the_company(
    make_store: Callable[[], Store],
    write: Writer,
    deal: DealFactory,
    deals: list[tuple[str, int, date, str | None]],
) -> None:
    store = make_store()
    rows = [
        deal(f"d{i}", outcome, str(Decimal(cents) / 100), day, owner=owner)
        for i, (outcome, cents, day, owner) in enumerate(deals)
    ]
    if rows:
        write(store, "deals", rows)
    result = revenue_vs_goal(store, AUG15, Q3, by="owner")
    day = date(2024, 8, 15)
    # by hand: won cents closing Jul 1..Aug 15; open cents closing in Q3, split at Aug 15
    won = [c for o, c, d, _ in deals if o == "won" and Q3.start <= d <= day]
    due = [c for o, c, d, _ in deals if o == "open" and day <= d <= Q3.end]
    overdue = [c for o, c, d, _ in deals if o == "open" and Q3.start <= d < day]
    total = result.total
    assert total.bookings == Decimal(sum(won)) / 100
    assert total.won_count == len(won)
    assert (total.due, total.overdue) == (Decimal(sum(due)) / 100, Decimal(sum(overdue)) / 100)
    assert total.pipeline == total.due + total.overdue
    assert sum((line.bookings for line in result.rows), Decimal(0)) == total.bookings
    assert sum((line.pipeline for line in result.rows), Decimal(0)) == total.pipeline
    assert len(result.won_deals) == total.won_count
    store.close()


def test_targets_by_dimension_in_one_read(store: Store, put: Rows) -> None:
    from quarterdeck.metrics.attainment import targets_by

    put(
        "targets",
        # The company's Q3 goal as three months: 100 + 200 + 300 = 600.
        target(date(2024, 7, 1), date(2024, 7, 31), "company", "", "100.00"),
        target(date(2024, 8, 1), date(2024, 8, 31), "company", "", "200.00"),
        target(date(2024, 9, 1), date(2024, 9, 30), "company", "", "300.00"),
        q3_target("rep", "u1", "250.00"),
        q3_target("rep", "u2", "150.00"),
        q3_target("motion", "renewal", "80.00"),
        # A yearly team goal straddles Q3's edges: not counted for the quarter.
        target(date(2024, 1, 1), date(2024, 12, 31), "team", "East", "999.00"),
    )
    goals = targets_by(store, Q3, (None, "owner", "team", "motion"))
    assert goals == {
        None: {None: Decimal("600.00")},
        "owner": {"u1": Decimal("250.00"), "u2": Decimal("150.00")},
        "team": {},
        "motion": {"renewal": Decimal("80.00")},
    }
