"""A company simulator: a realistic Salesforce data-export folder for demos, tests and
benchmarks.

`simulate(SimulationSpec(...), out_dir)` writes User, Account, Opportunity,
OpportunityHistory, OpportunityFieldHistory, Task, OpportunityContactRole and
ForecastingQuota CSV files as Salesforce's data export writes them, and beside them
`forecast_calls.csv`, the VP Sales's weekly forecast call (`calls`), which is not a
Salesforce object (the Salesforce import skips it; `calls.record_leader_calls` records it
through the Workspace). Behind them is a B2B
sales org: reps hired, ramped, leaving and backfilled (`org`); new business, expansion and
renewal deals with heavy-tailed sizes, segment cycles and outcomes (`deals`); each deal's
stage moves, close-date pushes and amount changes (`lifecycle`); owner changes
(`ownership`); activities and buyer engagement that carry a noisy signal about the outcome
(`signals`); quotas and a company target (`quotas`). The same spec gives byte-identical
files.

Calibration
-----------
Default spec (5,000 deals, 3 years to 2026-11-27, seed 7), measured 2026-11-27 with
`python -m quarterdeck.simulate.calibration OUT /work/shared/data/maven_crm_sales_opportunities`:

- win rate by count: new business 24.1% (SMB 25.0%, Mid-Market 22.4%, Enterprise 16.0%),
  expansion 49.5%, renewal 81.2%.
- new business days created -> close, median: 27 overall; won / lost SMB 27 / 18,
  Mid-Market 64 / 50, Enterprise 189 / 124.
- won amounts (all motions): p10 3,545, median 10,700, p90 68,685, mean 33,406; the top
  10% of wins hold 61% of won value (heavy tail: a few deals dominate a quarter).
- Maven CRM (sales_pipeline.csv): win rate 63.2% by count, median engage -> close 45 days
  (won 57 / lost 14), won values median 1,117, mean 2,361, top 10% hold 28%. Maven's
  deals are small, short, mostly-won product sales; the simulator keeps Maven's shape
  (lost deals die sooner than won ones close, a median cycle of weeks for the bulk of
  deals) but follows B2B SaaS norms for win rate (20-30%) and deal size on purpose.

Scale (measured with `/usr/bin/time -v` on the 2-core dev machine): deals=1,000,000 took
26-37 s wall (two runs) and 1.5-1.6 GB peak RSS, writing 5.70M OpportunityHistory rows, 6.14M tasks and
17.2M field-level events (6 per deal at creation plus 11.1M later changes and 91k owner
changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from quarterdeck.simulate import salesforce as sf
from quarterdeck.simulate.calls import CALLS_FILE, build_calls, write_calls
from quarterdeck.simulate.deals import build_book
from quarterdeck.simulate.ids import sf_ids
from quarterdeck.simulate.lifecycle import CLOSED_LOST, CLOSED_WON, build_history
from quarterdeck.simulate.org import build_org
from quarterdeck.simulate.ownership import assign_owners
from quarterdeck.simulate.quotas import build_quotas
from quarterdeck.simulate.signals import build_contact_roles, build_tasks
from quarterdeck.simulate.timeline import Timeline

__all__ = ["SimulationSpec", "SimulationSummary", "simulate"]

NEW_BUSINESS_SHARE = 0.76  # of all deals; renewals and expansions make up the rest
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate: about `deals` opportunities over `years` ending on `end`."""

    deals: int = 5_000
    years: float = 3.0
    end: dt.date = dt.date(2026, 11, 27)
    seed: int = 7
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.deals < 100:
            raise ValueError("SimulationSpec.deals must be at least 100")
        if not 0.25 <= self.years <= 20:
            raise ValueError("SimulationSpec.years must be between 0.25 and 20")
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise ValueError("SimulationSpec.currency must be a 3-letter ISO code")


@dataclass(frozen=True)
class SimulationSummary:
    """What `simulate` wrote: file name -> data rows, and headline counts."""

    out_dir: Path
    files: dict[str, int]
    deals: int
    won: int
    lost: int
    open: int
    won_amount: Decimal
    history_rows: int
    activities: int
    forecast_calls: int  # rows of forecast_calls.csv, kept apart from the Salesforce files


def simulate(
    spec: SimulationSpec, out_dir: Path, progress: Progress | None = None
) -> SimulationSummary:
    """Simulate a sales org and write its Salesforce export folder to `out_dir`."""
    report = progress or (lambda step, fraction: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Each part gets its own stream, so changing one part's draws leaves the others alone.
    streams = [np.random.Generator(np.random.PCG64(s)) for s in
               np.random.SeedSequence(spec.seed).spawn(9)]  # fmt: skip
    timeline = Timeline.ending(spec.end, spec.years)

    report("organisation", 0.0)
    org = build_org(NEW_BUSINESS_SHARE * spec.deals, timeline, streams[0])
    report("deals", 0.05)
    book = build_book(spec.deals, org, timeline, streams[1])
    deals = book.deals
    report("history", 0.15)
    history = build_history(deals, timeline, streams[2])
    ownership = assign_owners(deals, org, timeline, streams[3])
    report("activities", 0.25)
    tasks = build_tasks(deals, org, timeline, streams[4])
    roles = build_contact_roles(deals, timeline, streams[5])
    quotas = build_quotas(deals, history, org, timeline)
    name_idx = np.asarray(streams[6].integers(0, sf.NAME_CHOICES, book.account_segment.shape[0]))

    files: dict[str, int] = {}
    files["User.csv"] = sf.write_users(out_dir / "User.csv", org, timeline)
    files["Account.csv"] = sf.write_accounts(
        out_dir / "Account.csv", book, history, name_idx, org, timeline, streams[7]
    )
    report("writing Opportunity.csv", 0.3)
    files["Opportunity.csv"] = sf.write_opportunities(
        out_dir / "Opportunity.csv", deals, history, ownership, name_idx, org, timeline,
        spec.currency,
    )  # fmt: skip
    report("writing OpportunityHistory.csv", 0.4)
    files["OpportunityHistory.csv"] = sf.write_history(
        out_dir / "OpportunityHistory.csv", history, ownership, org, timeline
    )
    files["OpportunityFieldHistory.csv"] = sf.write_field_history(
        out_dir / "OpportunityFieldHistory.csv", ownership, org, timeline
    )
    report("writing Task.csv", 0.65)
    files["Task.csv"] = sf.write_tasks(out_dir / "Task.csv", tasks, deals, ownership, org, timeline)
    report("writing OpportunityContactRole.csv", 0.9)
    files["OpportunityContactRole.csv"] = sf.write_contact_roles(
        out_dir / "OpportunityContactRole.csv", roles, timeline
    )
    files["ForecastingQuota.csv"] = sf.write_quotas(
        out_dir / "ForecastingQuota.csv", quotas, org, timeline, spec.currency
    )
    leader = str(sf_ids(sf.USER, np.array([org.vp]))[0].as_py())
    calls = build_calls(deals, history, timeline, streams[8])
    forecast_calls = write_calls(out_dir / CALLS_FILE, calls, leader, timeline)
    report("done", 1.0)

    stage = history.stage[history.last_row]
    won = stage == CLOSED_WON
    return SimulationSummary(
        out_dir=out_dir,
        files=files,
        deals=len(deals),
        won=int(won.sum()),
        lost=int((stage == CLOSED_LOST).sum()),
        open=int((~won & (stage != CLOSED_LOST)).sum()),
        won_amount=Decimal(int(history.amount[history.last_row][won].sum())),
        history_rows=len(history),
        activities=len(tasks),
        forecast_calls=forecast_calls,
    )
