"""Win rate by count and by value, against numbers worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quarterdeck.errors import InputError
from quarterdeck.metrics import WinRate, WinRateLine, win_rate
from quarterdeck.periods import Period
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]
Writer = Callable[[Store, str, list[dict[str, Any]]], None]

Q3 = Period.parse("2024-Q3")  # 2024-07-01 .. 2024-09-30


def by_key(result: WinRate) -> dict[str | None, WinRateLine]:
    return {line.key: line for line in result.rows}


@pytest.fixture
def closed(put: Rows, deal: DealFactory) -> None:
    put(
        "users",
        {"user_id": "u1", "team": "East"},
        {"user_id": "u2", "team": "East"},
        {"user_id": "u3", "team": "West"},
    )
    put(
        "deals",
        deal("w1", "won", "1200.50", date(2024, 7, 1), owner="u1"),  # first day
        deal("w2", "won", "300.00", date(2024, 9, 30), owner="u2"),  # last day
        deal("l1", "lost", "700.00", date(2024, 8, 1), owner="u1"),
        deal("l2", "lost", "299.50", date(2024, 8, 2), owner="u3"),
        deal("l3", "lost", None, date(2024, 8, 3), owner="u3"),  # counts, no value
        deal("o1", "open", "10000.00", date(2024, 8, 20), owner="u3"),  # open: never counts
        deal("w9", "won", "5000.00", date(2024, 10, 1), owner="u3"),  # after Q3
        deal("l9", "lost", "5000.00", date(2024, 6, 30), owner="u3"),  # before Q3
    )


@pytest.mark.usefixtures("closed")
def test_company_win_rate(store: Store) -> None:
    result = win_rate(store, Q3)
    total = result.total
    # closed in Q3: won w1, w2; lost l1, l2, l3 -> 2 / 5 = 0.4 by count
    assert (total.won, total.lost, total.closed) == (2, 3, 5)
    assert result.by_count == Decimal("0.4")
    # value: won 1,200.50 + 300 = 1,500.50; lost 700 + 299.50 + nothing = 999.50
    # 1,500.50 / (1,500.50 + 999.50 = 2,500.00) = 0.6002
    assert total.won_amount == Decimal("1500.50")
    assert total.lost_amount == Decimal("999.50")
    assert result.by_value == Decimal("0.6002")


@pytest.mark.usefixtures("closed")
def test_by_owner(store: Store) -> None:
    rows = by_key(win_rate(store, Q3, by="owner"))
    # Ana: won 1,200.50, lost 700 -> 1/2 = 0.5; 1,200.50 / 1,900.50 = 0.63167..
    assert (rows["u1"].won, rows["u1"].lost, rows["u1"].by_count) == (1, 1, Decimal("0.5"))
    assert round(rows["u1"].by_value or 0, 4) == Decimal("0.6317")
    # Ben: won only -> 1 and 1
    assert (rows["u2"].by_count, rows["u2"].by_value) == (Decimal(1), Decimal(1))
    # Cy: lost 299.50 and one without amount -> 0/2 = 0, 0 / 299.50 = 0 (w9, l9 are outside Q3)
    assert (rows["u3"].won, rows["u3"].lost) == (0, 2)
    assert (rows["u3"].by_count, rows["u3"].by_value) == (Decimal(0), Decimal(0))
    assert set(rows) == {"u1", "u2", "u3"}


@pytest.mark.usefixtures("closed")
def test_by_team(store: Store) -> None:
    rows = by_key(win_rate(store, Q3, by="team"))
    # East: won w1, w2; lost l1 -> 2/3; value 1,500.50 / 2,200.50 = 0.68189..
    assert (rows["East"].won, rows["East"].lost) == (2, 1)
    assert round(rows["East"].by_count or 0, 4) == Decimal("0.6667")
    assert round(rows["East"].by_value or 0, 4) == Decimal("0.6819")
    # West: l2, l3 -> 0
    assert rows["West"].by_count == Decimal(0)


@pytest.mark.usefixtures("closed")
def test_no_deal_closed_gives_no_rate(store: Store) -> None:
    result = win_rate(store, Period.parse("2023-Q1"), by="owner")
    assert (result.by_count, result.by_value) == (None, None)
    assert (result.total.won, result.total.lost) == (0, 0)
    assert result.rows == ()


def test_open_deals_alone_give_no_rate(store: Store, put: Rows, deal: DealFactory) -> None:
    put("deals", deal("o", "open", "100.00", date(2024, 8, 1)))
    assert win_rate(store, Q3).by_count is None


def test_closed_deals_worth_nothing_have_no_value_rate(
    store: Store, put: Rows, deal: DealFactory
) -> None:
    put(
        "deals",
        deal("z", "lost", "0.00", date(2024, 8, 1)),
        deal("n", "lost", None, date(2024, 8, 2)),
    )
    result = win_rate(store, Q3)
    # 0 won of 2 closed -> 0 by count; 0 / (0 + 0) by value has no meaning -> None
    assert result.by_count == Decimal(0)
    assert result.by_value is None


def test_reopened_deal_is_not_lost(store: Store, put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        deal("w", "won", "100.00", date(2024, 7, 20)),
        # lost in July, reopened since: today it is open and does not count
        deal("r", "open", "900.00", date(2024, 9, 30), stage="Negotiate"),
    )
    result = win_rate(store, Q3)
    # only w closed: 1/1
    assert (result.total.won, result.total.lost, result.by_count) == (1, 0, Decimal(1))


def test_won_flag_without_closed_flag_counts_as_closed(
    store: Store, put: Rows, deal: DealFactory
) -> None:
    won = deal("w", "won", "100.00", date(2024, 7, 20))
    won["is_closed"] = None
    put("deals", won, deal("l", "lost", "300.00", date(2024, 7, 21)))
    result = win_rate(store, Q3)
    # 1 won of 2; 100 / 400 = 0.25
    assert (result.by_count, result.by_value) == (Decimal("0.5"), Decimal("0.25"))


def test_fiscal_quarter(store: Store, put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        deal("a", "won", "10.00", date(2024, 2, 1)),  # FY2025-Q1 first day (Feb start)
        deal("b", "lost", "30.00", date(2024, 4, 30)),  # last day
        deal("c", "lost", "50.00", date(2024, 1, 31)),  # FY2024-Q4
    )
    result = win_rate(store, Period.parse("FY2025-Q1", fiscal_year_start_month=2))
    # a won, b lost -> 0.5; 10 / 40 = 0.25
    assert (result.by_count, result.by_value) == (Decimal("0.5"), Decimal("0.25"))


def test_bad_dimension(store: Store) -> None:
    with pytest.raises(InputError, match="owner, team, segment, motion, account"):
        win_rate(store, Q3, by="colour")


@pytest.mark.usefixtures("closed")
def test_shows_its_sql(store: Store) -> None:
    result = win_rate(store, Q3, by="owner")
    assert '"deals"' in store.sql(result.total_expr)
    assert set(result.expressions()) == {"total", "rows"}


# -- properties -------------------------------------------------------------------------------

outcomes = st.lists(
    st.tuples(
        st.sampled_from(["won", "lost", "open"]),
        st.integers(min_value=0, max_value=10_000_000),  # cents
        st.dates(min_value=date(2024, 6, 25), max_value=date(2024, 10, 5)),
    ),
    max_size=25,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deals=outcomes)
def test_win_rate_is_the_hand_formula(
    make_store: Callable[[], Store],
    write: Writer,
    deal: DealFactory,
    deals: list[tuple[str, int, date]],
) -> None:
    store = make_store()
    rows = [deal(f"d{i}", o, str(Decimal(c) / 100), d) for i, (o, c, d) in enumerate(deals)]
    if rows:
        write(store, "deals", rows)
    result = win_rate(store, Q3)
    in_q3 = [(o, c) for o, c, d in deals if Q3.contains(d)]
    won = sum(1 for o, _ in in_q3 if o == "won")
    lost = sum(1 for o, _ in in_q3 if o == "lost")
    won_cents = sum(c for o, c in in_q3 if o == "won")
    lost_cents = sum(c for o, c in in_q3 if o == "lost")
    if won + lost == 0:
        assert result.by_count is None
    else:
        assert result.by_count is not None
        assert 0 <= result.by_count <= 1
        assert result.by_count == Decimal(won) / Decimal(won + lost)
    if won_cents + lost_cents == 0:
        assert result.by_value is None
    else:
        assert result.by_value == Decimal(won_cents) / Decimal(won_cents + lost_cents)
    store.close()
