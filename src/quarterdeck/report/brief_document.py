"""The weekly brief in words, tables and charts: a :class:`Brief` laid out as a Document.

Short sentences that state the number and what it means come first in every section
("2026-Q3 closed 1.2M of 2.0M (60%) with 5 weeks left; at the usual pace that ends near
1.8M"), then the tables and charts behind them. Every number links to its deals in the
appendix; a number made of many deals links to a group listing the largest of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.history import deals_at
from quarterdeck.meeting import ItemView
from quarterdeck.metrics.attainment import ANY_KEY, GoalLine, RevenueVsGoal
from quarterdeck.metrics.mix import MOTION_LABELS, SIZE_LABELS, MixView
from quarterdeck.metrics.waterfall import Waterfall
from quarterdeck.report.brief import Brief
from quarterdeck.report.document import (
    Appendix,
    Bar,
    BarChart,
    Callout,
    Cell,
    Column,
    Deal,
    DealGroup,
    Document,
    Item,
    ItemList,
    MixChart,
    MixPart,
    PaceChart,
    PacePoint,
    Section,
    Step,
    Table,
    WaterfallChart,
    row,
)
from quarterdeck.report.format import count, day, moment, money_short, multiple, percent
from quarterdeck.store import Store

__all__ = ["GROUP_LIMIT", "brief_document"]

GROUP_LIMIT = 10
"""A number made of more deals links to a group listing its largest ``GROUP_LIMIT``."""

TOP_RISKS = 15
TOP_BIG = 10
TOP_LINES = 12
TOP_SLIPS = 15
TOP_REPS = 10

SIGNAL_LABELS = {
    "past_close_date": "close date passed",
    "pushed": "close date pushed",
    "stalled": "stalled in stage",
    "amount_cut": "amount cut",
    "quiet": "no recent activity",
    "single_contact": "single contact",
    "churn": "renewal with churn signals",
}

BAR_LABELS = {
    "created": "created",
    "pulled_in": "pulled in",
    "increased": "increased",
    "decreased": "decreased",
    "pushed_out": "pushed out",
    "lost": "lost",
    "won": "won",
}

DIMENSION_TITLES = {"team": "team", "owner": "rep", "segment": "segment", "motion": "motion"}
REVENUE_METRICS = ("revenue", "bookings", "gap", "attainment", "coverage", "pipeline", "pace")


def _cents(value: float) -> Decimal:
    """A forecast (a float) as money to the cent, for the brief's formatters."""
    return Decimal(str(round(value, 2)))


def _rows(rows: Iterable[Sequence[Any]]) -> tuple[tuple[Cell, ...], ...]:
    """Table rows from sequences of values and cells."""
    return tuple(row(*r) for r in rows)


def _motion_name(key: str | None) -> str:
    """'new business (acquisition)' for new_business, and so on."""
    if not key:
        return "(none)"
    label = MOTION_LABELS.get(key)
    return f"{key.replace('_', ' ')} ({label})" if label else key


class _Refs:
    """The deals the document links to, and the groups of numbers made of many deals."""

    def __init__(self) -> None:
        self.ids: dict[str, None] = {}
        self.groups: dict[str, DealGroup] = {}

    def cell(self, value: Any, deals: Sequence[str], title: str, total: int | None = None) -> Cell:
        """``value`` linked to ``deals`` (listed largest first by the caller)."""
        return Cell(value, **self.link(deals, title, total))

    def link(self, deals: Sequence[str], title: str, total: int | None = None) -> dict[str, Any]:
        """Link to ``deals`` (distinct ids, largest first): to the deals themselves when
        there are few, else to a group of the largest; ``total`` counts all of them when
        ``deals`` holds only the first few."""
        shown = [d for d in deals[: GROUP_LIMIT + 1] if d]
        if not shown:
            return {}
        count = max(total or 0, len(deals))
        if count <= GROUP_LIMIT:
            self.ids.update(dict.fromkeys(shown))
            return {"deals": tuple(shown)}
        shown = shown[:GROUP_LIMIT]
        self.ids.update(dict.fromkeys(shown))
        group_id = f"g{len(self.groups) + 1}"
        self.groups[group_id] = DealGroup(
            group_id, f"{title}: the {len(shown)} largest", tuple(shown), count - len(shown)
        )
        return {"anchor": group_id}


def brief_document(store: Store, brief: Brief) -> Document:
    """The brief as a Document: the five agenda points in order, then what changed, the
    "next quarter" ledger, the mix, and the appendix of deals."""
    refs = _Refs()
    writer = _Writer(brief, refs)
    sections = [
        writer.goal(),
        writer.big_deals(),
        writer.risks(),
        writer.initiatives(),
        writer.issues(),
        writer.carried(),
        writer.change(),
        writer.slips(),
        writer.mix(),
    ]
    facts = (
        ("Meeting", f"week {brief.week.label} (from {day(brief.week.start)})"),
        ("Numbers as of", moment(brief.as_of)),
        ("Period", f"{brief.period.label} ({day(brief.period.start)} to {day(brief.period.end)})"),
    )
    appendix = Appendix(
        deals=_appendix_deals(store, brief, refs.ids),
        groups=tuple(refs.groups.values()),
        note="Each deal as it stood when the numbers were taken.",
    )
    return Document(
        title="Weekly sales brief",
        subtitle=f"{brief.period.label}, week {brief.week.label}",
        generated_at=brief.generated_at,
        sections=tuple(sections),
        appendix=appendix,
        facts=facts,
    )


def _appendix_deals(store: Store, brief: Brief, ids: Iterable[str]) -> tuple[Deal, ...]:
    wanted = list(ids)
    known = brief.deal_lines
    missing = [d for d in wanted if d not in known]
    if missing:
        known.update(_deal_lines(store, brief, missing))
    return tuple(sorted((known[d] for d in wanted), key=lambda d: d.deal_id))


def _deal_lines(store: Store, brief: Brief, wanted: list[str]) -> dict[str, Deal]:
    """The deals of ``wanted`` as they stood at the brief's moment, by id."""
    deals = deals_at(store, brief.as_of)
    rows = store.to_arrow(
        deals.filter(deals.deal_id.isin(wanted)).select(
            "deal_id", "name", "account_id", "owner_id", "stage", "amount", "close_date"
        )
    )
    account_ids = [a for a in set(rows.column("account_id").to_pylist()) if a]
    names = dict(brief.accounts)
    if account_ids:
        accounts = store.table("accounts")
        found = store.to_arrow(
            accounts.filter(accounts.account_id.isin(account_ids)).select("account_id", "name")
        ).to_pylist()
        names.update({a["account_id"]: a["name"] or a["account_id"] for a in found})
    by_id = {r["deal_id"]: r for r in rows.to_pylist()}
    out: dict[str, Deal] = {}
    for deal_id in wanted:
        r = by_id.get(deal_id)
        if r is None:
            out[deal_id] = Deal(deal_id, deal_id, note="not in the data at this moment")
            continue
        out[deal_id] = Deal(
            deal_id=deal_id,
            name=r["name"] or deal_id,
            owner=brief.names.get(r["owner_id"], r["owner_id"] or ""),
            stage=r["stage"] or "",
            amount=r["amount"],
            close_date=r["close_date"],
            account=names.get(r["account_id"], r["account_id"] or ""),
        )
    return out


class _Writer:
    """Builds each section of the brief from its results."""

    def __init__(self, brief: Brief, refs: _Refs):
        self.b = brief
        self.refs = refs

    def who(self, user_id: str | None) -> str:
        if not user_id:
            return "(no owner)"
        return self.b.names.get(user_id, user_id)

    # -- 1. revenue vs goal -----------------------------------------------------------------

    def goal(self) -> Section:
        b, goal = self.b, self.b.goal
        line = goal.total
        label = b.period.label
        paragraphs = [self._headline(goal, line)]
        if line.target is not None:
            if line.target_met:
                paragraphs.append(
                    f"The target is met: {percent(line.attainment)} of it is closed "
                    f"({money_short(-(line.gap or 0))} above it)."
                )
            else:
                coverage = (
                    f", {multiple(line.coverage)} the gap" if line.coverage is not None else ""
                )
                paragraphs.append(
                    f"The gap is {money_short(line.gap)}. Open pipeline due in {label} is "
                    f"{money_short(line.pipeline)} ({money_short(line.due)} still to come, "
                    f"{money_short(line.overdue)} already past its close date){coverage}."
                )
        else:
            paragraphs.append(
                f"Open pipeline due in {label} is {money_short(line.pipeline)} from "
                f"{count(line.pipeline_count)} deals ({money_short(line.overdue)} already past "
                "its close date)."
            )
        if line.last_year is not None and line.last_year.total:
            ly = line.last_year
            paragraphs.append(
                f"The same quarter last year ({ly.period.label}) had closed "
                f"{money_short(ly.bookings_by_now)} by this point and {money_short(ly.total)} in all."
            )
        paragraphs.append(self._forecast_sentence())
        call = b.agenda.latest_call
        if call is not None:
            paragraphs.append(
                f"The sales leader's latest call ({call.called_at:%Y-%m-%d}): commit "
                f"{money_short(call.commit)}, best case {money_short(call.best_case)} for "
                f"{call.period.label}."
            )
        else:
            paragraphs.append(
                f"The sales leader has not called {label} yet "
                "(quarterdeck meeting call --commit X --best-case Y)."
            )
        blocks: list[Any] = [*[Callout(n, tone="warn") for n in b.notes]]
        doing = [
            v
            for v in b.agenda.open
            if v.item.kind in ("initiative", "action")
            and (v.item.metric or "").lower().startswith(REVENUE_METRICS)
        ]
        if doing:
            blocks.append(
                ItemList(
                    tuple(self._item(v) for v in doing),
                    caption="What the sales leader is doing about the gap",
                )
            )
        elif line.gap is not None and line.gap > 0:
            blocks.append(
                Callout(
                    "No action or initiative on the gap is recorded. Add one with "
                    "quarterdeck meeting add action TITLE --metric revenue.",
                    title="What the sales leader is doing about the gap",
                    tone="warn",
                )
            )
        blocks.append(self._pace_chart(goal))
        forecast = self._forecast_table()
        if forecast is not None:
            blocks.append(forecast)
        blocks.append(self._goal_table(goal, "Company", [line], company=True))
        for by in ("team", "segment", "motion"):
            result = b.goal_by[by]
            lines = list(result.rows)
            caption = f"By {DIMENSION_TITLES[by]}"
            if len(lines) > TOP_LINES:
                caption += f": the {TOP_LINES} that closed most of {len(lines)}"
                lines = sorted(lines, key=lambda r: (-r.bookings, r.key or ""))[:TOP_LINES]
            blocks.append(self._goal_table(result, caption, lines))
        reps = b.goal_by["owner"]
        behind = sorted(
            (r for r in reps.rows if r.gap is not None and r.gap > 0),
            key=lambda r: (-(r.gap or 0), r.key or ""),
        )[:TOP_REPS]
        blocks.append(
            self._goal_table(
                reps, f"The {TOP_REPS} reps furthest from their targets", behind, names=True
            )
        )
        ahead = sorted(reps.rows, key=lambda r: (-r.bookings, r.key or ""))[:TOP_REPS]
        blocks.append(
            self._goal_table(reps, f"The {TOP_REPS} reps who closed most", ahead, names=True)
        )
        return Section("goal", "1. Revenue vs goal", tuple(paragraphs), tuple(blocks))

    def _headline(self, goal: RevenueVsGoal, line: GoalLine) -> str:
        label = goal.period.label
        weeks = goal.weeks_left
        left = (
            "with the period over"
            if goal.days_left == 0
            else f"with {weeks} week{'s' if weeks != 1 else ''} left"
            if weeks
            else f"with {goal.days_left} day{'s' if goal.days_left != 1 else ''} left"
        )
        closed = f"{label} closed {money_short(line.bookings)}"
        if line.target is not None:
            closed += f" of {money_short(line.target)} ({percent(line.attainment)})"
        closed += f" from {count(line.won_count)} deals {left}"
        if goal.days_left == 0:
            return closed + "."
        if line.usual_projection is not None:
            return (
                closed + f"; at the usual pace that ends near {money_short(line.usual_projection)}."
            )
        return (
            closed
            + f"; at a straight-line pace that ends near {money_short(line.straight_line_projection)}."
        )

    def _pace_chart(self, goal: RevenueVsGoal) -> PaceChart:
        won = goal.deals_table.filter(pc.equal(goal.deals_table.column("status"), "won"))
        daily: dict[date, Decimal] = {}
        for close, amount in zip(
            won.column("close_date").to_pylist(), won.column("amount").to_pylist(), strict=True
        ):
            if close is not None:
                daily[close] = daily.get(close, Decimal("0.00")) + (amount or Decimal("0.00"))
        running = Decimal("0.00")
        points = [PacePoint(goal.period.start, Decimal("0.00"))]
        for close in sorted(daily):
            running += daily[close]
            points.append(PacePoint(close, running))
        points.append(PacePoint(goal.day, running))
        deduped: dict[date, PacePoint] = {p.day: p for p in points}
        ids = [d.deal_id for d in goal.deals(("won",), limit=GROUP_LIMIT + 1)]
        link = self.refs.link(ids, f"Won in {goal.period.label}", goal.total.won_count)
        return PaceChart(
            title=f"Bookings in {goal.period.label} against the target",
            start=goal.period.start,
            end=goal.period.end,
            as_of=goal.day,
            booked=tuple(sorted(deduped.values(), key=lambda p: p.day)),
            target=goal.total.target,
            caption="Closed won to date; the dashed line is the straight-line pace to the target.",
            **link,
        )

    def _forecast_table(self) -> Table | None:
        """The saved forecast's range beside the leader's latest call, when both or either
        exist: the numbers of the two sentences above, side by side."""
        b, saved, call = self.b, self.b.forecast, self.b.agenda.latest_call
        rows: list[tuple[Any, ...]] = []
        has_forecast = saved is not None and saved.forecast is not None
        has_call = call is not None and call.period == b.period
        if saved is not None and saved.forecast is not None:
            made = f"forecast of {saved.made_at:%Y-%m-%d}"
            if saved.p10 is not None:
                rows.append((f"{made}: low end (P10)", _cents(saved.p10)))
            rows.append((f"{made}: expected (P50)", _cents(saved.forecast)))
            if saved.p90 is not None:
                rows.append((f"{made}: high end (P90)", _cents(saved.p90)))
        if call is not None and has_call:
            rows.append((f"leader's call of {call.called_at:%Y-%m-%d}: commit", call.commit))
            rows.append((f"leader's call of {call.called_at:%Y-%m-%d}: best case", call.best_case))
        if not rows:
            return None
        columns = (Column("forecast"), Column(f"{b.period.label} bookings", "money"))
        caption = (
            "The forecast beside the leader's call"
            if has_forecast and has_call
            else ("The forecast" if has_forecast else "The leader's call")
        )
        return Table(columns, _rows(rows), caption=caption)

    def _forecast_sentence(self) -> str:
        """The saved forecast of the period, its range and the chance of the target."""
        b, saved = self.b, self.b.forecast
        label = b.period.label
        if saved is None or saved.forecast is None:
            return (
                f"No forecast of {label} has been saved from data up to this brief's moment "
                "(quarterdeck forecast makes and saves one)."
            )
        sentence = (
            f"The forecast made from the data of {saved.made_at:%Y-%m-%d} expects "
            f"{money_short(_cents(saved.forecast))} for {label}"
        )
        if saved.p10 is not None and saved.p90 is not None:
            sentence += (
                f" (80% range {money_short(_cents(saved.p10))} to {money_short(_cents(saved.p90))})"
            )
        if saved.p_target is not None and saved.target is not None:
            sentence += (
                f"; the chance of reaching the {money_short(_cents(saved.target))} target is "
                f"{saved.p_target * 100:.0f}%"
            )
        return sentence + "."

    def _goal_table(
        self,
        result: RevenueVsGoal,
        caption: str,
        lines: Sequence[GoalLine],
        *,
        company: bool = False,
        names: bool = False,
    ) -> Table:
        columns = (
            Column(DIMENSION_TITLES.get(result.by or "", "scope")),
            Column("closed", "money", short=True),
            Column("won", "count"),
            Column("target", "money", short=True),
            Column("attained", "percent"),
            Column("gap", "money", short=True),
            Column("pipeline due", "money", short=True),
            Column("coverage", "multiple"),
        )
        rows = []
        for line in lines:
            if company:
                label = "company"
            else:
                label = (
                    self.who(line.key)
                    if names
                    else _motion_name(line.key)
                    if result.by == "motion"
                    else (line.key or "(none)")
                )
            key = ANY_KEY if company else line.key
            won = result.deals(("won",), key, limit=GROUP_LIMIT + 1)
            pipe = result.deals(("due", "overdue"), key, limit=GROUP_LIMIT + 1)
            rows.append(
                (
                    label,
                    self.refs.cell(
                        line.bookings, [d.deal_id for d in won], f"{label}: won", line.won_count
                    ),
                    line.won_count,
                    line.target if line.target is not None else "no target",
                    line.attainment,
                    line.gap,
                    self.refs.cell(
                        line.pipeline,
                        [d.deal_id for d in pipe],
                        f"{label}: pipeline due",
                        line.pipeline_count,
                    ),
                    line.coverage,
                )
            )
        return Table(columns, _rows(rows), caption=caption)

    # -- 2. big deals -----------------------------------------------------------------------

    def big_deals(self) -> Section:
        b, big = self.b, self.b.big
        paragraphs: list[str] = []
        if big.threshold is None:
            paragraphs.append(
                "No deal was won in the last four quarters, so there is no size to call big yet."
            )
        else:
            paragraphs.append(f"A deal is big from {money_short(big.threshold)} ({big.source}).")
            won = big.won
            paragraphs.append(
                f"{count(len(won.deals))} big deal{'s' if len(won.deals) != 1 else ''} "
                f"won in the last {b.settings['big_deals.won_days']} days"
                + (f", worth {money_short(won.value)}." if won.deals else ".")
            )
            closing = big.closing
            if closing.deals:
                landing = b.goal.total.bookings + closing.value
                target = b.goal.total.target
                reach = f" ({percent(landing / target)} of target)" if target else ""
                owners = Counter(self.who(d.owner_id) for d in closing.deals)
                busiest = ", ".join(f"{n} ({c})" for n, c in owners.most_common(3) if c > 1)
                paragraphs.append(
                    f"{count(len(closing.deals))} big deals worth {money_short(closing.value)} "
                    f"are expected to close in the next {b.settings['big_deals.closing_days']} "
                    f"days; if all close, {b.period.label} reaches {money_short(landing)}{reach}."
                    + (f" Owners with several of them: {busiest}." if busiest else "")
                )
            else:
                paragraphs.append(
                    f"No big deal is expected to close in the next "
                    f"{b.settings['big_deals.closing_days']} days."
                )
            if big.overdue.deals:
                paragraphs.append(
                    f"{count(len(big.overdue.deals))} big open deals worth "
                    f"{money_short(big.overdue.value)} are past their close date."
                )
        blocks: list[Any] = [Callout(n, tone="info") for n in big.notes]
        for title, listing in (
            ("Big deals won", big.won),
            ("Big deals expected to close", big.closing),
            ("Big deals past their close date", big.overdue),
        ):
            shown = listing.deals[:TOP_BIG]
            if len(listing.deals) > TOP_BIG:
                title += f": the {TOP_BIG} largest of {len(listing.deals)}"
            blocks.append(self._big_table(title, shown))
        return Section("big", "2. Big deals", tuple(paragraphs), tuple(blocks))

    def _big_table(self, caption: str, deals: Sequence[Any]) -> Table:
        columns = (
            Column("deal"),
            Column("account"),
            Column("owner"),
            Column("stage"),
            Column("amount", "money"),
            Column("close date", "date"),
            Column("age (days)", "count"),
        )
        rows = [
            (
                self.refs.cell(d.name or d.deal_id, [d.deal_id], d.name or d.deal_id),
                self.b.accounts.get(d.account_id or "", d.account_id or ""),
                self.who(d.owner_id),
                d.stage or "",
                d.amount,
                d.close_date,
                d.age_days,
            )
            for d in deals
        ]
        return Table(columns, _rows(rows), caption=caption, empty="None.")

    # -- 3. risks ---------------------------------------------------------------------------

    def risks(self) -> Section:
        b, report = self.b, self.b.risks
        flagged = report.deals
        value = report.value
        mitigations: dict[str, list[ItemView]] = {}
        for view in b.agenda.of_kind("risk"):
            for deal_id in view.item.deal_ids:
                mitigations.setdefault(deal_id, []).append(view)
        paragraphs = []
        if report.count:
            top = flagged[:TOP_RISKS]
            unmitigated = [d for d in top if d.deal_id not in mitigations]
            paragraphs.append(
                f"{count(report.count)} open deals worth {money_short(value)} show a risk "
                f"signal. Of the {len(top)} largest, {len(unmitigated)} have no mitigation "
                "recorded yet."
            )
            biggest = top[0]
            paragraphs.append(
                f"The largest at risk: {biggest.name or biggest.deal_id} "
                f"({money_short(biggest.amount)}, {self.who(biggest.owner_id)}): "
                + "; ".join(s.evidence for s in biggest.signals)
                + "."
            )
        else:
            paragraphs.append("No open deal shows a risk signal.")
        blocks: list[Any] = [Callout(n, tone="info") for n in report.notes]
        rows = []
        top = flagged[:TOP_RISKS]
        for d in top:
            plans = mitigations.get(d.deal_id, [])
            plan = (
                "; ".join(
                    f"{v.item.title} ({self.who(v.item.owner)}, {v.item.status})" for v in plans
                )
                if plans
                else "none yet"
            )
            rows.append(
                (
                    self.refs.cell(d.name or d.deal_id, [d.deal_id], d.name or d.deal_id),
                    self.who(d.owner_id),
                    d.stage or "",
                    d.amount,
                    d.close_date,
                    "; ".join(s.evidence for s in d.signals),
                    plan,
                )
            )
        blocks.append(
            Table(
                (
                    Column("deal"),
                    Column("owner"),
                    Column("stage"),
                    Column("amount", "money"),
                    Column("close date", "date"),
                    Column("why"),
                    Column("mitigation"),
                ),
                _rows(rows),
                caption=f"The {TOP_RISKS} largest deals at risk",
                empty="None.",
            )
        )
        blocks.append(
            Table(
                (Column("signal"), Column("deals", "count"), Column("value", "money", short=True)),
                _rows(
                    (
                        SIGNAL_LABELS.get(s.kind, s.kind),
                        s.count if s.judged else "not judged",
                        self.refs.cell(s.value, s.deal_ids, SIGNAL_LABELS.get(s.kind, s.kind)),
                    )
                    for s in report.by_signal
                ),
                caption="Deals at risk by signal (a deal can show several)",
            )
        )
        blocks.append(
            Table(
                (Column("account"), Column("deals", "count"), Column("value", "money", short=True)),
                _rows(
                    (
                        a.name or b.accounts.get(a.account_id, a.account_id),
                        len(a.deal_ids),
                        self.refs.cell(a.value, a.deal_ids, a.name or a.account_id),
                    )
                    for a in report.accounts[:10]
                ),
                caption="Accounts in jeopardy: the 10 with most value at risk",
                empty="None.",
            )
        )
        others = [
            v
            for v in b.agenda.of_kind("risk")
            if not set(v.item.deal_ids) & {d.deal_id for d in top}
        ]
        blocks.append(
            ItemList(
                tuple(self._item(v) for v in others),
                caption="Other open risk mitigations",
                empty="None.",
            )
        )
        return Section("risks", "3. Risks", tuple(paragraphs), tuple(blocks))

    # -- 4, 5 and the record ------------------------------------------------------------------

    def initiatives(self) -> Section:
        views = self.b.agenda.of_kind("initiative")
        late = [v for v in views if v.overdue]
        paragraphs = [
            f"{count(len(views))} initiative{'s' if len(views) != 1 else ''} open"
            + (f", {len(late)} past due." if late else ".")
        ]
        return Section(
            "initiatives",
            "4. Sales-leader initiatives",
            tuple(paragraphs),
            (ItemList(tuple(self._item(v) for v in views), empty="No initiative recorded."),),
        )

    def issues(self) -> Section:
        views = self.b.agenda.of_kind("issue")
        sides = Counter(v.item.side or "unknown" for v in views)
        raised = ", ".join(
            f"{c} from the {'CEO' if s == 'ceo' else 'sales leader' if s == 'leader' else s}"
            for s, c in sorted(sides.items())
        )
        paragraphs = [
            f"{count(len(views))} issue{'s' if len(views) != 1 else ''} open"
            + (f" ({raised})." if views else ".")
        ]
        return Section(
            "issues",
            "5. Issues",
            tuple(paragraphs),
            (ItemList(tuple(self._item(v) for v in views), empty="No open issue."),),
        )

    def carried(self) -> Section:
        agenda = self.b.agenda
        carried = agenda.carried
        since = f"the meeting of {agenda.previous.meeting_id}" if agenda.previous else "the start"
        paragraphs = [
            f"{count(len(carried))} item{'s' if len(carried) != 1 else ''} carried from "
            f"earlier meetings; {count(len(agenda.closed))} closed since {since}."
        ]
        actions = agenda.of_kind("action")
        blocks = (
            ItemList(tuple(self._item(v) for v in carried), caption="Carried", empty="None."),
            ItemList(tuple(self._item(v) for v in actions), caption="Open actions", empty="None."),
            ItemList(
                tuple(self._item(v) for v in agenda.closed),
                caption="Closed since the last meeting",
                empty="None.",
            ),
        )
        return Section("record", "Carried from last week", tuple(paragraphs), blocks)

    def _item(self, view: ItemView) -> Item:
        item = view.item
        details = [d.sentence() for d in view.deals]
        if view.last_update is not None:
            details.append(f"last update {view.last_update.sentence()}")
        if view.carried:
            details.append(f"raised in {item.meeting_id}")
        side = {"ceo": "CEO", "leader": "sales leader"}.get(item.side or "", item.side or "")
        tone = "bad" if view.overdue else "good" if item.status == "done" else "neutral"
        linked = [d.deal_id for d in view.deals if d.found]
        return Item(
            title=f"{item.item_id} {item.title}",
            status=item.status + (" (overdue)" if view.overdue else ""),
            kind=item.kind,
            owner=self.who(item.owner) + (f", raised by the {side}" if side else ""),
            due=item.due,
            detail="; ".join(details),
            metric=item.metric or "",
            tone=tone,  # type: ignore[arg-type]
            **({} if not linked else self.refs.link(linked, item.title)),
        )

    # -- what changed -------------------------------------------------------------------------

    def change(self) -> Section:
        b = self.b
        paragraphs = [
            self._change_sentence("Since last week", b.week_change),
            self._change_sentence(f"Since {b.period.label} began", b.period_change),
        ]
        blocks = (
            self._waterfall_chart("this week", b.week_change),
            self._waterfall_chart(f"{b.period.label} to date", b.period_change),
        )
        return Section("change", "What changed", tuple(paragraphs), blocks, new_page=True)

    def _change_sentence(self, when: str, change: Waterfall) -> str:
        bars = {bar.name: bar for bar in change.bars}
        moves = [
            f"{'+' if bar.sign > 0 else '-'}{money_short(bar.amount)} {BAR_LABELS.get(name, name)}"
            for name, bar in bars.items()
            if bar.amount
        ]
        return (
            f"{when} the pipeline due in {change.period.label} went from "
            f"{money_short(change.start_amount)} to {money_short(change.end_amount)}"
            + (f": {', '.join(moves)}." if moves else "; nothing moved.")
        )

    def _waterfall_chart(self, title: str, change: Waterfall) -> WaterfallChart:
        def step(label: str, amount: Decimal, deal_ids: Sequence[str]) -> Step:
            # A bar's deals come largest first, then by id.
            return Step(label, amount, **self.refs.link(deal_ids, f"{title}: {label}"))

        return WaterfallChart(
            title=f"Pipeline due in {change.period.label}: {title}",
            start=Step("start", change.start_amount),
            steps=tuple(
                step(BAR_LABELS.get(bar.name, bar.name), bar.sign * bar.amount, bar.deal_ids)
                for bar in change.bars
            ),
            end=Step("end", change.end_amount),
            caption=(
                f"From {moment(change.start)} to {moment(change.end)}: start + created + pulled in "
                "+ increased - decreased - pushed out - lost - won = end."
            ),
        )

    # -- the "next quarter" ledger -----------------------------------------------------------

    def slips(self) -> Section:
        ledger = self.b.slips
        slipped = ledger.deals
        value = sum((d.amount or Decimal("0.00") for d in slipped), Decimal("0.00"))
        often = [d for d in slipped if d.slips >= 3]
        paragraphs = [
            f"{count(len(slipped))} open deals worth {money_short(value)} have slipped to a "
            f"later quarter at least once; {count(len(often))} of them three times or more."
        ]
        done = [p for p in ledger.periods if p.promised_count]
        if done:
            last = done[-1] if done[-1].period != self.b.period or len(done) == 1 else done[-2]
            paragraphs.append(
                f"Of the {money_short(last.promised)} promised for {last.period.label} at its "
                f"start, {money_short(last.arrived)} arrived ({percent(last.arrived_share)})."
            )
        rows = [
            (
                self.refs.cell(d.name or d.deal_id, [d.deal_id], d.name or d.deal_id),
                self.who(d.owner_id),
                d.first_period.label if d.first_period else "",
                d.current_period.label if d.current_period else "",
                d.slips,
                d.amount,
            )
            for d in slipped[:TOP_SLIPS]
        ]
        blocks: list[Any] = [
            Table(
                (
                    Column("deal"),
                    Column("owner"),
                    Column("first promised"),
                    Column("now due"),
                    Column("slips", "count"),
                    Column("amount", "money"),
                ),
                _rows(rows),
                caption=f"The deals that slipped most (top {TOP_SLIPS})",
                empty="No open deal has slipped.",
            ),
            Table(
                (
                    Column("period"),
                    Column("promised", "money", short=True),
                    Column("arrived", "money", short=True),
                    Column("arrived %", "percent"),
                    Column("slipped", "money", short=True),
                ),
                _rows(
                    (
                        p.period.label,
                        self.refs.cell(
                            p.promised, p.promised_ids, f"promised for {p.period.label}"
                        ),
                        self.refs.cell(p.arrived, p.arrived_ids, f"arrived in {p.period.label}"),
                        p.arrived_share,
                        self.refs.cell(
                            p.slipped, p.slipped_ids, f"slipped out of {p.period.label}"
                        ),
                    )
                    for p in ledger.periods
                ),
                caption="Promised at each quarter's start, and what arrived",
            ),
        ]
        keepers = sorted(
            (o for o in ledger.owners if o.rate is not None),
            key=lambda o: (o.rate, -o.promised, o.owner_id or ""),
        )[:TOP_REPS]
        blocks.append(
            Table(
                (
                    Column("owner"),
                    Column("promised", "money", short=True),
                    Column("arrived", "money", short=True),
                    Column("kept", "percent"),
                ),
                _rows((self.who(o.owner_id), o.promised, o.arrived, o.rate) for o in keepers),
                caption=f"Promise keeping over the last completed quarters: the {TOP_REPS} lowest",
                empty="No completed quarter with promises yet.",
            )
        )
        return Section("slips", 'The "next quarter" ledger', tuple(paragraphs), tuple(blocks))

    # -- mix --------------------------------------------------------------------------------

    def mix(self) -> Section:
        shares = self.b.mix
        conc = shares.concentration
        paragraphs = [
            self._mix_sentence("motion", shares.motion),
            self._mix_sentence("deal size", shares.size),
        ]
        if conc.share is not None:
            paragraphs.append(
                f"The {conc.top_n} largest open deals hold {percent(conc.share)} of the "
                f"{money_short(conc.pipeline)} pipeline due in {shares.period.label}."
            )
        blocks: list[Any] = []
        for view, labels, title in (
            (shares.motion, MOTION_LABELS, "By motion"),
            (shares.size, SIZE_LABELS, "By deal size"),
        ):
            blocks.append(self._mix_chart(view, labels, f"{title}: closed and pipeline"))
            blocks.append(self._mix_table(view, labels, title))
        blocks.append(
            BarChart(
                title=f"The {conc.top_n} largest open deals due in {shares.period.label}",
                bars=tuple(
                    Bar(
                        d.name or d.deal_id,
                        d.amount or Decimal("0.00"),
                        **self.refs.link([d.deal_id], d.deal_id),
                    )
                    for d in conc.deals
                ),
            )
        )
        bands = shares.bands
        if bands.mid_from is not None and bands.big_from is not None:
            paragraphs.append(
                f"Size bands: small below {money_short(bands.mid_from)}, big from "
                f"{money_short(bands.big_from)} ({bands.source})."
            )
        return Section("mix", "Mix", tuple(paragraphs), tuple(blocks))

    def _mix_sentence(self, what: str, view: MixView) -> str:
        if not view.target_set:
            return (
                f"No target mix by {what} is set "
                f"(quarterdeck settings set {view.target_setting} ...)."
            )
        off = [
            (line, line.combined_diff_points)
            for line in view.lines
            if line.combined_diff_points is not None
        ]
        if not off:
            return f"Nothing closed or due yet to compare with the target mix by {what}."
        line, points = max(off, key=lambda x: abs(x[1] or Decimal(0)))
        direction = "above" if (points or 0) > 0 else "below"
        return (
            f"By {what}, {line.label} is furthest from the agreed mix: "
            f"{percent(line.combined_share)} of closed and pipeline against "
            f"{percent(line.target_share)} agreed ({abs(points or 0):.0f} points {direction})."
        )

    def _mix_chart(self, view: MixView, labels: dict[str, str], title: str) -> MixChart:
        parts = []
        # The mix's deals, largest first, as columns: only the ids of the largest are read.
        table = self.b.mix.deals_table
        table = table.sort_by([("amount", "descending"), ("deal_id", "ascending")])
        attr = "motion" if view.dimension == "motion" else "band"
        known = pa.array(list(MOTION_LABELS if attr == "motion" else SIZE_LABELS))
        column = table.column(attr)
        keys = pc.if_else(pc.fill_null(pc.is_in(column, known), False), column, "unknown")
        for line in view.lines:
            ids = table.filter(pc.equal(keys, line.key)).column("deal_id").slice(0, GROUP_LIMIT + 1)
            ids = ids.to_pylist()
            parts.append(
                MixPart(
                    labels.get(line.key, line.label),
                    line.combined,
                    line.target_share,
                    **self.refs.link(ids, f"{title}: {line.label}", line.combined_count),
                )
            )
        return MixChart(title, tuple(parts))

    def _mix_table(self, view: MixView, labels: dict[str, str], title: str) -> Table:
        return Table(
            (
                Column(view.dimension),
                Column("closed", "money", short=True),
                Column("closed %", "percent"),
                Column("pipeline", "money", short=True),
                Column("pipeline %", "percent"),
                Column("both %", "percent"),
                Column("agreed %", "percent"),
                Column("points off", "count", signed=True),
            ),
            _rows(
                (
                    _motion_name(line.key)
                    if view.dimension == "motion"
                    else labels.get(line.key, line.label),
                    line.closed,
                    line.closed_share,
                    line.pipeline,
                    line.pipeline_share,
                    line.combined_share,
                    line.target_share,
                    None
                    if line.combined_diff_points is None
                    else int(line.combined_diff_points.to_integral_value()),
                )
                for line in view.lines
            ),
            caption=title,
        )
