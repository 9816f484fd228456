"""Walk-forward backtests: every method of the ladder, forecast as it would have been in
each past period at each check point, scored against what closed.

For each period of the backtest and each check point in it (the start of every week of
the period, and the named points: day 1, the start of week 4, 30 and 14 days before the
end), the :class:`~quarterdeck.forecast.ladder.Forecaster` makes every method's forecast
from what was knowable then (it refits on the periods completed by then) and the result is
compared with the period's bookings as they stood at its end. Two targets are scored:

* the **whole period**: the forecast against the period's bookings;
* the **open deals**: the part each method expects from the deals open at the check point
  against the value those deals brought in (methods that do not forecast deals are not
  scored on it).

Scores (:mod:`forecast.scoring`): accuracy (max(0, 1 - |actual - forecast| / actual)), WAPE,
signed bias (positive: over-forecast), the share of forecasts within 5% and 10%, the 80%
interval's coverage (P10..P90, for the range), pinball loss and CRPS; and for the deal
model's probabilities, over every (open deal, check point): AUC, Brier score and its
skill against the CRM's probabilities (the stage defaults where a deal has none; the base
rate where neither exists), expected calibration error and the reliability table.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import numpy as np

from quarterdeck.errors import InputError
from quarterdeck.forecast import scoring
from quarterdeck.forecast.ladder import METHODS, MIN_PRIOR, Forecaster, PeriodForecast
from quarterdeck.periods import Period

__all__ = [
    "NAMED_POINTS",
    "Backtest",
    "Forecast",
    "MethodScores",
    "backtest",
    "check_points",
]

NAMED_POINTS: tuple[str, ...] = (
    "day 1",
    "week 4",
    "30 days before the end",
    "14 days before the end",
)
"""The named check points, scored on their own as well as with every week."""


@dataclass(frozen=True)
class Forecast:
    """One method's forecast of one period at one check point, and what happened."""

    period: Period
    at: datetime
    points: tuple[str, ...]
    method: str
    forecast: float
    actual: float
    p10: float | None
    p90: float | None
    open_forecast: float | None
    open_actual: float
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class MethodScores:
    """A method's scores over the backtest: ``whole`` (every check point, the whole
    period), ``open`` (the deals open at each check point; None when the method does not
    forecast them), ``by_point`` (the whole period at each named point), ``missing`` how
    many check points it could not forecast."""

    method: str
    whole: scoring.PointScores | None
    open: scoring.PointScores | None
    by_point: dict[str, scoring.PointScores]
    missing: int


@dataclass(frozen=True)
class Backtest:
    """Result of :func:`backtest`."""

    kind: str
    periods: tuple[Period, ...]
    check_points: int
    forecasts: tuple[Forecast, ...]
    methods: tuple[MethodScores, ...]
    deals: scoring.ProbabilityScores | None
    deals_reference: str
    notes: tuple[str, ...]
    seconds: float

    def scores(self, method: str) -> MethodScores:
        for scores in self.methods:
            if scores.method == method:
                return scores
        raise KeyError(method)

    def as_dict(self) -> dict[str, object]:
        """The backtest as plain data (for ``--json``): per method at least ``method``,
        ``wape``, ``accuracy``, ``bias`` and ``coverage_80`` of the whole-period target."""
        return {
            "kind": self.kind,
            "periods": [p.label for p in self.periods],
            "check_points": self.check_points,
            "seconds": round(self.seconds, 1),
            "methods": [_method_dict(m) for m in self.methods],
            "deal_probabilities": None
            if self.deals is None
            else _probability_dict(self.deals, self.deals_reference),
            "notes": list(self.notes),
        }


def check_points(period: Period) -> list[tuple[datetime, tuple[str, ...]]]:
    """The moments a backtest forecasts ``period`` at, with the names they carry: 00:00 of
    the first day of every week of the period (counted from its first day), of its 22nd
    day (the start of week 4), and of the days 30 and 14 days before its last day."""
    start = datetime.combine(period.start, time.min)
    last = datetime.combine(period.end, time.min)
    named = [
        (start, "day 1"),
        (start + timedelta(days=21), "week 4"),
        (last - timedelta(days=30), "30 days before the end"),
        (last - timedelta(days=14), "14 days before the end"),
    ]
    weeks = (period.end - period.start).days // 7 + 1
    moments = {start + timedelta(days=7 * k) for k in range(weeks)}
    moments |= {m for m, _ in named if start <= m <= last}
    return [(m, tuple(name for moment, name in named if moment == m)) for m in sorted(moments)]


def backtest(
    forecaster: Forecaster,
    periods: Sequence[Period] | int = 8,
    *,
    named_only: bool = False,
    targets: Callable[[Period], float | None] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Backtest:
    """Walk forward over ``periods`` (or the last ``periods`` completed ones that have at
    least ``MIN_PRIOR`` completed periods before them), forecasting each at its check
    points (only the named ones with ``named_only``) as it would have been then."""
    started = clock.perf_counter()
    chosen, notes = _periods(forecaster, periods)
    forecasts: list[Forecast] = []
    deal_won: list[np.ndarray] = []
    deal_p: list[np.ndarray] = []
    deal_ref: list[np.ndarray] = []
    points = 0
    for index, period in enumerate(chosen):
        moments = [(m, names) for m, names in check_points(period) if names or not named_only]
        actual = forecaster.actual(period)
        end = datetime.combine(period.end, time.max)
        for at, names in moments:
            points += 1
            result = forecaster.forecast(period, at, target=targets(period) if targets else None)
            done = forecaster.timeline.outcomes(result.snapshot.deal, end, period)
            open_actual = float(done.amount.sum())
            forecasts.extend(_rows(result, names, actual, open_actual))
            if result.deals is not None and len(result.deals.probability):
                deal_won.append(done.won)
                deal_p.append(result.deals.probability)
                deal_ref.append(_reference(result))
        if progress:
            progress(period.label, (index + 1) / len(chosen))
    methods = tuple(_score(method, forecasts, points) for method in METHODS)
    deals = None
    reference = "the CRM's probabilities (stage defaults where a deal has none)"
    if deal_won:
        won = np.concatenate(deal_won)
        p = np.concatenate(deal_p)
        ref = np.concatenate(deal_ref)
        if np.isnan(ref).all():
            reference = "the base rate (the CRM holds no probabilities)"
            deals = scoring.score_probabilities(won, p)
        else:
            ref = np.where(np.isnan(ref), won.mean(), ref)
            deals = scoring.score_probabilities(won, p, ref)
    return Backtest(
        kind=forecaster.kind,
        periods=tuple(chosen),
        check_points=points,
        forecasts=tuple(forecasts),
        methods=methods,
        deals=deals,
        deals_reference=reference,
        notes=tuple(notes),
        seconds=clock.perf_counter() - started,
    )


def _periods(
    forecaster: Forecaster, periods: Sequence[Period] | int
) -> tuple[list[Period], list[str]]:
    if not isinstance(periods, int):
        return list(periods), []
    if isinstance(periods, bool) or periods < 1:
        raise InputError(f"a backtest needs 1 period or more, not {periods!r}")
    last_moment = forecaster.timeline.last_moment()
    if last_moment is None:
        raise InputError("there is no deal history to backtest: import a CRM export first")
    completed = forecaster.completed_before(last_moment)
    usable = [
        p
        for p in completed
        if len(forecaster.completed_before(datetime.combine(p.start, time.min))) >= MIN_PRIOR
    ]
    chosen = sorted(usable[:periods], key=lambda p: p.start)
    notes = []
    if len(chosen) < periods:
        notes.append(
            f"the history allows {len(chosen)} of the {periods} periods asked for: a period "
            f"needs {MIN_PRIOR} completed periods before it"
        )
    if not chosen:
        raise InputError(
            f"no completed {forecaster.kind} has {MIN_PRIOR} completed periods of history "
            "before it: a backtest needs a longer history"
        )
    return chosen, notes


def _rows(
    result: PeriodForecast, names: tuple[str, ...], actual: float, open_actual: float
) -> list[Forecast]:
    return [
        Forecast(
            period=result.period,
            at=result.at,
            points=names,
            method=m.method,
            forecast=m.forecast,
            actual=actual,
            p10=m.p10,
            p90=m.p90,
            open_forecast=m.open_part,
            open_actual=open_actual,
            draws=m.draws,
        )
        for m in result.methods.values()
        if m.forecast is not None
    ]


def _reference(result: PeriodForecast) -> np.ndarray:
    """The CRM's probability of each open deal (its stage default where it has none)."""
    probability = result.snapshot.table.column("probability").to_numpy(zero_copy_only=False)
    return np.asarray(probability, dtype=np.float64)


def _score(method: str, forecasts: list[Forecast], points: int) -> MethodScores:
    rows = [f for f in forecasts if f.method == method]
    if not rows:
        return MethodScores(method, None, None, {}, points)
    whole = _points(rows)
    opened = [r for r in rows if r.open_forecast is not None]
    open_scores = (
        scoring.score_points(
            np.array([r.open_actual for r in opened]), np.array([r.open_forecast for r in opened])
        )
        if opened and sum(r.open_actual for r in opened) > 0
        else None
    )
    by_point = {
        name: _points(named)
        for name in NAMED_POINTS
        if (named := [r for r in rows if name in r.points])
    }
    return MethodScores(method, whole, open_scores, by_point, points - len(rows))


def _points(rows: list[Forecast]) -> scoring.PointScores:
    actual = np.array([r.actual for r in rows])
    p50 = np.array([r.forecast for r in rows])
    ranged = all(r.p10 is not None and r.p90 is not None for r in rows)
    samples = None
    if ranged and all(r.draws is not None for r in rows):
        size = min(len(r.draws) for r in rows if r.draws is not None)
        samples = np.vstack([r.draws[:size] for r in rows if r.draws is not None])
    return scoring.score_points(
        actual,
        p50,
        np.array([r.p10 for r in rows]) if ranged else None,
        np.array([r.p90 for r in rows]) if ranged else None,
        samples,
    )


def _method_dict(m: MethodScores) -> dict[str, object]:
    whole = m.whole
    out: dict[str, object] = {
        "method": m.method,
        "forecasts": 0 if whole is None else whole.periods,
        "missing": m.missing,
    }
    out |= _point_dict(whole)
    out["open_deals"] = None if m.open is None else _point_dict(m.open)
    out["by_point"] = {name: _point_dict(s) for name, s in m.by_point.items()}
    return out


def _point_dict(s: scoring.PointScores | None) -> dict[str, object]:
    if s is None:
        return {"wape": None, "accuracy": None, "bias": None, "coverage_80": None}
    return {
        "wape": _round(s.wape),
        "accuracy": _round(s.accuracy),
        "bias": _round(s.bias),
        "within_5": _round(s.within_5),
        "within_10": _round(s.within_10),
        "coverage_80": _round(s.coverage),
        "pinball": _round(s.pinball, 2),
        "crps": _round(s.crps, 2),
    }


def _probability_dict(s: scoring.ProbabilityScores, reference: str) -> dict[str, object]:
    return {
        "deals": s.deals,
        "won": s.won,
        "base_rate": _round(s.base_rate),
        "auc": _round(s.auc),
        "brier": _round(s.brier),
        "brier_skill": _round(s.brier_skill),
        "reference": reference,
        "ece": _round(s.ece),
        "reliability": [
            {
                "low": b.low,
                "high": b.high,
                "count": b.count,
                "mean_predicted": _round(b.mean_predicted),
                "observed_rate": _round(b.observed_rate),
            }
            for b in s.reliability
        ],
    }


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)
