"""The one entry point: everything the CLI, the web app and a notebook do goes through here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quarterdeck import meeting as meeting_record
from quarterdeck.errors import InputError
from quarterdeck.importer import ImportRequest, ImportResult, run_import
from quarterdeck.metrics import (
    BigDeals,
    Bookings,
    Mix,
    PipelineByStage,
    RevenueVsGoal,
    RiskReport,
    SlipLedger,
    Waterfall,
    WinRate,
    big_deals,
    bookings,
    deal_risks,
    mix,
    pipeline_by_stage,
    pipeline_change,
    revenue_vs_goal,
    slip_ledger,
    win_rate,
)
from quarterdeck.metrics.attainment import targets_by
from quarterdeck.periods import PERIOD_KINDS, Period
from quarterdeck.report.brief import Brief, build_brief
from quarterdeck.report.brief_document import brief_document
from quarterdeck.report.document import Document
from quarterdeck.settings import Settings
from quarterdeck.store import Store

if TYPE_CHECKING:
    from quarterdeck.forecast import Backtest, PeriodForecast

__all__ = ["Status", "Workspace"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Status:
    """How much the database holds: the numbers ``quarterdeck status`` prints."""

    database: str
    schema_version: int
    deals: int
    deal_events: int
    accounts: int
    users: int
    activities: int
    targets: int
    imports: int
    won_amount: Decimal
    open_amount: Decimal
    last_import: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "schema_version": self.schema_version,
            "deals": self.deals,
            "deal_events": self.deal_events,
            "accounts": self.accounts,
            "users": self.users,
            "activities": self.activities,
            "targets": self.targets,
            "imports": self.imports,
            "won_amount": str(self.won_amount),
            "open_amount": str(self.open_amount),
            "last_import": self.last_import.isoformat() if self.last_import else None,
        }


class Workspace:
    """A Quarterdeck database and the jobs done on it."""

    def __init__(self, db: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.store = Store(db, read_only=read_only)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def import_files(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        format: str | None = None,
        mapping: str | os.PathLike[str] | None = None,
        as_of: datetime | None = None,
        max_rejects: int = 0,
        date_order: str | None = None,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Import CRM files or folders, all or nothing (see ``quarterdeck.importer``)."""
        request = ImportRequest(
            paths=tuple(Path(p) for p in paths),
            format=format,
            mapping=Path(mapping) if mapping else None,
            as_of=as_of,
            max_rejects=max_rejects,
            date_order=date_order,
        )
        return run_import(self.store, request, progress)

    # -- metrics ------------------------------------------------------------------------

    def today(self) -> date:
        """The day the data describes: the as-of date of the latest import, else today.

        Periods default to the one holding this day, so an old export (such as a data set
        from 2017) is read as of its own time, not as of the calendar.
        """
        imports = self.store.table("imports")
        latest = _datetime(self.store.scalar(imports.as_of.max()))
        return latest.date() if latest else date.today()

    def data_as_of(self) -> datetime | None:
        """The moment the data describes: the as-of time of the latest import (None before
        the first import)."""
        return _datetime(self.store.scalar(self.store.table("imports").as_of.max()))

    def period(self, text: str | Period | None = None, kind: str = "quarter") -> Period:
        """``text`` parsed as a period (2024-Q3, 2024-07, FY2025-Q1...), or the current one."""
        if isinstance(text, Period):
            return text
        if text is None:
            return Period.containing(self.today(), kind)  # type: ignore[arg-type]
        return Period.parse(text)

    def bookings(self, period: str | Period | None = None, by: str | None = None) -> Bookings:
        """Closed-won value against target in a period (see GLOSSARY: Bookings)."""
        return bookings(self.store, self.period(period), by)

    def win_rate(self, period: str | Period | None = None, by: str | None = None) -> WinRate:
        """Won / (won + lost) by count and by value for deals closed in a period."""
        return win_rate(self.store, self.period(period), by)

    def pipeline(
        self, as_of: datetime | None = None, period: str | Period | None = None
    ) -> PipelineByStage:
        """Open deals by stage, now or as of a past moment, optionally due in a period."""
        if as_of is not None and not isinstance(as_of, datetime):
            raise InputError(f"as_of must be a date and time, not {as_of!r}")
        return pipeline_by_stage(
            self.store, as_of=as_of, period=None if period is None else self.period(period)
        )

    def moment(self, as_of: datetime | None = None) -> datetime:
        """``as_of``, or the moment the data describes (the latest import), else now."""
        if as_of is not None:
            if not isinstance(as_of, datetime):
                raise InputError(f"as_of must be a date and time, not {as_of!r}")
            return as_of
        return self.data_as_of() or datetime.now().replace(microsecond=0)

    def revenue_vs_goal(
        self,
        period: str | Period | None = None,
        by: str | None = None,
        as_of: datetime | None = None,
    ) -> RevenueVsGoal:
        """Bookings to date against target, pace, projections and coverage (GLOSSARY)."""
        moment = self.moment(as_of)
        chosen = self.period(period) if period else Period.containing(moment.date(), "quarter")
        return revenue_vs_goal(self.store, moment, chosen, by)

    def big_deals(self, as_of: datetime | None = None) -> BigDeals:
        """Big deals won lately and expected to close soon (GLOSSARY: Big deal)."""
        return big_deals(self.store, self.moment(as_of), self.settings.values())

    def risks(self, as_of: datetime | None = None) -> RiskReport:
        """Open deals at risk with their evidence, largest first (GLOSSARY: Risk)."""
        return deal_risks(self.store, self.moment(as_of), self.settings.values())

    def pipeline_change(
        self, start: datetime, end: datetime | None = None, period: str | Period | None = None
    ) -> Waterfall:
        """How the pipeline due in ``period`` moved from ``start`` to ``end`` (waterfall)."""
        moment = self.moment(end)
        chosen = self.period(period) if period else Period.containing(moment.date(), "quarter")
        return pipeline_change(self.store, start, moment, chosen)

    def slip_ledger(
        self, period: str | Period | None = None, as_of: datetime | None = None
    ) -> SlipLedger:
        """The deals "always coming next quarter" and each quarter's promises kept."""
        moment = self.moment(as_of)
        chosen = self.period(period) if period else Period.containing(moment.date(), "quarter")
        return slip_ledger(self.store, moment, chosen)

    def mix(self, period: str | Period | None = None, as_of: datetime | None = None) -> Mix:
        """Closed and pipeline by motion and deal size against the agreed mix."""
        moment = self.moment(as_of)
        chosen = self.period(period) if period else Period.containing(moment.date(), "quarter")
        return mix(self.store, moment, chosen, self.settings.values())

    def forecast(
        self,
        period: str | Period | None = None,
        as_of: datetime | None = None,
        *,
        reasons: bool = True,
        save: bool = False,
        now: datetime | None = None,
    ) -> PeriodForecast:
        """Every method's forecast of ``period`` (default: the quarter holding ``as_of``)
        made from the history as it stood at ``as_of`` (default: the data's moment), with
        the range, the chance of making the company target and the leader's latest call,
        and the range of each team, rep and motion against its target.
        ``save`` keeps it in the record of forecasts (the brief shows the latest)."""
        moment = self.moment(as_of)
        chosen = self.period(period) if period else Period.containing(moment.date(), "quarter")
        if chosen.kind not in PERIOD_KINDS:
            raise InputError(
                f"a forecast is made for a week, month, quarter or year, not {chosen.label}"
            )
        from quarterdeck.forecast import forecaster
        from quarterdeck.forecast.ladder import GROUPS
        from quarterdeck.forecast.saved import save_forecast

        goals = targets_by(self.store, chosen, (None, *GROUPS))
        target = goals[None].get(None)
        engine = forecaster(self.store, chosen.kind, until=moment)
        result = engine.forecast(
            chosen,
            moment,
            target=None if target is None else float(target),
            reasons=reasons,
            targets_by={by: {k: float(v) for k, v in goals[by].items()} for by in GROUPS},
        )
        if save:
            save_forecast(self.store, result, now)
        return result

    def backtest(
        self,
        kind: str = "quarter",
        periods: int = 8,
        *,
        named_only: bool = False,
        progress: Progress | None = None,
    ) -> Backtest:
        """Walk-forward backtest of every forecast method over the last ``periods``
        completed periods of ``kind`` (GLOSSARY: Backtest)."""
        from quarterdeck.forecast import forecaster
        from quarterdeck.forecast.backtest import backtest

        engine = forecaster(self.store, kind, draws=1000)

        def target(period: Period) -> float | None:
            value = targets_by(self.store, period, [None])[None].get(None)
            return None if value is None else float(value)

        return backtest(engine, periods, named_only=named_only, targets=target, progress=progress)

    def status(self) -> Status:
        store = self.store
        deals = store.table("deals")
        imports = store.table("imports")

        def count(name: str) -> int:
            return int(store.scalar(store.table(name).count()))

        won = store.scalar(deals.filter(deals.is_won).amount.sum())
        open_ = store.scalar(deals.filter(~deals.is_closed).amount.sum())
        last = store.scalar(imports.finished_at.max())
        return Status(
            database=store.location,
            schema_version=store.schema_version(),
            deals=count("deals"),
            deal_events=count("deal_events"),
            accounts=count("accounts"),
            users=count("users"),
            activities=count("activities"),
            targets=count("targets"),
            imports=count("imports"),
            won_amount=_money(won),
            open_amount=_money(open_),
            last_import=_datetime(last),
        )

    # -- meeting record -----------------------------------------------------------------

    def meeting(
        self, week: meeting_record.WeekLike = None, *, now: datetime | None = None
    ) -> meeting_record.Meeting:
        """The meeting of a week (a day in it or 2024-W27; default: the current meeting,
        which is next week's once this week's is held). Unsaved if nobody wrote to it."""
        return meeting_record.meeting(self.store, week, now)

    def agenda(
        self, week: meeting_record.WeekLike = None, *, now: datetime | None = None
    ) -> meeting_record.Agenda:
        """A meeting's agenda: open and carried items with their deals and updates since
        the last meeting, items closed since then, and the quarter's forecast calls.
        Reads only (see GLOSSARY: Meeting, Carried item)."""
        return meeting_record.agenda(self.store, week, now)

    def add_item(
        self,
        kind: str,
        title: str,
        *,
        by: str,
        owner: str | None = None,
        side: str | None = None,
        due: date | str | None = None,
        deals: Sequence[str] | str = (),
        metric: str | None = None,
        week: meeting_record.WeekLike = None,
        now: datetime | None = None,
    ) -> meeting_record.Item:
        """Raise a risk, initiative, issue or action in a meeting (default: the current
        one); linked deals must exist. Returns the item with its id (I-1, I-2, ...)."""
        request = meeting_record.NewItem(kind, title, owner, side, due, deals, metric, week)
        return meeting_record.add_item(self.store, request, by=by, now=now)

    def update_item(
        self,
        item_id: str,
        *,
        by: str,
        now: datetime | None = None,
        note: str | None = None,
        **changes: Any,
    ) -> meeting_record.ItemChange:
        """Change an item's kind, title, owner, side, status, due, deals or metric; each
        field that differs is recorded with who, when, the old and the new value."""
        return meeting_record.update_item(self.store, item_id, changes, by=by, now=now, note=note)

    def note_item(
        self, item_id: str, text: str, *, by: str, now: datetime | None = None
    ) -> meeting_record.ItemUpdate:
        """Record a progress note on an item."""
        return meeting_record.note_item(self.store, item_id, text, by=by, now=now)

    def close_item(
        self,
        item_id: str,
        status: str = "done",
        *,
        by: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> meeting_record.ItemChange:
        """Mark an open item done or dropped, with an optional note."""
        return meeting_record.close_item(self.store, item_id, status, by=by, note=note, now=now)

    def item(self, item_id: str, *, now: datetime | None = None) -> meeting_record.ItemView:
        """One item as it is now, with its linked deals and its whole history."""
        return meeting_record.item_view(self.store, item_id, now)

    def mark_held(
        self, week: meeting_record.WeekLike = None, *, now: datetime | None = None
    ) -> meeting_record.Meeting:
        """Mark a meeting (default: this week's) held now; its notes are frozen from then."""
        return meeting_record.mark_held(self.store, week, now)

    def set_notes(
        self,
        text: str,
        *,
        week: meeting_record.WeekLike = None,
        append: bool = False,
        now: datetime | None = None,
    ) -> meeting_record.Meeting:
        """Write a meeting's decisions and notes (default: this week's meeting), or add a
        line to them with ``append``; refused once the meeting is held."""
        return meeting_record.set_notes(self.store, week, text, now, append=append)

    def record_call(
        self,
        commit: Decimal | int | str,
        best_case: Decimal | int | str,
        *,
        by: str,
        period: str | Period | None = None,
        note: str | None = None,
        now: datetime | None = None,
    ) -> meeting_record.ForecastCall:
        """Record a forecast call for a period (default: the quarter of ``now``): commit
        and best case, both cumulative (closed won included), 0 <= commit <= best case."""
        request = meeting_record.NewCall(commit, best_case, period, note)
        return meeting_record.record_call(self.store, request, by=by, now=now)

    def calls(self, period: str | Period | None = None) -> meeting_record.ForecastCalls:
        """Forecast calls for a period (all when None) in time order, and the latest per
        period."""
        return meeting_record.calls(self.store, period)

    # -- end of meeting record ----------------------------------------------------------

    # -- settings and the brief -----------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The database's settings (risk thresholds, target mix...): read, set, unset."""
        return Settings(self.store)

    def brief(
        self,
        week: meeting_record.WeekLike = None,
        *,
        now: datetime | None = None,
        timings: dict[str, float] | None = None,
    ) -> Brief:
        """Every number of the weekly brief for the meeting of ``week`` (default: the
        current meeting), as metric results (see ``quarterdeck.report.brief``)."""
        return build_brief(self, week, now=now, timings=timings)

    def brief_document(self, brief: Brief) -> Document:
        """``brief`` laid out as a report Document, ready to render as HTML, Markdown, PDF
        or JSON (``quarterdeck.report.render``)."""
        return brief_document(self.store, brief)


def _money(value: object) -> Decimal:
    if value is None or (isinstance(value, float) and value != value):
        return Decimal("0.00")
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _datetime(value: object) -> datetime | None:
    if value is None or value != value:
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()  # type: ignore[no-any-return]
    return value if isinstance(value, datetime) else None
