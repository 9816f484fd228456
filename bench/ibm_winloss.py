"""Win model benchmark: 5-fold cross-validation of the per-deal win model on the IBM Watson
sales win-loss data set (78,025 closed opportunities of an auto-parts supplier).

Features are only the fields known early in a deal (``EARLY``); the fields that describe
how the deal went until it closed (``END_OF_DEAL``) are never used. "Elapsed Days In
Sales Stage" is the time in the deal's current stage; in this extract of closed deals it is
measured at the close, so it may carry the end: the model is measured without it (the
headline) and with it, and both are printed.

The amount is known early, but in this extract it may be the booked amount of a won deal:
amounts that are not multiples of 100 are won 39% of the time, multiples of 1,000 only
15%. So the model is also measured with each amount rounded to two significant digits, to
show how much of its skill rests on that precision.

The data has no dates, so ``order`` (which rows the model calibrates on) is a random
permutation of the rows: the folds are random too, so there is no "later" to respect.

Duplicates: 196 rows repeat an Opportunity Number. Exact copies are dropped; the rest are
line items of one opportunity (same outcome, another product subgroup or amount), of which
the first in the file is kept, so that no deal is on both sides of a fold.

Printed for each feature set: AUC per fold, their mean and the AUC of all out-of-fold
predictions pooled; Brier score of the model, of the plain base rate and of a per-segment
base rate (segment = Route To Market x Client Size By Revenue; both rates learned on the
training folds); expected calibration error over 10 equal-width bins.

    OMP_NUM_THREADS=1 .venv/bin/python bench/ibm_winloss.py [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from quarterdeck.forecast.scoring import brier, ece
from quarterdeck.forecast.winmodel import fit_win_model

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared/data/ibm_watson_sales_win_loss/WA_Fn-UseC_-Sales-Win-Loss.csv"
)

LABEL = "Opportunity Result"
ID = "Opportunity Number"
EARLY = (
    "Supplies Subgroup",
    "Supplies Group",
    "Region",
    "Route To Market",
    "Competitor Type",
    "Opportunity Amount USD",
    "Client Size By Revenue",
    "Client Size By Employee Count",
    "Revenue From Client Past Two Years",
    "Deal Size Category",
)
"""Known when a deal is opened: what is sold, where, through which route, to whom, how big,
against whom."""

ELAPSED = "Elapsed Days In Sales Stage"
AMOUNT = "Opportunity Amount USD"

END_OF_DEAL = (
    "Sales Stage Change Count",
    "Total Days Identified Through Closing",
    "Total Days Identified Through Qualified",
    "Ratio Days Identified To Total Days",
    "Ratio Days Validated To Total Days",
    "Ratio Days Qualified To Total Days",
)
"""Only known once the deal has closed: never features."""

SEGMENT = ("Route To Market", "Client Size By Revenue")
LABELS = {
    "Supplies Subgroup": "product",
    "Supplies Group": "product group",
    "Region": "region",
    "Route To Market": "route to market",
    "Competitor Type": "competitor",
    "Opportunity Amount USD": "amount (USD)",
    "Client Size By Revenue": "client revenue band",
    "Client Size By Employee Count": "client headcount band",
    "Revenue From Client Past Two Years": "past revenue band",
    "Deal Size Category": "deal size band",
    ELAPSED: "days in stage",
}


def load() -> tuple[pa.Table, npt.NDArray[np.bool_]]:
    """The deals, one row per opportunity, and whether each was won."""
    if not DATA.exists():
        sys.exit(f"the IBM win-loss data set is not at {DATA}: nothing to measure")
    raw = pv.read_csv(DATA)
    rows = raw.num_rows
    distinct = raw.group_by(raw.column_names).aggregate([])
    ids = raw.column(ID).to_numpy()
    _, first = np.unique(ids, return_index=True)
    deals = raw.take(np.sort(first))
    print(
        f"{rows:,} rows; {rows - distinct.num_rows:,} exact copies; "
        f"{deals.num_rows:,} opportunities kept (first row of each number)"
    )
    won = np.asarray(pc.equal(deals.column(LABEL), "Won").to_numpy(zero_copy_only=False))
    return deals, won


def rounded_amounts(deals: pa.Table) -> pa.Table:
    """The deals with each amount rounded to two significant digits (55,003 -> 55,000)."""
    amount = deals.column(AMOUNT).to_numpy().astype(np.float64)
    positive = amount > 0
    step = 10 ** (np.floor(np.log10(amount[positive])) - 1)
    amount[positive] = np.round(amount[positive] / step) * step
    return deals.set_column(deals.column_names.index(AMOUNT), AMOUNT, pa.array(amount))


def segment_rates(
    deals: pa.Table,
    won: npt.NDArray[np.bool_],
    train: npt.NDArray[np.intp],
    test: npt.NDArray[np.intp],
) -> npt.NDArray[np.float64]:
    """The training folds' win rate of each test row's segment (the training base rate
    for a segment the training folds lack)."""
    key = np.char.add(
        *(np.asarray(deals.column(c).to_numpy(zero_copy_only=False)).astype(str) for c in SEGMENT)
    )
    rate = {k: float(won[train][key[train] == k].mean()) for k in np.unique(key[train])}
    base = float(won[train].mean())
    return np.array([rate.get(k, base) for k in key[test]])


def measure(
    deals: pa.Table, won: npt.NDArray[np.bool_], columns: tuple[str, ...], seed: int
) -> None:
    features = deals.select(list(columns))
    order = np.random.default_rng(seed).permutation(len(won))  # no dates: random order
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    p = np.empty(len(won))
    segment = np.empty(len(won))
    plain = np.empty(len(won))
    aucs = []
    started = time.perf_counter()
    for k, (train, test) in enumerate(folds.split(np.zeros(len(won)), won), start=1):
        model = fit_win_model(
            features.take(train), won[train], order[train], labels=LABELS, seed=seed
        )
        p[test] = model.predict(features.take(test))
        segment[test] = segment_rates(deals, won, train, test)
        plain[test] = model.base_rate
        aucs.append(float(roc_auc_score(won[test], p[test])))
        print(
            f"  fold {k}: AUC {aucs[-1]:.4f}  rounds {model.rounds}  "
            f"calibration {model.calibration}  note {model.note}"
        )
    seconds = time.perf_counter() - started
    print(
        f"  5-fold AUC: mean {np.mean(aucs):.4f} (sd {np.std(aucs):.4f}), pooled {roc_auc_score(won, p):.4f}"
    )
    print(
        f"  Brier: model {brier(won, p):.4f}, per-segment base rate {brier(won, segment):.4f}, "
        f"plain base rate {brier(won, plain):.4f}"
    )
    print(
        f"  ECE (10 bins): model {ece(won, p):.4f}, per-segment base rate {ece(won, segment):.4f}"
    )
    print(f"  segment AUC (for scale): {roc_auc_score(won, segment):.4f}")
    print(f"  time: {seconds:.1f} s for 5 fits and predictions")
    reasons = model.reasons(features.take(test[:3]))
    for i, row in zip(test[:3], reasons, strict=True):
        print(f"  deal {deals.column(ID)[int(i)]} (p={p[i]:.2f}, won={bool(won[i])}):")
        for words, _ in row:
            print(f"    {words}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    deals, won = load()
    print(f"won {int(won.sum()):,} of {len(won):,} ({won.mean():.1%})")
    print(f"\nearly fields only (headline): {', '.join(EARLY)}")
    measure(deals, won, EARLY, args.seed)
    print(f"\nearly fields, {AMOUNT} rounded to 2 significant digits (sensitivity)")
    measure(rounded_amounts(deals), won, EARLY, args.seed)
    print(f"\nearly fields + {ELAPSED} (measured at the close: may leak)")
    measure(deals, won, (*EARLY, ELAPSED), args.seed)


if __name__ == "__main__":
    main()
