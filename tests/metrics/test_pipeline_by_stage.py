"""Open pipeline by stage, now and as of a past moment, against hand-counted numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from quarterdeck.errors import InputError
from quarterdeck.metrics import PipelineByStage, StageLine, pipeline_by_stage
from quarterdeck.periods import Period
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]


def lines(result: PipelineByStage) -> list[tuple[str | None, int, Decimal]]:
    return [(line.stage, line.count, line.amount) for line in result.stages]


# -- the current deals table ------------------------------------------------------------------


@pytest.fixture
def current(put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        deal("o1", "open", "1000.00", date(2024, 8, 1), stage="Proposal"),
        deal("o2", "open", "250.25", date(2024, 9, 30), stage="Qualify"),
        deal("o3", "open", "100.10", date(2024, 10, 15), stage="Qualify"),
        deal("o4", "open", "50.00", date(2024, 8, 1), stage="Legacy Stage"),  # not in stages
        deal("o5", "open", None, date(2024, 7, 1), stage="Prospect"),  # no amount yet
        deal("w1", "won", "999.00", date(2024, 8, 1)),
        deal("l1", "lost", "500.00", date(2024, 8, 1)),
    )


@pytest.mark.usefixtures("current")
def test_open_deals_by_stage_in_process_order(store: Store) -> None:
    result = pipeline_by_stage(store)
    assert lines(result) == [
        ("Prospect", 1, Decimal("0.00")),  # o5 counts, adds nothing
        ("Qualify", 2, Decimal("350.35")),  # 250.25 + 100.10
        ("Proposal", 1, Decimal("1000.00")),
        ("Legacy Stage", 1, Decimal("50.00")),  # unknown stage last
    ]
    assert [line.sort_order for line in result.stages] == [1, 2, 3, None]
    # won w1 and lost l1 are not pipeline: 5 open deals, 0 + 350.35 + 1,000 + 50 = 1,400.35
    assert result.count == 5
    assert result.amount == Decimal("1400.35")
    assert all(isinstance(line.amount, Decimal) for line in result.stages)


@pytest.mark.usefixtures("current")
def test_period_keeps_deals_closing_in_it(store: Store) -> None:
    result = pipeline_by_stage(store, period=Period.parse("2024-Q3"))
    # o3 closes 2024-10-15, after Q3; o5 (Jul 1) and o2 (Sep 30) sit on Q3's edges
    assert lines(result) == [
        ("Prospect", 1, Decimal("0.00")),
        ("Qualify", 1, Decimal("250.25")),
        ("Proposal", 1, Decimal("1000.00")),
        ("Legacy Stage", 1, Decimal("50.00")),
    ]
    # 0 + 250.25 + 1,000 + 50 = 1,300.25 over 4 deals
    assert (result.count, result.amount) == (4, Decimal("1300.25"))


def test_empty_pipeline(store: Store) -> None:
    result = pipeline_by_stage(store)
    assert (result.stages, result.count, result.amount) == ((), 0, Decimal("0"))


def test_stage_not_set_comes_last(store: Store, put: Rows, deal: DealFactory) -> None:
    row = deal("x", "open", "7.00", date(2024, 8, 1))
    row["stage"] = None
    put("deals", row, deal("y", "open", "3.00", date(2024, 8, 1), stage="Legacy Stage"))
    result = pipeline_by_stage(store)
    assert result.stages == (
        StageLine("Legacy Stage", None, 1, Decimal("3.00")),
        StageLine(None, None, 1, Decimal("7.00")),
    )


# -- as of, rebuilt from deal_events -----------------------------------------------------------


@pytest.fixture
def history(put: Rows, deal: DealFactory) -> None:
    """Four deals with a past.

    A: Qualify 500 (Jun 1) -> Proposal (Jul 1 09:00) -> back to Qualify, 650.50 (Aug 1)
    B: Proposal 1,000 closing Aug 31 (Jun 1) -> Closed Lost (Jul 10) -> reopened as
       Negotiate 1,200 closing Sep 30 (Aug 5)
    C: Qualify 300 (Jun 1) -> Closed Won (Jul 20)
    D: created Aug 10 in Prospect, 75
    """
    put(
        "deals",
        deal("A", "open", "650.50", date(2024, 9, 15), stage="Qualify"),
        deal("B", "open", "1200.00", date(2024, 9, 30), stage="Negotiate"),
        deal("C", "won", "300.00", date(2024, 7, 20)),
        deal("D", "open", "75.00", date(2024, 8, 20), stage="Prospect"),
    )
    seq = count(1)

    def ev(
        deal_id: str, at: datetime, field: str, new: str, old: str | None = None
    ) -> dict[str, Any]:
        return {
            "deal_id": deal_id,
            "at": at,
            "field": field,
            "old_value": old,
            "new_value": new,
            "origin": "history",
            "seq": next(seq),
        }

    jun1, aug10 = datetime(2024, 6, 1), datetime(2024, 8, 10)
    put(
        "deal_events",
        ev("A", jun1, "stage", "Qualify"),
        ev("A", jun1, "amount", "500.00"),
        ev("A", jun1, "close_date", "2024-09-15"),
        ev("A", datetime(2024, 7, 1, 9), "stage", "Proposal", "Qualify"),
        ev("A", datetime(2024, 8, 1), "stage", "Qualify", "Proposal"),
        ev("A", datetime(2024, 8, 1), "amount", "650.50", "500.00"),
        ev("B", jun1, "stage", "Proposal"),
        ev("B", jun1, "amount", "1000.00"),
        ev("B", jun1, "close_date", "2024-08-31"),
        ev("B", datetime(2024, 7, 10), "stage", "Closed Lost", "Proposal"),
        ev("B", datetime(2024, 8, 5), "stage", "Negotiate", "Closed Lost"),
        ev("B", datetime(2024, 8, 5), "amount", "1200.00", "1000.00"),
        ev("B", datetime(2024, 8, 5), "close_date", "2024-09-30", "2024-08-31"),
        ev("C", jun1, "stage", "Qualify"),
        ev("C", jun1, "amount", "300.00"),
        ev("C", jun1, "close_date", "2024-07-20"),
        ev("C", datetime(2024, 7, 20), "stage", "Closed Won", "Qualify"),
        ev("D", aug10, "stage", "Prospect"),
        ev("D", aug10, "amount", "75.00"),
        ev("D", aug10, "close_date", "2024-08-20"),
    )


@pytest.mark.usefixtures("history")
def test_as_of_mid_july(store: Store) -> None:
    result = pipeline_by_stage(store, as_of=datetime(2024, 7, 15))
    # A is in Proposal at 500; B is lost (not pipeline); C is still in Qualify; D is not born
    assert lines(result) == [("Qualify", 1, Decimal("300.00")), ("Proposal", 1, Decimal("500.00"))]
    assert (result.count, result.amount) == (2, Decimal("800.00"))
    assert result.as_of == datetime(2024, 7, 15)


@pytest.mark.usefixtures("history")
def test_as_of_sees_a_deal_move_backwards_and_one_reopen(store: Store) -> None:
    result = pipeline_by_stage(store, as_of=datetime(2024, 8, 15))
    # A moved back to Qualify at 650.50; B was reopened into Negotiate at 1,200; C is won
    assert lines(result) == [
        ("Prospect", 1, Decimal("75.00")),
        ("Qualify", 1, Decimal("650.50")),
        ("Negotiate", 1, Decimal("1200.00")),
    ]
    # 75 + 650.50 + 1,200 = 1,925.50
    assert (result.count, result.amount) == (3, Decimal("1925.50"))


@pytest.mark.usefixtures("history")
def test_current_pipeline_counts_the_reopened_deal(store: Store) -> None:
    # the deals table agrees with the latest history: same lines as on Aug 15
    assert lines(pipeline_by_stage(store)) == [
        ("Prospect", 1, Decimal("75.00")),
        ("Qualify", 1, Decimal("650.50")),
        ("Negotiate", 1, Decimal("1200.00")),
    ]


@pytest.mark.usefixtures("history")
def test_as_of_is_inclusive_to_the_moment(store: Store) -> None:
    # A moved to Proposal at 09:00 on Jul 1: a minute before it is still in Qualify
    before = pipeline_by_stage(store, as_of=datetime(2024, 7, 1, 8, 59))
    at = pipeline_by_stage(store, as_of=datetime(2024, 7, 1, 9, 0))
    # before: A 500 + C 300 in Qualify = 800.00, B 1,000 in Proposal
    assert lines(before) == [("Qualify", 2, Decimal("800.00")), ("Proposal", 1, Decimal("1000.00"))]
    # at 09:00: C 300 in Qualify; A 500 + B 1,000 in Proposal = 1,500.00
    assert lines(at) == [("Qualify", 1, Decimal("300.00")), ("Proposal", 2, Decimal("1500.00"))]


@pytest.mark.usefixtures("history")
def test_as_of_uses_the_close_date_of_the_time(store: Store) -> None:
    august = Period.parse("2024-08")
    # On Jul 5, B was open in Proposal closing Aug 31; A closes Sep 15, C Jul 20
    then = pipeline_by_stage(store, as_of=datetime(2024, 7, 5), period=august)
    assert lines(then) == [("Proposal", 1, Decimal("1000.00"))]
    # Today B closes Sep 30; only D (Aug 20, 75) closes in August
    now = pipeline_by_stage(store, period=august)
    assert lines(now) == [("Prospect", 1, Decimal("75.00"))]


@pytest.mark.usefixtures("history")
def test_as_of_before_any_history_is_empty(store: Store) -> None:
    result = pipeline_by_stage(store, as_of=datetime(2024, 1, 1))
    assert (result.stages, result.count, result.amount) == ((), 0, Decimal("0"))


def test_as_of_must_be_a_moment(store: Store) -> None:
    with pytest.raises(InputError, match="datetime"):
        pipeline_by_stage(store, as_of=date(2024, 7, 1))  # type: ignore[arg-type]


@pytest.mark.usefixtures("history")
def test_shows_its_sql(store: Store) -> None:
    result = pipeline_by_stage(store, as_of=datetime(2024, 8, 15))
    sql = store.sql(result.expr)
    assert '"deal_events"' in sql and '"stages"' in sql
    assert set(result.expressions()) == {"stages"}
