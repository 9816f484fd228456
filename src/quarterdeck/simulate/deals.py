"""Which deals exist and how each one ends: motions, sizes, cycles, win or loss.

Three motions feed the pipeline. New business comes from the reps' own prospecting, at a
rate set by segment, ramp, season and weekday. Renewals follow every won new or renewal
contract a year later and are won most of the time. Expansions land on existing customers.
Each deal gets a hidden buyer intent; intent drives the number of contacts, the buyer's
engagement (see `signals`) and, with the rep's skill, the outcome, so engagement carries a
real but noisy signal. Everything is decided per batch with array operations; the step by
step history is laid out afterwards by `lifecycle`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from quarterdeck.simulate.org import NEW_DEALS_PER_REP_YEAR, SEGMENTS, Org
from quarterdeck.simulate.timeline import SECONDS_PER_DAY, Timeline

MOTIONS = ("New Customer", "Existing Customer - Upgrade", "Existing Customer - Renewal")
NEW, EXPANSION, RENEWAL = range(3)
LOSS_REASONS = ("Price", "Competitor", "No Decision", "Timing", "Budget", "Went Dark")
COMPETITORS = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware")
LEAD_SOURCES = (
    "Web", "Outbound Prospecting", "Partner Referral", "Trade Show", "Webinar",
    "Customer Referral", "Existing Customer",
)  # fmt: skip
PRODUCTS = ("Starter", "Professional", "Business", "Enterprise", "Analytics Add-on", "Seats")

# Win log-odds before intent, contacts and rep skill, by motion and segment; tuned so that
# new business wins about a quarter of its deals, renewals about four in five.
BASE_LOGIT = np.array([[-1.25, -1.5, -1.9], [-0.1, -0.1, -0.2], [1.8, 1.8, 1.7]])
MEDIAN_ACV = np.array([9_000.0, 40_000.0, 160_000.0])  # dollars, new business
ACV_SIGMA = np.array([0.6, 0.65, 0.8])
ROUND_TO = np.array([50, 250, 1_000])
MEDIAN_CYCLE_DAYS = np.array([[24.0, 70.0, 165.0], [18.0, 45.0, 95.0]])  # new, expansion
CONTACT_BASE = np.array([0.7, 1.4, 2.4])
LOSS_MIX = np.array(
    [
        [0.20, 0.22, 0.20, 0.10, 0.10, 0.18],  # new business
        [0.25, 0.10, 0.25, 0.15, 0.20, 0.05],  # expansion
        [0.30, 0.25, 0.10, 0.05, 0.25, 0.05],  # renewal
    ]
)
LOST_MAX_STAGE = np.array([0.20, 0.22, 0.20, 0.13, 0.11, 0.09, 0.05])
BUSINESS_SECONDS = (13 * 3600, 23 * 3600)  # 08:00-18:00 US Eastern, in UTC


@dataclass(frozen=True)
class Deals:
    """Per-deal decisions, one array element per deal (see `lifecycle` for the history)."""

    motion: np.ndarray  # int8
    segment: np.ndarray  # int8
    account: np.ndarray  # int64 account number
    seat: np.ndarray  # int64 seat whose book holds the account
    owner: np.ndarray  # int32 user number at creation
    created: np.ndarray  # int64 second
    amount0: np.ndarray  # int64 dollars at creation
    unit: np.ndarray  # int64 dollars amounts are rounded to
    amount_mult: np.ndarray  # float64 [deal, 4] successive amount changes (0 = none)
    final_amount: np.ndarray  # int64 dollars after all amount changes
    intent: np.ndarray  # float64 hidden buyer intent
    contacts: np.ndarray  # int64 buyer contacts involved
    won: np.ndarray  # bool, the eventual outcome
    death: np.ndarray  # int64 day the outcome is really decided
    close_day: np.ndarray  # int64 day the close is recorded (later for abandoned deals)
    close_s: np.ndarray  # int64 second the close is recorded
    start_stage: np.ndarray  # int8
    max_stage: np.ndarray  # int8 highest open stage reached
    loss_reason: np.ndarray  # int8, -1 unless lost
    slipper: np.ndarray  # bool: an "always next quarter" deal
    pushes: np.ndarray  # int64 close-date pushes wanted
    product: np.ndarray  # int8
    lead_source: np.ndarray  # int8
    competitor: np.ndarray  # int8, -1 for none

    def __len__(self) -> int:
        return int(self.motion.shape[0])

    def take(self, index: np.ndarray) -> Deals:
        """The deals at `index`, in that order."""
        return Deals(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    @staticmethod
    def concat(parts: list[Deals]) -> Deals:
        """All deals of `parts`, one after another."""
        return Deals(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(Deals)
            }
        )


@dataclass(frozen=True)
class Book:
    """All deals plus the accounts they belong to."""

    deals: Deals
    account_segment: np.ndarray  # int8
    account_created: np.ndarray  # int64 second
    account_seat: np.ndarray  # int64 seat whose book holds the account
    installed_base: int  # accounts that were customers before the history starts


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _round_to(values: np.ndarray, unit: np.ndarray) -> np.ndarray:
    return np.maximum(unit, np.round(values / unit) * unit).astype(np.int64)


def _acv(segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed deal sizes: lognormal body, and a Pareto tail for a few giant deals."""
    size = rng.lognormal(np.log(MEDIAN_ACV[segment]), ACV_SIGMA[segment])
    giant = rng.random(segment.shape[0]) < 0.03
    return np.where(giant, size * (1.0 + rng.pareto(1.6, segment.shape[0])), size)


def _decide(
    motion: np.ndarray,
    segment: np.ndarray,
    account: np.ndarray,
    seat: np.ndarray,
    owner: np.ndarray,
    created_day: np.ndarray,
    amount: np.ndarray,
    anniversary: np.ndarray | None,
    org: Org,
    timeline: Timeline,
    rng: np.random.Generator,
) -> Deals:
    """Draw everything about a batch of deals of one motion that share nothing else."""
    n = motion.shape[0]
    mo = int(motion[0]) if n else NEW
    unit = ROUND_TO[segment].astype(np.int64)
    intent = np.asarray(rng.normal(0.0, 1.0, n))
    contacts = 1 + np.minimum(rng.poisson(CONTACT_BASE[segment] * np.exp(0.45 * intent)), 9)
    tendency = np.where(org.skill[owner] != 0, org.slip_tendency[owner], 0.1)
    slipper = rng.random(n) < tendency * (0.3 if mo == RENEWAL else 1.0)
    logit = (
        BASE_LOGIT[motion, segment]
        + 0.9 * intent
        + org.skill[owner]
        - 0.5 * (contacts == 1)
        + 0.12 * np.minimum(contacts - 1, 5)
        - 0.5 * slipper
    )
    won = rng.random(n) < _sigmoid(logit)

    pushes = np.where(
        slipper,
        np.minimum(8, 2 + rng.poisson(1.5, n)),
        rng.choice(3, size=n, p=[0.55, 0.32, 0.13]),
    ).astype(np.int64)
    if anniversary is not None:
        death = anniversary + np.round(rng.normal(0, 8, n)).astype(np.int64)
        death = np.where(slipper, death + pushes * rng.integers(60, 100, n), death)
    else:
        cycle = rng.lognormal(np.log(MEDIAN_CYCLE_DAYS[min(mo, 1), segment]), 0.45)
        cycle = np.where(won, cycle, cycle * rng.uniform(0.25, 1.0, n))
        cycle = cycle + slipper * pushes * rng.uniform(75, 100, n)
        death = created_day + np.maximum(2, np.round(cycle)).astype(np.int64)
    death = np.maximum(death, created_day + 2)
    # End-of-quarter push: many wins near a quarter end are dragged onto its last days.
    quarter_end = timeline.quarter_end_day(death)
    pull = won & (quarter_end - death <= 25) & (rng.random(n) < 0.5)
    death = np.where(pull, np.maximum(created_day + 2, quarter_end - rng.integers(0, 5, n)), death)

    loss_reason = np.where(
        won, -1, _pick_rows(LOSS_MIX[motion], rng)
    ).astype(np.int8)  # fmt: skip
    abandoned = (~won) & np.isin(loss_reason, (2, 5)) & (rng.random(n) < 0.5)
    close_day = np.where(
        abandoned, death + 7 + np.asarray(rng.exponential(120.0, n)).astype(np.int64), death
    ).astype(np.int64)
    close_s = close_day * SECONDS_PER_DAY + rng.integers(*BUSINESS_SECONDS, n)

    start_stage = np.where(
        motion == NEW, rng.random(n) < 0.3, 1 + (rng.random(n) < 0.5)
    ).astype(np.int8)  # fmt: skip
    lost_max = rng.choice(7, size=n, p=LOST_MAX_STAGE) + (segment == 2) * (rng.random(n) < 0.3)
    max_stage = np.where(won, np.where(rng.random(n) < 0.8, 6, 5), np.minimum(lost_max, 6))
    max_stage = np.maximum(max_stage, start_stage).astype(np.int8)

    # Amount changes over the deal's life: discounts, scope cuts and upsizes.
    n_changes = np.minimum(4, rng.poisson(0.3 + 0.25 * segment + 0.2 * won))
    kind = rng.choice(3, size=(n, 4), p=[0.5, 0.2, 0.3])
    factor = np.select(
        [kind == 0, kind == 1],
        [rng.uniform(0.8, 0.95, (n, 4)), rng.uniform(0.5, 0.8, (n, 4))],
        rng.uniform(1.1, 1.6, (n, 4)),
    )
    amount_mult = np.where(np.arange(4)[None, :] < n_changes[:, None], factor, 0.0)
    amount0 = _round_to(amount, unit)
    final = amount0.astype(np.float64)
    for k in range(4):
        final = np.where(amount_mult[:, k] > 0, final * amount_mult[:, k], final)
    final_amount = _round_to(final, unit)

    product: np.ndarray
    lead: np.ndarray
    if mo == NEW:
        product = np.where(segment == 0, rng.integers(0, 2, n), segment + rng.integers(0, 2, n))
        lead = np.asarray(rng.choice(6, size=n, p=[0.3, 0.3, 0.12, 0.1, 0.1, 0.08]))
    elif mo == EXPANSION:
        product = 4 + np.asarray(rng.integers(0, 2, n))
        lead = np.full(n, 6)
    else:
        product = np.asarray(np.minimum(3, segment + 1))
        lead = np.full(n, 6)
    has_rival = (loss_reason == 1) | (rng.random(n) < 0.3)
    competitor = np.where(has_rival, rng.integers(0, len(COMPETITORS), n), -1)
    created = created_day * SECONDS_PER_DAY + rng.integers(*BUSINESS_SECONDS, n)
    return Deals(
        motion=motion.astype(np.int8),
        segment=segment.astype(np.int8),
        account=account.astype(np.int64),
        seat=seat.astype(np.int64),
        owner=owner.astype(np.int32),
        created=created.astype(np.int64),
        amount0=amount0,
        unit=unit,
        amount_mult=amount_mult,
        final_amount=final_amount,
        intent=intent,
        contacts=contacts.astype(np.int64),
        won=won,
        death=death.astype(np.int64),
        close_day=close_day,
        close_s=close_s.astype(np.int64),
        start_stage=start_stage,
        max_stage=max_stage,
        loss_reason=loss_reason,
        slipper=slipper,
        pushes=pushes,
        product=product.astype(np.int8),
        lead_source=lead.astype(np.int8),
        competitor=competitor.astype(np.int8),
    )


def _pick_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of a [n, k] probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = np.asarray(rng.random(probabilities.shape[0]))[:, None] * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1)


def _new_business(
    target: float, org: Org, timeline: Timeline, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Owners and creation days of new-business deals: reps prospect as they ramp."""
    reps, productivity = org.productivity(timeline.days)
    day = np.arange(timeline.days)
    weekday = timeline.weekday(day)
    month = timeline.month_index(day) % 12
    # Fewer deals at weekends, in August and in late December; more in January.
    season = np.where(weekday >= 5, 0.12, 1.0) * np.select(
        [month == 7, month == 11, month == 0], [0.85, 0.8, 1.1], 1.0
    )
    segment = org.team_segment[org.team[reps]]
    rate = productivity * NEW_DEALS_PER_REP_YEAR[segment][:, None] * season[None, :]
    rate *= target / rate.sum()
    counts = rng.poisson(rate).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    return reps[cell // timeline.days], cell % timeline.days


EXPANSION_SHARE = 0.08  # of all deals, roughly; the rest are new business and renewals


@dataclass(frozen=True)
class _Contracts:
    """New-business deals, the installed base, and every renewal that follows from them."""

    parts: list[Deals]
    new: Deals
    base_segment: np.ndarray
    base_acv: np.ndarray
    base_seat: np.ndarray
    account_segment: np.ndarray


def _contracts(
    new_target: float, org: Org, timeline: Timeline, rng: np.random.Generator
) -> _Contracts:
    """New business, customers from before the history, and renewals in rounds."""
    days = timeline.days
    owner, created_day = _new_business(new_target, org, timeline, rng)
    order = np.argsort(created_day, kind="stable")
    owner, created_day = owner[order], created_day[order].astype(np.int64)
    n_new = owner.shape[0]
    segment = org.team_segment[org.team[owner]].astype(np.int64)

    # Customers from before the history: about a year of wins, renewing during year one.
    n_base = round(new_target / (days / 365.25) * 0.22)
    base_segment = rng.choice(3, size=n_base, p=[0.5, 0.33, 0.17])
    base_acv = _acv(base_segment, rng)
    base_seat = _seat_in_segment(org, base_segment, rng)
    base_anniversary = rng.integers(60, 426, n_base)

    new = _decide(
        np.full(n_new, NEW), segment, n_base + np.arange(n_new),
        org.seat[owner].astype(np.int64), owner, created_day, _acv(segment, rng), None, org,
        timeline, rng,
    )  # fmt: skip
    parts = [new]

    # Renewals: a won contract renews a year after it closed; won renewals renew again.
    created = base_anniversary - rng.integers(45, 121, n_base)
    ok = created >= 0
    base_renewals = _renewal_batch(
        np.flatnonzero(ok), base_seat[ok], base_segment[ok], base_acv[ok], created[ok],
        base_anniversary[ok], org, timeline, rng,
    )  # fmt: skip
    parts.append(base_renewals)
    pending = Deals.concat([new, base_renewals])
    while True:
        won = np.flatnonzero(pending.won)
        anniversary = pending.close_day[won] + 365
        created = anniversary - rng.integers(45, 121, won.shape[0])
        inside = created < days
        won, anniversary, created = won[inside], anniversary[inside], created[inside]
        if won.size == 0:
            break
        pending = _renewal_batch(
            pending.account[won], pending.seat[won], pending.segment[won].astype(np.int64),
            pending.final_amount[won].astype(np.float64), created, anniversary, org,
            timeline, rng,
        )  # fmt: skip
        parts.append(pending)
    return _Contracts(
        parts=parts,
        new=new,
        base_segment=base_segment,
        base_acv=base_acv,
        base_seat=base_seat,
        account_segment=np.concatenate([base_segment, segment]).astype(np.int8),
    )


def build_book(total: int, org: Org, timeline: Timeline, rng: np.random.Generator) -> Book:
    """All deals of the history: new business, renewals (in rounds) and expansions.

    How many renewals a number of new deals brings depends on win rates and the length of
    the history, so a trial draw measures it and the real draw is sized from the trial;
    expansions then fill up to `total`.
    """
    days = timeline.days
    trial = _contracts(0.7 * total, org, timeline, rng)
    per_new = sum(len(p) for p in trial.parts) / (0.7 * total)
    contracts = _contracts((1 - EXPANSION_SHARE) * total / per_new, org, timeline, rng)
    parts, new = list(contracts.parts), contracts.new
    base_segment, base_acv, base_seat = (
        contracts.base_segment, contracts.base_acv, contracts.base_seat,
    )  # fmt: skip
    n_base = base_segment.shape[0]
    acc_segment = contracts.account_segment

    # Expansions fill the rest, on accounts that are customers by then.
    made = sum(len(p) for p in parts)
    n_exp = max(round(0.02 * total), total - made)
    won_new = new.won & (new.close_day < days - 31)
    cust_acc = np.concatenate([np.arange(n_base), new.account[won_new]])
    cust_since = np.concatenate([np.full(n_base, -1), new.close_day[won_new]]).astype(np.int64)
    cust_acv = np.concatenate([base_acv, new.final_amount[won_new]])
    cust_seat = np.concatenate([base_seat, new.seat[won_new]])
    room = (days - 30 - np.maximum(cust_since, 0)).astype(np.float64)
    pick = rng.choice(cust_acc.shape[0], size=n_exp, p=room / room.sum())
    exp_day = (
        np.maximum(cust_since[pick], 0) + 30 + (rng.random(n_exp) * room[pick]).astype(np.int64)
    )
    exp_segment = acc_segment[cust_acc[pick]].astype(np.int64)
    exp_owner = org.owner_at(cust_seat[pick], exp_day, rng)
    parts.append(
        _decide(
            np.full(n_exp, EXPANSION),
            exp_segment,
            cust_acc[pick],
            cust_seat[pick],
            exp_owner,
            exp_day,
            cust_acv[pick] * 0.3 * rng.lognormal(0, 0.5, n_exp),
            None,
            org,
            timeline,
            rng,
        )
    )

    deals = Deals.concat(parts)
    deals = deals.take(np.argsort(deals.created, kind="stable"))
    first_deal = np.full(acc_segment.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first_deal, deals.account, deals.created)
    lead = rng.integers(1, 90, acc_segment.shape[0]) * SECONDS_PER_DAY - rng.integers(
        *BUSINESS_SECONDS, acc_segment.shape[0]
    )
    acc_created = np.where(
        np.arange(acc_segment.shape[0]) < n_base,
        -rng.integers(400, 5 * 365, acc_segment.shape[0]) * SECONDS_PER_DAY,
        first_deal - lead,
    )
    return Book(
        deals=deals,
        account_segment=acc_segment,
        account_created=acc_created.astype(np.int64),
        account_seat=np.concatenate([base_seat, new.seat]).astype(np.int64),
        installed_base=n_base,
    )


def _renewal_batch(
    account: np.ndarray,
    seat: np.ndarray,
    segment: np.ndarray,
    amount: np.ndarray,
    created: np.ndarray,
    anniversary: np.ndarray,
    org: Org,
    timeline: Timeline,
    rng: np.random.Generator,
) -> Deals:
    """Renewal deals for contracts reaching their anniversary; price rises a little."""
    n = account.shape[0]
    owner = org.owner_at(seat, created, rng)
    uplift = rng.uniform(0.97, 1.10, n)
    return _decide(
        np.full(n, RENEWAL), segment, account, seat, owner, created.astype(np.int64),
        amount * uplift, anniversary.astype(np.int64), org, timeline, rng,
    )  # fmt: skip


def _seat_in_segment(org: Org, segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random seat of the segment's teams for each account."""
    seat_segment = org.team_segment[org.seat_team]
    out = np.empty(segment.shape[0], dtype=np.int64)
    for s in range(len(SEGMENTS)):
        mine = segment == s
        seats = np.flatnonzero(seat_segment == s)
        out[mine] = seats[rng.integers(0, seats.size, int(mine.sum()))]
    return out
