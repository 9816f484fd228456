"""Pipeline change (the waterfall): how a period's open pipeline moved between two moments.

Only deals that had a close date in the period at some time can ever be in its pipeline.
The engine finds them from the close-date history and hands over their changes of stage,
amount and close date up to the window's end, each already read as what it means for the
pipeline (closed? won? amount in cents? close date in the period?) and in the order the
deal lived them. NumPy then walks all those deals at once, step by step: their state at
``start``, every step inside the window classified into a bar, and their state at ``end``.
The bars must add up to the cent, or the metric raises ``InternalError`` rather than show
a wrong number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.errors import InputError, InternalError
from quarterdeck.history import typed_value
from quarterdeck.metrics.bookings import in_period
from quarterdeck.periods import Period, require_moment, require_period
from quarterdeck.store import Store

__all__ = [
    "BARS",
    "Waterfall",
    "WaterfallBar",
    "WaterfallDeal",
    "bool_array",
    "int_array",
    "microseconds",
    "pipeline_change",
    "pipeline_changes",
    "stage_flags",
]

BARS: tuple[str, ...] = (
    "created",
    "pulled_in",
    "increased",
    "decreased",
    "pushed_out",
    "lost",
    "won",
)
"""The bars in the order a waterfall draws them."""

_SIGN = {
    "created": 1,
    "pulled_in": 1,
    "increased": 1,
    "decreased": -1,
    "pushed_out": -1,
    "lost": -1,
    "won": -1,
}
_FIELDS = ("stage", "amount", "close_date")
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class WaterfallDeal:
    """One deal behind a bar: what it added to (or took from) the pipeline in that bar.

    ``amount`` is positive for every bar; the bar's sign says which way it moves the
    pipeline. ``owner_id`` and ``name`` are the deal's current ones (from ``deals``).
    """

    deal_id: str
    name: str | None
    owner_id: str | None
    amount: Decimal


@dataclass(frozen=True)
class WaterfallBar:
    """One bar of the waterfall: its name, its value (positive), and the deals behind it,
    largest first. ``sign`` is +1 for bars that add to the pipeline and -1 for those that
    take from it.

    ``rows`` holds the deals as an Arrow table (``WaterfallDeal``'s fields as columns);
    ``deals`` builds the objects from it when first asked, and ``deal_ids`` reads the ids
    alone, which is much faster for a bar of many thousands of deals.
    """

    name: str
    sign: int
    amount: Decimal
    rows: pa.Table = field(repr=False)

    @property
    def count(self) -> int:
        """How many deals moved in this bar."""
        return self.rows.num_rows

    @property
    def deal_ids(self) -> list[str]:
        ids: list[str] = self.rows.column("deal_id").to_pylist()
        return ids

    @cached_property
    def deals(self) -> tuple[WaterfallDeal, ...]:
        return tuple(WaterfallDeal(**row) for row in self.rows.to_pylist())


@dataclass(frozen=True)
class Waterfall:
    """Result of :func:`pipeline_change`: the pipeline at both moments, the bars between,
    and the queries behind them (``store.sql(expr)`` for each of ``expressions()``)."""

    period: Period
    start: datetime
    end: datetime
    start_amount: Decimal
    start_count: int
    end_amount: Decimal
    end_count: int
    bars: tuple[WaterfallBar, ...]
    candidates_expr: ir.Table = field(compare=False, repr=False)
    events_expr: ir.Table = field(compare=False, repr=False)

    def bar(self, name: str) -> WaterfallBar:
        """The bar called ``name`` (one of ``BARS``)."""
        for bar in self.bars:
            if bar.name == name:
                return bar
        raise KeyError(name)

    @property
    def created(self) -> Decimal:
        return self.bar("created").amount

    @property
    def pulled_in(self) -> Decimal:
        return self.bar("pulled_in").amount

    @property
    def increased(self) -> Decimal:
        return self.bar("increased").amount

    @property
    def decreased(self) -> Decimal:
        return self.bar("decreased").amount

    @property
    def pushed_out(self) -> Decimal:
        return self.bar("pushed_out").amount

    @property
    def lost(self) -> Decimal:
        return self.bar("lost").amount

    @property
    def won(self) -> Decimal:
        return self.bar("won").amount

    @property
    def net_change(self) -> Decimal:
        """The sum of the bars, each with its sign."""
        return sum((bar.sign * bar.amount for bar in self.bars), _ZERO)

    def check(self) -> None:
        """Raise ``InternalError`` unless start + the signed bars = end, to the cent."""
        if self.start_amount + self.net_change != self.end_amount:
            terms = ", ".join(f"{bar.name} {bar.sign * bar.amount:+}" for bar in self.bars)
            raise InternalError(
                f"pipeline change for {self.period} does not add up: start "
                f"{self.start_amount} {terms} gives {self.start_amount + self.net_change}, "
                f"but the pipeline at {self.end} is {self.end_amount}"
            )

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return {"candidates": self.candidates_expr, "events": self.events_expr}


def pipeline_change(store: Store, start: datetime, end: datetime, period: Period) -> Waterfall:
    """How the open pipeline due in ``period`` changed from ``start`` to ``end``.

    Definition: the pipeline at a moment t is the set of deals open at t (their stage at t is
    neither closed nor won, per ``stages``) whose close date at t lies in ``period`` (both
    ends included), valued at their amount at t (a deal without an amount counts 0). The
    identity start + created + pulled in + increased - decreased - pushed out - lost - won
    = end holds to the cent.

    Each deal is walked through its own changes of stage, amount and close date after
    ``start`` and up to ``end`` (both moments as in ``pipeline_by_stage(as_of=...)``:
    a change at exactly ``start`` is already in the start state, one at exactly ``end``
    is in the end state). Changes of one deal at the same moment are one step, judged on
    the state after all of them. At each step, with "before" and "after" the deal's
    state on either side:

    * it enters the pipeline, and the step holds the deal's first recorded stage, amount
      or close date (it did not exist before): **created**, by its amount after the step;
    * it enters otherwise (its close date moved into the period, it was reopened from a
      closed stage, or a won deal was put back to an open stage): **pulled in**, by its
      amount after the step;
    * it leaves into a won stage: **won**, by its amount before the step;
    * it leaves into a closed stage that is not won: **lost**, by its amount before;
    * it leaves otherwise (its close date moved out of the period, later or earlier, or
      was cleared): **pushed out**, by its amount before;
    * it stays in and its amount changed: **increased** or **decreased** by the
      difference.

    A deal that leaves is valued at what it held in the pipeline just before (an amount
    changed in the same step as the win is part of the exit, not an increase), and a
    deal that enters at what it brings; so each deal's bars add up to its value at ``end``
    less its value at ``start`` and the identity holds for every deal, hence for the
    total. A deal can show in several bars (created and then won; pushed out and pulled
    back in). Owner and name are the deal's current ones. Stages are read as
    ``deals_as_of`` reads them (per the deal's pipeline; a won stage is not open; a stage
    the ``stages`` table does not know is open), and only deals in ``deals`` count.
    """
    return pipeline_changes(store, [start], end, period)[0]


def pipeline_changes(
    store: Store, starts: Sequence[datetime], end: datetime, period: Period
) -> tuple[Waterfall, ...]:
    """:func:`pipeline_change` from each of ``starts`` to the same ``end``, reading the
    history once (for example the week and the period to date, in a weekly brief)."""
    for start in starts:
        _check_arguments(start, end, period)
    candidates_expr = _candidates_expr(store, end, period)
    candidates = store.to_arrow(candidates_expr)
    events_expr = _events_expr(store, candidates, end, period)
    walk = _Walk(store.to_arrow(events_expr))
    results = []
    for start in starts:
        start_cents, start_count = walk.at_start(start)
        result = Waterfall(
            period=period,
            start=start,
            end=end,
            start_amount=_money(start_cents),
            start_count=start_count,
            end_amount=_money(walk.end_cents),
            end_count=walk.end_count,
            bars=walk.bars(start, candidates),
            candidates_expr=candidates_expr,
            events_expr=events_expr,
        )
        result.check()
        results.append(result)
    return tuple(results)


def _check_arguments(start: datetime, end: datetime, period: Period) -> None:
    for name, moment in (("start", start), ("end", end)):
        require_moment(moment, name)
    if start > end:
        raise InputError(f"the window starts ({start}) after it ends ({end})")
    require_period(period)


# -- the engine's part -------------------------------------------------------------------------


def _candidates_expr(store: Store, end: datetime, period: Period) -> ir.Table:
    """The deals that can be in the period's pipeline at some moment up to ``end``: those
    that had a close date in the period at some time. No other deal ever counts, so the
    engine never reads their history. Taken from ``deals`` (with pipeline, name and owner),
    which also keeps out events of deals the deals table does not know, as ``deals_as_of``
    does. In deal id order: a deal's position is its number in the walk."""
    events = store.table("deal_events")
    # Close dates are stored as canonical text (2024-03-31), which sorts as the date does.
    close_dates = events.filter(
        events.field == "close_date",
        events.at <= ibis.literal(end, "timestamp"),
        events.new_value.between(period.start.isoformat(), period.end.isoformat()),
    )
    ids = close_dates.select("deal_id").distinct()
    deals = store.table("deals").select("deal_id", "pipeline", "name", "owner_id")
    return deals.semi_join(ids, "deal_id").order_by("deal_id")


def _events_expr(store: Store, candidates: pa.Table, end: datetime, period: Period) -> ir.Table:
    """Every change of stage, amount and close date of the candidate deals up to ``end``,
    each read as what it means for the pipeline: the stage's closed and won flags (from the
    deal's pipeline in ``stages``), the amount in cents, whether the close date lies in the
    period; in the order the deal lived them (time, then ``seq``). ``deal`` is the deal's
    position among the candidates; ``field`` is 0 for stage, 1 for amount, 2 for close date.
    """
    numbered = ibis.memtable(
        pa.table(
            {
                "deal_id": candidates.column("deal_id"),
                "_pipeline_key": pc.fill_null(candidates.column("pipeline"), ""),
                "deal": pa.array(np.arange(candidates.num_rows, dtype=np.int64)),
            }
        )
    )
    events = store.table("deal_events")
    events = events.filter(events.at <= ibis.literal(end, "timestamp"), events.field.isin(_FIELDS))
    events = events.join(numbered, "deal_id")
    closed, won = stage_flags(store, events._pipeline_key, events.new_value)
    is_stage = events.field == "stage"
    # Each value is read only on rows of its own field (a cast does not wait for an AND).
    no_text = ibis.null("string")
    amount = ibis.ifelse(events.field == "amount", events.new_value, no_text)
    close_date = ibis.ifelse(events.field == "close_date", events.new_value, no_text)
    cents = (typed_value("amount", amount) * 100).cast("int64")
    code = ibis.cases((events.field == "stage", 0), (events.field == "amount", 1), else_=2)
    return events.select(
        "deal",
        "at",
        "seq",
        field=code.cast("int8"),
        closed=is_stage & closed,
        won=is_stage & won,
        cents=cents.fill_null(0),
        due=in_period(typed_value("close_date", close_date), period).fill_null(False),
    ).order_by("deal", "at", "seq")


def stage_flags(
    store: Store, pipeline: ir.StringValue, stage: ir.StringValue
) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """Whether ``stage`` (of a deal in ``pipeline``, '' when it has none) is closed, and
    whether it is won, per the ``stages`` table, as ``deals_as_of`` reads them: a won stage
    counts as closed, and a stage the table does not list for that pipeline is open.

    Written as lists of stage names rather than a join, so that the engine never has to
    plan a join of millions of events with a handful of stages."""
    stages = store.table("stages")
    rows = store.to_arrow(
        stages.select(
            pipeline=stages.pipeline.fill_null(""),
            stage=stages.stage,
            closed=stages.is_closed.fill_null(False) | stages.is_won.fill_null(False),
            won=stages.is_won.fill_null(False),
        )
    ).to_pylist()

    def flag(name: str) -> ir.BooleanValue:
        by_pipeline: dict[str, list[str]] = {}
        for row in rows:
            if row[name]:
                by_pipeline.setdefault(row["pipeline"], []).append(row["stage"])
        result: ir.BooleanValue = ibis.literal(False)
        for name_of_pipeline, names in sorted(by_pipeline.items()):
            result = result | ((pipeline == name_of_pipeline) & stage.isin(sorted(names)))
        return result.fill_null(False)

    return flag("closed"), flag("won")


# -- the walk ------------------------------------------------------------------------------------


class _Walk:
    """All candidate deals walked at once through their changes, in NumPy.

    A step is one deal's changes at one moment. After each step the deal is in the pipeline
    when its latest stage is open and its latest close date lies in the period; a field not
    recorded yet reads as unknown (stage open, close date not in the period, amount 0), as
    ``deals_as_of`` reads it. Before its first step a deal does not exist.
    """

    def __init__(self, events: pa.Table) -> None:
        n = events.num_rows
        d = int_array(events.column("deal"))
        rows = np.arange(n)
        new_deal = np.ones(n, dtype=bool)
        new_deal[1:] = d[1:] != d[:-1]
        first_row = np.maximum.accumulate(np.where(new_deal, rows, 0))
        at = int_array(events.column("at").cast(pa.timestamp("us")).cast(pa.int64()))
        fields = int_array(events.column("field"))

        def latest(code: int) -> tuple[np.ndarray, np.ndarray]:
            """Per event: the row of the deal's latest change of one field so far, and
            whether the deal has had one."""
            last = np.maximum.accumulate(np.where(fields == code, rows, -1))
            return np.maximum(last, 0), last >= first_row

        stage_row, has_stage = latest(0)
        amount_row, has_amount = latest(1)
        close_row, has_close = latest(2)
        closed = has_stage & bool_array(events.column("closed"))[stage_row]
        won = has_stage & bool_array(events.column("won"))[stage_row]
        due = has_close & bool_array(events.column("due"))[close_row]
        cents = np.where(has_amount, int_array(events.column("cents"))[amount_row], 0)

        # The state after each step is the one after its last event.
        step_end = np.ones(n, dtype=bool)
        step_end[:-1] = (d[1:] != d[:-1]) | (at[1:] != at[:-1])
        steps = np.flatnonzero(step_end)
        self.deal = d[steps]
        self.is_in = ~closed[steps] & due[steps]
        self.value = np.where(self.is_in, cents[steps], 0)
        self.closed = closed[steps]
        self.won = won[steps]
        self.at = at[steps]
        self.same_deal = self.deal[1:] == self.deal[:-1]  # step i + 1 continues step i's deal
        self.first_step = np.ones(len(steps), dtype=bool)
        self.first_step[1:] = ~self.same_deal
        last_step = np.ones(len(steps), dtype=bool)
        last_step[:-1] = ~self.same_deal
        self.end_cents = int(self.value[last_step].sum())
        self.end_count = int(self.is_in[last_step].sum())
        # Before a deal's first step it does not exist: not in the pipeline, worth 0.
        self.was_in = np.zeros(len(steps), dtype=bool)
        self.was_worth = np.zeros(len(steps), dtype=np.int64)
        self.was_in[1:] = self.same_deal & self.is_in[:-1]
        self.was_worth[1:] = np.where(self.same_deal, self.value[:-1], 0)

    def at_start(self, start: datetime) -> tuple[int, int]:
        """The pipeline at ``start`` (cents, deals): each deal as after its last step at or
        before then."""
        before = self.at <= microseconds(start)
        last_before = before.copy()
        last_before[:-1] &= ~(self.same_deal & before[1:])
        return int(self.value[last_before].sum()), int((self.is_in & last_before).sum())

    def bars(self, start: datetime, candidates: pa.Table) -> tuple[WaterfallBar, ...]:
        """Each step after ``start``, classified by how the deal's membership changed."""
        inside = self.at > microseconds(start)
        was_in, was_worth = self.was_in, self.was_worth
        enters = inside & ~was_in & self.is_in
        leaves = inside & was_in & ~self.is_in
        stays = inside & was_in & self.is_in
        created = enters & self.first_step
        won = leaves & self.won
        lost = leaves & self.closed & ~self.won
        change = self.value - was_worth
        parts = {
            "created": (created, self.value),
            "pulled_in": (enters & ~created, self.value),
            "increased": (stays & (change > 0), change),
            "decreased": (stays & (change < 0), -change),
            "pushed_out": (leaves & ~won & ~lost, was_worth),
            "lost": (lost, was_worth),
            "won": (won, was_worth),
        }
        return tuple(_bar(name, *parts[name], self.deal, candidates) for name in BARS)


_BAR_SCHEMA = pa.schema(
    [
        ("deal_id", pa.string()),
        ("name", pa.string()),
        ("owner_id", pa.string()),
        ("amount", pa.decimal128(18, 2)),
    ]
)


def _bar(
    name: str, member: np.ndarray, value: np.ndarray, deal: np.ndarray, candidates: pa.Table
) -> WaterfallBar:
    """One bar: the value of its steps summed per deal (steps come in deal order)."""
    deals = deal[member]
    if len(deals) == 0:
        return WaterfallBar(name, _SIGN[name], _ZERO, _BAR_SCHEMA.empty_table())
    first = np.flatnonzero(np.concatenate(([True], deals[1:] != deals[:-1])))
    which = deals[first]
    per_deal = np.add.reduceat(value[member], first)
    # Largest first, then by deal id (the candidates' order), the same on every run.
    order = np.lexsort((which, -per_deal))
    which, per_deal = which[order], per_deal[order]
    picked = candidates.take(pa.array(which))
    rows = pa.table(
        [
            picked.column("deal_id"),
            picked.column("name"),
            picked.column("owner_id"),
            _money_array(per_deal),
        ],
        schema=_BAR_SCHEMA,
    )
    return WaterfallBar(name, _SIGN[name], _money(int(per_deal.sum())), rows)


# -- small conversions ---------------------------------------------------------------------------


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _money_array(cents: np.ndarray) -> pa.Array:
    """Whole cents as money with two places (exact: decimal arithmetic in Arrow)."""
    whole = pa.array(cents, pa.int64()).cast(pa.decimal128(20, 0))
    return pc.multiply(whole, pa.scalar(Decimal("0.01"))).cast(pa.decimal128(18, 2))


def microseconds(moment: datetime) -> int:
    """``moment`` as microseconds since 1970 (how Arrow and NumPy hold timestamps)."""
    return int(np.datetime64(moment, "us").astype(np.int64))


def int_array(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow integers (or timestamps as integers) as a NumPy int64 array, nulls as 0."""
    return np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


def bool_array(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow booleans as a NumPy bool array, nulls as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)
