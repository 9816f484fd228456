"""The pipeline: open deals by team, rep, segment, motion and stage; how the quarter's
pipeline moved (the waterfall, last week and since the quarter began); the "next quarter"
ledger of slipped promises.

The filters narrow the deal listing and, by team, rep, segment, motion and current stage,
the waterfall and the ledger too (``Workspace.narrowed``), within what the viewer may see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from quarterdeck.web.context import Asker, asker, render
from quarterdeck.web.models import DealsOut, money
from quarterdeck.web.pages.deals import FilterQuery, deals_out, listing
from quarterdeck.web.pages.meeting import href_of, narrowing_query, view_of

__all__ = ["router"]

router = APIRouter()


class BarOut(BaseModel):
    name: str
    sign: int
    amount: str
    count: int


class WaterfallOut(BaseModel):
    """start + created + pulled in + increased - decreased - pushed out - lost - won = end"""

    period: str
    start: str
    end: str
    start_amount: str
    end_amount: str
    bars: list[BarOut]


class SlipOut(BaseModel):
    deal_id: str
    name: str | None
    owner: str | None
    amount: str | None
    slips: int


class PipelineOut(BaseModel):
    deals: DealsOut
    week_change: WaterfallOut
    period_change: WaterfallOut
    slipped: list[SlipOut]


def _waterfall(change: Any) -> WaterfallOut:
    return WaterfallOut(
        period=change.period.label,
        start=change.start.isoformat(),
        end=change.end.isoformat(),
        start_amount=money(change.start_amount) or "0.00",
        end_amount=money(change.end_amount) or "0.00",
        bars=[
            BarOut(name=b.name, sign=b.sign, amount=money(b.amount) or "0.00", count=b.count)
            for b in change.bars
        ],
    )


def _slipped(brief: Any) -> list[SlipOut]:
    names = brief.names
    out = []
    for deal in brief.slips.deals[:50]:
        out.append(
            SlipOut(
                deal_id=deal.deal_id,
                name=deal.name,
                owner=names.get(deal.owner_id or "", deal.owner_id),
                amount=money(deal.amount),
                slips=int(deal.slips),
            )
        )
    return out


@router.get("/pipeline", include_in_schema=False)
def pipeline_page(
    request: Request,
    who: Annotated[Asker, Depends(asker)],
    query: Annotated[FilterQuery, Depends()],
) -> Response:
    view = view_of(who, None, query)
    sections = {s.id: s for s in view.document.sections}
    narrowing = narrowing_query(query)
    return render(
        request,
        "pipeline.html.j2",
        who,
        found=listing(who, query),
        params=query.params,
        view=view,
        change=sections.get("change"),
        slips=sections.get("slips"),
        narrowing=narrowing,
        drill_href=href_of(view.document, view.week, narrowing),
    )


@router.get("/api/pipeline", response_model=PipelineOut, tags=["pipeline"])
def pipeline_api(
    who: Annotated[Asker, Depends(asker)], query: Annotated[FilterQuery, Depends()]
) -> PipelineOut:
    """Deals by the filters, the waterfall of last week and of the quarter so far, and the
    deals that slipped most."""
    brief = view_of(who, None, query).brief
    return PipelineOut(
        deals=deals_out(query, listing(who, query)),
        week_change=_waterfall(brief.week_change),
        period_change=_waterfall(brief.period_change),
        slipped=_slipped(brief),
    )
