"""The weekly brief: every number the CEO and the sales leader go through, for one week.

:func:`build_brief` gathers the five agenda points in their order (revenue vs goal, big
deals, risks, the leader's initiatives, issues), then what changed in the pipeline, the
"next quarter" ledger and the mix, and the meeting record carried from last week. The
forecast is the latest one saved for the quarter (``quarterdeck forecast``) from data no
later than the brief's moment: the brief reads it, it does not fit models. The
result, a :class:`Brief`, holds the metric results themselves; :mod:`report.brief_document`
turns it into words, tables and charts.

The brief's moment (``as_of``) is the end of the meeting's week, or the time of the latest
import when that is earlier: a brief never claims to know more than the data does. The
period is the quarter that holds that moment, and "last week" is the seven days before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from quarterdeck.forecast.saved import SavedForecast, latest_forecast
from quarterdeck.meeting import Agenda, agenda, current_week, week_of
from quarterdeck.meeting.meetings import WeekLike, end_of
from quarterdeck.metrics.attainment import RevenueVsGoal, revenue_vs_goal_by
from quarterdeck.metrics.bigdeals import BigDeals, big_deals
from quarterdeck.metrics.mix import Mix, mix
from quarterdeck.metrics.risk import RiskReport, deal_risks
from quarterdeck.metrics.slips import SlipLedger, slip_ledger
from quarterdeck.metrics.waterfall import Waterfall, pipeline_changes
from quarterdeck.periods import Period
from quarterdeck.settings import Settings

if TYPE_CHECKING:
    from quarterdeck.workspace import Workspace

__all__ = ["BREAKDOWNS", "Brief", "brief_moment", "build_brief"]

BREAKDOWNS = ("team", "owner", "segment", "motion")
"""The dimensions revenue vs goal is broken down by in the brief, after the company line."""

SLIP_PERIODS_BACK = 2
"""The "next quarter" ledger of the brief shows this quarter and the two before it."""

ACCOUNTS_SHOWN = 10
"""How many accounts (in jeopardy) and big deals per list the brief names."""

T = TypeVar("T")


@dataclass(frozen=True)
class Brief:
    """Everything one week's brief says, as metric results (see the module docstring).

    ``names`` maps user ids to names and ``accounts`` account ids to names, for the words;
    ``notes`` say what the data could not tell (no targets, no history, no activities...).
    """

    week: Period
    as_of: datetime
    data_as_of: datetime | None
    period: Period
    generated_at: datetime
    goal: RevenueVsGoal
    goal_by: dict[str, RevenueVsGoal]
    big: BigDeals
    risks: RiskReport
    agenda: Agenda
    week_change: Waterfall
    period_change: Waterfall
    slips: SlipLedger
    mix: Mix
    settings: dict[str, Any]
    names: dict[str, str] = field(repr=False)
    accounts: dict[str, str] = field(repr=False)
    notes: tuple[str, ...] = ()
    forecast: SavedForecast | None = None
    deal_lines: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The appendix's deal lines as of ``as_of``, by deal id, filled as documents of this
    brief need them: copies made with another agenda (``dataclasses.replace``) share it,
    so a document rebuilt after a change of the meeting record reads only new deals."""


def brief_moment(data_as_of: datetime | None, week: Period) -> datetime:
    """The moment a brief for ``week`` describes: the week's end, or the latest import's
    time when that is earlier (the data knows nothing later)."""
    end = end_of(week) - timedelta(seconds=1)
    return end if data_as_of is None else min(end, data_as_of)


def build_brief(
    ws: Workspace,
    week: WeekLike = None,
    *,
    now: datetime | None = None,
    timings: dict[str, float] | None = None,
) -> Brief:
    """The brief for the meeting of ``week`` (any day in it or its label; by default the
    current meeting), from the data as it stood at :func:`brief_moment`.

    ``timings``, when given, receives the seconds each part took (for the benchmark).
    """
    store = ws.store
    clock = now or datetime.now().replace(microsecond=0)
    spent = timings if timings is not None else {}

    @contextmanager
    def timed(part: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        spent[part] = spent.get(part, 0.0) + time.perf_counter() - started

    def run(part: str, job: Callable[[], T]) -> T:
        with timed(part):
            return job()

    meeting_week = current_week(store, clock) if week is None else week_of(week, clock)
    data_as_of = ws.data_as_of()
    as_of = brief_moment(data_as_of, meeting_week)
    period = Period.containing(as_of.date(), "quarter")
    settings = Settings(store).values()
    notes: list[str] = []
    if data_as_of is None:
        notes.append("No data has been imported yet: every number below is empty.")
    elif data_as_of.date() < meeting_week.start:
        notes.append(
            f"The data is as of {data_as_of:%Y-%m-%d %H:%M}, before this week began: "
            "import a newer export for this week's numbers."
        )

    goals = run(
        "revenue vs goal", lambda: revenue_vs_goal_by(store, as_of, period, (None, *BREAKDOWNS))
    )
    goal = goals[None]
    goal_by = {by: goals[by] for by in BREAKDOWNS}
    forecast = run("forecast", lambda: latest_forecast(store, period, as_of))
    big = run("big deals", lambda: big_deals(store, as_of, settings))
    risks = run("risks", lambda: deal_risks(store, as_of, settings))
    record = run("meeting record", lambda: agenda(store, meeting_week, clock))
    week_start = max(as_of - timedelta(days=7), datetime.combine(period.start, datetime.min.time()))
    period_start = datetime.combine(period.start, datetime.min.time())
    week_change, period_change = run(
        "what changed",
        lambda: pipeline_changes(store, [week_start, period_start], as_of, period),
    )
    slips = run("slip ledger", lambda: slip_ledger(store, as_of, period, SLIP_PERIODS_BACK))
    shares = run("mix", lambda: mix(store, as_of, period, settings))
    # Names only for the accounts the brief shows: the top of each list.
    account_ids = {a.account_id for a in risks.accounts[:ACCOUNTS_SHOWN]} | {
        d.account_id
        for listing in (big.won, big.closing, big.overdue)
        for d in listing.deals[:ACCOUNTS_SHOWN]
    }
    names, accounts = run("names", lambda: _names(ws, account_ids))
    if goal.total.target is None:
        notes.append(
            f"No company target is set for {period.label}: import quotas (Salesforce "
            "ForecastingQuota) or targets to see the gap, the pace and coverage."
        )
    return Brief(
        week=meeting_week,
        as_of=as_of,
        data_as_of=data_as_of,
        period=period,
        generated_at=clock,
        goal=goal,
        goal_by=goal_by,
        big=big,
        risks=risks,
        agenda=record,
        week_change=week_change,
        period_change=period_change,
        slips=slips,
        mix=shares,
        settings=settings,
        names=names,
        accounts=accounts,
        notes=tuple(notes),
        forecast=forecast,
    )


def _names(ws: Workspace, account_ids: set[str | None]) -> tuple[dict[str, str], dict[str, str]]:
    """User id -> name (all users) and account id -> name for ``account_ids`` (ids stand in
    where the name is empty)."""
    store = ws.store
    users = store.to_arrow(store.table("users").select("user_id", "name")).to_pylist()
    table = store.table("accounts")
    wanted = sorted(a for a in account_ids if a)
    accounts = (
        store.to_arrow(
            table.filter(table.account_id.isin(wanted)).select("account_id", "name")
        ).to_pylist()
        if wanted
        else []
    )
    return (
        {u["user_id"]: u["name"] or u["user_id"] for u in users},
        {a["account_id"]: a["name"] or a["account_id"] for a in accounts},
    )
