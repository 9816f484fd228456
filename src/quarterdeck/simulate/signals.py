"""Activities and buyer engagement: Task rows and the contacts on each deal.

Rep actions (calls, emails, meetings, demos) are outbound; buyer actions (content views,
email replies) are inbound. Counts grow with how long a deal has been open. Buyer-side
signals and meetings rise with the deal's hidden intent, which also drives the outcome, so
they predict wins; outbound calls follow the rep's habits and rise a little on deals going
cold, so volume of calls predicts little. Contacts: a deal's contacts come from its
account's pool, so renewals meet the same people again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quarterdeck.simulate.deals import Deals
from quarterdeck.simulate.org import Org
from quarterdeck.simulate.timeline import Timeline

TASK_TYPES = ("Call", "Email", "Meeting", "Demo", "Content View", "Email Reply")
INBOUND = np.array([False, False, False, False, True, True])
SUBJECTS = (
    ("Call", "Discovery call", "Follow-up call", "Left voicemail"),
    ("Email", "Follow-up email", "Sent proposal", "Sent case study"),
    ("Meeting", "Discovery meeting", "Stakeholder meeting", "Executive briefing"),
    ("Demo", "Product demo", "Technical deep dive"),
    ("Viewed pricing page", "Viewed case study", "Downloaded whitepaper", "Opened proposal"),
    ("Email reply", "Replied: next steps", "Replied: pricing question"),
)
CONTACT_ROLES = (
    "Decision Maker", "Economic Buyer", "Technical Buyer", "Evaluator", "Influencer",
    "Executive Sponsor", "Business User", "Other",
)  # fmt: skip
CONTACTS_PER_ACCOUNT = 16
_SUBJECT_OFFSET = np.cumsum([0] + [len(s) for s in SUBJECTS])
ALL_SUBJECTS = tuple(s for group in SUBJECTS for s in group)


@dataclass(frozen=True)
class Tasks:
    """Task rows up to the export date, ordered by deal then time."""

    deal: np.ndarray  # int64
    at: np.ndarray  # int64 second
    kind: np.ndarray  # int64 index into TASK_TYPES
    subject: np.ndarray  # int64 index into ALL_SUBJECTS

    def __len__(self) -> int:
        return int(self.deal.shape[0])


@dataclass(frozen=True)
class ContactRoles:
    """OpportunityContactRole rows: deal, contact number (account-scoped), role, time."""

    deal: np.ndarray
    contact: np.ndarray
    role: np.ndarray
    primary: np.ndarray
    at: np.ndarray

    def __len__(self) -> int:
        return int(self.deal.shape[0])


def build_tasks(deals: Deals, org: Org, timeline: Timeline, rng: np.random.Generator) -> Tasks:
    """Draw each deal's activity counts by type, then place them in its life."""
    n = len(deals)
    life_days = (deals.close_s - deals.created) / 86_400
    span = np.clip(life_days / 30.0, 0.3, 8.0) ** 0.7
    z = deals.intent
    style = np.where(org.activity_style[deals.owner] > 0, org.activity_style[deals.owner], 1.0)
    big = 1.0 + 0.5 * deals.segment
    means = np.stack(
        [
            1.1 * style * span * np.exp(-0.15 * z),  # calls: habit, a bit more when cold
            0.9 * style * span * np.exp(0.1 * z),
            0.35 * big * span * np.exp(0.45 * z),
            0.2 * big * np.exp(0.4 * z),
            0.45 * span * np.exp(0.55 * z),
            0.45 * span * np.exp(0.65 * z),
        ],
        axis=1,
    )
    counts = rng.poisson(means).ravel()
    cell = np.repeat(np.arange(n * len(TASK_TYPES)), counts)
    deal = cell // len(TASK_TYPES)
    kind = cell % len(TASK_TYPES)
    lo = deals.created[deal]
    at = lo + (rng.random(deal.shape[0]) * (deals.close_s[deal] - lo)).astype(np.int64)
    keep = at <= timeline.end_second
    deal, kind, at = deal[keep], kind[keep], at[keep]
    order = np.lexsort((at, deal))
    deal, kind, at = deal[order], kind[order], at[order]
    sizes = _SUBJECT_OFFSET[kind + 1] - _SUBJECT_OFFSET[kind]
    subject = _SUBJECT_OFFSET[kind] + rng.integers(0, 1 << 30, deal.shape[0]) % sizes
    return Tasks(deal=deal, at=at, kind=kind, subject=subject)


def build_contact_roles(deals: Deals, timeline: Timeline, rng: np.random.Generator) -> ContactRoles:
    """One row per contact on each deal; contacts beyond the first join during the deal."""
    n = len(deals)
    per_deal = np.minimum(deals.contacts, CONTACTS_PER_ACCOUNT)
    deal = np.repeat(np.arange(n), per_deal)
    first = np.repeat(np.cumsum(per_deal) - per_deal, per_deal)
    position = np.arange(deal.shape[0]) - first
    contact = deals.account[deal] * CONTACTS_PER_ACCOUNT + position
    frac = np.where(position == 0, 0.0, rng.random(deal.shape[0]) * 0.6)
    lo = deals.created[deal]
    at = lo + (frac * (deals.close_s[deal] - lo)).astype(np.int64)
    role = np.where(position == 0, 0, rng.integers(1, len(CONTACT_ROLES), deal.shape[0]))
    keep = at <= timeline.end_second
    return ContactRoles(
        deal=deal[keep],
        contact=contact[keep],
        role=role[keep],
        primary=(position == 0)[keep],
        at=at[keep],
    )
