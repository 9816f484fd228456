"""The per-deal win model: the probability that an open deal is won by the period's end,
from what was known about it at the forecast's moment, and the reasons behind each number.

Definitions:

* **Features**: one row per deal, one column per feature, as an Arrow table. Text and
  dictionary columns are **categories**; integer, decimal and floating columns are
  **numbers**; boolean columns are **flags** (numbers 0/1 to the trees). Nulls are allowed in
  all of them and mean "unknown" (NaN is unknown too; an infinite number is an error).
* **Label**: ``won``, true when the deal was won by the end of the period it was scored for.
* **Order**: any sortable value per row (typically the as-of moment): it decides which rows
  are "latest", the ones the calibration is learned on.
* **Probability**: gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``,
  log loss, categories handled natively) whose scores are then **calibrated**, so that of the
  deals given 30%, about 30% are won.

Fitting, step by step:

1. Categories are coded by frequency in the fitted rows (most frequent = 0, ties by the
   text); beyond the ``MAX_CATEGORIES`` most frequent, the rest share one "other" code. A
   category never seen in fitting is treated as unknown at prediction.
2. Too little to learn from (fewer than ``MIN_ROWS`` rows, or fewer than ``MIN_CLASS`` won
   or lost) gives a **base-rate model**: every deal gets the fitted share of won deals (0
   when there were no deals at all), and ``note`` says why. Small data never raises;
   malformed input raises ``InputError``.
3. Rows are sorted by ``order`` (stable: ties keep their order in the table). The trees are
   grown on the earliest ``1 - CALIBRATION_SHARE`` (80%) until ``PATIENCE`` more rounds
   no longer lower the log loss on the latest 20% (or ``MAX_ROUNDS``); the number of rounds
   kept is the one with the lowest loss there. This is early stopping on a time-ordered
   split, not on a random one, because a forecast is always made on deals later than
   those it learned from.
4. A calibrator maps those trees' scores on the latest 20% to what happened there:
   **isotonic** regression (a non-decreasing step function, linear between steps) when the
   fold has at least ``ISOTONIC_ROWS`` rows and ``ISOTONIC_CLASS`` won and lost, since it
   needs that much to be steady (it may give exactly 0 or 1 where the fold's lowest or
   highest scores all lost or all won); otherwise **Platt** scaling, a logistic regression on the
   logit of the score (two numbers, steady on small folds; with Platt's targets, so a
   perfectly separated fold gives no certainties). A fold with fewer than
   ``PLATT_CLASS`` won or lost leaves the trees uncalibrated (fixed ``FALLBACK_ROUNDS``
   rounds) and ``note`` says so.
5. The trees are fitted again on all rows with the rounds found in step 3 (the latest deals
   are the most like the ones being forecast), and the calibrator of step 4 is applied to
   their scores. The calibrator learned the scores of trees fitted on 80% of the rows;
   trees fitted on all of them are a little sharper, a small bias accepted for using the
   latest deals. The rounds and the calibrator are chosen on the same fold, which makes
   that fold's own fit slightly optimistic; neither has more than a few degrees of freedom.
   With ``refit=False`` this step is skipped: the trees are the ones grown in step 3, cut to
   the rounds kept, exactly the trees the calibrator learned (the forecast does this: it
   fits a model per period in its backtests, and the step would double the time).

Everything is deterministic for a given ``seed`` (the trees use no sampling; the seed is
passed on for scikit-learn's tie-breaking).

Threads: below ``THREADED_ROWS`` rows the trees run on one thread. scikit-learn's OpenMP
threads gain little on small data and lose a great deal when the cores are busy with other
work: on a busy 2-vCPU machine, 20,000 rows took 1.2 s on one thread and 15-22 s on two,
and 62,000 rows 15-18 s against 154 s (the forecast fits at most 60,000). Larger fits use
the OpenMP default, which ``OMP_NUM_THREADS`` sets.

Reasons (``WinModel.reasons``): for each feature, the row's value is replaced by the
fitted rows' typical value (the median of a number, the most frequent category or flag)
and the calibrated probability is computed again; the difference is how much the row's
actual value raises or lowers its probability. Each feature is measured alone, so the
changes do not add up to the distance from the base rate when features interact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from quarterdeck.errors import InputError

__all__ = [
    "CALIBRATION_SHARE",
    "FALLBACK_ROUNDS",
    "ISOTONIC_CLASS",
    "ISOTONIC_ROWS",
    "MAX_CATEGORIES",
    "MAX_ROUNDS",
    "MIN_CLASS",
    "MIN_ROWS",
    "PATIENCE",
    "PLATT_CLASS",
    "THREADED_ROWS",
    "TREE_SETTINGS",
    "WinModel",
    "fit_win_model",
]

MIN_ROWS = 200
"""Fewer rows than this give a base-rate model."""

MIN_CLASS = 20
"""Fewer won (or lost) rows than this give a base-rate model."""

CALIBRATION_SHARE = 0.2
"""The latest share of rows (by ``order``) that rounds and calibration are learned on."""

ISOTONIC_ROWS = 1000
"""A calibration fold needs this many rows for isotonic regression..."""

ISOTONIC_CLASS = 50
"""...and this many won and this many lost; otherwise Platt scaling."""

PLATT_CLASS = 5
"""Fewer won (or lost) rows than this in the calibration fold leave the trees uncalibrated."""

MAX_ROUNDS = 500
"""The most boosting rounds grown."""

PATIENCE = 50
"""Growing stops when this many rounds bring no lower log loss on the latest rows (by
more than 0.0001 per row: separable data would otherwise improve forever)."""

_TOLERANCE = 1e-4  # log loss per row: less improvement than this over PATIENCE rounds is none

THREADED_ROWS = 100_000
"""Fits and predictions on fewer rows run on one thread (see the module docstring)."""

FALLBACK_ROUNDS = 100
"""Rounds used when the calibration fold cannot choose them."""

MAX_CATEGORIES = 254
"""Categories kept per column; the rest share one code (the trees take at most 255)."""

TREE_SETTINGS: Mapping[str, Any] = {
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
}
"""Fixed, modest settings of the trees; only the number of rounds is learned."""

_REASON_FLOOR = 0.001  # changes under 0.1 point are not reasons
_LOGIT_CLIP = 1e-6

Floats = npt.NDArray[np.float64]
Kind = Literal["number", "flag", "category"]


@dataclass(frozen=True)
class _Column:
    """How one feature column is turned into a column of numbers for the trees."""

    name: str
    kind: Kind
    words: str
    categories: tuple[str, ...] = ()  # category codes 0..len-1, most frequent first
    pooled: tuple[str, ...] = ()  # fitted categories beyond MAX_CATEGORIES: one code
    typical: float = math.nan  # in codes for a category

    @property
    def empty(self) -> bool:
        """No known value in the fitted rows: the column tells the trees nothing."""
        return not self.categories if self.kind == "category" else math.isnan(self.typical)

    @property
    def other_code(self) -> float:
        return float(len(self.categories))

    def typical_words(self) -> str:
        if self.kind == "category":
            return self.categories[0] if self.categories else "unknown"
        return _value_words(self.kind, self.typical)


@dataclass(frozen=True)
class _Calibrator:
    """Maps the trees' scores to calibrated probabilities."""

    kind: Literal["isotonic", "platt", "none"]
    x: Floats = field(default_factory=lambda: np.empty(0))
    y: Floats = field(default_factory=lambda: np.empty(0))
    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, score: Floats) -> Floats:
        if self.kind == "isotonic":
            # IsotonicRegression.predict with out_of_bounds="clip" is this interpolation.
            return np.interp(score, self.x, self.y)
        if self.kind == "platt":
            return _sigmoid(self.slope * _logit(score) + self.intercept)
        return score


@dataclass(frozen=True)
class WinModel:
    """A fitted win model. ``columns`` are the feature columns it needs, in order;
    ``base_rate`` the share of fitted rows that were won; ``rows`` how many rows it was
    fitted on; ``rounds`` the boosting rounds (0 for a base-rate model); ``calibration``
    "isotonic", "platt" or "none"; ``note`` None when everything went as described in the
    module docstring, else one sentence saying what was done instead and why."""

    columns: tuple[str, ...]
    base_rate: float
    rows: int
    rounds: int
    calibration: str
    note: str | None
    _encoders: tuple[_Column, ...] = field(repr=False, compare=False)
    _trees: HistGradientBoostingClassifier | None = field(repr=False, compare=False)
    _calibrator: _Calibrator = field(repr=False, compare=False)

    def predict(self, features: pa.Table) -> Floats:
        """The calibrated probability that each row's deal is won, in [0, 1]."""
        return self._probabilities(self._matrix(features))

    def reasons(self, features: pa.Table, top: int = 3) -> list[tuple[tuple[str, float], ...]]:
        """For each row, up to ``top`` features that move its probability most, largest move
        first, as (words, signed change in probability): e.g. ("time in stage 84 (typical
        21) lowers it by 12 points", -0.12). Changes under 0.1 point are left out."""
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise InputError(f"top must be a whole number of 1 or more, not {top!r}")
        x = self._matrix(features)
        n = x.shape[0]
        if self._trees is None or n == 0:
            return [() for _ in range(n)]
        p = self._probabilities(x)
        change = np.empty((n, len(self._encoders)))
        for j, column in enumerate(self._encoders):
            typical = x.copy()
            typical[:, j] = column.typical
            change[:, j] = p - self._probabilities(typical)
        change[np.abs(change) < _REASON_FLOOR] = 0.0
        ranked = np.argsort(-np.abs(change), axis=1, kind="stable")[:, :top]
        shown = [_shown_values(features.column(c.name), c) for c in self._encoders]
        out: list[tuple[tuple[str, float], ...]] = []
        for i in range(n):
            row: list[tuple[str, float]] = []
            for j in ranked[i]:
                delta = float(change[i, j])
                if delta == 0.0:
                    break
                column = self._encoders[j]
                row.append((_sentence(column, shown[j][i], delta), delta))
            out.append(tuple(row))
        return out

    def _probabilities(self, x: Floats) -> Floats:
        if self._trees is None:
            return np.full(x.shape[0], self.base_rate, dtype=np.float64)
        if x.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        with _threads(x.shape[0]):
            score = self._trees.predict_proba(x)[:, 1]
        return np.clip(self._calibrator(score), 0.0, 1.0).astype(np.float64)

    def _matrix(self, features: pa.Table) -> Floats:
        if not isinstance(features, pa.Table):
            raise InputError(f"features must be an Arrow table, not {type(features).__name__}")
        names = features.column_names
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise InputError(f"features lack {_names(missing)} that the win model was fitted with")
        extra = [c for c in names if c not in self.columns]
        if extra:
            raise InputError(f"features have {_names(extra)} that the win model never saw")
        _no_repeats(names)
        return _encode(features, self._encoders)


def fit_win_model(
    features: pa.Table,
    won: npt.ArrayLike,
    order: npt.ArrayLike,
    *,
    labels: Mapping[str, str] | None = None,
    seed: int = 0,
    refit: bool = True,
) -> WinModel:
    """Fit a win model on closed deals: ``features`` known at each row's moment, ``won``
    (true/false per row) and ``order`` (sortable per row, later = larger), as described in
    the module docstring. ``labels`` turns column names into words for the reasons
    (``"days_in_stage" -> "time in stage"``); unlabelled columns use their name.
    ``refit=False`` skips step 5: the trees are those grown on the earliest rows, the very
    ones the calibrator learned (half the time; the latest rows then only calibrate)."""
    if not isinstance(features, pa.Table):
        raise InputError(f"features must be an Arrow table, not {type(features).__name__}")
    if features.num_columns == 0:
        raise InputError("the win model needs at least one feature column")
    _no_repeats(features.column_names)
    n = features.num_rows
    y = _outcomes(won, n)
    rank = _order(order, n)
    words = dict(labels or {})
    encoders = tuple(
        _fit_column(name, features.column(name), words.get(name, name.replace("_", " ")))
        for name in features.column_names
    )
    columns = tuple(features.column_names)
    wins = int(y.sum())
    base_rate = wins / n if n else 0.0

    def base_model(note: str) -> WinModel:
        return WinModel(columns, base_rate, n, 0, "none", note, encoders, None, _Calibrator("none"))

    if n < MIN_ROWS or min(wins, n - wins) < MIN_CLASS:
        return base_model(
            f"only {n:,} closed deals ({wins:,} won, {n - wins:,} lost): a model needs "
            f"{MIN_ROWS:,} with {MIN_CLASS} of each, so every deal gets the base rate "
            f"{base_rate:.1%}"
        )

    x = _encode(features, encoders)
    is_category = np.array([c.kind == "category" for c in encoders])
    late_count = max(1, round(n * CALIBRATION_SHARE))
    early, late = rank[: n - late_count], rank[n - late_count :]
    early_wins, late_wins = int(y[early].sum()), int(y[late].sum())
    fold_ok = min(early_wins, len(early) - early_wins) >= MIN_CLASS and (
        min(late_wins, len(late) - late_wins) >= PLATT_CLASS
    )
    if not fold_ok:
        with _threads(n):
            trees = _trees(is_category, seed, FALLBACK_ROUNDS).fit(x, y)
        return WinModel(
            columns,
            base_rate,
            n,
            FALLBACK_ROUNDS,
            "none",
            f"the latest {len(late):,} deals ({late_wins:,} won) and the earlier "
            f"{len(early):,} ({early_wins:,} won) do not both hold enough won and lost "
            f"deals to choose rounds and calibrate, so the trees ({FALLBACK_ROUNDS} rounds) "
            "are uncalibrated",
            encoders,
            trees,
            _Calibrator("none"),
        )

    with _threads(n):
        rounds, score, trees = _grow(is_category, seed, x[early], y[early], x[late], y[late])
        calibrator = _calibrate(score, y[late])
        if refit:
            trees = _trees(is_category, seed, rounds).fit(x, y)
    return WinModel(
        columns, base_rate, n, rounds, calibrator.kind, None, encoders, trees, calibrator
    )


def _trees(is_category: npt.NDArray[np.bool_], seed: int, rounds: int) -> Any:
    return HistGradientBoostingClassifier(
        loss="log_loss",
        max_iter=rounds,
        categorical_features=is_category,
        early_stopping=False,
        random_state=seed,
        **TREE_SETTINGS,
    )


def _grow(
    is_category: npt.NDArray[np.bool_],
    seed: int,
    x: Floats,
    y: npt.NDArray[np.bool_],
    x_late: Floats,
    y_late: npt.NDArray[np.bool_],
) -> tuple[int, Floats, Any]:
    """Grow trees on (x, y) with the latest rows as the validation set of the library's
    own early stopping (its log loss there, stopping after ``PATIENCE`` rounds without a
    gain of ``_TOLERANCE`` per row, or at ``MAX_ROUNDS``); return the number of rounds with
    the lowest loss there, the scores it gives those rows and trees cut to that many
    rounds."""
    trees = _trees(is_category, seed, MAX_ROUNDS).set_params(
        early_stopping=True, scoring="loss", n_iter_no_change=PATIENCE, tol=_TOLERANCE
    )
    trees.fit(x, y, X_val=x_late, y_val=y_late)
    # validation_score_[k] is minus the log loss after k rounds (k = 0: no tree yet).
    best = int(np.argmax(trees.validation_score_[1:])) + 1
    for rounds, proba in enumerate(trees.staged_predict_proba(x_late), start=1):
        if rounds == best:
            score = np.asarray(proba[:, 1], dtype=np.float64)
            break
    # Keep only the best rounds' trees: the library predicts with every tree it holds, so
    # the rounds grown past the best are dropped (or, should its inner list be gone in some
    # release, the trees are grown again to that many rounds).
    if isinstance(getattr(trees, "_predictors", None), list):
        trees._predictors = trees._predictors[:best]
    else:  # pragma: no cover - depends on the library's release
        trees = _trees(is_category, seed, best).fit(x, y)
    return best, score, trees


def _threads(rows: int) -> AbstractContextManager[Any]:
    """One OpenMP thread below ``THREADED_ROWS`` rows, else the library's default."""
    if rows < THREADED_ROWS:
        return threadpool_limits(limits=1, user_api="openmp")
    return nullcontext()


def _calibrate(score: Floats, y: npt.NDArray[np.bool_]) -> _Calibrator:
    wins = int(y.sum())
    if len(y) >= ISOTONIC_ROWS and min(wins, len(y) - wins) >= ISOTONIC_CLASS:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, y)
        return _Calibrator(
            "isotonic",
            x=np.asarray(iso.X_thresholds_, dtype=np.float64),
            y=np.asarray(iso.y_thresholds_, dtype=np.float64),
        )
    # Platt scaling on the logit with Platt's targets: (won + 1) / (won + 2) for a won deal
    # and 1 / (lost + 2) for a lost one, so that a fold the scores separate perfectly
    # does not give certainties. Soft targets are fitted as each row twice, once won and
    # once lost, weighted by the target; the fit is practically unpenalised.
    high, low = (wins + 1) / (wins + 2), 1 / (len(y) - wins + 2)
    target = np.where(y, high, low)
    z = _logit(score)[:, None]
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(
        np.vstack([z, z]),
        np.r_[np.ones(len(y)), np.zeros(len(y))],
        sample_weight=np.r_[target, 1 - target],
    )
    return _Calibrator(
        "platt", slope=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0])
    )


def _logit(p: Floats) -> Floats:
    q = np.clip(p, _LOGIT_CLIP, 1 - _LOGIT_CLIP)
    return np.asarray(np.log(q) - np.log1p(-q), dtype=np.float64)


def _sigmoid(z: Floats) -> Floats:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


# -- input checks and encoding ---------------------------------------------------------


def _names(names: Sequence[str]) -> str:
    """ "the column 'a'" or "the columns 'a', 'b'"."""
    quoted = ", ".join(repr(n) for n in names)
    return f"the column {quoted}" if len(names) == 1 else f"the columns {quoted}"


def _no_repeats(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"features have two columns named {name!r}")
        seen.add(name)


def _outcomes(won: npt.ArrayLike, n: int) -> npt.NDArray[np.bool_]:
    y = np.asarray(won)
    if y.ndim != 1 or len(y) != n:
        raise InputError(f"won must hold one true/false per row: {n:,} rows, got shape {y.shape}")
    if y.dtype == np.bool_:
        return y
    if y.dtype.kind in "iuf" and np.isin(y, (0, 1)).all():
        return y.astype(np.bool_)
    raise InputError("won must hold only true/false (or 1/0) values, with none missing")


def _order(order: npt.ArrayLike, n: int) -> npt.NDArray[np.intp]:
    o = np.asarray(order)
    if o.ndim != 1 or len(o) != n:
        raise InputError(f"order must hold one value per row: {n:,} rows, got shape {o.shape}")
    if (o.dtype.kind == "f" and np.isnan(o).any()) or (o.dtype.kind in "mM" and np.isnat(o).any()):
        raise InputError("order has missing values: every row needs a moment")
    try:
        return np.argsort(o, kind="stable")
    except TypeError as exc:
        raise InputError(f"order must hold values that can be sorted: {exc}") from exc


def _kind(name: str, column: pa.ChunkedArray) -> Kind:
    t = column.type
    if pa.types.is_dictionary(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return "category"
    if pa.types.is_string_view(t):
        return "category"
    if pa.types.is_boolean(t):
        return "flag"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_null(t):
        return "number"
    raise InputError(f"feature {name!r} has type {t}: give numbers (e.g. days), true/false or text")


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.cast(pa.string())


def _fit_column(name: str, column: pa.ChunkedArray, words: str) -> _Column:
    kind = _kind(name, column)
    if kind == "category":
        counts = pc.value_counts(_text(column).drop_null())
        pairs = sorted(
            zip(
                counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
            ),
            key=lambda vc: (-vc[1], vc[0]),
        )
        values = [v for v, _ in pairs]
        kept, pooled = values[:MAX_CATEGORIES], values[MAX_CATEGORIES:]
        return _Column(name, kind, words, tuple(kept), tuple(pooled), 0.0 if kept else math.nan)
    x = _numbers(name, column)
    known = x[~np.isnan(x)]
    if known.size == 0:
        typical = math.nan
    elif kind == "flag":
        typical = float(np.mean(known) > 0.5)  # the more frequent; a tie gives "no"
    else:
        typical = float(np.median(known))
    return _Column(name, kind, words, typical=typical)


def _numbers(name: str, column: pa.ChunkedArray) -> Floats:
    if pa.types.is_null(column.type):
        return np.full(len(column), np.nan)
    x = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if np.isinf(x).any():
        raise InputError(f"feature {name!r} has an infinite value: leave it empty if unknown")
    return x


def _encode(features: pa.Table, encoders: Sequence[_Column]) -> Floats:
    x = np.empty((features.num_rows, len(encoders)), dtype=np.float64)
    for j, column in enumerate(encoders):
        values = features.column(column.name)
        kind = _kind(column.name, values)
        if (kind == "category") != (column.kind == "category"):
            was = "text" if column.kind == "category" else "numbers"
            raise InputError(
                f"feature {column.name!r} held {was} when the win model was fitted, "
                f"now {values.type}"
            )
        if column.empty:
            x[:, j] = 0.0  # a constant: the trees cannot bin a column with no known value
            continue
        if column.kind != "category":
            x[:, j] = _numbers(column.name, values)
            continue
        text = _text(values)
        code = pc.index_in(text, value_set=pa.array(column.categories, pa.string()))
        out = np.asarray(
            pc.cast(code, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
        )
        if column.pooled:
            pooled = pc.is_in(text, value_set=pa.array(column.pooled, pa.string()))
            out[np.asarray(pooled.to_numpy(zero_copy_only=False), dtype=bool)] = column.other_code
        x[:, j] = out  # unseen categories and nulls stay NaN: unknown to the trees
    return x


# -- words -----------------------------------------------------------------------------


def _value_words(kind: Kind, value: float) -> str:
    if math.isnan(value):
        return "unknown"
    if kind == "flag":
        return "yes" if value else "no"
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _shown_values(values: pa.ChunkedArray, column: _Column) -> list[str]:
    if column.kind == "category":
        return [v if v is not None else "unknown" for v in _text(values).to_pylist()]
    return [_value_words(column.kind, v) for v in _numbers(column.name, values)]


def _sentence(column: _Column, value: str, change: float) -> str:
    points = abs(change) * 100
    amount = f"{points:.0f}" if points >= 0.95 else f"{points:.1f}"
    unit = "point" if amount == "1" else "points"
    verb = "raises" if change > 0 else "lowers"
    return f"{column.words} {value} (typical {column.typical_words()}) {verb} it by {amount} {unit}"
