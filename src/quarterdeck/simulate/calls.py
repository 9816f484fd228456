"""The sales leader's weekly forecast call, as the VP Sales would have made it each Monday.

Every Monday at 09:00 (the export's clock, UTC; the simulated org closes deals later in the
day) the VP Sales calls the quarter that holds that Monday: a *commit* and a *best case*,
both cumulative (closed won included), the way `quarterdeck.meeting.forecast_calls` records
them. Calls run from the first quarter whose previous quarter lies wholly in the history
(the leader calls from a quarter of experience) to the export date.

A call uses only what the leader could know at that moment, never the quarter's outcome:

- ``won``: the deals closed won in the quarter before the call;
- the open deals whose close date, as the CRM held it at that moment, falls in the quarter,
  at their amount and stage of that moment, each counted at the leader's gut share for its
  stage (`GUT`), cut in proportion when fewer days are left in the quarter than the stage
  needs (`DAYS_NEEDED`). Deals dated up to `PULL_IN_DAYS` after the quarter's end count
  too, at their share times the part of the quarter gone (pull-ins happen at its end);
- the run rate: what deals created after the same point of the previous quarter booked
  within it, raised by `RUN_RATE_GROWTH` (the team grows), for business not in the CRM yet;
- hindsight: over the last `MEMORY_QUARTERS` finished quarters, what came in after the call
  made at the same week against what the leader expected then. The open estimate is
  scaled by that ratio (clipped to `HINDSIGHT_LIMITS`; 1 with no quarter to go by), so the
  gut is tempered by experience, not by the future.

With ``open`` the gut-weighted pipeline plus the run rate, times hindsight, the call is

    commit    = won + open * mood * (1 - SANDBAG) * noise
    best case = won + open * mood * (1 + STRETCH) * noise

``mood`` = exp(N(0, MOOD_SIGMA)) is drawn once per quarter: the leader is bullish or bearish
about a quarter all quarter long, an error that does not average out within it. Each number
gets its own weekly ``noise`` = exp(N(0, NOISE_SIGMA)). Amounts are rounded to three
significant figures (people say round numbers), then held to won <= commit <= best case.
Early in the quarter, when most of it is still open, the leader sandbags the commit and
stretches the best case; both close in on the outcome as deals close and the open part
shrinks.

Measured on the default spec (5,000 deals, 3 years to 2026-11-27, seed 7; its 10 finished
quarters, pooled: sum of calls over sum of bookings): the first call of a quarter is
commit 0.80 and best case 1.14 of what the quarter booked; the last (its last Monday) 0.91
and 0.94. Over seeds 0-6 of the same size: first calls 0.82-0.91 and 1.18-1.32, last calls
0.94-0.99 and 0.96-1.02. The commit of the first call was under the outcome in 60-100% of
the quarters, the best case above it in 70-100%.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from quarterdeck.errors import InputError
from quarterdeck.simulate import export as ex
from quarterdeck.simulate.deals import Deals
from quarterdeck.simulate.lifecycle import CLOSED_WON, History
from quarterdeck.simulate.timeline import SECONDS_PER_DAY, Timeline

if TYPE_CHECKING:
    from quarterdeck.workspace import Workspace

__all__ = ["CALLS_FILE", "LeaderCalls", "build_calls", "record_leader_calls", "write_calls"]

CALLS_FILE = "forecast_calls.csv"
"""Written beside the Salesforce files; the Salesforce import skips it with a notice."""

GUT = np.array([0.05, 0.10, 0.25, 0.35, 0.50, 0.65, 0.80])
"""The leader's share of an open deal's amount, by stage (Prospecting ... Negotiation)."""
DAYS_NEEDED = np.array([100, 90, 80, 65, 50, 30, 10])
"""Days the leader thinks a deal at each stage still needs; with fewer days left in the
quarter its gut share shrinks in proportion."""
PULL_IN_DAYS = 14  # deals dated this soon after the quarter's end may be pulled into it
RUN_RATE_GROWTH = 0.08  # a quarter: about what a team growing 35% a year adds
MEMORY_QUARTERS = 4  # past quarters the leader's gut is tempered by
HINDSIGHT_LIMITS = (0.6, 1.6)  # a leader does not trust experience beyond this
SANDBAG = 0.20  # share of the open estimate held back from the commit
STRETCH = 0.20  # share of the open estimate added on top of it for the best case
MOOD_SIGMA = 0.12  # the quarter's persistent error, on the log scale
NOISE_SIGMA = 0.04  # the week's
CALL_SECOND = 9 * 3600  # Monday 09:00
_COLUMNS = (
    "called_at", "user_id", "period", "period_start", "period_end", "commit", "best_case",
    "note",
)  # fmt: skip


@dataclass(frozen=True)
class LeaderCalls:
    """One row per call, in time order; amounts in whole dollars."""

    called_at: np.ndarray  # int64 simulator second
    quarter: np.ndarray  # int64 quarter id (quarters since 1970)
    week: np.ndarray  # int64 week of the quarter, 1 for the first Monday in it
    won: np.ndarray  # int64 closed won in the quarter before the call
    open_deals: np.ndarray  # int64 open deals dated in the quarter at the call
    commit: np.ndarray  # int64
    best_case: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.called_at.shape[0])


def build_calls(
    deals: Deals, history: History, timeline: Timeline, rng: np.random.Generator
) -> LeaderCalls:
    """Every Monday's call, from what the CRM showed at that moment plus the leader's bias."""
    mondays = _call_days(timeline)
    at = mondays * SECONDS_PER_DAY + CALL_SECOND
    quarter = timeline.quarter_index(mondays)
    q_start = timeline.quarter_start_day(quarter)
    q_end = timeline.quarter_start_day(quarter + 1) - 1
    gone = (mondays - q_start) / (q_end - q_start + 1)
    week = (mondays - q_start) // 7 + 1

    last = history.last_row
    final_amount = history.amount[last]
    won_deal = history.stage[last] == CLOSED_WON
    won_close_s = deals.close_s[won_deal]
    won_close_day = deals.close_day[won_deal]
    won_created_day = deals.created[won_deal] // SECONDS_PER_DAY
    won_amount = final_amount[won_deal]
    lookup = _StateLookup(history)

    won = np.zeros(at.shape[0], dtype=np.int64)
    gut = np.zeros(at.shape[0], dtype=np.float64)
    run_rate = np.zeros(at.shape[0], dtype=np.float64)
    open_deals = np.zeros(at.shape[0], dtype=np.int64)
    for i in range(at.shape[0]):
        t, qs, qe = int(at[i]), int(q_start[i]), int(q_end[i])
        in_q = (won_close_day >= qs) & (won_close_day <= qe)
        won[i] = int(won_amount[in_q & (won_close_s <= t)].sum())
        stage, amount, close_date = lookup.open_at(deals, t)
        dated = (close_date >= qs) & (close_date <= qe)
        near = (close_date > qe) & (close_date <= qe + PULL_IN_DAYS)
        open_deals[i] = int(dated.sum())
        counted = dated | near
        s = stage[counted]
        share = GUT[s] * np.minimum(1.0, (qe + 1 - mondays[i]) / DAYS_NEEDED[s])
        share = np.where(near[counted], share * gone[i], share)
        gut[i] = float((amount[counted] * share).sum())
        ps = int(timeline.quarter_start_day(quarter[i : i + 1] - 1)[0])
        cut = ps + gone[i] * (qs - ps)
        last_q = (won_close_day >= ps) & (won_close_day < qs) & (won_created_day >= cut)
        run_rate[i] = float(won_amount[last_q].sum()) * (1 + RUN_RATE_GROWTH)

    quarters, first = np.unique(quarter, return_inverse=True)
    booked = np.array(
        [won_amount[timeline.quarter_index(won_close_day) == q].sum() for q in quarters]
    )[first]
    hindsight = _hindsight(quarter, week, booked - won, gut + run_rate)
    mood = np.exp(rng.normal(0.0, MOOD_SIGMA, quarters.shape[0]))[first]
    noise = np.exp(rng.normal(0.0, NOISE_SIGMA, (2, at.shape[0])))
    estimate = (gut + run_rate) * hindsight * mood
    commit = _round3(won + estimate * (1 - SANDBAG) * noise[0])
    best = _round3(won + estimate * (1 + STRETCH) * noise[1])
    commit = np.maximum(commit, _round3_up(won))
    best = np.maximum(best, commit)
    return LeaderCalls(
        called_at=at.astype(np.int64),
        quarter=quarter.astype(np.int64),
        week=week.astype(np.int64),
        won=won,
        open_deals=open_deals,
        commit=commit,
        best_case=best,
    )


def write_calls(path: Path, calls: LeaderCalls, leader_id: str, timeline: Timeline) -> int:
    """Write the calls as CSV (every field quoted, like the rest of the folder); return rows."""
    n = len(calls)
    q_start = timeline.quarter_start_day(calls.quarter)
    q_end = timeline.quarter_start_day(calls.quarter + 1) - 1
    labels = [f"{q // 4 + 1970}-Q{q % 4 + 1}" for q in calls.quarter.tolist()]
    notes = [
        f"Week {w}: {_money(won)} closed won, {count} open deals dated in the quarter."
        for w, won, count in zip(
            calls.week.tolist(), calls.won.tolist(), calls.open_deals.tolist(), strict=True
        )
    ]

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        return {
            "called_at": ex.timestamps(timeline, calls.called_at[s]),
            "user_id": pa.array([leader_id] * (hi - lo)),
            "period": pa.array(labels[s]),
            "period_start": ex.dates(timeline, q_start[s]),
            "period_end": ex.dates(timeline, q_end[s]),
            "commit": ex.integers(calls.commit[s]),
            "best_case": ex.integers(calls.best_case[s]),
            "note": pa.array(notes[s]),
        }

    return ex.write_csv(path, _COLUMNS, n, chunk)


def record_leader_calls(ws: Workspace, export_dir: Path) -> int:
    """Record the calls of ``export_dir``'s `CALLS_FILE` through the Workspace, as the
    leader would have; calls already in the database are left alone. Returns how many
    were recorded."""
    path = Path(export_dir) / CALLS_FILE
    if not path.is_file():
        raise InputError(f"{path}: no such file; simulate the company again to write it")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames or []
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: lacks the column(s) {', '.join(missing)}")
    known = {(c.by, c.called_at, c.period.label) for c in ws.calls().calls}
    recorded = 0
    for line, row in enumerate(rows, start=2):
        try:
            called_at = dt.datetime.fromisoformat(row["called_at"])
        except ValueError:
            raise InputError(
                f"{path}, line {line}: called_at {row['called_at']!r} is not a date and time"
            ) from None
        if (row["user_id"], called_at, row["period"]) in known:
            continue
        # The Workspace checks the amounts (and commit <= best case) as for any caller.
        ws.record_call(
            row["commit"],
            row["best_case"],
            by=row["user_id"],
            period=row["period"],
            note=row["note"] or None,
            now=called_at,
        )
        recorded += 1
    return recorded


class _StateLookup:
    """Each deal's stage, amount and close date at a moment, from the sorted history."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.origin = int(history.at.min(initial=0))
        self.span = int(history.at.max(initial=0)) - self.origin + 1
        self.keys = history.deal * self.span + (history.at - self.origin)

    def open_at(self, deals: Deals, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stage, amount and close date (day) of the deals open at second ``t``."""
        deal = np.flatnonzero((deals.created <= t) & (deals.close_s > t))
        row = np.searchsorted(self.keys, deal * self.span + (t - self.origin), side="right") - 1
        h = self.history
        return h.stage[row], h.amount[row], h.close_date[row]


def _hindsight(
    quarter: np.ndarray, week: np.ndarray, came: np.ndarray, expected: np.ndarray
) -> np.ndarray:
    """Per call, how the leader's open estimates at the same week of the last
    `MEMORY_QUARTERS` quarters turned out: what those quarters booked after the call
    (``came``) over what the leader expected then; 1 with no quarter to go by.

    Only finished quarters are looked at, so the leader learns from the past alone."""
    factor = np.ones(quarter.shape[0])
    for i in range(quarter.shape[0]):
        past = (quarter < quarter[i]) & (quarter >= quarter[i] - MEMORY_QUARTERS)
        past &= week <= week[i]
        # In each past quarter, the call made at this point of it (its last week at most).
        picked = [int(np.flatnonzero(past & (quarter == q))[-1]) for q in np.unique(quarter[past])]
        if picked and expected[picked].sum() > 0:
            ratio = came[picked].sum() / expected[picked].sum()
            factor[i] = float(np.clip(ratio, *HINDSIGHT_LIMITS))
    return factor


def _call_days(timeline: Timeline) -> np.ndarray:
    """Day numbers of the Mondays from the first quarter whose previous quarter lies wholly
    in the history, to the export date."""
    quarters = timeline.quarters()
    whole = quarters[timeline.quarter_start_day(quarters) >= 0]
    if whole.size < 2:
        return np.zeros(0, dtype=np.int64)
    first_day = int(timeline.quarter_start_day(whole[1:2])[0])
    days = np.arange(first_day, timeline.days, dtype=np.int64)
    return days[timeline.weekday(days) == 0]


def _round3(values: np.ndarray) -> np.ndarray:
    """Round to three significant figures, to the nearest thousand at the finest."""
    v = np.asarray(values, dtype=np.float64)
    unit = _unit(v)
    return (np.round(v / unit) * unit).astype(np.int64)


def _round3_up(values: np.ndarray) -> np.ndarray:
    """Round up to three significant figures (thousands at the finest)."""
    v = np.asarray(values, dtype=np.float64)
    unit = _unit(v)
    return (np.ceil(v / unit) * unit).astype(np.int64)


def _unit(v: np.ndarray) -> np.ndarray:
    digits = np.floor(np.log10(np.maximum(v, 1.0)))
    return 10.0 ** np.maximum(3.0, digits - 2)


def _money(dollars: int) -> str:
    """How a leader says an amount: 412k, 1.23M."""
    if dollars >= 1_000_000:
        return f"{dollars / 1_000_000:.2f}M"
    return f"{dollars / 1_000:.0f}k" if dollars >= 1_000 else f"{dollars:,}"
