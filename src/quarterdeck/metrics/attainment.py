"""Revenue vs goal: closed bookings so far in a period against its target, with the pace,
the projections it implies and the open pipeline that could still close the gap.

This is the first item of the weekly brief. Every number is read from the deals as they
stood at the report's moment (``as_of``), so a brief for a past week shows what was known
that week: a deal won later, even with a close date backdated into that week, is not in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.errors import InputError
from quarterdeck.history import deals_at
from quarterdeck.metrics.bookings import (
    TARGET_SCOPES,
    check_dimension,
    in_period,
    ratio,
    rows_of,
    with_dimension,
)
from quarterdeck.periods import Period, require_moment, require_period
from quarterdeck.store import Store

__all__ = [
    "ANY_KEY",
    "EARLIER_PERIODS",
    "EarlierPeriod",
    "GoalDeal",
    "GoalLine",
    "RevenueVsGoal",
    "check_moment",
    "report_day",
    "revenue_vs_goal",
    "revenue_vs_goal_by",
    "targets_by",
    "year_before",
]

EARLIER_PERIODS = 4
"""How many earlier periods of the same kind the usual pace is read from."""

_ZERO = Decimal("0.00")

_DEAL_FIELDS = (
    "deal_id", "name", "owner_id", "account_id", "motion", "amount", "close_date", "stage",
    "is_closed", "is_won",
)  # fmt: skip

_JOINED = ("team", "segment")
"""The dimensions whose value :func:`with_dimension` reads from another table."""

DealStatus = Literal["won", "due", "overdue"]


# -- the moment and the period ----------------------------------------------------------------


def check_moment(as_of: datetime, period: Period) -> None:
    """Refuse an ``as_of`` that is not a datetime, or a ``period`` that is not a Period or
    that starts after the day of ``as_of`` (a report cannot describe a period not begun)."""
    require_moment(as_of)
    require_period(period)
    if period.start > as_of.date():
        raise InputError(
            f"period {period.label} starts on {period.start}, after the report's day "
            f"{as_of.date()}: choose the period holding that day or an earlier one"
        )


def report_day(as_of: datetime, period: Period) -> date:
    """The last day of ``period`` the report counts: the day of ``as_of``, or the period's
    end when the period is entirely in the past."""
    return min(as_of.date(), period.end)


def year_before(period: Period) -> Period:
    """The period of the same kind a year earlier (for a quarter: four quarters back)."""

    def minus_year(day: date) -> date:
        # 29 February has no twin in the year before: take the 28th.
        return day.replace(year=day.year - 1, day=min(day.day, 28 if day.month == 2 else 31))

    if period.kind == "custom":
        start, end = minus_year(period.start), minus_year(period.end)
        return Period(start, end, f"{start}..{end}")
    return Period.containing(minus_year(period.start), period.kind, period.fiscal_year_start_month)


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarlierPeriod:
    """Bookings of an earlier period up to the same point as the report's day.

    ``through`` is that point: the same number of days after the period's start as the
    report's day is after the current period's start (never past the period's end; the
    whole period when the current one is complete). ``share_by_now`` = ``bookings_by_now``
    / ``total``, None when the period booked nothing.
    """

    period: Period
    through: date
    bookings_by_now: Decimal
    total: Decimal
    won_count: int
    share_by_now: Decimal | None


@dataclass(frozen=True)
class GoalLine:
    """Revenue vs goal of one scope (the company, or one owner, team, segment, motion).

    ``key`` is the dimension value (None for the company line, or for deals whose owner or
    account is unknown). Every part that needs a target is None when the scope has none.
    """

    key: str | None
    bookings: Decimal
    won_count: int
    target: Decimal | None
    gap: Decimal | None
    attainment: Decimal | None
    expected_to_date: Decimal | None
    pace: Decimal | None
    straight_line_projection: Decimal
    earlier: tuple[EarlierPeriod, ...]
    usual_share: Decimal | None
    usual_projection: Decimal | None
    last_year: EarlierPeriod | None
    pipeline: Decimal
    pipeline_count: int
    due: Decimal
    due_count: int
    overdue: Decimal
    overdue_count: int
    coverage: Decimal | None
    target_met: bool


@dataclass(frozen=True)
class GoalDeal:
    """One deal behind the numbers: won so far in the period, or open and due in it.

    ``status`` is ``won``, ``due`` (open, close date from the report's day to the period's
    end) or ``overdue`` (open, close date in the period but before the report's day);
    ``key`` is the line it belongs to. Fields are as they stood at ``as_of``.
    """

    deal_id: str
    name: str | None
    owner_id: str | None
    key: str | None
    amount: Decimal | None
    close_date: date | None
    stage: str | None
    status: DealStatus


class _AnyKey:
    """The type of ``ANY_KEY``: no filter on the line a deal belongs to."""

    def __repr__(self) -> str:
        return "ANY_KEY"


ANY_KEY = _AnyKey()
"""Ask :meth:`RevenueVsGoal.deals` for the deals of every line."""


@dataclass(frozen=True)
class RevenueVsGoal:
    """Result of :func:`revenue_vs_goal`: the company line, one line per dimension value,
    the deals behind them and the queries they were computed from.

    The deals are kept as columns (``deals_table``, largest amount first) and turned into
    :class:`GoalDeal` objects only when asked for, since a large company has tens of
    thousands of them and a report lists a few.
    """

    as_of: datetime
    period: Period
    by: str | None
    day: date
    period_days: int
    days_elapsed: int
    days_left: int
    weeks_left: int
    earlier_periods: tuple[Period, ...]
    last_year_period: Period
    total: GoalLine
    rows: tuple[GoalLine, ...]
    deals_table: pa.Table = field(compare=False, repr=False)
    lines_expr: ir.Table = field(compare=False, repr=False)
    targets_expr: ir.Table = field(compare=False, repr=False)
    deals_expr: ir.Table = field(compare=False, repr=False)

    @property
    def bookings(self) -> Decimal:
        """Company closed-won value from the period's start to the report's day."""
        return self.total.bookings

    @property
    def target(self) -> Decimal | None:
        return self.total.target

    @property
    def gap(self) -> Decimal | None:
        return self.total.gap

    @property
    def attainment(self) -> Decimal | None:
        return self.total.attainment

    @property
    def coverage(self) -> Decimal | None:
        return self.total.coverage

    @cached_property
    def won_deals(self) -> tuple[GoalDeal, ...]:
        """Every deal behind the company's bookings to date, largest first."""
        return self.deals(("won",))

    @cached_property
    def pipeline_deals(self) -> tuple[GoalDeal, ...]:
        """Every open deal due in the period (due and overdue), largest first."""
        return self.deals(("due", "overdue"))

    def deals(
        self,
        statuses: tuple[DealStatus, ...] = ("won", "due", "overdue"),
        key: str | _AnyKey | None = ANY_KEY,
        limit: int | None = None,
    ) -> tuple[GoalDeal, ...]:
        """The deals of the given ``statuses``, of line ``key`` (None: the deals with no key;
        by default every line), the ``limit`` largest (by default all), largest first."""
        table = self.deals_table
        keep = pc.is_in(table.column("status"), pa.array(statuses, pa.string()))
        if not isinstance(key, _AnyKey):
            column = table.column("key")
            keep = pc.and_(keep, pc.is_null(column) if key is None else pc.equal(column, key))
        table = table.filter(keep)
        if limit is not None:
            table = table.slice(0, limit)
        return tuple(
            GoalDeal(*values) for values in zip(*_columns(table, _GOAL_DEAL_FIELDS), strict=True)
        )

    def deals_of(self, key: str | None) -> tuple[tuple[GoalDeal, ...], tuple[GoalDeal, ...]]:
        """The won deals and the pipeline deals of the line ``key``."""
        return self.deals(("won",), key), self.deals(("due", "overdue"), key)

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return {"lines": self.lines_expr, "targets": self.targets_expr, "deals": self.deals_expr}


_GOAL_DEAL_FIELDS = tuple(f.name for f in fields(GoalDeal))


def _columns(table: pa.Table, names: tuple[str, ...]) -> list[list[Any]]:
    """The columns ``names`` of ``table`` as Python lists (a column at a time is far faster
    than a row at a time)."""
    return [table.column(name).to_pylist() for name in names]


# -- the metric -------------------------------------------------------------------------------


def revenue_vs_goal(
    store: Store, as_of: datetime, period: Period, by: str | None = None
) -> RevenueVsGoal:
    """Bookings so far in ``period`` against its target, with pace, projections and the
    open pipeline against the remaining gap, for the company and optionally broken down
    ``by`` owner, team, segment or motion (or account, which has no targets).

    Definition. Deals are taken as they stood at ``as_of`` (``history.deals_at``). The
    report's *day* is ``as_of.date()``, or the period's end when the period is entirely in
    the past; a period that starts after ``as_of`` is refused.

    * Bookings to date = sum of ``amount`` of won deals whose close date lies from the
      period's start to the day, both included; won count = how many (a deal without an
      amount counts but adds nothing). Target, gap (target - bookings) and attainment
      (bookings / target) follow :func:`~quarterdeck.metrics.bookings.bookings`: the sum
      of the scope's targets whose whole range lies inside the period; None without one.
    * Days elapsed = days from the period's start to the day, both included; days left =
      period days - days elapsed; weeks left = days left // 7.
    * Straight-line pace: expected to date = target x elapsed / period days; pace =
      bookings / expected (None without a target, or with a zero one); straight-line
      projection = bookings x period days / elapsed.
    * Usual pace: for each of the previous four periods of the same kind, the bookings
      from its start to the same day offset (capped at its end; its whole when the
      current period is complete) and its total; share by now = the first / the second.
      Usual share = sum of bookings by the offset / sum of totals, over the earlier
      periods with bookings (total > 0); usual projection = bookings to date / usual
      share. Both None without such history (or when the usual share is zero). The same
      period a year earlier is shown on its own (``last_year``) when a deal was won in it.
      Earlier periods are read from the deals as known at ``as_of`` too.
    * Coverage = open pipeline / gap, where open pipeline = amount of deals neither closed
      nor won at ``as_of`` whose close date lies in the period. Coverage 3.0x means the
      open pipeline is three times what is still needed. None without a target; when the
      gap is zero or negative coverage is None and ``target_met`` is True. The pipeline
      is split into *due* (close date from the day to the period's end) and *overdue*
      (close date in the period but before the day, still open); due + overdue = pipeline.

    Lines are listed for every dimension value with bookings to date, open pipeline in the
    period or a target, largest bookings first; the current period's numbers of the lines
    add up to the company line. ``won_deals`` and ``pipeline_deals`` list every deal
    behind the bookings and the pipeline, each with the line it belongs to.
    """
    return revenue_vs_goal_by(store, as_of, period, (by,))[by]


def revenue_vs_goal_by(
    store: Store, as_of: datetime, period: Period, dims: Sequence[str | None]
) -> dict[str | None, RevenueVsGoal]:
    """:func:`revenue_vs_goal` for several breakdowns at once, by dimension (None: the
    company alone); each result is the one its own call gives.

    The deals are read once for all of them, each with its value of every dimension: one
    query lists the period's deals (won to date, or open and due, with their status),
    whose amounts are added up per line in Arrow; one sums the earlier periods' bookings
    per combination of the dimensions' values (far fewer rows than deals: a team is its
    owner's), added up per dimension in Arrow too; one reads the targets of every scope
    asked for. Five calls of :func:`revenue_vs_goal` would read the deals five times.
    """
    check_moment(as_of, period)
    wanted = tuple(dict.fromkeys(check_dimension(by) for by in dims))
    if not wanted:
        return {}
    breakdowns = [dim for dim in wanted if dim is not None]
    day = report_day(as_of, period)
    complete = day >= period.end
    offset = (day - period.start).days
    earlier_periods: list[Period] = []
    step = period
    for _ in range(EARLIER_PERIODS):
        step = step.previous()
        earlier_periods.append(step)
    last_year = year_before(period)
    windows = [(p, _through(p, offset, complete)) for p in (*earlier_periods, last_year)]

    elapsed = offset + 1
    shape = _Shape.of(period.days, elapsed, windows)

    keyed = deals_at(store, as_of).select(*_DEAL_FIELDS)
    # The dimensions read from another table (team, segment) last: the queries come out
    # simpler, and take Ibis half the time to compile, when the joins are added last.
    for dim in sorted(breakdowns, key=lambda dim: dim in _JOINED):
        keyed = with_dimension(store, keyed, dim).rename({_key_column(dim): "key"})
    key_columns = [_key_column(dim) for dim in breakdowns]
    deals_expr = _deals_expr(keyed, period, day, as_of.date(), key_columns)
    lines_expr = _earlier_expr(keyed, shape, key_columns)
    targets_expr = _targets_expr(store, period, wanted)

    goals: dict[tuple[str, str | None], Decimal] = {
        (r["scope"], r["key"]): r["target"] for r in rows_of(store, targets_expr)
    }
    # Largest first, deals without an amount last (Arrow puts nulls last), then by id.
    listing = store.to_arrow(deals_expr).sort_by(
        [("amount", "descending"), ("deal_id", "ascending")]
    )
    earlier = store.to_arrow(lines_expr)

    empty = shape.empty()
    company = _numbers_by(listing, earlier, None, shape)
    total = _line(None, company.get(None, empty), goals.get(("company", None)), shape)
    days_left = period.days - elapsed
    results: dict[str | None, RevenueVsGoal] = {}
    for by in wanted:
        rows: tuple[GoalLine, ...] = ()
        if by is not None:
            numbers = _numbers_by(listing, earlier, _key_column(by), shape)
            scope = TARGET_SCOPES.get(by)
            targets = {k: t for (s, k), t in goals.items() if s == scope}
            keys = {k for k, n in numbers.items() if n["won_count"] or n["pipeline_count"]}
            keys |= set(targets)
            lines = [_line(k, numbers.get(k, empty), targets.get(k), shape) for k in keys]
            lines.sort(key=lambda line: (-line.bookings, line.key is None, line.key or ""))
            rows = tuple(lines)
        results[by] = RevenueVsGoal(
            as_of=as_of,
            period=period,
            by=by,
            day=day,
            period_days=period.days,
            days_elapsed=elapsed,
            days_left=days_left,
            weeks_left=days_left // 7,
            earlier_periods=tuple(earlier_periods),
            last_year_period=last_year,
            total=total,
            rows=rows,
            deals_table=_keyed_deals(listing, by),
            lines_expr=lines_expr,
            targets_expr=targets_expr,
            deals_expr=deals_expr,
        )
    return results


# -- pieces -----------------------------------------------------------------------------------


def _key_column(by: str) -> str:
    """The column that holds a deal's value of dimension ``by`` when several are read."""
    return f"key_{by}"


def _deals_expr(
    keyed: ir.Table, period: Period, day: date, as_of_day: date, key_columns: list[str]
) -> ir.Table:
    """The deals behind the current period's numbers, with their ``status`` and their
    value of each dimension in ``key_columns`` (put largest first in Arrow, where ordering
    tens of thousands of rows costs a fraction of what it does in the engine)."""
    f = _Conditions(keyed, period, day, as_of_day)
    # Both conditions need a close date in the period; said on its own, it lets the engine
    # skip most of the table before the joins.
    listed = keyed.filter(in_period(keyed.close_date, period), f.won_to_date | f.open_in_period)
    f = _Conditions(listed, period, day, as_of_day)
    status = ibis.cases((f.won_to_date, "won"), (f.overdue, "overdue"), else_="due")
    listed = listed.select(
        "deal_id", "name", "owner_id", *key_columns, "amount", "close_date", "stage",
        status=status,
    )  # fmt: skip
    return listed


def _earlier_expr(keyed: ir.Table, shape: _Shape, key_columns: list[str]) -> ir.Table:
    """Bookings of each earlier window (its total, count and bookings by the same point,
    named as in ``shape``) per combination of the values in ``key_columns``."""
    first = min(w.period.start for w in shape.windows)
    last = max(w.period.end for w in shape.windows)
    won = keyed.filter(_between(keyed.close_date, first, last), keyed.is_won)
    metrics: dict[str, ir.Value] = {}
    for w in shape.windows:
        in_p = _between(won.close_date, w.period.start, w.period.end)
        metrics[w.total] = won.amount.sum(where=in_p)
        metrics[w.count] = won.count(where=in_p)
        metrics[w.by_now] = won.amount.sum(
            where=_between(won.close_date, w.period.start, w.through)
        )
    if key_columns:
        return won.group_by(key_columns).aggregate(**metrics)
    return won.aggregate(**metrics)


def _numbers_by(
    listing: pa.Table, earlier: pa.Table, column: str | None, shape: _Shape
) -> dict[str | None, dict[str, Any]]:
    """The numbers of every line of the dimension held in ``column`` (every deal in one
    line, None, when ``column`` is None): the current period's from the listed deals by
    status, the earlier windows' from their sums per combination of dimension values."""
    empty = shape.empty()
    out: dict[str | None, dict[str, Any]] = {}

    current = pa.table(
        {
            "key": _key_of(listing, column),
            "status": listing.column("status"),
            "amount": listing.column("amount").cast(_SUM_TYPE),
        }
    )
    current = current.group_by(["key", "status"], use_threads=False).aggregate(
        [("amount", "sum"), ("status", "count")]
    )
    for key, status, amount, count in zip(
        current.column("key").to_pylist(),
        current.column("status").to_pylist(),
        _python(current.column("amount_sum")),
        current.column("status_count").to_pylist(),
        strict=True,
    ):
        n = out.get(key)
        if n is None:
            n = out[key] = dict(empty)
        if status == "won":
            n["bookings"] += amount
            n["won_count"] += count
        else:
            n["pipeline"] += amount
            n["pipeline_count"] += count
            if status == "overdue":
                n["overdue"] += amount
                n["overdue_count"] += count

    names = shape.sums
    summed = pa.table(
        {"key": _key_of(earlier, column), **{name: earlier.column(name) for name in names}}
    )
    summed = summed.group_by("key", use_threads=False).aggregate([(n, "sum") for n in names])
    values = [_python(summed.column(f"{name}_sum")) for name in names]
    for key, sums in zip(summed.column("key").to_pylist(), zip(*values, strict=True), strict=True):
        n = out.get(key)
        if n is None:
            n = out[key] = dict(empty)
        n.update(zip(names, sums, strict=True))
    return out


def _python(sums: pa.ChunkedArray) -> list[Any]:
    """``sums`` as Python numbers (Decimal for money), 0 where nothing was summed.

    Money goes through its text, which is twice as fast as pyarrow's own conversion to
    Decimal, and gives the same values (the same places too: '0.00', '-1.50').
    """
    if not pa.types.is_decimal(sums.type):
        return sums.fill_null(0).to_pylist()
    zero = pa.scalar(_ZERO).cast(sums.type)
    return [Decimal(text) for text in sums.fill_null(zero).cast(pa.string()).to_pylist()]


_SUM_TYPE = pa.decimal128(38, 2)


def _key_of(table: pa.Table, column: str | None) -> pa.Array | pa.ChunkedArray:
    """The column ``column`` of ``table``, or nulls (the company's key) when it is None."""
    if column is None:
        return pa.nulls(table.num_rows, pa.string())
    return table.column(column)


def _keyed_deals(listing: pa.Table, by: str | None) -> pa.Table:
    """The deals table of the breakdown ``by``: the listing with that dimension's value as
    ``key`` (null for the company)."""
    key = _key_of(listing, None if by is None else _key_column(by))
    table = listing.select(["deal_id", "name", "owner_id"]).append_column("key", key)
    for name in ("amount", "close_date", "stage", "status"):
        table = table.append_column(listing.schema.field(name), listing.column(name))
    return table


def _through(period: Period, offset: int, complete: bool) -> date:
    """The same point in an earlier ``period``: ``offset`` days after its start, capped at
    its end, or its end when the current period is complete."""
    if complete:
        return period.end
    return min(period.start + timedelta(days=offset), period.end)


def _between(column: ir.DateValue, start: date, end: date) -> ir.BooleanValue:
    return column.between(ibis.literal(start, "date"), ibis.literal(end, "date"))


def targets_by(
    store: Store, period: Period, dims: Iterable[str | None]
) -> dict[str | None, dict[str | None, Decimal]]:
    """The targets inside ``period`` per dimension of ``dims`` (None: the company, keyed
    None), each as {scope id: summed target}, in one query (as revenue vs goal reads them)."""
    dims = list(dims)
    rows = store.to_arrow(_targets_expr(store, period, dims)).to_pylist()
    out: dict[str | None, dict[str | None, Decimal]] = {}
    for by in dims:
        scope = "company" if by is None else TARGET_SCOPES.get(by)
        out[by] = {r["key"]: r["target"] for r in rows if r["scope"] == scope}
    return out


def _targets_expr(store: Store, period: Period, dims: Iterable[str | None]) -> ir.Table:
    """Targets inside ``period`` summed per scope: the company's, and per ``scope_id`` for
    each scope that holds the goals of one of the dimensions ``dims``."""
    targets = store.table("targets")
    scopes = ["company"]
    for by in dims:
        scope = TARGET_SCOPES.get(by or "")
        if scope is not None and scope not in scopes:
            scopes.append(scope)
    inside = targets.filter(
        targets.period_start >= ibis.literal(period.start, "date"),
        targets.period_end <= ibis.literal(period.end, "date"),
        targets.scope.isin(scopes),
        (targets.scope == "company") | targets.scope_id.notnull(),
    )
    key = ibis.cases((inside.scope == "company", ibis.null("string")), else_=inside.scope_id)
    return inside.group_by("scope", key=key.cast("string")).aggregate(target=inside.amount.sum())


class _Conditions:
    """Which deals of ``deals`` count where: won so far, open and due in the period,
    overdue, won in a range of days (nulls read as false)."""

    def __init__(self, deals: ir.Table, period: Period, day: date, as_of_day: date) -> None:
        self.deals = deals
        self.won_to_date = self.won_between(period.start, day)
        is_open = ~(deals.is_closed | deals.is_won)
        self.open_in_period = (is_open & in_period(deals.close_date, period)).fill_null(False)
        before_day = (deals.close_date < ibis.literal(as_of_day, "date")).fill_null(False)
        self.overdue = self.open_in_period & before_day

    def won_between(self, start: date, end: date) -> ir.BooleanValue:
        deals = self.deals
        return (deals.is_won & _between(deals.close_date, start, end)).fill_null(False)


def _money(value: Any) -> Decimal:
    return _ZERO if value is None else Decimal(value)


_CURRENT = ("bookings", "pipeline", "overdue", "won_count", "pipeline_count", "overdue_count")


@dataclass(frozen=True)
class _Window:
    """An earlier period and the point in it matching the report's day, with the names of
    its total, count and bookings by that point among a line's numbers."""

    period: Period
    through: date
    total: str
    count: str
    by_now: str

    @cached_property
    def none_won(self) -> EarlierPeriod:
        """The window's numbers for a line that won nothing in it (one object for all)."""
        return EarlierPeriod(self.period, self.through, _ZERO, _ZERO, 0, None)


@dataclass(frozen=True)
class _Shape:
    """What every line of one report shares: the period's length in days, the days
    elapsed, the earlier windows, and which of them each of the previous periods and the
    one a year back is (a period listed twice, as the quarter a year back also is the
    fourth previous one, is summed once)."""

    period_days: int
    elapsed: int
    windows: tuple[_Window, ...]
    order: tuple[int, ...]

    @classmethod
    def of(cls, period_days: int, elapsed: int, windows: list[tuple[Period, date]]) -> _Shape:
        distinct = list(dict.fromkeys(windows))
        made = tuple(
            _Window(p, through, f"p{j}_total", f"p{j}_count", f"p{j}_by_now")
            for j, (p, through) in enumerate(distinct)
        )
        return cls(period_days, elapsed, made, tuple(distinct.index(w) for w in windows))

    @property
    def sums(self) -> list[str]:
        """The names of the earlier windows' numbers."""
        return [name for w in self.windows for name in (w.total, w.count, w.by_now)]

    def empty(self) -> dict[str, Any]:
        """The numbers of a line with no deal: every sum 0.00, every count 0."""
        return {n: (0 if n.endswith("_count") else _ZERO) for n in (*_CURRENT, *self.sums)}


def _line(key: str | None, n: dict[str, Any], target: Decimal | None, shape: _Shape) -> GoalLine:
    period_days, elapsed = shape.period_days, shape.elapsed
    booked: Decimal = n["bookings"]
    pipeline: Decimal = n["pipeline"]
    gap = None if target is None else target - booked

    made = []
    for w in shape.windows:
        won = n[w.count]
        if won:
            total: Decimal = n[w.total]
            by_now: Decimal = n[w.by_now]
            share = _share(by_now, total)
            made.append(EarlierPeriod(w.period, w.through, by_now, total, won, share))
        else:
            made.append(w.none_won)
    previous = tuple([made[j] for j in shape.order[:-1]])
    last_year = made[shape.order[-1]]
    # Summed in a loop rather than with sum() over generators: a report builds thousands
    # of lines, and fewer objects made means fewer pauses to collect them.
    sum_by_now = sum_totals = _ZERO
    for e in previous:
        if e.total > 0:
            sum_by_now += e.bookings_by_now
            sum_totals += e.total
    usual_share = ratio(sum_by_now, sum_totals)
    # bookings / (sum_by_now / sum_totals), written as one division to keep it exact.
    usual_projection = None if not usual_share else ratio(booked * sum_totals, sum_by_now)

    return GoalLine(
        key=key,
        bookings=booked,
        won_count=n["won_count"],
        target=target,
        gap=gap,
        attainment=None if target is None else ratio(booked, target),
        expected_to_date=None if target is None else target * elapsed / period_days,
        pace=None if target is None else ratio(booked * period_days, target * elapsed),
        straight_line_projection=booked * period_days / elapsed,
        earlier=previous,
        usual_share=usual_share,
        usual_projection=usual_projection,
        last_year=last_year if last_year.won_count else None,
        pipeline=pipeline,
        pipeline_count=n["pipeline_count"],
        due=pipeline - n["overdue"],
        due_count=n["pipeline_count"] - n["overdue_count"],
        overdue=n["overdue"],
        overdue_count=n["overdue_count"],
        coverage=ratio(pipeline, gap) if gap is not None and gap > 0 else None,
        target_met=gap is not None and gap <= 0,
    )


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return ratio(part, whole) if whole > 0 else None
