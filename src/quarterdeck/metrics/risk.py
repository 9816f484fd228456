"""Deal risks: open deals that show a warning sign, with the evidence, ranked by value at risk.

A risk is read off the history as it stood at the report's moment ``as_of`` (nothing recorded
after it counts), so last week's risk list can be rebuilt exactly. Each signal is one small
per-deal feature computed in the engine (pushes of the close date, time in the current
stage, peak amount, last activity, buyer contacts, account churn); the features are joined
to the open deals, and only the deals that show at least one signal come back to Python.
The feature functions are public so that other models (the forecast) read the same numbers.

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.errors import InputError
from quarterdeck.history import deals_at, typed_value
from quarterdeck.metrics.bookings import rows_of
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
    "amount_peaks",
    "buyer_contacts",
    "close_date_pushes",
    "deal_risks",
    "last_activities",
    "open_deals_at",
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
    jeopardy, a summary per signal, notes on what could not be judged, and the queries."""

    as_of: datetime
    deals: tuple[DealRisk, ...]
    accounts: tuple[AccountRisk, ...]
    by_signal: tuple[SignalSummary, ...]
    notes: tuple[str, ...]
    exprs: Mapping[str, ir.Table] = field(default_factory=dict, compare=False, repr=False)

    @property
    def count(self) -> int:
        return len(self.deals)

    @property
    def value(self) -> Decimal:
        """Value at risk: the amounts of the flagged deals, each counted once."""
        return sum((d.value_at_risk for d in self.deals), _ZERO)

    def signal(self, kind: str) -> SignalSummary:
        """The summary of signal ``kind``."""
        for summary in self.by_signal:
            if summary.kind == kind:
                return summary
        raise InputError(f"unknown risk signal {kind!r}: expected one of {', '.join(SIGNALS)}")

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return dict(self.exprs)


# -- per-deal features ------------------------------------------------------------------------
#
# Each feature is one aggregation over one table, filtered by field and time (nothing after
# ``as_of``). ``deals`` (a table with a deal_id column) restricts it to those deals before
# aggregating, which is what keeps the report fast: the open deals are a small share of all.


def _moment(as_of: datetime) -> ir.TimestampScalar:
    return ibis.literal(as_of, "timestamp")


def _day(day: date) -> ir.DateScalar:
    return ibis.literal(day, "date")


def _only(rows: ir.Table, deals: ir.Table | None) -> ir.Table:
    return rows if deals is None else rows.semi_join(deals.select("deal_id"), "deal_id")


def _events(
    store: Store, as_of: datetime, field_name: str, deals: ir.Table | None = None
) -> ir.Table:
    """The changes of one tracked field recorded at or before ``as_of``."""
    events = store.table("deal_events")
    events = events.filter(events.field == field_name, events.at <= _moment(as_of))
    return _only(events.select("deal_id", "at", "seq", "old_value", "new_value"), deals)


def _activities(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    activities = store.table("activities")
    activities = activities.filter(activities.deal_id.notnull(), activities.at <= _moment(as_of))
    return _only(activities.select("deal_id", "at", "kind", "who"), deals)


def open_deals_at(store: Store, as_of: datetime) -> ir.Table:
    """The deals open at ``as_of`` (neither closed nor won then), as they stood then."""
    deals = deals_at(store, as_of)
    return deals.filter(~deals.is_closed, ~deals.is_won)


def close_date_pushes(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal whose close date was pushed by ``as_of``: ``pushes`` (how many changes moved
    it to a later date) and ``pushed_from`` (the close date before the first push)."""
    events = _events(store, as_of, "close_date", deals)
    old = typed_value("close_date", events.old_value)
    new = typed_value("close_date", events.new_value)
    pushes = events.filter(new > old)
    first = ibis.struct({"at": pushes.at, "seq": pushes.seq})
    return pushes.group_by("deal_id").aggregate(
        pushes=pushes.count(),
        pushed_from=typed_value("close_date", pushes.old_value).argmin(first),
    )


def stage_entries(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal: ``entered_at``, when it entered its stage of ``as_of`` (its last stage
    change at or before then; a deal that comes back to a stage starts again)."""
    events = _events(store, as_of, "stage", deals)
    return events.group_by("deal_id").aggregate(entered_at=events.at.max())


def won_stage_times(store: Store, as_of: datetime) -> ir.Table:
    """Per (stage, deal) of the deals won at ``as_of``: ``seconds`` the deal spent in the
    stage, from entering it to leaving it, summed over its visits."""
    deals = deals_at(store, as_of)
    events = _events(store, as_of, "stage", deals.filter(deals.is_won))
    order = ibis.window(group_by="deal_id", order_by=["at", "seq"])
    visits = events.select(
        "deal_id", stage=events.new_value, entered=events.at, left=events.at.lead().over(order)
    )
    visits = visits.filter(visits.left.notnull(), visits.stage.notnull())
    return visits.group_by("stage", "deal_id").aggregate(
        seconds=visits.left.delta(visits.entered, unit="second").sum()
    )


def stage_norms(times: ir.Table, quantile: float) -> ir.Table:
    """Per stage: ``won_deals`` that passed through it and ``limit_days``, the whole days
    within which ``quantile`` of them left it: the smallest d such that at least that share
    of the won deals spent d whole days or fewer in the stage.

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


def amount_peaks(store: Store, as_of: datetime, deals: ir.Table | None = None) -> ir.Table:
    """Per deal: ``peak_amount``, the highest amount it had at or before ``as_of``."""
    events = _events(store, as_of, "amount", deals)
    return events.group_by("deal_id").aggregate(
        peak_amount=typed_value("amount", events.new_value).max()
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


def account_churn(
    store: Store, as_of: datetime, days: int, cut: float, deals: ir.Table | None = None
) -> ir.Table:
    """Churn signals of accounts within ``days`` days before ``as_of``: one row per signal
    with account_id, deal_id, name, motion, ``kind``, ``on``, ``amount_from``, ``amount_to``.

    ``lost``: a renewal or expansion lost with a close date in (as_of's date - days, as_of's
    date] (``on`` is the close date, ``amount_to`` its amount). ``cut``: a change in
    (as_of - days, as_of] that left a renewal's or expansion's amount ``cut`` or more below
    the highest it had until then (``on`` is the day, ``amount_from`` that highest and
    ``amount_to`` the amount after the change). ``deals`` restricts it to their accounts.
    """
    state = deals_at(store, as_of)
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
    signals = churn.select(
        "account_id",
        signal=ibis.struct(
            {
                "deal_id": churn.deal_id,
                "name": churn.name,
                "motion": churn.motion,
                "kind": churn.kind,
                "on": churn.on,
                "amount_from": churn.amount_from,
                "amount_to": churn.amount_to,
            }
        ),
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
    if not isinstance(as_of, datetime):
        raise InputError(
            f"as_of must be a moment (a datetime such as 2024-07-01 00:00), not {as_of!r}"
        )
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

    deals = open_deals_at(store, as_of).select(
        "deal_id", "name", "owner_id", "account_id", "motion", "stage", "amount",
        "close_date", "created_at",
    )  # fmt: skip
    stages_expr = _stage_check(store, as_of, deals, limits.quantile)
    stages = rows_of(store, stages_expr)
    notes.extend(_stage_notes(stages))
    features = _features(store, as_of, deals, limits, judged, stages)
    flags = _flags(features, as_of, limits, judged)
    flagged = features.mutate(**{f"is_{k}": v.fill_null(False) for k, v in flags.items()})
    flagged = flagged.filter(ibis.or_(*[flagged[f"is_{k}"] for k in SIGNALS]))
    # Account names only for the flagged deals: the accounts table can be as large as deals.
    accounts = store.table("accounts").select("account_id", account_name="name")
    expr = flagged.left_join(accounts, "account_id").select(flagged, accounts.account_name)
    expr = expr.order_by(expr.amount.isnull(), ibis.desc("amount"), "deal_id")

    table = store.to_arrow(expr)
    with _collector_paused():
        risks = _deal_risks(table, _Context.of(as_of, limits))
        return RiskReport(
            as_of=as_of,
            deals=risks,
            accounts=_accounts(table),
            by_signal=_summaries(risks, judged),
            notes=tuple(notes),
            exprs={"deals": expr, "stages": stages_expr},
        )


def _stage_check(store: Store, as_of: datetime, deals: ir.Table, quantile: float) -> ir.Table:
    """Per stage holding open deals: how many, how many won deals passed through it, and
    the whole days within which ``quantile`` of them left it."""
    held = deals.group_by("stage").aggregate(open_deals=deals.count())
    norms = stage_norms(won_stage_times(store, as_of), quantile)
    joined = held.left_join(norms, "stage")
    return joined.select(
        held.stage,
        held.open_deals,
        won_deals=norms.won_deals.fill_null(0),
        limit_days=norms.limit_days,
    ).order_by("stage")


def _features(
    store: Store,
    as_of: datetime,
    deals: ir.Table,
    limits: _Thresholds,
    judged: Mapping[str, bool],
    stages: list[dict[str, Any]],
) -> ir.Table:
    """The open deals with every feature the signals read, one column each."""
    pushes = close_date_pushes(store, as_of, deals)
    pushes = pushes.filter(pushes.pushes >= limits.pushes)
    entries = stage_entries(store, as_of, deals)
    peaks = amount_peaks(store, as_of, deals)
    renewals = deals.filter(deals.motion == "renewal")
    churn = account_churn(store, as_of, limits.churn_days, limits.cut, renewals)
    churn = renewal_churn(renewals, churn)
    t = deals.left_join(pushes, "deal_id").select(deals, pushes.pushes, pushes.pushed_from)
    t = t.left_join(entries, "deal_id").select(t, entries.entered_at)
    t = t.left_join(peaks, "deal_id").select(t, peaks.peak_amount)
    if judged["quiet"]:
        last = last_activities(store, as_of, deals)
        t = t.left_join(last, "deal_id").select(t, last.last_activity_at)
    else:
        t = t.mutate(last_activity_at=ibis.null("timestamp"))
    if judged["single_contact"]:
        contacts = buyer_contacts(store, as_of, deals)
        t = t.left_join(contacts, "deal_id").select(t, contacts=contacts.contacts.fill_null(0))
    else:
        t = t.mutate(contacts=ibis.null("int64"))
    t = t.left_join(churn, "deal_id").select(t, churn.churn)
    # The won-deal norms are a handful of numbers, read once: a literal per stage.
    norms = [
        (r["stage"], int(r["limit_days"]))
        for r in stages
        if r["stage"] is not None and r["won_deals"] >= MIN_WON_FOR_STALL
    ]
    limit = ibis.null("int64")
    if norms:
        limit = ibis.cases(*((t.stage == stage, days) for stage, days in norms))
    moment = _moment(as_of)
    return t.mutate(
        days_in_stage=moment.delta(t.entered_at, unit="second") // _DAY,
        limit_days=limit.cast("int64"),
    )


def _flags(
    t: ir.Table, as_of: datetime, limits: _Thresholds, judged: Mapping[str, bool]
) -> dict[str, ir.BooleanValue]:
    """Each signal as a condition on the feature columns (null counts as no signal)."""
    quiet_line = _moment(as_of - timedelta(days=limits.quiet_days))
    return {
        "past_close_date": t.close_date < _day(as_of.date()),
        "pushed": t.pushes.notnull(),
        "stalled": t.days_in_stage > t.limit_days,
        "amount_cut": (t.amount < t.peak_amount) & _cut_by(t.peak_amount, t.amount, limits.cut),
        "quiet": ibis.literal(judged["quiet"])
        & (t.created_at.isnull() | (t.created_at <= quiet_line))
        & (ibis.coalesce(t.last_activity_at, t.created_at) <= quiet_line),
        "single_contact": ibis.literal(judged["single_contact"])
        & (t.contacts < limits.min_contacts),
        "churn": t.churn.notnull(),
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


def _deal_risks(table: pa.Table, context: _Context) -> tuple[DealRisk, ...]:
    """The flagged deals of ``table`` with their signals in words.

    Column by column rather than row by row: a report can flag a hundred thousand deals,
    and each signal reads only the few columns it needs, for the rows that show it.
    """
    signals: list[list[RiskSignal]] = [[] for _ in range(table.num_rows)]
    for kind in SIGNALS:
        rows = np.flatnonzero(table.column(f"is_{kind}").to_numpy(zero_copy_only=False))
        if not len(rows):
            continue
        words, reads = _SIGNAL_WORDS[kind]
        part = table.select(list(reads)).take(pa.array(rows))
        values = [_python(part.column(name)) for name in reads]
        for i, *args in zip(rows.tolist(), *values, strict=True):
            signals[i].append(words(context, *args))
    columns = [_python(table.column(c)) for c in _DEAL_COLUMNS]
    return tuple(
        DealRisk(deal_id, name, owner, account, motion, stage, amount, close, tuple(found))
        for deal_id, name, owner, account, motion, stage, amount, close, found in zip(
            *columns, signals, strict=True
        )
    )


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


def _python(column: pa.ChunkedArray) -> list[Any]:
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


def _past_close_date(context: _Context, close_date: date) -> RiskSignal:
    days = (context.as_of.date() - close_date).days
    return RiskSignal(
        "past_close_date", f"close date {close_date} passed {_count(days, 'day')} ago", days, 0
    )


def _pushed(context: _Context, pushes: int, pushed_from: date, close_date: date) -> RiskSignal:
    return RiskSignal(
        "pushed",
        f"close date pushed {_times(pushes)}, from {pushed_from} to {close_date}",
        pushes,
        context.limits.pushes,
    )


def _stalled(context: _Context, stage: str, days: int, limit: int) -> RiskSignal:
    return RiskSignal(
        "stalled",
        f"in {stage} {_count(days, 'day')}; {context.share} of won deals left it within "
        f"{_count(limit, 'day')}",
        days,
        limit,
    )


def _amount_cut(context: _Context, amount: Decimal, peak: Decimal) -> RiskSignal:
    share = (peak - amount) / peak
    return RiskSignal(
        "amount_cut",
        f"amount cut from {_money(peak)} to {_money(amount)} ({_percent(share)} below its highest)",
        share,
        Decimal(str(context.limits.cut)),
    )


def _quiet(context: _Context, last: datetime | None, created: datetime) -> RiskSignal:
    if last is None:
        days = (context.as_of - created).days
        evidence = f"no activity since it was created {_count(days, 'day')} ago"
    else:
        days = (context.as_of - last).days
        evidence = f"no activity for {_count(days, 'day')} (last on {last.date()})"
    return RiskSignal("quiet", evidence, days, context.limits.quiet_days)


def _single_contact(context: _Context, contacts: int) -> RiskSignal:
    found = "no buyer contact" if contacts == 0 else _count(contacts, "buyer contact")
    wanted = context.limits.min_contacts
    return RiskSignal("single_contact", f"{found} involved ({wanted} wanted)", contacts, wanted)


def _churn(context: _Context, churn: list[dict[str, Any]]) -> RiskSignal:
    signals = sorted(churn, key=lambda c: (c["on"], c["deal_id"], c["kind"]))
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


_SIGNAL_WORDS: dict[str, tuple[Callable[..., RiskSignal], tuple[str, ...]]] = {
    "past_close_date": (_past_close_date, ("close_date",)),
    "pushed": (_pushed, ("pushes", "pushed_from", "close_date")),
    "stalled": (_stalled, ("stage", "days_in_stage", "limit_days")),
    "amount_cut": (_amount_cut, ("amount", "peak_amount")),
    "quiet": (_quiet, ("last_activity_at", "created_at")),
    "single_contact": (_single_contact, ("contacts",)),
    "churn": (_churn, ("churn",)),
}
"""Each signal's words, and the feature columns they read (in the order of their
arguments after the context)."""


def _accounts(table: pa.Table) -> tuple[AccountRisk, ...]:
    """The flagged deals of ``table`` (ranked) grouped by account, largest total first."""
    rows = table.select(["account_id", "account_name", "deal_id", "amount"])
    rows = rows.filter(pc.is_valid(rows.column("account_id")))
    # One thread keeps each account's deals in the table's order: largest first.
    grouped = rows.group_by("account_id", use_threads=False).aggregate(
        [("account_name", "first"), ("deal_id", "list"), ("amount", "sum")]
    )
    value = pc.fill_null(
        grouped.column("amount_sum"), pa.scalar(0, grouped.schema.field("amount_sum").type)
    )
    grouped = grouped.set_column(grouped.schema.get_field_index("amount_sum"), "value", value)
    grouped = grouped.sort_by([("value", "descending"), ("account_id", "ascending")])
    return tuple(
        AccountRisk(account, name, tuple(deals), amount.quantize(_CENT))
        for account, name, deals, amount in zip(
            _python(grouped.column("account_id")),
            _python(grouped.column("account_name_first")),
            grouped.column("deal_id_list").to_pylist(),
            _python(grouped.column("value")),
            strict=True,
        )
    )


def _summaries(
    risks: tuple[DealRisk, ...], judged: Mapping[str, bool]
) -> tuple[SignalSummary, ...]:
    ids: dict[str, list[str]] = {kind: [] for kind in SIGNALS}
    values = dict.fromkeys(SIGNALS, _ZERO)
    for risk in risks:
        for signal in risk.signals:
            ids[signal.kind].append(risk.deal_id)
            values[signal.kind] += risk.value_at_risk
    return tuple(
        SignalSummary(kind, len(ids[kind]), values[kind], tuple(ids[kind]), judged[kind])
        for kind in SIGNALS
    )


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
