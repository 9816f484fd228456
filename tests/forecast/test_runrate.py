"""Run-rate forecasts on a short history, each worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from quarterdeck.errors import InputError
from quarterdeck.forecast.runrate import (
    RunRateForecast,
    last_period,
    seasonal_naive,
    trailing_mean,
)

HISTORY = [100.0, 120.0, 90.0, 130.0, 110.0]  # oldest first; the next period is the 6th


def test_last_period() -> None:
    assert last_period(HISTORY) == RunRateForecast(
        "last_period", 1, 110.0, (110.0,), "the last period's bookings"
    )


def test_trailing_mean() -> None:
    got = trailing_mean(HISTORY)  # (120 + 90 + 130 + 110) / 4 = 450 / 4
    assert (got.forecast, got.used, got.periods) == (112.5, (120.0, 90.0, 130.0, 110.0), 4)
    assert trailing_mean(HISTORY, n=5).forecast == 110.0  # 550 / 5
    assert trailing_mean(HISTORY, n=1).forecast == 110.0  # the last period


def test_seasonal_naive_takes_the_period_one_season_back() -> None:
    # the 6th period's season-mates: 4 back is the 2nd (120), 5 back the 1st (100)
    assert seasonal_naive(HISTORY, season=4).forecast == 120.0
    assert seasonal_naive(HISTORY, season=5).forecast == 100.0
    assert seasonal_naive(HISTORY, season=1).forecast == 110.0  # lag 1: the last period
    # months against the same month last quarter: lag 3, the 3rd period (90)
    assert seasonal_naive(HISTORY, season=3).forecast == 90.0


def test_too_short_a_history_gives_no_forecast_and_says_why() -> None:
    assert last_period([]) == RunRateForecast(
        "last_period", 1, None, (), "no past period to repeat"
    )
    short = trailing_mean(HISTORY, n=6)
    assert (short.forecast, short.used) == (None, ())
    assert short.note == "needs 6 past periods, has 5"
    season = seasonal_naive(HISTORY[:3], season=4)
    assert season.forecast is None
    assert season.note == "needs the period 4 back, but history holds 3 periods"


def test_arrays_are_taken_too() -> None:
    assert trailing_mean(np.array(HISTORY), n=2).forecast == 120.0  # (130 + 110) / 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: trailing_mean(HISTORY, n=0), "n must be a whole number"),
        (lambda: trailing_mean(HISTORY, n=2.5), "n must be a whole number"),  # type: ignore[arg-type]
        (lambda: seasonal_naive(HISTORY, season=True), "season must be a whole number"),
        (lambda: last_period([1.0, float("nan")]), "missing or infinite"),
        (lambda: last_period([[1.0, 2.0]]), "flat list"),
        (lambda: last_period(["x"]), "must be numbers"),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]
