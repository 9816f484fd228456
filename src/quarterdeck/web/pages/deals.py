"""Deals: a listing by filters or ids (``/deals``), one deal with its whole history
(``/deals/{id}``), and the listing as CSV (``/api/deals.csv``).

A deal outside the viewer's scope is a 404 like an id that does not exist: the Workspace
seen through the viewer's eyes simply holds no such deal, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from quarterdeck.access import Viewer
from quarterdeck.browse import DEAL_FILTERS, DealFilter, DealListing, DealRecord
from quarterdeck.errors import InputError
from quarterdeck.web.context import Asker, asker, render
from quarterdeck.web.hub import Hub
from quarterdeck.web.models import DealPageOut, DealsOut, deal_out, event_out, money
from quarterdeck.web.security import csv_text

__all__ = ["FilterQuery", "listing", "router"]

router = APIRouter()

Text = Annotated[str | None, Query(max_length=200)]
MAX_IDS = 200


class FilterQuery:
    """The listing's filters as query parameters (the pipeline page shares them)."""

    def __init__(
        self,
        team: Text = None,
        owner: Text = None,
        segment: Text = None,
        motion: Text = None,
        stage: Text = None,
        status: Annotated[str | None, Query(pattern="^(open|won|lost|all)$")] = "open",
        ids: Annotated[
            str | None, Query(max_length=10000, description="Comma-separated deal ids.")
        ] = None,
    ) -> None:
        chosen = [i.strip() for i in (ids or "").split(",") if i.strip()]
        if len(chosen) > MAX_IDS:
            raise InputError(f"at most {MAX_IDS} deal ids at once")
        self.filter = DealFilter(
            team=team or None,
            owner=owner or None,
            segment=segment or None,
            motion=motion or None,
            stage=stage or None,
            status=None if status in (None, "all") else status,
            ids=tuple(chosen),
        )

    @property
    def params(self) -> dict[str, str | None]:
        f = self.filter
        values = {name: getattr(f, name) for name in DEAL_FILTERS}
        return values | {"status": f.status or "all", "ids": ",".join(f.ids) or None}


def listing(who: Asker, query: FilterQuery) -> DealListing:
    result: DealListing = who.read(
        "deals", query.filter, lambda ws: ws.deals(query.filter), shared=True
    )
    return result


def deals_out(query: FilterQuery, found: DealListing) -> DealsOut:
    return DealsOut(
        filters=query.params,
        total=found.total,
        amount=money(found.amount) or "0.00",
        deals=[deal_out(d) for d in found.deals],
        choices={k: list(v) for k, v in found.choices.items()},
    )


@router.get("/deals", include_in_schema=False)
def deals_page(
    request: Request,
    who: Annotated[Asker, Depends(asker)],
    query: Annotated[FilterQuery, Depends()],
    title: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    found = listing(who, query)
    return render(
        request, "deals.html.j2", who, found=found, params=query.params, title=title or "Deals"
    )


@router.get("/api/deals", response_model=DealsOut, tags=["deals"])
def deals_api(
    who: Annotated[Asker, Depends(asker)], query: Annotated[FilterQuery, Depends()]
) -> DealsOut:
    """Deals by team, owner, segment, motion, stage, status (open, won, lost, all) or ids,
    largest first (at most 500; ``total`` counts all)."""
    return deals_out(query, listing(who, query))


@router.get("/api/deals.csv", tags=["deals"], response_class=Response)
def deals_csv(
    who: Annotated[Asker, Depends(asker)], query: Annotated[FilterQuery, Depends()]
) -> Response:
    """The same deals as CSV (cells a spreadsheet would run as formulas are neutralised)."""
    found = listing(who, query)
    header = [
        "deal_id", "name", "account", "segment", "owner", "team", "motion", "stage",
        "forecast_category", "amount", "close_date", "status",
    ]  # fmt: skip
    rows = (
        [
            d.deal_id,
            d.name,
            d.account,
            d.segment,
            d.owner,
            d.team,
            d.motion,
            d.stage,
            d.forecast_category,
            money(d.amount),
            d.close_date,
            d.status,
        ]
        for d in found.deals
    )
    return Response(
        csv_text(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="deals.csv"'},
    )


def record(who: Asker, deal_id: str) -> DealRecord:
    found: DealRecord = who.read("deal", deal_id, lambda ws: ws.deal(deal_id), shared=True)
    return found


PREPARED_DEALS = 100
"""How many of a login's listed deals ``prepare`` reads ahead, largest first."""


def prepare(hub: Hub, viewer: Viewer) -> None:
    """What a login opens first, computed ahead: the open deals they see and the pages of
    the largest of them (read in one query)."""
    default = FilterQuery().filter
    found: DealListing = hub.read(
        viewer, "deals", default, lambda ws: ws.deals(default), shared=True
    )
    ids = [d.deal_id for d in found.deals[:PREPARED_DEALS]]
    records = hub.read(
        viewer, "deal records", tuple(ids), lambda ws: ws.deal_records(ids), shared=True
    )
    hub.keep(viewer, "deal", records, shared=True)


@router.get("/deals/{deal_id}", include_in_schema=False)
def deal_page(request: Request, who: Annotated[Asker, Depends(asker)], deal_id: str) -> Response:
    return render(request, "deal.html.j2", who, record=record(who, deal_id))


@router.get("/api/deals/{deal_id}", response_model=DealPageOut, tags=["deals"])
def deal_api(who: Annotated[Asker, Depends(asker)], deal_id: str) -> DealPageOut:
    """One deal as it stands, with every change of its tracked fields (deal events)."""
    found = record(who, deal_id)
    return DealPageOut(
        deal=deal_out(found.deal),
        loss_reason=found.loss_reason,
        source=found.source,
        product=found.product,
        history=[event_out(e) for e in found.events],
    )
