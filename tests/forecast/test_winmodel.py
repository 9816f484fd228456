"""The per-deal win model on small synthetic deals whose answer is known by construction."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from quarterdeck.errors import InputError
from quarterdeck.forecast.winmodel import MAX_CATEGORIES, WinModel, fit_win_model


def decided_by_segment(n: int = 400) -> tuple[pa.Table, np.ndarray]:
    """Every "win" deal won, every "lose" deal lost, alternating rows."""
    segment = np.where(np.arange(n) % 2 == 0, "win", "lose")
    return pa.table({"segment": segment}), segment == "win"


@pytest.fixture(scope="module")
def by_segment() -> WinModel:
    features, won = decided_by_segment()
    return fit_win_model(features, won, np.arange(len(won)))


@pytest.fixture(scope="module")
def drivers() -> tuple[WinModel, pa.Table, np.ndarray]:
    """Deals whose chance is known: 80% in segment "a", 20% in "b" (the more frequent),
    halved once a deal has been 70 days or more in its stage; a coin-flip flag that does
    nothing."""
    n = 6000
    rng = np.random.default_rng(7)
    segment = np.where(rng.random(n) < 0.4, "a", "b")
    days = np.arange(n) % 100  # 0..99 evenly: median 49.5
    chance = np.where(segment == "a", 0.8, 0.2) * np.where(days >= 70, 0.5, 1.0)
    features = pa.table(
        {"segment": segment, "days_in_stage": days, "referral": rng.random(n) < 0.5}
    )
    won = rng.random(n) < chance
    model = fit_win_model(
        features, won, np.arange(n), labels={"days_in_stage": "time in stage"}, seed=3
    )
    return model, features, won


def test_a_category_that_decides_the_outcome(by_segment: WinModel) -> None:
    assert by_segment.columns == ("segment",)
    assert by_segment.base_rate == 0.5  # 200 of 400
    assert by_segment.note is None
    # The latest 20% (rows 320..399) are the calibration fold: 40 won, 40 lost, which the
    # trees separate perfectly, so Platt's targets cap the answer: 41/42 = 0.976 for "win"
    # and 1/42 = 0.024 for "lose". The trees refitted on all rows score a little more
    # sharply than those the calibrator saw, hence the tolerance of 0.01.
    assert by_segment.calibration == "platt"
    p = by_segment.predict(pa.table({"segment": ["win", "lose"]}))
    assert p.dtype == np.float64
    assert p[0] == pytest.approx(41 / 42, abs=0.01)
    assert p[1] == pytest.approx(1 / 42, abs=0.01)


def test_a_numeric_threshold() -> None:
    x = np.arange(2000) % 100
    model = fit_win_model(pa.table({"x": x}), x > 60, np.arange(2000))
    p = model.predict(pa.table({"x": [0, 30, 60, 61, 75, 99]}))
    # Won exactly when x > 60: 0..60 lost, 61..99 won; nothing in between can be learnt,
    # so the step must sit between 60 and 61 (probabilities on the right side of 0.05).
    assert (p[:3] < 0.05).all()
    assert (p[3:] > 0.95).all()


def test_an_unseen_category_counts_as_unknown() -> None:
    # Unknown segments won and "lose" lost: a segment never seen must count as unknown
    # (won), not as any category the model knows.
    segment = [("win", "lose", None)[i % 3] for i in range(600)]
    won = np.array([s != "lose" for s in segment])
    model = fit_win_model(pa.table({"segment": segment}), won, np.arange(600))
    p = model.predict(pa.table({"segment": ["never seen", None, "lose", "win"]}))
    assert p[0] == p[1]
    assert p[0] > 0.9
    assert p[2] < 0.1
    assert p[3] > 0.9


def test_calibration_follows_the_latest_deals() -> None:
    # 10,000 deals; segment "a" wins 80% and "b" 20% in the earliest 8,000, then half as
    # often in the latest 2,000 (40% and 10%). Isotonic calibration on the latest 2,000
    # has two steps, one per segment: the first trees' score of "b" -> the latest "b"
    # rate, that of "a" -> the latest "a" rate. The trees refitted on all rows also see
    # the latest (lower) outcomes, so they score both segments lower than the first trees
    # did: "b" falls below the lowest step and gets exactly the latest "b" rate; "a" lands
    # between the steps, so between the two latest rates. Uncalibrated trees would say
    # about 0.7 and 0.2 instead.
    n = 10_000
    rng = np.random.default_rng(5)
    segment = np.where(np.arange(n) % 2 == 0, "a", "b")
    late = np.arange(n) >= 8000
    chance = np.where(segment == "a", 0.8, 0.2) * np.where(late, 0.5, 1.0)
    won = rng.random(n) < chance
    model = fit_win_model(pa.table({"segment": segment}), won, np.arange(n))
    assert model.calibration == "isotonic"
    late_a = won[late & (segment == "a")].mean()  # about 0.4
    late_b = won[late & (segment == "b")].mean()  # about 0.1
    p = model.predict(pa.table({"segment": ["a", "b"]}))
    assert p[1] == pytest.approx(late_b, abs=1e-12)
    assert late_b < p[0] <= late_a


def test_text_may_come_as_a_dictionary(by_segment: WinModel) -> None:
    coded = pa.table({"segment": pa.array(["lose", "win"]).dictionary_encode()})
    plain = pa.table({"segment": ["lose", "win"]})
    assert by_segment.predict(coded).tolist() == by_segment.predict(plain).tolist()


def test_rare_categories_share_one_code() -> None:
    # 300 categories, won when even: 0..253 kept (20 rows each: the trees look at no
    # category with fewer than 10), 254..299 less frequent (10 rows each), so pooled.
    kept = [f"c{i:03d}" for i in range(MAX_CATEGORIES) for _ in range(20)]
    pooled = [f"c{i:03d}" for i in range(MAX_CATEGORIES, 300) for _ in range(10)]
    names = kept + pooled
    won = np.array([int(name[1:]) % 2 == 0 for name in names])
    model = fit_win_model(pa.table({"c": names}), won, np.arange(len(names)))
    p = model.predict(pa.table({"c": ["c260", "c299", "c000", "c001"]}))
    assert p[0] == p[1]  # two pooled categories, one code
    assert p[2] > p[3]  # kept categories keep their own answer: even won, odd lost


def test_a_constant_outcome_gives_the_base_rate() -> None:
    features, _ = decided_by_segment(500)
    model = fit_win_model(features, np.zeros(500, dtype=bool), np.arange(500))
    assert model.base_rate == 0.0
    assert model.rounds == 0
    assert model.note is not None
    assert "500 closed deals (0 won, 500 lost)" in model.note
    assert "base rate 0.0%" in model.note
    assert model.predict(features.slice(0, 3)).tolist() == [0.0, 0.0, 0.0]
    assert model.reasons(features.slice(0, 2)) == [(), ()]


def test_few_deals_give_the_base_rate() -> None:
    features, won = decided_by_segment(50)
    model = fit_win_model(features, won, np.arange(50))
    assert model.base_rate == 0.5  # 25 of 50
    assert model.note is not None
    assert "only 50 closed deals (25 won, 25 lost)" in model.note
    assert model.predict(features).tolist() == [0.5] * 50


def test_no_deals_at_all_give_a_base_rate_of_zero() -> None:
    empty = pa.table({"segment": pa.array([], pa.string())})
    model = fit_win_model(empty, np.array([], dtype=bool), np.array([], dtype=np.int64))
    assert model.base_rate == 0.0
    assert model.note is not None
    assert model.predict(empty).tolist() == []


def test_a_calibration_fold_with_one_outcome_leaves_the_trees_uncalibrated() -> None:
    # 1000 deals: the earliest 800 alternate won/lost, the latest 200 are all lost.
    features, won = decided_by_segment(1000)
    won[800:] = False
    model = fit_win_model(features, won, np.arange(1000))
    assert model.calibration == "none"
    assert model.note is not None
    assert "the latest 200 deals (0 won)" in model.note
    assert model.predict(pa.table({"segment": ["win"]}))[0] > 0.5


def test_calibrated_probabilities_match_the_true_ones(
    drivers: tuple[WinModel, pa.Table, np.ndarray],
) -> None:
    model, features, _ = drivers
    assert model.calibration == "isotonic"  # the fold: 1,200 rows, about 430 won
    segment = np.array(features.column("segment").to_pylist())
    days = features.column("days_in_stage").to_numpy()
    chance = np.where(segment == "a", 0.8, 0.2) * np.where(days >= 70, 0.5, 1.0)
    p = model.predict(features)
    # The true chances are 0.1, 0.2, 0.4 and 0.8. Each group's mean prediction is compared
    # with its true chance: the smallest group ("a" after 70 days: ~0.4 x 0.3 x 6000 =
    # 720 deals, ~144 of them in the calibration fold) gives the calibrator a standard
    # error of sqrt(0.4 x 0.6 / 144) = 0.041 there, and the trees' own error adds to it;
    # 0.06 is about 1.5 of those standard errors, the larger groups get 0.04.
    for truth, tolerance in ((0.1, 0.04), (0.2, 0.04), (0.4, 0.06), (0.8, 0.04)):
        group = chance == truth
        assert p[group].mean() == pytest.approx(truth, abs=tolerance)
    # Reliability: deals binned by their prediction (10 equal-width bins, bins with at
    # least 300 deals); the mean true chance in a bin matches the mean prediction.
    bins = np.minimum((p * 10).astype(int), 9)
    for b in np.unique(bins):
        inside = bins == b
        if inside.sum() >= 300:
            assert p[inside].mean() == pytest.approx(chance[inside].mean(), abs=0.05)


def test_reasons_point_at_what_was_built_to_matter(
    drivers: tuple[WinModel, pa.Table, np.ndarray],
) -> None:
    model, _, _ = drivers
    rows = pa.table(
        {
            "segment": ["a", "b", "b"],
            "days_in_stage": [40, 90, 40],
            "referral": [True, True, False],
        }
    )
    first, second, third = model.reasons(rows)
    # Row 1: segment "a" against the typical "b": 0.8 instead of 0.2, +60 points; time in
    # stage 40 is on the typical side of 70, so no reason of its own.
    words, change = first[0]
    assert change == pytest.approx(0.6, abs=0.1)
    assert re.fullmatch(r"segment a \(typical b\) raises it by \d+ points", words)
    # Row 2: 90 days in stage halves 0.2: 0.1 instead of 0.2, -10 points.
    words, change = second[0]
    assert change == pytest.approx(-0.1, abs=0.05)
    assert re.fullmatch(r"time in stage 90 \(typical 49.5\) lowers it by \d+ points", words)
    # Row 3 is typical in what matters: whatever the noise, it moves it by little.
    assert all(abs(change) < 0.05 for _, change in third)
    # The flag means nothing: in no row does it move the probability by 5 points or more.
    for row in (first, second, third):
        assert all(abs(c) < 0.05 for w, c in row if w.startswith("referral"))


def test_reasons_list_at_most_top_largest_first(
    drivers: tuple[WinModel, pa.Table, np.ndarray],
) -> None:
    model, features, _ = drivers
    reasons = model.reasons(features.slice(0, 50), top=2)
    assert len(reasons) == 50
    for row in reasons:
        assert len(row) <= 2
        sizes = [abs(change) for _, change in row]
        assert sizes == sorted(sizes, reverse=True)
        assert all(size >= 0.001 for size in sizes)


def test_reasons_equal_the_change_from_the_typical_value(
    drivers: tuple[WinModel, pa.Table, np.ndarray],
) -> None:
    model, _, _ = drivers
    rows = pa.table({"segment": ["a", "b"], "days_in_stage": [90, 90], "referral": [False, False]})
    (change,) = [c for w, c in model.reasons(rows.slice(0, 1))[0] if w.startswith("segment")]
    # The reason is the row's probability less that of the same row with the typical "b".
    p = model.predict(rows)
    assert change == p[0] - p[1]


def test_the_same_seed_gives_the_same_model() -> None:
    features, won = decided_by_segment(600)
    noisy = features.append_column("n", pa.array(np.arange(600) % 7))
    won[::5] = ~won[::5]  # some noise, so that the trees have something to choose
    first = fit_win_model(noisy, won, np.arange(600), seed=11)
    second = fit_win_model(noisy, won, np.arange(600), seed=11)
    assert (first.rounds, first.calibration) == (second.rounds, second.calibration)
    assert first.predict(noisy).tolist() == second.predict(noisy).tolist()


@pytest.mark.parametrize(
    ("features", "won", "order", "message"),
    [
        (pa.table({}), [], [], "at least one feature column"),
        ({"segment": ["a"]}, [True], [1], "must be an Arrow table"),
        (pa.table({"x": [1, 2]}), [True], [1, 2], "won must hold one true/false per row: 2 rows"),
        (pa.table({"x": [1, 2]}), [True, False], [1], "order must hold one value per row"),
        (pa.table({"x": [1, 2]}), [1, 2], [1, 2], "won must hold only true/false"),
        (pa.table({"x": [1, 2]}), [True, False], [1.0, np.nan], "order has missing values"),
        (pa.table({"x": [1, 2]}), [True, False], np.array([1, "b"], object), "can be sorted"),
        (
            pa.table({"day": [date(2026, 1, 1)] * 2}),
            [True, False],
            [1, 2],
            "feature 'day' has type date32[day]: give numbers",
        ),
        (pa.table({"x": [1.0, np.inf]}), [True, False], [1, 2], "feature 'x' has an infinite"),
        (
            pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"]),
            [True],
            [1],
            "two columns named 'x'",
        ),
    ],
)
def test_fit_refuses_malformed_input(
    features: pa.Table, won: list[object], order: object, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        fit_win_model(features, np.array(won), np.asarray(order))


def test_predict_names_the_missing_or_unknown_column(by_segment: WinModel) -> None:
    with pytest.raises(InputError, match="lack the column 'segment' that the win model"):
        by_segment.predict(pa.table({"other": ["a"]}))
    with pytest.raises(InputError, match="have the column 'stage' that the win model never saw"):
        by_segment.predict(pa.table({"segment": ["a"], "stage": ["x"]}))
    with pytest.raises(InputError, match="'segment' held text when the win model was fitted"):
        by_segment.predict(pa.table({"segment": [1]}))
    with pytest.raises(InputError, match="top must be a whole number of 1 or more"):
        by_segment.reasons(pa.table({"segment": ["a"]}), top=0)
