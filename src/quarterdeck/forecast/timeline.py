"""Every deal as it stood at any past moment, with the features a forecast may know then.

A forecast made at moment ``t`` must see the history as it stood at ``t`` and nothing
later. :class:`DealTimeline` reads the history once (the store's ``deal_events``, the
deals' fixed facts and their activities) into NumPy arrays ordered by deal and time, and
answers for any moment: which deals existed and were open, and each one's state and
features (:meth:`DealTimeline.features`); and, for scoring, what each deal had become by a
later moment (:meth:`DealTimeline.outcomes`).

No leakage, by construction: every feature at ``t`` is read from events and activities
at or before ``t`` (a change at exactly ``t`` counts as done), and from the facts fixed
when a deal is created (its pipeline, motion, product and account's segment) and its creation
time. Nothing written at or after a deal's close (the won flag, the loss reason, the
latest amount or close date of the ``deals`` table) is read: the ``deals`` table gives only
those fixed facts. The tests prove it by rerunning with every later event cut or
corrupted.

Features of a deal open at ``t`` (times in days, to the second):

* ``stage``, ``stage_order`` (its place in the official process), ``probability`` (the
  CRM's probability then, else the stage's default), ``forecast_category``;
* ``amount`` (0 when unknown), ``amount_known``, ``amount_change`` (amount / first amount
  - 1), ``amount_cut`` (1 - amount / highest amount so far);
* ``days_to_close`` (close date - t's day; negative when the date has passed; unknown
  without a close date), ``due_in_period`` (the close date lies in the period asked about,
  or before it: the deal is due), ``days_left`` (from ``t`` to the period's end: the time
  the deal has to close in it), ``pushes`` (changes of the close date to a later date);
* ``age`` (since creation), ``days_in_stage`` (since the latest change of stage),
  ``stage_time_ratio`` (days in stage / the median of the stage's finished visits before
  t, unknown when fewer than 5), ``stage_changes``, ``regressions`` (moves to an earlier
  stage of the process);
* ``owner_win_rate``: the owner's won / closed deals before t, shrunk towards the deal's
  segment's rate with the weight of ``OWNER_PRIOR`` deals;
* ``activities_30d`` and ``days_since_activity`` (unknown with no activity yet),
  ``activities`` (all so far);
* ``motion``, ``segment``, ``pipeline`` and ``product`` as text; ``season``, the period's
  place in its cycle (:func:`season`): the month of its quarter, the quarter of its year.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.history import typed_value
from quarterdeck.periods import Period, require_moment
from quarterdeck.store import Store

__all__ = [
    "CATEGORICAL",
    "MIN_VISITS",
    "NUMERIC",
    "OWNER_PRIOR",
    "DealTimeline",
    "Outcomes",
    "Snapshot",
    "load_timeline",
    "season",
]

OWNER_PRIOR = 10
"""The owner's record is shrunk towards the segment's as if the owner had this many more
closed deals at the segment's win rate."""

MIN_VISITS = 5
"""A stage's median time needs at least this many finished visits before ``t``."""

NUMERIC: tuple[str, ...] = (
    "stage_order",
    "probability",
    "amount",
    "amount_known",
    "amount_change",
    "amount_cut",
    "days_to_close",
    "due_in_period",
    "days_left",
    "pushes",
    "age",
    "days_in_stage",
    "stage_time_ratio",
    "stage_changes",
    "regressions",
    "owner_win_rate",
    "activities",
    "activities_30d",
    "days_since_activity",
)
"""The numeric features of :meth:`DealTimeline.features` (float64, NaN when unknown)."""

CATEGORICAL: tuple[str, ...] = (
    "stage",
    "forecast_category",
    "motion",
    "segment",
    "pipeline",
    "product",
    "season",
)
"""The text features of :meth:`DealTimeline.features`."""

_STAGE, _AMOUNT, _CLOSE, _CATEGORY, _PROBABILITY, _OWNER = range(6)
_FIELDS = {
    "stage": _STAGE,
    "amount": _AMOUNT,
    "close_date": _CLOSE,
    "forecast_category": _CATEGORY,
    "probability": _PROBABILITY,
    "owner_id": _OWNER,
}
_DAY = 86_400 * 1_000_000  # microseconds
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Snapshot:
    """The deals open at ``at`` (one row each, in deal number order) and their features.

    ``deal`` holds the deals' numbers in the timeline; ``table`` the columns ``deal_id``,
    ``owner_id`` and every feature of :data:`NUMERIC` and :data:`CATEGORICAL`.
    ``closed_won`` is the value won by ``at`` with a close date in ``period`` (as the deals
    stood at ``at``), ``closed_won_count`` how many deals.
    """

    at: datetime
    period: Period
    deal: np.ndarray
    table: pa.Table
    closed_won: float
    closed_won_count: int

    @property
    def amount(self) -> np.ndarray:
        return np.asarray(self.table.column("amount").to_numpy(), dtype=np.float64)

    def features(self) -> pa.Table:
        """The model's inputs: every feature column, without ids."""
        return self.table.select([*NUMERIC, *CATEGORICAL])


@dataclass(frozen=True)
class Outcomes:
    """What became of deals by moment ``at`` for ``period``: ``won`` says the deal was won
    then with a close date in the period (it counts in the period's bookings) and
    ``amount`` is its amount then (0 for deals not won)."""

    at: datetime
    won: np.ndarray
    amount: np.ndarray


class DealTimeline:
    """Deals' histories as NumPy arrays; see the module docstring. Build with
    :func:`load_timeline`."""

    def __init__(
        self,
        deals: pa.Table,
        events: pa.Table,
        texts: pa.Array,
        activities: pa.Table,
        stages: pa.Table,
    ) -> None:
        self.deal_ids: pa.Array = deals.column("deal_id").combine_chunks()
        self.count = len(self.deal_ids)
        self._motion = _text(deals.column("motion"))
        self._segment = _text(deals.column("segment"))
        self._segments, self._segment_code = np.unique(self._segment, return_inverse=True)
        self._pipeline = _text(deals.column("pipeline"))
        self._product = _text(deals.column("product"))
        created = deals.column("created_at").cast(pa.timestamp("us")).cast(pa.int64())
        self._created = np.asarray(pc.fill_null(created, _NEVER).to_numpy(), dtype=np.int64)

        # Stages: a code per (pipeline, stage); code -1 for a stage the table does not list.
        self._stage_names = _text(stages.column("stage"))
        self._stage_order = _floats(stages.column("sort_order"))
        self._stage_closed = _bools(stages.column("closed"))
        self._stage_won = _bools(stages.column("won"))
        self._stage_probability = _floats(stages.column("probability"))

        d = _ints(events.column("deal"))
        at = _ints(events.column("at"))
        field = _ints(events.column("field"))
        number = _floats(events.column("number"))
        code = _ints(events.column("code"))
        self._texts = texts
        self._fields = {
            f: _FieldLog(d[rows], at[rows], number[rows], code[rows], self.count)
            for f in _FIELDS.values()
            for rows in [np.flatnonzero(field == f)]
        }
        self._walk_stages()
        self._walk_amounts()
        self._walk_close_dates()

        self._activity = _FieldLog(
            _ints(activities.column("deal")),
            _ints(activities.column("at")),
            np.zeros(activities.num_rows),
            np.zeros(activities.num_rows, dtype=np.int64),
            self.count,
        )
        # The first moment each deal existed: its creation, or its first event if earlier.
        first_stage = self._fields[_STAGE]
        first_at = np.full(self.count, _NEVER, dtype=np.int64)
        np.minimum.at(first_at, first_stage.deal, first_stage.at)
        self._born = np.minimum(first_at, self._created)
        self._states: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    # -- walks done once --------------------------------------------------------------------

    def _walk_stages(self) -> None:
        log = self._fields[_STAGE]
        order = np.where(log.code >= 0, self._stage_order[np.maximum(log.code, 0)], np.nan)
        same = log.same_deal_as_previous()
        previous = np.concatenate(([np.nan], order[:-1]))
        self._regression = same & (order < previous)  # NaN compares False
        self._stage_change = same.copy()
        # Finished visits: each stage event's time until the deal's next stage event.
        next_at = np.concatenate((log.at[1:], [_NEVER]))
        next_same = np.concatenate((same[1:], [False]))
        self._visit_end = np.where(next_same, next_at, _NEVER)

    def _walk_amounts(self) -> None:
        log = self._fields[_AMOUNT]
        known = ~np.isnan(log.number)
        value = np.where(known, log.number, -np.inf)
        # Highest amount so far within each deal.
        self._amount_peak = _running_max(value, log.deal)
        first = np.full(self.count, np.nan)
        rows = np.flatnonzero(known)[::-1]
        first[log.deal[rows]] = log.number[rows]
        self._first_amount = first

    def _walk_close_dates(self) -> None:
        log = self._fields[_CLOSE]
        same = log.same_deal_as_previous()
        previous = np.concatenate(([np.nan], log.number[:-1]))
        self._push = same & (log.number > previous)

    # -- at a moment ------------------------------------------------------------------------

    def _stage_at(self, moment: int) -> tuple[np.ndarray, np.ndarray]:
        """Each deal's stage code at ``moment`` (-1: none or unlisted) and whether it had a
        stage yet."""
        log = self._fields[_STAGE]
        row = log.last_row(moment)
        code = _take(log.code, row, -1)
        return code, row >= 0

    def states(self, at: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per deal at ``at``: whether it existed, whether it was closed, whether won
        (read-only arrays; the last moment's are kept, since a snapshot asks three times)."""
        moment = _us(at)
        if self._states is not None and self._states[0] == moment:
            return self._states[1]
        code, staged = self._stage_at(moment)
        exists = staged & (self._born <= moment)
        closed = np.where(code >= 0, self._stage_closed[np.maximum(code, 0)], False) & exists
        won = np.where(code >= 0, self._stage_won[np.maximum(code, 0)], False) & exists
        for array in (exists, closed, won):
            array.flags.writeable = False
        self._states = (moment, (exists, closed, won))
        return exists, closed, won

    def _number_at(self, f: int, moment: int) -> np.ndarray:
        log = self._fields[f]
        row = log.last_row(moment)
        return _take(log.number, row, np.nan)

    def booked(self, at: datetime, period: Period) -> tuple[np.ndarray, np.ndarray]:
        """Per deal: whether it was won at ``at`` with a close date in ``period`` (on or
        before its last day, not before its first), and its amount then (0 if not)."""
        moment = _us(at)
        _, _, won = self.states(at)
        close = self._number_at(_CLOSE, moment)
        amount = np.nan_to_num(self._number_at(_AMOUNT, moment))
        first, last = _epoch_day(period.start), _epoch_day(period.end)
        counted = won & (close >= first) & (close <= last)
        return counted, np.where(counted, amount, 0.0)

    def outcomes(self, deal: np.ndarray, at: datetime, period: Period) -> Outcomes:
        """What became of ``deal`` (numbers) by ``at``: won then with a close date in
        ``period``, at what amount (:meth:`booked`)."""
        counted, amount = self.booked(at, period)
        return Outcomes(at, counted[deal], amount[deal])

    def bookings(self, at: datetime, period: Period) -> tuple[float, int]:
        """Value and count of deals won at ``at`` with a close date in ``period``, at their
        amount then (the period's bookings as they stood at ``at``)."""
        counted, amount = self.booked(at, period)
        return float(amount.sum()), int(counted.sum())

    def owners_at(self, deal: np.ndarray, at: datetime) -> pa.Array:
        """The owner of each of ``deal`` (numbers) at ``at`` (null where none was recorded)."""
        owners = self._fields[_OWNER]
        code = _take(owners.code, owners.last_row(_us(at)), -1)
        return self._text_of(code[deal])

    def motions(self, deal: np.ndarray) -> np.ndarray:
        """The motion of each of ``deal`` (numbers), "" where unknown."""
        return np.asarray(self._motion[deal], dtype=object)

    def open_at(self, at: datetime) -> np.ndarray:
        """Numbers of the deals that existed and were open at ``at``."""
        exists, closed, _ = self.states(at)
        return np.flatnonzero(exists & ~closed)

    def features(self, at: datetime, period: Period) -> Snapshot:
        """The deals open at ``at`` and their features (see the module docstring)."""
        require_moment(at)
        moment = _us(at)
        today = _epoch_day(at.date())
        deal = self.open_at(at)

        stages = self._fields[_STAGE]
        stage_row = stages.last_row(moment)[deal]
        code = stages.code[stage_row]
        listed = code >= 0
        safe = np.maximum(code, 0)
        stage_order = np.where(listed, self._stage_order[safe], np.nan)
        stage_names = np.where(listed, self._stage_names[safe], "")
        entered = stages.at[stage_row]
        upto = stages.upto(moment)
        stage_changes = np.bincount(stages.deal[upto & self._stage_change], minlength=self.count)
        regressions = np.bincount(stages.deal[upto & self._regression], minlength=self.count)
        days_in_stage = (moment - entered) / _DAY
        ratio = days_in_stage / self._stage_medians(moment)[safe]
        ratio = np.where(listed, ratio, np.nan)

        crm_probability = self._number_at(_PROBABILITY, moment)[deal]
        probability = np.where(
            np.isnan(crm_probability),
            np.where(listed, self._stage_probability[safe], np.nan),
            crm_probability,
        )

        amounts = self._fields[_AMOUNT]
        amount_row = amounts.last_row(moment)[deal]
        has_amount = amount_row >= 0
        amount = _take(amounts.number, amount_row, np.nan)
        peak = _take(self._amount_peak, amount_row, np.nan)
        first_amount = self._first_amount[deal]
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(first_amount > 0, amount / first_amount - 1, np.nan)
            cut = np.where(peak > 0, 1 - amount / peak, np.nan)

        closes = self._fields[_CLOSE]
        close_day = self._number_at(_CLOSE, moment)[deal]
        pushes = np.bincount(closes.deal[closes.upto(moment) & self._push], minlength=self.count)
        due = close_day <= _epoch_day(period.end)

        categories = self._fields[_CATEGORY]
        category_row = categories.last_row(moment)[deal]
        category = _take(categories.code, category_row, -1)
        owners = self._fields[_OWNER]
        owner_row = owners.last_row(moment)
        owner = _take(owners.code, owner_row, -1)

        acts = self._activity
        done = acts.upto(moment)
        activities = np.bincount(acts.deal[done], minlength=self.count)[deal]
        recent = done & (acts.at > moment - 30 * _DAY)
        activities_30d = np.bincount(acts.deal[recent], minlength=self.count)[deal]
        last = acts.last_row(moment)[deal]
        since = (moment - _take(acts.at, last, moment).astype(np.float64)) / _DAY
        since = np.where(last >= 0, since, np.nan)

        owner_rate = self._owner_rates(at, owner)
        table = pa.table(
            {
                "deal_id": self.deal_ids.take(pa.array(deal)),
                "owner_id": self._text_of(owner[deal]),
                "stage_order": stage_order,
                "probability": probability,
                "amount": np.nan_to_num(amount),
                "amount_known": has_amount.astype(np.float64),
                "amount_change": change,
                "amount_cut": cut,
                "days_to_close": close_day - today,
                "due_in_period": due.astype(np.float64),
                "days_left": np.full(len(deal), (_us(_last_moment(period)) - moment) / _DAY),
                "pushes": pushes[deal].astype(np.float64),
                "age": (moment - np.minimum(self._born[deal], moment)) / _DAY,
                "days_in_stage": days_in_stage,
                "stage_time_ratio": ratio,
                "stage_changes": stage_changes[deal].astype(np.float64),
                "regressions": regressions[deal].astype(np.float64),
                "owner_win_rate": owner_rate[deal],
                "activities": activities.astype(np.float64),
                "activities_30d": activities_30d.astype(np.float64),
                "days_since_activity": since,
                "stage": _nullable(stage_names),
                "forecast_category": self._text_of(category),
                "motion": _nullable(self._motion[deal]),
                "segment": _nullable(self._segment[deal]),
                "pipeline": _nullable(self._pipeline[deal]),
                "product": _nullable(self._product[deal]),
                "season": pa.array([season(period)] * len(deal), pa.string()),
            }
        )
        # Text as dictionaries: a few distinct values each, and snapshots are kept by the
        # thousand in a backtest.
        for name in ("owner_id", *CATEGORICAL):
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, table.column(name).dictionary_encode())
        closed_won, closed_count = self.bookings(at, period)
        return Snapshot(at, period, deal, table, closed_won, closed_count)

    def first_moment(self) -> datetime | None:
        """When the first deal came to exist, None without deals."""
        if not self.count or self._born.min() == _NEVER:
            return None
        return datetime(1970, 1, 1) + timedelta(microseconds=int(self._born.min()))

    def last_moment(self) -> datetime | None:
        """The time of the latest recorded change, None without any."""
        latest = max(
            (int(log.at.max()) for log in self._fields.values() if len(log.at)), default=None
        )
        return None if latest is None else datetime(1970, 1, 1) + timedelta(microseconds=latest)

    def stage_codes(self, snap: Snapshot) -> np.ndarray:
        """The stage code of each deal of ``snap`` then (-1: not listed)."""
        code, _ = self._stage_at(_us(snap.at))
        return code[snap.deal]

    def stage_win_rates(self, at: datetime) -> np.ndarray:
        """Per stage code: of the deals closed by ``at`` that were ever in the stage before,
        the share won (NaN when none closed)."""
        moment = _us(at)
        _, closed, won = self.states(at)
        log = self._fields[_STAGE]
        seen = log.upto(moment) & (log.code >= 0) & closed[log.deal]
        pairs = np.unique(log.deal[seen] * len(self._stage_names) + log.code[seen])
        deal, code = np.divmod(pairs, max(len(self._stage_names), 1))
        size = len(self._stage_names)
        closed_count = np.bincount(code, minlength=size).astype(float)
        won_count = np.bincount(code[won[deal]], minlength=size).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(closed_count > 0, won_count / closed_count, np.nan)

    def _stage_medians(self, moment: int) -> np.ndarray:
        """Per stage code: the median length in days of the visits that ended by
        ``moment`` (NaN with fewer than ``MIN_VISITS``)."""
        log = self._fields[_STAGE]
        done = (self._visit_end <= moment) & (log.code >= 0)
        codes = log.code[done]
        length = (self._visit_end[done] - log.at[done]) / _DAY
        medians = np.full(len(self._stage_names), np.nan)
        if len(codes) == 0:
            return medians
        order = np.lexsort((length, codes))
        codes, length = codes[order], length[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        for part_codes, part in zip(np.split(codes, bounds), np.split(length, bounds), strict=True):
            if len(part) >= MIN_VISITS:
                medians[part_codes[0]] = float(np.median(part))
        return medians

    def _owner_rates(self, at: datetime, owner: np.ndarray) -> np.ndarray:
        """Per deal: its owner's (at ``at``) won / closed deals closed by ``at``, shrunk
        towards the deal's segment's rate (NaN when nothing had closed yet)."""
        _, closed, won = self.states(at)
        segments, segment = self._segments, self._segment_code
        seg_closed = np.bincount(segment[closed], minlength=len(segments)).astype(float)
        seg_won = np.bincount(segment[won], minlength=len(segments)).astype(float)
        total_closed, total_won = seg_closed.sum(), seg_won.sum()
        overall = total_won / total_closed if total_closed else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            seg_rate = np.where(seg_closed > 0, seg_won / seg_closed, overall)
        owners = np.maximum(owner, 0)
        size = int(owners.max()) + 1 if len(owners) else 1
        known = closed & (owner >= 0)
        own_closed = np.bincount(owners[known], minlength=size).astype(float)
        own_won = np.bincount(owners[known & won], minlength=size).astype(float)
        prior = seg_rate[segment]
        mine_closed = np.where(owner >= 0, own_closed[owners], 0.0)
        mine_won = np.where(owner >= 0, own_won[owners], 0.0)
        return (mine_won + OWNER_PRIOR * prior) / (mine_closed + OWNER_PRIOR)

    def _text_of(self, codes: np.ndarray) -> pa.Array:
        """Owner ids or forecast categories from their codes (null for -1)."""
        if len(self._texts) == 0:
            return pa.nulls(len(codes), pa.string())
        names = self._texts.take(pa.array(np.maximum(codes, 0)))
        return pc.if_else(pa.array(codes >= 0), names, pa.scalar(None, pa.string()))


class _FieldLog:
    """One field's events (or the activities) of every deal, in (deal, time) order."""

    def __init__(
        self, deal: np.ndarray, at: np.ndarray, number: np.ndarray, code: np.ndarray, count: int
    ) -> None:
        self.deal, self.at, self.number, self.code = deal, at, number, code
        self.count = count
        self.starts = np.searchsorted(deal, np.arange(count), side="left")

    def same_deal_as_previous(self) -> np.ndarray:
        same = np.zeros(len(self.deal), dtype=bool)
        same[1:] = self.deal[1:] == self.deal[:-1]
        return same

    def upto(self, moment: int) -> np.ndarray:
        return self.at <= moment

    def last_row(self, moment: int) -> np.ndarray:
        """Per deal: the row of its latest event at or before ``moment``, or -1."""
        counts = np.bincount(self.deal[self.at <= moment], minlength=self.count)
        return np.where(counts > 0, self.starts + counts - 1, -1)


def load_timeline(store: Store, until: datetime | None = None) -> DealTimeline:
    """Read every deal's history (up to ``until``, when given) into a :class:`DealTimeline`."""
    deals = store.table("deals")
    accounts = store.table("accounts").select("account_id", "segment")
    facts = deals.left_join(accounts, deals.account_id == accounts.account_id).select(
        deals.deal_id,
        deals.pipeline,
        deals.motion,
        deals.product,
        deals.created_at,
        accounts.segment,
    )
    facts_arrow = store.to_arrow(facts.order_by("deal_id"))
    numbered = pa.table(
        {
            "deal_id": facts_arrow.column("deal_id").combine_chunks(),
            "deal": pa.array(np.arange(facts_arrow.num_rows, dtype=np.int64)),
            "_pipeline": pc.fill_null(facts_arrow.column("pipeline").combine_chunks(), ""),
        }
    )
    stages = _stage_table(store)
    events, texts = _read_events(store, _events_expr(store, store.stage(numbered), until), stages)
    activities = store.table("activities")
    activities = activities.filter(activities.deal_id.notnull(), activities.at.notnull())
    if until is not None:
        activities = activities.filter(activities.at <= ibis.literal(until, "timestamp"))
    ids = store.stage(numbered.select(["deal_id", "deal"]))
    acts = _sorted(
        _concat(store.batches(activities.join(ids, "deal_id").select("deal", "at"))),
        ("deal", "at"),
    )
    return DealTimeline(facts_arrow, events, texts, acts, stages)


def _concat(batches: Iterator[pa.RecordBatch]) -> dict[str, np.ndarray]:
    """Streamed batches of integer and timestamp columns as NumPy int64 arrays."""
    parts: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            values = (
                column.cast(pa.timestamp("us")).cast(pa.int64())
                if pa.types.is_timestamp(column.type)
                else column
            )
            parts.setdefault(name, []).append(_ints(values))
    return {name: np.concatenate(arrays) for name, arrays in parts.items()}


def _sorted(columns: dict[str, np.ndarray], keys: tuple[str, ...]) -> pa.Table:
    """``columns`` ordered by ``keys`` (first key first), as an Arrow table; empty columns
    of ``keys`` when nothing was read."""
    if not columns:
        return pa.table({k: pa.array([], pa.int64()) for k in keys})
    order = np.lexsort(tuple(columns[k] for k in reversed(keys)))
    return pa.table({name: values[order] for name, values in columns.items()})


def _read_events(store: Store, expr: ir.Table, stages: pa.Table) -> tuple[pa.Table, pa.Array]:
    """The events of ``expr`` streamed in batches (the engine never sorts or holds them
    all), each batch's texts coded into one dictionary, then ordered in NumPy by deal,
    time and ``seq``."""
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("deal", "at", "seq", "field", "number", "code")
    }
    dictionary: dict[str, int] = {}
    for batch in store.batches(expr):
        table, texts = _encode_events(pa.Table.from_batches([batch]), stages)
        field = _ints(table.column("field"))
        code = _ints(table.column("code"))
        if len(texts):
            mapping = np.array(
                [dictionary.setdefault(t, len(dictionary)) for t in texts.to_pylist()],
                dtype=np.int64,
            )
            other = (field != _STAGE) & (code >= 0)
            code = np.where(other, mapping[np.where(other, code, 0)], code)
        columns["deal"].append(_ints(table.column("deal")))
        columns["at"].append(_ints(table.column("at").cast(pa.timestamp("us")).cast(pa.int64())))
        columns["seq"].append(_ints(table.column("seq")))
        columns["field"].append(field)
        columns["number"].append(_floats(table.column("number")))
        columns["code"].append(code)
    joined = {
        k: np.concatenate(v) if v else np.zeros(0, dtype=np.float64 if k == "number" else np.int64)
        for k, v in columns.items()
    }
    events = _sorted(joined, ("deal", "at", "seq"))
    return events, pa.array(list(dictionary), pa.string())


def _stage_table(store: Store) -> pa.Table:
    stages = store.table("stages")
    return store.to_arrow(
        stages.select(
            pipeline=stages.pipeline.fill_null(""),
            stage=stages.stage,
            sort_order=stages.sort_order.cast("float64"),
            closed=stages.is_closed.fill_null(False) | stages.is_won.fill_null(False),
            won=stages.is_won.fill_null(False),
            probability=stages.probability,
        ).order_by("pipeline", "sort_order", "stage")
    )


def _events_expr(store: Store, numbered: ir.Table, until: datetime | None) -> ir.Table:
    """The tracked changes of the numbered deals (unordered: the reader orders them), with the
    value read as a number (amount, probability, close date in days since 1970) or as
    text (stage within its pipeline, forecast category, owner)."""
    events = store.table("deal_events")
    events = events.filter(events.field.isin(tuple(_FIELDS)))
    if until is not None:
        events = events.filter(events.at <= ibis.literal(until, "timestamp"))
    events = events.join(numbered, "deal_id")
    no_text = ibis.null("string")

    def of(name: str) -> ir.StringValue:
        return ibis.ifelse(events.field == name, events.new_value, no_text)

    code = ibis.cases(*((events.field == name, c) for name, c in _FIELDS.items()), else_=-1)
    number = ibis.coalesce(
        typed_value("amount", of("amount")).cast("float64"),
        typed_value("probability", of("probability")).cast("float64"),
        typed_value("close_date", of("close_date")).epoch_days().cast("float64"),
    )
    stage_key = events._pipeline + "\x1f" + events.new_value
    text = ibis.ifelse(events.field == "stage", stage_key, events.new_value)
    text = ibis.ifelse(events.field.isin(("stage", "forecast_category", "owner_id")), text, no_text)
    return events.select("deal", "at", "seq", field=code.cast("int8"), number=number, text=text)


def _encode_events(events: pa.Table, stages: pa.Table) -> tuple[pa.Table, pa.Array]:
    """Text values as codes: a stage as its row in ``stages`` (-1 when not listed), a
    forecast category or an owner as its place in one dictionary of every other text
    (returned beside the events)."""
    field = events.column("field").combine_chunks()
    text = events.column("text").combine_chunks()
    keys = pc.binary_join_element_wise(stages.column("pipeline"), stages.column("stage"), "\x1f")
    is_stage = pc.equal(field, pa.scalar(_STAGE, field.type))
    stage_code = pc.fill_null(pc.index_in(text, value_set=keys), -1).cast(pa.int64())
    encoded = pc.if_else(is_stage, pa.scalar(None, pa.string()), text).dictionary_encode()
    other_code = pc.fill_null(encoded.indices.cast(pa.int64()), -1)
    code = pc.if_else(is_stage, stage_code, other_code)
    return events.drop_columns(["text"]).append_column("code", code), encoded.dictionary


# -- small conversions ---------------------------------------------------------------------------


def _us(moment: datetime) -> int:
    return int(np.datetime64(moment, "us").astype(np.int64))


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _ints(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _floats(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(
        pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
    )


def _bools(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _text(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, "").to_numpy(zero_copy_only=False), dtype=object)


def _nullable(values: np.ndarray) -> pa.Array:
    array = pa.array(values, pa.string())
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)


def season(period: Period) -> str:
    """The period's place in its cycle, where sales often follow one: "month 3 of 3" of a
    quarter (the quarter-end push), "quarter 4 of 4" of a fiscal year; "" for others."""
    if period.kind == "month":
        return f"month {(period.start.month - period.fiscal_year_start_month) % 3 + 1} of 3"
    if period.kind == "quarter":
        return f"quarter {period.label[-1]} of 4"
    return ""


def _last_moment(period: Period) -> datetime:
    return datetime.combine(period.end, time.max)


def _take(values: np.ndarray, rows: np.ndarray, fill: float) -> np.ndarray:
    """``values[rows]``, with ``fill`` where a row is -1 (no event yet)."""
    if len(values) == 0:
        return np.full(len(rows), fill, dtype=np.result_type(values.dtype, type(fill)))
    return np.where(rows >= 0, values[np.maximum(rows, 0)], fill)


def _running_max(value: np.ndarray, deal: np.ndarray) -> np.ndarray:
    """The running maximum of ``value`` restarting at each deal (rows in deal order)."""
    if len(value) == 0:
        return value
    # Offset each deal's values above every earlier deal's, accumulate, then take it back.
    finite = np.where(np.isfinite(value), value, np.nan)
    low = np.nanmin(finite) if np.isfinite(finite).any() else 0.0
    high = np.nanmax(finite) if np.isfinite(finite).any() else 0.0
    span = (high - low) + 2.0
    shifted = np.where(np.isfinite(value), value - low, -1.0) + deal * span
    running = np.maximum.accumulate(shifted) - deal * span
    return np.where(running < 0, np.nan, running + low)
