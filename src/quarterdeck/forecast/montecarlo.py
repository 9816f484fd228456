"""The range of a period's bookings: its total as a distribution, by Monte Carlo.

A period's total = what is already closed won + the open deals won by the period's end +
**arrivals** (deals not yet open that will be created and won inside the period).

Open deals. Deal ``i`` has probability ``p_i`` of being won by the period's end, amount
``a_i`` and owner ``o_i``. Deals are not independent (a good quarter lifts many deals, a
rep's bad month sinks several of theirs), so each draw is a latent-variable model (a
Gaussian copula):

    L_i = sqrt(rho_p) * z_period + sqrt(rho_o) * z_owner[o_i] + sqrt(1 - rho_p - rho_o) * e_i
    deal i won  <=>  L_i < Phi^-1(p_i)

with ``z_period``, each ``z_owner`` and each ``e_i`` independent standard normal draws.
``L_i`` is standard normal, so each deal is won with probability exactly ``p_i`` whatever
the correlation; two deals' latents correlate by ``rho_p``, or ``rho_p + rho_o`` when they
share an owner. With ``rho_p = rho_o = 0`` deals are independent.

Arrivals follow the same period factor: ``W = -(sqrt(rho_p) * z_period +
sqrt(1 - rho_p) * e)`` is standard normal and high when ``z_period`` is low (the draws in
which open deals do well), and the arrivals of a draw are the value of their distribution
at ``W``: ``mean * exp(s * W - s^2 / 2)`` with ``s^2 = ln(1 + (sd / mean)^2)`` (a lognormal
with that mean and standard deviation), or, given past arrival totals, the one at rank
``floor(Phi(W) * k)`` of the ``k`` sorted totals (plain resampling when ``rho_p = 0``).
Either way the arrivals' own distribution is kept; the owner factor does not touch them.

Summaries: P10, P50 and P90 are percentiles of the simulated totals (linear interpolation
between them, NumPy's default), the mean their mean, and the chance of making a target the
share of draws with total >= target. Draws are made in chunks of deals x draws of about
4 million numbers, so 50,000 deals x 2,000 draws never hold 800 MB at once; the same
inputs and seed give the same draws.

``fit_correlation`` picks ``rho_p`` (with ``rho_o = OWNER_SHARE * rho_p``) from past
periods: for each ``rho_p`` of a grid over [0, 0.6] it simulates every past period as it
stood at the forecast moment, takes the PIT of its actual total (the share of draws below
it, ties half) and keeps the ``rho_p`` whose PITs are closest to uniform by the
Cramer-von Mises distance ``1/(12n) + sum_i (u_(i) - (2i - 1)/(2n))^2``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quarterdeck.errors import InputError
from quarterdeck.forecast.scoring import numbers, pit

__all__ = [
    "DEFAULT_CORRELATION",
    "MIN_PAST_PERIODS",
    "OWNER_SHARE",
    "RHO_GRID",
    "Arrivals",
    "Correlation",
    "CorrelationFit",
    "OpenPeriod",
    "PastPeriod",
    "PeriodRange",
    "cramer_von_mises",
    "fit_correlation",
    "normal_cdf",
    "normal_quantile",
    "simulate",
]

Floats = npt.NDArray[np.float64]

OWNER_SHARE = 0.5
"""``rho_o`` as a share of ``rho_p`` in the default and in fits: a rep's deals share half
again as much fate as any two deals of the period."""

MIN_PAST_PERIODS = 4
"""Fewer past periods than this say too little about correlation: the default is used."""

RHO_GRID: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(13))
"""The ``rho_p`` values ``fit_correlation`` tries: 0, 0.05, ..., 0.6."""

DEFAULT_DRAWS = 2000
_CHUNK_NUMBERS = 1 << 22  # latent draws per chunk: 16 MB as float32


@dataclass(frozen=True)
class Correlation:
    """How much deals share their fate: ``period`` (``rho_p``, between any two deals) and
    ``owner`` (``rho_o``, added between deals of one owner); both >= 0, sum <= 1."""

    period: float
    owner: float

    def __post_init__(self) -> None:
        for name, value in (("period", self.period), ("owner", self.owner)):
            if not math.isfinite(value) or value < 0:
                raise InputError(f"the {name} correlation must be 0 or more, not {value!r}")
        if self.period + self.owner > 1:
            raise InputError(
                f"period and owner correlations add up to {self.period + self.owner:g}; "
                "they may add up to 1 at most"
            )

    @classmethod
    def of(cls, rho_period: float, owner_share: float = OWNER_SHARE) -> Correlation:
        """``rho_p`` with ``rho_o = owner_share * rho_p``."""
        return cls(rho_period, owner_share * rho_period)


DEFAULT_CORRELATION = Correlation.of(0.15)
"""Used when there is too little history to fit: ``rho_p = 0.15``, ``rho_o = 0.075``, a
modest shared fate in the lower part of the fitting grid: wider than independent deals
(whose ranges are far too narrow), without claiming more than history has shown."""


@dataclass(frozen=True)
class Arrivals:
    """The value of deals not yet open that will be created and won inside the period:
    either a ``mean`` and standard deviation ``sd`` (drawn lognormal) or the ``past``
    arrival totals of comparable periods (resampled). The default is none."""

    mean: float = 0.0
    sd: float = 0.0
    past: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name, value in (("mean", self.mean), ("standard deviation", self.sd)):
            if not math.isfinite(value) or value < 0:
                raise InputError(f"the arrivals' {name} must be 0 or more, not {value!r}")
        if self.past is None:
            if self.sd > 0 and self.mean == 0:
                raise InputError("arrivals with a mean of 0 cannot have a spread")
            return
        if self.mean or self.sd:
            raise InputError("give arrivals as a mean and spread, or as past totals, not both")
        past = tuple(float(v) for v in self.past)
        if not past:
            raise InputError("past arrival totals are empty")
        if not all(math.isfinite(v) and v >= 0 for v in past):
            raise InputError("past arrival totals must be numbers of 0 or more")
        object.__setattr__(self, "past", past)

    @property
    def expected(self) -> float:
        """The arrivals' mean."""
        return self.mean if self.past is None else float(np.mean(self.past))

    def values_at(self, w: Floats) -> Floats:
        """The arrivals at standard-normal scores ``w`` (their quantile at ``Phi(w)``)."""
        if self.past is not None:
            ranked = np.sort(np.asarray(self.past, dtype=np.float64))
            at = np.floor(normal_cdf(w) * len(ranked)).astype(np.intp)
            return ranked[np.clip(at, 0, len(ranked) - 1)]
        if self.sd == 0:
            return np.full(w.shape, self.mean)
        s = math.sqrt(math.log1p((self.sd / self.mean) ** 2))
        return np.asarray(self.mean * np.exp(s * w - s * s / 2), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class OpenPeriod:
    """A period as it stands at the forecast moment: for each open deal its probability of
    being won by the period's end ``p``, its ``amount`` and its owner (``owners``: one
    label per deal, any numbers or strings; None means no two deals share an owner), the
    ``arrivals`` still to come and the amount ``closed`` won so far. Lists are taken too
    and stored as arrays."""

    p: Floats
    amounts: Floats
    owners: npt.ArrayLike | None = None
    arrivals: Arrivals = field(default_factory=Arrivals)
    closed: float = 0.0
    _owner_index: npt.NDArray[np.intp] = field(init=False, repr=False)
    _owner_count: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p = numbers(self.p, "deal probabilities")
        amounts = numbers(self.amounts, "deal amounts")
        if len(p) != len(amounts):
            raise InputError(f"there are {len(p)} deal probabilities but {len(amounts)} amounts")
        if np.any((p < 0) | (p > 1)):
            raise InputError("deal probabilities must lie between 0 and 1")
        if np.any(amounts < 0):
            raise InputError("deal amounts must not be negative")
        if not math.isfinite(self.closed) or self.closed < 0:
            raise InputError(f"the amount closed must be 0 or more, not {self.closed!r}")
        if self.owners is None:
            index = np.arange(len(p), dtype=np.intp)
        else:
            try:
                _, index = np.unique(np.asarray(self.owners), return_inverse=True)
            except TypeError as exc:
                raise InputError(f"owners must be all numbers or all strings: {exc}") from exc
            index = index.reshape(-1)
            if len(index) != len(p):
                raise InputError(f"there are {len(p)} deals but {len(index)} owners")
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "amounts", amounts)
        object.__setattr__(self, "closed", float(self.closed))
        object.__setattr__(self, "_owner_index", index.astype(np.intp))
        object.__setattr__(self, "_owner_count", int(index.max()) + 1 if len(index) else 0)

    @property
    def expected(self) -> float:
        """The mean total, worked out exactly: ``closed + sum p_i a_i + arrivals' mean``."""
        return self.closed + float(self.p @ self.amounts) + self.arrivals.expected


@dataclass(frozen=True, eq=False)
class PeriodRange:
    """Result of :func:`simulate`: the period's total over ``draws`` simulations.

    ``expected`` is the exact mean (``OpenPeriod.expected``), ``mean`` the simulated one;
    ``p_target`` the share of draws reaching ``target`` (None without a target);
    ``totals`` every draw's total.
    """

    draws: int
    seed: int
    correlation: Correlation
    closed: float
    expected: float
    mean: float
    p10: float
    p50: float
    p90: float
    target: float | None
    p_target: float | None
    totals: Floats = field(repr=False)

    def chance_of(self, target: float) -> float:
        """The share of draws whose total is ``target`` or more."""
        return float(np.mean(self.totals >= target))

    def quantile(self, level: float) -> float:
        """The simulated total at ``level`` (0.1 for P10), interpolated linearly."""
        if not 0 <= level <= 1:
            raise InputError(f"a quantile level must lie between 0 and 1, not {level}")
        return float(np.quantile(self.totals, level))


@dataclass(frozen=True)
class PastPeriod:
    """A past period as it stood at the forecast moment, and its actual bookings.

    ``key`` (whole numbers), when given, names this forecast for good: its draws are seeded
    from it, and ``fit_correlation`` may keep its PIT under each correlation in a cache, so
    that fits sharing past periods (one per period of a backtest) simulate each once."""

    period: OpenPeriod
    actual: float
    key: tuple[int, ...] | None = None


@dataclass(frozen=True)
class CorrelationFit:
    """Result of :func:`fit_correlation`: the ``correlation`` to use, whether it was
    ``fitted`` (False: the default, history being too short), how many past ``periods``
    it rests on, the Cramer-von Mises ``distance`` of their PITs from uniform at the
    chosen value and at each ``rho_p`` tried (``distances``), those PITs, and a note."""

    correlation: Correlation
    fitted: bool
    periods: int
    distance: float | None
    distances: tuple[tuple[float, float], ...]
    pit: tuple[float, ...]
    note: str


def simulate(
    period: OpenPeriod,
    correlation: Correlation | None = None,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    target: float | None = None,
) -> PeriodRange:
    """The period's total as ``draws`` Monte Carlo draws, with deals correlated as
    ``correlation`` says (``DEFAULT_CORRELATION`` if None); see the module docstring."""
    if correlation is None:
        correlation = DEFAULT_CORRELATION
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise InputError(f"draws must be a whole number of 1 or more, not {draws!r}")
    if target is not None and not math.isfinite(target):
        raise InputError(f"the target must be a number, not {target!r}")
    totals = _totals(period, correlation, draws, np.random.default_rng(seed))
    p10, p50, p90 = np.quantile(totals, [0.1, 0.5, 0.9])
    return PeriodRange(
        draws=draws,
        seed=seed,
        correlation=correlation,
        closed=period.closed,
        expected=period.expected,
        mean=float(totals.mean()),
        p10=float(p10),
        p50=float(p50),
        p90=float(p90),
        target=target,
        p_target=None if target is None else float(np.mean(totals >= target)),
        totals=totals,
    )


def fit_correlation(
    past: Sequence[PastPeriod],
    *,
    grid: Sequence[float] = RHO_GRID,
    owner_share: float = OWNER_SHARE,
    draws: int = 1000,
    seed: int = 0,
    cache: MutableMapping[tuple[tuple[int, ...], float, float, int, int], float] | None = None,
) -> CorrelationFit:
    """The ``rho_p`` of ``grid`` (with ``rho_o = owner_share * rho_p``) under which past
    periods' actual totals look like draws of their simulated ranges (PITs closest to
    uniform); the default correlation, with a note, when under ``MIN_PAST_PERIODS``.
    ``cache`` keeps the PIT of each keyed past period (``PastPeriod.key``) per correlation,
    draws and seed, for the next fit."""
    grid = sorted(float(rho) for rho in grid)
    if not grid:
        raise InputError("the grid of correlations to try is empty")
    candidates = [Correlation.of(rho, owner_share) for rho in grid]
    for item in past:
        if not math.isfinite(item.actual) or item.actual < 0:
            raise InputError(f"an actual total must be 0 or more, not {item.actual!r}")
    n = len(past)
    if n < MIN_PAST_PERIODS:
        default = DEFAULT_CORRELATION
        return CorrelationFit(
            correlation=default,
            fitted=False,
            periods=n,
            distance=None,
            distances=(),
            pit=(),
            note=(
                f"only {n} past period{'s' if n != 1 else ''} (at least {MIN_PAST_PERIODS} "
                f"needed to fit): using the default correlation (period {default.period:g}, "
                f"owner {default.owner:g})"
            ),
        )

    def pit_of(i: int, item: PastPeriod, correlation: Correlation) -> float:
        # The same random numbers for every candidate, so distances differ by rho alone.
        stream = [seed, i] if item.key is None else [seed, *item.key]
        key = None
        if item.key is not None and cache is not None:
            key = (item.key, correlation.period, correlation.owner, draws, seed)
            if key in cache:
                return cache[key]
        totals = _totals(item.period, correlation, draws, np.random.default_rng(stream))
        value = float(pit([item.actual], totals[None])[0])
        if key is not None and cache is not None:
            cache[key] = value
        return value

    pits = [
        np.array([pit_of(i, item, correlation) for i, item in enumerate(past)])
        for correlation in candidates
    ]
    distances = [cramer_von_mises(u) for u in pits]
    best = int(np.argmin(distances))
    chosen = candidates[best]
    return CorrelationFit(
        correlation=chosen,
        fitted=True,
        periods=n,
        distance=distances[best],
        distances=tuple(zip(grid, distances, strict=True)),
        pit=tuple(pits[best].tolist()),
        note=(
            f"fitted on {n} past periods: period correlation {chosen.period:g} (owner "
            f"{chosen.owner:g}) makes their actuals look most like draws of their ranges"
        ),
    )


def cramer_von_mises(u: npt.ArrayLike) -> float:
    """Cramer-von Mises distance of values in [0, 1] from the uniform distribution:
    ``1/(12n) + sum_i (u_(i) - (2i - 1)/(2n))^2`` (at least ``1/(12n)``)."""
    values = np.sort(numbers(u, "PIT values"))
    n = len(values)
    if n == 0:
        raise InputError("there are no PIT values to compare with uniform")
    expected = (2.0 * np.arange(1, n + 1) - 1) / (2 * n)
    return float(1 / (12 * n) + np.sum((values - expected) ** 2))


# -- the normal distribution -------------------------------------------------------------

_erfc = np.frompyfunc(math.erfc, 1, 1)

# Acklam's rational approximation of the inverse normal (relative error < 1.15e-9), made
# exact to double precision by one Halley step.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)  # fmt: skip
_P_LOW = 0.02425


def normal_cdf(x: npt.ArrayLike) -> Floats:
    """``Phi(x)``, the standard normal distribution function."""
    values = np.asarray(x, dtype=np.float64)
    return np.asarray(0.5 * _erfc(-values / math.sqrt(2)), dtype=np.float64)


def normal_quantile(p: npt.ArrayLike) -> Floats:
    """``Phi^-1(p)``, the standard normal quantile; -inf at 0 and +inf at 1."""
    prob = np.asarray(p, dtype=np.float64)
    if np.any(~((prob >= 0) & (prob <= 1))):
        raise InputError("a probability must lie between 0 and 1")
    # Work in the lower half, where Phi(x) - q has no cancellation, and mirror.
    q = np.minimum(prob, 1.0 - prob)
    x = np.full(q.shape, -np.inf)
    tail = (q > 0) & (q < _P_LOW)
    mid = q >= _P_LOW
    if np.any(tail):
        t = np.sqrt(-2.0 * np.log(q[tail]))
        x[tail] = _poly(_C, t) / (_poly(_D, t) * t + 1.0)
    if np.any(mid):
        s = q[mid] - 0.5
        r = s * s
        x[mid] = _poly(_A, r) * s / (_poly(_B, r) * r + 1.0)
    finite = q > 0
    if np.any(finite):
        xf = x[finite]
        error = normal_cdf(xf) - q[finite]
        u = error * math.sqrt(2 * math.pi) * np.exp(xf * xf / 2)
        x[finite] = xf - u / (1 + xf * u / 2)
    x = np.where(prob > 0.5, -x, x)
    return np.asarray(x, dtype=np.float64)


def _poly(coefficients: tuple[float, ...], x: Floats) -> Floats:
    result = np.zeros_like(x)
    for c in coefficients:
        result = result * x + c
    return result


# -- simulation ----------------------------------------------------------------------------


def _totals(
    period: OpenPeriod, correlation: Correlation, draws: int, rng: np.random.Generator
) -> Floats:
    """Each draw's total of ``period``, in draw order."""
    # Deals certain to be won or lost, or worth nothing, need no draws.
    sure = float(period.amounts[period.p == 1].sum())
    open_ = (period.p > 0) & (period.p < 1) & (period.amounts > 0)
    amounts = period.amounts[open_]
    owners = period._owner_index[open_]
    thresholds = normal_quantile(period.p[open_]).astype(np.float32)
    totals = np.empty(draws)
    z_period = np.empty(draws)
    start = 0
    for z, won in _won_draws(thresholds, owners, period._owner_count, correlation, draws, rng):
        stop = start + len(z)
        z_period[start:stop] = z
        totals[start:stop] = amounts @ won
        start = stop
    rho = correlation.period
    w = -(math.sqrt(rho) * z_period + math.sqrt(1 - rho) * rng.standard_normal(draws))
    return totals + period.closed + sure + period.arrivals.values_at(w)


def _won_draws(
    thresholds: npt.NDArray[np.float32],
    owners: npt.NDArray[np.intp],
    owner_count: int,
    correlation: Correlation,
    draws: int,
    rng: np.random.Generator,
) -> Iterator[tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]]:
    """Chunks of draws: the period factor of each draw, and which deals it won (deals x
    draws). Deal ``i`` is won when its latent lies below ``thresholds[i]``."""
    deals = len(thresholds)
    chunk = max(1, min(draws, _CHUNK_NUMBERS // max(deals, 1)))
    shared = math.sqrt(correlation.period)
    own = math.sqrt(correlation.owner)
    alone = math.sqrt(max(0.0, 1.0 - correlation.period - correlation.owner))
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        z_period = rng.standard_normal(size, dtype=np.float32)
        z_owner = rng.standard_normal((owner_count, size), dtype=np.float32)
        latent = rng.standard_normal((deals, size), dtype=np.float32)
        latent *= alone
        latent += shared * z_period
        if own and deals:
            latent += own * z_owner[owners]
        yield z_period, latent < thresholds[:, None]
