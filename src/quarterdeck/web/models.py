"""The JSON the API answers with, as pydantic models, so ``/openapi.json`` describes it.

Money is a string of the exact decimal (``"1234.50"``), as in the brief's JSON; dates and
times are ISO 8601. The builders here turn the Workspace's results into these models.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from quarterdeck.access import Viewer
    from quarterdeck.browse import DealEvent, DealLine, ImportLine
    from quarterdeck.meeting import ForecastCall, ItemView
    from quarterdeck.metrics.attainment import GoalLine

__all__ = [
    "CallOut",
    "DealOut",
    "DealPageOut",
    "DealsOut",
    "DrillOut",
    "EventOut",
    "ForecastOut",
    "GoalOut",
    "ImportOut",
    "ImportsOut",
    "ItemOut",
    "MeetingOut",
    "SessionOut",
    "ViewerOut",
]


def money(value: Decimal | float | int | None) -> str | None:
    """Money as the string of its exact value to the cent (None stays None)."""
    if value is None:
        return None
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def ratio(value: Decimal | float | None) -> str | None:
    return None if value is None else str(value)


class ViewerOut(BaseModel):
    email: str
    name: str
    role: str
    user_id: str | None
    team: str | None
    sees_all: bool
    can: list[str] = Field(description="The actions this login's role allows.")


def viewer_out(viewer: Viewer) -> ViewerOut:
    from quarterdeck.access.roles import ACTIONS

    return ViewerOut(
        email=viewer.email,
        name=viewer.name,
        role=viewer.role,
        user_id=viewer.user_id,
        team=viewer.team,
        sees_all=viewer.sees_all,
        can=[a for a in ACTIONS if viewer.can(a)],
    )


class SessionOut(BaseModel):
    viewer: ViewerOut
    csrf: str = Field(description="Send back in the X-CSRF-Token header of every write.")


class GoalOut(BaseModel):
    """Revenue vs goal of the company for the period: closed won against target."""

    period: str
    as_of: datetime
    bookings: str
    won_count: int
    target: str | None
    gap: str | None
    attainment: str | None = Field(description="bookings / target, a ratio")
    expected_to_date: str | None = Field(description="straight-line pace to the target by now")
    pace: str | None = Field(description="bookings / expected_to_date, a ratio")
    projection: str
    pipeline: str
    pipeline_count: int
    coverage: str | None
    days_left: int
    weeks_left: int


def goal_out(period: str, as_of: datetime, line: GoalLine, days: int, weeks: int) -> GoalOut:
    return GoalOut(
        period=period,
        as_of=as_of,
        bookings=money(line.bookings) or "0.00",
        won_count=line.won_count,
        target=money(line.target),
        gap=money(line.gap),
        attainment=ratio(line.attainment),
        expected_to_date=money(line.expected_to_date),
        pace=ratio(line.pace),
        projection=money(line.usual_projection or line.straight_line_projection) or "0.00",
        pipeline=money(line.pipeline) or "0.00",
        pipeline_count=line.pipeline_count,
        coverage=ratio(line.coverage),
        days_left=days,
        weeks_left=weeks,
    )


class ItemOut(BaseModel):
    """A meeting item as the agenda shows it."""

    item_id: str
    kind: str
    title: str
    status: str
    owner: str | None
    side: str | None
    due: date | None
    deals: list[str]
    metric: str | None
    meeting_id: str
    carried: bool
    overdue: bool
    last_update: str | None


def item_out(view: ItemView) -> ItemOut:
    item = view.item
    return ItemOut(
        item_id=item.item_id,
        kind=item.kind,
        title=item.title,
        status=item.status,
        owner=item.owner,
        side=item.side,
        due=item.due,
        deals=list(item.deal_ids),
        metric=item.metric,
        meeting_id=item.meeting_id,
        carried=view.carried,
        overdue=view.overdue,
        last_update=view.last_update.sentence() if view.last_update else None,
    )


class CallOut(BaseModel):
    call_id: str
    by: str | None
    called_at: datetime
    period: str
    commit: str
    best_case: str
    note: str | None


def call_out(call: ForecastCall) -> CallOut:
    return CallOut(
        call_id=call.call_id,
        by=call.by,
        called_at=call.called_at,
        period=call.period.label,
        commit=money(call.commit) or "0.00",
        best_case=money(call.best_case) or "0.00",
        note=call.note,
    )


class MeetingOut(BaseModel):
    """The meeting of a week: the brief's numbers, live, and the record."""

    week: str
    period: str
    as_of: datetime
    data_as_of: datetime | None
    held_at: datetime | None
    notes: str | None
    editable: bool = Field(description="False once the week's meeting is held (read-only).")
    goal: GoalOut
    big_deals_won: int
    big_deals_closing: int
    risk_count: int
    value_at_risk: str
    items: list[ItemOut]
    closed_since_last_meeting: list[ItemOut]
    calls: list[CallOut]
    brief: dict[str, Any] = Field(
        description="The whole brief, as `quarterdeck brief --format json`."
    )


class DrillDeal(BaseModel):
    deal_id: str
    name: str | None
    account: str | None
    owner: str | None
    stage: str | None
    amount: str | None
    close_date: date | None
    note: str | None


class DrillOut(BaseModel):
    """The deals behind one number of the meeting page."""

    title: str
    week: str
    deals: list[DrillDeal]
    more: int = Field(description="Deals of the number not listed (the largest are).")


class DealOut(BaseModel):
    deal_id: str
    name: str | None
    account_id: str | None
    account: str | None
    segment: str | None
    owner_id: str | None
    owner: str | None
    team: str | None
    motion: str | None
    stage: str | None
    forecast_category: str | None
    amount: str | None
    close_date: date | None
    created_at: datetime | None
    status: str


def deal_out(deal: DealLine) -> DealOut:
    return DealOut(
        deal_id=deal.deal_id,
        name=deal.name,
        account_id=deal.account_id,
        account=deal.account,
        segment=deal.segment,
        owner_id=deal.owner_id,
        owner=deal.owner,
        team=deal.team,
        motion=deal.motion,
        stage=deal.stage,
        forecast_category=deal.forecast_category,
        amount=money(deal.amount),
        close_date=deal.close_date,
        created_at=deal.created_at,
        status=deal.status,
    )


class DealsOut(BaseModel):
    """Deals kept by the filters, largest first (``total`` counts all of them)."""

    filters: dict[str, str | None]
    total: int
    amount: str
    deals: list[DealOut]
    choices: dict[str, list[str]]


class EventOut(BaseModel):
    at: datetime
    field: str
    old_value: str | None
    new_value: str | None
    origin: str | None


def event_out(event: DealEvent) -> EventOut:
    return EventOut(
        at=event.at,
        field=event.field,
        old_value=event.old_value,
        new_value=event.new_value,
        origin=event.origin,
    )


class DealPageOut(BaseModel):
    deal: DealOut
    loss_reason: str | None
    source: str | None
    product: str | None
    history: list[EventOut]


class RangeOut(BaseModel):
    method: str
    made_at: datetime
    created_at: datetime | None
    p10: str | None
    p50: str | None
    p90: str | None
    target: str | None
    chance_of_target: str | None = Field(description="Probability of making the target, 0 to 1.")
    closed_won: str | None
    note: str | None


class CallScore(BaseModel):
    call: CallOut
    actual: str | None = Field(description="Closed won in the period (so far, if not over).")
    complete: bool
    commit_error: str | None = Field(description="(actual - commit) / actual, once complete.")


class ForecastOut(BaseModel):
    period: str
    latest: RangeOut | None
    calls: list[CallScore]
    computing: bool


class ImportOut(BaseModel):
    import_id: int
    format: str | None
    files: list[str]
    as_of: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    warnings: int
    events_added: int
    has_rejects: bool


def import_out(line: ImportLine) -> ImportOut:
    return ImportOut(
        import_id=line.import_id,
        format=line.format,
        files=[f.rsplit("/", 1)[-1] for f in line.files],
        as_of=line.as_of,
        started_at=line.started_at,
        finished_at=line.finished_at,
        rows_read=line.rows_read,
        rows_accepted=line.rows_accepted,
        rows_rejected=line.rows_rejected,
        warnings=line.warnings,
        events_added=line.events_added,
        has_rejects=bool(line.rejects_path),
    )


class JobOut(BaseModel):
    """An upload being imported in the background, or its outcome."""

    job_id: str
    state: str = Field(description="running, done or failed")
    step: str
    fraction: float
    message: str | None
    import_id: int | None
    rows_read: int | None
    rows_accepted: int | None
    rows_rejected: int | None
    notices: list[str]
    skipped: str | None


class ImportsOut(BaseModel):
    imports: list[ImportOut]
    jobs: list[JobOut]
