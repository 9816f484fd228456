"""How good a forecast was: scores for period totals and for deal probabilities.

Point forecasts of a period's bookings, over periods ``t`` with actual ``a_t`` and
forecast ``f_t`` (money, any unit, the same for both):

* **accuracy** of a period = ``max(0, 1 - |a - f| / a)``; for ``a = 0`` it is 1 when
  ``f = 0`` and 0 otherwise (any miss of nothing is a total miss).
* **WAPE** = ``sum |a - f| / sum a`` (None when nothing was booked).
* **bias** = ``sum (f - a) / sum a``, signed: positive means the forecast was too high
  (over-forecast), negative too low (None when nothing was booked).
* **within(tol)** = the share of periods with ``|a - f| <= tol * a`` (a period with
  ``a = 0`` is within only when ``f = 0``).

Ranges and distributions of a period's total:

* **pinball loss** of a quantile forecast ``q_t`` at level ``tau`` =
  ``tau * (a - q)`` when ``a >= q``, else ``(1 - tau) * (q - a)``; reported as the mean over
  periods and levels.
* **coverage** = the share of periods with ``low <= a <= high`` (P10..P90 should hold 80%).
* **CRPS** of a period's draws ``x_1..x_n`` = ``E|X - a| - E|X - X'| / 2`` with ``X, X'``
  independent draws of the empirical distribution of the ``x_i`` (the exact CRPS of that
  step function; with ``x_(i)`` sorted, ``E|X - X'| = 2/n^2 * sum_i (2i - n - 1) x_(i)``).
* **PIT** of a period = the share of its draws below the actual, ties counted half:
  ``(#{x < a} + #{x = a} / 2) / n``. A well-calibrated range gives PITs spread evenly
  over [0, 1]; PITs bunched at 0 and 1 mean ranges too narrow, bunched at 1/2 too wide.

Deal probabilities ``p_i`` against outcomes ``y_i`` (1 won, 0 lost):

* **AUC** = the chance that a won deal got a higher probability than a lost one, ties
  counted half (the Mann-Whitney statistic); None when all deals were won or all lost.
* **Brier score** = ``mean (p - y)^2``; **Brier skill** = ``1 - brier / brier_ref`` against
  reference probabilities (by default the base rate of the deals scored): above 0 is
  better than the reference.
* **ECE** (expected calibration error) = ``sum_b (n_b / n) * |mean p in b - won share in b|``
  over ``bins`` equal-width bins, bin ``k`` holding ``k/bins <= p < (k+1)/bins`` (the last
  one also ``p = 1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quarterdeck.errors import InputError

__all__ = [
    "PointScores",
    "ProbabilityScores",
    "ReliabilityBin",
    "accuracy",
    "auc",
    "bias",
    "brier",
    "brier_skill",
    "coverage",
    "crps",
    "ece",
    "numbers",
    "pinball",
    "pit",
    "reliability",
    "score_points",
    "score_probabilities",
    "wape",
    "within",
]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ReliabilityBin:
    """One row of a reliability table: deals with ``low <= p < high`` (the last bin also
    takes ``p = 1``), how many, their mean probability and the share of them won (both None
    for an empty bin)."""

    low: float
    high: float
    count: int
    mean_predicted: float | None
    observed_rate: float | None


@dataclass(frozen=True)
class PointScores:
    """Scores of period-total forecasts over ``periods`` periods (see the module docstring).

    ``accuracy`` is the mean of the periods' accuracies (each in ``accuracies``, oldest
    first); ``within_5`` and ``within_10`` the share of periods within 5% and 10%.
    ``pinball`` covers the levels given (0.5, and 0.1 and 0.9 when P10 and P90 are);
    ``coverage`` is the share inside P10..P90; ``crps`` (mean over periods) and ``pit`` need
    the draws. Scores that were not asked for are None.
    """

    periods: int
    accuracy: float
    accuracies: tuple[float, ...]
    wape: float | None
    bias: float | None
    within_5: float
    within_10: float
    pinball: float
    coverage: float | None
    crps: float | None
    pit: tuple[float, ...] | None


@dataclass(frozen=True)
class ProbabilityScores:
    """Scores of deal probabilities against outcomes (see the module docstring).

    ``brier_skill`` is against ``reference`` ("base rate": the share of the scored deals
    that were won; "given": the reference probabilities passed in); it is None when the
    reference scores perfectly.
    """

    deals: int
    won: int
    base_rate: float
    auc: float | None
    brier: float
    brier_skill: float | None
    reference: str
    ece: float
    reliability: tuple[ReliabilityBin, ...]


# -- point forecasts -------------------------------------------------------------------


def accuracy(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> Floats:
    """Accuracy of each period: ``max(0, 1 - |a - f| / a)``; 1 if ``a = f = 0``, 0 if only
    ``a = 0``."""
    a, f = _pair(actual, forecast)
    miss = np.abs(a - f)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.maximum(0.0, 1.0 - miss / a)
    return np.where(a == 0, np.where(miss == 0, 1.0, 0.0), score)


def wape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float | None:
    """Weighted absolute percentage error: ``sum |a - f| / sum a``; None if ``sum a = 0``."""
    a, f = _pair(actual, forecast)
    return _share(float(np.abs(a - f).sum()), float(a.sum()))


def bias(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float | None:
    """Signed bias: ``sum (f - a) / sum a``; positive = over-forecast. None if ``sum a = 0``."""
    a, f = _pair(actual, forecast)
    return _share(float((f - a).sum()), float(a.sum()))


def within(actual: npt.ArrayLike, forecast: npt.ArrayLike, tolerance: float) -> float:
    """Share of periods with ``|a - f| <= tolerance * a`` (with ``a = 0``: only ``f = 0``)."""
    if not np.isfinite(tolerance) or tolerance < 0:
        raise InputError(f"tolerance must be a share of 0 or more, not {tolerance!r}")
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f) <= tolerance * a))


def pinball(actual: npt.ArrayLike, quantiles: Mapping[float, npt.ArrayLike]) -> float:
    """Mean pinball loss over periods and the quantile levels given (level -> forecasts)."""
    if not quantiles:
        raise InputError("pinball loss needs at least one quantile level")
    losses = []
    for level, forecast in quantiles.items():
        if not 0 < level < 1:
            raise InputError(f"a quantile level must lie strictly between 0 and 1, not {level}")
        a, q = _pair(actual, forecast, second=f"the P{level * 100:g} forecast")
        gap = a - q
        losses.append(np.maximum(level * gap, (level - 1) * gap).mean())
    return float(np.mean(losses))


def coverage(actual: npt.ArrayLike, low: npt.ArrayLike, high: npt.ArrayLike) -> float:
    """Share of periods whose actual lies in ``[low, high]``."""
    a, lo = _pair(actual, low, second="low")
    _, hi = _pair(actual, high, second="high")
    if np.any(lo > hi):
        raise InputError("the low end of a range lies above its high end")
    return float(np.mean((lo <= a) & (a <= hi)))


def crps(actual: npt.ArrayLike, samples: npt.ArrayLike) -> Floats:
    """CRPS of each period's draws (a row of ``samples``) against its actual, in money.

    Exact for the empirical distribution of the draws, in O(n log n) per period.
    """
    a, x = _draws(actual, samples)
    n = x.shape[1]
    x = np.sort(x, axis=1)
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    spread = x @ weights / (n * n)  # = E|X - X'| / 2
    return np.asarray(np.abs(x - a[:, None]).mean(axis=1) - spread, dtype=np.float64)


def pit(actual: npt.ArrayLike, samples: npt.ArrayLike) -> Floats:
    """Probability integral transform of each period: the share of its draws below the
    actual, draws equal to it counted half."""
    a, x = _draws(actual, samples)
    below = (x < a[:, None]).sum(axis=1)
    equal = (x == a[:, None]).sum(axis=1)
    return np.asarray((below + 0.5 * equal) / x.shape[1], dtype=np.float64)


def score_points(
    actual: npt.ArrayLike,
    p50: npt.ArrayLike,
    p10: npt.ArrayLike | None = None,
    p90: npt.ArrayLike | None = None,
    samples: npt.ArrayLike | None = None,
) -> PointScores:
    """Every point and range score of a backtest: P50 (the point forecast) against the
    actuals, P10 and P90 if given (both or neither), the draws (periods x draws) if given."""
    if (p10 is None) != (p90 is None):
        raise InputError("give both P10 and P90, or neither")
    accuracies = accuracy(actual, p50)
    quantiles: dict[float, npt.ArrayLike] = {0.5: p50}
    cover = None
    if p10 is not None and p90 is not None:
        quantiles |= {0.1: p10, 0.9: p90}
        cover = coverage(actual, p10, p90)
    return PointScores(
        periods=len(accuracies),
        accuracy=float(accuracies.mean()),
        accuracies=tuple(accuracies.tolist()),
        wape=wape(actual, p50),
        bias=bias(actual, p50),
        within_5=within(actual, p50, 0.05),
        within_10=within(actual, p50, 0.10),
        pinball=pinball(actual, quantiles),
        coverage=cover,
        crps=None if samples is None else float(crps(actual, samples).mean()),
        pit=None if samples is None else tuple(pit(actual, samples).tolist()),
    )


# -- deal probabilities ----------------------------------------------------------------


def auc(won: npt.ArrayLike, p: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties half); None without both classes."""
    y, q = _outcomes(won, p)
    n_won = int(y.sum())
    n_lost = len(y) - n_won
    if n_won == 0 or n_lost == 0:
        return None
    _, group, counts = np.unique(q, return_inverse=True, return_counts=True)
    mid_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based mean rank of each tie group
    rank_sum = float(mid_rank[group][y].sum())
    return (rank_sum - n_won * (n_won + 1) / 2.0) / (n_won * n_lost)


def brier(won: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Brier score: ``mean (p - y)^2`` (0 is perfect, lower is better)."""
    y, q = _outcomes(won, p)
    return float(np.mean((q - y) ** 2))


def brier_skill(
    won: npt.ArrayLike, p: npt.ArrayLike, reference_p: float | npt.ArrayLike
) -> float | None:
    """Brier skill score ``1 - brier(p) / brier(reference)``; the reference is one
    probability for all deals or one per deal. None when the reference is perfect."""
    y, q = _outcomes(won, p)
    if np.ndim(reference_p) == 0:
        reference_p = np.full(len(q), reference_p)
    _, ref = _outcomes(y, reference_p, second="reference probabilities")
    reference = float(np.mean((ref - y) ** 2))
    if reference == 0:
        return None
    return 1.0 - float(np.mean((q - y) ** 2)) / reference


def reliability(won: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> tuple[ReliabilityBin, ...]:
    """Reliability table over ``bins`` equal-width probability bins, lowest first."""
    y, q = _outcomes(won, p)
    index = _bin_index(q, bins)
    counts = np.bincount(index, minlength=bins)
    p_sums = np.bincount(index, weights=q, minlength=bins)
    won_sums = np.bincount(index, weights=y.astype(np.float64), minlength=bins)
    rows = []
    for k in range(bins):
        n = int(counts[k])
        rows.append(
            ReliabilityBin(
                low=k / bins,
                high=(k + 1) / bins,
                count=n,
                mean_predicted=float(p_sums[k] / n) if n else None,
                observed_rate=float(won_sums[k] / n) if n else None,
            )
        )
    return tuple(rows)


def ece(won: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width bins, weighted by count."""
    rows = reliability(won, p, bins)
    total = sum(row.count for row in rows)
    return sum(
        row.count / total * abs(row.mean_predicted - row.observed_rate)
        for row in rows
        if row.mean_predicted is not None and row.observed_rate is not None
    )


def score_probabilities(
    won: npt.ArrayLike,
    p: npt.ArrayLike,
    reference: float | npt.ArrayLike | None = None,
    bins: int = 10,
) -> ProbabilityScores:
    """Every probability score of a set of closed deals; Brier skill against ``reference``
    (one probability or one per deal), or against the deals' base rate when None."""
    y, q = _outcomes(won, p)
    base_rate = float(y.mean())
    return ProbabilityScores(
        deals=len(y),
        won=int(y.sum()),
        base_rate=base_rate,
        auc=auc(y, q),
        brier=brier(y, q),
        brier_skill=brier_skill(y, q, base_rate if reference is None else reference),
        reference="base rate" if reference is None else "given",
        ece=ece(y, q, bins),
        reliability=reliability(y, q, bins),
    )


# -- input checks ----------------------------------------------------------------------


def numbers(values: npt.ArrayLike, name: str, *, empty: bool = True) -> Floats:
    """``values`` as a flat float array, or an InputError naming ``name``: not numbers, not
    flat, missing or infinite values, or (with ``empty=False``) nothing at all."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numbers: {exc}") from exc
    if array.ndim != 1:
        raise InputError(f"{name} must be a flat list of numbers")
    if not empty and len(array) == 0:
        raise InputError(f"{name} is empty: there is nothing to score")
    if not np.all(np.isfinite(array)):
        raise InputError(f"a missing or infinite value among {name}")
    return array


def _pair(
    actual: npt.ArrayLike, other: npt.ArrayLike, second: str = "forecast"
) -> tuple[Floats, Floats]:
    a = numbers(actual, "actual", empty=False)
    b = numbers(other, second, empty=False)
    if len(a) != len(b):
        raise InputError(f"actual has {len(a)} periods but {second} has {len(b)}")
    if np.any(a < 0):
        raise InputError("actual bookings must not be negative")
    return a, b


def _draws(actual: npt.ArrayLike, samples: npt.ArrayLike) -> tuple[Floats, Floats]:
    a = numbers(actual, "actual", empty=False)
    try:
        x = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"draws must be numbers: {exc}") from exc
    if x.ndim != 2 or x.shape[0] != len(a) or x.shape[1] == 0:
        raise InputError(
            f"draws must be a table of one row per period ({len(a)}) and at least one "
            f"column, not of shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise InputError("draws hold a missing or infinite value")
    return a, x


def _outcomes(
    won: npt.ArrayLike, p: npt.ArrayLike, second: str = "probabilities"
) -> tuple[npt.NDArray[np.bool_], Floats]:
    y = numbers(won, "outcomes", empty=False)
    if not np.all((y == 0) | (y == 1)):
        raise InputError("outcomes must be 1 (won) or 0 (lost)")
    q = numbers(p, second, empty=False)
    if len(q) != len(y):
        raise InputError(f"there are {len(y)} outcomes but {len(q)} {second}")
    if np.any((q < 0) | (q > 1)):
        raise InputError(f"{second} must lie between 0 and 1")
    return y == 1, q


def _bin_index(q: Floats, bins: int) -> npt.NDArray[np.intp]:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InputError(f"bins must be a whole number of 1 or more, not {bins!r}")
    return np.minimum(np.floor(q * bins).astype(np.intp), bins - 1)


def _share(part: float, whole: float) -> float | None:
    return None if whole == 0 else part / whole
