"""The mix by motion and deal size, and the concentration of the pipeline, checked against
numbers worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from quarterdeck.errors import ConfigError, InputError
from quarterdeck.metrics.mix import Mix, MixLine, MixView, mix
from quarterdeck.periods import Period
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]

Q3 = Period.parse("2024-Q3")  # 2024-07-01 .. 2024-09-30
AUG15 = datetime(2024, 8, 15, 12, 0)
BOUNDS = {"mix.size_bounds": [1000, 5000]}  # small < 1,000 <= mid < 5,000 <= big
TARGETS = {
    "mix.target_motion": {"new_business": 0.5, "expansion": 0.3, "renewal": 0.2},
    "mix.target_size": {"small": 0.2, "mid": 0.3, "big": 0.5},
}


def lines(view: MixView) -> dict[str, MixLine]:
    return {line.key: line for line in view.lines}


@pytest.fixture
def book(put: Rows, deal: DealFactory) -> None:
    """Closed so far in Q3 (won Jul 1..Aug 15), 10,000 in all:
      c1 new business 5,000 (big), c2 new business 1,000.00 (mid: the lower bound),
      c3 expansion 2,000 (mid), c4 renewal 999.99 (small), c5 no motion 1,000.01 (mid)
    Open pipeline due in Q3, 20,000 in all:
      p1 new business 8,000 (big), p2 expansion 4,000 (mid), p3 renewal 3,000 (mid,
      overdue but still open), p4 new business without an amount, p5 "partner" 5,000 (big)
    """
    put(
        "deals",
        deal("c1", "won", "5000.00", date(2024, 7, 1)),
        deal("c2", "won", "1000.00", date(2024, 7, 20)),
        deal("c3", "won", "2000.00", date(2024, 8, 15), motion="expansion"),
        deal("c4", "won", "999.99", date(2024, 8, 1), motion="renewal"),
        deal("c5", "won", "1000.01", date(2024, 8, 2), motion=None),
        deal("p1", "open", "8000.00", date(2024, 9, 1)),
        deal("p2", "open", "4000.00", date(2024, 9, 30), motion="expansion"),
        deal("p3", "open", "3000.00", date(2024, 8, 1), motion="renewal"),
        deal("p4", "open", None, date(2024, 9, 5)),
        deal("p5", "open", "5000.00", date(2024, 9, 10), motion="partner"),
        # never in Q3's mix: lost, won before Q3, open after Q3
        deal("x1", "lost", "7000.00", date(2024, 8, 1)),
        deal("x2", "won", "7000.00", date(2024, 6, 30)),
        deal("x3", "open", "99999.00", date(2024, 10, 1)),
    )


@pytest.mark.usefixtures("book")
def test_mix_by_motion_against_the_target(store: Store) -> None:
    result = mix(store, AUG15, Q3, BOUNDS | TARGETS)
    view = result.motion
    by = lines(view)
    assert list(by) == ["new_business", "expansion", "renewal", "unknown"]
    assert [line.label for line in view.lines] == [
        "acquisition",
        "growth",
        "retention",
        "unknown motion",
    ]
    assert (view.closed, view.closed_count) == (Decimal("10000.00"), 5)
    assert (view.pipeline, view.pipeline_count) == (Decimal("20000.00"), 5)
    assert view.target_set is True
    nb = by["new_business"]
    # closed: c1 5,000 + c2 1,000 = 6,000 of 10,000 = 0.6; target 0.5 -> +10 points
    assert (nb.closed, nb.closed_count, nb.closed_share) == (Decimal("6000.00"), 2, Decimal("0.6"))
    assert (nb.target_share, nb.closed_diff_points) == (Decimal("0.5"), Decimal("10"))
    # pipeline: p1 8,000 + p4 nothing = 8,000 of 20,000 = 0.4, 2 deals
    assert (nb.pipeline, nb.pipeline_count, nb.pipeline_share) == (
        Decimal("8000.00"),
        2,
        Decimal("0.4"),
    )
    # with pipeline: 14,000 of 30,000 = 0.46667; 0.46667 - 0.5 = -3.3333 points
    assert nb.combined == Decimal("14000.00")
    assert round(nb.combined_share or 0, 5) == Decimal("0.46667")
    assert round(nb.combined_diff_points or 0, 4) == Decimal("-3.3333")
    ex = by["expansion"]
    # closed c3 2,000 = 0.2 vs 0.3 -> -10 points; with p2: 6,000 / 30,000 = 0.2 -> -10
    assert (ex.closed_share, ex.closed_diff_points) == (Decimal("0.2"), Decimal("-10"))
    assert (ex.combined_share, ex.combined_diff_points) == (Decimal("0.2"), Decimal("-10"))
    rn = by["renewal"]
    # closed c4 999.99 / 10,000 = 0.099999 vs 0.2 -> -10.0001 points
    assert rn.closed_share == Decimal("0.099999")
    assert rn.closed_diff_points == Decimal("-10.0001")
    # pipeline p3 3,000 / 20,000 = 0.15
    assert rn.pipeline_share == Decimal("0.15")
    un = by["unknown"]
    # no motion (c5 1,000.01) and "partner" (p5 5,000): no target share, no difference
    assert (un.closed, un.pipeline) == (Decimal("1000.01"), Decimal("5000.00"))
    assert (un.closed_share, un.pipeline_share) == (Decimal("0.100001"), Decimal("0.25"))
    assert (un.target_share, un.closed_diff_points, un.combined_diff_points) == (None, None, None)
    # the parts add up to the whole
    assert sum(line.closed for line in view.lines) == view.closed
    assert sum(line.pipeline_count for line in view.lines) == view.pipeline_count


@pytest.mark.usefixtures("book")
def test_mix_by_size_band_from_the_settings(store: Store) -> None:
    result = mix(store, AUG15, Q3, BOUNDS | TARGETS)
    assert (result.bands.mid_from, result.bands.big_from) == (
        Decimal("1000.00"),
        Decimal("5000.00"),
    )
    by = lines(result.size)
    assert list(by) == ["small", "mid", "big", "unknown"]
    # closed: small c4 999.99; mid c2 1,000.00 + c3 2,000 + c5 1,000.01 = 4,000.01; big c1 5,000
    assert (by["small"].closed, by["small"].closed_count) == (Decimal("999.99"), 1)
    assert (by["mid"].closed, by["mid"].closed_count) == (Decimal("4000.01"), 3)
    assert (by["big"].closed, by["big"].closed_count) == (Decimal("5000.00"), 1)
    # shares 0.099999, 0.400001, 0.5 against 0.2, 0.3, 0.5 -> -10.0001, +10.0001, 0 points
    assert [by[k].closed_diff_points for k in ("small", "mid", "big")] == [
        Decimal("-10.0001"),
        Decimal("10.0001"),
        Decimal("0"),
    ]
    # pipeline: mid p2 4,000 + p3 3,000 = 7,000 (0.35); big p1 8,000 + p5 5,000 = 13,000
    # (0.65); p4 has no amount: unknown size, counted, worth nothing
    assert (by["mid"].pipeline, by["mid"].pipeline_share) == (Decimal("7000.00"), Decimal("0.35"))
    assert (by["big"].pipeline, by["big"].pipeline_share) == (
        Decimal("13000.00"),
        Decimal("0.65"),
    )
    assert (by["unknown"].pipeline, by["unknown"].pipeline_count) == (Decimal("0.00"), 1)
    assert by["unknown"].pipeline_share == Decimal("0")
    # big with pipeline: 5,000 + 13,000 = 18,000 of 30,000 = 0.6 vs 0.5 -> +10 points
    assert (by["big"].combined_share, by["big"].combined_diff_points) == (
        Decimal("0.6"),
        Decimal("10.0"),
    )


@pytest.mark.usefixtures("book")
def test_no_target_mix(store: Store) -> None:
    result = mix(store, AUG15, Q3, BOUNDS)
    for view in (result.motion, result.size):
        assert view.target_set is False
        assert all(line.target_share is None for line in view.lines)
        assert all(line.closed_diff_points is None for line in view.lines)
        assert all(line.combined_diff_points is None for line in view.lines)
    assert result.motion.target_setting == "mix.target_motion"
    # the shares are still there: new business 6,000 / 10,000
    assert lines(result.motion)["new_business"].closed_share == Decimal("0.6")


@pytest.mark.usefixtures("book")
def test_concentration_of_the_open_pipeline(store: Store) -> None:
    result = mix(store, AUG15, Q3, BOUNDS | {"mix.top_deals": 2})
    c = result.concentration
    # the two largest: p1 8,000 + p5 5,000 = 13,000 of 20,000 = 0.65
    assert [d.deal_id for d in c.deals] == ["p1", "p5"]
    assert (c.top_n, c.top, c.pipeline, c.pipeline_count) == (
        2,
        Decimal("13000.00"),
        Decimal("20000.00"),
        5,
    )
    assert c.share == Decimal("0.65")
    # the default five take all five open deals (p4 without an amount last): 20,000 / 20,000
    five = mix(store, AUG15, Q3, BOUNDS).concentration
    assert [d.deal_id for d in five.deals] == ["p1", "p5", "p2", "p3", "p4"]
    assert (five.top_n, five.share) == (5, Decimal("1"))


def test_concentration_with_fewer_deals_than_the_top(
    store: Store, put: Rows, deal: DealFactory
) -> None:
    put(
        "deals",
        deal("a", "open", "300.00", date(2024, 9, 1)),
        deal("b", "open", "100.00", date(2024, 9, 2)),
        deal("c", "open", "100.00", date(2024, 9, 3)),
    )
    c = mix(store, AUG15, Q3, BOUNDS).concentration
    # three deals, all in the top five: 500 / 500 = 1; ties in amount by id
    assert [d.deal_id for d in c.deals] == ["a", "b", "c"]
    assert (c.top, c.pipeline, c.share) == (Decimal("500.00"), Decimal("500.00"), Decimal("1"))


def test_empty_pipeline_has_no_shares(store: Store, put: Rows, deal: DealFactory) -> None:
    put("deals", deal("w", "won", "400.00", date(2024, 7, 2), motion="renewal"))
    result = mix(store, AUG15, Q3, BOUNDS | TARGETS)
    rn = lines(result.motion)["renewal"]
    # closed 400 / 400 = 1 vs 0.2 -> +80 points; nothing open: pipeline share None
    assert (rn.closed_share, rn.closed_diff_points) == (Decimal("1"), Decimal("80.0"))
    assert all(line.pipeline_share is None for line in result.motion.lines)
    # closed + pipeline is the closed alone
    assert rn.combined_share == Decimal("1")
    c = result.concentration
    assert (c.pipeline, c.top, c.share, c.deals) == (Decimal("0.00"), Decimal("0.00"), None, ())
    # no unknown line when every deal is known
    assert [line.key for line in result.motion.lines] == ["new_business", "expansion", "renewal"]


def test_empty_period(store: Store) -> None:
    result = mix(store, AUG15, Q3, TARGETS)
    # no deals at all: no bands to read, nothing closed or open, every share None
    assert (result.bands.mid_from, result.bands.big_from) == (None, None)
    for view in (result.motion, result.size):
        assert (view.closed, view.pipeline, view.closed_count) == (Decimal("0"), Decimal("0"), 0)
        assert all(line.closed_share is None for line in view.lines)
        assert all(line.combined_diff_points is None for line in view.lines)
    assert result.concentration.share is None


def test_size_bands_from_recent_wins(store: Store, put: Rows, deal: DealFactory) -> None:
    # ten wins of 100, 200, ..., 1,000 in the last four quarters: mid from 600 (upper half),
    # big from 1,000 (top decile, big_deals.quantile 0.9 by default)
    put(
        "deals",
        *[deal(f"h{i}", "won", f"{i * 100}.00", date(2024, 3, i)) for i in range(1, 11)],
        deal("o1", "open", "1000.00", date(2024, 9, 1)),
        deal("o2", "open", "999.99", date(2024, 9, 1)),
        deal("o3", "open", "600.00", date(2024, 9, 1)),
        deal("o4", "open", "599.99", date(2024, 9, 1)),
    )
    result = mix(store, AUG15, Q3, {})
    assert (result.bands.mid_from, result.bands.big_from) == (
        Decimal("600.00"),
        Decimal("1000.00"),
    )
    by = lines(result.size)
    # big o1 1,000; mid o2 999.99 + o3 600 = 1,599.99; small o4 599.99
    assert by["big"].pipeline == Decimal("1000.00")
    assert (by["mid"].pipeline, by["mid"].pipeline_count) == (Decimal("1599.99"), 2)
    assert by["small"].pipeline == Decimal("599.99")
    assert {d.deal_id: d.band for d in result.pipeline_deals} == {
        "o1": "big",
        "o2": "mid",
        "o3": "mid",
        "o4": "small",
    }


@pytest.mark.usefixtures("book")
def test_drill_down(store: Store) -> None:
    result: Mix = mix(store, AUG15, Q3, BOUNDS)
    assert [d.deal_id for d in result.closed_deals] == ["c1", "c3", "c5", "c2", "c4"]
    c5 = next(d for d in result.closed_deals if d.deal_id == "c5")
    assert (c5.motion, c5.band, c5.status, c5.owner_id) == ("unknown", "mid", "closed", "u1")
    assert sum(d.amount or 0 for d in result.pipeline_deals) == result.motion.pipeline
    assert set(result.expressions()) == {"lines", "deals"}
    assert '"deals"' in store.sql(result.lines_expr)


def test_period_entirely_in_the_past(store: Store, put: Rows, deal: DealFactory) -> None:
    put(
        "deals",
        deal("a", "won", "300.00", date(2024, 6, 30)),
        deal("b", "won", "100.00", date(2024, 4, 1), motion="renewal"),
        deal("c", "open", "50.00", date(2024, 5, 1), motion="expansion"),  # still open
    )
    result = mix(store, AUG15, Period.parse("2024-Q2"), BOUNDS)
    by = lines(result.motion)
    # the whole of Q2: new business 300 / 400 = 0.75, renewal 100 / 400 = 0.25
    assert (by["new_business"].closed_share, by["renewal"].closed_share) == (
        Decimal("0.75"),
        Decimal("0.25"),
    )
    assert result.day == date(2024, 6, 30)
    assert by["expansion"].pipeline == Decimal("50.00")


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(InputError, match="starts on"):
        mix(store, AUG15, Period.parse("2024-Q4"), {})
    with pytest.raises(ConfigError, match=r"mix\.target_motion"):
        mix(store, AUG15, Q3, {"mix.target_motion": {"new_business": 0.7}})


# -- as of: what was known then ---------------------------------------------------------------


@pytest.fixture
def history(put: Rows, deal: DealFactory) -> None:
    """Seen from Aug 15, with later changes recorded (so history is rebuilt):

    B: expansion, Proposal 5,000 closing Aug 30 -> won Aug 20 with the close date set back
       to Aug 10: on Aug 15 it was pipeline
    M: renewal, Negotiate 2,000 closing Sep 10 -> back to Qualify at 1,500 (Aug 1)
    R: new business, Proposal 3,000 closing Aug 5 -> lost (Jul 20) -> reopened closing
       Sep 15 (Aug 10)
    W: new business, won 1,000 on Jul 25
    """
    put(
        "deals",
        deal("B", "won", "5000.00", date(2024, 8, 10), motion="expansion"),
        deal("M", "open", "1500.00", date(2024, 9, 10), motion="renewal"),
        deal("R", "open", "3000.00", date(2024, 9, 15), stage="Negotiate"),
        deal("W", "won", "1000.00", date(2024, 7, 25)),
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
        *born("B", "Proposal", "5000.00", "2024-08-30"),
        ev("B", datetime(2024, 8, 20), "stage", "Closed Won", "Proposal"),
        ev("B", datetime(2024, 8, 20), "close_date", "2024-08-10", "2024-08-30"),
        *born("M", "Negotiate", "2000.00", "2024-09-10"),
        ev("M", datetime(2024, 8, 1), "stage", "Qualify", "Negotiate"),
        ev("M", datetime(2024, 8, 1), "amount", "1500.00", "2000.00"),
        *born("R", "Proposal", "3000.00", "2024-08-05"),
        ev("R", datetime(2024, 7, 20), "stage", "Closed Lost", "Proposal"),
        ev("R", datetime(2024, 8, 10), "stage", "Negotiate", "Closed Lost"),
        ev("R", datetime(2024, 8, 10), "close_date", "2024-09-15", "2024-08-05"),
        *born("W", "Qualify", "1000.00", "2024-07-25"),
        ev("W", datetime(2024, 7, 25), "stage", "Closed Won", "Qualify"),
    )


@pytest.mark.usefixtures("history")
def test_as_of_uses_the_deals_as_they_stood(store: Store) -> None:
    result = mix(store, AUG15, Q3, BOUNDS)
    by = lines(result.motion)
    # closed by Aug 15: only W 1,000 (B's backdated win came on Aug 20)
    assert (result.motion.closed, result.motion.closed_count) == (Decimal("1000.00"), 1)
    assert by["expansion"].closed == Decimal("0.00")
    # pipeline: B 5,000 (expansion) + M 1,500 (moved back, cut) + R 3,000 (reopened) = 9,500
    assert result.motion.pipeline == Decimal("9500.00")
    assert (by["expansion"].pipeline, by["renewal"].pipeline, by["new_business"].pipeline) == (
        Decimal("5000.00"),
        Decimal("1500.00"),
        Decimal("3000.00"),
    )
    # M was 2,000 (mid) before the cut; at 1,500 it is still mid; B 5,000 is big
    size = lines(result.size)
    assert (size["big"].pipeline, size["mid"].pipeline) == (Decimal("5000.00"), Decimal("4500.00"))
    # after Aug 20, B counts as closed expansion
    later = lines(mix(store, datetime(2024, 8, 25), Q3, BOUNDS).motion)
    assert (later["expansion"].closed, later["expansion"].pipeline) == (
        Decimal("5000.00"),
        Decimal("0.00"),
    )
