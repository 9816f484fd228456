"""The "next quarter" ledger: deals whose close date keeps moving to a later period, and how
much of what was promised at each period's start arrived.

The engine picks the deals that matter (those open now, and those that had a close date in
one of the ledger's periods by that period's start) and hands over their history: every
close-date change of the first, every change of stage, amount, close date and owner of
the second, each already read as what it means (closed? won? amount in cents, the close
date as a date). NumPy then rebuilds each deal's state at every moment the ledger asks
about (each period's first and last moment, the moment a deal was won), all deals at
once, instead of asking the engine for the past once per period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.errors import InputError
from quarterdeck.history import deals_at, typed_value
from quarterdeck.metrics.bookings import ratio
from quarterdeck.metrics.waterfall import bool_array, int_array, microseconds, stage_flags
from quarterdeck.periods import PERIOD_KINDS, Period, require_moment, require_period
from quarterdeck.store import Store

__all__ = [
    "OUTCOMES",
    "OwnerPromise",
    "PeriodPromise",
    "PromisedDeal",
    "SlipLedger",
    "SlippedDeal",
    "slip_ledger",
]

OUTCOMES: tuple[str, ...] = ("arrived", "won_outside", "lost", "slipped", "open")
"""What became of a promised deal by the period's end (or by ``as_of``, if earlier): won
with a close date in the period; won with a close date outside it; lost; still open with a
close date after the period; still open otherwise (due in the period, or earlier)."""

_STAGE, _AMOUNT, _CLOSE, _OWNER = range(4)
_FIELDS = {"stage": _STAGE, "amount": _AMOUNT, "close_date": _CLOSE, "owner_id": _OWNER}
_NO_DAY = np.iinfo(np.int64).min  # no close date (yet)
_MONEY = pa.decimal128(18, 2)
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SlippedDeal:
    """An open deal whose close date moved to a later period at least once.

    ``first_period`` holds the first close date the deal ever had; ``current_period`` its
    close date at ``as_of``; ``slips`` counts its moves to a later period. Name, owner,
    stage, amount and close date are as the deal stood at ``as_of``.
    """

    deal_id: str
    name: str | None
    owner_id: str | None
    stage: str | None
    amount: Decimal | None
    close_date: date | None
    first_period: Period | None
    current_period: Period | None
    slips: int


@dataclass(frozen=True)
class PromisedDeal:
    """A deal that was open and due in a period at the period's first moment.

    ``owner_id``, ``amount`` (0 when unknown) and ``close_date`` are as they stood then;
    ``outcome`` is one of ``OUTCOMES``, judged at the period's end (or ``as_of``);
    ``arrived_amount`` is the amount at the moment it was won (arrived deals only);
    ``end_amount`` and ``end_close_date`` are the deal's at the period's end.
    """

    deal_id: str
    name: str | None
    owner_id: str | None
    amount: Decimal
    close_date: date
    outcome: str
    arrived_amount: Decimal | None
    end_amount: Decimal
    end_close_date: date | None


@dataclass(frozen=True)
class PeriodPromise:
    """What was promised for one period at its start, and what became of it.

    ``complete`` says whether the period had ended by ``as_of`` (if not, the numbers are
    so far). ``deals`` lists every promised deal, largest promise first; ``rows`` holds
    the same as an Arrow table (``PromisedDeal``'s fields as columns).
    """

    period: Period
    complete: bool
    promised: Decimal
    promised_count: int
    arrived: Decimal
    arrived_count: int
    slipped: Decimal
    slipped_count: int
    rows: pa.Table = field(compare=False, repr=False)

    @property
    def arrived_share(self) -> Decimal | None:
        """Arrived value / promised value; None when nothing of value was promised."""
        return ratio(self.arrived, self.promised)

    @cached_property
    def deals(self) -> tuple[PromisedDeal, ...]:
        return tuple(PromisedDeal(**row) for row in self.rows.to_pylist())

    @property
    def promised_ids(self) -> list[str]:
        return self._ids(None)

    @property
    def arrived_ids(self) -> list[str]:
        return self._ids("arrived")

    @property
    def slipped_ids(self) -> list[str]:
        return self._ids("slipped")

    def _ids(self, outcome: str | None) -> list[str]:
        rows = self.rows
        if outcome is not None:
            rows = rows.filter(pc.equal(rows.column("outcome"), outcome))
        ids: list[str] = rows.column("deal_id").to_pylist()
        return ids


@dataclass(frozen=True)
class OwnerPromise:
    """Promise keeping of one owner (the deal's owner at each period's start) over the
    ledger's completed periods: ``rate`` = arrived / promised value, None when nothing of
    value was promised. ``deal_ids`` are the promised deals (a deal promised for two
    periods shows twice)."""

    owner_id: str | None
    promised: Decimal
    promised_count: int
    arrived: Decimal
    arrived_count: int
    rate: Decimal | None
    deal_ids: tuple[str, ...]


@dataclass(frozen=True)
class SlipLedger:
    """Result of :func:`slip_ledger`: the open deals that slipped, the promises of each
    period (oldest first, ``period`` last), promise keeping per owner (most promised first)
    and for the company (``total``), and the queries behind them (``expressions()``)."""

    as_of: datetime
    period: Period
    deals: tuple[SlippedDeal, ...]
    periods: tuple[PeriodPromise, ...]
    owners: tuple[OwnerPromise, ...]
    total: OwnerPromise
    open_expr: ir.Table = field(compare=False, repr=False)
    promised_expr: ir.Table = field(compare=False, repr=False)
    events_expr: ir.Table = field(compare=False, repr=False)

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return {"open": self.open_expr, "promised": self.promised_expr, "events": self.events_expr}


def slip_ledger(store: Store, as_of: datetime, period: Period, periods_back: int = 4) -> SlipLedger:
    """The "next quarter" ledger at ``as_of``: slipping deals, and promises kept per period.

    Definitions (periods are of ``period``'s kind and fiscal year, e.g. quarters):

    * A **slip** is a change of a deal's close date to a date in a later period than the
      close date it replaced (a move within the period or to an earlier one is not a slip,
      nor is a first close date). The **slip count** of a deal is the number of its slips
      at or before ``as_of``.
    * The ledger lists the deals open at ``as_of`` (as ``deals_at`` gives them) with a slip
      count of at least 1, most slips first, then largest amount (unknown last), then deal
      id: with their
      first promised period (that of the first close date they had), their current period
      (that of their close date at ``as_of``), and their amount, owner, stage and name then.
    * For ``period`` and the ``periods_back`` periods before it: **promised** = the deals
      open at the period's first moment (00:00 of its first day) whose close date then lay
      in the period, valued at their amount then (0 when unknown); a deal created during
      the period is not promised. **Arrived** = of those deals, the ones won with a close
      date in the period by the period's end (or by ``as_of``, if earlier), valued at their
      amount at the moment they were won. **Slipped** = of those deals, the ones still open
      then with a close date after the period, valued at their amount then. Each is also
      counted. States are rebuilt from ``deal_events``, a change at exactly a moment
      counting as done by then, stages read as ``deals_as_of`` reads them.
    * **Promise-keeping rate** of an owner (the deal's owner at the period's start) =
      arrived value / promised value over the ledger's completed periods (those that ended
      by ``as_of``); None when nothing of value was promised. ``total`` gives the same for
      the whole company.
    """
    _check_arguments(as_of, period, periods_back)
    periods = _periods(period, periods_back)
    open_expr = _open_expr(store, as_of)
    promised_expr = _promised_expr(store, periods, as_of)
    open_now = store.to_arrow(open_expr)
    promised = store.to_arrow(promised_expr)
    candidates = _Candidates(open_now, promised, periods, as_of)
    events_expr = _events_expr(store, candidates, as_of)
    timeline = _Timeline(store.to_arrow(events_expr), candidates.count)

    promises = tuple(_promise(k, p, as_of, candidates, timeline) for k, p in enumerate(periods))
    owners, total = _owners([p for p in promises if p.complete])
    return SlipLedger(
        as_of=as_of,
        period=period,
        deals=_slipped_deals(open_now, candidates, timeline, period),
        periods=promises,
        owners=owners,
        total=total,
        open_expr=open_expr,
        promised_expr=promised_expr,
        events_expr=events_expr,
    )


def _check_arguments(as_of: datetime, period: Period, periods_back: int) -> None:
    require_moment(as_of)
    require_period(period)
    if period.kind not in PERIOD_KINDS:
        raise InputError(
            f"the slip ledger needs a week, month, quarter or year, not the custom period "
            f"{period.label}: a slip is a move to a later period of the same kind"
        )
    if as_of < _first_moment(period):
        raise InputError(f"{period.label} has not begun at {as_of}: nothing was promised yet")
    if isinstance(periods_back, bool) or not isinstance(periods_back, int) or periods_back < 0:
        raise InputError(f"periods_back must be a whole number, 0 or more, not {periods_back!r}")


def _periods(period: Period, periods_back: int) -> list[Period]:
    """``period`` and the ``periods_back`` periods before it, oldest first."""
    periods = [period]
    for _ in range(periods_back):
        periods.append(periods[-1].previous())
    return periods[::-1]


def _first_moment(period: Period) -> datetime:
    return datetime.combine(period.start, time.min)


def _last_moment(period: Period, as_of: datetime) -> datetime:
    """The period's end (the last instant of its last day), or ``as_of`` if earlier."""
    return min(datetime.combine(period.end, time.max), as_of)


# -- the engine's part ---------------------------------------------------------------------------


def _open_expr(store: Store, as_of: datetime) -> ir.Table:
    """The deals open at ``as_of`` (neither closed nor won), as ``deals_at`` gives them."""
    deals = deals_at(store, as_of)
    deals = deals.filter(~(deals.is_closed | deals.is_won))
    return deals.select("deal_id", "pipeline", "name", "owner_id", "stage", "amount", "close_date")


def _promised_expr(store: Store, periods: list[Period], as_of: datetime) -> ir.Table:
    """Per period (``k``, 0 the oldest): the deals that by the period's first moment had
    had a close date in the period, a superset of those promised for it (the timeline then
    checks each); with the deal's pipeline and name from ``deals``."""
    events = store.table("deal_events")
    events = events.filter(
        events.field == "close_date", events.at <= ibis.literal(as_of, "timestamp")
    )
    # Close dates are stored as canonical text (2024-03-31), which sorts as the date does.
    branches = [
        (
            events.new_value.between(p.start.isoformat(), p.end.isoformat())
            & (events.at <= ibis.literal(_first_moment(p), "timestamp")),
            k,
        )
        for k, p in enumerate(periods)
    ]
    keyed = events.select("deal_id", k=ibis.cases(*branches, else_=-1).cast("int64"))
    pairs = keyed.filter(keyed.k >= 0).distinct()
    deals = store.table("deals").select("deal_id", "pipeline", "name")
    return pairs.join(deals, "deal_id")


class _Candidates:
    """Every deal the ledger needs the history of, numbered 0, 1, ... (its number in the
    timeline): the candidate promises first, then the deals open now.

    A candidate promise needs its whole history up to the end of the last period it may
    have been promised for (``as_of`` if it is open now); a deal open now and nothing
    else needs only its close dates.
    """

    def __init__(
        self, open_now: pa.Table, promised: pa.Table, periods: list[Period], as_of: datetime
    ) -> None:
        ids = pa.concat_arrays(
            [
                promised.column("deal_id").combine_chunks(),
                open_now.column("deal_id").combine_chunks().cast(pa.string()),
            ]
        )
        encoded = ids.dictionary_encode()
        numbers = int_array(encoded.indices)
        self.ids: pa.Array = encoded.dictionary
        self.count = len(self.ids)
        self.promised = numbers[: promised.num_rows]
        self.open = numbers[promised.num_rows :]
        self.periods = int_array(promised.column("k"))
        pipelines = pa.concat_arrays(
            [
                promised.column("pipeline").combine_chunks().cast(pa.string()),
                open_now.column("pipeline").combine_chunks().cast(pa.string()),
            ]
        )
        names = pa.concat_arrays(
            [
                promised.column("name").combine_chunks().cast(pa.string()),
                open_now.column("name").combine_chunks().cast(pa.string()),
            ]
        )
        # Each number's pipeline and name, from the row where it first appears.
        _, first = np.unique(numbers, return_index=True)
        self.pipelines = pipelines.take(pa.array(first))
        self.names = names.take(pa.array(first))
        # History wanted up to the end of the last period a deal may have been promised for
        # (periods end in order, so the latest period wins), or to as_of if it is open now.
        until = np.full(self.count, np.iinfo(np.int64).min, dtype=np.int64)
        for k, period in enumerate(periods):
            until[self.promised[self.periods == k]] = microseconds(_last_moment(period, as_of))
        self.full = until > np.iinfo(np.int64).min
        until[self.open] = microseconds(as_of)
        self.until = until


def _events_expr(store: Store, candidates: _Candidates, as_of: datetime) -> ir.Table:
    """The candidate deals' changes up to ``as_of`` (all of stage, amount, close date and
    owner for candidate promises, close dates alone for the rest), read as what they mean:
    the stage as open, lost or won (in the deal's pipeline, as ``deals_as_of`` reads it),
    the amount in cents, the close date in days since 1970-01-01, the owner. ``deal`` is the
    deal's position among the candidates; ``field`` 0 stage, 1 amount, 2 close date,
    3 owner. In the order each deal lived them (time, then ``seq``)."""
    numbered = ibis.memtable(
        pa.table(
            {
                "deal_id": candidates.ids,
                "_pipeline": pc.fill_null(candidates.pipelines, ""),
                "_full": pa.array(candidates.full),
                "_until": pa.array(candidates.until).cast(pa.timestamp("us")),
                "deal": pa.array(np.arange(candidates.count, dtype=np.int64)),
            }
        )
    )
    events = store.table("deal_events")
    events = events.filter(
        events.at <= ibis.literal(as_of, "timestamp"), events.field.isin(tuple(_FIELDS))
    )
    events = events.join(numbered, "deal_id")
    events = events.filter(
        events._full | (events.field == "close_date"), events.at <= events._until
    )
    closed, won = stage_flags(store, events._pipeline, events.new_value)
    is_stage = events.field == "stage"
    no_text = ibis.null("string")

    def of(name: str) -> ir.StringValue:
        # Read only on rows of its own field (a cast does not wait for an AND).
        return ibis.ifelse(events.field == name, events.new_value, no_text)

    code = ibis.cases(*((events.field == name, c) for name, c in _FIELDS.items()), else_=-1)
    cents = (typed_value("amount", of("amount")) * 100).cast("int64")
    days = typed_value("close_date", of("close_date")).epoch_days().cast("int64")
    return events.select(
        "deal",
        "at",
        "seq",
        field=code.cast("int8"),
        # A stage: 0 open, 1 closed and not won, 2 won.
        stage=ibis.ifelse(is_stage & won, 2, ibis.ifelse(is_stage & closed, 1, 0)).cast("int8"),
        # An amount in cents, or a close date in days since 1970-01-01 (null: none).
        value=ibis.coalesce(cents, days),
        owner_id=of("owner_id"),
    ).order_by("deal", "at", "seq")


# -- the timeline --------------------------------------------------------------------------------


class _Timeline:
    """Every candidate deal's state after each of its steps (its changes at one moment),
    all deals at once, and the state of any deal at any moment.

    A field not recorded yet reads as unknown: stage open, no amount, no close date, no
    owner (as ``deals_as_of`` reads it).
    """

    def __init__(self, events: pa.Table, deal_count: int) -> None:
        d = int_array(events.column("deal"))
        at = int_array(events.column("at").cast(pa.timestamp("us")).cast(pa.int64()))
        fields = int_array(events.column("field"))
        n = len(d)
        self.deal_count = deal_count
        rows = np.arange(n)
        new_deal = np.ones(n, dtype=bool)
        new_deal[1:] = d[1:] != d[:-1]
        first_row = np.maximum.accumulate(np.where(new_deal, rows, 0))

        def latest(code: int) -> np.ndarray:
            """Per event: the row of the deal's latest change of one field so far, or -1."""
            last = np.maximum.accumulate(np.where(fields == code, rows, -1))
            return np.where(last >= first_row, last, -1)

        stage_row, amount_row = latest(_STAGE), latest(_AMOUNT)
        close_row, owner_row = latest(_CLOSE), latest(_OWNER)
        stage_ev = int_array(events.column("stage"))
        value = events.column("value")
        known = bool_array(pc.is_valid(value))
        value_ev = np.where(known, int_array(value), _NO_DAY)
        stage = np.where(stage_row >= 0, stage_ev[stage_row], 0)
        closed, won = stage >= 1, stage == 2
        # No amount (never set, or set to nothing) counts 0; no close date stays unknown.
        cents = np.where((amount_row >= 0) & known[amount_row], value_ev[amount_row], 0)
        days = np.where(close_row >= 0, value_ev[close_row], _NO_DAY)
        days_ev = value_ev

        # The state after a step is the one after its last event.
        step_end = np.ones(n, dtype=bool)
        step_end[:-1] = new_deal[1:] | (at[1:] != at[:-1])
        steps = np.flatnonzero(step_end)
        self.deal = d[steps]
        self.at = at[steps]
        self.closed = closed[steps]
        self.won = won[steps]
        self.cents = cents[steps]
        self.close_day = days[steps]
        self._owner_event = owner_row[steps]
        self._owners = events.column("owner_id")

        # The step at which the deal last became won (so far): it was won at that moment.
        step_no = np.arange(len(steps))
        first_step = np.ones(len(steps), dtype=bool)
        first_step[1:] = self.deal[1:] != self.deal[:-1]
        was_won = np.concatenate(([False], self.won[:-1])) & ~first_step
        became_won = self.won & ~was_won
        won_step = np.maximum.accumulate(np.where(became_won, step_no, -1))
        first_step_no = np.maximum.accumulate(np.where(first_step, step_no, 0))
        self.won_step = np.where(won_step >= first_step_no, won_step, -1)

        # Close-date changes, for slips: each new value and the one it replaced.
        close_rows = np.flatnonzero(fields == _CLOSE)
        self.close_deal = d[close_rows]
        self.close_new = days_ev[close_rows]
        self.close_old = np.full(len(close_rows), _NO_DAY, dtype=np.int64)
        same = self.close_deal[1:] == self.close_deal[:-1]
        self.close_old[1:] = np.where(same, self.close_new[:-1], _NO_DAY)

    def state_at(self, deal: np.ndarray, moment: datetime) -> np.ndarray:
        """For each deal number in ``deal``: its last step at or before ``moment`` (whose
        state holds then), or -1 where the deal had no recorded change yet."""
        # Steps come in (deal, time) order: a deal's steps up to the moment come first.
        upto = np.bincount(self.deal[self.at <= microseconds(moment)], minlength=self.deal_count)
        first = np.searchsorted(self.deal, deal, side="left")
        return np.where(upto[deal] > 0, first + upto[deal] - 1, -1)

    def owners(self, step: np.ndarray) -> pa.Array:
        """The owner after each step (null where none was recorded)."""
        event = self._owner_event[step]
        owners = self._owners.take(pa.array(np.maximum(event, 0)))
        return pc.if_else(pa.array(event >= 0), owners, pa.scalar(None, pa.string()))


# -- the ledger ----------------------------------------------------------------------------------


def _slipped_deals(
    open_now: pa.Table, candidates: _Candidates, timeline: _Timeline, period: Period
) -> tuple[SlippedDeal, ...]:
    """The deals open at ``as_of`` that slipped at least once, most slips first."""
    kind, fy_start = period.kind, period.fiscal_year_start_month
    new, old = timeline.close_new, timeline.close_old
    known = (new != _NO_DAY) & (old != _NO_DAY)
    slipped = known & (_ordinal(new, kind, fy_start) > _ordinal(old, kind, fy_start))
    slips = np.bincount(timeline.close_deal[slipped], minlength=candidates.count)
    # The first close date of each deal: later values first, so the earliest wins.
    first_day = np.full(candidates.count, _NO_DAY, dtype=np.int64)
    valued = np.flatnonzero(new != _NO_DAY)[::-1]
    first_day[timeline.close_deal[valued]] = new[valued]

    number = candidates.open
    keep = np.flatnonzero(slips[number] >= 1)
    if len(keep) == 0:
        return ()
    rows = open_now.select(["deal_id", "name", "owner_id", "stage", "amount", "close_date"])
    rows = rows.take(pa.array(keep))
    rows = rows.append_column("slips", pa.array(slips[number[keep]]))
    rows = rows.append_column("first_day", _date_array(first_day[number[keep]]))
    # Most slips first, then the largest amount (unknown last), then deal id.
    rows = rows.sort_by(
        [("slips", "descending"), ("amount", "descending"), ("deal_id", "ascending")]
    )
    periods: dict[date, Period] = {}

    def period_of(day: date | None) -> Period | None:
        if day is None:
            return None
        if day not in periods:
            periods[day] = Period.containing(day, kind, fy_start)
        return periods[day]

    return tuple(
        SlippedDeal(
            deal_id=r["deal_id"],
            name=r["name"],
            owner_id=r["owner_id"],
            stage=r["stage"],
            amount=r["amount"],
            close_date=r["close_date"],
            first_period=period_of(r["first_day"]),
            current_period=period_of(r["close_date"]),
            slips=r["slips"],
        )
        for r in rows.to_pylist()
    )


def _promise(
    k: int, period: Period, as_of: datetime, candidates: _Candidates, timeline: _Timeline
) -> PeriodPromise:
    """The promises of one period and what became of them."""
    deal = candidates.promised[candidates.periods == k]
    first_day, last_day = _epoch_day(period.start), _epoch_day(period.end)
    at_start = timeline.state_at(deal, _first_moment(period))
    s = np.maximum(at_start, 0)
    day = timeline.close_day[s]
    is_promised = (at_start >= 0) & ~timeline.closed[s] & (day >= first_day) & (day <= last_day)
    deal, s = deal[is_promised], s[is_promised]
    # A promised deal has a state at its period's start, so it has one at the end too.
    e = timeline.state_at(deal, _last_moment(period, as_of))
    end_day = timeline.close_day[e]
    closed, won = timeline.closed[e], timeline.won[e]
    due = (end_day >= first_day) & (end_day <= last_day)
    outcome = np.select(
        [won & due, won, closed, end_day > last_day],
        ["arrived", "won_outside", "lost", "slipped"],
        default="open",
    )
    arrived, slipped = outcome == "arrived", outcome == "slipped"
    won_at = timeline.won_step[e]
    arrived_cents = np.where(arrived, timeline.cents[np.maximum(won_at, 0)], 0)
    promised_cents, end_cents = timeline.cents[s], timeline.cents[e]

    numbers = pa.array(deal)
    rows = pa.table(
        {
            "deal_id": candidates.ids.take(numbers),
            "name": candidates.names.take(numbers),
            "owner_id": timeline.owners(s),
            "amount": _money_array(promised_cents),
            "close_date": _date_array(timeline.close_day[s]),
            "outcome": pa.array(outcome.astype(str), pa.string()),
            "arrived_amount": pc.if_else(
                pa.array(arrived), _money_array(arrived_cents), pa.scalar(None, _MONEY)
            ),
            "end_amount": _money_array(end_cents),
            "end_close_date": _date_array(end_day),
        }
    )
    rows = rows.sort_by([("amount", "descending"), ("deal_id", "ascending")])
    return PeriodPromise(
        period=period,
        complete=as_of >= datetime.combine(period.end, time.max),
        promised=_money(int(promised_cents.sum())),
        promised_count=len(deal),
        arrived=_money(int(arrived_cents.sum())),
        arrived_count=int(arrived.sum()),
        slipped=_money(int(end_cents[slipped].sum())),
        slipped_count=int(slipped.sum()),
        rows=rows,
    )


def _owners(complete: list[PeriodPromise]) -> tuple[tuple[OwnerPromise, ...], OwnerPromise]:
    """Promise keeping per owner (at each period's start) and for the company, over the
    completed periods."""
    columns = ["owner_id", "deal_id", "amount", "outcome", "arrived_amount"]
    empty = pa.schema(
        [
            ("owner_id", pa.string()),
            ("deal_id", pa.string()),
            ("amount", _MONEY),
            ("outcome", pa.string()),
            ("arrived_amount", _MONEY),
        ]
    )
    parts = [p.rows.select(columns).cast(empty) for p in complete]
    rows = pa.concat_tables(parts) if parts else empty.empty_table()
    rows = rows.append_column(
        "arrived", pc.cast(pc.equal(rows.column("outcome"), "arrived"), pa.int64())
    )
    sums = [
        ("amount", "sum"),
        ("deal_id", "count"),
        ("arrived_amount", "sum"),
        ("arrived", "sum"),
        ("deal_id", "list"),
    ]
    grouped = rows.group_by("owner_id", use_threads=False).aggregate(sums)
    # The company: the same sums over one group holding every row.
    one = rows.append_column("_all", pa.array(np.zeros(rows.num_rows, dtype=np.int8)))
    total = one.group_by("_all", use_threads=False).aggregate(sums).to_pylist()

    def line(owner: str | None, r: dict[str, Any]) -> OwnerPromise:
        promised = _exact(r["amount_sum"])
        arrived = _exact(r["arrived_amount_sum"])
        return OwnerPromise(
            owner_id=owner,
            promised=promised,
            promised_count=int(r["deal_id_count"]),
            arrived=arrived,
            arrived_count=int(r["arrived_sum"] or 0),
            rate=ratio(arrived, promised),
            deal_ids=tuple(r["deal_id_list"]),
        )

    owners = sorted(
        (line(r["owner_id"], r) for r in grouped.to_pylist()),
        key=lambda o: (-o.promised, o.owner_id is None, o.owner_id or ""),
    )
    everyone = line(None, total[0]) if total else OwnerPromise(None, _ZERO, 0, _ZERO, 0, None, ())
    return tuple(owners), everyone


# -- periods and conversions ---------------------------------------------------------------------


def _ordinal(days: np.ndarray, kind: str, fy_start: int) -> np.ndarray:
    """The number of the period holding each day (days since 1970-01-01), consecutive
    periods numbered consecutively, cut as ``Period.containing(day, kind, fy_start)``."""
    if kind == "week":
        return np.floor_divide(days - 4, 7)  # 1970-01-05 was a Monday
    # year * 12 + month - 1
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    if kind == "month":
        return months
    return np.floor_divide(months + 1 - fy_start, 3 if kind == "quarter" else 12)


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _date(day: int) -> date:
    return date(1970, 1, 1) + (date.fromordinal(day + 1) - date.fromordinal(1))


def _date_array(days: np.ndarray) -> pa.Array:
    known = days != _NO_DAY
    return pa.array(np.where(known, days, 0).astype(np.int32), pa.int32(), mask=~known).cast(
        pa.date32()
    )


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _money_array(cents: np.ndarray) -> pa.Array:
    """Whole cents as money (exact: decimal arithmetic in Arrow)."""
    whole = pa.array(cents, pa.int64()).cast(pa.decimal128(20, 0))
    return pc.multiply(whole, pa.scalar(Decimal("0.01"))).cast(_MONEY)


def _exact(value: Decimal | None) -> Decimal:
    """A sum Arrow made of money (already exact, two places), or 0.00 for no rows."""
    return _ZERO if value is None else value
