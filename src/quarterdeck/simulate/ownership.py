"""Who owns each deal over time: reassignments when a rep leaves, and a few by hand.

When a rep leaves, the manager hands every deal still open to a teammate who is there that
day (or keeps it until the backfill arrives); a small share of deals also change hands
for territory reasons. The result answers "who owned deal d at second t" for the history
rows and activities, and feeds OpportunityFieldHistory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quarterdeck.simulate.deals import Deals
from quarterdeck.simulate.org import NEVER, REP, Org
from quarterdeck.simulate.timeline import SECONDS_PER_DAY, Timeline

SLOTS = 4  # one manual reassignment plus up to three departures
MANUAL_SHARE = 0.02
_NO_TIME = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Ownership:
    """Owner changes per deal, as [deal, slot] matrices in time order (unused = no time)."""

    changed_at: np.ndarray  # int64 second
    old_owner: np.ndarray  # int32
    new_owner: np.ndarray  # int32
    changed_by: np.ndarray  # int32 user who made the change
    first_owner: np.ndarray  # int32

    def owner_at(self, deal: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The owner of each deal at each second."""
        owner = self.first_owner[deal]
        for slot in range(SLOTS):
            after = second >= self.changed_at[deal, slot]
            owner = np.where(after, self.new_owner[deal, slot], owner)
        return owner

    def rows(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """(deal, slot) of every change made by second `horizon`, by deal then time."""
        deal, slot = np.nonzero(self.changed_at <= horizon)
        return deal, slot


def assign_owners(
    deals: Deals, org: Org, timeline: Timeline, rng: np.random.Generator
) -> Ownership:
    """Work out every owner change of every deal up to its close (or the export date)."""
    n = len(deals)
    changed_at = np.full((n, SLOTS), _NO_TIME, dtype=np.int64)
    old = np.full((n, SLOTS), -1, dtype=np.int32)
    new = np.full((n, SLOTS), -1, dtype=np.int32)
    by = np.full((n, SLOTS), -1, dtype=np.int32)
    horizon = np.minimum(deals.close_s, timeline.end_second)
    current = deals.owner.astype(np.int32)
    since = deals.created.copy()

    # Territory moves: a teammate takes the deal over while its owner is still there.
    is_rep = org.role[current] == REP
    owner_end = org.end[current].astype(np.int64)
    latest = np.minimum(
        horizon, np.where(owner_end == NEVER, _NO_TIME, owner_end * SECONDS_PER_DAY)
    )
    manual = is_rep & (rng.random(n) < MANUAL_SHARE) & (latest - since > 2 * SECONDS_PER_DAY)
    when = since + (rng.random(n) * (latest - since)).astype(np.int64)
    when = np.where(manual, when, 0)
    team_seats = [np.flatnonzero(org.seat_team == t) for t in range(len(org.team_names))]
    sizes = np.array([ts.size for ts in team_seats])
    order = np.concatenate(team_seats)
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    team = np.maximum(org.team[current], 0)
    other_seat = order[offset[team] + rng.integers(0, 1 << 30, n) % sizes[team]]
    taker = org.owner_at(np.where(manual, other_seat, 0), when // SECONDS_PER_DAY, rng)
    manual &= taker != current
    _record(manual, 0, when, current, taker, org, changed_at, old, new, by)
    current = np.where(manual, taker, current).astype(np.int32)
    since = np.where(manual, when, since)

    # Departures: open deals move on the day after their owner leaves.
    for slot in range(1, SLOTS):
        leaves = org.end[current].astype(np.int64)
        moves_at = (leaves + 1) * SECONDS_PER_DAY + 15 * 3600
        moving = (leaves != NEVER) & (moves_at > since) & (moves_at < horizon)
        if not moving.any():
            break
        if slot < SLOTS - 1:
            seat = np.where(org.seat[current] >= 0, org.seat[current], 0)
            taker = org.owner_at(seat, leaves + 1, rng)
        else:
            taker = org.manager[current]  # last resort: the manager holds it
        _record(moving, slot, moves_at, current, taker, org, changed_at, old, new, by)
        current = np.where(moving, taker, current).astype(np.int32)
        since = np.where(moving, moves_at, since)

    return Ownership(
        changed_at=changed_at,
        old_owner=old,
        new_owner=new,
        changed_by=by,
        first_owner=deals.owner.astype(np.int32),
    )


def _record(
    mask: np.ndarray,
    slot: int,
    when: np.ndarray,
    old_owner: np.ndarray,
    new_owner: np.ndarray,
    org: Org,
    changed_at: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    by: np.ndarray,
) -> None:
    """Write one slot of owner changes where `mask` holds."""
    changed_at[mask, slot] = when[mask]
    old[mask, slot] = old_owner[mask]
    new[mask, slot] = new_owner[mask]
    boss = org.manager[new_owner]
    by[mask, slot] = np.where(boss >= 0, boss, org.vp)[mask]
