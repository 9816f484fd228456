"""Run-rate forecasts: the lowest rungs of the forecast ladder, from past bookings alone.

Each method reads ``history``, the actual bookings of the periods before the one to
forecast (oldest first, all of one kind: months or quarters), and gives the next period's
bookings:

* **last period**: ``h[-1]``, the period just before.
* **trailing mean** of ``n`` periods: ``(h[-n] + ... + h[-1]) / n``.
* **seasonal naive** with lag ``season``: ``h[-season]``, the same period one season ago:
  ``season = 4`` for quarters against the same quarter last year, 12 for months against
  the same month last year, 3 for months against the same month last quarter.

When ``history`` is too short for a method the forecast is None and the note says why; a
backtest then leaves that period out for that method instead of guessing. These rungs
know nothing of the pipeline, so any forecast method worth using has to beat them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quarterdeck.errors import InputError
from quarterdeck.forecast.scoring import numbers

__all__ = ["RunRateForecast", "last_period", "seasonal_naive", "trailing_mean"]


@dataclass(frozen=True)
class RunRateForecast:
    """A run-rate forecast of the next period: ``method`` (``last_period``,
    ``trailing_mean`` or ``seasonal_naive``), ``periods`` (its window, or its lag: 1 for
    the last period), the ``forecast`` (None when history is too short), the past values it
    rests on (``used``, oldest first) and a ``note`` in words: how it was made, or why it
    could not be."""

    method: str
    periods: int
    forecast: float | None
    used: tuple[float, ...]
    note: str


def last_period(history: Sequence[float] | npt.ArrayLike) -> RunRateForecast:
    """The next period's bookings forecast as the last period's."""
    h = _history(history)
    if len(h) == 0:
        return RunRateForecast("last_period", 1, None, (), "no past period to repeat")
    return RunRateForecast(
        "last_period", 1, float(h[-1]), (float(h[-1]),), "the last period's bookings"
    )


def trailing_mean(history: Sequence[float] | npt.ArrayLike, n: int = 4) -> RunRateForecast:
    """The next period's bookings forecast as the mean of the last ``n`` periods."""
    _whole("n", n)
    h = _history(history)
    if len(h) < n:
        return RunRateForecast(
            "trailing_mean", n, None, (), f"needs {n} past periods, has {len(h)}"
        )
    used = h[-n:]
    return RunRateForecast(
        "trailing_mean",
        n,
        float(used.mean()),
        tuple(used.tolist()),
        f"the mean of the last {n} periods' bookings",
    )


def seasonal_naive(history: Sequence[float] | npt.ArrayLike, season: int) -> RunRateForecast:
    """The next period's bookings forecast as those of ``season`` periods before it."""
    _whole("season", season)
    h = _history(history)
    if len(h) < season:
        return RunRateForecast(
            "seasonal_naive",
            season,
            None,
            (),
            f"needs the period {season} back, but history holds {len(h)} periods",
        )
    value = float(h[-season])
    return RunRateForecast(
        "seasonal_naive", season, value, (value,), f"the bookings of the period {season} back"
    )


def _history(history: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    return numbers(history, "past bookings")


def _whole(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name} must be a whole number of periods, 1 or more, not {value!r}")
