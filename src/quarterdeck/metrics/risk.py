"""Deal risks: open deals that show a warning sign, with the evidence, ranked by value at risk.

A risk is read off the history as it stood at the report's moment ``as_of`` (nothing recorded
after it counts), so last week's risk list can be rebuilt exactly. Each signal is one small
per-deal feature computed in the engine (pushes of the close date, time in the current
stage, peak amount, last activity, buyer contacts, account churn); the features are joined
to the open deals, and only the deals that show at least one signal come back to Python,
as columns that become objects when a report reads them. The one exception is the stage
history of the won deals behind the stalled norms: it comes back as numbers, and each deal's
path is walked in NumPy, which is much faster than a window over every won deal. The
feature functions are public (and compute the same numbers in the engine) so that other
models (the forecast) read the same definitions.

Signals, with the thresholds of the ``risk.*`` settings:

* ``past_close_date``: the close date is before as_of's date.
* ``pushed``: the close date was moved later ``risk.pushes`` times or more.
* ``stalled``: more whole days in the current stage than ``risk.stalled_quantile`` of won
  deals stayed in it (judged only for stages that at least 5 won deals passed through).
* ``amount_cut``: the amount is ``risk.amount_cut`` or more below the highest it had.
* ``quiet``: no activity for ``risk.quiet_days`` days (skipped when no activity is recorded).
* ``single_contact``: fewer than ``risk.min_contacts`` buyer contacts (skipped when no
  contact roles are recorded).
* ``churn``: a renewal whose account lost a renewal or expansion, or saw one cut, within
  ``risk.churn_days`` days.
"""

from __future__ import annotations

import contextlib
import gc
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, overload

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.errors import InputError
from quarterdeck.history import deals_at, typed_value
from quarterdeck.metrics.bookings import rows_of
from quarterdeck.periods import require_moment
from quarterdeck.settings import SETTINGS
from quarterdeck.store import Store

__all__ = [
    "CHURN_MOTIONS",
    "MIN_WON_FOR_STALL",
    "SIGNALS",
    "AccountRisk",
    "DealRisk",
    "RiskReport",
    "RiskSignal",
    "SignalSummary",
    "account_churn",
    "activity_features",
    "amount_peaks",
    "buyer_contacts",
    "close_date_pushes",
    "deal_risks",
    "last_activities",
    "open_deals_at",
    "pushes_and_peaks",
    "renewal_churn",
    "stage_entries",
    "stage_norms",
    "won_stage_times",
]

SIGNALS: tuple[str, ...] = (
    "past_close_date",
    "pushed",
    "stalled",
    "amount_cut",
    "quiet",
    "single_contact",
    "churn",
)
"""Every risk signal, in the order a report lists them."""

MIN_WON_FOR_STALL = 5
"""Won deals that must have passed through a stage before time in it can be judged."""

CHURN_MOTIONS = ("renewal", "expansion")
"""Deals of an account whose loss or cut is a churn signal for its renewals."""

_T = TypeVar("_T")

_DAY = 86_400
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RiskSignal:
    """One warning sign on one deal.

    ``evidence`` says it in words and numbers; ``value`` is the measure that crossed the
    line (days, a count, or a share for ``amount_cut``) and ``threshold`` the line it
    crossed. ``related`` lists other deals the evidence names (``churn``).
    """

    kind: str
    evidence: str
    value: Decimal | int
    threshold: Decimal | int | None = None
    related: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DealRisk:
    """An open deal with at least one risk signal, as it stood at ``as_of``.

    ``amount`` is its value at risk (None when the deal has no amount, which ranks last).
    """

    deal_id: str
    name: str | None
    owner_id: str | None
    account_id: str | None
    motion: str | None
    stage: str | None
    amount: Decimal | None
    close_date: date | None
    signals: tuple[RiskSignal, ...]

    @property
    def value_at_risk(self) -> Decimal:
        return self.amount if self.amount is not None else _ZERO

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(s.kind for s in self.signals)


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """An account in jeopardy: its flagged deals (largest first) and their total value."""

    account_id: str
    name: str | None
    deal_ids: tuple[str, ...]
    value: Decimal

    @property
    def count(self) -> int:
        return len(self.deal_ids)


@dataclass(frozen=True)
class SignalSummary:
    """How many flagged deals show one signal and what they are worth.

    ``judged`` is False when the signal was skipped (the data it needs is missing; the
    report's notes say why). A deal with several signals counts under each of them.
    """

    kind: str
    count: int
    value: Decimal
    deal_ids: tuple[str, ...]
    judged: bool = True


@dataclass(frozen=True)
class RiskReport:
    """Result of :func:`deal_risks`: flagged deals ranked by value at risk, accounts in
    jeopardy, a summary per signal, notes on what could not be judged, and the queries.

    A large company can have a hundred thousand flagged deals and a report shows a few, so
    ``deals`` and ``accounts`` are read-only sequences that make their objects only when
    read: ``report.deals[:15]`` makes fifteen. ``deals_table`` holds the flagged deals as
    columns (ranked, with every feature and a flag per signal); ``count`` and ``value`` are
    read from it without making any object.
    """

    as_of: datetime
    deals: Sequence[DealRisk]
    accounts: Sequence[AccountRisk]
    by_signal: tuple[SignalSummary, ...]
    notes: tuple[str, ...]
    deals_table: pa.Table = field(compare=False, repr=False)
    exprs: Mapping[str, ir.Table] = field(default_factory=dict, compare=False, repr=False)

    @property
    def count(self) -> int:
        return self.deals_table.num_rows

    @property
    def value(self) -> Decimal:
        """Value at risk: the amounts of the flagged deals, each counted once."""
        return _total(self.deals_table.column("amount"))

    def signal(self, kind: str) -> SignalSummary:
        """The summary of signal ``kind``."""
        for summary in self.by_signal:
            if summary.kind == kind:
                return summary
        raise InputError(f"unknown risk signal {kind!r}: expected one of {', '.join(SIGNALS)}")

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return dict(self.exprs)


class _Rows(Sequence[_T]):
    """A read-only sequence over the rows of an Arrow table whose objects are made only when
    read: an index or a slice makes just those rows, iterating makes (and keeps) them all.

    It compares equal to a tuple of the same objects, so ``report.deals == ()`` reads as it
    would for a tuple."""

    __slots__ = ("_made", "_make", "_rows", "_table")

    def __init__(
        self, rows: pa.Table | Callable[[], pa.Table], make: Callable[[pa.Table], list[_T]]
    ) -> None:
        self._rows = rows
        self._table: pa.Table | None = None
        self._make = make
        self._made: tuple[_T, ...] | None = None

    @property
    def table(self) -> pa.Table:
        """The rows, as columns (worked out on first use when given as a function)."""
        if self._table is None:
            rows = self._rows
            self._table = rows if isinstance(rows, pa.Table) else rows()
        return self._table

    def __len__(self) -> int:
        return self.table.num_rows

    @overload
    def __getitem__(self, index: int) -> _T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[_T, ...]: ...

    def __getitem__(self, index: int | slice) -> _T | tuple[_T, ...]:
        if self._made is not None:
            return self._made[index]
        n = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                return self._all()[index]
            return tuple(self._make(self.table.slice(start, max(stop - start, 0))))
        i = operator.index(index)
        if not -n <= i < n:
            raise IndexError("index out of range")
        return self._make(self.table.slice(i % n, 1))[0]

    def __iter__(self) -> Iterator[_T]:
        return iter(self._all())

    def __reversed__(self) -> Iterator[_T]:
        return reversed(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Rows):
            return self._all() == other._all()
        if isinstance(other, tuple):
            return self._all() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())

    def _all(self) -> tuple[_T, ...]:
        if self._made is None:
            with _collector_paused():
                self._made = tuple(self._make(self.table))
        return self._made


# -- per-deal features ------------------------------------------------------------------------
#
# Each feature is an aggregation over one table, filtered by field and time (nothing after
# ``as_of``). ``deals`` (a table with a deal_id column) restricts it to those deals before
# aggregating, which is what keeps the report fast: the open deals are a small share of all.
# The aggregates are written once (``_push_aggregates`` and its kin) and shared by the
# single-feature functions and by the report, which reads the features of one table in one
# pass over it.


def _moment(as_of: datetime) -> ir.TimestampScalar:
    return ibis.literal(as_of, "timestamp")


def _day(day: date) -> ir.DateScalar:
    return ibis.literal(day, "date")


def _only(rows: ir.Table, deals: ir.Table | None) -> ir.Table:
    return rows if deals is None else rows.semi_join(deals.select("deal_id"), "deal_id")


def _events(
    store: Store,
    as_of: datetime,
    fields: str | tuple[str, ...],
    deals: ir.Table | None = None,
) -> ir.Table:
    """The changes of the tracked field(s) ``fields`` recorded at or before ``as_of``."""
    events = store.table("deal_events")
    wanted = events.field == fields if isinstance(fields, str) else events.field.isin(fields)
    events = events.filter(wanted, events.at <= _moment(as_of))
    return _only(events.select("deal_id", "at", "seq", "field", "old_value", "new_value"), deals)


def _activities(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    activities = store.table("activities")
    activities = activities.filter(activities.deal_id.notnull(), activities.at <= _moment(as_of))
    return _only(activities.select("deal_id", "at", "kind", "who"), deals)


def _value_of(events: ir.Table, field_name: str, column: str = "new_value") -> ir.Value:
    """``column`` read as ``field_name``'s type on that field's events, null on others."""
    return ibis.cases((events.field == field_name, typed_value(field_name, events[column])))


def _push_aggregates(events: ir.Table) -> dict[str, ir.Scalar]:
    """``pushes``: changes of the close date to a later date; ``pushed_from``: the close date
    before the first of them (by time, ties by seq)."""
    old = _value_of(events, "close_date", "old_value")
    push = _value_of(events, "close_date") > old
    first = ibis.struct({"at": events.at, "seq": events.seq})
    return {"pushes": events.count(where=push), "pushed_from": old.argmin(first, where=push)}


def _peak_aggregates(events: ir.Table) -> dict[str, ir.Scalar]:
    """``peak_amount``: the highest amount."""
    return {"peak_amount": _value_of(events, "amount").max()}


def _activity_aggregates(activities: ir.Table) -> dict[str, ir.Scalar]:
    """``last_activity_at``: the last activity; ``contacts``: distinct buyer contacts."""
    return {
        "last_activity_at": activities.at.max(),
        "contacts": activities.who.nunique(where=activities.kind == "contact_role"),
    }


def open_deals_at(store: Store, as_of: datetime) -> ir.Table:
    """The deals open at ``as_of`` (neither closed nor won then), as they stood then."""
    deals = deals_at(store, as_of)
    return deals.filter(~deals.is_closed, ~deals.is_won)


def close_date_pushes(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal whose close date was pushed by ``as_of``: ``pushes`` (how many changes moved
    it to a later date) and ``pushed_from`` (the close date before the first push)."""
    events = _events(store, as_of, "close_date", deals)
    pushes = events.group_by("deal_id").aggregate(**_push_aggregates(events))
    return pushes.filter(pushes.pushes > 0)


def stage_entries(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal: ``entered_at``, when it entered its stage of ``as_of`` (its last stage
    change at or before then; a deal that comes back to a stage starts again)."""
    events = _events(store, as_of, "stage", deals)
    return events.group_by("deal_id").aggregate(entered_at=events.at.max())


def amount_peaks(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal: ``peak_amount``, the highest amount it had at or before ``as_of``."""
    events = _events(store, as_of, "amount", deals)
    return events.group_by("deal_id").aggregate(**_peak_aggregates(events))


def pushes_and_peaks(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal with an amount or close-date change by ``as_of``: the columns of
    :func:`close_date_pushes` (``pushes`` 0 when never pushed) and of :func:`amount_peaks`,
    read in one pass over the history."""
    events = _events(store, as_of, ("amount", "close_date"), deals)
    return events.group_by("deal_id").aggregate(
        **_push_aggregates(events), **_peak_aggregates(events)
    )


def last_activities(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal with any activity at or before ``as_of``: ``last_activity_at``."""
    activities = _activities(store, as_of, deals)
    return activities.group_by("deal_id").aggregate(last_activity_at=activities.at.max())


def buyer_contacts(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal with a contact role at or before ``as_of``: ``contacts``, how many distinct
    buyer contacts (``who`` of its contact_role activities) were involved."""
    roles = _activities(store, as_of, deals)
    roles = roles.filter(roles.kind == "contact_role")
    return roles.group_by("deal_id").aggregate(contacts=roles.who.nunique())


def activity_features(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal with any activity at or before ``as_of``: ``last_activity_at`` and
    ``contacts`` (0 when it has activities but no contact role), in one pass."""
    activities = _activities(store, as_of, deals)
    return activities.group_by("deal_id").aggregate(**_activity_aggregates(activities))


def won_stage_times(store: Store, as_of: datetime, stages: Sequence[str] | None = None) -> ir.Table:
    """Per (stage, deal) of the deals won at ``as_of``: ``seconds`` the deal spent in the
    stage, from entering it to leaving it, summed over its visits (only the ``stages``
    named, when given)."""
    won = _won_deals(deals_at(store, as_of))
    visits = _won_visits(store, as_of, won)
    visits = visits.filter(
        visits.stage.notnull() if stages is None else visits.stage.isin(tuple(stages))
    )
    times = visits.group_by("stage", "_deal").aggregate(seconds=visits.seconds.sum())
    return times.join(won, "_deal").select("stage", "deal_id", "seconds")


def _won_deals(state: ir.Table) -> ir.Table:
    """The won deals of ``state`` (the deals as they stood at a moment), each with a number
    (``_deal``): the engine orders each deal's changes faster by a number than by its id."""
    return state.filter(state.is_won).select("deal_id", _deal=ibis.row_number().over())


def _won_visits(store: Store, as_of: datetime, won: ir.Table) -> ir.Table:
    """Every stage visit of the ``won`` deals that ended by ``as_of``: ``_deal``, ``stage``
    and ``seconds`` from entering the stage to the deal's next stage change."""
    events = _events(store, as_of, "stage")
    events = events.join(won, "deal_id").select("_deal", "at", "seq", stage=events.new_value)
    order = ibis.window(group_by="_deal", order_by=["at", "seq"])
    visits = events.mutate(seconds=events.at.lead().over(order).delta(events.at, unit="second"))
    return visits.drop("at", "seq").filter(visits.seconds.notnull())


def stage_norms(times: ir.Table, quantile: float) -> ir.Table:
    """Per stage: ``won_deals`` that passed through it and ``limit_days``, the whole days
    within which ``quantile`` of them left it: the smallest d such that at least that share
    of the won deals spent d whole days or fewer in the stage (``times``: rows of
    :func:`won_stage_times`).

    Worked in the engine on a histogram of whole days per stage, so it stays small."""
    days = times.select("stage", days=times.seconds // _DAY)
    hist = days.group_by("stage", "days").aggregate(deals=days.count())
    so_far = ibis.cumulative_window(group_by="stage", order_by="days")
    hist = hist.mutate(
        _below=hist.deals.sum().over(so_far), _all=hist.deals.sum().over(group_by="stage")
    )
    return hist.group_by("stage").aggregate(
        won_deals=hist._all.max(),
        limit_days=hist.days.min(where=hist._below / hist._all >= quantile),
    )


def account_churn(
    store: Store,
    as_of: datetime,
    days: int,
    cut: float,
    deals: ir.Table | None = None,
    state: ir.Table | None = None,
) -> ir.Table:
    """Churn signals of accounts within ``days`` days before ``as_of``: one row per signal
    with account_id, deal_id, name, motion, ``kind``, ``on``, ``amount_from``, ``amount_to``.

    ``lost``: a renewal or expansion lost with a close date in (as_of's date - days, as_of's
    date] (``on`` is the close date, ``amount_to`` its amount). ``cut``: a change in
    (as_of - days, as_of] that left a renewal's or expansion's amount ``cut`` or more below
    the highest it had until then (``on`` is the day, ``amount_from`` that highest and
    ``amount_to`` the amount after the change). ``deals`` restricts it to their accounts;
    ``state`` is :func:`~quarterdeck.history.deals_at` of ``as_of`` when the caller has it.
    """
    state = deals_at(store, as_of) if state is None else state
    related = state.filter(state.motion.isin(CHURN_MOTIONS), state.account_id.notnull())
    if deals is not None:
        related = related.semi_join(deals.select("account_id"), "account_id")
    related = related.select(
        "deal_id", "account_id", "name", "motion", "amount", "is_closed", "is_won", "close_date"
    )
    lost = related.filter(
        related.is_closed,
        ~related.is_won,
        related.close_date > _day(as_of.date() - timedelta(days=days)),
        related.close_date <= _day(as_of.date()),
    ).select(
        "account_id",
        "deal_id",
        "name",
        "motion",
        kind=ibis.literal("lost"),
        on=related.close_date,
        amount_from=ibis.null(dt.Decimal(18, 2)),
        amount_to=related.amount.cast(dt.Decimal(18, 2)),
    )
    events = _events(store, as_of, "amount", related)
    amount = typed_value("amount", events.new_value)
    so_far = ibis.cumulative_window(group_by="deal_id", order_by=["at", "seq"])
    events = events.mutate(_amount=amount, _peak=amount.max().over(so_far))
    cuts = events.filter(
        events.at > _moment(as_of - timedelta(days=days)),
        events._amount < events._peak,
        _cut_by(events._peak, events._amount, cut),
    )
    cuts = cuts.join(related.select("deal_id", "account_id", "name", "motion"), "deal_id")
    cuts = cuts.select(
        "account_id",
        "deal_id",
        "name",
        "motion",
        kind=ibis.literal("cut"),
        on=cuts.at.date(),
        amount_from=cuts._peak.cast(dt.Decimal(18, 2)),
        amount_to=cuts._amount.cast(dt.Decimal(18, 2)),
    )
    return lost.union(cuts)


def renewal_churn(deals: ir.Table, churn: ir.Table) -> ir.Table:
    """Per renewal among ``deals``: ``churn``, the churn signals (rows of
    :func:`account_churn`) of the other deals of its account, collected into a list."""
    renewals = deals.filter(deals.motion == "renewal").select("deal_id", "account_id")
    # Every field as text: PostgreSQL returns the rows of an array of anonymous records as
    # text only, whatever their types (``_churn_of`` reads the dates and amounts back).
    fields = ("deal_id", "name", "motion", "kind", "on", "amount_from", "amount_to")
    signals = churn.select(
        "account_id",
        signal=ibis.struct({name: churn[name].cast("string") for name in fields}),
    )
    pairs = renewals.join(signals, "account_id")
    pairs = pairs.filter(pairs.deal_id != pairs.signal["deal_id"])
    return pairs.group_by("deal_id").aggregate(churn=pairs.signal.collect())


def _cut_by(peak: ir.DecimalValue, amount: ir.DecimalValue, cut: float) -> ir.BooleanValue:
    """``amount`` lies ``cut`` (a share) or more below ``peak``: exact, in decimals."""
    share = ibis.literal(Decimal(str(cut)), dt.Decimal(18, 6))
    return (peak - amount) >= peak * share


# -- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Thresholds:
    """The ``risk.*`` settings in force, typed."""

    pushes: int
    quantile: float
    cut: float
    quiet_days: int
    min_contacts: int
    churn_days: int

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> _Thresholds:
        def get(key: str) -> Any:
            return settings[key] if key in settings else SETTINGS[key].default

        return cls(
            pushes=int(get("risk.pushes")),
            quantile=float(get("risk.stalled_quantile")),
            cut=float(get("risk.amount_cut")),
            quiet_days=int(get("risk.quiet_days")),
            min_contacts=int(get("risk.min_contacts")),
            churn_days=int(get("risk.churn_days")),
        )


def deal_risks(store: Store, as_of: datetime, settings: Mapping[str, Any]) -> RiskReport:
    """Open deals at ``as_of`` that show at least one risk signal, ranked by value at risk.

    Definition: a deal is open at ``as_of`` when, as it stood then, it was neither closed nor
    won (so a deal reopened after being lost is open again). Its signals, each from the
    history recorded at or before ``as_of`` only:

    * past_close_date: its close date is before as_of's date (a close date of today is not
      past).
    * pushed: at least ``risk.pushes`` changes of its close date moved it to a later date.
    * stalled: the whole days since it entered its current stage (its last stage change; a
      deal that moves back to a stage starts again) are more than the whole days within
      which ``risk.stalled_quantile`` of the deals won by as_of left that stage (each won
      deal's time = from entering the stage to leaving it, summed over its visits, in
      whole days; the limit is the smallest d such that at least that share of them spent
      d days or fewer there). Exactly the limit is not stalled. Judged only for a stage at
      least 5 won deals passed through; stages are matched by name.
    * amount_cut: its amount is below the highest it had by ``risk.amount_cut`` or more of
      that highest (exactly that share counts).
    * quiet: it is at least ``risk.quiet_days`` days old and its last activity (or, without
      any, its creation) is ``risk.quiet_days`` days or more before as_of, that is, no
      activity in (as_of - days, as_of]. Skipped, with a note, when no activity at all is
      recorded by as_of.
    * single_contact: fewer than ``risk.min_contacts`` distinct buyer contacts (``who`` of
      contact_role activities) by as_of. Skipped, with a note, when no contact role at all
      is recorded by as_of.
    * churn: it is a renewal and another renewal or expansion of its account was lost with
      a close date in (as_of's date - ``risk.churn_days``, as_of's date], or had its amount
      cut by ``risk.amount_cut`` or more below its highest by a change in that time.

    Value at risk = the deal's amount at as_of; deals are ranked by it, largest first
    (deals without an amount last, then by id). Accounts in jeopardy = the flagged deals
    grouped by account, by total value. Per signal: the flagged deals showing it and their
    value (a deal with several signals counts under each).
    """
    require_moment(as_of)
    limits = _Thresholds.of(settings)
    notes: list[str] = []
    judged = dict.fromkeys(SIGNALS, True)
    activities = _activities(store, as_of)
    if not store.scalar(activities.limit(1).count()):
        judged["quiet"] = False
        notes.append("quiet not judged: no activity on any deal is recorded by this date")
    roles = activities.filter(activities.kind == "contact_role")
    if not store.scalar(roles.limit(1).count()):
        judged["single_contact"] = False
        notes.append("single_contact not judged: no buyer contact roles are recorded by this date")

    state = deals_at(store, as_of)
    deals = state.filter(~state.is_closed, ~state.is_won).select(
        "deal_id", "name", "owner_id", "account_id", "motion", "stage", "amount",
        "close_date", "created_at",
    )  # fmt: skip
    # The stages that hold open deals, by name: the won deals' norms are read for them.
    held = rows_of(store, deals.group_by("stage").aggregate(open_deals=deals.count()))
    held = sorted((r for r in held if r["stage"] is not None), key=lambda r: r["stage"])
    names = [r["stage"] for r in held]
    stages_expr = _stage_changes(store, as_of, state, names)
    norms, entries = _stage_history(store.to_arrow(stages_expr), names, limits.quantile)
    stages = [
        {**r, "won_deals": norms[r["stage"]][0], "limit_days": norms[r["stage"]][1]} for r in held
    ]
    notes.extend(_stage_notes(stages))
    expr = _features(store, as_of, state, deals, entries, limits, judged, stages)

    # Ranked here rather than by the engine, which would sort every feature column along.
    table = _ranked(store.to_arrow(expr))
    context = _Context.of(as_of, limits)
    account_names = _account_names(store, table)
    return RiskReport(
        as_of=as_of,
        deals=_Rows(table, lambda part: _deal_risks(part, context)),
        accounts=_Rows(
            lambda: _account_totals(table, account_names), lambda part: _accounts(part, table)
        ),
        by_signal=_summaries(table, judged),
        notes=tuple(notes),
        deals_table=table,
        exprs={"deals": expr, "stages": stages_expr},
    )


def _stage_changes(
    store: Store, as_of: datetime, state: ir.Table, stages: Sequence[str]
) -> ir.Table:
    """The stage changes recorded by ``as_of`` of the deals won or open then (``state``: the
    deals as they stood at ``as_of``): ``_deal`` (a number per deal), ``at``, ``seq``,
    ``_won``, ``_stage`` (the position of the stage entered among ``stages``, -1 for any
    other) and, for open deals, ``deal_id``.

    The deals are numbered so that their changes travel and sort as numbers; only the
    open deals' ids come along, to name their stage entries."""
    is_open = ~state.is_closed & ~state.is_won
    numbered = state.filter(state.is_won | is_open).select(
        "deal_id", _deal=ibis.row_number().over(), _won=state.is_won
    )
    events = _events(store, as_of, "stage").join(numbered, "deal_id")
    position = ibis.literal(-1)
    if stages:
        position = ibis.cases(*((events.new_value == s, i) for i, s in enumerate(stages)), else_=-1)
    return events.select(
        _deal=events._deal.cast("int32"),
        at=events.at,
        seq=events.seq,
        _won=events._won,
        _stage=position.cast("int16"),
        deal_id=ibis.cases((~events._won, events.deal_id)),
    )


def _stage_history(
    changes: pa.Table, stages: Sequence[str], quantile: float
) -> tuple[dict[str, tuple[int, int | None]], pa.Table]:
    """The stage norms and the open deals' stage entries, read from ``changes`` (rows of
    :func:`_stage_changes`).

    Norms: per stage of ``stages``, how many won deals passed through it and the whole days
    within which ``quantile`` of them left it, as :func:`stage_norms` of
    :func:`won_stage_times` defines them. Entries: ``deal_id`` and ``entered_at`` of each
    open deal with a stage change, its last one, as :func:`stage_entries` defines it.

    Each deal's path is walked in NumPy rather than in the engine: ordering two million
    changes, summing the visits per deal and stage and counting the days are a few
    vectorised passes here, and cost the engine a window and a wide grouping over every won
    deal.
    """
    order = pc.sort_indices(
        changes, [("_deal", "ascending"), ("at", "ascending"), ("seq", "ascending")]
    ).to_numpy()

    def column(name: str) -> np.ndarray:
        return changes.column(name).to_numpy()[order]  # type: ignore[no-any-return]

    deal, stage, won = column("_deal"), column("_stage"), column("_won")
    last = np.ones(len(deal), dtype=bool)
    last[:-1] = deal[1:] != deal[:-1]
    entries = changes.select(["deal_id", "at"]).take(order[last & ~won])
    micros = changes.column("at").cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()[order]
    # Whole seconds of each time, cut towards zero, as the engine's second difference does.
    seconds = np.where(micros >= 0, micros // 1_000_000, -(-micros // 1_000_000))
    # A visit runs from a change to the deal's next change; the last change has no end.
    ended = ~last[:-1] & (stage[:-1] >= 0) & won[:-1]
    visit_deal = deal[:-1][ended]
    visit_stage = stage[:-1][ended]
    visit_seconds = (seconds[1:] - seconds[:-1])[ended]
    # Grouped by stage, each deal's visits stay together (a stable sort): sum them per
    # (stage, deal), then take whole days.
    by_stage = np.argsort(visit_stage, kind="stable")
    visit_stage, visit_deal = visit_stage[by_stage], visit_deal[by_stage]
    first = np.ones(len(by_stage), dtype=bool)
    first[1:] = (visit_stage[1:] != visit_stage[:-1]) | (visit_deal[1:] != visit_deal[:-1])
    starts = np.flatnonzero(first)
    days = (
        np.add.reduceat(visit_seconds[by_stage], starts) // _DAY
        if len(starts)
        else np.zeros(0, dtype=np.int64)
    )
    bounds = np.searchsorted(visit_stage[starts], np.arange(len(stages) + 1))
    norms: dict[str, tuple[int, int | None]] = {}
    for i, name in enumerate(stages):
        mine = days[bounds[i] : bounds[i + 1]]
        if not len(mine):
            norms[name] = (0, None)
            continue
        # The histogram of whole days; the limit is the first day where the share of won
        # deals out of the stage by then reaches the quantile.
        within = np.flatnonzero(np.cumsum(np.bincount(mine)) / len(mine) >= quantile)
        norms[name] = (len(mine), int(within[0]) if len(within) else None)
    return norms, entries.rename_columns(["deal_id", "entered_at"])


def _features(
    store: Store,
    as_of: datetime,
    state: ir.Table,
    deals: ir.Table,
    entries: pa.Table,
    limits: _Thresholds,
    judged: Mapping[str, bool],
    stages: list[dict[str, Any]],
) -> ir.Table:
    """The open deals that show a signal, with every feature the signals read and a flag
    per signal (``is_<signal>``): their stage ``entries`` (read with the won deals' stage
    changes), one pass over their amount and close-date history, one over their
    activities, and the churn of their accounts, joined in one step."""
    history = pushes_and_peaks(store, as_of, deals)
    entered = ibis.memtable(entries)
    renewals = deals.filter(deals.motion == "renewal")
    churn = renewal_churn(
        renewals, account_churn(store, as_of, limits.churn_days, limits.cut, renewals, state)
    )
    joined = deals.left_join(history, "deal_id").left_join(entered, "deal_id")
    if judged["quiet"] or judged["single_contact"]:
        activities = activity_features(store, as_of, deals)
        joined = joined.left_join(activities, "deal_id")
        last_activity_at = activities.last_activity_at
        contacts = activities.contacts.fill_null(0)
    else:
        last_activity_at = ibis.null("timestamp")
        contacts = ibis.null("int64")
    joined = joined.left_join(churn, "deal_id")
    # The won-deal norms are a handful of numbers, read once: a literal per stage.
    norms = [
        (r["stage"], int(r["limit_days"]))
        for r in stages
        if r["stage"] is not None and r["won_deals"] >= MIN_WON_FOR_STALL
    ]
    limit = ibis.null("int64")
    if norms:
        limit = ibis.cases(*((deals.stage == stage, days) for stage, days in norms))
    features = {
        **{name: deals[name] for name in deals.columns},
        "pushes": history.pushes,
        "pushed_from": history.pushed_from,
        "peak_amount": history.peak_amount,
        "last_activity_at": last_activity_at,
        "contacts": contacts,
        "churn": churn.churn,
        "days_in_stage": _moment(as_of).delta(entered.entered_at, unit="second") // _DAY,
        "limit_days": limit.cast("int64"),
    }
    flags = _flags(features, as_of, limits, judged)
    t = joined.select(**features, **{f"is_{k}": v.fill_null(False) for k, v in flags.items()})
    return t.filter(ibis.or_(*(t[f"is_{k}"] for k in SIGNALS)))


def _flags(
    t: Mapping[str, ir.Value], as_of: datetime, limits: _Thresholds, judged: Mapping[str, bool]
) -> dict[str, ir.BooleanValue]:
    """Each signal as a condition on the features (null counts as no signal)."""
    quiet_line = _moment(as_of - timedelta(days=limits.quiet_days))
    pushes, amount, peak = t["pushes"], t["amount"], t["peak_amount"]
    created, contacts = t["created_at"], t["contacts"]
    return {
        "past_close_date": t["close_date"] < _day(as_of.date()),
        "pushed": (pushes > 0) & (pushes >= limits.pushes),
        "stalled": t["days_in_stage"] > t["limit_days"],
        "amount_cut": (amount < peak) & _cut_by(peak, amount, limits.cut),
        "quiet": ibis.literal(judged["quiet"])
        & (created.isnull() | (created <= quiet_line))
        & (ibis.coalesce(t["last_activity_at"], created) <= quiet_line),
        "single_contact": ibis.literal(judged["single_contact"]) & (contacts < limits.min_contacts),
        "churn": t["churn"].notnull(),
    }


@dataclass(frozen=True)
class _Context:
    """What the words of every signal need: the moment, the thresholds, the stalled share."""

    as_of: datetime
    limits: _Thresholds
    share: str

    @classmethod
    def of(cls, as_of: datetime, limits: _Thresholds) -> _Context:
        # The stalled quantile in words: 0.75 is '75%'.
        share = f"{Decimal(str(limits.quantile)) * 100:f}".rstrip("0").rstrip(".") + "%"
        return cls(as_of, limits, share)


def _stage_notes(stages: list[dict[str, Any]]) -> list[str]:
    """A note for each stage holding open deals whose time there cannot be judged."""
    return [
        f"stalled not judged in {r['stage']}: {_count(r['won_deals'], 'won deal')} passed "
        f"through it ({MIN_WON_FOR_STALL} needed); {_count(r['open_deals'], 'open deal')} "
        "there"
        for r in stages
        if r["stage"] is not None and r["won_deals"] < MIN_WON_FOR_STALL
    ]


_DEAL_COLUMNS = (
    "deal_id", "name", "owner_id", "account_id", "motion", "stage", "amount", "close_date"
)  # fmt: skip
"""The columns of a flagged deal, in the order of DealRisk's fields."""


def _deal_risks(table: pa.Table, context: _Context) -> list[DealRisk]:
    """The flagged deals of ``table`` with their signals in words.

    Column by column rather than row by row: a report can flag a hundred thousand deals,
    and each signal reads only the few columns it needs, for the rows that show it.
    """
    signals: list[list[RiskSignal]] = [[] for _ in range(table.num_rows)]
    for kind in SIGNALS:
        rows = np.flatnonzero(table.column(f"is_{kind}").to_numpy(zero_copy_only=False))
        if not len(rows):
            continue
        words = _SIGNAL_WORDS[kind]
        for i, signal in zip(rows.tolist(), words(context, table.take(rows)), strict=True):
            signals[i].append(signal)
    columns = [_python(table.column(c)) for c in _DEAL_COLUMNS]
    return [
        DealRisk(deal_id, name, owner, account, motion, stage, amount, close, tuple(found))
        for deal_id, name, owner, account, motion, stage, amount, close, found in zip(
            *columns, signals, strict=True
        )
    ]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off Python's cycle collector while building many small acyclic objects: with a
    hundred thousand flagged deals its repeated passes cost more than the building."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _python(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """The values of ``column`` as Python objects (None for nulls), dates and times through
    NumPy and money through text, which is many times faster than Arrow's own conversion."""
    kind = column.type
    if pa.types.is_date(kind):
        return column.cast(pa.date32()).to_numpy(zero_copy_only=False).tolist()  # type: ignore[no-any-return]
    if pa.types.is_timestamp(kind):
        return column.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False).tolist()  # type: ignore[no-any-return]
    if pa.types.is_decimal(kind):
        return [None if v is None else Decimal(v) for v in column.cast(pa.string()).to_pylist()]
    return column.to_pylist()


def _text(column: pa.ChunkedArray) -> list[str]:
    """Dates (or the days of times) as ISO text, as ``str(date)`` writes them."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.date32())
    return column.cast(pa.string()).to_pylist()  # type: ignore[no-any-return]


def _days(column: pa.ChunkedArray, until: datetime) -> list[int]:
    """Whole days from each time (or date) of ``column`` to ``until``, as
    ``(until - t).days`` counts them (nulls count 0: the callers read only valid rows)."""
    if pa.types.is_date(column.type):
        values = column.cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False)
        return (until.date().toordinal() - _EPOCH.toordinal() - values).tolist()  # type: ignore[no-any-return]
    micros = pc.fill_null(column.cast(pa.timestamp("us")).cast(pa.int64()), 0)
    since = (until - datetime.combine(_EPOCH, datetime.min.time())) // timedelta(microseconds=1)
    return ((since - micros.to_numpy()) // 86_400_000_000).tolist()  # type: ignore[no-any-return]


_EPOCH = date(1970, 1, 1)


def _each(keys: Iterable[tuple[Any, ...]], make: Callable[..., RiskSignal]) -> list[RiskSignal]:
    """``make(*key)`` for each key, made once per distinct key: a signal is immutable, and
    a large report repeats the same few many times (the same stage and days, the same
    number of contacts), so the words are written once for each."""
    made: dict[tuple[Any, ...], RiskSignal] = {}
    signals = []
    for key in keys:
        signal = made.get(key)
        if signal is None:
            signal = made[key] = make(*key)
        signals.append(signal)
    return signals


def _past_close_date(context: _Context, rows: pa.Table) -> list[RiskSignal]:
    def make(on: str, days: int) -> RiskSignal:
        return RiskSignal(
            "past_close_date", f"close date {on} passed {_count(days, 'day')} ago", days, 0
        )

    close = rows.column("close_date")
    return _each(zip(_text(close), _days(close, context.as_of), strict=True), make)


def _pushed(context: _Context, rows: pa.Table) -> list[RiskSignal]:
    def make(pushes: int, before: str, now: str) -> RiskSignal:
        words = f"close date pushed {_times(pushes)}, from {before} to {now}"
        return RiskSignal("pushed", words, pushes, context.limits.pushes)

    columns = (
        rows.column("pushes").to_pylist(),
        _text(rows.column("pushed_from")),
        _text(rows.column("close_date")),
    )
    return _each(zip(*columns, strict=True), make)


def _stalled(context: _Context, rows: pa.Table) -> list[RiskSignal]:
    def make(stage: str, days: int, limit: int) -> RiskSignal:
        words = (
            f"in {stage} {_count(days, 'day')}; {context.share} of won deals left it within "
            f"{_count(limit, 'day')}"
        )
        return RiskSignal("stalled", words, days, limit)

    columns = (
        rows.column("stage").to_pylist(),
        rows.column("days_in_stage").to_pylist(),
        rows.column("limit_days").to_pylist(),
    )
    return _each(zip(*columns, strict=True), make)


def _amount_cut(context: _Context, rows: pa.Table) -> list[RiskSignal]:
    line = Decimal(str(context.limits.cut))

    def make(amount: Decimal, peak: Decimal) -> RiskSignal:
        share = (peak - amount) / peak
        words = (
            f"amount cut from {_money(peak)} to {_money(amount)} "
            f"({_percent(share)} below its highest)"
        )
        return RiskSignal("amount_cut", words, share, line)

    columns = (_python(rows.column("amount")), _python(rows.column("peak_amount")))
    return _each(zip(*columns, strict=True), make)


def _quiet(context: _Context, rows: pa.Table) -> list[RiskSignal]:
    def make(on: str | None, days: int) -> RiskSignal:
        if on is None:
            words = f"no activity since it was created {_count(days, 'day')} ago"
        else:
            words = f"no activity for {_count(days, 'day')} (last on {on})"
        return RiskSignal("quiet", words, days, context.limits.quiet_days)

    last = rows.column("last_activity_at")
    created = rows.column("created_at")
    keys = (
        (on, age if on is None else idle)
        for on, idle, age in zip(
            _text(last), _days(last, context.as_of), _days(created, context.as_of), strict=True
        )
    )
    return _each(keys, make)


def _single_contact(context: _Context, rows: pa.Table) -> list[RiskSignal]:
    wanted = context.limits.min_contacts

    def make(contacts: int) -> RiskSignal:
        found = "no buyer contact" if contacts == 0 else _count(contacts, "buyer contact")
        return RiskSignal("single_contact", f"{found} involved ({wanted} wanted)", contacts, wanted)

    return _each(((n,) for n in rows.column("contacts").to_pylist()), make)


def _churn(context: _Context, rows: pa.Table) -> list[RiskSignal]:
    return [_churn_of(context, churn) for churn in rows.column("churn").to_pylist()]


def _churn_of(context: _Context, churn: list[dict[str, Any]]) -> RiskSignal:
    # The signals come as text (see ``renewal_churn``): ISO dates sort as dates do.
    signals = sorted(
        (
            c
            | {
                "amount_from": None if c["amount_from"] is None else Decimal(c["amount_from"]),
                "amount_to": None if c["amount_to"] is None else Decimal(c["amount_to"]),
            }
            for c in churn
        ),
        key=lambda c: (c["on"], c["deal_id"], c["kind"]),
    )
    words = []
    for c in signals:
        label = f"{c['motion']} {c['deal_id']}" + (f" ({c['name']})" if c["name"] else "")
        if c["kind"] == "lost":
            words.append(f"{label} lost on {c['on']}")
        else:
            share = (c["amount_from"] - c["amount_to"]) / c["amount_from"]
            words.append(
                f"{label} cut from {_money(c['amount_from'])} to {_money(c['amount_to'])} "
                f"({_percent(share)}) on {c['on']}"
            )
    related = tuple(dict.fromkeys(c["deal_id"] for c in signals))
    return RiskSignal(
        "churn",
        f"account churn in the last {_count(context.limits.churn_days, 'day')}: "
        + "; ".join(words),
        len(related),
        1,
        related,
    )


_SIGNAL_WORDS: dict[str, Callable[[_Context, pa.Table], list[RiskSignal]]] = {
    "past_close_date": _past_close_date,
    "pushed": _pushed,
    "stalled": _stalled,
    "amount_cut": _amount_cut,
    "quiet": _quiet,
    "single_contact": _single_contact,
    "churn": _churn,
}
"""Each signal's words, for the rows (of the flagged deals) that show it."""


def _total(amounts: pa.ChunkedArray | pa.Array) -> Decimal:
    """The sum of ``amounts`` to the cent (no amount counts nothing)."""
    total = pc.sum(amounts).as_py()
    return _ZERO if total is None else Decimal(total).quantize(_CENT)


def _ranked(table: pa.Table) -> pa.Table:
    """The flagged deals by value at risk: largest amount first, no amount last, then by id."""
    order = pc.sort_indices(
        table, [("amount", "descending", "at_end"), ("deal_id", "ascending", "at_end")]
    )
    return table.take(order)


def _account_names(store: Store, table: pa.Table) -> pa.Table:
    """account_id and name of the accounts of the flagged deals of ``table``: looked up for
    those alone, since the accounts table can be as large as the deals."""
    ids = pc.unique(pc.drop_null(table.column("account_id").combine_chunks()))
    wanted = ibis.memtable(pa.table({"account_id": ids}))
    accounts = store.table("accounts")
    accounts = accounts.filter(accounts.account_id.isin(wanted.account_id))
    return store.to_arrow(accounts.select("account_id", "name"))


def _account_totals(table: pa.Table, names: pa.Table) -> pa.Table:
    """The accounts of the flagged deals of ``table``: account_id, account_name (from
    ``names``) and value, the largest value first (then by id)."""
    rows = table.select(["account_id", "amount"])
    rows = rows.filter(pc.is_valid(rows.column("account_id")))
    grouped = rows.group_by("account_id").aggregate([("amount", "sum")])
    value = pc.fill_null(
        grouped.column("amount_sum"), pa.scalar(0, grouped.schema.field("amount_sum").type)
    )
    totals = pa.table({"account_id": grouped.column("account_id"), "value": value})
    names = names.select(["account_id", "name"]).rename_columns(["account_id", "account_name"])
    totals = totals.join(names, "account_id", join_type="left outer")
    return totals.sort_by([("value", "descending"), ("account_id", "ascending")])


def _accounts(accounts: pa.Table, table: pa.Table) -> list[AccountRisk]:
    """The ``accounts`` (rows of :func:`_account_totals`) with their flagged deals of
    ``table``, in its order: largest first."""
    ids = accounts.column("account_id")
    rows = table.select(["account_id", "deal_id"])
    rows = rows.filter(pc.is_in(rows.column("account_id"), value_set=ids.combine_chunks()))
    deals: dict[str, list[str]] = {}
    for account, deal in zip(
        rows.column("account_id").to_pylist(), rows.column("deal_id").to_pylist(), strict=True
    ):
        deals.setdefault(account, []).append(deal)
    return [
        AccountRisk(account, name, tuple(deals[account]), value.quantize(_CENT))
        for account, name, value in zip(
            ids.to_pylist(),
            accounts.column("account_name").to_pylist(),
            _python(accounts.column("value")),
            strict=True,
        )
    ]


def _summaries(table: pa.Table, judged: Mapping[str, bool]) -> tuple[SignalSummary, ...]:
    """Per signal: the flagged deals of ``table`` that show it (in its order) and their value."""
    summaries = []
    keys = table.select(["deal_id", "amount"])
    for kind in SIGNALS:
        rows = keys.filter(table.column(f"is_{kind}"))
        ids = tuple(rows.column("deal_id").to_pylist())
        value = _total(rows.column("amount"))
        summaries.append(SignalSummary(kind, len(ids), value, ids, judged[kind]))
    return tuple(summaries)


# -- words ------------------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n:,} times"


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(_CENT):,}"


def _percent(share: Decimal) -> str:
    value = (share * 100).quantize(Decimal("0.1"))
    return f"{value.normalize():f}%"
