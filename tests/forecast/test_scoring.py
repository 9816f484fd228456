"""Forecast scores, each worked out by hand on a few numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quarterdeck.errors import InputError
from quarterdeck.forecast.scoring import (
    ReliabilityBin,
    accuracy,
    auc,
    bias,
    brier,
    brier_skill,
    coverage,
    crps,
    ece,
    pinball,
    pit,
    reliability,
    score_points,
    score_probabilities,
    wape,
    within,
)

approx = pytest.approx

# -- point forecasts -----------------------------------------------------------------------


def test_accuracy_per_period() -> None:
    actual = [100, 200, 50, 0, 0]
    forecast = [90, 260, 150, 0, 10]
    # 1 - 10/100 = 0.9; 1 - 60/200 = 0.7; 1 - 100/50 = -1 -> 0; nothing forecast for
    # nothing booked -> 1; 10 forecast for nothing booked -> 0.
    assert accuracy(actual, forecast).tolist() == approx([0.9, 0.7, 0.0, 1.0, 0.0])


def test_wape_and_bias() -> None:
    actual = [100, 200, 50]
    forecast = [90, 260, 150]
    # |a - f| = 10 + 60 + 100 = 170; sum a = 350; 170 / 350
    assert wape(actual, forecast) == approx(170 / 350)
    # f - a = -10 + 60 + 100 = 150: over-forecast, so positive; 150 / 350
    assert bias(actual, forecast) == approx(150 / 350)
    # under-forecast is negative: (80 - 100) / 100
    assert bias([100], [80]) == approx(-0.2)
    assert wape([0, 0], [5, 0]) is None
    assert bias([0, 0], [5, 0]) is None


def test_within_counts_the_boundary_in() -> None:
    actual = [100, 100, 100, 200, 0, 0]
    forecast = [105, 110, 89, 190, 0, 1]
    # misses as shares: 0.05, 0.10, 0.11, 0.05, none of nothing, something of nothing
    assert within(actual, forecast, 0.05) == approx(3 / 6)  # 1st, 4th, 5th
    assert within(actual, forecast, 0.10) == approx(4 / 6)  # and the 2nd
    assert within(actual, forecast, 0.0) == approx(1 / 6)  # only the 5th


def test_pinball() -> None:
    actual = [100, 100]
    # P10 at 80 (actual above: 0.1 * 20 = 2) and 120 (below: 0.9 * 20 = 18): mean 10.
    assert pinball(actual, {0.1: [80, 120]}) == approx(10)
    # one side at a time: actual 20 above P10 costs 0.1 * 20, 20 below it 0.9 * 20
    assert pinball([100], {0.1: [80]}) == approx(2)
    assert pinball([100], {0.1: [120]}) == approx(18)
    # P90 the other way round: 0.9 * 20 = 18 and 0.1 * 20 = 2: mean 10.
    # P50 at 90 and 100: 0.5 * 10 = 5 and 0: mean 2.5. All three: (10 + 10 + 2.5) / 3.
    levels = {0.1: [80, 120], 0.9: [80, 120], 0.5: [90, 100]}
    assert pinball(actual, levels) == approx(22.5 / 3)


def test_coverage() -> None:
    # 5 in [0, 10] yes; 10 in [10, 10] yes (ends count); 15 in [16, 20] no; 20 in [0, 19] no
    assert coverage([5, 10, 15, 20], [0, 10, 16, 0], [10, 10, 20, 19]) == approx(0.5)


def test_crps_by_hand() -> None:
    # Draws {0, 2}, actual 1: E|X - 1| = 1, E|X - X'| = (0 + 2 + 2 + 0) / 4 = 1, so
    # CRPS = 1 - 1/2 = 0.5 (the integral of (F - 1{x >= 1})^2: 0.25 on [0, 1] and on [1, 2]).
    # Draws {1, 2, 3, 4}, actual 0: E|X| = 2.5; the ordered pairs' gaps add up to
    # 2 * (1 + 2 + 3 + 1 + 2 + 1) = 20, so E|X - X'| = 20/16 and CRPS = 2.5 - 0.625.
    got = crps([1, 0], [[0, 2, 2, 0], [4, 3, 2, 1]])
    # The first row's draws are {0, 2, 2, 0}: the same distribution as {0, 2}.
    assert got.tolist() == approx([0.5, 1.875])


def test_crps_of_a_point_mass_is_the_absolute_error() -> None:
    assert crps([10, 3], [[7, 7, 7], [5, 5, 5]]).tolist() == approx([3, 2])


def _crps_slow(actual: float, draws: np.ndarray) -> float:
    """The energy form straight from its definition, every pair of draws."""
    return float(
        np.abs(draws - actual).mean() - 0.5 * np.abs(draws[:, None] - draws[None, :]).mean()
    )


@settings(max_examples=60, deadline=None)
@given(
    draws=arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
    actual=st.floats(-1e6, 1e6),
)
def test_crps_agrees_with_the_pairwise_definition(draws: np.ndarray, actual: float) -> None:
    # crps() checks that actuals are not negative, so shift both by the same amount.
    shift = 1e6
    got = crps([actual + shift], [draws + shift])[0]
    assert got == approx(_crps_slow(actual, draws), rel=1e-9, abs=1e-6)


def test_pit_counts_ties_half() -> None:
    draws = [[1, 2, 3, 4]] * 4
    # 2.5: two draws below -> 2/4; 2: one below, one equal -> 1.5/4; 0: none; 9: all
    assert pit([2.5, 2, 0, 9], draws).tolist() == approx([0.5, 0.375, 0.0, 1.0])


def test_score_points_bundles_the_scores() -> None:
    scores = score_points(
        actual=[100, 200],
        p50=[90, 260],
        p10=[80, 150],
        p90=[120, 250],
        samples=[[80, 100, 120], [150, 200, 250]],
    )
    assert scores.periods == 2
    assert scores.accuracies == approx((0.9, 0.7))  # 1 - 10/100, 1 - 60/200
    assert scores.accuracy == approx(0.8)
    assert scores.wape == approx(70 / 300)  # (10 + 60) / (100 + 200)
    assert scores.bias == approx(50 / 300)  # (-10 + 60) / 300
    assert scores.within_5 == 0.0  # misses of 10% and 30%
    assert scores.within_10 == approx(0.5)  # the 10% miss
    # P50: 0.5 * 10 = 5 and 0.5 * 60 = 30, mean 17.5; P10: 0.1 * 20 = 2 and 0.1 * 50 = 5,
    # mean 3.5; P90: 0.1 * 20 = 2 (120 above 100) and 0.1 * 50 = 5, mean 3.5.
    assert scores.pinball == approx((17.5 + 3.5 + 3.5) / 3)
    assert scores.coverage == 1.0  # 100 in [80, 120], 200 in [150, 250]
    # Row 1: E|X - 100| = 40/3; sorted draws weighted -2, 0, 2: (-160 + 240) / 9 = 80/9;
    # CRPS = 120/9 - 80/9 = 40/9. Row 2 is row 1 scaled by 2.5: 100/9. Mean 70/9.
    assert scores.crps == approx(70 / 9)
    assert scores.pit == approx((0.5, 0.5))  # one draw below, one equal, of three


def test_score_points_without_a_range() -> None:
    scores = score_points([100], [90])
    assert scores.pinball == approx(5)  # 0.5 * 10
    assert (scores.coverage, scores.crps, scores.pit) == (None, None, None)


# -- deal probabilities --------------------------------------------------------------------


def test_auc_by_hand() -> None:
    # won deals at 0.35 and 0.8, lost at 0.1 and 0.4: of the 4 (won, lost) pairs the won
    # one ranks higher in 3 (all but 0.35 against 0.4).
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == approx(0.75)
    # a tie counts half: (0.5 vs 0.5) = 0.5, (0.5 vs 0.2) = 1; 1.5 of 2 pairs
    assert auc([1, 0, 0], [0.5, 0.5, 0.2]) == approx(0.75)


def test_auc_of_perfect_and_reversed_rankings() -> None:
    won = [0, 0, 1, 1, 1]
    assert auc(won, [0.1, 0.2, 0.3, 0.4, 0.5]) == 1.0
    assert auc(won, [0.5, 0.4, 0.3, 0.2, 0.1]) == 0.0
    assert auc(won, [0.3] * 5) == 0.5
    assert auc([1, 1], [0.2, 0.9]) is None
    assert auc([0, 0], [0.2, 0.9]) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])),
        min_size=2,
        max_size=30,
    )
)
def test_auc_agrees_with_counting_pairs(deals: list[tuple[bool, float]]) -> None:
    won = [p for w, p in deals if w]
    lost = [p for w, p in deals if not w]
    got = auc([int(w) for w, _ in deals], [p for _, p in deals])
    if not won or not lost:
        assert got is None
        return
    pairs = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in won for b in lost)
    assert got == approx(pairs / (len(won) * len(lost)))


def test_brier_and_skill() -> None:
    won = [1, 0, 1, 0]
    p = [0.8, 0.3, 0.4, 0.0]
    # (0.2^2 + 0.3^2 + 0.6^2 + 0) / 4 = (0.04 + 0.09 + 0.36) / 4
    assert brier(won, p) == approx(0.49 / 4)
    # a coin flip scores 0.25 on every deal: 1 - 0.1225 / 0.25
    assert brier_skill(won, p, 0.5) == approx(0.51)
    assert brier_skill(won, p, [0.5, 0.5, 0.5, 0.5]) == approx(0.51)
    # a reference that knew the outcomes cannot be beaten: no skill score
    assert brier_skill(won, p, won) is None


def test_reliability_and_ece() -> None:
    won = [1, 0, 1, 1, 0]
    p = [0.05, 0.15, 0.12, 0.95, 1.0]
    rows = reliability(won, p)
    assert len(rows) == 10
    assert rows[0] == ReliabilityBin(0.0, 0.1, 1, approx(0.05), 1.0)
    assert rows[1] == ReliabilityBin(0.1, 0.2, 2, approx(0.135), 0.5)  # (0.15 + 0.12) / 2
    assert rows[9] == ReliabilityBin(0.9, 1.0, 2, approx(0.975), 0.5)  # p = 1 in the last bin
    assert [r.count for r in rows[2:9]] == [0] * 7
    assert rows[5].mean_predicted is None and rows[5].observed_rate is None
    # 1/5 * |0.05 - 1| + 2/5 * |0.135 - 0.5| + 2/5 * |0.975 - 0.5| = 0.19 + 0.146 + 0.19
    assert ece(won, p) == approx(0.526)


def test_a_probability_on_a_bin_edge_goes_up() -> None:
    rows = reliability([1, 0], [0.3, 0.5], bins=10)
    assert rows[3].count == 1 and rows[5].count == 1
    rows = reliability([1, 0], [0.3, 0.5], bins=2)  # [0, 0.5) and [0.5, 1]
    assert [r.count for r in rows] == [1, 1]


def test_score_probabilities() -> None:
    won = [1, 0, 0, 0]
    p = [0.7, 0.2, 0.1, 0.4]
    scores = score_probabilities(won, p)
    assert (scores.deals, scores.won, scores.base_rate) == (4, 1, 0.25)
    assert scores.auc == 1.0  # the won deal has the highest probability
    assert scores.brier == approx(0.3 / 4)  # (0.09 + 0.04 + 0.01 + 0.16) / 4
    # base rate 0.25: (0.75^2 + 3 * 0.25^2) / 4 = 0.75 / 4; skill 1 - 0.075 / 0.1875
    assert scores.brier_skill == approx(0.6)
    assert scores.reference == "base rate"
    # one deal in each of bins 7, 2, 1, 4: (|0.7 - 1| + 0.2 + 0.1 + 0.4) / 4
    assert scores.ece == approx(0.25)
    given = score_probabilities(won, p, reference=0.5)
    assert given.brier_skill == approx(0.7)  # 1 - 0.075 / 0.25
    assert given.reference == "given"


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy([1, 2], [1]), "actual has 2 periods but forecast has 1"),
        (lambda: accuracy([-1], [1]), "must not be negative"),
        (lambda: wape([1, float("nan")], [1, 1]), "missing or infinite"),
        (lambda: bias([], []), "empty"),
        (lambda: within([1], [1], -0.1), "tolerance"),
        (lambda: pinball([1], {}), "at least one quantile"),
        (lambda: pinball([1], {1.5: [1]}), "strictly between 0 and 1"),
        (lambda: coverage([1], [3], [2]), "low end"),
        (lambda: crps([1, 2], [[1, 2]]), "one row per period"),
        (lambda: pit([1], [[1, float("inf")]]), "missing or infinite"),
        (lambda: auc([1, 2], [0.1, 0.2]), r"1 \(won\) or 0 \(lost\)"),
        (lambda: brier([1, 0], [0.1, 1.2]), "between 0 and 1"),
        (lambda: brier([1, 0], [0.1]), "2 outcomes but 1 probabilities"),
        (lambda: brier_skill([1, 0], [0.1, 0.2], [0.5]), "2 outcomes but 1 reference"),
        (lambda: ece([1], [0.5], bins=0), "bins"),
        (lambda: score_points([1], [1], p10=[1]), "both P10 and P90"),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]
