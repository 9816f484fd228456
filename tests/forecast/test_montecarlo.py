"""The Monte Carlo range of a period's total, against what can be worked out by hand.

Monte Carlo answers carry sampling error, so each check allows about four standard errors,
worked out in the comment beside it: a correct simulation fails one of them far less than
once in a thousand runs, and the seeds are fixed, so a run fails only when the code changes.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from quarterdeck.errors import InputError
from quarterdeck.forecast import montecarlo
from quarterdeck.forecast.montecarlo import (
    DEFAULT_CORRELATION,
    MIN_PAST_PERIODS,
    Arrivals,
    Correlation,
    OpenPeriod,
    PastPeriod,
    cramer_von_mises,
    fit_correlation,
    normal_cdf,
    normal_quantile,
    simulate,
)

INDEPENDENT = Correlation(0.0, 0.0)


# -- the normal distribution -------------------------------------------------------------


def test_normal_quantile_matches_tables() -> None:
    got = normal_quantile([0.975, 0.025, 0.5, 0.8413447460685429, 0.999, 1e-10])
    # Phi^-1(0.975) = 1.959963984540054; Phi(1) = 0.8413447460685429;
    # Phi^-1(0.999) = 3.090232306167814; Phi^-1(1e-10) = -6.361340902404056
    expected = [1.959963984540054, -1.959963984540054, 0.0, 1.0, 3.090232306167814]
    assert got[:5].tolist() == pytest.approx(expected, abs=1e-12)
    assert got[5] == pytest.approx(-6.361340902404056, abs=1e-9)
    assert normal_quantile([0.0, 1.0]).tolist() == [-np.inf, np.inf]


def test_normal_quantile_inverts_the_distribution_function() -> None:
    p = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 1001), [1e-300, 1e-15, 0.02425, 0.97575]])
    assert normal_cdf(normal_quantile(p)) == pytest.approx(p, rel=1e-12, abs=1e-16)
    assert normal_cdf([1.959963984540054])[0] == pytest.approx(0.975, abs=1e-15)


def test_normal_quantile_refuses_a_non_probability() -> None:
    with pytest.raises(InputError, match="between 0 and 1"):
        normal_quantile([0.5, 1.2])
    with pytest.raises(InputError, match="between 0 and 1"):
        normal_quantile([float("nan")])


# -- independent deals ---------------------------------------------------------------------


def test_independent_deals_mean_and_variance() -> None:
    period = OpenPeriod(
        p=[0.2, 0.5, 0.9], amounts=[100, 200, 300], arrivals=Arrivals(40), closed=50
    )
    # mean: 50 closed + 0.2*100 + 0.5*200 + 0.9*300 + 40 arrivals = 50 + 20 + 100 + 270 + 40
    assert period.expected == 480
    got = simulate(period, INDEPENDENT, draws=20_000, seed=1)
    # variance: sum p(1-p)a^2 = 0.16*10^4 + 0.25*4*10^4 + 0.09*9*10^4 = 1600 + 10000 + 8100
    # = 19700, sd 140.4; standard error of the mean 140.4 / sqrt(20000) = 0.99: allow 4
    assert got.expected == 480
    assert got.mean == pytest.approx(480, abs=4)
    # the sample variance's standard error is about 1.3% here: allow 5%
    assert got.totals.var() == pytest.approx(19_700, rel=0.05)


def test_two_deals_chance_of_target() -> None:
    # p = 0.5 each, 100 and 200: totals 0, 100, 200, 300 with 1/4 each.
    got = simulate(
        OpenPeriod(p=[0.5, 0.5], amounts=[100, 200]), INDEPENDENT, draws=20_000, target=200
    )
    # >= 200 exactly when the second deal is won: 1/2. Standard error sqrt(0.25 / 20000)
    # = 0.0035 at most, for every share below: allow 0.015.
    assert got.p_target == pytest.approx(0.5, abs=0.015)
    assert got.chance_of(300) == pytest.approx(0.25, abs=0.015)  # both won
    assert got.chance_of(100) == pytest.approx(0.75, abs=0.015)  # either won
    assert got.chance_of(301) == 0.0
    assert got.chance_of(0) == 1.0
    # a quarter of the draws are 0 and a quarter are 300, so P10 = 0 and P90 = 300
    assert (got.p10, got.p90) == (0.0, 300.0)
    assert (got.quantile(0.1), got.quantile(0.9)) == (0.0, 300.0)


def test_sure_deals_and_closed_need_no_luck() -> None:
    # p = 1 is always won, p = 0 never, a 0.5 deal worth 0 adds nothing: 50 + 100 every draw
    period = OpenPeriod(p=[1.0, 0.0, 0.5], amounts=[100, 1000, 0], closed=50)
    got = simulate(period, draws=500)
    assert (got.p10, got.p50, got.p90, got.mean) == (150.0, 150.0, 150.0, 150.0)
    assert got.totals.tolist() == [150.0] * 500


# -- correlated deals --------------------------------------------------------------------


def test_each_deal_keeps_its_probability_under_correlation() -> None:
    p = np.array([0.05, 0.3, 0.5, 0.8, 0.97])
    owners = np.array([0, 0, 1, 1, 1])
    rng = np.random.default_rng(7)
    draws = 40_000
    wins = np.zeros(len(p))
    both_same_owner = both_other_owner = 0
    for _, won in montecarlo._won_draws(
        normal_quantile(p).astype(np.float32), owners, 2, Correlation(0.2, 0.3), draws, rng
    ):
        wins += won.sum(axis=1)
        both_same_owner += int(np.sum(won[2] & won[3]))  # p = 0.5 and 0.8, owner 1 ...
        both_other_owner += int(np.sum(won[1] & won[2]))  # 0.3 and 0.5, owners 0 and 1
    # each deal's win frequency: standard error sqrt(p(1-p)/40000) <= 0.0025; allow 0.01
    assert (wins / draws).tolist() == pytest.approx(p.tolist(), abs=0.01)
    # ... and they are not independent: 0.5 * 0.8 = 0.4 and 0.3 * 0.5 = 0.15 if they were
    assert both_same_owner / draws > 0.4 + 0.03
    assert both_other_owner / draws > 0.15 + 0.02
    assert both_same_owner / draws - 0.4 > both_other_owner / draws - 0.15


def test_joint_win_of_two_even_deals() -> None:
    # Two p = 0.5 deals with latent correlation r are both won with chance
    # 1/4 + asin(r) / (2 pi) (Sheppard). Same owner, rho_p 0.2 + rho_o 0.3: r = 0.5,
    # asin(0.5) = pi/6, so 1/4 + 1/12 = 1/3. The total reaches 300 only then.
    same = simulate(
        OpenPeriod([0.5, 0.5], [100, 200], owners=["ann", "ann"]),
        Correlation(0.2, 0.3),
        draws=20_000,
        seed=3,
        target=300,
    )
    assert same.p_target == pytest.approx(1 / 3, abs=0.015)  # standard error 0.0033
    # Different owners: r = 0.2, asin(0.2) = 0.20136, 1/4 + 0.20136 / 6.28319 = 0.28205
    other = simulate(
        OpenPeriod([0.5, 0.5], [100, 200], owners=["ann", "bob"]),
        Correlation(0.2, 0.3),
        draws=20_000,
        seed=3,
        target=300,
    )
    assert other.p_target == pytest.approx(0.28205, abs=0.015)


def test_spread_grows_with_correlation() -> None:
    # 40 deals at p = 0.5 worth 100 each, owners all different (no owner factor).
    period = OpenPeriod(np.full(40, 0.5), np.full(40, 100.0))
    runs = {
        rho: simulate(period, Correlation(rho, 0.0), draws=20_000, seed=5)
        for rho in (0.0, 0.2, 0.5)
    }
    # rho = 0: 40 * 0.25 * 100^2 = 100,000
    assert runs[0.0].totals.var() == pytest.approx(100_000, rel=0.05)
    # rho = 0.2: each of the 40 * 39 ordered pairs adds 100^2 * asin(0.2) / (2 pi)
    # = 10^4 * 0.0320471 = 320.471, so 100,000 + 1560 * 320.471 = 599,935
    assert runs[0.2].totals.var() == pytest.approx(599_935, rel=0.05)
    widths = [runs[r].p90 - runs[r].p10 for r in (0.0, 0.2, 0.5)]
    assert widths[0] < widths[1] < widths[2]
    # the mean does not move: 40 * 0.5 * 100 = 2000; sd <= sqrt(40^2 * 100^2 / 4) = 2000,
    # standard error <= 2000 / sqrt(20000) = 14: allow 60
    for run in runs.values():
        assert run.mean == pytest.approx(2000, abs=60)


# -- arrivals --------------------------------------------------------------------------------


def test_lognormal_arrivals_keep_their_mean_and_spread() -> None:
    for rho in (0.0, 0.5):
        got = simulate(
            OpenPeriod([], [], arrivals=Arrivals(1000, 500)),
            Correlation(rho, 0.0),
            draws=40_000,
            seed=11,
        )
        # standard error of the mean 500 / sqrt(40000) = 2.5: allow 10
        assert got.mean == pytest.approx(1000, abs=10)
        assert got.totals.std() == pytest.approx(500, rel=0.05)
        assert got.totals.min() > 0


def test_resampled_arrivals_keep_their_shares() -> None:
    got = simulate(
        OpenPeriod([], [], arrivals=Arrivals(past=(10, 20, 30, 40))),
        Correlation(0.4, 0.0),
        draws=20_000,
        seed=2,
    )
    # each past total a quarter of the time (standard error 0.003: allow 0.015)
    shares = [float(np.mean(got.totals == v)) for v in (10, 20, 30, 40)]
    assert shares == pytest.approx([0.25] * 4, abs=0.015)
    assert got.expected == 25.0


def test_arrivals_follow_the_period_factor() -> None:
    # With rho_p = 1 the deal's latent is z_period itself: won when z_period < 0. Arrivals
    # then sit at W = -z_period > 0, Phi(W) > 1/2, the higher of the two past totals (1).
    # So a won deal always comes with arrivals 1 and a lost one with 0: totals 1001 or 0.
    period = OpenPeriod([0.5], [1000], arrivals=Arrivals(past=(0, 1)))
    linked = simulate(period, Correlation(1.0, 0.0), draws=2000, seed=4)
    assert set(linked.totals.tolist()) == {0.0, 1001.0}
    # independent: all four of 0, 1, 1000, 1001
    apart = simulate(period, INDEPENDENT, draws=2000, seed=4)
    assert set(apart.totals.tolist()) == {0.0, 1.0, 1000.0, 1001.0}


# -- mechanics -----------------------------------------------------------------------------


def test_same_seed_same_draws() -> None:
    period = OpenPeriod(np.linspace(0.1, 0.9, 30), np.arange(1.0, 31.0), owners=np.arange(30) % 4)
    first = simulate(period, draws=300, seed=9)
    assert np.array_equal(first.totals, simulate(period, draws=300, seed=9).totals)
    assert not np.array_equal(first.totals, simulate(period, draws=300, seed=10).totals)


def test_small_chunks_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 numbers a chunk with 3 deals: chunks of 21 draws, the last one shorter.
    monkeypatch.setattr(montecarlo, "_CHUNK_NUMBERS", 64)
    period = OpenPeriod([0.2, 0.5, 0.9], [100, 200, 300], closed=50)
    got = simulate(period, INDEPENDENT, draws=20_000, seed=1)
    assert len(got.totals) == 20_000
    assert got.mean == pytest.approx(440, abs=4)  # as in the test above, less 40 arrivals
    assert got.totals.var() == pytest.approx(19_700, rel=0.05)


@pytest.mark.slow  # about 3 s
def test_fifty_thousand_deals_fit_in_little_memory() -> None:
    rng = np.random.default_rng(0)
    n = 50_000
    period = OpenPeriod(rng.uniform(0, 1, n), rng.uniform(1, 100, n), rng.integers(0, 300, n))
    tracemalloc.start()
    try:
        got = simulate(period, draws=2000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # deals x draws as float32 would be 400 MB at once; chunks keep the peak near 60 MB
    assert peak < 150e6
    assert len(got.totals) == 2000


# -- fitting the correlation ---------------------------------------------------------------


def _past(rho: float, periods: int, seed: int) -> list[PastPeriod]:
    """Past periods whose actual totals are draws of the model at ``rho``."""
    rng = np.random.default_rng(seed)
    past = []
    for i in range(periods):
        period = OpenPeriod(
            p=rng.uniform(0.1, 0.9, 60),
            amounts=rng.uniform(50, 150, 60).round(),
            owners=rng.integers(0, 6, 60),
            arrivals=Arrivals(500, 200),
            closed=1000,
        )
        actual = simulate(period, Correlation.of(rho), draws=1, seed=10_000 + i).totals[0]
        past.append(PastPeriod(period, float(actual)))
    return past


@pytest.mark.parametrize("rho", [0.0, 0.3])
def test_fit_recovers_the_correlation_behind_past_periods(rho: float) -> None:
    fit = fit_correlation(_past(rho, 80, seed=1), draws=500)
    assert fit.fitted and fit.periods == 80
    assert abs(fit.correlation.period - rho) <= 0.1
    assert fit.correlation.owner == pytest.approx(fit.correlation.period / 2)
    assert len(fit.distances) == 13 and len(fit.pit) == 80
    assert fit.distance == min(d for _, d in fit.distances)
    assert fit.note.startswith("fitted on 80 past periods")


def test_keyed_past_periods_are_simulated_once_and_fit_the_same() -> None:
    plain = _past(0.3, 12, seed=3)
    keyed = [PastPeriod(p.period, p.actual, key=(i, 7)) for i, p in enumerate(plain)]
    cache: dict[tuple[tuple[int, ...], float, float, int, int], float] = {}
    first = fit_correlation(keyed, draws=300, cache=cache)
    # One PIT per past period and correlation tried: 12 x 13.
    assert len(cache) == 12 * 13
    # A second fit reads the cache alone: poisoning it changes the result, so it was read.
    again = fit_correlation(keyed, draws=300, cache=dict(cache))
    assert again == first
    poisoned = {key: 0.5 for key in cache}
    assert fit_correlation(keyed, draws=300, cache=poisoned).pit == (0.5,) * 12
    # Keys seed the draws: the same periods in another order fit the same.
    assert fit_correlation(keyed[::-1], draws=300).correlation == first.correlation


def test_fit_with_short_history_uses_the_default() -> None:
    fit = fit_correlation(_past(0.3, MIN_PAST_PERIODS - 1, seed=2))
    assert not fit.fitted
    assert fit.correlation == DEFAULT_CORRELATION
    assert fit.note.startswith("only 3 past periods (at least 4 needed to fit)")
    assert fit_correlation([]).note.startswith("only 0 past periods")


def test_cramer_von_mises_by_hand() -> None:
    assert cramer_von_mises([0.5]) == pytest.approx(1 / 12)  # 1/12 + (0.5 - 1/2)^2
    assert cramer_von_mises([0.75, 0.25]) == pytest.approx(1 / 24)  # at 1/4 and 3/4 exactly
    # 1/24 + (0 - 1/4)^2 + (0 - 3/4)^2 = 0.041667 + 0.0625 + 0.5625
    assert cramer_von_mises([0.0, 0.0]) == pytest.approx(2 / 3)


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Correlation(0.7, 0.5), "add up to 1.2"),
        (lambda: Correlation(-0.1, 0.0), "0 or more"),
        (lambda: Correlation.of(0.8), "add up to 1.2"),
        (lambda: OpenPeriod([0.5, 1.5], [1, 2]), "between 0 and 1"),
        (lambda: OpenPeriod([0.5], [1, 2]), "1 deal probabilities but 2 amounts"),
        (lambda: OpenPeriod([0.5], [-1]), "must not be negative"),
        (lambda: OpenPeriod([0.5], [1], owners=[1, 2]), "1 deals but 2 owners"),
        (lambda: OpenPeriod([0.5, 0.5], [1, 1], owners=["a", None]), "owners must be"),
        (lambda: OpenPeriod([0.5], [1], closed=-5), "closed must be 0 or more"),
        (lambda: Arrivals(10, 5, past=(1.0,)), "not both"),
        (lambda: Arrivals(past=()), "empty"),
        (lambda: Arrivals(0, 5), "mean of 0"),
        (lambda: simulate(OpenPeriod([0.5], [1]), draws=0), "draws must be"),
        (lambda: simulate(OpenPeriod([0.5], [1]), draws=10).quantile(1.5), "quantile level"),
        (lambda: fit_correlation([], grid=[]), "grid"),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]
