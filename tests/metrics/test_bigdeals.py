"""Big deals won lately, closing soon and overdue, against hand-worked thresholds and windows.

The report's moment is Thursday 15 August 2024 at noon. Its quarter is 2024-Q3, so the
wins that set the threshold are those closed from 2023-07-01 (four quarters back) to
2024-08-15.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from quarterdeck.errors import InputError
from quarterdeck.metrics.bigdeals import BigDeals, big_deals
from quarterdeck.settings import SETTINGS
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]

AS_OF = datetime(2024, 8, 15, 12, 0)
DEFAULTS = {key: s.default for key, s in SETTINGS.items()}


def settings(**changes: Any) -> dict[str, Any]:
    return {**DEFAULTS, **{f"big_deals.{k}": v for k, v in changes.items()}}


def listed(result: BigDeals) -> dict[str, list[tuple[str, Decimal]]]:
    return {
        name: [(d.deal_id, d.amount) for d in getattr(result, name).deals]
        for name in ("won", "closing", "overdue")
    }


@pytest.fixture
def company(put: Rows, deal: DealFactory) -> None:
    """Twenty wins of 100, 200, ..., 2,000 in the look-back, and the deals around as_of.

    Threshold at the 0.9 quantile: the smallest won amount whose share of wins at or below
    it exceeds 0.9. 1,800 is 18/20 = 0.90 (not above), 1,900 is 19/20 = 0.95: big from 1,900.
    """
    wins = [deal(f"W{i:02d}", "won", f"{i * 100}.00", date(2024, 3, 1)) for i in range(1, 21)]
    wins[18]["close_date"] = date(2024, 8, 9)  # W19, 1,900: 6 days before as_of's date
    wins[19]["close_date"] = date(2024, 8, 8)  # W20, 2,000: 7 days before: out of the window
    wins[17]["close_date"] = date(2024, 8, 15)  # W18, 1,800: in the window, not big
    # Before the look-back: were it counted, 1,800 would be 19/21 = 0.905 and big.
    old = deal("OLD", "won", "50.00", date(2023, 6, 30))
    rows = [
        *wins,
        old,
        deal("O1", "open", "1900.00", date(2024, 8, 15), stage="Proposal"),  # today: closing
        deal("O2", "open", "5000.00", date(2024, 9, 14), stage="Negotiate"),  # +30 days
        deal("O3", "open", "2500.00", date(2024, 9, 15)),  # +31 days: not yet
        deal("O4", "open", "3000.00", date(2024, 8, 14), stage="Proposal"),  # overdue
        deal("O5", "open", "1899.99", date(2024, 8, 20)),  # a cent short of big
        deal("L1", "lost", "4000.00", date(2024, 8, 10)),  # lost: in no list
    ]
    for row in rows:
        row["created_at"] = datetime(2024, 6, 1)
        row["name"] = f"{row['deal_id']} deal"
    rows[-5]["motion"] = "expansion"  # O2
    rows[-5]["created_at"] = datetime(2024, 6, 1, 18, 0)
    put("deals", *rows)


@pytest.mark.usefixtures("company")
def test_big_deals(store: Store) -> None:
    result = big_deals(store, AS_OF, DEFAULTS)
    assert result.threshold == Decimal("1900.00")
    assert listed(result) == {
        "won": [("W19", Decimal("1900.00"))],
        "closing": [("O2", Decimal("5000.00")), ("O1", Decimal("1900.00"))],
        "overdue": [("O4", Decimal("3000.00"))],
    }
    # won: close dates Aug 9 to Aug 15; closing: Aug 15 to Sep 14
    assert (result.won_from, result.won_to) == (date(2024, 8, 9), date(2024, 8, 15))
    assert (result.closing_from, result.closing_to) == (date(2024, 8, 15), date(2024, 9, 14))
    assert (result.won.count, result.won.value) == (1, Decimal("1900.00"))
    assert (result.closing.count, result.closing.value) == (2, Decimal("6900.00"))  # 5,000 + 1,900
    assert (result.overdue.count, result.overdue.value) == (1, Decimal("3000.00"))
    o2 = result.closing.deals[0]
    # created 2024-06-01 18:00, as_of 2024-08-15 12:00: 75 calendar days later, but 6 hours
    # short of 75 whole days: 74
    assert (o2.name, o2.owner_id, o2.account_id, o2.stage, o2.motion) == (
        "O2 deal", "u1", "a1", "Negotiate", "expansion"
    )  # fmt: skip
    assert (o2.close_date, o2.age_days) == (date(2024, 9, 14), 74)
    assert result.notes == ()
    assert set(result.expressions()) == {"deals"}


@pytest.mark.usefixtures("company")
def test_windows_from_settings(store: Store) -> None:
    result = big_deals(store, AS_OF, settings(won_days=8, closing_days=31))
    # won: Aug 8 to Aug 15 now holds W20; closing: Aug 15 to Sep 15 now holds O3
    assert listed(result) == {
        "won": [("W20", Decimal("2000.00")), ("W19", Decimal("1900.00"))],
        "closing": [
            ("O2", Decimal("5000.00")),
            ("O3", Decimal("2500.00")),
            ("O1", Decimal("1900.00")),
        ],
        "overdue": [("O4", Decimal("3000.00"))],
    }
    assert (result.won.count, result.won.value) == (2, Decimal("3900.00"))


@pytest.mark.usefixtures("company")
def test_fixed_amount(store: Store) -> None:
    result = big_deals(store, AS_OF, settings(amount=2500))
    assert result.threshold == Decimal("2500.00")
    assert "big_deals.amount" in result.source
    # W19 (1,900) is no longer big; O3 (2,500, exactly the amount) is big but closes Sep 15
    assert listed(result) == {
        "won": [],
        "closing": [("O2", Decimal("5000.00"))],
        "overdue": [("O4", Decimal("3000.00"))],
    }


@pytest.mark.usefixtures("company")
def test_quantile_from_settings(store: Store) -> None:
    # 0.5: 1,000 is 10/20 = 0.50 (not above), 1,100 is 11/20 = 0.55: big from 1,100
    result = big_deals(store, AS_OF, settings(quantile=0.5))
    assert result.threshold == Decimal("1100.00")
    assert [d.deal_id for d in result.won.deals] == ["W19", "W18"]
    assert [d.deal_id for d in result.closing.deals] == ["O2", "O1", "O5"]


def test_no_wins_threshold_unknown(store: Store, put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        deal("O1", "open", "1000000.00", date(2024, 8, 20)),
        deal("L1", "lost", "5000.00", date(2024, 8, 10)),
        deal("W0", "won", "5000.00", date(2023, 6, 30)),  # before the look-back
    )
    result = big_deals(store, AS_OF, DEFAULTS)
    assert result.threshold is None
    assert listed(result) == {"won": [], "closing": [], "overdue": []}
    assert (result.closing.count, result.closing.value) == (0, Decimal("0"))
    assert result.notes == (
        "big-deal threshold unknown: no deal was won in the last four quarters",
    )
    assert result.expressions() == {}


def test_empty_store(store: Store) -> None:
    result = big_deals(store, AS_OF, DEFAULTS)
    assert (result.threshold, result.won.count, result.closing.count) == (None, 0, 0)
    assert big_deals(store, AS_OF, settings(amount=1000)).closing.deals == ()


def test_as_of_must_be_a_moment(store: Store) -> None:
    with pytest.raises(InputError, match="as_of must be a moment"):
        big_deals(store, date(2024, 8, 15), DEFAULTS)  # type: ignore[arg-type]


def test_deals_as_they_stood(store: Store, put: Rows, deal: DealFactory) -> None:
    """H was open for 1,500 at as_of and won for 1,600 two days later; R was lost before
    as_of and reopened after it."""
    put(
        "deals",
        *[deal(f"W{i}", "won", f"{i * 100}.00", date(2024, 3, 1)) for i in range(1, 11)],
        {**deal("H", "won", "1600.00", date(2024, 8, 17)), "created_at": datetime(2024, 7, 1)},
        {**deal("R", "open", "2000.00", date(2024, 9, 1)), "created_at": datetime(2024, 7, 1)},
    )
    events: list[dict[str, Any]] = []
    for deal_id, at, stage, amount, close in (
        ("H", datetime(2024, 7, 1), "Proposal", "1500.00", "2024-08-20"),
        ("H", datetime(2024, 8, 17), "Closed Won", "1600.00", "2024-08-17"),
        ("R", datetime(2024, 7, 1), "Proposal", "2000.00", "2024-08-01"),
        ("R", datetime(2024, 8, 1), "Closed Lost", "2000.00", "2024-08-01"),
        ("R", datetime(2024, 8, 16), "Proposal", "2000.00", "2024-09-01"),
    ):
        for field_name, value in (("stage", stage), ("amount", amount), ("close_date", close)):
            events.append(
                {
                    "deal_id": deal_id,
                    "at": at,
                    "field": field_name,
                    "new_value": value,
                    "seq": len(events) + 1,
                }
            )
    put("deal_events", *events)
    # ten wins of 100 ... 1,000: 1,000 is the only one above the 0.9 share (10/10)
    result = big_deals(store, AS_OF, DEFAULTS)
    assert result.threshold == Decimal("1000.00")
    # at as_of H is open (1,500, closing Aug 20, 45 days old) and R is lost: in no list
    assert listed(result) == {"won": [], "closing": [("H", Decimal("1500.00"))], "overdue": []}
    assert (result.closing.deals[0].stage, result.closing.deals[0].age_days) == ("Proposal", 45)
    after = big_deals(store, datetime(2024, 8, 18), DEFAULTS)
    # Aug 18: H won on Aug 17 for 1,600 (window Aug 12-18); R reopened, closing Sep 1
    assert listed(after) == {
        "won": [("H", Decimal("1600.00"))],
        "closing": [("R", Decimal("2000.00"))],
        "overdue": [],
    }
