"""Bookings against target, checked against numbers worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quarterdeck.errors import InputError
from quarterdeck.metrics import Bookings, BookingsLine, bookings
from quarterdeck.periods import Period
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]
Writer = Callable[[Store, str, list[dict[str, Any]]], None]

Q3 = Period.parse("2024-Q3")  # 2024-07-01 .. 2024-09-30


def target(start: date, end: date, scope: str, scope_id: str, amount: str) -> dict[str, Any]:
    return {
        "period_start": start,
        "period_end": end,
        "scope": scope,
        "scope_id": scope_id,
        "amount": Decimal(amount),
    }


def by_key(result: Bookings) -> dict[str | None, BookingsLine]:
    return {line.key: line for line in result.rows}


@pytest.fixture
def org(put: Rows, deal: DealFactory) -> None:
    """Four reps in two teams, two accounts, deals in and around 2024-Q3, and targets."""
    put(
        "users",
        {"user_id": "u1", "name": "Ana", "team": "East"},
        {"user_id": "u2", "name": "Ben", "team": "East"},
        {"user_id": "u3", "name": "Cy", "team": "West"},
        {"user_id": "u4", "name": "Dee", "team": "West"},  # has a target, no deal
    )
    put(
        "accounts",
        {"account_id": "a1", "segment": "SMB"},
        {"account_id": "a2", "segment": "Enterprise"},
    )
    put(
        "deals",
        # first and last day of the quarter count
        deal("w1", "won", "1200.50", date(2024, 7, 1), owner="u1", account="a1"),
        deal("w2", "won", "300.00", date(2024, 9, 30), "u2", "a2", motion="expansion"),
        deal("w3", "won", "0.25", date(2024, 8, 15), owner="u3", account="a2"),
        # the day before and the day after do not
        deal("w4", "won", "999.99", date(2024, 6, 30), owner="u1", account="a1"),
        deal("w5", "won", "5000.00", date(2024, 10, 1), owner="u3", account="a2"),
        # lost and open deals are never bookings
        deal("l1", "lost", "700.00", date(2024, 8, 1), owner="u1", account="a1"),
        deal("o1", "open", "10000.00", date(2024, 8, 20), owner="u3", account="a2"),
    )
    put(
        "targets",
        # company targets by month: 600 + 700 + 700 = 2,000.00 for Q3
        target(date(2024, 7, 1), date(2024, 7, 31), "company", "", "600.00"),
        target(date(2024, 8, 1), date(2024, 8, 31), "company", "", "700.00"),
        target(date(2024, 9, 1), date(2024, 9, 30), "company", "", "700.00"),
        # a yearly target straddles Q3's edges: not pro-rated, not counted in Q3
        target(date(2024, 1, 1), date(2024, 12, 31), "company", "", "8000.00"),
        # and so do ones that start inside Q3 and end after it, or the other way round
        target(date(2024, 9, 1), date(2024, 11, 30), "company", "", "9000.00"),
        target(date(2024, 6, 1), date(2024, 7, 31), "company", "", "7000.00"),
        target(date(2024, 7, 1), date(2024, 9, 30), "team", "East", "2000.00"),
        target(date(2024, 7, 1), date(2024, 9, 30), "team", "West", "100.00"),
        target(date(2024, 7, 1), date(2024, 9, 30), "rep", "u1", "1000.00"),
        target(date(2024, 7, 1), date(2024, 9, 30), "rep", "u4", "400.00"),
        target(date(2024, 7, 1), date(2024, 9, 30), "segment", "Enterprise", "500.00"),
        target(date(2024, 7, 1), date(2024, 9, 30), "motion", "new_business", "1000.00"),
        # next quarter's target is not this quarter's
        target(date(2024, 10, 1), date(2024, 12, 31), "company", "", "3000.00"),
    )


@pytest.mark.usefixtures("org")
def test_company_bookings_against_monthly_targets(store: Store) -> None:
    result = bookings(store, Q3)
    # won in Q3: 1,200.50 (Jul 1) + 300.00 (Sep 30) + 0.25 = 1,500.75; 3 deals
    assert result.bookings == Decimal("1500.75")
    assert result.won_count == 3
    # target: monthly 600 + 700 + 700 = 2,000.00 (8,000, 9,000 and 7,000 straddle Q3)
    assert result.target == Decimal("2000.00")
    # 1,500.75 / 2,000 = 0.750375 (75.04%); gap 2,000 - 1,500.75 = 499.25
    assert result.attainment == Decimal("0.750375")
    assert result.gap == Decimal("499.25")
    assert result.rows == ()
    assert isinstance(result.bookings, Decimal)
    assert isinstance(result.target, Decimal)


@pytest.mark.usefixtures("org")
def test_one_month_uses_only_that_months_target(store: Store) -> None:
    result = bookings(store, Period.parse("2024-07"))
    # July: only w1 1,200.50; target 600 -> 2.000833.. ; gap 600 - 1,200.50 = -600.50
    assert result.bookings == Decimal("1200.50")
    assert result.target == Decimal("600.00")
    assert round(result.attainment or 0, 4) == Decimal("2.0008")
    assert result.gap == Decimal("-600.50")


@pytest.mark.usefixtures("org")
def test_by_team(store: Store) -> None:
    rows = by_key(bookings(store, Q3, by="team"))
    # East = Ana 1,200.50 + Ben 300.00 = 1,500.50, 2 deals; target 2,000 -> 0.75025, gap 499.50
    assert rows["East"] == BookingsLine(
        "East", Decimal("1500.50"), 2, Decimal("2000.00"), Decimal("0.75025"), Decimal("499.50")
    )
    # West = Cy 0.25; target 100 -> 0.0025, gap 99.75
    assert rows["West"] == BookingsLine(
        "West", Decimal("0.25"), 1, Decimal("100.00"), Decimal("0.0025"), Decimal("99.75")
    )
    assert set(rows) == {"East", "West"}


@pytest.mark.usefixtures("org")
def test_by_owner_lists_reps_with_a_target_and_no_win(store: Store) -> None:
    result = bookings(store, Q3, by="owner")
    rows = by_key(result)
    # Ana 1,200.50 vs 1,000 -> 1.2005, gap -200.50 (over target)
    assert rows["u1"] == BookingsLine(
        "u1", Decimal("1200.50"), 1, Decimal("1000.00"), Decimal("1.2005"), Decimal("-200.50")
    )
    # Ben 300.00 with no rep target
    assert rows["u2"] == BookingsLine("u2", Decimal("300.00"), 1, None, None, None)
    assert rows["u3"].bookings == Decimal("0.25")
    # Dee: nothing won, target 400 -> attainment 0, gap 400
    assert rows["u4"] == BookingsLine(
        "u4", Decimal("0.00"), 0, Decimal("400.00"), Decimal("0"), Decimal("400.00")
    )
    # largest bookings first
    assert [line.key for line in result.rows] == ["u1", "u2", "u3", "u4"]
    # the company line stays the company's
    assert result.total.bookings == Decimal("1500.75")
    assert result.total.target == Decimal("2000.00")


@pytest.mark.usefixtures("org")
def test_by_segment(store: Store) -> None:
    rows = by_key(bookings(store, Q3, by="segment"))
    # SMB: w1 1,200.50, no segment target
    assert rows["SMB"] == BookingsLine("SMB", Decimal("1200.50"), 1, None, None, None)
    # Enterprise: w2 300.00 + w3 0.25 = 300.25; target 500 -> 0.6005, gap 199.75
    assert rows["Enterprise"] == BookingsLine(
        "Enterprise", Decimal("300.25"), 2, Decimal("500.00"), Decimal("0.6005"), Decimal("199.75")
    )


@pytest.mark.usefixtures("org")
def test_by_motion(store: Store) -> None:
    rows = by_key(bookings(store, Q3, by="motion"))
    # new business: w1 1,200.50 + w3 0.25 = 1,200.75; target 1,000 -> 1.20075, gap -200.75
    assert rows["new_business"] == BookingsLine(
        "new_business",
        Decimal("1200.75"),
        2,
        Decimal("1000.00"),
        Decimal("1.20075"),
        Decimal("-200.75"),
    )
    # expansion: w2 300.00, no target
    assert rows["expansion"] == BookingsLine("expansion", Decimal("300.00"), 1, None, None, None)


@pytest.mark.usefixtures("org")
def test_by_account_has_no_targets(store: Store) -> None:
    rows = by_key(bookings(store, Q3, by="account"))
    # a1: w1 1,200.50; a2: w2 300.00 + w3 0.25 = 300.25
    assert rows == {
        "a1": BookingsLine("a1", Decimal("1200.50"), 1, None, None, None),
        "a2": BookingsLine("a2", Decimal("300.25"), 2, None, None, None),
    }


@pytest.mark.usefixtures("org")
def test_empty_period(store: Store) -> None:
    result = bookings(store, Period.parse("2023-Q1"), by="owner")
    # nothing won and no target in 2023-Q1
    assert result.bookings == Decimal("0")
    assert result.won_count == 0
    assert (result.target, result.attainment, result.gap) == (None, None, None)
    assert result.rows == ()


@pytest.mark.usefixtures("org")
def test_period_without_a_target(store: Store) -> None:
    # June 2024 has no target of its own (the yearly and Jun-Jul ones straddle it);
    # w4 999.99 won Jun 30
    result = bookings(store, Period.parse("2024-06"))
    assert result.bookings == Decimal("999.99")
    assert result.target is None
    assert result.attainment is None
    assert result.gap is None


def test_zero_target_gives_no_attainment(store: Store, put: Rows, deal: DealFactory) -> None:
    put("deals", deal("w", "won", "50.00", date(2024, 8, 1)))
    put("targets", target(date(2024, 7, 1), date(2024, 9, 30), "company", "", "0.00"))
    result = bookings(store, Q3)
    # 50 / 0 has no meaning: attainment None, gap 0 - 50 = -50
    assert result.target == Decimal("0.00")
    assert result.attainment is None
    assert result.gap == Decimal("-50.00")


def test_cents_add_up_exactly(store: Store, put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        # 0.10 + 0.20 + 0.70 = 1.00 exactly (in floats 0.1 + 0.2 is 0.30000000000000004)
        deal("c1", "won", "0.10", date(2024, 7, 2)),
        deal("c2", "won", "0.20", date(2024, 7, 3)),
        deal("c3", "won", "0.70", date(2024, 7, 4)),
        # 33.33 x 3 = 99.99
        deal("t1", "won", "33.33", date(2024, 8, 1)),
        deal("t2", "won", "33.33", date(2024, 8, 2)),
        deal("t3", "won", "33.33", date(2024, 8, 3)),
    )
    put("targets", target(date(2024, 7, 1), date(2024, 9, 30), "company", "", "300.00"))
    result = bookings(store, Q3)
    # 1.00 + 99.99 = 100.99; target 300 -> 0.33663333.. ; gap 199.01
    assert result.bookings == Decimal("100.99")
    assert result.gap == Decimal("199.01")
    assert round(result.attainment or 0, 6) == Decimal("0.336633")


def test_fiscal_quarter(store: Store, put: Rows, deal: DealFactory) -> None:
    fq1 = Period.parse("FY2025-Q1", fiscal_year_start_month=2)  # 2024-02-01 .. 2024-04-30
    put(
        "deals",
        deal("f1", "won", "100.00", date(2024, 2, 1)),  # first day
        deal("f2", "won", "200.00", date(2024, 4, 30)),  # last day
        deal("f3", "won", "400.00", date(2024, 1, 31)),  # FY2024-Q4
        deal("f4", "won", "800.00", date(2024, 5, 1)),  # FY2025-Q2
    )
    put(
        "targets",
        target(date(2024, 2, 1), date(2024, 2, 29), "company", "", "100.00"),
        target(date(2024, 3, 1), date(2024, 3, 31), "company", "", "100.00"),
        target(date(2024, 4, 1), date(2024, 4, 30), "company", "", "100.00"),
        target(date(2024, 5, 1), date(2024, 5, 31), "company", "", "100.00"),
    )
    result = bookings(store, fq1)
    # 100 + 200 = 300; fiscal months Feb + Mar + Apr = 300 -> attainment 1, gap 0
    assert result.bookings == Decimal("300.00")
    assert result.target == Decimal("300.00")
    assert result.attainment == Decimal("1")
    assert result.gap == Decimal("0.00")


def test_unknown_owner_keeps_its_bookings(store: Store, put: Rows, deal: DealFactory) -> None:
    put("users", {"user_id": "u1", "team": "East"})
    put(
        "deals",
        deal("k", "won", "10.00", date(2024, 7, 5), owner="u1"),
        deal("g", "won", "5.50", date(2024, 7, 6), owner="ghost"),  # not in users
        deal("n", "won", "1.25", date(2024, 7, 7), owner=None),
    )
    rows = by_key(bookings(store, Q3, by="team"))
    # East 10.00; no team known for "ghost" or no owner: 5.50 + 1.25 = 6.75 under None
    assert rows["East"].bookings == Decimal("10.00")
    assert rows[None].bookings == Decimal("6.75")
    assert rows[None].won_count == 2


def test_won_deal_without_amount_counts_but_adds_nothing(
    store: Store, put: Rows, deal: DealFactory
) -> None:
    put(
        "deals",
        deal("a", "won", "20.00", date(2024, 7, 5)),
        deal("b", "won", None, date(2024, 7, 6)),
    )
    result = bookings(store, Q3)
    # 20.00 + nothing = 20.00, two won deals
    assert (result.bookings, result.won_count) == (Decimal("20.00"), 2)


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(InputError, match="region"):
        bookings(store, Q3, by="region")
    with pytest.raises(InputError, match="Period"):
        bookings(store, "2024-Q3")  # type: ignore[arg-type]


@pytest.mark.usefixtures("org")
def test_shows_its_sql(store: Store) -> None:
    result = bookings(store, Q3, by="team")
    assert set(result.expressions()) == {"total", "rows"}
    total_sql = store.sql(result.total_expr)
    rows_sql = store.sql(result.rows_expr)  # type: ignore[arg-type]
    assert '"deals"' in total_sql and '"targets"' in total_sql
    assert '"users"' in rows_sql  # team comes from the owner's user row


# -- properties -------------------------------------------------------------------------------

OWNERS = ["u1", "u2", "u3", None]
random_deals = st.lists(
    st.tuples(
        st.sampled_from(["won", "lost", "open"]),
        st.integers(min_value=0, max_value=10_000_000),  # cents
        st.dates(min_value=date(2024, 6, 25), max_value=date(2024, 10, 5)),
        st.sampled_from(OWNERS),
    ),
    max_size=25,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deals=random_deals)
def test_owners_add_up_to_the_company(
    make_store: Callable[[], Store],
    write: Writer,
    deal: DealFactory,
    deals: list[tuple[str, int, date, str | None]],
) -> None:
    store = make_store()
    write(store, "users", [{"user_id": u, "team": "T"} for u in OWNERS if u])
    rows = [
        deal(f"d{i}", outcome, str(Decimal(cents) / 100), day, owner=owner)
        for i, (outcome, cents, day, owner) in enumerate(deals)
    ]
    if rows:
        write(store, "deals", rows)
    result = bookings(store, Q3, by="owner")
    won_in_q3 = [c for o, c, d, _ in deals if o == "won" and Q3.contains(d)]
    # the hand formula: the won cents of deals closing in Q3, added up
    assert result.bookings == Decimal(sum(won_in_q3)) / 100
    assert result.won_count == len(won_in_q3)
    assert sum((line.bookings for line in result.rows), Decimal(0)) == result.bookings
    assert sum(line.won_count for line in result.rows) == result.won_count
    store.close()
