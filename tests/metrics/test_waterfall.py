"""Pipeline change (the waterfall): every bar worked out by hand, and the identity checked on
random histories against the pipeline rebuilt independently at both ends."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quarterdeck.errors import InputError, InternalError
from quarterdeck.metrics import pipeline_by_stage
from quarterdeck.metrics.waterfall import (
    BARS,
    Waterfall,
    WaterfallDeal,
    pipeline_change,
    pipeline_changes,
)
from quarterdeck.model import TABLES
from quarterdeck.periods import Period
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]

Q3 = Period.parse("2024-Q3")  # 2024-07-01 .. 2024-09-30
START = datetime(2024, 8, 1)  # the window: after Aug 1 00:00, up to Aug 8 00:00
END = datetime(2024, 8, 8)
JUN1 = datetime(2024, 6, 1)


def at(day: int, hour: int = 12) -> datetime:
    """A moment in August 2024."""
    return datetime(2024, 8, day, hour)


def bar_of(result: Waterfall, name: str) -> dict[str, Decimal]:
    return {d.deal_id: d.amount for d in result.bar(name).deals}


# -- every bar, by hand -------------------------------------------------------------------------


@pytest.fixture
def week(put: Rows, deal: DealFactory, history: Rows) -> None:
    """A week of a pipeline due in Q3, with one deal per kind of move.

    A  created Aug 2 (Qualify, 1,000, due Sep 15), won Aug 5 at 1,200 in the same step
    B  Proposal 500 due Sep 10; pushed to Oct 15 on Aug 3; pulled back to Sep 20 on Aug 6
    C  Qualify 2,000 due Aug 31; cut to 1,500.50 on Aug 4
    D  Negotiate 300 due Sep 1; moved back to Qualify on Aug 4, raised to 350 on Aug 5
    E  Proposal 800 due Jul 31, lost Jul 15; reopened Aug 6 into Negotiate due Sep 30
    F  Negotiate 1,000 due Aug 20; won Aug 7, its amount set to 1,100 in the same step
    G  Prospect 250 due Sep 5; lost Aug 2
    H  due Dec 1 (Q4): its amount changes inside the window, but it is never due in Q3
    I  Qualify 100 due Sep 1; raised to 150 at exactly Aug 1 00:00 (before the window)
    J  created at exactly Aug 8 00:00 (the window's last moment), Qualify 400 due Sep 9
    K  created Aug 3 in Prospect due Aug 15, without an amount
    """
    owners = {"A": "u1", "B": "u2", "C": "u1", "D": "u2", "E": "u3", "F": "u1"}
    put(
        "deals",
        *[
            deal(d, "open", "1.00", date(2024, 9, 1), owner=owners.get(d, "u9"))
            | {"name": f"Deal {d}"}
            for d in "ABCDEFGHIJK"
        ],
    )
    history("A", at(2), stage="Qualify", amount="1000.00", close_date="2024-09-15")
    history("A", at(5), stage="Closed Won", amount="1200.00")
    history("B", JUN1, stage="Proposal", amount="500.00", close_date="2024-09-10")
    history("B", at(3), close_date="2024-10-15")
    history("B", at(6), close_date="2024-09-20")
    history("C", JUN1, stage="Qualify", amount="2000.00", close_date="2024-08-31")
    history("C", at(4), amount="1500.50")
    history("D", JUN1, stage="Negotiate", amount="300.00", close_date="2024-09-01")
    history("D", at(4), stage="Qualify")
    history("D", at(5), amount="350.00")
    history("E", JUN1, stage="Proposal", amount="800.00", close_date="2024-07-31")
    history("E", datetime(2024, 7, 15), stage="Closed Lost")
    history("E", at(6), stage="Negotiate", close_date="2024-09-30")
    history("F", JUN1, stage="Negotiate", amount="1000.00", close_date="2024-08-20")
    history("F", at(7), stage="Closed Won", amount="1100.00")
    history("G", JUN1, stage="Prospect", amount="250.00", close_date="2024-09-05")
    history("G", at(2), stage="Closed Lost")
    history("H", JUN1, stage="Qualify", amount="900.00", close_date="2024-12-01")
    history("H", at(3), amount="950.00")
    history("I", JUN1, stage="Qualify", amount="100.00", close_date="2024-09-01")
    history("I", START, amount="150.00")
    history("J", END, stage="Qualify", amount="400.00", close_date="2024-09-09")
    history("K", at(3), stage="Prospect", close_date="2024-08-15")


@pytest.mark.usefixtures("week")
def test_every_bar_by_hand(store: Store) -> None:
    result = pipeline_change(store, START, END, Q3)
    # At start: B 500 + C 2,000 + D 300 + F 1,000 + G 250 + I 150 (changed at the very
    # start) = 4,200; A, J, K not yet created, E lost, H due in Q4.
    assert (result.start_amount, result.start_count) == (Decimal("4200.00"), 6)
    # created: A 1,000 + J 400 + K nothing = 1,400 (K counts, worth 0)
    assert bar_of(result, "created") == {
        "A": Decimal("1000.00"),
        "J": Decimal("400.00"),
        "K": Decimal("0.00"),
    }
    assert result.created == Decimal("1400.00")
    # pulled in: B back into Q3 at 500, E reopened at 800 = 1,300
    assert bar_of(result, "pulled_in") == {"E": Decimal("800.00"), "B": Decimal("500.00")}
    assert result.pulled_in == Decimal("1300.00")
    # increased: D 300 -> 350 = 50 (its move back to Qualify is no bar)
    assert bar_of(result, "increased") == {"D": Decimal("50.00")}
    # decreased: C 2,000 -> 1,500.50 = 499.50
    assert bar_of(result, "decreased") == {"C": Decimal("499.50")}
    # pushed out: B to October, at 500
    assert bar_of(result, "pushed_out") == {"B": Decimal("500.00")}
    # lost: G at 250
    assert bar_of(result, "lost") == {"G": Decimal("250.00")}
    # won: A at the 1,000 it held (not the 1,200 set as it was won); F at 1,000, not 1,100
    assert bar_of(result, "won") == {"A": Decimal("1000.00"), "F": Decimal("1000.00")}
    assert result.won == Decimal("2000.00")
    # At end: B 500 + C 1,500.50 + D 350 + E 800 + I 150 + J 400 + K 0 = 3,700.50 (7 deals)
    assert (result.end_amount, result.end_count) == (Decimal("3700.50"), 7)
    # 4,200 + 1,400 + 1,300 + 50 - 499.50 - 500 - 250 - 2,000 = 3,700.50
    assert result.net_change == Decimal("-499.50")
    result.check()
    assert [bar.name for bar in result.bars] == list(BARS)
    assert [bar.sign for bar in result.bars] == [1, 1, 1, -1, -1, -1, -1]


@pytest.mark.usefixtures("week")
def test_both_ends_are_the_pipeline_by_stage_of_that_moment(store: Store) -> None:
    result = pipeline_change(store, START, END, Q3)
    at_start = pipeline_by_stage(store, as_of=START, period=Q3)
    at_end = pipeline_by_stage(store, as_of=END, period=Q3)
    assert (result.start_amount, result.start_count) == (at_start.amount, at_start.count)
    assert (result.end_amount, result.end_count) == (at_end.amount, at_end.count)


@pytest.mark.usefixtures("week")
def test_bars_list_their_deals_largest_first(store: Store) -> None:
    result = pipeline_change(store, START, END, Q3)
    created = result.bar("created").deals
    assert created == (
        WaterfallDeal("A", "Deal A", "u1", Decimal("1000.00")),
        WaterfallDeal("J", "Deal J", "u9", Decimal("400.00")),
        WaterfallDeal("K", "Deal K", "u9", Decimal("0.00")),
    )
    assert result.bar("won").count == 2
    # B is in two bars: out on Aug 3, back in on Aug 6
    assert "B" in bar_of(result, "pushed_out") and "B" in bar_of(result, "pulled_in")


@pytest.mark.usefixtures("week")
def test_a_longer_window_sees_only_the_moves_inside_it(store: Store) -> None:
    # From Aug 4 00:00: A (created Aug 2) is in at 1,000, B already left (Aug 3), G is lost,
    # C is not cut yet (Aug 4, noon): start = A 1,000 + C 2,000 + D 300 + F 1,000 + I 150
    # + K 0 = 4,450
    result = pipeline_change(store, datetime(2024, 8, 4), END, Q3)
    assert (result.start_amount, result.start_count) == (Decimal("4450.00"), 6)
    assert bar_of(result, "created") == {"J": Decimal("400.00")}
    assert bar_of(result, "pulled_in") == {"E": Decimal("800.00"), "B": Decimal("500.00")}
    assert bar_of(result, "decreased") == {"C": Decimal("499.50")}
    assert bar_of(result, "won") == {"A": Decimal("1000.00"), "F": Decimal("1000.00")}
    assert result.pushed_out == result.lost == Decimal("0.00")
    # 4,450 + 400 + 1,300 + 50 - 499.50 - 2,000 = 3,700.50, the same end as before
    assert result.end_amount == Decimal("3700.50")


@pytest.mark.usefixtures("week")
def test_several_windows_to_one_end_read_the_history_once(store: Store) -> None:
    week, longer = pipeline_changes(store, [START, datetime(2024, 8, 4)], END, Q3)
    assert week == pipeline_change(store, START, END, Q3)
    assert longer == pipeline_change(store, datetime(2024, 8, 4), END, Q3)
    assert (week.start_amount, longer.start_amount) == (Decimal("4200.00"), Decimal("4450.00"))


def test_same_moment_is_one_step_in_seq_order(
    store: Store, put: Rows, deal: DealFactory, history: Rows
) -> None:
    put("deals", deal("L", "open", "1.00", date(2024, 9, 1)))
    history("L", JUN1, stage="Qualify", amount="600.00", close_date="2024-09-02")
    # At one moment: pushed to October and back to Sep 2 (no bar), and two amounts whose
    # seq (not their row order) says 650 is the later: 600 -> 650 is an increase of 50.
    moment = at(5)
    rows = [
        ("close_date", "2024-10-01", 10),
        ("close_date", "2024-09-02", 11),
        ("amount", "650.00", 13),
        ("amount", "700.00", 12),
    ]
    put(
        "deal_events",
        *[{"deal_id": "L", "at": moment, "field": f, "new_value": v, "seq": s} for f, v, s in rows],
    )
    result = pipeline_change(store, START, END, Q3)
    assert bar_of(result, "increased") == {"L": Decimal("50.00")}
    assert result.pushed_out == result.pulled_in == Decimal("0.00")
    assert (result.start_amount, result.end_amount) == (Decimal("600.00"), Decimal("650.00"))


def test_pulled_in_earlier_and_pushed_before_the_period(
    store: Store, put: Rows, deal: DealFactory, history: Rows
) -> None:
    put("deals", *[deal(d, "open", "1.00", date(2024, 9, 1)) for d in "MNP"])
    # M: due Oct 20 (Q4), pulled in to Sep 25 on Aug 2: pulled in 700
    history("M", JUN1, stage="Proposal", amount="700.00", close_date="2024-10-20")
    history("M", at(2), close_date="2024-09-25")
    # N: due Jul 20, its close date moved back to Jun 28 (before Q3) on Aug 2: pushed out 40
    history("N", JUN1, stage="Proposal", amount="40.00", close_date="2024-07-20")
    history("N", at(2), close_date="2024-06-28")
    # P: created Jun 1 without a close date; given one in Q3 on Aug 3. It existed before:
    # pulled in (not created), 90
    history("P", JUN1, stage="Prospect", amount="90.00")
    history("P", at(3), close_date="2024-08-30")
    result = pipeline_change(store, START, END, Q3)
    assert bar_of(result, "pulled_in") == {"M": Decimal("700.00"), "P": Decimal("90.00")}
    assert bar_of(result, "pushed_out") == {"N": Decimal("40.00")}
    assert result.created == Decimal("0.00")
    # start N 40; end M 700 + P 90 = 790; 40 + 790 - 40 = 790
    assert (result.start_amount, result.end_amount) == (Decimal("40.00"), Decimal("790.00"))


def test_won_deal_put_back_to_open_is_pulled_in(
    store: Store, put: Rows, deal: DealFactory, history: Rows
) -> None:
    put("deals", deal("W", "open", "1.00", date(2024, 9, 1)))
    history("W", JUN1, stage="Negotiate", amount="5000.00", close_date="2024-07-30")
    history("W", datetime(2024, 7, 30), stage="Closed Won")
    history("W", at(4), stage="Negotiate", amount="4500.00")  # un-won, at a lower amount
    result = pipeline_change(store, START, END, Q3)
    assert bar_of(result, "pulled_in") == {"W": Decimal("4500.00")}
    assert (result.start_amount, result.end_amount) == (Decimal("0.00"), Decimal("4500.00"))


def test_lost_in_window_then_reopened_and_won(
    store: Store, put: Rows, deal: DealFactory, history: Rows
) -> None:
    put("deals", deal("R", "won", "1.00", date(2024, 9, 1)))
    history("R", JUN1, stage="Qualify", amount="300.00", close_date="2024-09-01")
    history("R", at(2), stage="Closed Lost")  # lost 300
    history("R", at(3), stage="Proposal", amount="320.00")  # reopened: pulled in 320
    history("R", at(6), stage="Closed Won")  # won 320
    result = pipeline_change(store, START, END, Q3)
    assert bar_of(result, "lost") == {"R": Decimal("300.00")}
    assert bar_of(result, "pulled_in") == {"R": Decimal("320.00")}
    assert bar_of(result, "won") == {"R": Decimal("320.00")}
    # 300 - 300 + 320 - 320 = 0
    assert (result.start_amount, result.end_amount) == (Decimal("300.00"), Decimal("0.00"))


@pytest.mark.usefixtures("week")
def test_empty_window(store: Store) -> None:
    result = pipeline_change(store, START, START, Q3)
    assert result.start_amount == result.end_amount == Decimal("4200.00")
    assert all(bar.amount == 0 and bar.deals == () for bar in result.bars)


@pytest.mark.usefixtures("week")
def test_nothing_due_in_the_period(store: Store) -> None:
    result = pipeline_change(store, START, END, Period.parse("2025-Q1"))
    assert (result.start_amount, result.start_count) == (Decimal("0.00"), 0)
    assert (result.end_amount, result.end_count) == (Decimal("0.00"), 0)
    assert all(bar.amount == 0 and bar.deals == () for bar in result.bars)


def test_empty_store(store: Store) -> None:
    result = pipeline_change(store, START, END, Q3)
    assert (result.start_amount, result.end_amount) == (Decimal("0"), Decimal("0"))
    assert len(result.bars) == 7


@pytest.mark.usefixtures("week")
def test_check_catches_a_total_that_does_not_add_up(store: Store) -> None:
    result = pipeline_change(store, START, END, Q3)
    broken = dataclasses.replace(result, end_amount=result.end_amount + Decimal("0.01"))
    with pytest.raises(InternalError, match="does not add up"):
        broken.check()


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(InputError, match="datetime"):
        pipeline_change(store, date(2024, 8, 1), END, Q3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="after it ends"):
        pipeline_change(store, END, START, Q3)
    with pytest.raises(InputError, match="Period"):
        pipeline_change(store, START, END, "2024-Q3")  # type: ignore[arg-type]


@pytest.mark.usefixtures("week")
def test_shows_its_sql(store: Store) -> None:
    result = pipeline_change(store, START, END, Q3)
    assert set(result.expressions()) == {"candidates", "events"}
    assert '"deal_events"' in store.sql(result.expressions()["events"])
    assert "'Closed Won'" in store.sql(result.expressions()["events"])  # read from stages


# -- random histories ---------------------------------------------------------------------------

STAGES = ["Prospect", "Qualify", "Proposal", "Negotiate", "Closed Won", "Closed Lost", "Legacy"]
CLOSE_DATES = [None, "2024-06-30", "2024-07-01", "2024-08-15", "2024-09-30", "2024-10-01"]
BASE = datetime(2024, 7, 1)  # changes happen on whole hours after this


@pytest.fixture(scope="module")
def reused_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for every random example (a new file per example would be too slow)."""
    store = Store(Path(tmp_path_factory.mktemp("waterfall")) / "w.duckdb")
    flags = {"Closed Won": (True, True), "Closed Lost": (True, False)}
    stages = [
        {
            "pipeline": "sales",
            "stage": s,
            "sort_order": i,
            "is_closed": flags.get(s, (False, False))[0],
            "is_won": flags.get(s, (False, False))[1],
        }
        for i, s in enumerate(STAGES[:-1])  # "Legacy" is a stage the table does not know
    ]
    _insert(store, "stages", stages)
    yield store
    store.close()


def _insert(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        store.insert(table, pa.Table.from_pylist(rows, schema=TABLES[table].schema.to_pyarrow()))


HOURS = st.integers(0, 2)  # after the previous change (0: the same moment, one step)
AMOUNTS = st.one_of(st.none(), st.integers(0, 100_000).map(lambda c: f"{Decimal(c) / 100:.2f}"))
# Closed stages and close dates inside Q3 come up often, so most examples move the pipeline.
VALUES = {
    "stage": st.sampled_from([*STAGES, "Closed Won", "Closed Lost", "Qualify"]),
    "amount": AMOUNTS,
    "close_date": st.sampled_from([*CLOSE_DATES, "2024-08-15", "2024-09-30"]),
}
change = st.one_of(*(st.tuples(HOURS, st.just(f), values) for f, values in VALUES.items()))
a_deal = st.tuples(
    st.integers(0, 12),  # creation hour
    st.sampled_from(["sales", "sales", "sales", None]),  # without a pipeline: no closed stage
    st.fixed_dictionaries(  # its first values (an amount may be missing)
        {"stage": VALUES["stage"], "close_date": VALUES["close_date"]},
        optional={"amount": AMOUNTS},
    ),
    st.lists(change, min_size=2, max_size=10),
)


HISTORIES_PER_EXAMPLE = 20


@pytest.mark.slow  # about 0.5 s an example, most of it building the queries
@settings(max_examples=50, deadline=None)
@given(
    # 50 examples of 20 independent histories (1 to 5 deals each): 1,000 random histories,
    # each deal's bars held to the step-by-step reading of the definition.
    histories=st.lists(
        st.lists(a_deal, min_size=1, max_size=5),
        min_size=HISTORIES_PER_EXAMPLE,
        max_size=HISTORIES_PER_EXAMPLE,
    ),
    # Start and length in half hours: on an hour, an end falls on the changes' own moments.
    window=st.tuples(st.integers(0, 30), st.integers(0, 60)).map(lambda w: [w[0], w[0] + w[1]]),
)
def test_identity_and_both_ends_on_random_histories(
    reused_store: Store, histories: list[list[Any]], window: list[int]
) -> None:
    store = reused_store
    store.backend.raw_sql("DELETE FROM deal_events")
    store.backend.raw_sql("DELETE FROM deals")
    seq = count(1)
    events: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    deals = [
        (f"h{h}d{i}", deal) for h, history in enumerate(histories) for i, deal in enumerate(history)
    ]
    for deal_id, (born, pipeline, first, changes) in deals:
        rows.append({"deal_id": deal_id, "pipeline": pipeline, "name": deal_id})
        hour = born
        for field, value in first.items():
            events.append(_event(deal_id, hour, field, value, next(seq)))
        for gap, field, value in changes:
            hour += gap
            events.append(_event(deal_id, hour, field, value, next(seq)))
    _insert(store, "deals", rows)
    _insert(store, "deal_events", events[::-1])  # written backwards: only at and seq count
    start, end = (BASE + timedelta(minutes=30 * h) for h in window)

    result = pipeline_change(store, start, end, Q3)

    bars = {bar.name: bar.amount for bar in result.bars}
    assert (
        result.start_amount
        + bars["created"]
        + bars["pulled_in"]
        + bars["increased"]
        - bars["decreased"]
        - bars["pushed_out"]
        - bars["lost"]
        - bars["won"]
        == result.end_amount
    )
    for bar in result.bars:
        assert bar.amount == sum((d.amount for d in bar.deals), Decimal("0"))
        assert all(d.amount >= 0 for d in bar.deals)
    at_start = pipeline_by_stage(store, as_of=start, period=Q3)
    at_end = pipeline_by_stage(store, as_of=end, period=Q3)
    assert (result.start_amount, result.start_count) == (at_start.amount, at_start.count)
    assert (result.end_amount, result.end_count) == (at_end.amount, at_end.count)
    pipelines = {row["deal_id"]: row["pipeline"] for row in rows}
    expected = _walk_by_hand(events, pipelines, start, end)
    assert {bar.name: {d.deal_id: d.amount for d in bar.deals} for bar in result.bars} == expected


def _walk_by_hand(
    events: list[dict[str, Any]], pipelines: dict[str, str | None], start: datetime, end: datetime
) -> dict[str, dict[str, Decimal]]:
    """The bars as the definition reads, one deal and one step at a time (a slow, plain
    rendering of pipeline_change's docstring, to hold the fast one to)."""
    bars: dict[str, dict[str, Decimal]] = {name: {} for name in BARS}
    closed_stages = {"Closed Won", "Closed Lost"}

    def state(values: dict[str, str | None], pipeline: str | None) -> tuple[bool, Decimal, bool]:
        """In the pipeline?, worth, won? (stages mean something only in pipeline sales)."""
        stage = values.get("stage")
        closed = pipeline == "sales" and stage in closed_stages
        close = values.get("close_date")
        due = close is not None and Q3.contains(date.fromisoformat(close))
        amount = Decimal(values["amount"]) if values.get("amount") else Decimal("0.00")
        return (not closed and due), amount, pipeline == "sales" and stage == "Closed Won"

    for deal_id, pipeline in pipelines.items():
        mine = sorted((e for e in events if e["deal_id"] == deal_id), key=lambda e: e["seq"])
        moments = sorted({e["at"] for e in mine})
        values: dict[str, str | None] = {}
        for number, moment in enumerate(moments):
            was_in, was_worth, _ = state(values, pipeline)
            for e in mine:
                if e["at"] == moment:
                    values[e["field"]] = e["new_value"]
            now_in, worth, won = state(values, pipeline)
            if not start < moment <= end:
                continue
            if now_in and not was_in:
                name, amount = ("created" if number == 0 else "pulled_in"), worth
            elif was_in and not now_in:
                closed = pipeline == "sales" and values.get("stage") in closed_stages
                name = "won" if won else "lost" if closed else "pushed_out"
                amount = was_worth
            elif was_in and now_in and worth != was_worth:
                name = "increased" if worth > was_worth else "decreased"
                amount = abs(worth - was_worth)
            else:
                continue
            bars[name][deal_id] = bars[name].get(deal_id, Decimal("0")) + amount
    return bars


def _event(deal_id: str, hour: int, field: str, value: str | None, seq: int) -> dict[str, Any]:
    return {
        "deal_id": deal_id,
        "at": BASE + timedelta(hours=hour),
        "field": field,
        "new_value": value,
        "origin": "history",
        "seq": seq,
    }
