"""The life of every deal as Salesforce records it: OpportunityHistory rows.

Salesforce writes a history row when a deal is created and whenever its stage, amount,
close date, probability or forecast category changes, each row carrying all five values
after the change. This module lays out those changes for all deals at once:

- stage moves forward with skips (about one stage in five is jumped) and occasional
  regressions (back one stage, then forward again); lost deals stall at some stage first;
- close-date pushes: most deals slip 0-2 times by weeks, "always next quarter" deals slip
  a quarter at a time, again and again;
- amount changes (discounts, scope cuts, upsizes) and rare forecast overrides (a rep
  commits a deal early, sandbags a late one, or nudges the probability);
- the close, which records the close date as the day it closed.

Events are built as flat arrays per kind, merged, sorted by (deal, time) and cut at the
export date; each field is then carried forward from the last event that set it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quarterdeck.simulate.deals import Deals
from quarterdeck.simulate.timeline import SECONDS_PER_DAY, Timeline

STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
    "Id. Decision Makers", "Proposal/Price Quote", "Negotiation/Review", "Closed Won",
    "Closed Lost",
)  # fmt: skip
CLOSED_WON, CLOSED_LOST = 7, 8
STAGE_PROBABILITY = np.array([10, 20, 30, 50, 60, 75, 90, 100, 0], dtype=np.int64)
CATEGORIES = ("Pipeline", "BestCase", "Commit", "Omitted", "Closed")
CATEGORY_LABELS = ("Pipeline", "Best Case", "Commit", "Omitted", "Closed")
STAGE_CATEGORY = np.array([0, 0, 0, 1, 1, 2, 2, 4, 3], dtype=np.int64)
CREATE, STAGE, PUSH, AMOUNT, OVERRIDE, CLOSE = range(6)
MAX_PUSHES = 8
MAX_AMOUNT_CHANGES = 4
OVERRIDE_SHARE = 0.12
_HOUR = 3600


@dataclass(frozen=True)
class History:
    """OpportunityHistory rows up to the export date, sorted by deal then time."""

    deal: np.ndarray  # int64 deal number
    at: np.ndarray  # int64 second
    stage: np.ndarray  # int64 index into STAGES
    probability: np.ndarray  # int64 percent
    category: np.ndarray  # int64 index into CATEGORIES
    amount: np.ndarray  # int64 dollars
    close_date: np.ndarray  # int64 day
    last_row: np.ndarray  # int64 per deal: its last row, i.e. the deal's current state

    def __len__(self) -> int:
        return int(self.deal.shape[0])


def build_history(deals: Deals, timeline: Timeline, rng: np.random.Generator) -> History:
    """Lay out, merge and cut every deal's history rows."""
    n = len(deals)
    created_day = deals.created // SECONDS_PER_DAY
    parts = [
        _creation_and_pushes(deals, created_day, rng),
        _stage_moves(deals, rng),
        _amount_changes(deals, rng),
        _overrides(deals, rng),
        _closes(deals),
    ]
    deal, at, kind, stage, amount, close_date, extra = (
        np.concatenate([p[i] for p in parts]) for i in range(7)
    )
    keep = at <= timeline.end_second
    deal, at, kind, stage, amount, close_date, extra = (
        a[keep] for a in (deal, at, kind, stage, amount, close_date, extra)
    )
    order = np.lexsort((kind, at, deal))
    deal, at, kind, stage, amount, close_date, extra = (
        a[order] for a in (deal, at, kind, stage, amount, close_date, extra)
    )
    stage = _carry_forward(stage)
    amount = _carry_forward(amount)
    close_date = _carry_forward(close_date)
    # A stage change resets probability and category to the stage's defaults; pushes and
    # amount changes leave them as they were.
    sets_stage = (kind == CREATE) | (kind == STAGE) | (kind == CLOSE)
    probability = np.where(sets_stage, STAGE_PROBABILITY[stage], -1)
    category = np.where(sets_stage, STAGE_CATEGORY[stage], -1)
    # Overrides: extra > 0 nudges probability by that many points; extra == 0 moves the
    # forecast category one step (up for early stages, down for late ones: sandbagging).
    is_prob = (kind == OVERRIDE) & (extra != 0)
    is_cat = (kind == OVERRIDE) & (extra == 0)
    nudged = np.clip(STAGE_PROBABILITY[stage] + extra, 5, 95)
    nudged = np.where(nudged == STAGE_PROBABILITY[stage], nudged + 5, nudged)
    probability = np.where(is_prob, nudged, probability)
    base_cat = STAGE_CATEGORY[stage]
    moved_cat = np.where(base_cat >= 2, 1, base_cat + 1)
    category = np.where(is_cat, moved_cat, category)
    # Each override touches one field; Salesforce keeps the other one as it was.
    probability = np.where(is_cat, -1, probability)
    category = np.where(is_prob, -1, category)
    probability = _carry_forward(probability)
    category = _carry_forward(category)

    starts = np.searchsorted(deal, np.arange(n))
    last_row = np.append(starts[1:], deal.shape[0]) - 1
    return History(
        deal=deal,
        at=at,
        stage=stage,
        probability=probability,
        category=category,
        amount=amount,
        close_date=close_date,
        last_row=last_row,
    )


_Parts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _event(
    deal: np.ndarray,
    at: np.ndarray,
    kind: int,
    stage: np.ndarray | int = -1,
    amount: np.ndarray | int = -1,
    close_date: np.ndarray | int = -1,
    extra: np.ndarray | int = 0,
) -> _Parts:
    """One kind of event as aligned columns; -1 means the event leaves that field alone."""
    m = deal.shape[0]

    def col(v: np.ndarray | int) -> np.ndarray:
        return np.broadcast_to(np.asarray(v, dtype=np.int64), (m,)).astype(np.int64)

    return (
        deal.astype(np.int64),
        at.astype(np.int64),
        np.full(m, kind, dtype=np.int8),
        col(stage),
        col(amount),
        col(close_date),
        col(extra),
    )


def _carry_forward(values: np.ndarray) -> np.ndarray:
    """Fill -1 entries with the last value set before them (each deal starts fully set)."""
    idx = np.where(values >= 0, np.arange(values.shape[0]), 0)
    np.maximum.accumulate(idx, out=idx)
    return values[idx]


def _within_life(deals: Deals, u: np.ndarray) -> np.ndarray:
    """Seconds strictly between a deal's creation and its recorded close, at fractions u."""
    lo = deals.created + _HOUR
    hi = deals.close_s - _HOUR
    if u.ndim == 2:
        lo, hi = lo[:, None], hi[:, None]
    return lo + (u * np.maximum(hi - lo, 0)).astype(np.int64)


def _creation_and_pushes(deals: Deals, created_day: np.ndarray, rng: np.random.Generator) -> _Parts:
    """The creation row, and close-date pushes planned backwards from the real close.

    The last close date before the close sits near the day the deal really ends; each
    earlier one lies a gap before it (weeks for ordinary slips, about a quarter for
    "always next quarter" deals). Pushes that would put the first close date within a
    week of creation are dropped. A push happens around the old date: before it when the
    rep is on top of the deal, after it when the date was left to go stale.
    """
    n = len(deals)
    k = MAX_PUSHES
    offset = np.where(deals.won, rng.integers(0, 8, n), rng.integers(-10, 20, n))
    final = deals.death + offset
    gap = np.where(
        deals.slipper[:, None], rng.integers(75, 101, (n, k)), rng.integers(10, 46, (n, k))
    )
    earlier = final[:, None] - np.cumsum(gap, axis=1)  # [:, i]: the date i + 1 pushes back
    wanted = np.arange(k)[None, :] < deals.pushes[:, None]
    valid = wanted & (earlier >= created_day[:, None] + 7)
    count = valid.sum(axis=1)
    first_date = np.where(
        count > 0, np.take_along_axis(earlier, np.maximum(count - 1, 0)[:, None], 1)[:, 0], final
    )
    initial = _event(
        np.arange(n), deals.created, CREATE, stage=deals.start_stage,
        amount=deals.amount0, close_date=first_date,
    )  # fmt: skip

    new_value = np.concatenate([final[:, None], earlier[:, :-1]], axis=1)
    at = earlier * SECONDS_PER_DAY + rng.integers(
        -14 * SECONDS_PER_DAY, 21 * SECONDS_PER_DAY, (n, k)
    )
    at = np.clip(at, (deals.created + _HOUR)[:, None], (deals.close_s - _HOUR)[:, None])
    at = np.where(valid, at, np.iinfo(np.int64).max)
    at.sort(axis=1)
    # Pushes clipped to the same second would tie; a second apart keeps their order.
    unused = at == np.iinfo(np.int64).max
    at = np.where(unused, at, at + np.arange(k)[None, :])
    # Push i (counted back from the close) is the (count - 1 - i)-th in time.
    rank = np.clip(count[:, None] - 1 - np.arange(k)[None, :], 0, k - 1)
    at = np.take_along_axis(at, rank, axis=1)
    deal, slot = np.nonzero(valid)
    pushes = _event(deal, at[deal, slot], PUSH, close_date=new_value[deal, slot])
    return tuple(np.concatenate([a, b]) for a, b in zip(initial, pushes, strict=True))  # type: ignore[return-value]


def _stage_moves(deals: Deals, rng: np.random.Generator) -> _Parts:
    """Forward stage moves with skips and regressions, spread over the open part of life.

    Won deals work through their stages over the whole cycle; lost deals get stuck after
    their last stage, so their moves fill only the first part of the time before death.
    """
    n = len(deals)
    target = np.arange(1, 7)[None, :]
    s0 = deals.start_stage[:, None].astype(np.int64)
    top = deals.max_stage[:, None].astype(np.int64)
    keep = (target > s0) & (target <= top) & ((target == top) | (rng.random((n, 6)) < 0.8))
    regress = keep & (target >= 2) & (rng.random((n, 6)) < 0.07)
    per_cell = (keep * (1 + 2 * regress)).ravel()
    cell = np.repeat(np.arange(n * 6), per_cell)
    first_of_cell = np.repeat(np.cumsum(per_cell) - per_cell, per_cell)
    step = np.arange(cell.shape[0]) - first_of_cell
    deal = cell // 6
    stage = cell % 6 + 1
    stage = np.where(step == 1, stage - 1, stage)

    death_s = deals.death * SECONDS_PER_DAY + 12 * _HOUR
    end_of_moves = np.where(
        deals.won, deals.close_s - 2 * _HOUR,
        deals.created + (rng.uniform(0.35, 0.9, n) * (death_s - deals.created)).astype(np.int64),
    )  # fmt: skip
    end_of_moves = np.maximum(end_of_moves, deals.created + 2 * _HOUR)
    end_of_moves = np.minimum(end_of_moves, deals.close_s - _HOUR)
    # Sorting deal + u keeps each deal's block in place and sorts its times.
    frac = np.sort(deal + rng.random(deal.shape[0])) - deal
    lo = deals.created[deal] + _HOUR
    at = lo + (frac * np.maximum(end_of_moves[deal] - lo, 0)).astype(np.int64)
    return _event(deal, at, STAGE, stage=stage)


def _amount_changes(deals: Deals, rng: np.random.Generator) -> _Parts:
    """Amount changes at random times in life; every change moves the amount."""
    n = len(deals)
    mult = deals.amount_mult
    at = np.sort(_within_life(deals, rng.random((n, MAX_AMOUNT_CHANGES))), axis=1)
    value = np.empty((n, MAX_AMOUNT_CHANGES), dtype=np.int64)
    previous = deals.amount0.astype(np.int64)
    unit = deals.unit
    for k in range(MAX_AMOUNT_CHANGES):
        raw = np.maximum(
            unit, np.round(previous * np.where(mult[:, k] > 0, mult[:, k], 1) / unit) * unit
        )
        raw = raw.astype(np.int64)
        raw = np.where(raw == previous, previous + np.where(mult[:, k] < 1, -unit, unit), raw)
        raw = np.maximum(raw, unit)
        raw = np.where(raw == previous, previous + unit, raw)
        value[:, k] = raw
        previous = np.where(mult[:, k] > 0, raw, previous)
    deal, slot = np.nonzero(mult > 0)
    return _event(deal, at[deal, slot], AMOUNT, amount=value[deal, slot])


def _overrides(deals: Deals, rng: np.random.Generator) -> _Parts:
    """Rare manual forecast overrides: a category step or a probability nudge."""
    n = len(deals)
    deal = np.flatnonzero(rng.random(n) < OVERRIDE_SHARE)
    at = _within_life(deals.take(deal), rng.random(deal.shape[0]))
    nudge = rng.choice(np.array([-10, -5, 5, 10]), size=deal.shape[0])
    extra = np.where(rng.random(deal.shape[0]) < 0.6, 0, nudge)
    return _event(deal, at, OVERRIDE, extra=extra)


def _closes(deals: Deals) -> _Parts:
    """The close: Closed Won or Closed Lost, with the close date set to that day."""
    stage = np.where(deals.won, CLOSED_WON, CLOSED_LOST)
    return _event(
        np.arange(len(deals)), deals.close_s, CLOSE, stage=stage, close_date=deals.close_day
    )
