"""The ladder of forecast methods, each made from what was knowable at the forecast moment.

A forecast of a period's bookings (value won with a close date in the period, as the deals
stand at the period's end) is made at a moment ``t`` inside it. Every method below reads
the history only up to ``t``: the deals as they stood then (:mod:`forecast.timeline`) and
completed periods, those that ended before ``t``, whose outcomes were known by then.

The methods, cheapest first (each must earn its place in the backtest):

* ``last_period``, ``trailing_mean`` (last 4 periods) and ``seasonal_naive`` (the same
  quarter a year before; for months, the same month of the last quarter, where most B2B
  seasonality lies): run rates from completed periods' bookings.
* ``stage_weighted``: won so far + the amount of each open deal due in the period times
  the CRM's probability (its stage's default when the deal has none). Where the CRM holds
  no probabilities at all (an export with no history of them), each stage's historical win
  rate stands in, over every open deal: the usual CRM forecast, with no time horizon.
* ``conversion``: won so far + open value per stage and due/not-due group at ``t`` times
  the share of such value won by the period's end in the comparable prior periods at the
  same point (days since the period began) + their arrivals. The comparable periods are
  either every prior period or only those of the same season (the same month of earlier
  quarters: the quarter-end push converts a month-3 pipeline unlike a month-1 one),
  whichever would have forecast the latest prior periods better at the same point
  (:meth:`Forecaster.seasonal_conversion`); with no prior period to tell them apart, the
  same season when one is known, the bet seasonal naive makes.
* ``deal_model``: won so far + each open deal's probability of being won by the period's
  end (:mod:`forecast.winmodel`, trained on the prior periods' deals at several points of
  those periods) times its amount + the arrivals term.
* ``range``: the same deals and arrivals as a distribution (:mod:`forecast.montecarlo`):
  P10, P50 (the product's forecast) and P90, and the chance of reaching the target, deals
  correlated through a period factor and an owner factor fitted on prior periods.
* ``leader_commit`` and ``leader_best_case``: the latest call recorded at or before ``t``.

Completed periods count from the first with any booking (earlier ones say nothing about
how deals close). The learned methods need ``MIN_PRIOR`` of them with deals open at the
same point; with fewer they say so and give nothing, and the product's forecast
(:attr:`PeriodForecast.best`) falls down the ladder. The range is also given per team, rep
and motion (:meth:`Forecaster.group_ranges`).

**Arrivals**: a period's bookings that come from deals not open at ``t`` (created after
``t``, or reopened): its actual - won by ``t`` - won from deals open at ``t``. The term is
the mean of the arrivals of comparable prior periods at the same point (those of the same
season when two or more are known, else the last 4), each scaled by the growth of the
company's recent bookings since (the mean of the 4 periods before each; the scale kept
between half and double).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.errors import InputError
from quarterdeck.forecast import montecarlo, runrate
from quarterdeck.forecast.timeline import DealTimeline, Snapshot, season
from quarterdeck.forecast.winmodel import WinModel, fit_win_model
from quarterdeck.periods import Period

__all__ = [
    "GROUPS",
    "METHODS",
    "Call",
    "DealForecast",
    "Forecaster",
    "GroupRange",
    "MethodForecast",
    "PeriodForecast",
]

METHODS: tuple[str, ...] = (
    "last_period",
    "trailing_mean",
    "seasonal_naive",
    "stage_weighted",
    "conversion",
    "deal_model",
    "range",
    "leader_commit",
    "leader_best_case",
)
"""Every method of the ladder, in the order reports list them."""

GROWTH_LIMITS = (0.5, 2.0)
"""The least and most a prior period's arrivals are scaled by the company's growth since."""

GROUPS: tuple[str, ...] = ("team", "owner", "motion")
"""The breakdowns of the range: by team, by rep (the deal's owner) and by motion."""

PRIOR_PERIODS = 8
"""How many completed periods the conversion rates and the deal model learn from."""

ARRIVAL_PERIODS = 4
"""How many completed periods the arrivals term averages."""

CHOICE_PERIODS = 4
"""How many of the latest prior periods that can tell them apart decide whether conversion
learns from the same season's periods or from all (:meth:`Forecaster.seasonal_conversion`)."""

MIN_PRIOR = 2
"""Fewer completed periods than this with deals in them, and the learned methods say so
and give nothing (the run rates still answer)."""

TRAINING_ROWS = 40_000
"""The deal model learns from at most this many (deal, moment) rows, drawn at random."""

SEASON = {"quarter": 4, "month": 3, "week": 13, "year": 1}
"""The lag of ``seasonal_naive`` in periods: a year for quarters, a quarter for months and
weeks."""

CORRELATION_POINTS = (0.1, 0.3, 0.5, 0.7)
"""The points of each prior period (shares of its length) whose forecasts fit the
correlation."""

CORRELATION_PERIODS = 8
"""How many of the latest completed periods the correlation is fitted on."""

CORRELATION_DRAWS = 300
"""Draws per prior forecast when fitting the correlation."""

CORRELATION_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
"""The period correlations tried."""

_TRAINING_POINTS = {"quarter": 14, "month": 7, "week": 2, "year": 30}
"""Days between the points of a prior period at which the deal model sees its deals."""


@dataclass(frozen=True)
class Call:
    """A recorded forecast call: when, for which period, commit and best case."""

    called_at: datetime
    period_start: date
    commit: float
    best_case: float


@dataclass(frozen=True)
class MethodForecast:
    """One method's forecast of the period's bookings: ``forecast`` (the point, or P50)
    and, for ranges, ``p10``/``p90``; ``open_part`` the part expected from the deals open
    at ``t`` (for methods that forecast them); ``note`` how it was made or why not
    (``forecast`` None)."""

    method: str
    forecast: float | None
    note: str
    p10: float | None = None
    p90: float | None = None
    open_part: float | None = None
    p_target: float | None = None
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class GroupRange:
    """The range of one group's bookings (a team, a rep or a motion, ``key`` None where
    unknown): won so far, P10, P50, P90, its target and the chance of making it, and how
    many deals were open in it."""

    by: str
    key: str | None
    closed_won: float
    p10: float
    p50: float
    p90: float
    target: float | None
    p_target: float | None
    open_deals: int


@dataclass(frozen=True)
class DealForecast:
    """The deal model's view of the deals open at ``t``: their numbers in the timeline, the
    probabilities and the reasons that raise or lower each (empty when not asked for)."""

    deal: np.ndarray
    deal_ids: pa.Array
    probability: np.ndarray
    reasons: tuple[tuple[tuple[str, float], ...], ...] = ()


@dataclass(frozen=True)
class PeriodForecast:
    """Every method's forecast of ``period`` made at ``at`` (``methods`` by name, in
    :data:`METHODS` order), with the bookings won so far and the snapshot behind them."""

    period: Period
    at: datetime
    closed_won: float
    target: float | None
    methods: dict[str, MethodForecast]
    snapshot: Snapshot = field(repr=False, compare=False)
    deals: DealForecast | None = field(default=None, repr=False, compare=False)
    arrivals: float | None = None
    groups: dict[str, tuple[GroupRange, ...]] = field(default_factory=dict)

    @property
    def best(self) -> MethodForecast:
        """The product's forecast: the range when it could be made, else the next method
        down the ladder that could."""
        for name in ("range", "deal_model", "conversion", "seasonal_naive", "trailing_mean"):
            result = self.methods.get(name)
            if result is not None and result.forecast is not None:
                return result
        return self.methods["last_period"]


class Forecaster:
    """Forecasts of periods of one ``kind`` from one :class:`DealTimeline`, keeping what
    several forecasts share (prior periods' snapshots, outcomes and models)."""

    def __init__(
        self,
        timeline: DealTimeline,
        kind: str = "quarter",
        *,
        calls: Sequence[Call] = (),
        teams: Mapping[str, str] | None = None,
        fiscal_year_start_month: int = 1,
        seed: int = 0,
        draws: int = montecarlo.DEFAULT_DRAWS,
    ) -> None:
        if kind not in SEASON:
            raise InputError(f"forecasts are made for weeks, months, quarters or years, not {kind}")
        self.timeline = timeline
        self.kind = kind
        self.fiscal_year_start_month = fiscal_year_start_month
        self.calls = tuple(sorted(calls, key=lambda c: c.called_at))
        self.teams = dict(teams or {})
        self.seed = seed
        self.draws = draws
        self._snapshots: dict[tuple[Period, datetime], Snapshot] = {}
        self._actuals: dict[Period, float] = {}
        self._models: dict[Period, WinModel | None] = {}
        self._correlations: dict[Period, montecarlo.CorrelationFit] = {}
        self._pits: dict[tuple[tuple[int, ...], float, float, int, int], float] = {}
        self._past: dict[tuple[int, int], montecarlo.PastPeriod | None] = {}
        self._model_notes: dict[Period, str] = {}
        self._cells: dict[tuple[Period, datetime], dict[tuple[str, bool], tuple[float, float]]] = {}
        self._first_booked: Period | None = None
        first = timeline.first_moment()
        self.first_period = None if first is None else self.period_of(first.date())

    # -- periods ----------------------------------------------------------------------------

    def period_of(self, day: date) -> Period:
        return Period.containing(day, self.kind, self.fiscal_year_start_month)

    def completed_before(self, at: datetime) -> list[Period]:
        """Periods that ended before ``at``, latest first, from the first with a won deal
        on (periods before any booking say nothing about how deals close)."""
        first = self.first_booked()
        if first is None:
            return []
        periods = []
        period = self.period_of(at.date()).previous()
        while period.start >= first.start:
            if _end(period) <= at:
                periods.append(period)
            period = period.previous()
        return periods

    def first_booked(self) -> Period | None:
        """The first period with bookings, as they stood at its end (None: none yet)."""
        if self._first_booked is None and self.first_period is not None:
            last = self.timeline.last_moment()
            period = self.first_period
            while last is not None and _end(period) <= last:
                if self.actual(period) > 0:
                    self._first_booked = period
                    break
                period = period.next()
        return self._first_booked

    def actual(self, period: Period) -> float:
        """The period's bookings as they stood at its end."""
        if period not in self._actuals:
            self._actuals[period] = self.timeline.bookings(_end(period), period)[0]
        return self._actuals[period]

    def snapshot(self, period: Period, at: datetime) -> Snapshot:
        key = (period, at)
        if key not in self._snapshots:
            self._snapshots[key] = self.timeline.features(at, period)
        return self._snapshots[key]

    def same_point(self, prior: Period, at: datetime, period: Period) -> datetime:
        """The moment of ``prior`` as far into it as ``at`` is into ``period``."""
        offset = at - _start(period)
        return min(_start(prior) + offset, _end(prior) - timedelta(seconds=1))

    def arrivals(self, prior: Period, at: datetime) -> float:
        """The bookings of completed ``prior`` not from deals won or open at ``at``."""
        snap = self.snapshot(prior, at)
        won_open = self.timeline.outcomes(snap.deal, _end(prior), prior).amount.sum()
        return max(0.0, self.actual(prior) - snap.closed_won - float(won_open))

    def level(self, period: Period) -> float | None:
        """The mean bookings of the (up to) :data:`ARRIVAL_PERIODS` completed periods before
        ``period``: the company's recent size, for scaling arrivals; None with fewer than
        2 such periods (too little to tell a size from a start-up quarter)."""
        before = self.completed_before(_start(period))[:ARRIVAL_PERIODS]
        if len(before) < 2:
            return None
        return float(np.mean([self.actual(p) for p in before]))

    def expected_arrivals(
        self, period: Period, at: datetime, learned: list[Period], *, seasonal: bool = False
    ) -> list[float]:
        """The arrivals ``period`` can expect from ``at``: those of comparable completed
        periods at the same point (:func:`_arrival_periods`; with ``seasonal``, the latest
        of the same season), each scaled by how the company's recent size
        (:meth:`level`) changed since (a growing company's arrivals grow with it), by no
        less than half and no more than double."""
        now = self.level(period)
        out = []
        comparable = (
            _same_season(learned, period)[:ARRIVAL_PERIODS]
            if seasonal
            else _arrival_periods(learned, period)
        )
        for prior in comparable:
            value = self.arrivals(prior, self.same_point(prior, at, period))
            then = self.level(prior)
            scale = float(np.clip(now / then, *GROWTH_LIMITS)) if now and then else 1.0
            out.append(value * scale)
        return out

    # -- the forecast -----------------------------------------------------------------------

    def forecast(
        self,
        period: Period,
        at: datetime,
        *,
        target: float | None = None,
        reasons: bool = False,
        methods: Sequence[str] = METHODS,
        targets_by: Mapping[str, Mapping[str | None, float]] | None = None,
    ) -> PeriodForecast:
        """Every method's forecast of ``period`` at ``at`` (see the module docstring).
        ``targets_by``, when given (targets per group of each of :data:`GROUPS`), also gives
        the range of each team, rep and motion (:meth:`group_ranges`)."""
        if not _start(period) <= at <= _end(period):
            raise InputError(
                f"a forecast of {period.label} is made during it, not at {at:%Y-%m-%d %H:%M}"
            )
        snap = self.snapshot(period, at)
        priors = self.completed_before(at)
        results: dict[str, MethodForecast] = {}
        history = [self.actual(p) for p in reversed(priors)]
        results.update(_run_rates(history, self.kind))
        results["stage_weighted"] = self._stage_weighted(snap, at)
        learned = self.learned(period, at)
        arrivals_past = self.expected_arrivals(period, at, learned)
        arrivals = float(np.mean(arrivals_past)) if arrivals_past else None
        results["conversion"] = self._conversion(snap, period, at, learned)
        deals: DealForecast | None = None
        if "deal_model" in methods or "range" in methods:
            deals, model_result = self._deal_model(snap, period, learned, arrivals, reasons)
            results["deal_model"] = model_result
            results["range"] = self._range(snap, period, deals, learned, arrivals_past, target)
        results.update(self._calls(period, at))
        ordered = {m: results[m] for m in METHODS if m in results and m in methods}
        groups: dict[str, tuple[GroupRange, ...]] = {}
        if targets_by is not None and deals is not None:
            groups = self.group_ranges(period, at, deals, learned, arrivals_past, targets_by)
        return PeriodForecast(
            period=period,
            at=at,
            closed_won=snap.closed_won,
            target=target,
            methods=ordered,
            snapshot=snap,
            deals=deals,
            arrivals=arrivals,
            groups=groups,
        )

    def group_ranges(
        self,
        period: Period,
        at: datetime,
        deals: DealForecast,
        learned: list[Period],
        arrivals_past: list[float],
        targets_by: Mapping[str, Mapping[str | None, float]],
    ) -> dict[str, tuple[GroupRange, ...]]:
        """The range of each team, rep and motion, largest P50 first: its open deals (as the
        deal model sees them), its share of the arrivals (its share of the arrivals of the
        same comparable periods), what it has won so far, drawn with the company's fitted
        correlation."""
        snap = self.snapshot(period, at)
        correlation = self.correlation(period, learned).correlation
        won, won_amount = self.timeline.booked(at, period)
        won_deals = np.flatnonzero(won)
        owners = _owner_labels(snap)
        arrival_deals: list[tuple[np.ndarray, np.ndarray, datetime]] = []
        for prior in _arrival_periods(learned, period):
            moment = self.same_point(prior, at, period)
            then, _ = self.timeline.booked(moment, prior)
            end, amount = self.timeline.booked(_end(prior), prior)
            came = end & ~then
            came[self.snapshot(prior, moment).deal] = False
            arrival_deals.append((np.flatnonzero(came), amount, _end(prior)))
        result: dict[str, tuple[GroupRange, ...]] = {}
        for by in GROUPS:
            open_key = self._labels(by, snap.deal, at)
            won_key = self._labels(by, won_deals, at)
            share = _shares(
                [
                    (self._labels(by, came, when), amount[came])
                    for came, amount, when in arrival_deals
                ]
            )
            targets = targets_by.get(by, {})
            keys = sorted(set(open_key) | set(won_key), key=lambda k: (k is None, k or ""))
            ranges = []
            for key in keys:
                mine = open_key == key if key is not None else _is_none(open_key)
                closed = won_key == key if key is not None else _is_none(won_key)
                part = share.get(key, 0.0)
                open_period = montecarlo.OpenPeriod(
                    deals.probability[mine],
                    snap.amount[mine],
                    owners[mine],
                    _arrivals([a * part for a in arrivals_past if a * part > 0]),
                    float(won_amount[won_deals[closed]].sum()),
                )
                target = targets.get(key)
                drawn = montecarlo.simulate(
                    open_period, correlation, draws=self.draws, seed=self.seed, target=target
                )
                ranges.append(
                    GroupRange(
                        by,
                        key,
                        open_period.closed,
                        drawn.p10,
                        drawn.p50,
                        drawn.p90,
                        target,
                        drawn.p_target,
                        int(mine.sum()),
                    )
                )
            result[by] = tuple(sorted(ranges, key=lambda r: (-r.p50, r.key is None, r.key or "")))
        return result

    def _labels(self, by: str, deal: np.ndarray, at: datetime) -> np.ndarray:
        """Each deal's team, owner (at ``at``) or motion, None where unknown."""
        if by == "motion":
            values = self.timeline.motions(deal)
            return np.asarray([v or None for v in values], dtype=object)
        owners = self.timeline.owners_at(deal, at).to_pylist()
        if by == "owner":
            return np.asarray(owners, dtype=object)
        return np.asarray([self.teams.get(o) if o else None for o in owners], dtype=object)

    def _stage_weighted(self, snap: Snapshot, at: datetime) -> MethodForecast:
        table = snap.table
        amount = snap.amount
        probability = np.asarray(
            table.column("probability").to_numpy(zero_copy_only=False), dtype=float
        )
        due = (
            np.asarray(table.column("due_in_period").to_numpy(zero_copy_only=False), dtype=float)
            == 1
        )
        if len(probability) and not np.isnan(probability).all():
            weighted = float(np.nansum(amount[due] * probability[due]))
            return MethodForecast(
                "stage_weighted",
                snap.closed_won + weighted,
                "won so far + amount x the CRM's probability of each open deal due in the period",
                open_part=weighted,
            )
        rates = self.timeline.stage_win_rates(at)
        codes = self.timeline.stage_codes(snap)
        p = np.where(codes >= 0, rates[np.maximum(codes, 0)], np.nan)
        weighted = float(np.nansum(amount * p))
        return MethodForecast(
            "stage_weighted",
            snap.closed_won + weighted,
            "the CRM holds no probabilities: won so far + amount x each stage's historical win "
            "rate, over every open deal (no time horizon)",
            open_part=weighted,
        )

    def learned(self, period: Period, at: datetime) -> list[Period]:
        """The (up to) :data:`PRIOR_PERIODS` latest periods completed by ``at`` that had
        deals open at the same point: what the learned methods learn from."""
        return [
            p
            for p in self.completed_before(at)[:PRIOR_PERIODS]
            if self._has_deals(p, self.same_point(p, at, period))
        ]

    def _conversion(
        self, snap: Snapshot, period: Period, at: datetime, learned: list[Period]
    ) -> MethodForecast:
        if len(learned) < MIN_PRIOR:
            return MethodForecast("conversion", None, _too_few(len(learned), "conversion rates"))
        seasonal, why = self.seasonal_conversion(period, at, learned)
        expected, arrivals = self._converted(snap, period, at, learned, seasonal)
        same = _count(len(_same_season(learned, period)), self.kind)
        basis = (
            f"the {same} of the same season ({why})"
            if seasonal
            else f"the last {_count(len(learned), self.kind)}" + (f" ({why})" if why else "")
        )
        return MethodForecast(
            "conversion",
            snap.closed_won + expected + arrivals,
            f"won so far + open value x the share won by the end in {basis} at the same "
            "point, per stage and due or not, + their arrivals",
            open_part=expected,
        )

    def _converted(
        self, snap: Snapshot, period: Period, at: datetime, learned: list[Period], seasonal: bool
    ) -> tuple[float, float]:
        """What the deals open in ``snap`` are expected to bring in by the period's end (per
        stage and due or not, the share of such value won in the comparable periods at the
        same point), and the comparable periods' mean arrivals."""
        basis = _same_season(learned, period) if seasonal else learned
        won_value: dict[tuple[str, bool], float] = {}
        open_value: dict[tuple[str, bool], float] = {}
        for prior in basis:
            for key, (value, won) in self._cell_values(
                prior, self.same_point(prior, at, period)
            ).items():
                open_value[key] = open_value.get(key, 0.0) + value
                won_value[key] = won_value.get(key, 0.0) + won
        total_rate = (
            sum(won_value.values()) / sum(open_value.values()) if sum(open_value.values()) else 0.0
        )
        expected = 0.0
        for key, value in zip(_groups(snap), snap.amount, strict=True):
            base = open_value.get(key, 0.0)
            rate = won_value.get(key, 0.0) / base if base > 0 else total_rate
            expected += float(value) * rate
        arrivals = self.expected_arrivals(period, at, learned, seasonal=seasonal)
        return expected, float(np.mean(arrivals)) if arrivals else 0.0

    def _cell_values(
        self, prior: Period, moment: datetime
    ) -> dict[tuple[str, bool], tuple[float, float]]:
        """Per stage and due-or-not group of the deals open in completed ``prior`` at
        ``moment``: their value then and the value of it won by the period's end. Kept."""
        key = (prior, moment)
        if key not in self._cells:
            past = self.snapshot(prior, moment)
            done = self.timeline.outcomes(past.deal, _end(prior), prior)
            cells: dict[tuple[str, bool], tuple[float, float]] = {}
            for group, value, won in zip(_groups(past), past.amount, done.amount, strict=True):
                had, got = cells.get(group, (0.0, 0.0))
                cells[group] = (had + float(value), got + float(won))
            self._cells[key] = cells
        return self._cells[key]

    def seasonal_conversion(
        self, period: Period, at: datetime, learned: list[Period]
    ) -> tuple[bool, str]:
        """Whether conversion learns from the ``learned`` periods of ``period``'s season
        only, and why. Where both choices differ, each forecasts the latest
        :data:`CHOICE_PERIODS` prior periods that can tell them apart (those with periods of
        their own season and of others before them) at the same point, as it would have
        then; the smaller total error wins. With none to tell them apart: the same season."""
        same = _same_season(learned, period)
        if not same or len(same) == len(learned):
            return False, ""
        errors = {True: 0.0, False: 0.0}
        tested = 0
        for prior in learned:
            if tested == CHOICE_PERIODS:
                break
            moment = self.same_point(prior, at, period)
            theirs = self.learned(prior, moment)
            if len(theirs) < MIN_PRIOR or len(_same_season(theirs, prior)) in (0, len(theirs)):
                continue
            snap = self.snapshot(prior, moment)
            for seasonal in (True, False):
                expected, arrivals = self._converted(snap, prior, moment, theirs, seasonal)
                errors[seasonal] += abs(self.actual(prior) - snap.closed_won - expected - arrivals)
            tested += 1
        if not tested:
            return True, "no earlier period yet tells the two choices apart"
        last = _count(tested, self.kind)
        if errors[True] <= errors[False]:
            return True, f"the same season forecast the last {last} better than all did"
        return False, f"all forecast the last {last} better than the same season did"

    def model(self, period: Period, learned: list[Period]) -> WinModel | None:
        """The deal model for forecasts of ``period``: trained on ``learned`` periods' deals
        at points every few days, labelled by their outcome at each period's end."""
        if period in self._models:
            return self._models[period]
        rows: list[pa.Table] = []
        labels: list[np.ndarray] = []
        order: list[np.ndarray] = []
        step = timedelta(days=_TRAINING_POINTS[self.kind])
        for prior in learned:
            moment = _start(prior)
            while moment < _end(prior):
                past = self.snapshot(prior, moment)
                if past.table.num_rows:
                    done = self.timeline.outcomes(past.deal, _end(prior), prior)
                    rows.append(past.features())
                    labels.append(done.won)
                    order.append(np.full(past.table.num_rows, _us(moment), dtype=np.int64))
                moment += step
        if not rows:
            self._models[period] = None
            self._model_notes[period] = "no deals in the prior periods to learn from"
            return None
        table = pa.concat_tables(rows)
        won = np.concatenate(labels)
        when = np.concatenate(order)
        if table.num_rows > TRAINING_ROWS:
            pick = np.sort(
                np.random.default_rng(self.seed).choice(
                    table.num_rows, TRAINING_ROWS, replace=False
                )
            )
            table, won, when = table.take(pa.array(pick)), won[pick], when[pick]
        model = fit_win_model(table, won, when, labels=FEATURE_WORDS, seed=self.seed, refit=False)
        self._models[period] = model
        return model

    def _deal_model(
        self,
        snap: Snapshot,
        period: Period,
        learned: list[Period],
        arrivals: float | None,
        reasons: bool,
    ) -> tuple[DealForecast | None, MethodForecast]:
        if len(learned) < MIN_PRIOR:
            return None, MethodForecast(
                "deal_model", None, _too_few(len(learned), "the deal model")
            )
        model = self.model(period, learned)
        if model is None:
            return None, MethodForecast("deal_model", None, self._model_notes[period])
        features = snap.features()
        p = model.predict(features) if features.num_rows else np.zeros(0)
        why = tuple(model.reasons(features)) if reasons and features.num_rows else ()
        deals = DealForecast(snap.deal, snap.table.column("deal_id").combine_chunks(), p, why)
        expected = float(p @ snap.amount)
        return deals, MethodForecast(
            "deal_model",
            snap.closed_won + expected + (arrivals or 0.0),
            "won so far + each open deal's probability of being won by the end x its amount "
            "+ arrivals",
            open_part=expected,
        )

    def _range(
        self,
        snap: Snapshot,
        period: Period,
        deals: DealForecast | None,
        learned: list[Period],
        arrivals_past: list[float],
        target: float | None,
    ) -> MethodForecast:
        if deals is None:
            return MethodForecast("range", None, "needs the deal model")
        fit = self.correlation(period, learned)
        arrivals = _arrivals(arrivals_past)
        owners = _owner_labels(snap)
        open_period = montecarlo.OpenPeriod(
            deals.probability, snap.amount, owners, arrivals, snap.closed_won
        )
        result = montecarlo.simulate(
            open_period, fit.correlation, draws=self.draws, seed=self.seed, target=target
        )
        return MethodForecast(
            "range",
            result.p50,
            f"{self.draws:,} draws of the open deals (deal model) and arrivals, deals sharing "
            f"a period factor (rho {fit.correlation.period:.2f}) and an owner factor; " + fit.note,
            p10=result.p10,
            p90=result.p90,
            open_part=float(deals.probability @ snap.amount),
            p_target=result.p_target,
            draws=result.totals,
        )

    def correlation(self, period: Period, learned: list[Period]) -> montecarlo.CorrelationFit:
        """How much deals share their fate, fitted once per period so that the ``learned``
        periods' actuals fall uniformly across the ranges forecast for them at
        :data:`CORRELATION_POINTS` of each (each by the deal model it would have had then,
        trained on the periods before it)."""
        if period in self._correlations:
            return self._correlations[period]
        past = [
            item
            for prior in learned[:CORRELATION_PERIODS]
            for share in CORRELATION_POINTS
            if (item := self._past_forecast(prior, share)) is not None
        ]
        fit = montecarlo.fit_correlation(
            past,
            grid=CORRELATION_GRID,
            draws=CORRELATION_DRAWS,
            seed=self.seed,
            cache=self._pits,
        )
        self._correlations[period] = fit
        return fit

    def _past_forecast(self, prior: Period, share: float) -> montecarlo.PastPeriod | None:
        """``prior`` as the range would have seen it ``share`` of the way through (by the
        deal model it would have had), with its actual; None when it could not be made.
        Kept: every later period's correlation fit reads the same."""
        key = (prior.start.toordinal(), round(share * 1000))
        if key in self._past:
            return self._past[key]
        result = None
        moment = _start(prior) + (_end(prior) - _start(prior)) * share
        earlier = self.completed_before(_start(prior))[:PRIOR_PERIODS]
        known = [e for e in earlier if self._has_deals(e, self.same_point(e, moment, prior))]
        model = self.model(prior, known) if len(known) >= MIN_PRIOR else None
        snap = self.snapshot(prior, moment)
        if model is not None and snap.table.num_rows:
            open_period = montecarlo.OpenPeriod(
                model.predict(snap.features()),
                snap.amount,
                _owner_labels(snap),
                _arrivals(self.expected_arrivals(prior, moment, known)),
                snap.closed_won,
            )
            result = montecarlo.PastPeriod(open_period, self.actual(prior), key)
        self._past[key] = result
        return result

    def _has_deals(self, period: Period, at: datetime) -> bool:
        return self.snapshot(period, at).table.num_rows > 0

    def _calls(self, period: Period, at: datetime) -> dict[str, MethodForecast]:
        latest = None
        for call in self.calls:
            if call.called_at > at:
                break
            if call.period_start == period.start:
                latest = call
        if latest is None:
            note = f"no call recorded for {period.label} by then"
            return {
                "leader_commit": MethodForecast("leader_commit", None, note),
                "leader_best_case": MethodForecast("leader_best_case", None, note),
            }
        said = f"the leader's call of {latest.called_at:%Y-%m-%d %H:%M}"
        return {
            "leader_commit": MethodForecast("leader_commit", latest.commit, said + " (commit)"),
            "leader_best_case": MethodForecast(
                "leader_best_case", latest.best_case, said + " (best case)"
            ),
        }


FEATURE_WORDS = {
    "stage_order": "stage",
    "probability": "the CRM's probability",
    "amount": "amount",
    "amount_known": "amount known",
    "amount_change": "amount change since first",
    "amount_cut": "cut from its highest amount",
    "days_to_close": "days to the close date",
    "due_in_period": "due in the period",
    "days_left": "days left in the period",
    "pushes": "close date pushes",
    "age": "age in days",
    "days_in_stage": "days in stage",
    "stage_time_ratio": "time in stage against the stage's median",
    "stage_changes": "stage changes",
    "regressions": "moves back a stage",
    "owner_win_rate": "the owner's win rate",
    "activities": "activities so far",
    "activities_30d": "activities in 30 days",
    "days_since_activity": "days since the last activity",
    "stage": "stage",
    "forecast_category": "forecast category",
    "motion": "motion",
    "segment": "segment",
    "pipeline": "pipeline",
    "product": "product",
    "season": "the period's place in its cycle",
}
"""How the reasons of a deal's probability name each feature."""


def _run_rates(history: list[float], kind: str) -> dict[str, MethodForecast]:
    made = (
        runrate.last_period(history),
        runrate.trailing_mean(history, 4),
        runrate.seasonal_naive(history, SEASON[kind]),
    )
    return {r.method: MethodForecast(r.method, r.forecast, r.note) for r in made}


def _shares(parts: list[tuple[np.ndarray, np.ndarray]]) -> dict[str | None, float]:
    """Each group's share of the arrivals of the comparable periods, pooled: ``parts`` holds
    per period the arrival deals' group labels and amounts."""
    totals: dict[str | None, float] = {}
    for labels, amounts in parts:
        for key, value in zip(labels.tolist(), amounts.tolist(), strict=True):
            totals[key] = totals.get(key, 0.0) + value
    whole = sum(totals.values())
    return {key: value / whole for key, value in totals.items()} if whole > 0 else {}


def _is_none(labels: np.ndarray) -> np.ndarray:
    return np.asarray([v is None for v in labels.tolist()], dtype=bool)


def _same_season(periods: list[Period], period: Period) -> list[Period]:
    """Those of ``periods`` at ``period``'s place in the cycle (:func:`season`)."""
    return [p for p in periods if season(p) == season(period)]


def _arrival_periods(learned: list[Period], period: Period) -> list[Period]:
    """The periods whose arrivals stand for ``period``'s: those of the same season (place
    in the cycle) among ``learned`` when there are 2 or more, else the latest
    :data:`ARRIVAL_PERIODS`."""
    same = _same_season(learned, period)
    return same[:ARRIVAL_PERIODS] if len(same) >= 2 else learned[:ARRIVAL_PERIODS]


def _arrivals(past: list[float]) -> montecarlo.Arrivals:
    return montecarlo.Arrivals(past=tuple(past)) if past else montecarlo.Arrivals()


def _groups(snap: Snapshot) -> list[tuple[str, bool]]:
    stages = snap.table.column("stage").to_pylist()
    due = snap.table.column("due_in_period").to_numpy(zero_copy_only=False) == 1
    return [(s or "", bool(d)) for s, d in zip(stages, due, strict=True)]


def _owner_labels(snap: Snapshot) -> np.ndarray:
    """A number per deal for its owner (deals without one each get a number of their own)."""
    owners = snap.table.column("owner_id").combine_chunks()
    if not pa.types.is_dictionary(owners.type):
        owners = owners.dictionary_encode()
    codes = owners.indices
    known = np.asarray(pc.fill_null(codes, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    alone = -1 - np.arange(len(known), dtype=np.int64)
    return np.where(known >= 0, known, alone)


def _count(count: int, kind: str) -> str:
    return f"{count} {kind}" if count == 1 else f"{count} {kind}s"


def _too_few(count: int, what: str) -> str:
    return (
        f"{what} need{'s' if what.startswith('the') else ''} {MIN_PRIOR} completed periods "
        f"with deals before this one; the history holds {count}"
    )


def _start(period: Period) -> datetime:
    return datetime.combine(period.start, time.min)


def _end(period: Period) -> datetime:
    """The last moment of the period (its outcomes are read then)."""
    return datetime.combine(period.end, time.max)


def _us(moment: datetime) -> int:
    return int(np.datetime64(moment, "us").astype(np.int64))
