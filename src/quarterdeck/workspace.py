"""The one entry point: everything the CLI, the web app and a notebook do goes through here."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quarterdeck import meeting as meeting_record
from quarterdeck import planning
from quarterdeck.access import audit as audit_log
from quarterdeck.access import logins as access_logins
from quarterdeck.access import sessions as access_sessions
from quarterdeck.access.audit import AuditedSettings, AuditEntry
from quarterdeck.access.logins import Login
from quarterdeck.access.roles import Viewer
from quarterdeck.access.scope import ViewerScope, item_visible, scope_for
from quarterdeck.access.sessions import Session
from quarterdeck.errors import InputError, NotAllowed
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
from quarterdeck.store import Store

if TYPE_CHECKING:
    from quarterdeck.browse import DealFilter, DealListing, DealRecord, ImportLine
    from quarterdeck.forecast import Backtest, PeriodForecast
    from quarterdeck.forecast.saved import SavedForecast

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
    """A Quarterdeck database and the jobs done on it.

    ``viewer`` is None for the whole database (the CLI, a notebook); a workspace from
    ``as_viewer`` sees and changes only what its viewer may (see ``quarterdeck.access``).
    """

    viewer: Viewer | None = None

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
        return run_import(self._writable("import"), request, progress)

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
            # A narrowed view's forecast is not the company's: only a full view saves one.
            save_forecast(self._writable("see_all"), result, now)
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
        store = self._writable("edit_items")
        if self.viewer is not None and not self.viewer.sees_all and owner is None:
            owner = self.viewer.user_id or self.viewer.email  # a rep's item is theirs
        request = meeting_record.NewItem(kind, title, owner, side, due, deals, metric, week)
        with store.transaction():
            self._check_item_scope(owner, deals)
            item = meeting_record.add_item(store, request, by=by, now=now)
            self._audit("item", item.item_id, "add", by, None, item.as_dict(), item.created_at)
        return item

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
        store = self._writable("edit_items")
        with store.transaction():
            before = self._visible_item(item_id)
            change = meeting_record.update_item(store, item_id, changes, by=by, now=now, note=note)
            self._audit_item_change(before, change, "update", by)
        return change

    def note_item(
        self, item_id: str, text: str, *, by: str, now: datetime | None = None
    ) -> meeting_record.ItemUpdate:
        """Record a progress note on an item."""
        store = self._writable("edit_items")
        with store.transaction():
            before = self._visible_item(item_id)
            update = meeting_record.note_item(store, item_id, text, by=by, now=now)
            after = before.as_dict() | {"note": update.new_value}
            self._audit("item", before.item_id, "note", by, before.as_dict(), after, update.at)
        return update

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
        store = self._writable("edit_items")
        with store.transaction():
            before = self._visible_item(item_id)
            change = meeting_record.close_item(store, item_id, status, by=by, note=note, now=now)
            self._audit_item_change(before, change, "close", by)
        return change

    def item(self, item_id: str, *, now: datetime | None = None) -> meeting_record.ItemView:
        """One item as it is now, with its linked deals and its whole history."""
        return meeting_record.item_view(self.store, item_id, now)

    def mark_held(
        self, week: meeting_record.WeekLike = None, *, now: datetime | None = None
    ) -> meeting_record.Meeting:
        """Mark a meeting (default: this week's) held now; its notes are frozen from then."""
        store = self._writable("hold_meeting")
        with store.transaction():
            before = meeting_record.meeting(store, meeting_record.week_of(week, now), now)
            held = meeting_record.mark_held(store, week, now)
            when = held.held_at
            self._audit(
                "meeting", held.meeting_id, "hold", None, before.as_dict(), held.as_dict(), when
            )
        return held

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
        store = self._writable("hold_meeting")
        with store.transaction():
            before = meeting_record.meeting(store, meeting_record.week_of(week, now), now)
            after = meeting_record.set_notes(store, week, text, now, append=append)
            self._audit(
                "meeting", after.meeting_id, "notes", None, before.as_dict(), after.as_dict(), now
            )
        return after

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
        store = self._writable("call_forecast")
        request = meeting_record.NewCall(commit, best_case, period, note)
        with store.transaction():
            call = meeting_record.record_call(store, request, by=by, now=now)
            self._audit("call", call.call_id, "record", by, None, call.as_dict(), call.called_at)
        return call

    def calls(self, period: str | Period | None = None) -> meeting_record.ForecastCalls:
        """Forecast calls for a period (all when None) in time order, and the latest per
        period."""
        return meeting_record.calls(self.store, period)

    # -- end of meeting record ----------------------------------------------------------

    # -- browsing (the web app's deal, pipeline and import pages) -------------------------

    def deals(self, request: DealFilter | None = None, limit: int | None = None) -> DealListing:
        """Deals by team, owner, segment, motion, stage, status or ids, largest first."""
        from quarterdeck.browse import LISTING_LIMIT, DealFilter, deal_listing

        return deal_listing(self.store, request or DealFilter(), limit or LISTING_LIMIT)

    def deal(self, deal_id: str) -> DealRecord:
        """One deal as it stands, with its whole history; NotFound if there is none."""
        from quarterdeck.browse import deal_record

        return deal_record(self.store, deal_id)

    def narrowed(self, request: DealFilter) -> Workspace:
        """This workspace with every report narrowed to the deals ``request`` keeps by
        team, rep, segment, motion and current stage (``browse.FilterScope``), within what
        the viewer, if any, may see."""
        from quarterdeck.browse import FilterScope

        view = copy.copy(self)
        view.store = self.store.unscoped.scoped(FilterScope(request.narrowing, self.store.scope))
        return view

    def deal_records(self, deal_ids: Sequence[str]) -> dict[str, DealRecord]:
        """The deals of ``deal_ids`` this workspace sees, each with its whole history, read
        at once (unknown or unseen ids are left out)."""
        from quarterdeck.browse import deal_records

        return deal_records(self.store, deal_ids)

    def imports(self, limit: int = 100) -> tuple[ImportLine, ...]:
        """The import log, newest first."""
        from quarterdeck.browse import import_log

        return import_log(self.store, limit)

    def latest_forecast(
        self, period: str | Period | None = None, as_of: datetime | None = None
    ) -> SavedForecast | None:
        """The latest saved forecast of ``period`` (default: the current quarter) made from
        data no later than ``as_of`` (default: the data's moment); None if none was saved."""
        from quarterdeck.forecast.saved import latest_forecast

        moment = self.moment(as_of)
        chosen = self.period(period) if period else Period.containing(moment.date(), "quarter")
        return latest_forecast(self.store, chosen, moment)

    # -- settings and the brief -----------------------------------------------------------

    @property
    def settings(self) -> AuditedSettings:
        """The database's settings (risk thresholds, target mix...): read, set, unset;
        every change is audited (and needs ``edit_settings`` in a viewer's workspace)."""
        return AuditedSettings(self.store, self.viewer)

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

    # -- access -------------------------------------------------------------------------
    # Logins, sessions, the viewer's view of the data, targets and the audit log
    # (quarterdeck.access). A workspace made by ``as_viewer`` reads through a scoped store
    # and writes through the whole one, once ``_writable`` found the action allowed.

    def as_viewer(self, viewer: Viewer) -> Workspace:
        """The same database seen through ``viewer``'s eyes: every read narrowed to what
        the viewer may see (``quarterdeck.access.scope``), every change checked against
        the viewer's role and audited under the viewer's email. Cheap: one read of
        ``users``; the connection is shared (closing the view leaves it open)."""
        if not isinstance(viewer, Viewer):
            raise InputError(f"as_viewer needs a Viewer, not {viewer!r}")
        whole = self.store.unscoped
        view = copy.copy(self)
        view.store = whole.scoped(scope_for(whole, viewer))
        view.viewer = viewer
        return view

    def _writable(self, action: str) -> Store:
        """The whole store, to write through, once the viewer (if any) may do ``action``."""
        if self.viewer is not None:
            self.viewer.require(action)
        return self.store.unscoped

    def _who(self, by: str | None) -> str:
        """Who the audit log names: the viewer's email, else ``by`` (or the OS user)."""
        if self.viewer is not None:
            return self.viewer.who
        return audit_log.local_user(by)

    def _audit(
        self,
        kind: str,
        object_id: str | None,
        action: str,
        by: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        at: datetime | None,
    ) -> None:
        audit_log.record(
            self.store.unscoped,
            kind,
            object_id,
            action,
            who=self._who(by),
            before=before,
            after=after,
            at=at,
        )

    def _scope(self) -> ViewerScope | None:
        """The narrowing scope of a rep's or manager's view, else None."""
        scope = self.store.scope
        if isinstance(scope, ViewerScope) and not scope.viewer.sees_all:
            return scope
        return None

    def _visible_item(self, item_id: str) -> meeting_record.Item:
        """The item as it is, if the viewer sees it (else the same error as no item)."""
        return meeting_record.items.load_item(self.store, item_id)

    def _check_item_scope(self, owner: str | None, deals: Sequence[str] | str) -> None:
        """Refuse an item a rep or manager could not see: linked deals outside their
        deals read as unknown (ids cannot be probed), and the item must be theirs or be
        about their deals."""
        scope = self._scope()
        if scope is None:
            return
        ids = meeting_record.items._deal_ids(deals)
        table = self.store.table("deals")
        linked = table.filter(table.deal_id.isin(list(ids) or [""])).select("deal_id")
        found = {r["deal_id"] for r in self.store.to_arrow(linked).to_pylist()}
        unknown = [d for d in ids if d not in found]
        if unknown:
            names = ", ".join(repr(d) for d in unknown)
            noun = "deal" if len(unknown) == 1 else "deals"
            raise InputError(f"unknown {noun} {names}: no deal with that id in the database")
        if not item_visible(owner, ids, scope.people, found):
            raise NotAllowed(
                f"a {scope.viewer.role} may raise or change items that are theirs or about "
                "their deals only",
                action="edit_items",
            )

    def _audit_item_change(
        self,
        before: meeting_record.Item,
        change: meeting_record.ItemChange,
        action: str,
        by: str,
    ) -> None:
        if not change.updates:
            return
        item = change.item
        if self._scope() is not None:
            self._check_item_scope(item.owner, item.deal_ids)
        after = item.as_dict()
        notes = [u.new_value for u in change.updates if u.is_note]
        if notes:
            after["note"] = notes[-1]
        self._audit("item", item.item_id, action, by, before.as_dict(), after, item.updated_at)

    # logins

    def add_login(
        self,
        email: str,
        password: str,
        role: str,
        *,
        user_id: str | None = None,
        name: str | None = None,
        by: str,
        now: datetime | None = None,
    ) -> Login:
        """Add a login (admin only in a viewer's workspace); the password (at least 10
        characters) is kept as an argon2 hash. A rep or manager needs its CRM user id."""
        store = self._writable("manage_users")
        return access_logins.add_login(
            store, email, password, role, user_id=user_id, name=name, by=self._who(by), now=now
        )

    def logins(self) -> list[Login]:
        """Every login, by email (admin only in a viewer's workspace)."""
        return access_logins.logins(self._writable("manage_users"))

    def change_stamp(self) -> tuple[int, int, int, int]:
        """Marks that move whenever anyone, in any process, changes the database: the last
        audited change of the meeting record (items, calls, meetings), the last audited
        change of what figures rest on (targets, settings, logins), the last import, and
        the number of saved forecasts. Cheap: four aggregates of small tables."""
        store = self.store.unscoped
        audit = store.table("audit_log")
        record = audit.kind.isin(["item", "call", "meeting"])
        row = store.to_arrow(
            audit.aggregate(record=audit.seq.max(where=record), data=audit.seq.max(where=~record))
            .cross_join(store.table("imports").aggregate(imports=lambda t: t.import_id.max()))
            .cross_join(store.table("forecasts").aggregate(forecasts=lambda t: t.count()))
        ).to_pylist()[0]
        return tuple(int(row[k] or 0) for k in ("record", "data", "imports", "forecasts"))  # type: ignore[return-value]

    def viewers(self) -> list[Viewer]:
        """The viewer of every enabled login, most recently logged in first (for work
        done ahead of them, such as preparing each one's meeting; admin only in a
        viewer's workspace)."""
        store = self._writable("manage_users")
        found = [x for x in access_logins.logins(store) if not x.disabled]
        found.sort(key=lambda x: x.last_login_at or datetime.min, reverse=True)
        return [access_logins.viewer_of(store, x) for x in found]

    def update_login(
        self,
        email: str,
        *,
        role: str | None = None,
        user_id: str | None = None,
        name: str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
        by: str,
        now: datetime | None = None,
    ) -> Login:
        """Change a login's role, CRM user, name, password or disabled flag (admin only in
        a viewer's workspace). Disabling it or changing its password ends its sessions."""
        store = self._writable("manage_users")
        return access_logins.update_login(
            store,
            email,
            role=role,
            user_id=user_id,
            name=name,
            password=password,
            disabled=disabled,
            by=self._who(by),
            now=now,
        )

    def log_in(
        self, email: str, password: str, *, client: str = "", now: datetime | None = None
    ) -> Viewer:
        """The viewer whose email and password these are; LoginRefused (one message for
        any mistake) otherwise, or while the email or the client is locked out after too
        many failures (``quarterdeck.access.logins``)."""
        return access_logins.log_in(self.store.unscoped, email, password, client=client, now=now)

    def open_session(self, viewer: Viewer, *, now: datetime | None = None) -> Session:
        """A new session for ``viewer``: its token (kept only hashed), CSRF token, expiry."""
        return access_sessions.open_session(self.store.unscoped, viewer, now)

    def session(self, token: str, *, now: datetime | None = None) -> tuple[Viewer, Session] | None:
        """The viewer and session of a session token, or None if unknown or ended."""
        return access_sessions.session(self.store.unscoped, token, now)

    def close_session(self, token: str, *, now: datetime | None = None) -> None:
        """End the session of ``token`` (log-out)."""
        access_sessions.close_session(self.store.unscoped, token, now)

    # targets and the audit log

    def set_target(
        self,
        period: str | Period,
        amount: Decimal | int | str | None,
        *,
        scope: str = "company",
        scope_id: str = "",
        by: str,
        now: datetime | None = None,
    ) -> planning.TargetLine | None:
        """Set (None: remove) the target of ``period`` for the company or a team, rep,
        segment or motion; audited. Returns the target as set."""
        store = self._writable("edit_settings")
        chosen = self.period(period)
        with store.transaction():
            before, after = planning.set_target(
                store, chosen, amount, scope=scope, scope_id=scope_id
            )
            if before != after:
                line = after or before
                assert line is not None
                self._audit(
                    "target",
                    line.key,
                    "set" if after is not None else "unset",
                    by,
                    None if before is None else before.as_dict(),
                    None if after is None else after.as_dict(),
                    now,
                )
        return after

    def targets(self, period: str | Period | None = None) -> list[planning.TargetLine]:
        """The targets the viewer sees (inside ``period`` when given)."""
        chosen = None if period is None else self.period(period)
        return planning.targets(self.store, chosen)

    def audit(self, limit: int = 100, kind: str | None = None) -> list[AuditEntry]:
        """The latest changes (of one ``kind``: item, call, meeting, target, setting,
        login), newest first. A rep or manager sees none."""
        return audit_log.entries(self.store, limit, kind)


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
