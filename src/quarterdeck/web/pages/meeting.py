"""The weekly meeting: the five agenda points of the brief, live, with the record.

``/meeting?week=2024-W27`` (default: the current meeting) shows the brief of that week laid
out from the same Document the downloads are rendered from, every number linked to its
deals (``/meeting/drill``), the items of each point changed in place (HTMX partials), the
leader's forecast call, the notes, and "mark held". A held week is read-only: its page
shows the record as it stood when held, and writes go to the next meeting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from markupsafe import Markup
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from quarterdeck.access import Viewer
from quarterdeck.browse import NARROWING
from quarterdeck.errors import InputError, NotFound
from quarterdeck.meeting import KINDS, ItemView, week_of
from quarterdeck.report import charts as svg_charts
from quarterdeck.report.brief import Brief
from quarterdeck.report.document import (
    BarChart,
    Document,
    ItemList,
    Linked,
    MixChart,
    PaceChart,
    WaterfallChart,
)
from quarterdeck.web.charts import pace_spec, waterfall_spec
from quarterdeck.web.context import Asker, asker, render, writer
from quarterdeck.web.hub import Hub
from quarterdeck.web.models import (
    CallOut,
    DrillDeal,
    DrillOut,
    ItemOut,
    MeetingOut,
    call_out,
    goal_out,
    item_out,
    money,
)
from quarterdeck.web.pages.deals import FilterQuery
from quarterdeck.web.security import DOCUMENT_CSP

__all__ = ["router"]

router = APIRouter()

WeekQuery = Annotated[
    str | None,
    Query(max_length=20, description="A day in the week (YYYY-MM-DD) or 2024-W27."),
]
LIVE_KINDS = {"risks": "risk", "initiatives": "initiative", "issues": "issue", "record": "action"}
"""The brief's sections whose items the page shows live, and the kind of item each holds."""


@dataclass(frozen=True)
class Shown:
    """One week's meeting as the page shows it: the brief, its Document, and whether it
    can still be written to."""

    brief: Brief
    document: Document
    current: str

    @property
    def week(self) -> str:
        return self.brief.week.label

    @property
    def editable(self) -> bool:
        return self.brief.agenda.meeting.held_at is None and self.week >= self.current


def _week(week: str | None) -> str | None:
    return None if not week else week_of(week).label


def figures(hub: Hub, viewer: Viewer, week: str | None) -> tuple[str, str, Brief]:
    """The current meeting's week, the week shown, and the brief's figures for it as
    ``viewer`` sees them: a shared read of the deal data (everyone who sees the same deals
    shares them, and a change of the meeting record keeps them)."""
    current: str = hub.read(
        viewer,
        "current meeting",
        None,
        lambda ws: ws.meeting().meeting_id,
        depends=("meetings",),
    )
    label = _week(week) or current
    brief: Brief = hub.read(viewer, "brief figures", label, lambda ws: ws.brief(label), shared=True)
    return current, label, brief


def shown(who: Asker, week: str | None) -> Shown:
    """The meeting of ``week`` for this viewer (:func:`meeting_of`)."""
    return meeting_of(who.hub, who.viewer, week)


def meeting_of(hub: Hub, viewer: Viewer, week: str | None) -> Shown:
    """The meeting of ``week`` as ``viewer`` sees it: the brief's figures (:func:`figures`)
    with the viewer's own agenda, read afresh after every change of the record."""
    current, label, brief = figures(hub, viewer, week)

    def build(ws: Any) -> Shown:
        mine = replace(brief, agenda=ws.agenda(label))
        return Shown(mine, ws.brief_document(mine), current)

    result: Shown = hub.read(viewer, "meeting", label, build)
    return result


def prepare(hub: Hub, viewer: Viewer) -> None:
    """What a login opens first, computed ahead: this week's meeting."""
    meeting_of(hub, viewer, None)


def view_of(who: Asker, week: str | None, query: FilterQuery | None = None) -> Shown:
    """The meeting of ``week`` with its figures narrowed to the deals the pipeline's filters
    keep (``Workspace.narrowed``); the meeting itself when they keep every deal. Kept until
    the deal data changes: the pipeline page shows only the figures of it."""
    narrowing = query.filter.narrowing if query is not None else None
    if narrowing is None or not narrowing.narrows:
        return shown(who, week)
    current, label, _ = figures(who.hub, who.viewer, week)

    def build(ws: Any) -> Shown:
        part = ws.narrowed(narrowing)
        brief = part.brief(label)
        return Shown(brief, part.brief_document(brief), current)

    result: Shown = who.read("narrowed meeting", (label, narrowing), build, depends=())
    return result


def narrowing_query(query: FilterQuery | None) -> str:
    """The filters that narrow the figures, as a query string to carry on links ('' for
    none), so a chart or a drill-down shows the numbers of the page it came from."""
    if query is None:
        return ""
    f = query.filter.narrowing
    return "".join(f"&{name}={quote(getattr(f, name))}" for name in NARROWING if getattr(f, name))


def href_of(document: Document, week: str, narrowing: str = "") -> Any:
    """Where a number of the page links: one deal to its page, several to the drill-down
    (with the page's filters, ``narrowing_query``)."""

    def href(linked: Linked) -> str | None:
        link = document.link(linked)
        if link is None:
            return None
        if link.group is None:
            return f"/deals/{link.ref}"
        return f"/meeting/drill?week={week}&ref={link.ref}{narrowing}"

    return href


def _chart(document: Document, section: str, n: int) -> Any:
    for s in document.sections:
        if s.id == section and 0 <= n < len(s.blocks):
            return s.blocks[n]
    raise NotFound(f"no chart {section}/{n} in this brief")


@router.get("/meeting", include_in_schema=False)
def meeting_page(
    request: Request, who: Annotated[Asker, Depends(asker)], week: WeekQuery = None
) -> Response:
    view = shown(who, week)
    href = href_of(view.document, view.week)

    def figure(block: Any, section: str, n: int) -> Markup | str:
        if isinstance(block, PaceChart | WaterfallChart):
            return f"/api/meeting/chart?week={view.week}&section={section}&n={n}"
        return Markup(svg_charts.svg(block, href))

    return render(
        request,
        "meeting.html.j2",
        who,
        view=view,
        doc=view.document,
        href=href,
        figure=figure,
        is_chart=lambda b: isinstance(b, BarChart | WaterfallChart | PaceChart | MixChart),
        is_vega=lambda b: isinstance(b, PaceChart | WaterfallChart),
        is_items=lambda b: isinstance(b, ItemList),
        live=LIVE_KINDS,
        panel=lambda kind: _panel_context(who, view, kind),
        kinds=KINDS,
    )


def _panel_context(who: Asker, view: Shown, kind: str) -> dict[str, Any]:
    agenda = view.brief.agenda
    items: tuple[ItemView, ...] = agenda.of_kind(kind)
    closed = tuple(v for v in agenda.closed if v.item.kind == kind)
    return {
        "kind": kind,
        "items": items,
        "closed": closed,
        "week": view.week,
        "editable": view.editable and who.viewer.can("edit_items"),
        "names": view.brief.names,
        "risk_deals": [d.deal_id for d in view.brief.risks.deals[:15]] if kind == "risk" else [],
    }


@router.get("/meeting/items/{kind}", include_in_schema=False)
def items_panel(
    request: Request, kind: str, who: Annotated[Asker, Depends(asker)], week: WeekQuery = None
) -> Response:
    if kind not in KINDS:
        raise NotFound(f"no item kind {kind!r}")
    view = shown(who, week)
    return render(request, "items.html.j2", who, ctx=_panel_context(who, view, kind))


@router.get("/api/meeting", response_model=MeetingOut, tags=["meeting"])
def meeting_api(who: Annotated[Asker, Depends(asker)], week: WeekQuery = None) -> MeetingOut:
    """The meeting of a week (default: the current one): the brief's numbers and the record."""
    view = shown(who, week)
    b = view.brief
    goal = b.goal
    return MeetingOut(
        week=view.week,
        period=b.period.label,
        as_of=b.as_of,
        data_as_of=b.data_as_of,
        held_at=b.agenda.meeting.held_at,
        notes=b.agenda.meeting.notes,
        editable=view.editable,
        goal=goal_out(b.period.label, b.as_of, goal.total, goal.days_left, goal.weeks_left),
        big_deals_won=len(b.big.won.deals),
        big_deals_closing=len(b.big.closing.deals),
        risk_count=b.risks.count,
        value_at_risk=money(b.risks.value) or "0.00",
        items=[item_out(v) for v in b.agenda.open],
        closed_since_last_meeting=[item_out(v) for v in b.agenda.closed],
        calls=[call_out(c) for c in b.agenda.calls],
        brief=view.document.as_dict(),
    )


@router.get("/api/meeting/chart", tags=["meeting"])
def chart_api(
    who: Annotated[Asker, Depends(asker)],
    section: Annotated[str, Query(max_length=40)],
    n: Annotated[int, Query(ge=0, le=100)],
    query: Annotated[FilterQuery, Depends()],
    week: WeekQuery = None,
) -> dict[str, Any]:
    """A chart of the meeting page as a Vega-Lite spec (marks link to their deals); with
    the pipeline's filters, of its figures narrowed to the deals they keep."""
    view = view_of(who, week, query)
    block = _chart(view.document, section, n)
    href = href_of(view.document, view.week, narrowing_query(query))
    if isinstance(block, PaceChart):
        return pace_spec(block, href)
    if isinstance(block, WaterfallChart):
        return waterfall_spec(block, href)
    raise NotFound(f"block {section}/{n} is not a chart drawn with Vega-Lite")


def drill(who: Asker, week: str | None, ref: str, query: FilterQuery | None = None) -> DrillOut:
    """The deals behind a number: ``won`` (every deal won in the period so far),
    ``pipeline`` (every open deal due in it) or a group of the brief (G1, G2...); with
    the pipeline's filters, of the figures narrowed to the deals they keep."""
    view = view_of(who, week, query)
    goal = view.brief.goal
    names = view.brief.names
    if ref in ("won", "pipeline"):
        deals = goal.won_deals if ref == "won" else goal.pipeline_deals
        title = (
            f"Won in {goal.period.label} so far"
            if ref == "won"
            else f"Open and due in {goal.period.label}"
        )
        rows = [
            DrillDeal(
                deal_id=d.deal_id,
                name=d.name,
                account=None,
                owner=names.get(d.owner_id or "", d.owner_id),
                stage=d.stage,
                amount=money(d.amount),
                close_date=d.close_date,
                note=d.status,
            )
            for d in deals
        ]
        return DrillOut(title=title, week=view.week, deals=rows, more=0)
    for label, group in view.document.groups:
        if label == ref:
            listed = [view.document.deal(i) for i in group.deal_ids]
            rows = [
                DrillDeal(
                    deal_id=d.deal_id,
                    name=d.name,
                    account=d.account or None,
                    owner=d.owner or None,
                    stage=d.stage or None,
                    amount=money(d.amount),
                    close_date=d.close_date,
                    note=d.note or None,
                )
                for d in listed
            ]
            return DrillOut(title=group.title, week=view.week, deals=rows, more=group.more)
    raise NotFound(f"no number {ref!r} in the brief of {view.week}")


@router.get("/meeting/drill", include_in_schema=False)
def drill_page(
    request: Request,
    who: Annotated[Asker, Depends(asker)],
    ref: Annotated[str, Query(max_length=40)],
    query: Annotated[FilterQuery, Depends()],
    week: WeekQuery = None,
) -> Response:
    return render(request, "drill.html.j2", who, drill=drill(who, week, ref, query))


@router.get("/api/meeting/drill", response_model=DrillOut, tags=["meeting"])
def drill_api(
    who: Annotated[Asker, Depends(asker)],
    ref: Annotated[str, Query(max_length=40, description="won, pipeline, or G1, G2...")],
    query: Annotated[FilterQuery, Depends()],
    week: WeekQuery = None,
) -> DrillOut:
    """The deals behind one number of the meeting page (or of the pipeline page, with its
    filters)."""
    return drill(who, week, ref, query)


# -- downloads --------------------------------------------------------------------------------


@router.get("/meeting/brief.{fmt}", tags=["meeting"])
def brief_download(
    who: Annotated[Asker, Depends(asker)], fmt: Literal["html", "md", "pdf"], week: WeekQuery = None
) -> Response:
    """The week's brief as a file: HTML, Markdown or PDF (PDF needs the ``pdf`` extra)."""
    from quarterdeck.report import render as render_document

    view = shown(who, week)
    content = render_document(view.document, fmt)
    media = {"html": "text/html", "md": "text/markdown", "pdf": "application/pdf"}[fmt]
    name = f"brief-{view.week}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "html":
        headers["Content-Security-Policy"] = DOCUMENT_CSP
    body = content if isinstance(content, bytes) else content.encode("utf-8")
    return Response(
        body, media_type=f"{media}; charset=utf-8" if fmt != "pdf" else media, headers=headers
    )


# -- writes ----------------------------------------------------------------------------------


class NewItemIn(BaseModel):
    kind: Literal["risk", "initiative", "issue", "action"]
    title: str = Field(min_length=1, max_length=500)
    owner: str | None = Field(default=None, max_length=200)
    side: Literal["ceo", "leader"] | None = None
    due: date | None = None
    deals: list[str] = Field(default_factory=list, max_length=100)
    metric: str | None = Field(default=None, max_length=500)


class ItemChangeIn(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    owner: str | None = Field(default=None, max_length=200)
    status: Literal["open", "done", "dropped"] | None = None
    due: date | None = None
    metric: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=2000)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class CallIn(BaseModel):
    commit: Decimal = Field(ge=0, le=Decimal("1e15"))
    best_case: Decimal = Field(ge=0, le=Decimal("1e15"))
    period: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=2000)


class HeldIn(BaseModel):
    week: str | None = Field(default=None, max_length=20)


class NotesIn(BaseModel):
    text: str = Field(min_length=1, max_length=20000)
    week: str | None = Field(default=None, max_length=20)


def _item_view(who: Asker, item_id: str) -> ItemOut:
    return item_out(who.read("item", item_id, lambda ws: ws.item(item_id)))


def add_item(who: Asker, body: NewItemIn) -> str:
    who.require("edit_items")
    item = who.write(
        lambda ws: ws.add_item(
            body.kind,
            body.title,
            by=who.by,
            owner=body.owner or None,
            side=body.side,
            due=body.due,
            deals=[d.strip() for d in body.deals if d.strip()],
            metric=body.metric or None,
        ),
        touches="items",
    )
    return str(item.item_id)


def change_item(who: Asker, item_id: str, body: ItemChangeIn) -> None:
    who.require("edit_items")
    changes = {
        k: v
        for k, v in body.model_dump(exclude={"note"}).items()
        if v is not None and k in body.model_fields_set
    }
    if body.status in ("done", "dropped"):
        changes.pop("status")
        if changes:
            who.write(lambda ws: ws.update_item(item_id, by=who.by, **changes), touches="items")
        who.write(
            lambda ws: ws.close_item(item_id, body.status, by=who.by, note=body.note),
            touches="items",
        )
        return
    if not changes and body.note:
        who.write(lambda ws: ws.note_item(item_id, body.note, by=who.by), touches="items")
        return
    if not changes:
        raise InputError("nothing to change: give a title, owner, status, due date or note")
    who.write(
        lambda ws: ws.update_item(item_id, by=who.by, note=body.note, **changes), touches="items"
    )


def note_item(who: Asker, item_id: str, body: NoteIn) -> None:
    who.require("edit_items")
    who.write(lambda ws: ws.note_item(item_id, body.text, by=who.by), touches="items")


def record_call(who: Asker, body: CallIn) -> CallOut:
    who.require("call_forecast")
    call = who.write(
        lambda ws: ws.record_call(
            body.commit, body.best_case, by=who.by, period=body.period or None, note=body.note
        ),
        touches="calls",
    )
    return call_out(call)


def mark_held(who: Asker, week: str | None) -> str:
    who.require("hold_meeting")
    held = who.write(lambda ws: ws.mark_held(_week(week)), touches="meetings")
    return str(held.meeting_id)


def set_notes(who: Asker, body: NotesIn) -> None:
    who.require("hold_meeting")
    who.write(lambda ws: ws.set_notes(body.text, week=_week(body.week)), touches="meetings")


@router.post("/api/meeting/items", response_model=ItemOut, status_code=201, tags=["meeting"])
def add_item_api(who: Annotated[Asker, Depends(writer)], body: NewItemIn) -> ItemOut:
    """Raise a risk mitigation, initiative, issue or action in the current meeting."""
    return _item_view(who, add_item(who, body))


@router.post("/api/meeting/items/{item_id}", response_model=ItemOut, tags=["meeting"])
def change_item_api(
    who: Annotated[Asker, Depends(writer)], item_id: str, body: ItemChangeIn
) -> ItemOut:
    """Change an item (title, owner, due, metric), close it (status done or dropped), or add
    a note; every change is kept in the item's history."""
    change_item(who, item_id, body)
    return _item_view(who, item_id)


@router.post("/api/meeting/items/{item_id}/notes", response_model=ItemOut, tags=["meeting"])
def note_item_api(who: Annotated[Asker, Depends(writer)], item_id: str, body: NoteIn) -> ItemOut:
    """Record a progress note on an item."""
    note_item(who, item_id, body)
    return _item_view(who, item_id)


@router.post("/api/meeting/calls", response_model=CallOut, status_code=201, tags=["meeting"])
def call_api(who: Annotated[Asker, Depends(writer)], body: CallIn) -> CallOut:
    """The sales leader's forecast call: commit and best case (cumulative, closed won
    included) for a period (default: the current quarter)."""
    return record_call(who, body)


@router.post("/api/meeting/held", tags=["meeting"])
def held_api(who: Annotated[Asker, Depends(writer)], body: HeldIn) -> dict[str, str]:
    """Mark a week's meeting (default: the current one) held: its record is frozen."""
    return {"meeting_id": mark_held(who, body.week)}


@router.post("/api/meeting/notes", status_code=204, tags=["meeting"])
def notes_api(who: Annotated[Asker, Depends(writer)], body: NotesIn) -> Response:
    """Write the decisions and notes of a meeting (refused once it is held)."""
    set_notes(who, body)
    return Response(status_code=204)


# -- the page's forms (HTMX swaps the item panel; without HTMX, back to the page) ---------------


def _after(request: Request, who: Asker, kind: str | None, week: str | None) -> Response:
    if kind and request.headers.get("hx-request"):
        view = shown(who, week)
        return render(request, "items.html.j2", who, ctx=_panel_context(who, view, kind))
    anchor = f"#items-{kind}" if kind else ""
    target = f"/meeting?week={week}{anchor}" if week else f"/meeting{anchor}"
    return RedirectResponse(target, status_code=303)


def _deal_list(text: str) -> list[str]:
    return [d.strip() for d in text.replace("\n", ",").split(",") if d.strip()]


@router.post("/meeting/items", include_in_schema=False)
def add_item_form(
    request: Request,
    who: Annotated[Asker, Depends(writer)],
    kind: Annotated[str, Form(max_length=20)],
    title: Annotated[str, Form(max_length=500)] = "",
    owner: Annotated[str, Form(max_length=200)] = "",
    side: Annotated[str, Form(max_length=20)] = "",
    due: Annotated[str, Form(max_length=20)] = "",
    deals: Annotated[str, Form(max_length=5000)] = "",
    metric: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if kind not in KINDS:
        raise InputError(f"item kind {kind!r}: expected one of {', '.join(KINDS)}")
    if not title.strip():
        raise InputError("an item needs a title")
    body = NewItemIn.model_validate(
        {
            "kind": kind,
            "title": title.strip(),
            "owner": owner or None,
            "side": side or None,
            "due": due or None,
            "deals": _deal_list(deals),
            "metric": metric or None,
        }
    )
    add_item(who, body)
    return _after(request, who, kind, None)


@router.post("/meeting/items/{item_id}", include_in_schema=False)
def change_item_form(
    request: Request,
    who: Annotated[Asker, Depends(writer)],
    item_id: str,
    kind: Annotated[str, Form(max_length=20)] = "",
    status: Annotated[str, Form(max_length=20)] = "",
    owner: Annotated[str, Form(max_length=200)] = "",
    due: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    fields: dict[str, Any] = {}
    if status:
        fields["status"] = status
    if owner:
        fields["owner"] = owner
    if due:
        fields["due"] = due
    if note.strip():
        fields["note"] = note.strip()
    change_item(who, item_id, ItemChangeIn.model_validate(fields))
    return _after(request, who, kind if kind in KINDS else None, None)


@router.post("/meeting/calls", include_in_schema=False)
def call_form(
    request: Request,
    who: Annotated[Asker, Depends(writer)],
    commit: Annotated[str, Form(max_length=30)],
    best_case: Annotated[str, Form(max_length=30)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    body = CallIn.model_validate(
        {"commit": _amount(commit), "best_case": _amount(best_case), "note": note or None}
    )
    record_call(who, body)
    return RedirectResponse("/meeting#call", status_code=303)


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "").strip())
    except ArithmeticError:
        raise InputError(f"{text!r} is not an amount") from None


@router.post("/meeting/held", include_in_schema=False)
def held_form(
    who: Annotated[Asker, Depends(writer)], week: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    label = mark_held(who, week or None)
    return RedirectResponse(f"/meeting?week={label}", status_code=303)


@router.post("/meeting/notes", include_in_schema=False)
def notes_form(
    who: Annotated[Asker, Depends(writer)],
    text: Annotated[str, Form(max_length=20000)],
    week: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    set_notes(who, NotesIn(text=text, week=week or None))
    return RedirectResponse(f"/meeting?week={week}" if week else "/meeting", status_code=303)
